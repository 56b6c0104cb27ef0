"""Triage rules and fold without a hub: reports become candidates, merge proposals at their distance and time
boundaries, accept/merge/dismiss, hostile reports, and restricted incidents that must not leak."""

from __future__ import annotations

import math

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.geo import EARTH_RADIUS_M
from app.domain.picture import Picture, Viewer
from app.domain.triage import MERGE_RADIUS_M, MERGE_WINDOW_S
from tests.unit.test_domain_rules import FEED, FIRE, OBSERVER, POLICE, SUPER, World, create, with_fleet

LAT, LON = 60.169, 24.944
METRES_PER_DEGREE_LAT = EARTH_RADIUS_M * math.pi / 180


@pytest.fixture
def world() -> World:
    return with_fleet(World())


def north(metres: float) -> float:
    """The latitude `metres` north of LAT (the distance the rules measure, exactly)."""
    return LAT + metres / METRES_PER_DEGREE_LAT


def report(w: World, actor: Actor = FEED, **kw: object) -> str:
    args = c.SubmitReport(**{"source": "app", "source_id": "app-user-17", "type": "structure_fire", "lat": LAT,
                             "lon": LON, "text": "smoke from a window", **kw})  # type: ignore[arg-type]
    return w.do(actor, "report.submit", args)[0].data["id"]


def test_a_report_becomes_a_pending_candidate_seen_by_every_agency(world: World) -> None:
    cid = report(world, address="Aleksanterinkatu 15", media_url="https://app.example/p/1.jpg", priority=2)
    assert cid == "C-1"
    candidate = world.picture.candidates[cid]
    assert (candidate.state, candidate.source, candidate.type, candidate.priority) == (
        "pending", "app", "structure_fire", 2)
    assert candidate.reported_at == world.now and candidate.proposed_merge() is None
    for agency in ("fire", "police", "medical"):
        assert cid in world.picture.visible_to(Viewer(agency)).candidates
    assert report(world) == "C-2"


@pytest.mark.parametrize(("metres", "proposed"), [(0.0, True), (MERGE_RADIUS_M - 0.5, True),
                                                  (MERGE_RADIUS_M + 0.5, False)])
def test_merge_is_proposed_within_the_radius(world: World, metres: float, proposed: bool) -> None:
    iid = create(world, lat=LAT, lon=LON)
    proposal = world.picture.candidates[report(world, lat=north(metres))].proposed_merge()
    assert (proposal is not None) == proposed
    if proposal is not None:
        assert proposal.incident == iid and proposal.distance_m == pytest.approx(metres, abs=0.2)


@pytest.mark.parametrize(("offset", "proposed"), [(MERGE_WINDOW_S, True), (MERGE_WINDOW_S + 1, False),
                                                  (-MERGE_WINDOW_S, True), (-MERGE_WINDOW_S - 1, False)])
def test_merge_is_proposed_within_the_time_window_either_side(world: World, offset: float, proposed: bool) -> None:
    iid = create(world)
    opened = world.picture.incidents[iid].created_at
    world.now = opened + max(offset, 0)  # the report's own time may lie before the call, never in the future
    proposal = world.picture.candidates[report(world, t=opened + offset)].proposed_merge()
    assert (proposal is not None) == proposed


def test_only_an_open_incident_of_the_same_type_is_proposed_and_the_nearest_wins(world: World) -> None:
    far = create(world, lat=north(200))
    near = create(world, lat=north(50))
    other_type = create(world, type="gas_leak")
    closed = create(world, lat=LAT)
    world.do(FIRE, "incident.close", c.CloseIncident(closed, "false alarm"))
    proposal = world.picture.candidates[report(world)].proposed_merge()
    assert proposal is not None and proposal.incident == near
    assert far != near and other_type
    assert world.picture.candidates[report(world, type="medical_emergency")].proposed_merge() is None


def test_a_restricted_incident_is_proposed_only_to_its_agency(world: World) -> None:
    public = create(world, actor=POLICE, type="assault", lat=north(250))
    secret = create(world, actor=POLICE, type="assault", lat=north(20), restricted=True)
    events = world.do(FEED, "report.submit", c.SubmitReport("camera", "cam-7", "assault", LAT, LON))
    created, proposed = events
    # The event every agency receives names only the public incident ...
    assert created.audience is None and created.data["proposed_merge"]["incident"] == public
    assert secret not in str(created.data)
    # ... and the nearer restricted one goes to its agency alone.
    assert proposed.kind == "candidate.proposed" and proposed.audience == ["police"]
    assert proposed.data["incident"] == secret
    cid = created.data["id"]
    assert world.picture.visible_to(Viewer("police")).candidates[cid].proposed_merge().incident == secret
    fire_view = world.picture.visible_to(Viewer("fire")).candidates[cid]
    assert fire_view.proposed_merge().incident == public
    assert all(p.incident != secret for p in fire_view.proposals)
    # A console folding only what it receives reaches the same view as the snapshot.
    fire_console = Picture()
    fire_console.apply(created)
    assert fire_console.candidates[cid].proposals == fire_view.proposals


def test_a_restricted_incident_alone_is_proposed_to_nobody_else(world: World) -> None:
    secret = create(world, actor=POLICE, type="assault", restricted=True)
    cid = report(world, type="assault")
    assert world.picture.visible_to(Viewer("police")).candidates[cid].proposed_merge().incident == secret
    assert world.picture.visible_to(Viewer("fire")).candidates[cid].proposed_merge() is None
    assert world.picture.visible_to(Viewer("fire", supervisor=True)).candidates[cid].proposed_merge() is not None


