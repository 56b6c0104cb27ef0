"""Cursor-on-Target (CoT) XML events as TAK clients (ATAK, WinTAK, iTAK, pytak) send them.

Sans-I/O: ``parse_cot(bytes) -> CotEvent`` and ``encode_*(...) -> bytes``. Stream framing for TCP
lives in ``app.feeds.framing.CotStreamSplitter``; over UDP each datagram is one event. TAK protocol v1
(protobuf; mesh datagrams and stream frames) is read through ``app.feeds.cot_proto``.
"""

from __future__ import annotations

import math
import uuid as uuid_mod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from lxml import etree

from app.feeds.common import check_lat_lon, check_size, parse_float, parse_timestamp, parse_xml_fast
from app.feeds.cot_proto import takproto_to_xml
from app.feeds.errors import FeedError

MAX_COT_BYTES = 64 * 1024
TAKPROTO_MAGIC = 0xBF
# CoT's "unknown" value for hae/ce/le.
COT_UNKNOWN = 9999999.0
#: How close to 0,0 a position is a placeholder (about 1 km: the Gulf of Guinea, 500 km from any coast).
NULL_ISLAND_DEG = 0.01

_KNOWN_DETAIL = frozenset(
    {"contact", "__group", "track", "remarks", "link", "__chat", "sensor", "__video", "emergency"}
)


@dataclass(frozen=True, slots=True)
class CotTrack:
    """Motion from ``<track course speed/>``: course in degrees true, speed in m/s."""

    course: float | None
    speed: float | None


@dataclass(frozen=True, slots=True)
class CotLink:
    """A ``<link uid type relation/>``: e.g. the parent of a chat message or a marker."""

    uid: str
    type: str
    relation: str


@dataclass(frozen=True, slots=True)
class CotChat:
    """GeoChat (``b-t-f``): the ``__chat`` detail plus the message text from ``<remarks>``."""

    sender_callsign: str
    chatroom: str
    message: str
    message_id: str
    sender_uid: str


@dataclass(frozen=True, slots=True)
class CotSensor:
    """A camera footprint from ``<sensor/>`` (drones): angles in degrees, range in metres."""

    azimuth: float | None
    fov: float | None
    vfov: float | None
    range: float | None
    elevation: float | None
    roll: float | None


@dataclass(frozen=True, slots=True)
class CotVideo:
    """A video feed (``b-i-v`` or a ``__video`` detail): URL plus its ConnectionEntry parts."""

    url: str
    alias: str
    address: str
    port: int | None
    protocol: str
    path: str


@dataclass(frozen=True, slots=True)
class CotEmergency:
    """The ``<emergency type=... cancel=...>`` detail of a ``b-a-o-*`` alert."""

    type: str
    cancel: bool
    text: str


