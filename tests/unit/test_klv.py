"""MISB ST 0601 KLV: our codec against the standard's example values and the klvdata parser."""

from __future__ import annotations

from pathlib import Path

import klvdata
import pytest
from klvdata.common import packet_checksum

from app.feeds.errors import FeedError
from app.feeds.klv import (
    UAS_LS_KEY,
    KlvPacket,
    KlvPlatforms,
    KlvStreamDecoder,
    checksum,
    decode_ber_oid,
    decode_uas_ls,
    encode_ber_length,
    encode_ber_oid,
    encode_uas_ls,
)

FIELDS = {
    "timestamp_us": 1_224_807_209_913_000,
    "mission_id": "MISSION01",
    "platform_tail_number": "AF-101",
    "platform_designation": "MQ1-B",
    "platform_heading": 159.9744,
    "platform_pitch": -0.4315,
    "platform_roll": 3.4058,
    "sensor_latitude": 60.17682296,
    "sensor_longitude": 128.42675904,
    "sensor_altitude": 14190.7,
    "sensor_hfov": 144.5713,
    "sensor_vfov": 152.6436,
    "sensor_relative_azimuth": 160.719211,
    "sensor_relative_elevation": -168.792325,
    "sensor_relative_roll": 176.865438,
    "slant_range": 68590.98,
    "frame_center_latitude": -10.54238863,
    "frame_center_longitude": 29.15789012,
    "frame_center_elevation": 3216.04,
    "ls_version": 17,
}
TOLERANCE = {
    "platform_heading": 0.01, "platform_pitch": 0.001, "platform_roll": 0.002,
    "sensor_altitude": 0.3, "sensor_hfov": 0.003, "sensor_vfov": 0.003,
    "frame_center_elevation": 0.3, "slant_range": 0.002,
}


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def _hand_built() -> bytes:
    """A packet assembled byte by byte from ST 0601's worked example (values in the comments)."""
    body = b"".join([
        _tlv(2, bytes.fromhex("000459F4A6AA4AA8")),  # 2008-10-24T00:13:29.913Z
        _tlv(3, b"MISSION01"),
        _tlv(5, bytes.fromhex("71C2")),  # heading 159.9744 deg
        _tlv(6, bytes.fromhex("FD3D")),  # pitch -0.4315251 deg
        _tlv(7, bytes.fromhex("08B8")),  # roll 3.405814 deg
        _tlv(13, bytes.fromhex("5595B66D")),  # sensor latitude 60.17682296 deg
        _tlv(14, bytes.fromhex("5B5360C4")),  # sensor longitude 128.42675904 deg
        _tlv(15, bytes.fromhex("C221")),  # sensor true altitude 14190.72 m
        _tlv(16, bytes.fromhex("CD9C")),  # HFOV 144.5713 deg
        _tlv(23, bytes.fromhex("F101A229")),  # frame centre latitude -10.54238863 deg
        _tlv(24, bytes.fromhex("14BC082B")),  # frame centre longitude 29.15789012 deg
        _tlv(65, bytes([17])),  # LS version 17
        bytes([1, 2]),
    ])
    head = UAS_LS_KEY + bytes([len(body) + 2]) + body
    # The checksum comes from klvdata's own implementation, not ours.
    return head + packet_checksum(head + b"\0\0")


def test_hand_built_packet_decodes_to_the_standards_values() -> None:
    # The example lists the values before quantisation: allow one least significant bit.
    packet = decode_uas_ls(_hand_built())
    assert packet.timestamp_us == 1_224_807_209_913_000
    assert packet.mission_id == "MISSION01"
    assert packet.platform_heading == pytest.approx(159.9744, abs=360 / 65535)
    assert packet.platform_pitch == pytest.approx(-0.4315251, abs=20 / 32767)
    assert packet.platform_roll == pytest.approx(3.405814, abs=50 / 32767)
    assert packet.sensor_latitude == pytest.approx(60.17682296, abs=90 / 2**31)
    assert packet.sensor_longitude == pytest.approx(128.42675904, abs=180 / 2**31)
    assert packet.sensor_altitude == pytest.approx(14190.72, abs=19900 / 65535)
    assert packet.sensor_hfov == pytest.approx(144.5713, abs=180 / 65535)
    assert packet.frame_center is not None
    assert packet.frame_center[0] == pytest.approx(-10.54238863, abs=90 / 2**31)
    assert packet.frame_center[1] == pytest.approx(29.15789012, abs=180 / 2**31)
    assert packet.ls_version == 17


def test_our_checksum_is_the_standards_bcc16() -> None:
    raw = _hand_built()
    assert checksum(raw[:-2]).to_bytes(2, "big") == raw[-2:]


