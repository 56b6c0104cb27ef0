"""MISB ST 0601 UAS Datalink Local Set: a sans-I/O parser and encoder.

A packet is ``UL key (16 bytes) | BER length | local set``; the local set is a run of
``BER-OID tag | BER length | value`` items and ends with tag 1, the checksum: the 16-bit sum of
big-endian words over every byte of the packet from the first key byte up to and including the
checksum's own tag and length bytes (ST 0601 "bcc_16": byte *i* is shifted left by 8 when *i* is
even). Numbers use the standard's integer mappings; the reserved most-negative value of a signed
field is the standard's "error" indicator and decodes to ``None``.

Bad input raises (or, from :class:`KlvStreamDecoder`, is returned as) :class:`FeedError` with code
``bad_key``, ``truncated``, ``bad_checksum``, ``bad_length`` or ``out_of_range``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.feeds.errors import FeedError

UAS_LS_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")
CHECKSUM_TAG = 1


@dataclass(frozen=True)
class _Spec:
    """How one tag's value is stored: ``kind`` is ``float``, ``int`` or ``str``."""

    name: str
    kind: str
    size: int = 0
    low: float = 0.0
    high: float = 0.0
    signed: bool = False


def _unsigned(name: str, size: int, low: float, high: float) -> _Spec:
    return _Spec(name, "float", size, low, high, signed=False)


def _signed(name: str, size: int, bound: float) -> _Spec:
    return _Spec(name, "float", size, -bound, bound, signed=True)


_SPECS: dict[int, _Spec] = {
    2: _Spec("timestamp_us", "int", 8),
    3: _Spec("mission_id", "str"),
    4: _Spec("platform_tail_number", "str"),
    5: _unsigned("platform_heading", 2, 0, 360),
    6: _signed("platform_pitch", 2, 20),
    7: _signed("platform_roll", 2, 50),
    10: _Spec("platform_designation", "str"),
    13: _signed("sensor_latitude", 4, 90),
    14: _signed("sensor_longitude", 4, 180),
    15: _unsigned("sensor_altitude", 2, -900, 19000),
    16: _unsigned("sensor_hfov", 2, 0, 180),
    17: _unsigned("sensor_vfov", 2, 0, 180),
    18: _unsigned("sensor_relative_azimuth", 4, 0, 360),
    19: _signed("sensor_relative_elevation", 4, 180),
    20: _unsigned("sensor_relative_roll", 4, 0, 360),
    21: _unsigned("slant_range", 4, 0, 5_000_000),
    23: _signed("frame_center_latitude", 4, 90),
    24: _signed("frame_center_longitude", 4, 180),
    25: _unsigned("frame_center_elevation", 2, -900, 19000),
    65: _Spec("ls_version", "int", 1),
    # Full-range angles (ST 0601.8+): platforms that pitch or roll beyond tags 6/7's ±20°/±50° send these.
    90: _signed("platform_pitch_full", 4, 90),
    91: _signed("platform_roll_full", 4, 90),
}
for _i in range(4):
    _SPECS[26 + 2 * _i] = _signed(f"offset_corner_latitude_{_i + 1}", 2, 0.075)
    _SPECS[27 + 2 * _i] = _signed(f"offset_corner_longitude_{_i + 1}", 2, 0.075)
    _SPECS[82 + 2 * _i] = _signed(f"corner_latitude_{_i + 1}", 4, 90)
    _SPECS[83 + 2 * _i] = _signed(f"corner_longitude_{_i + 1}", 4, 180)

_TAG_BY_NAME = {spec.name: tag for tag, spec in _SPECS.items()}
MAX_STRING_BYTES = 127


