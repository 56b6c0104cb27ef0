"""Checks every feed parser shares: size limits, hardened XML parsing, coordinates and timestamps."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from lxml import etree

from app.feeds.errors import FeedError

# Dates with a time and an explicit zone: "2024-05-01T12:00:00Z", "...00.123+03:00".
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
# The form TAK clients write (UTC, "Z", at most microseconds): datetime.fromisoformat reads it exactly as it is.
_UTC_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


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


#: One parser for every fast parse, configured once: no entity substitution, no DTD loading, no network, libxml2's
#: own size and depth limits kept (huge_tree off), comments and processing instructions left out as ElementTree does.
_LXML_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                               remove_comments=True, remove_pis=True)
#: True when an element sits deeper than MAX_XML_DEPTH (libxml2 itself stops at 256).
_TOO_DEEP = etree.XPath("boolean(/" + "/".join(["*"] * (MAX_XML_DEPTH + 1)) + ")")
#: Encodings in which "<" is the byte 0x3c (or 0x3c with zero bytes beside it): counting that byte bounds the depth.
_LT_IS_3C = frozenset({"UTF-8", "US-ASCII", "ASCII", "ISO-8859-1", "UTF-16", "UTF-16LE", "UTF-16BE"})


def parse_xml_fast(data: bytes | str, max_bytes: int) -> etree._Element:
    """Parse an XML document with lxml (libxml2, in C) under the same refusals as ``parse_xml``: for feeds that
    arrive thousands of times a second (CoT), where defusedxml's pure-Python parse is most of the cost.

    Refused: over ``max_bytes`` ("too_large", before parsing); any DOCTYPE, so no DTD and no entity declaration
    (billion laughs, external entities: "entity_expansion", refused before parsing for UTF-8 and again after
    parsing for any encoding, with libxml2's amplification limit between); elements deeper than MAX_XML_DEPTH
    ("too_deep"); an unknown declared encoding ("bad_encoding"); input that ends early ("truncated") or is not
    well-formed ("malformed_xml").
    """
    raw = check_size(data, max_bytes)
    if b"<!DOCTYPE" in raw:
        raise FeedError("entity_expansion", "DTDs and entities are refused (DOCTYPE)")
    try:
        root = etree.fromstring(raw, _LXML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise _lxml_error(raw, exc) from exc
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.doctype:
        raise FeedError("entity_expansion", "DTDs and entities are refused (DOCTYPE)")
    # A document with no more "<" than the depth limit cannot nest deeper than it: the common case skips the walk.
    if (raw.count(b"<") > MAX_XML_DEPTH or (info.encoding or "").upper() not in _LT_IS_3C) and _TOO_DEEP(root):
        raise FeedError("too_deep", f"elements nested deeper than {MAX_XML_DEPTH} levels")
    return root


def _lxml_error(raw: bytes, exc: etree.XMLSyntaxError) -> FeedError:
    """The FeedError for a document libxml2 refused, with the codes ``parse_xml`` gives."""
    message = f"XML parse error: {exc}"
    code = getattr(exc, "code", None)  # libxml2's error number (lxml-stubs do not declare it)
    if code in (etree.ErrorTypes.ERR_UNSUPPORTED_ENCODING, etree.ErrorTypes.ERR_UNKNOWN_ENCODING):
        return FeedError("bad_encoding", f"the document's declared encoding cannot be read ({exc}); send UTF-8")
    if code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:  # libxml2's depth limit, or its entity amplification
        if "depth" in str(exc).lower():
            return FeedError("too_deep", f"elements nested deeper than {MAX_XML_DEPTH} levels")
        return FeedError("entity_expansion", f"DTDs and entities are refused ({exc})")
    if code == etree.ErrorTypes.ERR_UNDECLARED_ENTITY:  # the push parser below leaves this one to the end
        return FeedError("malformed_xml", message)
    # Input that ended early is what the push parser accepts as far as it goes: only the end is missing.
    probe = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    try:
        probe.feed(raw)
    except etree.XMLSyntaxError:
        return FeedError("malformed_xml", message)
    return FeedError("truncated", message)


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
    if text is not None and _UTC_DATETIME.fullmatch(text):
        # Fast path for every CoT time: already UTC, so no zone arithmetic and no re-checking.
        try:
            return datetime.fromisoformat(text)
        except ValueError as exc:  # month 13, February 30, hour 24
            raise FeedError("invalid_time", f"{field}={text[:40]!r}: {exc}") from exc
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
