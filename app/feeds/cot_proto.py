"""TAK protocol version 1 (protobuf), the default of current TAK clients: read as the CoT XML event it stands for,
and written from CoT XML for TAK clients that asked for it.

Sans-I/O. Mesh (UDP, one message per datagram): ``0xbf 0x01 0xbf`` then a ``TakMessage``. Stream (TCP):
``0xbf``, the message's length as a base-128 varint, the ``TakMessage`` (``CotStreamSplitter`` cuts the stream
into such frames). takproto (the TAK community's package of TAK's .proto files) decodes the protobuf; the
event is then written as CoT XML so that `parse_cot` checks and reads it exactly like an XML event. The other
way, `stream_frame(xml)` turns an event Watchfloor wrote as XML into a stream frame: the detail elements TAK
gives typed fields (contact, __group, precisionlocation, status, takv, track) go there when the field holds all
they say, everything else into ``xmlDetail``, so that reading the frame back gives the same event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from google.protobuf.message import DecodeError
from takproto.proto import TakMessage

from app.feeds.common import parse_timestamp, parse_xml
from app.feeds.errors import FeedError, FeedIgnored

MESH_HEADER = b"\xbf\x01\xbf"
#: A varint of more bytes than this cannot be the length of a message we would take.
MAX_VARINT_BYTES = 5
_PLACE = "wf-xml-detail"  # where a message's xmlDetail goes in the event written out
#: TakMessage detail field, CoT element, the attributes the field holds (all strings).
_DETAIL_PARTS = (("contact", "contact", ("callsign", "endpoint")), ("group", "__group", ("name", "role")),
                 ("precisionLocation", "precisionlocation", ("geopointsrc", "altsrc")),
                 ("takv", "takv", ("device", "platform", "os", "version")))
#: Events Watchfloor writes are this big at most (an incident's remarks are bounded by its fields' limits).
MAX_OUT_BYTES = 256 * 1024


def stream_frame_length(data: bytes | bytearray) -> int | None:
    """Bytes of the stream frame at the start of ``data`` (0xbf, varint, message), or None if its length is
    not all there yet. Raises ``FeedError`` for a length that is no varint."""
    header = _frame_header(data)
    return None if header is None else sum(header)


def takproto_to_xml(data: bytes) -> bytes:
    """The CoT XML event of one mesh datagram or stream frame. Raises ``FeedError`` for bytes that are not a
    TAK message, ``FeedIgnored`` ("tak_control") for a message that carries no event (protocol negotiation)."""
    if data.startswith(MESH_HEADER):
        payload = data[len(MESH_HEADER):]
    else:
        header = _frame_header(data)
        if header is None or sum(header) != len(data):
            raise FeedError("malformed_takproto", f"stream frame length does not match its {len(data)} bytes")
        payload = data[header[0]:]
    message = TakMessage()
    try:
        message.ParseFromString(payload)
    except (DecodeError, RuntimeError) as exc:  # RuntimeError: protobuf's recursion limit
        raise FeedError("malformed_takproto", f"not a TAK protocol message: {exc}") from exc
    if not message.HasField("cotEvent"):
        raise FeedIgnored("tak_control", "TAK protocol control message without an event")
    return _event_xml(message.cotEvent)


def _frame_header(data: bytes | bytearray) -> tuple[int, int] | None:
    """(bytes of 0xbf and the varint, message length) of a stream frame; None until the varint is complete."""
    length = shift = 0
    for i in range(1, min(len(data), 1 + MAX_VARINT_BYTES)):
        byte = data[i]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return i + 1, length
        shift += 7
    if len(data) > MAX_VARINT_BYTES:
        raise FeedError("malformed_takproto", "TAK protocol frame length is not a varint")
    return None


def _event_xml(ev: Any) -> bytes:
    attrs = {"version": "2.0", "uid": ev.uid, "type": ev.type, "how": ev.how, "time": _time(ev.sendTime, "sendTime"),
             "start": _time(ev.startTime, "startTime"), "stale": _time(ev.staleTime, "staleTime")}
    attrs.update({name: getattr(ev, name) for name in ("access", "qos", "opex") if getattr(ev, name)})
    event = ET.Element("event", attrs)
    ET.SubElement(event, "point", {name: repr(getattr(ev, name)) for name in ("lat", "lon", "hae", "ce", "le")})
    detail = ET.SubElement(event, "detail")
    d = ev.detail
    for field, tag, names in _DETAIL_PARTS:
        if d.HasField(field):
            part = getattr(d, field)
            ET.SubElement(detail, tag, {name: getattr(part, name) for name in names if getattr(part, name)})
    if d.HasField("status"):
        ET.SubElement(detail, "status", {"battery": str(d.status.battery)})
    if d.HasField("track"):
        ET.SubElement(detail, "track", {"course": repr(d.track.course), "speed": repr(d.track.speed)})
    if d.xmlDetail:  # everything else the client sent, as XML: parse_cot parses it like any event's detail
        ET.SubElement(detail, _PLACE)
    xml = ET.tostring(event, encoding="utf-8")
    return xml.replace(f"<{_PLACE} />".encode(), d.xmlDetail.encode("utf-8"), 1) if d.xmlDetail else xml


def _time(ms: int, field: str) -> str:
    """Milliseconds since 1970 as CoT writes times."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise FeedError("invalid_time", f"{field}={ms} is not a time") from exc
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stream_frame(xml: bytes) -> bytes:
    """One CoT XML event (as Watchfloor's encoders write it) as a TAK protocol v1 stream frame: 0xbf, the
    message's length as a varint, the ``TakMessage``."""
    payload = xml_to_takmessage(xml).SerializeToString()
    return b"\xbf" + _varint(len(payload)) + payload


