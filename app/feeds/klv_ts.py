"""KLV in MPEG-TS (MISB ST 1402), sans-I/O: a demuxer for the KLV stream and an injector.

ffmpeg 5.1 cannot take live KLV from us with timestamps (``-f data`` reads a whole file as one
untimed ``bin_data`` packet, without the ``KLVA`` registration), so the simulator lets ffmpeg
encode H.264 into MPEG-TS and :class:`KlvInjector` adds the metadata: it rewrites the PMT to
declare one more stream (stream_type 0x06, registration descriptor ``KLVA``, ST 1402's
asynchronous carriage) and after the first TS packet of each video frame writes a private_stream_1
PES on its own PID carrying the KLV packet, stamped with that frame's PTS.

:class:`KlvTsDemuxer` reads either carriage: stream_type 0x06 + ``KLVA`` (asynchronous) or
stream_type 0x15 (synchronous metadata, whose PES payload is a run of 5-byte-headed AU cells).
PSI sections are assumed to fit one TS packet, as PAT and PMT of a drone stream do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.feeds.errors import FeedError
from app.feeds.klv import UAS_LS_KEY, KlvPacket, KlvStreamDecoder

TS_PACKET = 188
SYNC = 0x47
STREAM_TYPE_PRIVATE = 0x06
STREAM_TYPE_METADATA = 0x15
STREAM_TYPE_H264 = 0x1B
KLVA = b"KLVA"
PRIVATE_STREAM_1 = 0xBD
DEFAULT_KLV_PID = 0x01F1


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, init all ones, no reflection) of a PSI section."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


@dataclass
class _TsPacket:
    pid: int
    start: bool  # payload_unit_start_indicator
    payload: bytes


def _parse_ts(packet: bytes) -> _TsPacket:
    pid = ((packet[1] & 0x1F) << 8) | packet[2]
    control = (packet[3] >> 4) & 0x3
    offset = 4
    if control & 0x2:
        offset += 1 + packet[4]
    payload = packet[offset:] if control & 0x1 and offset < TS_PACKET else b""
    return _TsPacket(pid, bool(packet[1] & 0x40), payload)


def _psi_section(payload: bytes) -> bytes | None:
    """The section that starts in a PUSI packet's payload, cut to its section_length."""
    if not payload:
        return None
    start = 1 + payload[0]
    if start + 3 > len(payload):
        return None
    length = ((payload[start + 1] & 0x0F) << 8) | payload[start + 2]
    return payload[start : start + 3 + length]


def _pat_pmt_pids(section: bytes) -> list[int]:
    end = len(section) - 4
    return [
        ((section[i + 2] & 0x1F) << 8) | section[i + 3]
        for i in range(8, end, 4)
        if (section[i] << 8 | section[i + 1]) != 0  # program 0 is the NIT
    ]


@dataclass(frozen=True)
class _EsInfo:
    stream_type: int
    pid: int
    descriptors: bytes

    @property
    def is_klv(self) -> bool:
        if self.stream_type == STREAM_TYPE_METADATA:
            return True
        return self.stream_type == STREAM_TYPE_PRIVATE and _has_registration(self.descriptors, KLVA)


def _has_registration(descriptors: bytes, identifier: bytes) -> bool:
    i = 0
    while i + 2 <= len(descriptors):
        tag, length = descriptors[i], descriptors[i + 1]
        if tag == 0x05 and descriptors[i + 2 : i + 6] == identifier:
            return True
        i += 2 + length
    return False


def _pmt_streams(section: bytes) -> list[_EsInfo]:
    program_info = ((section[10] & 0x0F) << 8) | section[11]
    i = 12 + program_info
    end = len(section) - 4
    streams = []
    while i + 5 <= end:
        info_length = ((section[i + 3] & 0x0F) << 8) | section[i + 4]
        streams.append(
            _EsInfo(section[i], ((section[i + 1] & 0x1F) << 8) | section[i + 2],
                    section[i + 5 : i + 5 + info_length])
        )
        i += 5 + info_length
    return streams


def encode_pts(pts: int) -> bytes:
    """The 5-byte PES PTS field (33 bits, marker bits set, prefix 0010)."""
    pts &= (1 << 33) - 1
    return bytes([
        0x21 | ((pts >> 29) & 0x0E),
        (pts >> 22) & 0xFF,
        0x01 | ((pts >> 14) & 0xFE),
        (pts >> 7) & 0xFF,
        0x01 | ((pts << 1) & 0xFE),
    ])


def _decode_pts(data: bytes) -> int:
    return (
        ((data[0] >> 1) & 0x07) << 30
        | data[1] << 22
        | (data[2] >> 1) << 15
        | data[3] << 7
        | data[4] >> 1
    )