@dataclass
class KlvPacket:
    """One decoded UAS Datalink Local Set. Angles in degrees, distances in metres.

    ``corners`` are the four image corners (lat, lon), from the full corner tags 82-89 when all
    are present, else from the offset corners 26-33 added to the frame centre; ``None`` when
    neither is complete. ``unknown`` keeps the raw value of every tag this module does not decode.
    """

    timestamp_us: int | None = None
    mission_id: str | None = None
    platform_tail_number: str | None = None
    platform_designation: str | None = None
    platform_heading: float | None = None
    platform_pitch: float | None = None
    platform_roll: float | None = None
    platform_pitch_full: float | None = None
    platform_roll_full: float | None = None
    sensor_latitude: float | None = None
    sensor_longitude: float | None = None
    sensor_altitude: float | None = None
    sensor_hfov: float | None = None
    sensor_vfov: float | None = None
    sensor_relative_azimuth: float | None = None
    sensor_relative_elevation: float | None = None
    sensor_relative_roll: float | None = None
    slant_range: float | None = None
    frame_center_latitude: float | None = None
    frame_center_longitude: float | None = None
    frame_center_elevation: float | None = None
    ls_version: int | None = None
    offset_corners: list[tuple[float | None, float | None]] = field(default_factory=list)
    full_corners: list[tuple[float | None, float | None]] = field(default_factory=list)
    unknown: dict[int, bytes] = field(default_factory=dict)

    @property
    def pitch(self) -> float | None:
        """The platform's pitch: the full-range tag 90 when sent, else tag 6."""
        return self.platform_pitch if self.platform_pitch_full is None else self.platform_pitch_full

    @property
    def roll(self) -> float | None:
        """The platform's roll: the full-range tag 91 when sent, else tag 7."""
        return self.platform_roll if self.platform_roll_full is None else self.platform_roll_full

    @property
    def platform_name(self) -> str | None:
        """What the packet calls its platform: tail number, else mission id, else platform designation."""
        for name in (self.platform_tail_number, self.mission_id, self.platform_designation):
            if name and name.strip():
                return name.strip()
        return None

    @property
    def frame_center(self) -> tuple[float, float] | None:
        """(lat, lon) of the image centre on the ground, when both are known."""
        if self.frame_center_latitude is None or self.frame_center_longitude is None:
            return None
        return (self.frame_center_latitude, self.frame_center_longitude)

    @property
    def corners(self) -> list[tuple[float, float]] | None:
        """The four ground corners (lat, lon), clockwise from the image's upper left."""
        full = [(la, lo) for la, lo in self.full_corners if la is not None and lo is not None]
        if len(full) == 4:
            return full
        centre = self.frame_center
        offsets = [(la, lo) for la, lo in self.offset_corners if la is not None and lo is not None]
        if centre is not None and len(offsets) == 4:
            return [(centre[0] + dla, centre[1] + dlo) for dla, dlo in offsets]
        return None


# --- BER lengths and BER-OID tags -------------------------------------------------------------


def encode_ber_length(length: int) -> bytes:
    """BER short form below 128, long form above."""
    if length < 128:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def decode_ber_length(data: bytes | bytearray | memoryview, offset: int) -> tuple[int, int]:
    """Return (length, offset after the length field); raise ``truncated``."""
    if offset >= len(data):
        raise FeedError("truncated", "length field missing")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 8:
        raise FeedError("bad_length", f"BER long form with {count} length bytes")
    end = offset + 1 + count
    if end > len(data):
        raise FeedError("truncated", "BER length runs past the end")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def encode_ber_oid(tag: int) -> bytes:
    """BER-OID: 7 bits a byte, most significant first, high bit set on all but the last."""
    out = [tag & 0x7F]
    tag >>= 7
    while tag:
        out.append(0x80 | (tag & 0x7F))
        tag >>= 7
    return bytes(reversed(out))


