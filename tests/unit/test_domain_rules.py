"""The dispatch rules and the fold, without a hub: every refusal a dispatcher can meet, with its reason."""

from __future__ import annotations

import copy

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.decide import decide
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.picture import Picture, Viewer
from app.domain.recommend import recommend
from app.domain.visibility import seen_by

FIRE = Actor("f1", Role.DISPATCHER, "fire")
POLICE = Actor("p1", Role.DISPATCHER, "police")
MEDICAL = Actor("m1", Role.DISPATCHER, "medical")
SUPER = Actor("s1", Role.SUPERVISOR, "fire")
FEED = Actor("feed", Role.FEED, "*")
OBSERVER = Actor("o1", Role.OBSERVER, "police")
AGENCIES = frozenset({"fire", "police", "medical"})


class World:
    """A picture driven through decide + fold, as the hub does, with a controllable clock."""

    def __init__(self) -> None:
        self.picture = Picture()
        self.now = 1_000_000.0
        self.seq = 0

    def do(self, actor: Actor, name: str, args: object) -> list[Event]:
        self.now += 1
        out = []
        for draft in decide(self.picture, actor, name, args, self.now, AGENCIES):
            self.seq += 1
            event = Event(self.seq, self.now, actor.user, draft.kind, draft.data, draft.audience)
            self.picture.apply(event)
            out.append(event)
        return out

    def refused(self, actor: Actor, name: str, args: object) -> Refusal:
        with pytest.raises(Refusal) as info:
            self.do(actor, name, args)
        return info.value


FLEET = [("E1", "fire", "engine", 60.170, 24.940), ("E2", "fire", "engine", 60.175, 24.950),
         ("L1", "fire", "ladder", 60.171, 24.941), ("P1", "police", "patrol", 60.168, 24.945),
         ("M1", "medical", "ambulance", 60.166, 24.939)]


def with_fleet(w: World) -> World:
    for uid, agency, kind, lat, lon in FLEET:
        w.do(FEED, "unit.register", c.RegisterUnit(uid, agency, kind, "St 1", lat, lon))
    return w


@pytest.fixture
def world() -> World:
    return with_fleet(World())


def create(w: World, actor: Actor = FIRE, **kw: object) -> str:
    args = c.CreateIncident(**{"type": "structure_fire", "lat": 60.169, "lon": 24.944, **kw})  # type: ignore[arg-type]
    return w.do(actor, "incident.create", args)[0].data["id"]


def test_incident_lifecycle_follows_units(world: World) -> None:
    iid = create(world)
    assert world.picture.incidents[iid].status == "new"
    assert world.picture.incidents[iid].priority == 1  # the type's default
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    assert world.picture.incidents[iid].status == "dispatched"
    assert world.picture.units["E1"].status == "dispatched"
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "en_route"))
    assert world.picture.incidents[iid].status == "en_route"
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene"))
    assert world.picture.incidents[iid].status == "on_scene"
    refusal = world.refused(FIRE, "incident.close", c.CloseIncident(iid, "resolved"))
    assert refusal.code == "units_committed" and "E1 (on_scene)" in refusal.reason
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "available"))
    assert world.picture.units["E1"].incident is None and world.picture.incidents[iid].units == []
    world.do(FIRE, "incident.close", c.CloseIncident(iid, "resolved"))
    incident = world.picture.incidents[iid]
    assert incident.status == "closed" and incident.disposition == "resolved"
    assert incident.history_units == ["E1"]


def test_assigning_an_out_of_service_or_busy_unit_is_refused(world: World) -> None:
    iid = create(world)
    world.do(FIRE, "unit.status", c.SetUnitStatus("E2", "out_of_service"))
    assert world.refused(FIRE, "unit.assign", c.AssignUnit("E2", iid)).code == "unit_out_of_service"
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    other = create(world)
    refusal = world.refused(FIRE, "unit.assign", c.AssignUnit("E1", other))
    assert refusal.code == "unit_busy" and iid in refusal.reason