def _pes_parts(pes: bytes) -> tuple[int, int | None, bytes]:
    """(stream_id, PTS or None, payload) of one PES packet; raise ``truncated`` when short."""
    if len(pes) < 9 or pes[:3] != b"\x00\x00\x01":
        raise FeedError("truncated", "PES header missing or short")
    stream_id = pes[3]
    header_length = pes[8]
    if len(pes) < 9 + header_length:
        raise FeedError("truncated", "PES header runs past the data")
    pts = _decode_pts(pes[9:14]) if pes[7] & 0x80 and header_length >= 5 else None
    declared = (pes[4] << 8) | pes[5]
    end = 6 + declared if declared else len(pes)
    return stream_id, pts, pes[9 + header_length : end]


def _au_cells(payload: bytes) -> bytes:
    """The KLV bytes of ST 1402 synchronous metadata AU cells (5-byte header each)."""
    out = bytearray()
    i = 0
    while i + 5 <= len(payload):
        length = (payload[i + 3] << 8) | payload[i + 4]
        out += payload[i + 5 : i + 5 + length]
        i += 5 + length
    return bytes(out)


@dataclass
class KlvSample:
    """One KLV packet from the transport stream with the PTS (90 kHz) of the PES that carried it."""

    pts: int | None
    packet: KlvPacket


