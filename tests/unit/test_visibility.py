"""Restricted means restricted: what each console is sent of every event, checked on the bytes the real
fan-out queues for it, and the edge rules of who may change what (docs/security.md, "Who may see what")."""

from __future__ import annotations

import base64
from pathlib import Path

import msgspec
import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.hub.fanout import FanOut, Subscriber
from app.hub.feed_status import FeedRegistry
from app.hub.watcher import PUBLIC
from app.review.replay import Replay
from app.store.log import EventLog
from tests.images import jpeg_bytes
from tests.pictures import differences
from tests.unit.test_domain_rules import FEED, FIRE, MEDICAL, POLICE, SUPER, World, create, with_fleet

PILOT = Actor("pilot", Role.DRONE_OPERATOR, "police")
SECOND_PILOT = Actor("pilot2", Role.DRONE_OPERATOR, "police")
POLICE_SUPER = Actor("s2", Role.SUPERVISOR, "police")
CAP_FEED = Actor("cap-feed", Role.FEED, "*")
CONSOLES = {"fire": Viewer("fire"), "police": Viewer("police"), "medical": Viewer("medical"),
            "supervisor": Viewer("fire", supervisor=True), "public": PUBLIC}
SQUARE = [[60.17, 24.94], [60.171, 24.94], [60.171, 24.942]]


async def _never(*_: object) -> None:
    raise AssertionError("not sent: the consoles here are never live")


class Floor(World):
    """The hub's path without sockets: decide, fold, then the real `FanOut` queues bytes for each console."""

    def __init__(self) -> None:
        super().__init__()
        self.fanout = FanOut(lambda _: None)
        self.consoles = {name: Subscriber(viewer, _never, _never, 0, 10**6) for name, viewer in CONSOLES.items()}
        self.fanout.subscribers.update(self.consoles.values())
        self.log: list[Event] = []

    def do(self, actor: Actor, name: str, args: object) -> list[Event]:
        events = super().do(actor, name, args)
        self.fanout.publish(events)
        self.log.extend(events)
        return events

    def received(self, console: str) -> bytes:
        """Every byte queued for a console."""
        return b"\n".join(self.consoles[console].queue.values())  # type: ignore[arg-type]

    def sent(self, console: str) -> list[Event]:
        """The events queued for a console, as it decodes them."""
        return [msgspec.json.decode(b, type=Event) for b in self.consoles[console].queue.values()]

    def picture_of(self, console: str) -> Picture:
        """The console's fold of what it was sent."""
        return Picture().apply_all(self.sent(console), CONSOLES[console])

    def assert_every_console_equals_its_snapshot(self) -> None:
        for name, viewer in CONSOLES.items():
            assert differences(self.picture_of(name), self.picture.visible_to(viewer)) == [], name


@pytest.fixture
def floor() -> Floor:
    f = Floor()
    with_fleet(f)
    f.do(PILOT, "drone.register", c.RegisterDrone("UAV1", "police"))
    return f


def test_restricting_a_call_and_moving_it_in_one_update_sends_the_new_address_only_to_its_agency(
        floor: Floor) -> None:
    iid = create(floor, POLICE, type="burglary", address="Old Street 1")
    floor.do(POLICE, "incident.update", c.UpdateIncident(iid, address="Secret Street 9", caller="Witness W",
                                                         restricted=True))
    for insider in ("police", "supervisor"):
        assert b"Secret Street 9" in floor.received(insider) and b"Witness W" in floor.received(insider)
    for outsider in ("fire", "medical", "public"):
        assert b"Secret Street 9" not in floor.received(outsider) and b"Witness W" not in floor.received(outsider)
        assert iid not in floor.picture_of(outsider).incidents
    floor.assert_every_console_equals_its_snapshot()


def test_units_on_a_restricted_call_do_not_name_it_to_other_agencies(floor: Floor) -> None:
    iid = create(floor, POLICE, type="assault", restricted=True)
    floor.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    floor.do(POLICE, "unit.status", c.SetUnitStatus("P1", "en_route"))
    for outsider in ("fire", "medical", "public"):
        assert f'"{iid}"'.encode() not in floor.received(outsider), outsider
        unit = floor.picture_of(outsider).units["P1"]
        assert (unit.status, unit.incident) == ("en_route", None)  # the unit is seen, its call is not
        assert floor.picture.visible_to(CONSOLES[outsider]).units["P1"].incident is None  # nor in a snapshot
    assert floor.picture_of("police").units["P1"].incident == iid
    floor.do(POLICE, "unit.status", c.SetUnitStatus("P1", "available"))
    assert f'"{iid}"'.encode() not in floor.received("fire")
    floor.assert_every_console_equals_its_snapshot()


