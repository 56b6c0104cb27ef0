"""KLV in MPEG-TS without ffmpeg: synthetic transport streams through the injector and demuxer."""

from __future__ import annotations

from app.feeds.errors import FeedError
from app.feeds.klv import encode_uas_ls
from app.feeds.klv_ts import (
    STREAM_TYPE_H264,
    STREAM_TYPE_METADATA,
    KlvInjector,
    KlvSample,
    KlvTsDemuxer,
    crc32_mpeg2,
    encode_pts,
)

PMT_PID, VIDEO_PID, META_PID = 0x1000, 0x100, 0x101


def _ts(pid: int, payload: bytes, start: bool = True, cc: int = 0) -> bytes:
    assert len(payload) <= 184
    header = bytes([0x47, (0x40 if start else 0) | pid >> 8, pid & 0xFF, 0x10 | cc])
    return header + payload + b"\xff" * (184 - len(payload))


def _section(table_id: int, extension: int, body: bytes) -> bytes:
    head = bytes([table_id, 0xB0 | ((len(body) + 9) >> 8), (len(body) + 9) & 0xFF,
                  extension >> 8, extension & 0xFF, 0xC1, 0, 0])
    section = head + body
    return b"\x00" + section + crc32_mpeg2(section).to_bytes(4, "big")


def _pat() -> bytes:
    return _ts(0, _section(0, 1, bytes([0, 1, 0xE0 | PMT_PID >> 8, PMT_PID & 0xFF])))


def _pmt(*streams: tuple[int, int, bytes]) -> bytes:
    body = bytes([0xE0 | VIDEO_PID >> 8, VIDEO_PID & 0xFF, 0xF0, 0])  # PCR PID, no program info
    for stream_type, pid, info in streams:
        body += bytes([stream_type, 0xE0 | pid >> 8, pid & 0xFF, 0xF0, len(info)]) + info
    return _ts(PMT_PID, _section(2, 1, body))


def _pes(stream_id: int, pts: int, payload: bytes) -> bytes:
    header = bytes([0x80, 0x80, 5]) + encode_pts(pts)
    length = (len(header) + len(payload)).to_bytes(2, "big")
    return b"\x00\x00\x01" + bytes([stream_id]) + length + header + payload


def test_crc32_mpeg2_check_value() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7


def test_injected_klv_comes_back_with_its_frame_pts() -> None:
    frames = [_ts(VIDEO_PID, _pes(0xE0, 90_000 + 3000 * i, b"\x00\x00\x00\x01\x09\xf0"), cc=i)
              for i in range(5)]
    stream = _pat() + _pmt((STREAM_TYPE_H264, VIDEO_PID, b"")) + b"".join(frames)
    injector = KlvInjector(lambda pts: encode_uas_ls({"timestamp_us": pts, "platform_heading": 45.0}))
    muxed = b"".join(injector.feed(stream[i : i + 100]) for i in range(0, len(stream), 100))
    assert len(muxed) % 188 == 0 and injector.klv_packets == 5
    demuxer = KlvTsDemuxer()
    out = demuxer.feed(muxed) + demuxer.flush()
    assert [s.pts for s in out if isinstance(s, KlvSample)] == [90_000 + 3000 * i for i in range(5)]
    assert all(isinstance(s, KlvSample) and s.packet.timestamp_us == s.pts for s in out)


def test_synchronous_metadata_au_cells_are_unwrapped() -> None:
    klv = encode_uas_ls({"timestamp_us": 7, "sensor_latitude": 60.0})
    cell = bytes([0, 0, 0xDF]) + len(klv).to_bytes(2, "big") + klv
    stream = _pat() + _pmt((STREAM_TYPE_METADATA, META_PID, b"")) + _ts(META_PID, _pes(0xFC, 1234, cell))
    demuxer = KlvTsDemuxer()
    (sample,) = demuxer.feed(stream)
    assert isinstance(sample, KlvSample)
    assert sample.pts == 1234 and sample.packet.timestamp_us == 7


def test_corrupt_klv_and_lost_sync_are_reported_not_raised() -> None:
    klv = bytearray(encode_uas_ls({"timestamp_us": 1}))
    klv[-1] ^= 0xFF
    info = bytes([0x05, 4]) + b"KLVA"
    stream = (_pat() + _pmt((0x06, META_PID, info)) + b"\x00\x12junk"
              + _ts(META_PID, _pes(0xBD, 1, bytes(klv))))
    demuxer = KlvTsDemuxer()
    codes = [item.code for item in demuxer.feed(stream) if isinstance(item, FeedError)]
    assert codes == ["bad_sync", "bad_checksum"]
    assert demuxer.klv_pids == {META_PID}
