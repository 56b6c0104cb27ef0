"""OASIS Common Alerting Protocol 1.2: parse, validate against the OASIS XSD, and encode. Sans-I/O.

Parsing is two gates: defusedxml first (refuses DTDs and entities, so nothing reaches lxml that could
expand), then lxml with a hardened parser for XML Schema validation against the vendored
``resources/schemas/CAP-v1.2.xsd``. CAP 1.1 alerts, which several national services still publish, are
validated against their own schema (``CAP-v1.1.xsd``) and then read as 1.2: everything read here has the same
name and meaning in both (1.2 added optional elements and tightened a few patterns). Geometry the schema leaves
as free text (polygon, circle) is checked here: coordinates in range, polygons closed with at least four points.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from app.feeds.common import check_lat_lon, parse_timestamp, parse_xml
from app.feeds.errors import FeedError
from app.shipped import shipped

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
MAX_CAP_BYTES = 512 * 1024
SCHEMA_PATH = shipped("schemas", "CAP-v1.2.xsd")
#: The namespace of each CAP version read, and its schema.
SCHEMAS = {CAP_NS: SCHEMA_PATH, CAP11_NS: shipped("schemas", "CAP-v1.1.xsd")}
_N = f"{{{CAP_NS}}}"

LatLon = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CapArea:
    """An affected area: polygons as closed rings of (lat, lon), circles as (lat, lon, radius_km)."""

    desc: str
    polygons: tuple[tuple[LatLon, ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class CapInfo:
    """One ``<info>`` block (one language/audience) of an alert."""

    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    language: str = "en-US"
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    sender_name: str | None = None
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    areas: tuple[CapArea, ...] = ()


@dataclass(frozen=True, slots=True)
class CapReference:
    """An earlier message this one updates or cancels: ``sender,identifier,sent``."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(frozen=True, slots=True)
class CapAlert:
    """A CAP 1.2 ``<alert>``. ``msg_type`` is Alert, Update, Cancel, Ack or Error."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[CapReference, ...] = ()
    note: str | None = None
    incidents: str | None = None
    infos: tuple[CapInfo, ...] = ()


@functools.cache
def _schema(namespace: str = CAP_NS) -> etree.XMLSchema:
    parser = _hardened_parser()
    return etree.XMLSchema(etree.parse(str(SCHEMAS[namespace]), parser))


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False
    )


def validate_cap(data: bytes | str, *, max_bytes: int = MAX_CAP_BYTES) -> etree._Element:
    """Run both gates and return the lxml root; raise FeedError on the first problem."""
    root = parse_xml(data, max_bytes)  # size, DTD/entity refusal, well-formedness
    namespace = next((ns for ns in SCHEMAS if root.tag == f"{{{ns}}}alert"), None)
    if namespace is None:
        raise FeedError("not_cap", f"root element is {root.tag[:80]}, expected a CAP 1.2 (or 1.1) <alert>")
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        doc = etree.fromstring(raw, _hardened_parser())
    except etree.XMLSyntaxError as exc:  # defusedxml accepted it, so this is unexpected; still refuse
        raise FeedError("malformed_xml", str(exc)) from exc
    schema = _schema(namespace)
    if not schema.validate(doc):
        first = schema.error_log[0]  # type: ignore[index]  # lxml-stubs omit _ErrorLog.__getitem__; lxml has it
        raise FeedError("schema_invalid", f"line {first.line}: {first.message}")
    if namespace != CAP_NS:  # valid CAP 1.1: read as 1.2 (see the module's docstring)
        for element in doc.iter(f"{{{namespace}}}*"):
            element.tag = _N + etree.QName(element).localname
    return doc


def parse_cap(data: bytes | str, *, max_bytes: int = MAX_CAP_BYTES) -> CapAlert:
    """Parse and validate one CAP 1.2 (or 1.1) alert."""
    root = validate_cap(data, max_bytes=max_bytes)
    return CapAlert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=parse_timestamp(_text(root, "sent"), "sent"),
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        references=_references(_opt(root, "references")),
        note=_opt(root, "note"),
        incidents=_opt(root, "incidents"),
        infos=tuple(_info(el) for el in root.findall(f"{_N}info")),
    )


def _text(parent: etree._Element, name: str) -> str:
    value = _opt(parent, name)
    if value is None:
        raise FeedError("missing_field", f"<{name}> is missing")
    return value


def _opt(parent: etree._Element, name: str) -> str | None:
    el = parent.find(f"{_N}{name}")
    return None if el is None else (el.text or "").strip()


def _opt_time(parent: etree._Element, name: str) -> datetime | None:
    text = _opt(parent, name)
    return None if text is None else parse_timestamp(text, name)


def _references(text: str | None) -> tuple[CapReference, ...]:
    refs = []
    for triple in (text or "").split():
        parts = triple.split(",")
        if len(parts) != 3:
            raise FeedError("wrong_type", f"reference {triple[:80]!r} is not sender,identifier,sent")
        refs.append(CapReference(parts[0], parts[1], parse_timestamp(parts[2], "references.sent")))
    return tuple(refs)


def _info(el: etree._Element) -> CapInfo:
    return CapInfo(
        categories=tuple((c.text or "").strip() for c in el.findall(f"{_N}category")),
        event=_text(el, "event"),
        urgency=_text(el, "urgency"),
        severity=_text(el, "severity"),
        certainty=_text(el, "certainty"),
        language=_opt(el, "language") or "en-US",
        headline=_opt(el, "headline"),
        description=_opt(el, "description"),
        instruction=_opt(el, "instruction"),
        sender_name=_opt(el, "senderName"),
        effective=_opt_time(el, "effective"),
        onset=_opt_time(el, "onset"),
        expires=_opt_time(el, "expires"),
        areas=tuple(_area(a) for a in el.findall(f"{_N}area")),
    )


def _area(el: etree._Element) -> CapArea:
    return CapArea(
        desc=_text(el, "areaDesc"),
        polygons=tuple(parse_polygon(p.text or "") for p in el.findall(f"{_N}polygon")),
        circles=tuple(parse_circle(c.text or "") for c in el.findall(f"{_N}circle")),
    )


def _point(pair: str) -> LatLon:
    parts = pair.split(",")
    if len(parts) != 2:
        raise FeedError("wrong_type", f"point {pair[:40]!r} is not lat,lon")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise FeedError("wrong_type", f"point {pair[:40]!r} is not numeric") from exc
    return check_lat_lon(lat, lon)


def parse_polygon(text: str) -> tuple[LatLon, ...]:
    """CAP polygon text ``"lat,lon lat,lon ..."``: at least four points, first equal to last."""
    points = tuple(_point(p) for p in text.split())
    if len(points) < 4:
        raise FeedError("bad_geometry", f"polygon has {len(points)} points, CAP requires at least 4")
    if points[0] != points[-1]:
        raise FeedError("bad_geometry", "polygon is not closed (first point != last point)")
    return points


def parse_circle(text: str) -> tuple[float, float, float]:
    """CAP circle text ``"lat,lon radius_km"``."""
    parts = text.split()
    if len(parts) != 2:
        raise FeedError("wrong_type", f"circle {text[:60]!r} is not 'lat,lon radius'")
    lat, lon = _point(parts[0])
    try:
        radius = float(parts[1])
    except ValueError as exc:
        raise FeedError("wrong_type", f"circle radius {parts[1][:20]!r} is not numeric") from exc
    if not 0.0 <= radius <= 20_037.5:  # half the Earth's circumference
        raise FeedError("out_of_range", f"circle radius {radius} km out of range")
    return lat, lon, radius


# --- encoding -------------------------------------------------------------------------------------


def cap_timestamp(moment: datetime) -> str:
    """CAP's dateTime form: seconds precision, an explicit offset, and UTC as "-00:00" (never "Z")."""
    if moment.tzinfo is None:
        raise ValueError("CAP times must be timezone-aware")
    moment = moment.replace(microsecond=0)
    if moment.utcoffset() == timedelta(0):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"
    return moment.isoformat()