@dataclass(frozen=True, slots=True)
class CotEvent:
    """One CoT event, format-level: times are aware UTC datetimes, coordinates WGS-84 degrees."""

    uid: str
    type: str
    how: str
    time: datetime
    start: datetime
    stale: datetime
    lat: float
    lon: float
    hae: float
    ce: float
    le: float
    callsign: str | None = None
    endpoint: str | None = None
    group_name: str | None = None
    group_role: str | None = None
    track: CotTrack | None = None
    remarks: str | None = None
    links: tuple[CotLink, ...] = ()
    chat: CotChat | None = None
    sensor: CotSensor | None = None
    video: CotVideo | None = None
    emergency: CotEmergency | None = None
    detail_xml: str = ""

    @property
    def has_fix(self) -> bool:
        """False for the "no fix yet" placeholder at or next to 0,0 that TAK clients and UAS tools send before their
        GPS has a position (ATAK with hae/ce/le 9999999, DJI bridges with ce 0; an ATAK tablet without GPS reports
        where its user tapped on the world map, -0.0043,-0.0077): open sea, not a place anyone is sent."""
        return not (abs(self.lat) < NULL_ISLAND_DEG and abs(self.lon) < NULL_ISLAND_DEG)

    @property
    def is_friendly_ground(self) -> bool:
        """A friendly ground unit's position (``a-f-G-*``)."""
        return self.type == "a-f-G" or self.type.startswith("a-f-G-")

    @property
    def is_air(self) -> bool:
        """Any air track (``a-?-A-*``)."""
        parts = self.type.split("-")
        return len(parts) >= 3 and parts[0] == "a" and parts[2] == "A"

    @property
    def is_drone(self) -> bool:
        """A UAV: ``a-*-A-M-H-Q`` (rotary-wing drone) or any air track carrying a sensor footprint."""
        return self.is_air and ("-A-M-H-Q" in self.type or "-A-M-F-Q" in self.type or self.sensor is not None)

    @property
    def _is_alert(self) -> bool:
        return self.type == "b-a-o" or self.type.startswith("b-a-o-")

    @property
    def is_emergency(self) -> bool:
        """An emergency alert (``b-a-o`` and ``b-a-o-*``: 911, ring the bell, in contact, ...) that is not a
        cancel."""
        if self.type == "b-a-o-can":
            return False
        return self._is_alert and not (self.emergency and self.emergency.cancel)

    @property
    def is_emergency_cancel(self) -> bool:
        """``b-a-o-can``, or an emergency detail with cancel="true"."""
        return self.type == "b-a-o-can" or bool(self._is_alert and self.emergency and self.emergency.cancel)

    @property
    def is_911(self) -> bool:
        """The ``b-a-o-tbl`` "911 Alert"."""
        return self.type == "b-a-o-tbl" and self.is_emergency

    @property
    def is_chat(self) -> bool:
        """A GeoChat message."""
        return self.type == "b-t-f" and self.chat is not None

    @property
    def is_video(self) -> bool:
        """A video link (``b-i-v``) or any event carrying a ``__video`` detail."""
        return self.video is not None

    @property
    def is_ping(self) -> bool:
        """A TAK keep-alive (``t-x-c-t``) or its reply (``t-x-c-t-r``)."""
        return self.type in ("t-x-c-t", "t-x-c-t-r")


def is_takproto(data: bytes) -> bool:
    """True when ``data`` starts like TAK protocol v1 (protobuf, magic byte 0xbf) rather than XML."""
    return len(data) > 0 and data[0] == TAKPROTO_MAGIC


def parse_cot(data: bytes | str, *, max_bytes: int = MAX_COT_BYTES) -> CotEvent:
    """Parse one CoT XML event (one UDP datagram or one frame from ``CotStreamSplitter``)."""
    if isinstance(data, bytes | bytearray) and is_takproto(bytes(data)):
        data = takproto_to_xml(check_size(data, max_bytes))  # TAK protocol v1, checked as the XML it stands for
    root = parse_xml_fast(data, max_bytes)
    if root.tag != "event":
        raise FeedError("not_cot", f"root element is <{root.tag[:40]}>, expected <event>")
    uid = _required_attr(root, "uid")
    cot_type = _required_attr(root, "type")
    time_text = root.get("time")
    time = parse_timestamp(time_text, "time")
    start_text = root.get("start") or time_text
    start = time if start_text == time_text else parse_timestamp(start_text, "start")  # usually the same text
    stale = parse_timestamp(root.get("stale"), "stale")
    if stale < start:
        raise FeedError("invalid_time", f"stale {stale.isoformat()} is before start {start.isoformat()}")
    point = detail = None
    for child in root:  # one pass for both, not a find() (a path lookup) for each; the first of each, as find()
        if child.tag == "point" and point is None:
            point = child
        elif child.tag == "detail" and detail is None:
            detail = child
    if point is None:
        raise FeedError("missing_field", "<point> is missing")
    lat, lon = check_lat_lon(
        _float_attr(point, "lat", required=True),  # type: ignore[arg-type]
        _float_attr(point, "lon", required=True),  # type: ignore[arg-type]
    )
    hae = _measure(point, "hae")
    ce = _measure(point, "ce")
    le = _measure(point, "le")
    fields: dict[str, object] = {}
    if detail is not None:
        fields = _parse_detail(detail)
    return CotEvent(
        uid=uid,
        type=cot_type,
        how=root.get("how", ""),
        time=time,
        start=start,
        stale=stale,
        lat=lat,
        lon=lon,
        hae=COT_UNKNOWN if hae is None else hae,
        ce=COT_UNKNOWN if ce is None else ce,
        le=COT_UNKNOWN if le is None else le,
        **fields,  # type: ignore[arg-type]
    )