def test_round_trip_keeps_every_field() -> None:
    packet = decode_uas_ls(encode_uas_ls(FIELDS))
    for name, value in FIELDS.items():
        got = getattr(packet, name)
        if isinstance(value, float):
            assert got == pytest.approx(value, abs=TOLERANCE.get(name, 1e-6)), name
        else:
            assert got == value, name


def test_klvdata_reads_what_we_encode() -> None:
    raw = encode_uas_ls(FIELDS)
    (parsed,) = list(klvdata.StreamParser(raw))
    values = {item.TAG: item.value for item in parsed.items.values()}
    assert bytes(values[1]) == raw[-2:]
    assert packet_checksum(raw) == raw[-2:]
    assert str(values[3]) == "MISSION01"
    assert str(values[4]) == "AF-101"
    assert float(values[5].value) == pytest.approx(159.9744, abs=0.01)
    assert float(values[13].value) == pytest.approx(60.17682296, abs=1e-7)
    assert float(values[14].value) == pytest.approx(128.42675904, abs=1e-7)
    assert float(values[16].value) == pytest.approx(144.5713, abs=0.003)
    assert float(values[19].value) == pytest.approx(-168.792325, abs=1e-6)
    assert float(values[23].value) == pytest.approx(-10.54238863, abs=1e-7)
    assert float(values[21].value) == pytest.approx(68590.98, abs=0.01)


def _flat(points: list[tuple[float, float]] | None) -> list[float]:
    assert points is not None
    return [value for point in points for value in point]


def test_corners_full_and_offset() -> None:
    full = {"frame_center_latitude": 60.17, "frame_center_longitude": 24.94}
    points = [(60.171, 24.939), (60.171, 24.941), (60.169, 24.941), (60.169, 24.939)]
    for i, (lat, lon) in enumerate(points, start=1):
        full[f"corner_latitude_{i}"] = lat
        full[f"corner_longitude_{i}"] = lon
    packet = decode_uas_ls(encode_uas_ls(full))
    assert _flat(packet.corners) == pytest.approx(_flat(points), abs=1e-7)

    offsets: dict[str, float] = {"frame_center_latitude": 60.17, "frame_center_longitude": 24.94}
    for i, (lat, lon) in enumerate(points, start=1):
        offsets[f"offset_corner_latitude_{i}"] = lat - 60.17
        offsets[f"offset_corner_longitude_{i}"] = lon - 24.94
    packet = decode_uas_ls(encode_uas_ls(offsets))
    assert _flat(packet.corners) == pytest.approx(_flat(points), abs=1e-5)
    assert KlvPacket().corners is None


def test_reserved_error_value_decodes_to_none() -> None:
    packet = decode_uas_ls(encode_uas_ls({"sensor_latitude": None, "sensor_longitude": 10.0}))
    assert packet.sensor_latitude is None
    assert packet.sensor_longitude == pytest.approx(10.0)


def test_ber_oid_tags_and_long_lengths() -> None:
    assert encode_ber_oid(1) == b"\x01"
    assert encode_ber_oid(144) == b"\x81\x10"
    assert decode_ber_oid(b"\x81\x10", 0) == (144, 2)
    assert encode_ber_length(300) == b"\x82\x01\x2c"
    raw = encode_uas_ls({"mission_id": "x" * 120}, unknown={200: bytes(100)})
    packet = decode_uas_ls(raw)
    assert packet.mission_id == "x" * 120
    assert packet.unknown == {200: bytes(100)}


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 0xFF]), "bad_checksum"),
        (lambda raw: raw[:30] + bytes([raw[30] ^ 0x01]) + raw[31:], "bad_checksum"),
        (lambda raw: raw[:-5], "truncated"),
        (lambda raw: raw[:10], "truncated"),
        (lambda raw: b"\x07" + raw[1:], "bad_key"),
    ],
)
def test_corrupt_packets_raise_feed_errors(mutate, code) -> None:
    with pytest.raises(FeedError) as info:
        decode_uas_ls(mutate(encode_uas_ls(FIELDS)))
    assert info.value.code == code


def test_encoder_refuses_values_outside_the_standard() -> None:
    with pytest.raises(FeedError) as info:
        encode_uas_ls({"sensor_latitude": 91.0})
    assert info.value.code == "out_of_range"
    with pytest.raises(FeedError):
        encode_uas_ls({"platform_pitch": 25.0})


def test_wrong_value_length_is_reported() -> None:
    body = _tlv(13, b"\x00\x00\x01") + bytes([1, 2])
    head = UAS_LS_KEY + bytes([len(body) + 2]) + body
    with pytest.raises(FeedError) as info:
        decode_uas_ls(head + checksum(head).to_bytes(2, "big"))
    assert info.value.code == "bad_length"