def _fmt_num(value: float) -> str:
    return repr(float(value))


def encode_alert(alert: CapAlert) -> bytes:
    """Serialize a CapAlert as CAP 1.2 XML that validates against the OASIS schema."""
    # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace (its documented form).
    root = etree.Element(f"{_N}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]

    def add(parent: etree._Element, name: str, value: str | None) -> None:
        if value is not None:
            etree.SubElement(parent, f"{_N}{name}").text = value

    add(root, "identifier", alert.identifier)
    add(root, "sender", alert.sender)
    add(root, "sent", cap_timestamp(alert.sent))
    add(root, "status", alert.status)
    add(root, "msgType", alert.msg_type)
    add(root, "scope", alert.scope)
    add(root, "note", alert.note)
    if alert.references:
        add(
            root,
            "references",
            " ".join(f"{r.sender},{r.identifier},{cap_timestamp(r.sent)}" for r in alert.references),
        )
    add(root, "incidents", alert.incidents)
    for info in alert.infos:
        el = etree.SubElement(root, f"{_N}info")
        add(el, "language", info.language)
        for category in info.categories:
            add(el, "category", category)
        add(el, "event", info.event)
        add(el, "urgency", info.urgency)
        add(el, "severity", info.severity)
        add(el, "certainty", info.certainty)
        for name, moment in (("effective", info.effective), ("onset", info.onset), ("expires", info.expires)):
            add(el, name, None if moment is None else cap_timestamp(moment))
        add(el, "senderName", info.sender_name)
        add(el, "headline", info.headline)
        add(el, "description", info.description)
        add(el, "instruction", info.instruction)
        for area in info.areas:
            a = etree.SubElement(el, f"{_N}area")
            add(a, "areaDesc", area.desc)
            for polygon in area.polygons:
                add(a, "polygon", " ".join(f"{_fmt_num(lat)},{_fmt_num(lon)}" for lat, lon in polygon))
            for lat, lon, radius in area.circles:
                add(a, "circle", f"{_fmt_num(lat)},{_fmt_num(lon)} {_fmt_num(radius)}")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
