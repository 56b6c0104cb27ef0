"""What TAK clients are sent, sans-I/O: the picture's items as CoT, the same as TAK protocol 1 stream frames (read
back by our reader and by takproto's), the negotiation's messages, and a receiver's bounded due set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from takproto import parse_proto

from app.domain import events as ev
from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.feeds.cot import (
    PROTOCOL_OFFER,
    PROTOCOL_RESPONSE,
    CotEvent,
    StreamControl,
    _serialize,
    encode_chat,
    encode_incident,
    encode_ping,
    encode_pong,
    encode_position,
    encode_protocol_offer,
    encode_protocol_request,
    encode_protocol_response,
    parse_cot,
    stream_control,
)
from app.feeds.cot_due import MESSAGES_DUE, CotDue, all_items, items_changed
from app.feeds.cot_picture import ALERT, DRONE, INCIDENT, MESSAGE, UNIT, Item, delete_event, item_cot
from app.feeds.cot_proto import stream_frame
from app.feeds.framing import CotStreamSplitter
from tests.unit.test_cot_proto import to_ms

NOW = 1_795_240_000.0
REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "cot"
FIRE, POLICE = Viewer("fire"), Viewer("police")


def e(seq: int, event_kind: str, actor: str = "fire1", **data: object) -> Event:
    return Event(seq, NOW + seq, actor, event_kind, dict(data))


def floor() -> list[Event]:
    """Two units, a drone, an open fire call with E1 on it, an alert and a chat line."""
    return [
        e(1, ev.UNIT_REGISTERED, "super1", id="E1", agency="fire", kind="engine", station="St 1"),
        e(2, ev.UNIT_POSITION, "feed1", unit="E1", lat=60.17, lon=24.94, heading=90.0, speed=5.0, t=NOW),
        e(3, ev.UNIT_REGISTERED, "super1", id="P1", agency="police", kind="patrol", station="St 2"),
        e(4, ev.UNIT_POSITION, "feed1", unit="P1", lat=60.18, lon=24.95, t=NOW),
        e(5, ev.DRONE_REGISTERED, "pilot1", id="UAV1", agency="police", operator="pilot1"),
        e(6, ev.DRONE_TELEMETRY, "pilot1", drone="UAV1", lat=60.19, lon=24.96, alt_m=120.0, heading=10.0, t=NOW),
        e(7, ev.INCIDENT_CREATED, id="1001", type="structure_fire", priority=1, lat=60.17, lon=24.94,
          address="1 Main St", status="new", owner="fire", agencies=["fire"], restricted=False),
        e(8, ev.UNIT_ASSIGNED, unit="E1", incident="1001", status="dispatched"),
        e(9, ev.ALERT_ISSUED, "super1", id="AL-1", headline="Flood <warning> & more", event="Flood",
          severity="Severe", urgency="Immediate", areas=[{"polygon": [[60.1, 24.9], [60.2, 24.9], [60.2, 25.0]]}],
          expires=NOW + 3600),
        e(10, ev.MESSAGE_POSTED, id="MSG-1", channel="all", agency="fire", text="water supply on Main St"),
    ]


def picture() -> Picture:
    return Picture().apply_all(floor())


def every_item_as_cot() -> list[bytes]:
    p = picture()
    written = [item_cot(item, p, NOW, 150.0) for item in all_items(p, messages=10)]
    assert None not in written
    return [w for w in written if w is not None] + [delete_event("watchfloor.incident.1001", NOW)]


@pytest.mark.parametrize("cot", every_item_as_cot(), ids=lambda c: parse_cot(c).uid)
def test_every_item_reads_back_the_same_from_its_tak_protocol_frame(cot: bytes) -> None:
    frame = stream_frame(cot)
    assert frame[0] == 0xBF and parse_cot(frame) == parse_cot(cot)
    event = parse_proto(bytearray(frame)).cotEvent  # takproto's own reader: the frame is TAK's, not only ours
    assert (event.uid, event.type, event.lat) == (parse_cot(cot).uid, parse_cot(cot).type, parse_cot(cot).lat)


def as_tak_keeps_it(event: CotEvent) -> CotEvent:
    """The event as TAK protocol 1 can carry it: times to the millisecond (a FreeTAKServer delete is stamped to the
    microsecond) and the detail as `unordered_detail` says."""
    return unordered_detail(replace(event, time=to_ms(event.time), start=to_ms(event.start), stale=to_ms(event.stale)))


def unordered_detail(event: CotEvent) -> CotEvent:
    """The event with the detail elements it does not read kept as a sorted list (a TAK protocol message keeps the
    typed ones apart from the rest, so their order among the others is not kept, nor meaningful), each in canonical
    XML (C14N 2.0: attributes sorted, one way to write an empty element), as neither is meaningful either."""
    parts = list(ET.fromstring(f"<d>{event.detail_xml}</d>"))
    for part in parts:
        part.tail = None  # the whitespace between elements
    return replace(event, detail_xml="".join(sorted(
        ET.canonicalize(ET.tostring(part, encoding="unicode")) for part in parts)))


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.iterdir()))
def test_real_tak_events_survive_the_round_trip_through_a_frame(name: str) -> None:
    xml = (REAL / name).read_bytes().strip()
    assert as_tak_keeps_it(parse_cot(stream_frame(xml))) == as_tak_keeps_it(parse_cot(xml))


def test_frames_back_to_back_split_as_a_tak_client_splits_them() -> None:
    cots = every_item_as_cot()
    stream = b"".join(stream_frame(c) for c in cots)
    splitter = CotStreamSplitter()
    frames = [f for i in range(0, len(stream), 7) for f in splitter.feed(stream[i:i + 7])]
    assert [parse_cot(f) for f in frames] == [parse_cot(c) for c in cots]  # type: ignore[arg-type]


def test_the_items_say_what_the_picture_says() -> None:
    p = picture()
    engine = parse_cot(item_cot(Item(UNIT, "E1"), p, NOW, 150.0) or b"")
    assert engine.callsign == "E1" and "incident 1001" in (engine.remarks or "") and engine.group_name == "Red"
    drone = parse_cot(item_cot(Item(DRONE, "UAV1"), p, NOW, 150.0) or b"")
    assert (drone.uid, drone.type, drone.hae) == ("watchfloor.drone.UAV1", "a-f-A-M-H-Q", 120.0)
    alert = parse_cot(item_cot(Item(ALERT, "AL-1"), p, NOW, 150.0) or b"")
    assert alert.callsign == "ALERT Flood <warning> & more" and abs(alert.lat - 60.1667) < 1e-3
    chat = parse_cot(item_cot(Item(MESSAGE, "MSG-1"), p, NOW, 150.0) or b"")
    assert chat.chat is not None and chat.chat.message == "water supply on Main St"
    assert chat.chat.chatroom == "All Chat Rooms" and chat.chat.sender_callsign == "fire1"
    assert item_cot(Item(ALERT, "AL-1"), p, NOW + 3600, 150.0) is None  # expired: nothing to show


def test_the_negotiation_as_tak_writes_it() -> None:
    offer = parse_cot(encode_protocol_offer("n-1"))
    assert offer.type == PROTOCOL_OFFER and offer.how == "m-g"
    support = ET.fromstring(f"<d>{offer.detail_xml}</d>").find("TakControl/TakProtocolSupport")
    assert support is not None and support.attrib == {"version": "1"}
    request = encode_protocol_request("n-1")
    assert stream_control(request) == StreamControl("request", "1")
    assert stream_control(encode_protocol_request("n-1", "2")) == StreamControl("request", "2")
    answer = parse_cot(encode_protocol_response("n-1", True))
    response = ET.fromstring(f"<d>{answer.detail_xml}</d>").find("TakControl/TakResponse")
    assert answer.type == PROTOCOL_RESPONSE and response is not None and response.attrib == {"status": "true"}
    assert 'status="false"' in parse_cot(encode_protocol_response("n-1", False)).detail_xml
    assert stream_control(encode_ping()) == StreamControl("ping")
    assert stream_control(stream_frame(encode_ping())) == StreamControl("ping")  # a ping after the switch
    assert stream_control(encode_pong()) is None and stream_control(every_item_as_cot()[0]) is None


def test_a_receiver_is_due_each_items_newest_state_once_within_a_bound() -> None:
    due = CotDue()
    p = Picture()
    for event in floor():
        due.mark(items_changed(event, p))
        p.apply(event)
    for lat in (60.20, 60.21, 60.22):  # a unit moving while the receiver is not reading
        move = e(11, ev.UNIT_POSITION, "feed1", unit="P1", lat=lat, lon=24.95, t=NOW)
        due.mark(items_changed(move, p))
        p.apply(move)
    taken = due.take(100)
    assert sorted(taken) == sorted({Item(UNIT, "E1"), Item(UNIT, "P1"), Item(DRONE, "UAV1"),
                                    Item(INCIDENT, "1001"), Item(ALERT, "AL-1"), Item(MESSAGE, "MSG-1")})
    assert taken[-1].kind == MESSAGE and len(due) == 0
    assert parse_cot(item_cot(Item(UNIT, "P1"), p, NOW, 150.0) or b"").lat == 60.22  # the newest, once
    for i in range(MESSAGES_DUE + 500):  # chat lines are a stream: the oldest waiting ones go first
        due.mark([Item(MESSAGE, f"MSG-{i + 2}")])
    assert len(due) == MESSAGES_DUE and due.take(1) == [Item(MESSAGE, "MSG-502")]


def test_a_receiver_is_told_to_delete_only_what_it_was_shown() -> None:
    fire, police, p = CotDue(), CotDue(skip=[Item(UNIT, "P1")]), picture()
    for due in (fire, police):
        due.mark(all_items(p))
    assert Item(UNIT, "P1") not in police.take(100)  # a device is not sent its own unit
    for item in fire.take(100):
        fire.shown(item, item_cot(item, p, NOW, 150.0), NOW)
    restrict = e(11, ev.INCIDENT_UPDATED, id="1001", restricted=True)
    outside = picture()
    changed = items_changed(restrict, outside)
    assert Item(INCIDENT, "1001") in changed and Item(UNIT, "E1") in changed  # E1 describes it
    outside.apply(restrict, POLICE)  # police's picture drops it, and E1 no longer names it
    assert item_cot(Item(INCIDENT, "1001"), outside, NOW, 150.0) is None
    assert "1001" not in (parse_cot(item_cot(Item(UNIT, "E1"), outside, NOW, 150.0) or b"").remarks or "")
    gone = fire.shown(Item(INCIDENT, "1001"), None, NOW)
    assert gone is not None and parse_cot(gone).type == "t-x-d-d"
    assert parse_cot(gone).links[0].uid == "watchfloor.incident.1001"
    assert fire.shown(Item(INCIDENT, "1001"), None, NOW) is None  # once
    closed, close = picture(), e(11, ev.INCIDENT_STATUS, id="1001", status="closed", disposition="out")
    assert Item(INCIDENT, "1001") in items_changed(close, closed)
    closed.apply(close)
    assert item_cot(Item(INCIDENT, "1001"), closed, NOW, 150.0) is None  # closed: off the map
    retired = picture().apply_all([e(11, ev.UNIT_RETIRED, "super1", unit="E1")])
    assert item_cot(Item(UNIT, "E1"), retired, NOW, 150.0) is None
    assert police.shown(Item(INCIDENT, "1002"), None, NOW) is None  # never shown: never named


NASTY = 'Fire & "smoke" <at> \'Main\'\nSt\t1\r · ☎ ]]>'


def test_events_are_written_byte_for_byte_as_elementtree_writes_them() -> None:
    event = ET.Element("event", {"uid": NASTY, "type": "a-f-G-U-C"})
    ET.SubElement(event, "point", {"lat": "60.1", "lon": "24.9"})
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", {"callsign": NASTY})
    ET.SubElement(detail, "remarks", {"to": NASTY}).text = NASTY
    ET.SubElement(detail, "empty").tail = NASTY
    ET.SubElement(detail, "blank").text = ""
    assert _serialize(event) == b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(event, encoding="utf-8")


@pytest.mark.parametrize("cot", [
    encode_position("u&<1>", 60.1, 24.9, callsign=NASTY, remarks=NASTY, group="Red", role="Team Member", course=1.0,
                    speed=2.0),
    encode_incident("watchfloor.incident.1", 60.1, 24.9, title=NASTY, remarks=NASTY),
    encode_chat("watchfloor.hub", NASTY, NASTY, chatroom="fire", message_id="MSG-1")], ids=["unit", "incident", "chat"])
def test_what_the_encoders_write_reads_back_whole(cot: bytes) -> None:
    event = parse_cot(cot)
    said = event.chat.message if event.chat is not None else event.remarks
    assert said == NASTY.replace("\r", "\n")  # XML reads a carriage return in text as a newline
    assert event.callsign in (None, NASTY) and (event.chat is None or event.chat.sender_callsign == NASTY)