def test_a_redacted_event_is_encoded_once_for_all_who_get_that_form(floor: Floor) -> None:
    iid = create(floor, POLICE, type="assault", restricted=True)
    assigned, _ = floor.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    queued = {name: console.queue[assigned.seq] for name, console in floor.consoles.items()}
    assert queued["fire"] is queued["medical"] is queued["public"] and queued["police"] is queued["supervisor"]
    assert queued["fire"] != queued["police"]
    [zone] = floor.do(FIRE, "zone.create", c.CreateZone("Cordon", SQUARE))  # everyone's, whole: one encoding
    assert len({id(console.queue[zone.seq]) for console in floor.consoles.values()}) == 1


def test_a_supervisor_sending_another_agencys_unit_to_a_restricted_call_shares_it_live(floor: Floor) -> None:
    iid = create(floor, POLICE, type="assault", restricted=True, notes="suspect armed")
    floor.do(POLICE, "message.send", c.SendMessage(f"incident:{iid}", "approach from the north"))
    events = floor.do(POLICE_SUPER, "unit.assign", c.AssignUnit("E1", iid))
    assert [e.kind for e in events] == ["unit.assigned", "incident.status", "incident.shared"]
    assert events[2].audience == ["fire"]
    fire = floor.picture_of("fire")
    assert fire.incidents[iid].status == "dispatched" and fire.incidents[iid].notes[0].text == "suspect armed"
    assert [m.text for m in fire.messages] == ["approach from the north"]
    assert b"suspect armed" not in floor.received("medical")
    floor.assert_every_console_equals_its_snapshot()


def test_an_agency_that_loses_sight_of_a_call_drops_everything_that_names_it(floor: Floor) -> None:
    iid = create(floor, FIRE, address="Harbour 3")
    floor.do(FIRE, "message.send", c.SendMessage(f"incident:{iid}", "gas smell at the harbour"))
    floor.do(FIRE, "aid.request", c.RequestAid(iid, "medical", "two injured"))
    floor.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    floor.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    floor.do(FIRE, "incident.update", c.UpdateIncident(iid, restricted=True))
    police = floor.picture_of("police")
    assert iid not in police.incidents and police.messages == [] and police.aid_requests == {}
    assert police.units["E1"].incident is None and police.drones["UAV1"].incident is None
    assert list(floor.picture_of("medical").aid_requests) == ["AR-1"]  # asked for help: still theirs to answer
    floor.assert_every_console_equals_its_snapshot()


def test_an_agency_that_gains_sight_of_a_call_gets_everything_that_names_it(floor: Floor) -> None:
    iid = create(floor, POLICE, type="assault", restricted=True, lat=60.169, lon=24.944)
    floor.do(POLICE, "message.send", c.SendMessage(f"incident:{iid}", "second suspect seen"))
    floor.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    floor.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    floor.do(POLICE, "aid.request", c.RequestAid(iid, "medical", "stand by"))
    floor.do(FEED, "report.submit", c.SubmitReport("app", "resident-1", "assault", 60.1691, 24.9441))
    assert "C-1" in floor.picture_of("fire").candidates and not floor.picture_of("fire").candidates["C-1"].proposals
    floor.assert_every_console_equals_its_snapshot()
    floor.do(POLICE, "incident.update", c.UpdateIncident(iid, restricted=False))
    fire = floor.picture_of("fire")
    assert fire.units["P1"].incident == iid and fire.drones["UAV1"].incident == iid
    assert [m.text for m in fire.messages] == ["second suspect seen"] and list(fire.aid_requests) == ["AR-1"]
    assert [p.incident for p in fire.candidates["C-1"].proposals] == [iid]
    floor.assert_every_console_equals_its_snapshot()


def test_a_review_as_an_agency_shows_the_events_as_its_consoles_were_sent_them(floor: Floor, tmp_path: Path) -> None:
    iid = create(floor, POLICE, type="assault", restricted=True, address="Hidden Lane 4")
    floor.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    floor.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    floor.do(POLICE, "unit.status", c.SetUnitStatus("P1", "on_scene"))
    log = EventLog(tmp_path / "hub.db")
    log.append([(e, None) for e in floor.log])
    log.close()
    with Replay(tmp_path / "hub.db", viewer=Viewer("fire")) as review:
        shown = review.events(0, floor.now)
        assert iid not in review.picture_at(floor.now).incidents
    assert shown == floor.sent("fire")
    assert all(e.data.get("incident") is None for e in shown if e.kind in ("unit.assigned", "drone.assigned"))