def test_accept_creates_the_incident_by_the_incident_create_rules(world: World) -> None:
    cid = report(world, address="Aleksanterinkatu 15")
    events = world.do(FIRE, "candidate.accept", c.AcceptCandidate(cid, priority=2))
    assert [e.kind for e in events] == ["incident.created", "candidate.accepted"]
    iid = events[0].data["id"]
    incident = world.picture.incidents[iid]
    assert (incident.type, incident.priority, incident.owner, incident.address) == (
        "structure_fire", 2, "fire", "Aleksanterinkatu 15")
    assert incident.caller == "app app-user-17"
    assert incident.notes[0].text == "Report C-1 from app app-user-17: smoke from a window"
    candidate = world.picture.candidates[cid]
    assert (candidate.state, candidate.incident, candidate.decided_by) == ("accepted", iid, FIRE.user)
    assert world.refused(POLICE, "candidate.dismiss", c.DismissCandidate(cid, "dup")).code == "already_decided"
    # The accepting dispatcher's overrides go through the same checks as incident.create.
    other = report(world)
    assert world.refused(FIRE, "candidate.accept", c.AcceptCandidate(other, priority=9)).code == "bad_priority"
    assert world.refused(FIRE, "candidate.accept", c.AcceptCandidate(other, type="alien")).code == "unknown_type"
    assert world.picture.candidates[other].state == "pending"


def test_merge_adds_a_note_and_closes_the_candidate(world: World) -> None:
    iid = create(world)
    cid = report(world, media_url="rtsp://cam.example/7")
    world.do(FIRE, "candidate.merge", c.MergeCandidate(cid, iid))
    assert world.picture.incidents[iid].notes[-1].text == (
        "Merged report C-1 from app app-user-17: smoke from a window [rtsp://cam.example/7]")
    assert (world.picture.candidates[cid].state, world.picture.candidates[cid].incident) == ("merged", iid)
    # Into an incident the dispatcher's agency is not working: the incident.note rules say no.
    police_iid = create(world, actor=POLICE, type="burglary")
    other = report(world)
    assert world.refused(FIRE, "candidate.merge", c.MergeCandidate(other, police_iid)).code == "forbidden"
    world.do(FIRE, "incident.close", c.CloseIncident(iid, "resolved"))
    assert world.refused(FIRE, "candidate.merge", c.MergeCandidate(other, iid)).code == "incident_closed"
    assert world.refused(FIRE, "candidate.merge", c.MergeCandidate(other, "9999")).code == "unknown_incident"


def test_merging_into_a_restricted_incident_does_not_say_which(world: World) -> None:
    secret = create(world, actor=POLICE, type="assault", restricted=True)
    cid = report(world, type="assault")
    note, merged = world.do(POLICE, "candidate.merge", c.MergeCandidate(cid, secret))
    assert note.audience == ["police"] and merged.audience is None
    assert merged.data == {"id": cid, "incident": None}
    assert world.refused(FIRE, "candidate.merge", c.MergeCandidate(report(world, type="assault"), secret)
                         ).code == "unknown_incident"


def test_dismiss_needs_a_reason(world: World) -> None:
    cid = report(world)
    assert world.refused(FIRE, "candidate.dismiss", c.DismissCandidate(cid, "  ")).code == "missing_field"
    world.do(FIRE, "candidate.dismiss", c.DismissCandidate(cid, "prank: same user, third time today"))
    candidate = world.picture.candidates[cid]
    assert (candidate.state, candidate.reason) == ("dismissed", "prank: same user, third time today")
    assert world.refused(FIRE, "candidate.dismiss", c.DismissCandidate("C-99", "x")).code == "unknown_candidate"


@pytest.mark.parametrize(("args", "code"), [
    ({"type": "alien_landing"}, "unknown_type"),
    ({"source": "rumour"}, "unknown_source"),
    ({"lat": 91.0}, "bad_coordinates"),
    ({"lon": math.nan}, "bad_coordinates"),
    ({"text": "x" * 4001}, "too_long"),
    ({"address": "x" * 201}, "too_long"),
    ({"source_id": " "}, "missing_field"),
    ({"source_id": "x" * 65}, "too_long"),
    ({"media_url": "javascript:alert(1)"}, "bad_url"),
    ({"priority": 0}, "bad_priority"),
    ({"t": math.inf}, "bad_time"),
    ({"t": 2e9}, "clock_skew"),
])
def test_hostile_reports_are_refused_with_a_clear_code(world: World, args: dict, code: str) -> None:
    refusal = world.refused(FEED, "report.submit", c.SubmitReport(
        **{"source": "sensor", "source_id": "smoke-4F", "type": "fire_alarm", "lat": LAT, "lon": LON, **args}))
    assert refusal.code == code and refusal.reason
    assert world.picture.candidates == {}


def test_who_may_do_what(world: World) -> None:
    assert world.refused(FIRE, "report.submit", c.SubmitReport("app", "u", "fire_alarm", LAT, LON)).code == "forbidden"
    report(world, actor=SUPER)
    cid = report(world)
    assert world.refused(FEED, "candidate.accept", c.AcceptCandidate(cid)).code == "forbidden"
    assert world.refused(OBSERVER, "candidate.dismiss", c.DismissCandidate(cid, "x")).code == "forbidden"
    drone_op = Actor("d1", Role.DRONE_OPERATOR, "police")
    assert world.refused(drone_op, "candidate.merge", c.MergeCandidate(cid, "1001")).code == "forbidden"


def test_decided_candidates_are_pruned_but_pending_ones_stay(world: World, monkeypatch) -> None:
    monkeypatch.setattr("app.domain.triage.DECIDED_KEPT", 2)
    ids = [report(world) for _ in range(4)]
    for cid in ids[:3]:
        world.do(FIRE, "candidate.dismiss", c.DismissCandidate(cid, "test"))
    assert list(world.picture.candidates) == ids[1:]
    assert report(world) == "C-5"  # ids never repeat