def test_status_jumps_that_make_no_sense_are_refused(world: World) -> None:
    assert world.refused(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene")).code == "bad_transition"
    assert world.refused(FIRE, "unit.status", c.SetUnitStatus("E1", "dispatched")).code == "bad_transition"
    assert world.refused(FIRE, "unit.status", c.SetUnitStatus("E1", "flying")).code == "bad_status"
    assert world.refused(FIRE, "unit.status", c.SetUnitStatus("E1", "available")).code == "no_change"


def test_cancelling_the_last_unit_puts_the_call_back_in_the_queue(world: World) -> None:
    iid = create(world)
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "available"))
    assert world.picture.incidents[iid].status == "new"


def test_stale_and_impossible_positions_are_refused(world: World) -> None:
    world.do(FEED, "unit.position", c.ReportPosition("E1", 60.1, 24.9, 90, 10, t=world.now))
    assert world.refused(FEED, "unit.position", c.ReportPosition("E1", 60.1, 24.9, t=world.now - 5)).code == \
        "stale_position"
    assert world.refused(FEED, "unit.position", c.ReportPosition("E1", 91, 24.9)).code == "bad_coordinates"
    assert world.refused(FEED, "unit.position", c.ReportPosition("E1", 60, float("nan"))).code == "bad_coordinates"
    assert world.refused(FEED, "unit.position", c.ReportPosition("E1", 60, 24, heading=400)).code == "bad_heading"
    assert world.refused(FEED, "unit.position", c.ReportPosition("E1", 60, 24, t=world.now + 3600)).code == \
        "clock_skew"
    assert world.refused(FEED, "unit.position", c.ReportPosition("NOPE", 60, 24)).code == "unknown_unit"
    assert world.picture.units["E1"].lat == 60.1  # the refused ones changed nothing


def test_roles_and_agencies_are_enforced(world: World) -> None:
    iid = create(world)
    assert world.refused(OBSERVER, "incident.create", c.CreateIncident("assault", 60.1, 24.9)).code == "forbidden"
    assert world.refused(POLICE, "unit.assign", c.AssignUnit("E1", iid)).code == "forbidden"  # not its unit
    assert world.refused(POLICE, "unit.assign", c.AssignUnit("P1", iid)).code == "aid_required"
    assert world.refused(POLICE, "incident.note", c.AddNote(iid, "hi")).code == "forbidden"
    assert world.refused(POLICE, "incident.reopen", c.ReopenIncident(iid)).code == "forbidden"


def test_mutual_aid_brings_another_agency_in(world: World) -> None:
    iid = create(world)
    request = world.do(FIRE, "aid.request", c.RequestAid(iid, "police", "traffic control"))[0].data["id"]
    assert world.refused(FIRE, "aid.request", c.RequestAid(iid, "police")).code == "duplicate"
    assert world.refused(MEDICAL, "aid.answer", c.AnswerAid(request, True)).code == "forbidden"
    world.do(POLICE, "aid.answer", c.AnswerAid(request, True, "two cars"))
    assert world.picture.aid_requests[request].state == "accepted"
    assert "police" in world.picture.incidents[iid].agencies
    world.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    assert world.refused(POLICE, "aid.answer", c.AnswerAid(request, False)).code == "already_answered"
    assert world.refused(FIRE, "aid.request", c.RequestAid(iid, "army")).code == "unknown_agency"


def test_restricted_incidents_stay_within_their_agency(world: World) -> None:
    iid = create(world, actor=POLICE, type="assault", restricted=True)
    full = world.picture
    assert iid not in full.visible_to(Viewer("fire")).incidents
    assert iid in full.visible_to(Viewer("police")).incidents
    assert iid in full.visible_to(Viewer("fire", supervisor=True)).incidents
    # Another agency cannot even learn that it exists.
    assert world.refused(FIRE, "incident.note", c.AddNote(iid, "x")).code == "unknown_incident"
    note = world.do(POLICE, "incident.note", c.AddNote(iid, "witness statement"))[0]
    assert note.audience == ["police"]