def _required_attr(elem: etree._Element, name: str) -> str:
    value = elem.get(name)
    if value is None or not value.strip():
        raise FeedError("missing_field", f"<{elem.tag}> has no {name}")
    return value.strip()


def _float_attr(elem: etree._Element, name: str, *, required: bool) -> float | None:
    return parse_float(elem.get(name), f"{elem.tag}@{name}", required=required)


def _measure(elem: etree._Element, name: str) -> float | None:
    """An optional measurement where TAK tools write "NaN" for "not known" (ATAK's hae/ce/le, iTAK's track
    course): NaN and infinities read as absent; text that is no number at all is still refused."""
    text = elem.get(name)
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FeedError("wrong_type", f"{elem.tag}@{name}={text[:40]!r} is not a number") from exc
    return value if math.isfinite(value) else None


def _parse_detail(detail: etree._Element) -> dict[str, object]:
    fields: dict[str, object] = {}
    # One pass over the children instead of a find() per known tag (each find costs a path lookup): the first of
    # each known tag, as find() would give, every <link>, and the unknown ones kept as XML.
    known: dict[str, etree._Element] = {}
    links: list[etree._Element] = []
    unknown: list[str] = []
    for child in detail:
        tag = child.tag
        if tag == "link":
            links.append(child)
        elif tag in _KNOWN_DETAIL:
            known.setdefault(tag, child)
        else:
            unknown.append(etree.tostring(child, encoding="unicode"))
    contact = known.get("contact")
    if contact is not None:
        fields["callsign"] = contact.get("callsign")
        fields["endpoint"] = contact.get("endpoint")
    group = known.get("__group")
    if group is not None:
        fields["group_name"] = group.get("name")
        fields["group_role"] = group.get("role")
    track = known.get("track")
    if track is not None:
        course = _measure(track, "course")
        speed = _measure(track, "speed")
        if speed is not None and speed < 0:
            raise FeedError("out_of_range", f"track speed {speed} is negative")
        fields["track"] = CotTrack(course=None if course is None else course % 360.0, speed=speed)
    remarks = known.get("remarks")
    if remarks is not None:
        fields["remarks"] = remarks.text or ""
    fields["links"] = tuple(
        CotLink(uid=link.get("uid", ""), type=link.get("type", ""), relation=link.get("relation", ""))
        for link in links
    )
    chat = known.get("__chat")
    if chat is not None:
        grp = chat.find("chatgrp")
        fields["chat"] = CotChat(
            sender_callsign=chat.get("senderCallsign", ""),
            chatroom=chat.get("chatroom", chat.get("id", "")),
            message=(remarks.text or "") if remarks is not None else "",
            message_id=chat.get("messageId", ""),
            sender_uid=grp.get("uid0", "") if grp is not None else "",
        )
    sensor = known.get("sensor")
    if sensor is not None:
        fields["sensor"] = CotSensor(
            **{k: _measure(sensor, k) for k in ("azimuth", "fov", "vfov", "range")},
            elevation=_measure(sensor, "elevation"),
            roll=_measure(sensor, "roll"),
        )
    video = known.get("__video")
    if video is not None:
        fields["video"] = _parse_video(video)  # None for an empty <__video/>: UAS tools send one before a feed
    emergency = known.get("emergency")
    if emergency is not None:
        fields["emergency"] = CotEmergency(
            type=emergency.get("type", ""),
            cancel=emergency.get("cancel", "").lower() == "true",
            text=(emergency.text or "").strip(),
        )
    fields["detail_xml"] = "".join(unknown)
    return fields