def test_a_dispatcher_reads_only_its_own_agencys_quarantined_input() -> None:
    feeds = FeedRegistry(lambda: 1000.0)
    feeds.quarantine("websocket", "ws:police-avl@10.0.0.2:5000", "forbidden", "P9 at Secret Street 9",
                     b"police raw", agency="police")
    feeds.quarantine("websocket", "ws:fire-avl@10.0.0.3:5000", "bad_args", "E1: bad lat", b"fire raw",
                     agency="fire")
    feeds.quarantine("cot", "udp:10.0.0.9:4242", "malformed_xml", "not XML", b"field raw")

    def report(viewer: Viewer) -> bytes:
        return msgspec.json.encode(feeds.report(viewer=viewer))

    fire = report(Viewer("fire"))
    assert b"fire raw".hex().encode() in fire
    assert b"police raw".hex().encode() not in fire and b"Secret Street" not in fire and b"police-avl" not in fire
    assert b"field raw".hex().encode() not in fire  # system feeds: input from the field may name anyone's calls
    counts = {f["name"]: (f["quarantined"], f["health"]) for f in feeds.report(viewer=Viewer("fire"))["feeds"]}
    assert counts == {"websocket": (2, "errors"), "cot": (1, "errors")}  # health and counts are everyone's
    supervisor = report(Viewer("fire", supervisor=True))
    assert all(raw.hex().encode() in supervisor for raw in (b"police raw", b"fire raw", b"field raw"))


# -- the edge rules ----------------------------------------------------------------------------------------


def test_a_dispatcher_removes_only_its_own_agencys_zones(floor: Floor) -> None:
    floor.do(POLICE, "zone.create", c.CreateZone("Police cordon", SQUARE))
    refusal = floor.refused(FIRE, "zone.remove", c.RemoveZone("Z-1"))
    assert refusal.code == "forbidden" and "Z-1" in refusal.reason
    floor.do(POLICE, "zone.remove", c.RemoveZone("Z-1"))
    floor.do(POLICE, "zone.create", c.CreateZone("Another cordon", SQUARE))
    floor.do(SUPER, "zone.remove", c.RemoveZone("Z-2"))  # supervisors remove any
    assert floor.picture.zones == {}


def test_only_a_drones_own_pilot_or_a_supervisor_sets_its_video(floor: Floor) -> None:
    refusal = floor.refused(SECOND_PILOT, "drone.video", c.PublishDroneVideo("UAV1", "rtsp://elsewhere/x"))
    assert refusal.code == "forbidden" and "pilot" in refusal.reason
    floor.do(PILOT, "drone.video", c.PublishDroneVideo("UAV1", "rtsp://uav1/live"))
    floor.do(SUPER, "drone.video", c.PublishDroneVideo("UAV1", "rtsp://uav1/backup"))
    assert floor.picture.drones["UAV1"].video_url == "rtsp://uav1/backup"


def test_attaching_through_a_drone_is_for_its_pilot_not_every_user_of_its_agency(floor: Floor) -> None:
    iid = create(floor, MEDICAL, type="medical_emergency")
    floor.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    data = base64.b64encode(jpeg_bytes()).decode()
    # Police dispatchers are not involved in the medical call: the police drone over it does not change that.
    assert floor.refused(POLICE, "incident.attach", c.AttachToIncident(iid, "image/jpeg", data)).code == "forbidden"
    floor.do(PILOT, "incident.attach", c.AttachToIncident(iid, "image/jpeg", data, "from above", "UAV1"))
    assert len(floor.picture.incidents[iid].attachments) == 1


def test_a_feed_changes_only_the_alerts_it_issued(floor: Floor) -> None:
    area = [c.AlertAreaArgs(circle=[60.17, 24.94, 500])]
    floor.do(SUPER, "alert.issue", c.IssueAlert("Evacuate the harbour", area))
    assert floor.refused(CAP_FEED, "alert.cancel", c.CancelAlert("AL-1", "all clear")).code == "forbidden"
    assert floor.refused(CAP_FEED, "alert.issue", c.IssueAlert("Nothing to see", area, id="AL-1")).code == \
        "forbidden"
    floor.do(CAP_FEED, "alert.issue", c.IssueAlert("Coastal flood", area, id="urn:cap:1", source="cap:fmi"))
    floor.do(CAP_FEED, "alert.issue", c.IssueAlert("Coastal flood, extended", area, id="urn:cap:1"))
    floor.do(CAP_FEED, "alert.cancel", c.CancelAlert("urn:cap:1", "water receding"))
    floor.do(SUPER, "alert.cancel", c.CancelAlert("AL-1", "harbour clear"))  # supervisors change any
    assert floor.picture.alerts["AL-1"].cancelled and floor.picture.alerts["urn:cap:1"].cancelled