def xml_to_takmessage(xml: bytes) -> Any:
    """The ``TakMessage`` (with its ``cotEvent``) that stands for one CoT XML event."""
    root = parse_xml(xml, MAX_OUT_BYTES)
    message = TakMessage()
    ev = message.cotEvent
    for name in ("type", "access", "qos", "opex", "uid", "how"):
        setattr(ev, name, root.get(name, ""))
    for name, field in (("time", "sendTime"), ("start", "startTime"), ("stale", "staleTime")):
        setattr(ev, field, round(parse_timestamp(root.get(name), name).timestamp() * 1000))
    point = root.find("point")
    if point is not None:
        for name in ("lat", "lon", "hae", "ce", "le"):
            setattr(ev, name, float(point.get(name, "0")))
    detail = root.find("detail")
    rest: list[bytes] = []
    for element in detail if detail is not None else ():
        if not _typed(ev.detail, element):
            rest.append(ET.tostring(element, encoding="utf-8"))
    ev.detail.xmlDetail = b"".join(rest).decode("utf-8")
    return message


def _typed(d: Any, element: ET.Element) -> bool:
    """Put a detail element in its typed field when that field holds all it says; False when it does not."""
    field = _FIELD_OF.get(element.tag)
    if field is None or len(element) or (element.text or "").strip() or d.HasField(field):
        return False
    attrs = set(element.attrib)
    for part, tag, names in _DETAIL_PARTS:
        if element.tag == tag and attrs <= set(names):
            for name in attrs:
                setattr(getattr(d, part), name, element.get(name))
            getattr(d, part).SetInParent()
            return True
    try:
        if element.tag == "track" and attrs == {"course", "speed"}:
            d.track.course, d.track.speed = float(element.get("course", "")), float(element.get("speed", ""))
            return True
        if element.tag == "status" and attrs == {"battery"}:
            d.status.battery = int(element.get("battery", ""))
            return True
    except ValueError:  # not what the typed field holds: kept as XML
        pass
    return False


_FIELD_OF = {tag: field for field, tag, _ in _DETAIL_PARTS} | {"track": "track", "status": "status"}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