def _parse_video(video: etree._Element) -> CotVideo | None:
    """The feed a ``__video`` names, or None when it names none (an empty ``<__video/>``)."""
    entry = video.find("ConnectionEntry")
    address = protocol = path = alias = ""
    port: int | None = None
    if entry is not None:
        address = entry.get("address", "")
        protocol = entry.get("protocol", "")
        path = entry.get("path", "")
        alias = entry.get("alias", "")
        port = _video_port(entry.get("port", ""))
    url = video.get("url", "")
    if not url and address and protocol:
        url = f"{protocol}://{address}{f':{port}' if port else ''}{path}"
    if not url:
        return None
    return CotVideo(url=url, alias=alias, address=address, port=port, protocol=protocol, path=path)


def _video_port(text: str) -> int | None:
    """A ConnectionEntry port; ATAK writes -1 for "none" (the address is then a whole URL)."""
    text = text.strip()
    if text in ("", "-1"):
        return None
    try:
        port = int(text)
    except ValueError as exc:
        raise FeedError("wrong_type", f"ConnectionEntry port {text[:20]!r} is not a number") from exc
    if not 0 < port < 65536:
        raise FeedError("out_of_range", f"ConnectionEntry port {port} outside 1..65535")
    return port


# --- encoding -------------------------------------------------------------------------------------


def cot_timestamp(moment: datetime) -> str:
    """Format a datetime as CoT does (UTC, milliseconds, "Z")."""
    if moment.tzinfo is None:
        raise ValueError("CoT times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _event(
    uid: str,
    cot_type: str,
    lat: float,
    lon: float,
    *,
    how: str,
    time: datetime | None,
    stale_s: float,
    hae: float = COT_UNKNOWN,
    ce: float = COT_UNKNOWN,
    le: float = COT_UNKNOWN,
) -> tuple[ET.Element, ET.Element]:
    check_lat_lon(lat, lon)
    now = time or datetime.now(UTC)
    event = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": cot_type,
            "how": how,
            "time": cot_timestamp(now),
            "start": cot_timestamp(now),
            "stale": cot_timestamp(now + timedelta(seconds=stale_s)),
        },
    )
    point = {"lat": repr(float(lat)), "lon": repr(float(lon)), "hae": str(hae), "ce": str(ce), "le": str(le)}
    ET.SubElement(event, "point", point)
    return event, ET.SubElement(event, "detail")


#: What ElementTree escapes in attribute values and in text (the same bytes as `ET.tostring` writes).
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                                    "\n": "&#10;", "\t": "&#09;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _serialize(event: ET.Element) -> bytes:
    """The event with its XML declaration, as TAK streams carry it. The same bytes as `ET.tostring` for the
    plain trees the encoders build (no namespaces, no comments), written here because `tostring`'s set-up for
    each call was most of the cost of serving TAK clients."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _write_element(event, parts)
    return "".join(parts).encode("utf-8")


def _write_element(element: ET.Element, parts: list[str]) -> None:
    parts.append(f"<{element.tag}")
    for name, value in element.attrib.items():
        parts.append(f' {name}="{value.translate(_ATTRIBUTE_ESCAPES)}"')
    if element.text or len(element):
        parts.append(">")
        if element.text:
            parts.append(element.text.translate(_TEXT_ESCAPES))
        for child in element:
            _write_element(child, parts)
        parts.append(f"</{element.tag}>")
    else:
        parts.append(" />")
    if element.tail:
        parts.append(element.tail.translate(_TEXT_ESCAPES))


def encode_position(
    uid: str,
    lat: float,
    lon: float,
    *,
    callsign: str,
    cot_type: str = "a-f-G-U-C",
    time: datetime | None = None,
    stale_s: float = 120.0,
    hae: float = COT_UNKNOWN,
    ce: float = COT_UNKNOWN,
    le: float = COT_UNKNOWN,
    course: float | None = None,
    speed: float | None = None,
    group: str | None = None,
    role: str | None = None,
    remarks: str | None = None,
    how: str = "m-g",
) -> bytes:
    """A unit's position (default type ``a-f-G-U-C``, friendly ground unit) as CoT XML bytes."""
    event, detail = _event(
        uid, cot_type, lat, lon, how=how, time=time, stale_s=stale_s, hae=hae, ce=ce, le=le
    )
    ET.SubElement(detail, "contact", {"callsign": callsign})
    if group or role:
        ET.SubElement(detail, "__group", {"name": group or "Cyan", "role": role or "Team Member"})
    if course is not None or speed is not None:
        ET.SubElement(detail, "track", {"course": str(course or 0.0), "speed": str(speed or 0.0)})
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    return _serialize(event)


