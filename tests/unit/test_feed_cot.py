"""Cursor-on-Target: parse what real TAK peers send (pytak's own generator, ATAK-shaped samples),
encode what they accept, and refuse hostile input with a stable code."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from app.feeds.cot import (
    COT_UNKNOWN,
    encode_chat,
    encode_incident,
    encode_ping,
    encode_position,
    parse_cot,
)
from app.feeds.errors import FeedError

with warnings.catch_warnings():  # pytak warns about optional extras (cryptography, aiohttp) on import
    warnings.simplefilter("ignore")
    import pytak

DATA = Path(__file__).parent / "data" / "feeds"
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def when(time_: str = "2024-05-01T09:30:00Z", stale: str | None = "2024-05-01T09:31:00Z") -> str:
    return f'time="{time_}" start="2024-05-01T09:30:00Z"' + (f' stale="{stale}"' if stale else "")


def cot(point: str = 'lat="60.17" lon="24.94"', times: str | None = None, detail: str = "") -> bytes:
    times = times if times is not None else when()
    return (
        f'<event version="2.0" uid="u1" type="a-f-G-U-C" how="m-g" {times}>'
        f'<point {point} hae="1" ce="2" le="3"/><detail>{detail}</detail></event>'
    ).encode()


def code_of(data: bytes | str) -> str:
    with pytest.raises(FeedError) as err:
        parse_cot(data)
    return err.value.code


# --- real peer: pytak ------------------------------------------------------------------------------


def test_parses_pytak_generated_position():
    raw = pytak.gen_cot(
        lat=60.1699, lon=24.9384, uid="ENGINE-1-uid", cot_type="a-f-G-U-C", callsign="ENGINE-1", stale=60
    )
    event = parse_cot(raw)
    assert (event.uid, event.type, event.callsign) == ("ENGINE-1-uid", "a-f-G-U-C", "ENGINE-1")
    assert (event.lat, event.lon) == (60.1699, 24.9384)
    assert event.hae == COT_UNKNOWN and event.ce == COT_UNKNOWN
    assert event.is_friendly_ground and not event.is_emergency and not event.is_drone
    assert (event.stale - event.start).total_seconds() == pytest.approx(60, abs=1)
    assert "_flow-tags_" in event.detail_xml  # unknown detail is passed through, not dropped


def test_our_position_has_the_shape_pytak_generates():
    ours = ET.fromstring(encode_position("u", 60.17, 24.94, callsign="E1", time=T0))
    theirs = ET.fromstring(pytak.gen_cot(lat=60.17, lon=24.94, uid="u", cot_type="a-f-G-U-C", callsign="E1"))
    assert set(ours.attrib) == set(theirs.attrib)
    assert set(ours.find("point").attrib) == set(theirs.find("point").attrib)
    assert ours.find("detail/contact").get("callsign") == theirs.find("detail/contact").get("callsign")


# --- samples as ATAK sends them ------------------------------------------------------------------


def test_911_alert_and_its_cancel():
    alert = parse_cot(sample("cot_911_alert.xml"))
    assert alert.is_emergency and alert.is_911 and not alert.is_emergency_cancel
    assert alert.emergency.type == "911 Alert" and alert.emergency.text == "MEDIC-7"
    assert alert.links[0].uid == "ANDROID-589520ccfcd20f01"
    assert 'platform="ATAK-CIV"' in alert.detail_xml
    cancel = parse_cot(sample("cot_alert_cancel.xml"))
    assert cancel.is_emergency_cancel and not cancel.is_emergency
    assert cancel.uid == alert.uid


def test_geochat():
    event = parse_cot(sample("cot_geochat.xml"))
    assert event.is_chat
    assert event.chat.sender_callsign == "MEDIC-7"
    assert event.chat.chatroom == "All Chat Rooms"
    assert event.chat.sender_uid == "ANDROID-589520ccfcd20f01"
    assert event.chat.message == "Patient stable, requesting second unit at Esplanadi"


def test_drone_with_sensor_and_video():
    event = parse_cot(sample("cot_drone_sensor.xml"))
    assert event.is_drone and event.is_air and not event.is_friendly_ground
    assert event.sensor.azimuth == 265 and event.sensor.fov == 62.5 and event.sensor.range == 300
    assert event.track.course == 271.5 and event.track.speed == 6.2
    assert event.video.url == "rtsp://10.0.0.5:8554/drone3"
    assert event.group_name == "Dark Green"


def test_video_link_url_is_built_from_connection_entry():
    event = parse_cot(sample("cot_video_link.xml"))
    assert event.is_video
    assert event.video.url == "rtsp://10.0.0.7:554/live/cam2"
    assert event.video.alias == "Station 2 mast camera"


# --- encoders round-trip through our parser ------------------------------------------------------


def test_encode_position_round_trip():
    raw = encode_position(
        "u2",
        60.1712,
        24.942,
        callsign="LADDER-2",
        time=T0,
        stale_s=90,
        course=45,
        speed=12.5,
        group="Red",
        role="Team Lead",
        remarks="returning",
        hae=20.0,
        ce=5.0,
        le=3.0,
    )
    event = parse_cot(raw)
    assert (event.uid, event.callsign, event.lat, event.lon) == ("u2", "LADDER-2", 60.1712, 24.942)
    assert event.time == T0 and (event.stale - T0).total_seconds() == 90
    assert event.track.course == 45 and event.track.speed == 12.5
    assert (event.group_name, event.group_role, event.remarks) == ("Red", "Team Lead", "returning")
    assert (event.hae, event.ce, event.le) == (20.0, 5.0, 3.0)


def test_encode_incident_chat_ping_round_trip():
    inc = parse_cot(
        encode_incident("wf-inc-42", 60.168, 24.95, title="Fire: Kamppi", remarks="P1 structure", time=T0)
    )
    assert inc.type == "b-m-p-s-p-i" and inc.callsign == "Fire: Kamppi" and inc.remarks == "P1 structure"
    chat = parse_cot(
        encode_chat("WF-HUB", "DISPATCH", "Engine 1 to Esplanadi <now> & fast", message_id="m1", time=T0)
    )
    assert chat.is_chat and chat.chat.message == "Engine 1 to Esplanadi <now> & fast"
    assert chat.uid == "GeoChat.WF-HUB.All Chat Rooms.m1" and chat.chat.sender_uid == "WF-HUB"
    assert parse_cot(encode_ping(time=T0)).is_ping


def test_encoders_refuse_bad_coordinates_and_naive_time():
    with pytest.raises(FeedError):
        encode_position("u", 91, 0, callsign="x")
    with pytest.raises(ValueError):
        encode_ping(time=datetime(2024, 1, 1))


# --- hostile input ---------------------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.encode() for i in range(1, 10)).replace(
        b"&lol0;", b"&lol;"
    )
    + b']><event uid="x" type="a" time="2024-05-01T09:30:00Z" stale="2024-05-01T09:31:00Z">'
    b'<point lat="0" lon="0"/><detail><remarks>&lol9;</remarks></detail></event>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<event uid="x" type="a" time="2024-05-01T09:30:00Z" stale="2024-05-01T09:31:00Z">'
    b'<point lat="0" lon="0"/><detail><remarks>&xxe;</remarks></detail></event>'
)


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_entities_are_refused_quickly(payload):
    started = time.perf_counter()
    assert code_of(payload) == "entity_expansion"
    assert time.perf_counter() - started < 5  # generous: expansion would take minutes and gigabytes


def utf16(document: bytes) -> bytes:
    """The same document in UTF-16: "<!DOCTYPE" is then no byte string a pre-parse scan would find."""
    return document.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>').decode().encode(
        "utf-16")


DEEP_DETAIL = "<x>" * 70 + "</x>" * 70  # 73 levels with event and detail: over 64, under libxml2's own 256


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (utf16(BILLION_LAUGHS), "entity_expansion"),
        (utf16(XXE), "entity_expansion"),
        (b'<?xml version="1.0"?><!DOCTYPE event>' + cot(), "entity_expansion"),  # a DOCTYPE with nothing in it
        (utf16(b'<?xml version="1.0"?><!DOCTYPE event>' + cot()), "entity_expansion"),
        (b'<!DOCTYPE event SYSTEM "http://127.0.0.1:9/cot.dtd">' + cot(), "entity_expansion"),  # external DTD
        (b'<!DOCTYPE event [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>' + cot(), "entity_expansion"),
        (cot(detail="<remarks>&xxe;</remarks>"), "malformed_xml"),  # an entity nobody declared
        (cot(detail=DEEP_DETAIL), "too_deep"),
        (cot(detail="<x>" * 300 + "</x>" * 300), "too_deep"),  # libxml2's own limit
        (utf16(b'<?xml version="1.0"?>' + cot(detail=DEEP_DETAIL)), "too_deep"),
        (cot() + b"<event/>", "malformed_xml"),  # two documents in one
        (cot(detail="<remarks>h\u00e4t\u00e4</remarks>")[:-32], "truncated"),
        (cot(detail="<remarks>\u00e4</remarks>").split("\u00e4".encode())[0] + "\u00e4".encode()[:1], "truncated"),
        (b'<?xml version="1.0" encoding="x-unknown"?>' + cot(), "bad_encoding"),
        (b"<event uid='\xff' type='a'/>", "malformed_xml"),  # not UTF-8
    ],
    ids=["utf16-billion-laughs", "utf16-external-entity", "doctype", "utf16-doctype", "external-dtd",
         "parameter-entity", "undeclared-entity", "deep-73", "deep-300", "utf16-deep", "two-documents",
         "truncated", "truncated-mid-character", "unknown-encoding", "bad-utf8"],
)
def test_the_c_parser_refuses_what_defusedxml_refused(payload, code):
    assert code_of(payload) == code


def test_nesting_up_to_the_limit_and_comments_are_fine():
    ok = parse_cot(cot(detail="<x>" * 62 + "</x>" * 62))  # event, detail and 62 more: 64 levels
    assert ok.detail_xml.count("<x") == 62
    commented = parse_cot(cot(detail='<!-- a comment --><?pi x?><contact callsign="E1"/><takv os="34"/>'))
    assert commented.callsign == "E1" and commented.detail_xml == '<takv os="34"/>'
    assert parse_cot(utf16(b'<?xml version="1.0"?>' + cot(detail='<contact callsign="\u00c4"/>'.encode()
                                                           .decode()))).callsign == "\u00c4"


def test_five_megabytes_refused_before_parsing():
    huge = cot(detail="<remarks>" + "A" * 5_000_000 + "</remarks>")
    assert code_of(huge) == "too_large"
    assert code_of(huge.decode()) == "too_large"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (cot()[:-20], "truncated"),
        (b"\x00\xff\xfe garbage \x13", "malformed_xml"),
        (b"<notcot/>", "not_cot"),
        (cot(point='lat="91" lon="24.94"'), "out_of_range"),
        (cot(point='lat="60" lon="-180.5"'), "out_of_range"),
        (cot(point='lat="nan" lon="24.94"'), "out_of_range"),
        (cot(point='lat="inf" lon="24.94"'), "out_of_range"),
        (cot(point='lat="north" lon="24.94"'), "wrong_type"),
        (cot(point='lon="24.94"'), "missing_field"),
        (cot(times=when("yesterday")), "invalid_time"),
        (cot(times=when("2024-05-01T09:30:00")), "invalid_time"),
        (cot(times=when(stale="2024-05-01T09:29:00Z")), "invalid_time"),
        (cot(times=when("2024-13-01T09:30:00Z")), "invalid_time"),
        (cot(times=when(stale=None)), "missing_field"),
        (cot(detail='<track course="10" speed="-3"/>'), "out_of_range"),
        (
            cot(detail='<__video><ConnectionEntry address="h" protocol="rtsp" port="99999"/></__video>'),
            "out_of_range",
        ),
        (b"\xbf\x01\xbf\x12\x00", "missing_field"),  # TAK protocol v1 with an empty event
        (b'<event uid="" type="a"/>', "missing_field"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_hostile_and_invalid_input(payload, code):
    assert code_of(payload) == code


def test_wrong_python_type_is_refused():
    with pytest.raises(FeedError) as err:
        parse_cot(12345)  # type: ignore[arg-type]
    assert err.value.code == "wrong_type"


# --- timestamps: the fast path and the exact one agree ---------------------------------------------

TIME_FORMS = [
    # (as a peer writes it, the instant in UTC)
    ("2024-05-01T09:30:00Z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),  # pytak, FreeTAKServer
    ("2024-05-01T09:30:00.123Z", datetime(2024, 5, 1, 9, 30, 0, 123000, tzinfo=UTC)),  # ATAK, WinTAK
    ("2024-05-01T09:30:00.1Z", datetime(2024, 5, 1, 9, 30, 0, 100000, tzinfo=UTC)),
    ("2024-05-01T09:30:00.12Z", datetime(2024, 5, 1, 9, 30, 0, 120000, tzinfo=UTC)),
    ("2024-05-01T09:30:00.123456Z", datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)),  # Python isoformat
    ("2024-05-01T09:30:00.1234567Z", datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)),  # .NET: 7 digits
    ("2024-05-01T09:30:00.123456789Z", datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)),  # nanoseconds
    ("2024-05-01T12:30:00+03:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),  # local time with its offset
    ("2024-05-01T12:30:00.500+03:00", datetime(2024, 5, 1, 9, 30, 0, 500000, tzinfo=UTC)),
    ("2024-05-01T04:00:00.25-05:30", datetime(2024, 5, 1, 9, 30, 0, 250000, tzinfo=UTC)),
    ("2024-05-01T09:30:00+00:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    ("2024-05-01T01:30:00-08:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    ("2024-04-30T23:30:00-10:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),  # offset crosses midnight
    ("2024-12-31T23:59:59.999Z", datetime(2024, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),  # leap day
    (" 2024-05-01T09:30:00Z\n", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),  # blanks around, as XML may keep
]


@pytest.mark.parametrize(("text", "instant"), TIME_FORMS, ids=[t.strip() for t, _ in TIME_FORMS])
def test_cot_time_forms_read_as_the_same_instant(text, instant):
    later = "2030-01-01T00:00:00Z"
    event = parse_cot(cot(times=f'time="{text}" start="{text}" stale="{later}"'))
    assert event.time == instant and event.start == instant and event.time.utcoffset().total_seconds() == 0
    event = parse_cot(cot(times=f'time="2020-01-01T00:00:00Z" start="{text}" stale="{later}"'))
    assert event.start == instant  # start read on its own, not taken from time


@pytest.mark.parametrize(
    "text",
    ["2024-13-01T09:30:00Z", "2023-02-29T09:30:00Z", "2024-05-01T24:00:00Z", "2024-05-01T09:60:00Z",
     "2024-05-01 09:30:00Z", "2024-05-01T09:30Z", "20240501T093000Z", "2024-05-01T09:30:00.Z",
     "2024-05-01T09:30:00z", "2024-05-01T09:30:00+0300", "2024-W18-3T09:30:00Z", "2024-05-01T09:30:00.123"],
)
def test_impossible_or_zoneless_times_are_refused(text):
    assert code_of(cot(times=f'time="{text}" start="2024-05-01T09:30:00Z" stale="2030-01-01T00:00:00Z"')) == \
        "invalid_time"