class Console:
    """An agency's console: folds the events as the hub's fan-out sends them to it (`seen_by`)."""

    def __init__(self, agency: str, start: Picture) -> None:
        self.viewer = Viewer(agency)
        self.picture = copy.deepcopy(start.visible_to(self.viewer))  # the snapshot it subscribed with

    def receive(self, events: list[Event]) -> None:
        for event in events:
            seen = seen_by(self.viewer, event)
            if seen is not None:
                self.picture.apply(seen, self.viewer)


def test_consoles_that_see_an_incident_mid_life_get_it_whole(world: World) -> None:
    consoles = [Console(agency, world.picture) for agency in ("fire", "police", "medical")]
    sent: list[Event] = []
    record = world.do

    def do(actor: Actor, name: str, args: object) -> list[Event]:
        events = record(actor, name, args)
        sent.extend(events)
        return events

    world.do = do  # type: ignore[method-assign]
    hidden = create(world, actor=POLICE, type="assault", restricted=True)
    world.do(POLICE, "incident.note", c.AddNote(hidden, "witness statement"))
    world.do(POLICE, "unit.assign", c.AssignUnit("P1", hidden))
    # Police ask medical for help on the restricted call; medical saw nothing of it until they accept.
    request = world.do(POLICE, "aid.request", c.RequestAid(hidden, "medical", "one injured"))[0].data["id"]
    accepted = world.do(MEDICAL, "aid.answer", c.AnswerAid(request, True))
    assert [e.kind for e in accepted] == ["aid.answered", "incident.shared"] and accepted[1].audience == ["medical"]
    world.do(MEDICAL, "unit.assign", c.AssignUnit("M1", hidden))
    # A second restricted call is made public: fire never had any of it.
    second = create(world, actor=POLICE, type="burglary", restricted=True, notes="back door forced")
    world.do(POLICE, "incident.update", c.UpdateIncident(second, restricted=False))
    for console in consoles:
        console.receive(sent)
        assert console.picture.incidents == world.picture.visible_to(console.viewer).incidents, console.viewer
    medical = consoles[2].picture.incidents[hidden]
    assert [n.text for n in medical.notes] == ["witness statement"] and medical.units == ["P1", "M1"]
    assert consoles[0].picture.incidents[second].notes[0].text == "back door forced"
    assert hidden not in consoles[0].picture.incidents


def test_fold_replays_to_the_same_picture(world: World) -> None:
    iid = create(world)
    events = world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    assert events[0].kind == "unit.assigned" and events[1].kind == "incident.status"
    # A second fold of the same events from scratch reaches the same picture.
    w2 = with_fleet(World())
    w2.now = world.now - 2
    create(w2)
    w2.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    assert w2.picture == world.picture


def test_recommendation_ranks_by_travel_time_and_flags_mutual_aid(world: World) -> None:
    iid = create(world)
    recs = recommend(world.picture.incidents[iid], world.picture.units)
    engines = [r for r in recs if r.kind == "engine"]
    assert [r.unit for r in engines] == ["E1", "E2"]  # E1 is nearer
    assert engines[0].eta_s < engines[1].eta_s
    assert "ETA" in engines[0].reason
    ambulance = next(r for r in recs if r.kind == "ambulance")
    assert ambulance.unit == "M1" and ambulance.needs_aid and "mutual aid from medical" in ambulance.reason
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    after = recommend(world.picture.incidents[iid], world.picture.units)
    assert [r.unit for r in after if r.kind == "engine"] == ["E2"]  # E1 is busy now


def test_a_kind_whose_plan_is_met_still_offers_the_nearest_one_more(world: World) -> None:
    """A dispatcher calling a second alarm must see who is nearest, not "no unit of the kinds it needs"."""
    iid = create(world)
    assert INCIDENT_TYPES["structure_fire"].needs["engine"] == 2  # E1 fills one: one is still needed
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    world.do(FEED, "unit.register", c.RegisterUnit("E3", "fire", "engine", "St 2", 60.18, 24.96))
    world.do(FIRE, "unit.assign", c.AssignUnit("E2", iid))  # the plan's two engines are now on it
    engines = [r for r in recommend(world.picture.incidents[iid], world.picture.units) if r.kind == "engine"]
    assert [r.unit for r in engines] == ["E3"] and "plan met: one more" in engines[0].reason