def encode_incident(
    uid: str,
    lat: float,
    lon: float,
    *,
    title: str,
    remarks: str = "",
    cot_type: str = "b-m-p-s-p-i",
    time: datetime | None = None,
    stale_s: float = 3600.0,
    color_argb: int = -65536,
    how: str = "h-g-i-g-o",
) -> bytes:
    """A Watchfloor incident as a TAK map marker (spot map point) with a title and remarks.

    ``color_argb`` is ATAK's signed 32-bit ARGB (default opaque red).
    """
    event, detail = _event(uid, cot_type, lat, lon, how=how, time=time, stale_s=stale_s)
    ET.SubElement(detail, "contact", {"callsign": title})
    ET.SubElement(detail, "color", {"argb": str(color_argb)})
    ET.SubElement(detail, "archive")
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    return _serialize(event)


def encode_chat(
    sender_uid: str,
    sender_callsign: str,
    message: str,
    *,
    chatroom: str = "All Chat Rooms",
    lat: float = 0.0,
    lon: float = 0.0,
    message_id: str | None = None,
    time: datetime | None = None,
    stale_s: float = 86400.0,
) -> bytes:
    """A GeoChat message (``b-t-f``) as ATAK sends it: ``__chat``, ``chatgrp``, ``link`` and ``remarks``."""
    message_id = message_id or str(uuid_mod.uuid4())
    uid = f"GeoChat.{sender_uid}.{chatroom}.{message_id}"
    event, detail = _event(uid, "b-t-f", lat, lon, how="h-g-i-g-o", time=time, stale_s=stale_s)
    chat = ET.SubElement(
        detail,
        "__chat",
        {
            "parent": "RootContactGroup",
            "groupOwner": "false",
            "messageId": message_id,
            "chatroom": chatroom,
            "id": chatroom,
            "senderCallsign": sender_callsign,
        },
    )
    ET.SubElement(chat, "chatgrp", {"uid0": sender_uid, "uid1": chatroom, "id": chatroom})
    ET.SubElement(detail, "link", {"uid": sender_uid, "type": "a-f-G-U-C", "relation": "p-p"})
    remarks = {"source": f"BAO.F.ATAK.{sender_uid}", "to": chatroom, "time": event.get("time", "")}
    ET.SubElement(detail, "remarks", remarks).text = message
    return _serialize(event)


def encode_ping(uid: str = "takPing", *, time: datetime | None = None, stale_s: float = 20.0) -> bytes:
    """A TAK keep-alive (``t-x-c-t``), as TAK clients send to a server."""
    event, _detail = _event(uid, "t-x-c-t", 0.0, 0.0, how="h-g-i-g-o", time=time, stale_s=stale_s)
    return _serialize(event)


