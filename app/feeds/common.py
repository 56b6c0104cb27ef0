"""Checks every feed parser shares: size limits, hardened XML parsing, coordinates and timestamps."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from app.feeds.errors import FeedError

# Dates with a time and an explicit zone: "2024-05-01T12:00:00Z", "...00.123+03:00".
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def check_size(data: bytes | str, max_bytes: int) -> bytes:
    """Return ``data`` as bytes, refusing empty input and input over ``max_bytes`` before any parsing."""
    if isinstance(data, str):
        if len(data) > max_bytes:  # every character is at least one byte: refuse before encoding
            raise FeedError("too_large", f"{len(data)} characters exceed the {max_bytes}-byte limit")
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FeedError("wrong_type", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise FeedError("too_large", f"{len(data)} bytes exceed the {max_bytes}-byte limit")
    if not data.strip():
        raise FeedError("empty", "no data")
    return data


#: Elements nested deeper than this are refused: CAP, CoT, Atom and PIDF-LO need fewer than ten levels, and
#: nothing downstream then has to think about a tree 100,000 levels deep.
MAX_XML_DEPTH = 64


class _DepthLimited(TreeBuilder):
    """ElementTree's tree builder, refusing a document nested deeper than MAX_XML_DEPTH as it is read."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self.depth += 1
        if self.depth > MAX_XML_DEPTH:
            raise FeedError("too_deep", f"elements nested deeper than {MAX_XML_DEPTH} levels")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self.depth -= 1
        return super().end(tag)


def parse_xml(data: bytes | str, max_bytes: int) -> Element:
    """Parse an XML document with defusedxml: no DTD, no entities, no external references.

    Raises FeedError "too_large" (before parsing), "entity_expansion" (any DTD or entity
    declaration: billion laughs, external entities), "too_deep", "bad_encoding" (a declared encoding the
    parser cannot read) or "malformed_xml"/"truncated".
    """
    raw = check_size(data, max_bytes)
    parser = SafeET.DefusedXMLParser(target=_DepthLimited(), forbid_dtd=True, forbid_entities=True,
                                     forbid_external=True)
    try:
        parser.feed(raw)
        return parser.close()
    except FeedError:  # too deep
        raise
    except DefusedXmlException as exc:
        raise FeedError("entity_expansion", f"DTDs and entities are refused ({type(exc).__name__})") from exc
    except (LookupError, ValueError) as exc:  # expat: "unknown encoding: x", "multi-byte encodings are not ..."
        raise FeedError("bad_encoding", f"the document's declared encoding cannot be read ({exc}); "
                                        "send UTF-8") from exc
    except ParseError as exc:
        # expat 3 "no element found", 5 "unclosed token", 6 "partial character": input ended early.
        code = "truncated" if getattr(exc, "code", None) in (3, 5, 6) else "malformed_xml"
        raise FeedError(code, f"XML parse error: {exc}") from exc


def check_lat_lon(lat: float, lon: float) -> tuple[float, float]:
    """Refuse non-finite coordinates or ones outside WGS-84 ranges."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise FeedError("out_of_range", f"non-finite coordinate ({lat}, {lon})")
    if not -90.0 <= lat <= 90.0:
        raise FeedError("out_of_range", f"latitude {lat} outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise FeedError("out_of_range", f"longitude {lon} outside -180..180")
    return lat, lon


def parse_float(text: str | None, field: str, *, required: bool = True) -> float | None:
    """Parse a finite decimal number, or None for an absent optional field."""
    if text is None or text.strip() == "":
        if required:
            raise FeedError("missing_field", f"{field} is missing")
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FeedError("wrong_type", f"{field}={text[:40]!r} is not a number") from exc
    if not math.isfinite(value):
        raise FeedError("out_of_range", f"{field}={text[:40]!r} is not finite")
    return value


def parse_timestamp(text: str | None, field: str) -> datetime:
    """Parse an ISO 8601 date-time that has a zone ("Z" or +hh:mm); return it in UTC."""
    if text is None or text.strip() == "":
        raise FeedError("missing_field", f"{field} is missing")
    text = text.strip()
    if not _ISO_DATETIME.fullmatch(text):
        raise FeedError("invalid_time", f"{field}={text[:40]!r} is not an ISO 8601 date-time with a zone")
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # fromisoformat keeps microseconds; drop finer digits explicitly
        text = text.replace(frac.group(0), frac.group(0)[:7], 1)
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError as exc:
        raise FeedError("invalid_time", f"{field}={text[:40]!r}: {exc}") from exc