class KlvTsDemuxer:
    """Sans-I/O: MPEG-TS bytes in, :class:`KlvSample` (or :class:`FeedError`) out.

    Finds the KLV stream through PAT and PMT, reassembles its PES packets and decodes the ST 0601
    packets they carry. Lost sync is recovered on the next 0x47 that starts a packet.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pmt_pids: set[int] = set()
        self.klv_pids: set[int] = set()
        self._metadata_pids: set[int] = set()
        self._pes: dict[int, bytearray] = {}
        self._decoder = KlvStreamDecoder()
        self.ts_packets = 0
        self.errors = 0

    def feed(self, data: bytes) -> list[KlvSample | FeedError]:
        """Add transport stream bytes; return the KLV samples completed by them."""
        self._buffer += data
        out: list[KlvSample | FeedError] = []
        while len(self._buffer) >= TS_PACKET:
            if self._buffer[0] != SYNC:
                skip = self._buffer.find(bytes([SYNC]), 1)
                skip = len(self._buffer) if skip < 0 else skip
                out.append(FeedError("bad_sync", f"{skip} bytes without a TS sync byte"))
                del self._buffer[:skip]
                continue
            packet = bytes(self._buffer[:TS_PACKET])
            del self._buffer[:TS_PACKET]
            self.ts_packets += 1
            out.extend(self._packet(_parse_ts(packet)))
        self.errors += sum(isinstance(item, FeedError) for item in out)
        return out

    def flush(self) -> list[KlvSample | FeedError]:
        """Decode the PES packets still open (at end of stream)."""
        out: list[KlvSample | FeedError] = []
        for pid in list(self._pes):
            out.extend(self._finish_pes(pid))
        return out

    def _packet(self, packet: _TsPacket) -> list[KlvSample | FeedError]:
        if packet.pid == 0 and packet.start:
            section = _psi_section(packet.payload)
            if section and section[0] == 0x00:
                self._pmt_pids = set(_pat_pmt_pids(section))
            return []
        if packet.pid in self._pmt_pids and packet.start:
            section = _psi_section(packet.payload)
            if section and section[0] == 0x02:
                streams = [es for es in _pmt_streams(section) if es.is_klv]
                self.klv_pids = {es.pid for es in streams}
                self._metadata_pids = {es.pid for es in streams if es.stream_type == STREAM_TYPE_METADATA}
            return []
        if packet.pid not in self.klv_pids:
            return []
        out: list[KlvSample | FeedError] = []
        if packet.start:
            out.extend(self._finish_pes(packet.pid))
            self._pes[packet.pid] = bytearray()
        if packet.pid in self._pes:  # bytes before the first PES start are not decodable
            self._pes[packet.pid] += packet.payload
            pes = self._pes[packet.pid]
            if len(pes) >= 6 and (pes[4] << 8 | pes[5]) and len(pes) >= 6 + (pes[4] << 8 | pes[5]):
                out.extend(self._finish_pes(packet.pid))
        return out

    def _finish_pes(self, pid: int) -> list[KlvSample | FeedError]:
        pes = self._pes.pop(pid, None)
        if not pes:
            return []
        try:
            _, pts, payload = _pes_parts(bytes(pes))
        except FeedError as error:
            return [error]
        if pid in self._metadata_pids and not payload.startswith(UAS_LS_KEY):
            payload = _au_cells(payload)
        return [
            KlvSample(pts, item) if isinstance(item, KlvPacket) else item
            for item in self._decoder.feed(payload)
        ]


class KlvInjector:
    """Sans-I/O: adds a KLV stream to a transport stream that ffmpeg writes.

    ``klv_for_frame(pts)`` is asked once per video frame (by its 90 kHz PTS) and returns the KLV
    packet to carry with it, or ``None``. Feed any chunking of ffmpeg's output; ``feed`` returns
    whole TS packets.
    """

    def __init__(self, klv_for_frame: Callable[[int], bytes | None], klv_pid: int = DEFAULT_KLV_PID) -> None:
        self._klv_for_frame = klv_for_frame
        self.klv_pid = klv_pid
        self._buffer = bytearray()
        self._pmt_pids: set[int] = set()
        self._video_pid: int | None = None
        self._continuity = 0
        self.klv_packets = 0

    def feed(self, data: bytes) -> bytes:
        """Add ffmpeg's TS bytes; return TS bytes with the PMT rewritten and KLV PES inserted."""
        self._buffer += data
        out = bytearray()
        while len(self._buffer) >= TS_PACKET:
            if self._buffer[0] != SYNC:
                skip = self._buffer.find(bytes([SYNC]), 1)
                del self._buffer[: len(self._buffer) if skip < 0 else skip]
                continue
            packet = bytes(self._buffer[:TS_PACKET])
            del self._buffer[:TS_PACKET]
            out += self._packet(packet)
        return bytes(out)

    def _packet(self, raw: bytes) -> bytes:
        packet = _parse_ts(raw)
        if packet.pid == 0 and packet.start:
            section = _psi_section(packet.payload)
            if section and section[0] == 0x00:
                self._pmt_pids = set(_pat_pmt_pids(section))
            return raw
        if packet.pid in self._pmt_pids and packet.start:
            return self._rewrite_pmt(raw, packet)
        if packet.pid == self._video_pid and packet.start:
            try:
                _, pts, _ = _pes_parts(packet.payload)
            except FeedError:
                return raw
            klv = self._klv_for_frame(pts) if pts is not None else None
            if klv:
                self.klv_packets += 1
                return raw + self._klv_pes_packets(pts or 0, klv)
        return raw

    def _rewrite_pmt(self, raw: bytes, packet: _TsPacket) -> bytes:
        section = _psi_section(packet.payload)
        if not section or section[0] != 0x02:
            return raw
        streams = _pmt_streams(section)
        video = [es.pid for es in streams if es.stream_type == STREAM_TYPE_H264]
        self._video_pid = video[0] if video else None
        if any(es.pid == self.klv_pid for es in streams):
            return raw
        descriptor = bytes([0x05, 4]) + KLVA
        entry = bytes([STREAM_TYPE_PRIVATE, 0xE0 | (self.klv_pid >> 8), self.klv_pid & 0xFF,
                       0xF0, len(descriptor)]) + descriptor
        body = bytearray(section[:-4]) + entry
        length = len(body) - 3 + 4
        body[1] = (body[1] & 0xF0) | (length >> 8)
        body[2] = length & 0xFF
        new_section = bytes(body) + crc32_mpeg2(bytes(body)).to_bytes(4, "big")
        header = raw[:4]
        if header[3] & 0x20:  # drop any adaptation field, keep payload-only
            header = header[:3] + bytes([(header[3] & 0x0F) | 0x10])
        payload = b"\x00" + new_section
        if len(payload) > TS_PACKET - 4:
            return raw  # a PMT this large is not ffmpeg's; leave it alone
        return header + payload + b"\xff" * (TS_PACKET - 4 - len(payload))

    def _klv_pes_packets(self, pts: int, klv: bytes) -> bytes:
        header = bytes([0x80, 0x80, 5]) + encode_pts(pts)
        pes = b"\x00\x00\x01" + bytes([PRIVATE_STREAM_1]) + (len(header) + len(klv)).to_bytes(2, "big")
        pes += header + klv
        out = bytearray()
        first = True
        while pes:
            chunk, pes = pes[: TS_PACKET - 4], pes[TS_PACKET - 4 :]
            flags = 0x40 if first else 0x00
            first = False
            head = bytes([SYNC, flags | (self.klv_pid >> 8), self.klv_pid & 0xFF])
            cc = self._continuity
            self._continuity = (self._continuity + 1) & 0x0F
            if len(chunk) == TS_PACKET - 4:
                out += head + bytes([0x10 | cc]) + chunk
                continue
            stuffing = TS_PACKET - 4 - len(chunk)  # adaptation field: length byte (+ flags + 0xFF)
            field = bytes([stuffing - 1])
            if stuffing > 1:
                field += b"\x00" + b"\xff" * (stuffing - 2)
            out += head + bytes([0x30 | cc]) + field + chunk
        return bytes(out)