def test_stream_decoder_resyncs_after_garbage_and_a_corrupt_packet() -> None:
    good = encode_uas_ls({"timestamp_us": 1, "platform_heading": 90.0})
    bad = good[:-1] + bytes([good[-1] ^ 0x55])
    stream = b"junk" + good + bad + good + good
    decoder = KlvStreamDecoder()
    out = []
    for i in range(0, len(stream), 7):  # arbitrary chunking
        out.extend(decoder.feed(stream[i : i + 7]))
    codes = [item.code if isinstance(item, FeedError) else "ok" for item in out]
    assert codes == ["bad_key", "ok", "bad_checksum", "ok", "ok"]
    assert decoder.packets == 3
    assert decoder.errors == 2


@pytest.mark.parametrize(("datagram", "codes"), [
    (encode_uas_ls({"timestamp_us": 1}), ["ok"]),
    (encode_uas_ls({"timestamp_us": 1})[:-3], ["truncated"]),
    (UAS_LS_KEY[:9], ["truncated"]),
    (b"0123456789", ["bad_key"]),  # too short even to be skipped as garbage while streaming
    (b"x" * 40, ["bad_key"]),
    (encode_uas_ls({"timestamp_us": 1})[:-1] + b"\x00", ["bad_checksum"]),
])
def test_a_datagram_is_a_whole_stream_whatever_is_left_at_its_end_is_an_error(datagram: bytes,
                                                                               codes: list[str]) -> None:
    decoder = KlvStreamDecoder()
    out = decoder.feed(datagram) + decoder.finish()
    assert [item.code if isinstance(item, FeedError) else "ok" for item in out] == codes
    assert decoder.finish() == []


# --- real packets (klvdata's MISB samples, tests/data/real/klv) and senders that name their platform once -----

REAL_KLV = Path(__file__).resolve().parents[1] / "data" / "real" / "klv"


def test_real_dynamic_only_packet_decodes_without_a_name() -> None:
    packet = decode_uas_ls((REAL_KLV / "DynamicOnlyMISMMSPacketData.bin").read_bytes())
    assert packet.platform_name is None
    assert packet.sensor_latitude is not None and packet.sensor_longitude is not None
    theirs = next(iter(klvdata.StreamParser((REAL_KLV / "DynamicOnlyMISMMSPacketData.bin").read_bytes())))
    lat = next(v for v in theirs.items.values() if type(v).__name__ == "SensorLatitude")
    assert packet.sensor_latitude == pytest.approx(float(lat.value.value), abs=1e-6)


def test_real_constant_packet_has_a_checksum_that_does_not_match() -> None:
    with pytest.raises(FeedError) as err:
        decode_uas_ls((REAL_KLV / "DynamicConstantMISMMSPacketData.bin").read_bytes())
    assert err.value.code == "bad_checksum"


def test_a_sender_names_its_platform_once_for_the_packets_after() -> None:
    platforms = KlvPlatforms(kept=2)
    dynamic = decode_uas_ls((REAL_KLV / "DynamicOnlyMISMMSPacketData.bin").read_bytes())
    assert platforms.name("udp:10.0.0.5:5000", dynamic) is None  # nobody named it yet
    assert platforms.name("udp:10.0.0.5:5000", decode_uas_ls(encode_uas_ls(FIELDS))) == "AF-101"
    assert platforms.name("udp:10.0.0.5:5000", dynamic) == "AF-101"
    assert platforms.name("udp:10.0.0.6:5000", dynamic) is None  # another sender is another platform
    for n in range(2):  # the oldest sender is forgotten first
        platforms.name(f"udp:10.0.0.{7 + n}:5000", decode_uas_ls(encode_uas_ls({"mission_id": f"M{n}"})))
    assert platforms.name("udp:10.0.0.5:5000", dynamic) is None


def test_full_range_pitch_and_roll_tags_90_91() -> None:
    packet = decode_uas_ls(encode_uas_ls({"platform_pitch": 10.0, "platform_pitch_full": -62.5,
                                          "platform_roll_full": 75.25}))
    assert packet.pitch == pytest.approx(-62.5, abs=1e-6) and packet.roll == pytest.approx(75.25, abs=1e-6)
    raw = encode_uas_ls({"platform_pitch_full": 45.0})
    assert bytes([90, 4]) + round(45.0 * (2**31 - 1) / 90).to_bytes(4, "big", signed=True) in raw
    assert decode_uas_ls(encode_uas_ls({"platform_roll": -3.0})).roll == pytest.approx(-3.0, abs=1e-3)
