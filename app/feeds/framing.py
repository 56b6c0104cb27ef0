"""Stream framing for TCP feeds: turn a byte stream into frames, sans-I/O.

``feed(chunk)`` returns the complete frames found so far, in order; a refused stretch of the stream
is returned in place as a ``FeedError`` (with the dropped bytes' size in its reason) so the transport
can count and quarantine it, and the splitter resynchronises by itself.
"""

from __future__ import annotations

from app.feeds.cot import MAX_COT_BYTES, TAKPROTO_MAGIC
from app.feeds.cot_proto import stream_frame_length
from app.feeds.errors import FeedError
from app.feeds.nmea import MAX_SENTENCE

Frame = bytes | FeedError

_EVENT_OPEN = b"<event"
_EVENT_CLOSE = b"</event>"
_PROLOG = b"<?xml"


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

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (never more than ~max_event_bytes)."""
        return len(self._buf)

    def unfinished(self) -> bytes:
        """The bytes of an event the stream has not closed yet (what is left when a connection ends); blank
        bytes (the newline many clients send after their last event) are nothing unfinished."""
        return bytes(self._buf) if self._buf.strip() else b""

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes from the stream; return the frames completed by them."""
        out: list[Frame] = []
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
        self._buf += data
        while True:
            if self._discarding:
                end = self._buf.find(_EVENT_CLOSE)
                if end < 0:
                    keep = len(_EVENT_CLOSE) - 1  # a "</event>" may straddle two chunks
                    del self._buf[: max(0, len(self._buf) - keep)]
                    return out
                del self._buf[: end + len(_EVENT_CLOSE)]
                self._discarding = False
            start = self._frame_start()
            if start is None:
                return out
            if start < 0:  # nothing usable yet: keep a possible partial "<event"/"<?xml" tail
                keep = len(_EVENT_OPEN) - 1
                dropped = bytes(self._buf[: max(0, len(self._buf) - keep)])
                del self._buf[: len(dropped)]
                if dropped.strip():
                    out.append(FeedError("garbage", f"skipped {len(dropped)} bytes between events"))
                return out
            if start > 0:
                dropped = bytes(self._buf[:start])
                del self._buf[:start]
                if dropped.strip():
                    out.append(FeedError("garbage", f"skipped {len(dropped)} bytes between events"))
            if self._buf[:1] == bytes([TAKPROTO_MAGIC]):
                try:
                    total = stream_frame_length(self._buf)
                except FeedError as error:  # no way to find the next frame in a broken binary stream
                    self._buf.clear()
                    out.append(error)
                    return out
                if total is None or (total <= self.max_event_bytes and total > len(self._buf)):
                    return out
                if total > self.max_event_bytes:
                    out.append(FeedError("too_large", f"protobuf frame of {total} bytes exceeds "
                                                      f"{self.max_event_bytes}; dropped"))
                    self._skip = max(0, total - len(self._buf))
                    del self._buf[:total]
                    continue
                out.append(bytes(self._buf[:total]))
                del self._buf[:total]
                continue
            end = self._buf.find(_EVENT_CLOSE)
            if end >= 0 and end + len(_EVENT_CLOSE) <= self.max_event_bytes:
                frame_end = end + len(_EVENT_CLOSE)
                out.append(bytes(self._buf[:frame_end]))
                del self._buf[:frame_end]
                continue
            if end >= 0 or len(self._buf) > self.max_event_bytes:
                out.append(FeedError("too_large", f"event exceeds {self.max_event_bytes} bytes; dropped"))
                if end >= 0:
                    del self._buf[: end + len(_EVENT_CLOSE)]
                else:
                    self._buf.clear()
                    self._discarding = True
                continue
            return out

    def _frame_start(self) -> int | None:
        """Index where the next frame starts, -1 if none is in sight, None if the buffer is empty."""
        if not self._buf:
            return None
        first = len(self._buf) - len(self._buf.lstrip())
        if first < len(self._buf) and self._buf[first] == TAKPROTO_MAGIC:
            return first
        candidates = [i for i in (self._buf.find(_PROLOG), self._buf.find(_EVENT_OPEN)) if i >= 0]
        return min(candidates) if candidates else -1


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
