"""What CoT events from real TAK clients mean for the floor (tests/data/real/cot): read, ignored by kind, or
refused only when wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.feeds.cot import encode_position, parse_cot
from app.feeds.cot_meaning import Broadcast, CameraFix, CotSenders, DroneFix, UnitFix, VideoLink, interpret
from app.feeds.errors import FeedIgnored
from app.feeds.framing import CotStreamSplitter

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "cot"
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


def meaning(data: bytes, senders: CotSenders | None = None, drones: frozenset[str] = frozenset()):
    return interpret(parse_cot(data), senders or CotSenders(), drones)


def ignored_kind(data: bytes, drones: frozenset[str] = frozenset()) -> str:
    with pytest.raises(FeedIgnored) as ignored:
        meaning(data, drones=drones)
    return ignored.value.kind


def alert(cot_type: str, emergency: str = "", callsign: str = "Alpha-Alert", where: str = "60.17,24.94") -> bytes:
    """An emergency as ATAK sends one: `<emergency type=...>CALLSIGN</emergency>` and a p-p link to its sender."""
    detail = f'<link uid="ANDROID-1" type="a-f-G-U-C" relation="p-p"/><contact callsign="{callsign}"/>'
    if emergency:
        detail += emergency
    lat, lon = where.split(",")
    return (f'<event version="2.0" uid="ANDROID-1-9-1-1" type="{cot_type}" how="h-e" time="2024-05-01T09:30:00Z"'
            f' start="2024-05-01T09:30:00Z" stale="2024-05-01T09:40:00Z"><point lat="{lat}" lon="{lon}" hae="12"'
            f' ce="9999999" le="9999999"/><detail>{detail}</detail></event>').encode()


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.iterdir()))
def test_every_real_event_parses(name):
    """An empty <__video/>, port='-1', hae/ce/le="NaN": none of them costs the event."""
    event = parse_cot(real(name))
    assert event.uid


def test_real_itak_position_and_its_track_only_update_are_one_unit():
    senders = CotSenders()
    first = meaning(real("itak-pli.xml"), senders)
    update = meaning(real("itak-pli-track-only.xml"), senders)
    assert isinstance(first, UnitFix) and isinstance(update, UnitFix)
    assert first.unit == update.unit == "DFPC-iSchmidt"
    assert (first.lat, first.lon) == (pytest.approx(41.52309645), pytest.approx(-107.72376567))
    assert update.heading == pytest.approx(137.23542786)


def test_no_fix_placeholders_are_ignored_not_drawn_at_0_0():
    atak = encode_position("ANDROID-7", 0.0, 0.0, callsign="Alpha", time=T0)  # hae/ce/le 9999999
    assert ignored_kind(atak) == "no_fix"
    assert ignored_kind(real("uastool-dji-m30t-nofix.xml")) == "no_fix"  # a DJI bridge before its GPS has a fix


def test_real_drone_with_video():
    fix = meaning(real("uastool-dji.xml"))
    assert isinstance(fix, DroneFix) and (fix.event.lat, fix.event.lon) == (39.1, -108.6)
    assert fix.event.video is not None and fix.event.video.url == "rtsp://18.254.132.96:8554/money"


def test_fixed_cameras_are_cameras_and_drone_video_still_links():
    for name, camera in (("camera-i25.xml", "I-25-8-mi-S-CO-4"), ("camera-lake-city.cot", "Lake-City")):
        event = parse_cot(real(name))
        assert event.video is not None and event.video.port is None  # ATAK's port='-1'
        fix = meaning(real(name))
        assert isinstance(fix, CameraFix) and fix.camera == camera and fix.event.sensor is not None
    biv = (b'<event version="2.0" uid="vid-1" type="b-i-v" how="m-g" time="2024-05-01T09:30:00Z"'
           b' start="2024-05-01T09:30:00Z" stale="2024-05-01T09:40:00Z"><point lat="60.1" lon="24.9"/><detail>'
           b'<__video><ConnectionEntry address="10.0.0.5" port="8554" protocol="rtsp" path="/cam" alias="UAV 3"'
           b'/></__video></detail></event>')
    camera = meaning(biv)  # no drone UAV-3 known: a camera, named by its uid (it has no callsign)
    assert isinstance(camera, CameraFix) and camera.camera == "vid-1"
    assert ignored_kind(biv.replace(b'lat="60.1" lon="24.9"', b'lat="0" lon="0"')) == "no_fix"
    link = meaning(biv, drones=frozenset({"UAV-3"}))
    assert isinstance(link, VideoLink) and link.drone == "UAV-3" and link.video.url == "rtsp://10.0.0.5:8554/cam"


@pytest.mark.parametrize(("cot_type", "emergency", "text"), [
    ("b-a-o-tbl", '<emergency type="911 Alert">Alpha</emergency>', "EMERGENCY 911 from Alpha at 60.17000, 24.94000"),
    ("b-a-o-opn", '<emergency type="In Contact">Alpha</emergency>', "EMERGENCY In Contact from Alpha at 60.17000, "
                                                                    "24.94000"),
    ("b-a-o-pan", '<emergency type="Ring The Bell">Alpha</emergency>', "EMERGENCY Ring The Bell from Alpha at "
                                                                       "60.17000, 24.94000"),
    ("b-a-o-pan", "", "EMERGENCY Ring The Bell from Alpha at 60.17000, 24.94000"),
    ("b-a-o", "", "EMERGENCY Alert from Alpha at 60.17000, 24.94000"),
    ("b-a-o-can", '<emergency cancel="true">Alpha</emergency>', "EMERGENCY CANCELLED from Alpha"),
])
def test_every_emergency_reaches_the_dispatchers(cot_type, emergency, text):
    said = meaning(alert(cot_type, emergency))
    assert isinstance(said, Broadcast) and said.text == text


def test_real_wearos_emergency_and_an_alert_without_position():
    said = meaning(real("wearos-emergency-b-a-o.xml"))
    assert isinstance(said, Broadcast)
    assert said.text == "EMERGENCY Manual Alert: Gunshot from SP-Dev at 41.88384, -87.65903"
    nowhere = meaning(alert("b-a-o-tbl", callsign="Bravo-Alert", where="0,0"))
    assert isinstance(nowhere, Broadcast) and nowhere.text == "EMERGENCY 911 from Bravo (no position)"


def test_types_nothing_uses_are_ignored_by_type():
    assert ignored_kind(real("file-transfer-ack-nan.xml")) == "b-f-t-a"
    assert ignored_kind(real("spotted-b-m-p-s-m.xml")) == "b-m-p-s-m"
    assert ignored_kind(real("chat-delivered-b-t-f-d.xml")) == "b-t-f-d"


def test_callsigns_remembered_are_bounded():
    senders = CotSenders(kept=2)
    for uid in ("a", "b", "c"):
        senders.hear(parse_cot(encode_position(uid, 60.1, 24.9, callsign=f"CS-{uid}", time=T0)))
    bare = parse_cot(encode_position("a", 60.1, 24.9, callsign="", time=T0))
    assert senders.hear(bare) == (None, None)  # the oldest was forgotten


def test_a_newline_before_the_connection_closes_is_not_a_truncated_event():
    splitter = CotStreamSplitter()
    frames = splitter.feed(real("itak-pli.xml") + b"\n")
    assert len(frames) == 1 and splitter.unfinished() == b""
    splitter.feed(b"\r\n  <event uid=")
    assert splitter.unfinished().strip() == b"<event uid="