def encode_pong(*, time: datetime | None = None, stale_s: float = 20.0) -> bytes:
    """A TAK server's answer to a client's keep-alive (``t-x-c-t-r``)."""
    event, _detail = _event("takPong", "t-x-c-t-r", 0.0, 0.0, how="h-g-i-g-o", time=time, stale_s=stale_s)
    return _serialize(event)


def encode_delete(uid: str, *, time: datetime | None = None, stale_s: float = 20.0) -> bytes:
    """Take an item off TAK maps (``t-x-d-d``): a link to the item's uid, and ``__forcedelete``."""
    event, detail = _event(f"{uid}.delete", "t-x-d-d", 0.0, 0.0, how="h-g-i-g-o", time=time, stale_s=stale_s)
    ET.SubElement(detail, "link", {"uid": uid, "relation": "none", "type": "none"})
    ET.SubElement(detail, "__forcedelete")
    return _serialize(event)


# --- TAK protocol negotiation on a streaming connection (TAK's protocol.txt, "Streaming Connections") ------------

#: The server offers TAK protocol versions, a client requests one, the server answers.
PROTOCOL_OFFER, PROTOCOL_REQUEST, PROTOCOL_RESPONSE = "t-x-takp-v", "t-x-takp-q", "t-x-takp-r"
#: The one TAK protocol version (protobuf) Watchfloor speaks besides XML.
TAK_PROTOCOL_VERSION = "1"


def _tak_control(uid: str, cot_type: str, tag: str, attrs: dict[str, str], time: datetime | None) -> bytes:
    event, detail = _event(uid, cot_type, 0.0, 0.0, how="m-g", time=time, stale_s=60.0, hae=0.0, ce=999999.0,
                           le=999999.0)
    ET.SubElement(ET.SubElement(detail, "TakControl"), tag, attrs)
    return _serialize(event)


def encode_protocol_offer(uid: str, *, time: datetime | None = None) -> bytes:
    """The server's offer of TAK protocol version 1 (``t-x-takp-v``, ``TakProtocolSupport``), sent once per
    connection; `uid` names the negotiation."""
    return _tak_control(uid, PROTOCOL_OFFER, "TakProtocolSupport", {"version": TAK_PROTOCOL_VERSION}, time)


def encode_protocol_request(uid: str, version: str = TAK_PROTOCOL_VERSION, *, time: datetime | None = None) -> bytes:
    """A client's request for a TAK protocol version (``t-x-takp-q``, ``TakRequest``), under the offer's uid."""
    return _tak_control(uid, PROTOCOL_REQUEST, "TakRequest", {"version": version}, time)


def encode_protocol_response(uid: str, accepted: bool, *, time: datetime | None = None) -> bytes:
    """The server's answer to a request (``t-x-takp-r``, ``TakResponse status``); after "true" both sides send
    only TAK protocol stream frames."""
    return _tak_control(uid, PROTOCOL_RESPONSE, "TakResponse", {"status": "true" if accepted else "false"}, time)


@dataclass(frozen=True, slots=True)
class StreamControl:
    """A frame a TAK client sends its server about the connection itself: a keep-alive ("ping"), or a request
    for a TAK protocol version ("request", with the `version` asked for, "" when it names none)."""

    kind: str
    version: str = ""


def stream_control(data: bytes) -> StreamControl | None:
    """What a stream frame (XML or TAK protocol) says about the connection; None for every other frame. Raises
    ``FeedError`` for a frame that names a control type and cannot be read."""
    if b"t-x-takp-q" not in data and b"t-x-c-t" not in data:  # the type is plain text in both forms
        return None
    root = parse_xml_fast(takproto_to_xml(data) if is_takproto(data) else data, MAX_COT_BYTES)
    if root.tag != "event":
        return None
    if root.get("type") == "t-x-c-t":
        return StreamControl("ping")
    if root.get("type") != PROTOCOL_REQUEST:
        return None
    request = root.find("detail/TakControl/TakRequest")
    return StreamControl("request", "" if request is None else request.get("version", ""))