def test_zones_and_alerts_validate_geometry(world: World) -> None:
    assert world.refused(FIRE, "zone.create", c.CreateZone("Cordon", [[60, 24], [60, 24]])).code == "bad_geometry"
    world.do(FIRE, "zone.create", c.CreateZone("Cordon", [[60.17, 24.94], [60.171, 24.94], [60.171, 24.942]]))
    assert world.picture.zones["Z-1"].name == "Cordon"
    area = c.AlertAreaArgs(circle=[60.17, 24.94, 500])
    world.do(SUPER, "alert.issue", c.IssueAlert("Flood warning", [area], expires=world.now + 60))
    alert = world.picture.alerts["AL-1"]
    assert alert.active(world.now) and not alert.active(world.now + 61)
    world.do(SUPER, "alert.cancel", c.CancelAlert("AL-1"))
    assert not world.picture.alerts["AL-1"].active(world.now)


@pytest.mark.parametrize("t", [-1e308, 1e308, float("nan"), float("inf"), 0.0])
def test_a_position_time_no_output_could_write_is_refused_as_bad_time(world: World, t: float) -> None:
    """Times are range-checked where they enter: -1e308 once stopped CoT out for good (no calendar date)."""
    before = world.picture.units["E1"].position_at
    refused = world.refused(FEED, "unit.position", c.ReportPosition("E1", 60.1, 24.9, t=t))
    assert refused.code == ("clock_skew" if t == 1e308 else "bad_time")
    assert world.picture.units["E1"].position_at == before
    world.do(FEED, "unit.position", c.ReportPosition("E1", 60.1, 24.9, t=world.now))  # a good time still goes


@pytest.mark.parametrize("expires", [1e308, -1e308, float("nan"), 0.0])
def test_an_alert_expiry_no_output_could_write_is_refused_as_bad_time(world: World, expires: float) -> None:
    """An alert with expires=1e308 once stopped CAP out for good: refused where it enters."""
    area = c.AlertAreaArgs(circle=[60.17, 24.94, 500])
    assert world.refused(SUPER, "alert.issue", c.IssueAlert("Flood", [area], expires=expires)).code == "bad_time"
    assert not world.picture.alerts


@pytest.mark.parametrize("polygon", [[[]], [[60.1]], [[60.1, 24.9, 3.0]] * 3, []])
def test_a_malformed_polygon_is_refused_as_bad_geometry(world: World, polygon: list) -> None:
    """`[[]]` once crashed the connection (an IndexError in the rules)."""
    assert world.refused(FIRE, "zone.create", c.CreateZone("Cordon", polygon)).code == "bad_geometry"
    area = c.AlertAreaArgs(polygon=polygon)
    assert world.refused(SUPER, "alert.issue", c.IssueAlert("Flood", [area])).code in ("bad_geometry",
                                                                                          "missing_field")


def test_location_precision_travels_with_the_incident_and_an_unverified_move_resets_it() -> None:
    w = World()
    (created,) = w.do(FIRE, "incident.create", c.CreateIncident(
        "structure_fire", 47.14, 9.52, address="Aeulestrasse 20", location_precision="address_point"))
    incident = w.picture.incidents[created.data["id"]]
    assert created.data["location_precision"] == "address_point" == incident.location_precision
    # A corrected address that the console verified carries its own precision.
    w.do(FIRE, "incident.update", c.UpdateIncident(incident.id, address="Landstrasse 100", lat=47.161, lon=9.509,
                                                   location_precision="interpolated"))
    assert incident.location_precision == "interpolated"
    # A new address nobody verified: the point no longer stands for it.
    (moved,) = w.do(FIRE, "incident.update", c.UpdateIncident(incident.id, address="somewhere near the church"))
    assert moved.data["location_precision"] == "unverified" == incident.location_precision
    assert w.refused(FIRE, "incident.update", c.UpdateIncident(incident.id, location_precision="exact")).code \
        == "bad_precision"
    # A client that says nothing about precision creates an unverified incident.
    (plain,) = w.do(FIRE, "incident.create", c.CreateIncident("structure_fire", 47.15, 9.51))
    assert plain.data["location_precision"] == "unverified"