def decode_ber_oid(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """Return (tag, offset after the tag); raise ``truncated``."""
    tag = 0
    while True:
        if offset >= len(data):
            raise FeedError("truncated", "tag runs past the end")
        byte = data[offset]
        offset += 1
        tag = (tag << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return tag, offset


def checksum(data: bytes | memoryview) -> int:
    """ST 0601 bcc_16 over ``data`` (the packet up to and including the checksum tag and length)."""
    total = 0
    for i, byte in enumerate(data):
        total += byte << 8 if i % 2 == 0 else byte
    return total & 0xFFFF


# --- values ------------------------------------------------------------------------------------


def _decode_value(tag: int, spec: _Spec, value: bytes) -> Any:
    if spec.kind == "str":
        if len(value) > MAX_STRING_BYTES:
            raise FeedError("out_of_range", f"tag {tag} ({spec.name}) is {len(value)} bytes, max 127")
        return value.decode("utf-8", errors="replace")
    if len(value) != spec.size:
        raise FeedError("bad_length", f"tag {tag} ({spec.name}) has {len(value)} bytes, expected {spec.size}")
    raw = int.from_bytes(value, "big", signed=spec.signed)
    if spec.kind == "int":
        return raw
    bits = 8 * spec.size
    if spec.signed:
        if raw == -(1 << (bits - 1)):
            return None  # the standard's reserved "error" value
        return raw * spec.high / ((1 << (bits - 1)) - 1)
    return spec.low + raw * (spec.high - spec.low) / ((1 << bits) - 1)


def _encode_value(tag: int, spec: _Spec, value: Any) -> bytes:
    if spec.kind == "str":
        text = str(value).encode("utf-8")
        if len(text) > MAX_STRING_BYTES:
            raise FeedError("out_of_range", f"{spec.name} is {len(text)} bytes, max 127")
        return text
    bits = 8 * spec.size
    if spec.kind == "int":
        whole = int(value)
        if not 0 <= whole < (1 << bits):
            raise FeedError("out_of_range", f"{spec.name}={value} does not fit {spec.size} bytes")
        return whole.to_bytes(spec.size, "big")
    if value is None:
        if not spec.signed:
            raise FeedError("out_of_range", f"{spec.name} has no error value")
        return (-(1 << (bits - 1))).to_bytes(spec.size, "big", signed=True)
    number = float(value)
    if not spec.low <= number <= spec.high:
        raise FeedError("out_of_range", f"{spec.name}={value} outside [{spec.low}, {spec.high}]")
    if spec.signed:
        raw = round(number * ((1 << (bits - 1)) - 1) / spec.high)
        return raw.to_bytes(spec.size, "big", signed=True)
    raw = round((number - spec.low) * ((1 << bits) - 1) / (spec.high - spec.low))
    return raw.to_bytes(spec.size, "big")


# --- packets -----------------------------------------------------------------------------------


def encode_uas_ls(fields: Mapping[str, Any], unknown: Mapping[int, bytes] | None = None) -> bytes:
    """Build one checksummed UAS Datalink Local Set packet.

    ``fields`` uses :class:`KlvPacket`'s attribute names (``timestamp_us``, ``sensor_latitude``,
    ``corner_latitude_1``, ``offset_corner_longitude_3``...); the timestamp goes first, as the
    standard asks, then the other tags in ascending order; ``unknown`` adds raw tag values.
    Raise ``FeedError('out_of_range')`` for a value the standard cannot carry.
    """
    items: list[tuple[int, bytes]] = []
    for name, value in fields.items():
        if name not in _TAG_BY_NAME:
            raise FeedError("out_of_range", f"no ST 0601 tag named {name!r}")
        tag = _TAG_BY_NAME[name]
        items.append((tag, _encode_value(tag, _SPECS[tag], value)))
    items.extend((unknown or {}).items())
    items.sort(key=lambda item: (item[0] != 2, item[0]))
    body = b"".join(encode_ber_oid(tag) + encode_ber_length(len(value)) + value for tag, value in items)
    body += bytes([CHECKSUM_TAG, 2])
    head = UAS_LS_KEY + encode_ber_length(len(body) + 2) + body
    return head + checksum(head).to_bytes(2, "big")


def packet_length(data: bytes | bytearray | memoryview, offset: int = 0) -> int:
    """Total bytes of the packet starting at ``offset``; raise ``bad_key`` or ``truncated``."""
    if len(data) - offset < len(UAS_LS_KEY):
        raise FeedError("truncated", "shorter than the 16-byte key")
    if bytes(data[offset : offset + 16]) != UAS_LS_KEY:
        raise FeedError("bad_key", f"not the UAS Datalink LS key: {bytes(data[offset:offset + 16]).hex()}")
    length, body_start = decode_ber_length(data, offset + 16)
    return body_start - offset + length


def decode_uas_ls(data: bytes) -> KlvPacket:
    """Decode exactly one packet (key, length, local set); raise :class:`FeedError` when bad."""
    total = packet_length(data)
    if total > len(data):
        raise FeedError("truncated", f"packet says {total} bytes, got {len(data)}")
    if total < len(data):
        raise FeedError("bad_length", f"{len(data) - total} bytes after the packet")
    _, pos = decode_ber_length(data, 16)
    packet = KlvPacket()
    offset_corners: list[list[float | None]] = [[None, None] for _ in range(4)]
    full_corners: list[list[float | None]] = [[None, None] for _ in range(4)]
    seen_checksum = False
    while pos < total:
        tag_start = pos
        tag, pos = decode_ber_oid(data, pos)
        length, pos = decode_ber_length(data, pos)
        if pos + length > total:
            raise FeedError("truncated", f"tag {tag} value runs past the end")
        value = data[pos : pos + length]
        pos += length
        if tag == CHECKSUM_TAG:
            if length != 2 or pos != total:
                raise FeedError("bad_checksum", "checksum is not the last item or not 2 bytes")
            expected = checksum(data[: tag_start + 2])
            got = int.from_bytes(value, "big")
            if got != expected:
                raise FeedError("bad_checksum", f"checksum 0x{got:04X}, computed 0x{expected:04X}")
            seen_checksum = True
            continue
        spec = _SPECS.get(tag)
        if spec is None:
            packet.unknown[tag] = bytes(value)
            continue
        decoded = _decode_value(tag, spec, bytes(value))
        if 26 <= tag <= 33:
            offset_corners[(tag - 26) // 2][(tag - 26) % 2] = decoded
        elif 82 <= tag <= 89:
            full_corners[(tag - 82) // 2][(tag - 82) % 2] = decoded
        else:
            setattr(packet, spec.name, decoded)
    if not seen_checksum:
        raise FeedError("bad_checksum", "no checksum item")
    if any(la is not None or lo is not None for la, lo in offset_corners):
        packet.offset_corners = [(la, lo) for la, lo in offset_corners]
    if any(la is not None or lo is not None for la, lo in full_corners):
        packet.full_corners = [(la, lo) for la, lo in full_corners]
    return packet


class KlvStreamDecoder:
    """Sans-I/O: bytes in (any chunking), packets and errors out.

    After a bad packet it resynchronises on the next UAS LS key, so one corrupt packet costs
    only itself. ``errors`` counts every :class:`FeedError` returned.
    """

    MAX_PACKET = 65_536

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.packets = 0
        self.errors = 0
        self._resyncing = False  # the bytes being skipped belong to an error already reported

    def feed(self, data: bytes) -> list[KlvPacket | FeedError]:
        """Add bytes; return every complete packet (or the error it raised), in order."""
        self._buffer += data
        out: list[KlvPacket | FeedError] = []
        while True:
            start = self._buffer.find(UAS_LS_KEY)
            if start < 0:
                # Keep a possible key prefix; the rest can never start a packet.
                drop = max(0, len(self._buffer) - (len(UAS_LS_KEY) - 1))
                if drop and not self._resyncing:
                    out.append(FeedError("bad_key", f"{drop} bytes without a UAS LS key"))
                    self._resyncing = True  # one report per run of garbage, however it is chunked
                del self._buffer[:drop]
                break
            if start:
                if not self._resyncing:
                    out.append(FeedError("bad_key", f"{start} bytes before a UAS LS key"))
                del self._buffer[:start]
            self._resyncing = False
            try:
                total = packet_length(self._buffer)
            except FeedError as error:
                if error.code == "truncated":
                    break
                out.append(error)
                self._skip_packet()
                continue
            if total > self.MAX_PACKET:
                out.append(FeedError("bad_length", f"packet of {total} bytes"))
                self._skip_packet()
                continue
            if total > len(self._buffer):
                break
            raw = bytes(self._buffer[:total])
            try:
                out.append(decode_uas_ls(raw))
                del self._buffer[:total]
            except FeedError as error:
                out.append(error)
                self._skip_packet()
        self.packets += sum(isinstance(item, KlvPacket) for item in out)
        self.errors += sum(isinstance(item, FeedError) for item in out)
        return out

    def finish(self) -> list[FeedError]:
        """The stream ended (a UDP datagram is a whole stream): bytes still held are an error."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if not rest or self._resyncing:  # nothing left, or the rest of a packet already reported
            return []
        self.errors += 1
        if rest.startswith(UAS_LS_KEY) or UAS_LS_KEY.startswith(rest):
            return [FeedError("truncated", f"stream ended {len(rest)} bytes into a packet")]
        return [FeedError("bad_key", f"{len(rest)} bytes without a UAS LS key")]

    def _skip_packet(self) -> None:
        """Drop the first key byte so the next search finds the following packet."""
        del self._buffer[:1]
        self._resyncing = True


class KlvPlatforms:
    """The platform each sender last named. ST 0601 lets a packet carry only the values that changed since the
    sender's last one, so real encoders name the platform (tail number, mission id, designation) now and then
    and send the changing values in between; those packets are the named platform's, not nobody's."""

    def __init__(self, kept: int = 1024) -> None:
        self.kept = kept
        self._names: dict[str, str] = {}  # insertion order: the oldest sender is forgotten first

    def name(self, sender: str, packet: KlvPacket) -> str | None:
        """The platform `packet` from `sender` is about: its own name, else the last one that sender gave."""
        name = packet.platform_name
        if name is None:
            return self._names.get(sender)
        self._names.pop(sender, None)
        self._names[sender] = name
        if len(self._names) > self.kept:
            del self._names[next(iter(self._names))]
        return name
