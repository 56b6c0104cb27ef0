"""Stream framing for TCP feeds: turn a byte stream into frames, sans-I/O.

``feed(chunk)`` returns the complete frames found so far, in order; a refused stretch of the stream
is returned in place as a ``FeedError`` (with the dropped bytes' size in its reason) so the transport
can count and quarantine it, and the splitter resynchronises by itself.
"""

from __future__ import annotations

import re

from app.feeds.cot import MAX_COT_BYTES, TAKPROTO_MAGIC
from app.feeds.cot_proto import MAX_VARINT_BYTES, stream_frame_length
from app.feeds.errors import FeedError
from app.feeds.nmea import MAX_SENTENCE

Frame = bytes | FeedError

_EVENT_OPEN = b"<event"
_EVENT_CLOSE = b"</event>"
_FRAME_OPEN = re.compile(rb"<\?xml|<event")
_BLANK = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what bytes.strip() strips
_PROTO_HEADER_BYTES = 1 + MAX_VARINT_BYTES  # 0xbf and its varint


class CotStreamSplitter:
    """Split TAK's TCP stream into events: XML events back to back (no delimiter) at ``</event>``
    boundaries, TAK protocol v1 frames (0xbf, varint length, protobuf) by their length; a frame is
    returned whole, header included, for ``parse_cot``.

    Garbage between events is skipped (non-blank garbage is reported as "garbage"); an event that
    grows beyond ``max_event_bytes`` without closing is reported as "too_large" and dropped up to
    its ``</event>`` (a protobuf frame: by its length).
    """

    def __init__(self, max_event_bytes: int = MAX_COT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._buf = bytearray()
        self._discarding = False  # inside an oversize event: drop until its </event>
        self._skip = 0  # bytes still to drop of an oversize protobuf frame
        self._scanned = 0  # where the search for "</event>" resumes: the bytes before it hold none

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (never more than ~max_event_bytes)."""
        return len(self._buf)

    def unfinished(self) -> bytes:
        """The bytes of an event the stream has not closed yet (what is left when a connection ends); blank
        bytes (the newline many clients send after their last event) are nothing unfinished."""
        return bytes(self._buf) if self._buf.strip() else b""

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes from the stream; return the frames completed by them.

        Linear in the bytes fed: frames are read at a moving offset and the consumed prefix is cut once per
        call, and a search for ``</event>`` resumes where the previous call's search stopped."""
        out: list[Frame] = []
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
        self._buf += data
        pos = self._cut(out)
        del self._buf[:pos]
        self._scanned = max(0, self._scanned - pos)
        return out

    def _cut(self, out: list[Frame]) -> int:
        """Append the buffer's complete frames to ``out``; return how many bytes of it are consumed."""
        buf = self._buf
        pos = 0
        while True:
            if self._discarding:
                end = buf.find(_EVENT_CLOSE, max(pos, self._scanned))
                if end < 0:
                    self._scanned = max(pos, len(buf) - len(_EVENT_CLOSE) + 1)  # "</event>" may straddle chunks
                    return self._scanned
                pos = end + len(_EVENT_CLOSE)
                self._discarding = False
                self._scanned = 0
            start = self._frame_start(pos)
            if start is None:
                return pos
            if start < 0:  # nothing usable yet: keep a possible partial "<event"/"<?xml" tail
                keep_from = max(pos, len(buf) - len(_EVENT_OPEN) + 1)
                self._garbage(out, pos, keep_from)
                return keep_from
            self._garbage(out, pos, start)
            pos = start
            if buf[pos] == TAKPROTO_MAGIC:
                try:  # the header is the magic byte and a varint: a short slice holds it all
                    total = stream_frame_length(buf[pos:pos + _PROTO_HEADER_BYTES])
                except FeedError as error:  # no way to find the next frame in a broken binary stream
                    out.append(error)
                    return len(buf)
                held = len(buf) - pos
                if total is None or (total <= self.max_event_bytes and total > held):
                    return pos
                if total > self.max_event_bytes:
                    out.append(FeedError("too_large", f"protobuf frame of {total} bytes exceeds "
                                                      f"{self.max_event_bytes}; dropped"))
                    self._skip = max(0, total - held)
                    pos = min(len(buf), pos + total)
                    continue
                out.append(bytes(buf[pos:pos + total]))
                pos += total
                continue
            end = buf.find(_EVENT_CLOSE, max(pos, self._scanned))
            if end >= 0 and end + len(_EVENT_CLOSE) - pos <= self.max_event_bytes:
                frame_end = end + len(_EVENT_CLOSE)
                out.append(bytes(buf[pos:frame_end]))
                pos = frame_end
                self._scanned = 0
                continue
            if end >= 0 or len(buf) - pos > self.max_event_bytes:
                out.append(FeedError("too_large", f"event exceeds {self.max_event_bytes} bytes; dropped"))
                self._scanned = 0
                if end >= 0:
                    pos = end + len(_EVENT_CLOSE)
                else:
                    pos = len(buf)
                    self._discarding = True
                continue
            self._scanned = max(pos, len(buf) - len(_EVENT_CLOSE) + 1)
            return pos

    def _garbage(self, out: list[Frame], start: int, end: int) -> None:
        """Report the bytes between frames as garbage unless they are blank (newlines between events)."""
        if end > start and self._buf[start:end].strip():
            out.append(FeedError("garbage", f"skipped {end - start} bytes between events"))

    def _frame_start(self, pos: int) -> int | None:
        """Index where the next frame starts at or after ``pos``, -1 if none is in sight, None if nothing is
        left."""
        if pos >= len(self._buf):
            return None
        first = _BLANK.match(self._buf, pos).end()  # type: ignore[union-attr]  # matches the empty string too
        if first < len(self._buf) and self._buf[first] == TAKPROTO_MAGIC:
            return first
        found = _FRAME_OPEN.search(self._buf, pos)  # one scan for whichever of "<?xml" or "<event" comes first
        return -1 if found is None else found.start()


class LineSplitter:
    """Split a line-oriented stream (NMEA 0183 over TCP) at LF, stripping CR.

    Lines longer than ``max_line`` (NMEA allows 82 characters; by default we tolerate what a sentence may be,
    ``MAX_SENTENCE``) are reported as "too_large" and dropped up to the next newline.
    """

    def __init__(self, max_line: int = MAX_SENTENCE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes from the stream; return the complete, non-blank lines (without CR/LF)."""
        out: list[Frame] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_line:
                    if not self._discarding:
                        out.append(FeedError("too_large", f"line exceeds {self.max_line} bytes; dropped"))
                    self._discarding = True
                    self._buf.clear()
                return out
            line = bytes(self._buf[:nl]).rstrip(b"\r")
            del self._buf[: nl + 1]
            if self._discarding:
                self._discarding = False
                continue
            if len(line) > self.max_line:
                out.append(FeedError("too_large", f"line exceeds {self.max_line} bytes; dropped"))
            elif line.strip():
                out.append(line)
