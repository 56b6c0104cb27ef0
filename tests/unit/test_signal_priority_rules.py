"""Signal priority rules (app.domain.signal_priority), folded through the real Picture: who asks, re-sends,
cancels, and the safety rules at each intersection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain import events as ev
from app.domain.agencies import Actor, Role
from app.domain.commands import ResumeSignalPriority, SuspendSignalPriority
from app.domain.decide import decide
from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
from app.domain.errors import Refusal
from app.domain.events import Draft, Event
from app.domain.narrative import describe, incident_of
from app.domain.picture import Picture, Viewer
from app.domain.signal_priority import PriorityPolicy, answer, expire, follow_route
from app.domain.signals import SignalPass

NOW = 1_795_240_000.0
POLICY = PriorityPolicy()


def on(intersection: int, eta_s: float, approach: int = 1) -> SignalPass:
    """Light n stands at (60.17, 24.94 + n/1000)."""
    return SignalPass(intersection, approach, eta_s, 60.17, 24.94 + intersection / 1000)


class Floor:
    """A picture with incidents and units, and the drafts of the rules folded as the hub would sequence them."""

    def __init__(self) -> None:
        self.picture = Picture()
        self.seq = 0
        self.kinds: list[str] = []

    def incident(self, id: str, priority: int = 1, restricted: bool = False, owner: str = "fire") -> None:
        self.picture.incidents[id] = Incident(id, "structure_fire", priority, 60.17, 24.95, "",
                                              IncidentStatus.DISPATCHED, NOW, "anna", owner, [owner],
                                              restricted=restricted)

    def unit(self, id: str, incident: str, kind: str = "engine", agency: str = "fire") -> Unit:
        unit = Unit(id, agency, kind, "Erottaja", UnitStatus.EN_ROUTE, NOW, incident=incident, lat=60.17, lon=24.93)
        self.picture.units[id] = unit
        return unit

    def fold(self, drafts: list[Draft], at: float = NOW) -> list[Draft]:
        for draft in drafts:
            self.seq += 1
            self.picture.apply(Event(self.seq, at, "hub", draft.kind, draft.data, draft.audience))
            self.kinds.append(f"{draft.kind}:{draft.data.get('reason', draft.data.get('kind', ''))}")
        return drafts

    def state(self) -> dict[int, tuple[str, str]]:
        return {i: (s.unit, s.state) for i, s in self.picture.signals.items()}


def test_a_qualifying_unit_en_route_asks_every_light_ahead_with_its_approach_and_window() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    drafts = floor.fold(follow_route(floor.picture, e11, [on(1, 20, 2), on(2, 45), on(3, POLICY.horizon_s + 1)],
                                     NOW, POLICY))
    assert [d.data["intersection"] for d in drafts] == [1, 2]  # the third is beyond the horizon: asked later
    first = drafts[0].data
    assert (first["approach"], first["role"], first["importance"], first["kind"]) == (2, "fire", 14, "request")
    assert (first["eta_from"], first["eta_to"]) == (NOW + 20 - POLICY.lead_s, NOW + 20 + POLICY.hold_s)
    assert floor.state() == {1: ("E11", "requested"), 2: ("E11", "requested")}  # nothing assumed granted
    event = Event(1, NOW, "hub", drafts[0].kind, drafts[0].data)
    assert incident_of(event) == "1001"
    assert describe(event) == "E11 asked for green at signal 1 (approach 2, fire, importance 14)"


def test_calls_and_units_that_do_not_qualify_ask_for_nothing() -> None:
    floor = Floor()
    floor.incident("1001", priority=3)  # fire's rule: priorities 1 and 2 only
    floor.incident("1002")
    assert follow_route(floor.picture, floor.unit("E11", "1001"), [on(1, 20)], NOW, POLICY) == []
    assert follow_route(floor.picture, floor.unit("B1", "1002", kind="boat"), [on(1, 20)], NOW, POLICY) == []
    dispatched = replace(floor.unit("E12", "1002"), status=UnitStatus.DISPATCHED)
    assert follow_route(floor.picture, dispatched, [on(1, 20)], NOW, POLICY) == []
    only_fires = PriorityPolicy(types={"fire": frozenset({"traffic_accident"})})
    assert follow_route(floor.picture, floor.unit("E13", "1002"), [on(1, 20)], NOW, only_fires) == []


def test_only_the_controllers_answer_grants_and_an_unanswered_request_times_out() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    floor.fold(follow_route(floor.picture, e11, [on(1, 20), on(2, 40)], NOW, POLICY))
    request = floor.picture.signals[1].request
    assert answer(floor.picture, 1, "E11", request + 1, "granted") == []  # not the request we sent
    assert answer(floor.picture, 1, "E99", request, "granted") == []
    floor.fold(answer(floor.picture, 1, "E11", request, "granted"), at=NOW + 1)
    assert floor.state() == {1: ("E11", "granted"), 2: ("E11", "requested")}
    assert expire(floor.picture, NOW + POLICY.answer_timeout_s - 1, POLICY) == []
    floor.fold(expire(floor.picture, NOW + POLICY.answer_timeout_s + 1, POLICY))
    # the unanswered one ended (shown as such, and not asked again); the grant stands in its window
    assert floor.state() == {1: ("E11", "granted"), 2: ("E11", "unanswered")}
    assert follow_route(floor.picture, e11, [on(1, 8), on(2, 28)], NOW + 12, POLICY) == []
    floor.fold(expire(floor.picture, NOW + 20 + POLICY.hold_s + 1, POLICY))
    assert floor.state() == {2: ("E11", "unanswered")}  # and a grant whose window is over ends too


def test_a_drifting_eta_is_sent_again_and_waits_for_a_new_answer() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    floor.fold(follow_route(floor.picture, e11, [on(1, 30)], NOW, POLICY))
    request = floor.picture.signals[1].request
    floor.fold(answer(floor.picture, 1, "E11", request, "granted"))
    # 5 s later the ETA is 25 s away: on time, nothing to send
    assert follow_route(floor.picture, e11, [on(1, 25)], NOW + 5, POLICY) == []
    # stuck in traffic: 10 s later it is still 30 s away
    [update] = floor.fold(follow_route(floor.picture, e11, [on(1, 30)], NOW + 10, POLICY), at=NOW + 10)
    assert (update.data["kind"], update.data["request"]) == ("update", request)
    assert update.data["eta_from"] == NOW + 40 - POLICY.lead_s
    assert floor.state() == {1: ("E11", "requested")}


def test_passed_lights_are_served_a_new_route_cancels_the_rest() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    floor.fold(follow_route(floor.picture, e11, [on(1, 10), on(2, 60)], NOW, POLICY))
    for intersection in (1, 2):
        floor.fold(answer(floor.picture, intersection, "E11", floor.picture.signals[intersection].request, "granted"))
    # 12 s on, light 1 is behind it, and it turned off: light 2 is no longer on the way, light 3 is
    floor.fold(follow_route(floor.picture, e11, [on(3, 30)], NOW + 12, POLICY), at=NOW + 12)
    assert floor.state() == {1: ("E11", "served"), 3: ("E11", "requested")}
    assert "signal.ended:diverted" in floor.kinds and "signal.ended:passed" in floor.kinds


def test_a_light_behind_the_unit_on_the_same_way_is_passed_however_early() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    floor.fold(follow_route(floor.picture, e11, [on(1, 30), on(2, 60)], NOW, POLICY))
    floor.fold(answer(floor.picture, 1, "E11", floor.picture.signals[1].request, "granted"))
    floor.fold(follow_route(floor.picture, e11, [on(2, 40)], NOW + 2, POLICY), at=NOW + 2)  # much faster than planned
    assert floor.state()[1] == ("E11", "served")


def test_a_unit_that_stops_responding_gives_everything_up() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    floor.fold(follow_route(floor.picture, e11, [on(1, 10), on(2, 60)], NOW, POLICY))
    e11.status = UnitStatus.AVAILABLE  # stood down on the way
    ended = follow_route(floor.picture, e11, [on(2, 50)], NOW + 10, POLICY)
    assert sorted((d.data["intersection"], d.data["reason"]) for d in ended) == [(1, "stood_down"), (2, "stood_down")]
    floor.fold(ended)
    assert floor.state() == {}
    # and the fold lets go of a unit's crossings when its status leaves en route, whatever asked
    e11.status = UnitStatus.EN_ROUTE
    floor.fold(follow_route(floor.picture, e11, [on(1, 10)], NOW + 20, POLICY))
    floor.fold([Draft(ev.UNIT_STATUS, {"unit": "E11", "status": "on_scene", "previous": "en_route",
                                       "incident": "1001"})])
    assert floor.state() == {}


def test_one_priority_per_intersection_and_the_more_important_wins() -> None:
    floor = Floor()
    floor.incident("1001")
    floor.incident("2001", owner="police")
    p1 = floor.unit("P1", "2001", kind="patrol", agency="police")
    e11 = floor.unit("E11", "1001")
    a22 = floor.unit("A22", "1001", kind="ambulance", agency="medical")
    floor.fold(follow_route(floor.picture, p1, [on(1, 20)], NOW, POLICY))
    assert floor.state() == {1: ("P1", "requested")}
    floor.fold(follow_route(floor.picture, e11, [on(1, 25)], NOW + 1, POLICY))  # fire over police
    assert floor.state() == {1: ("E11", "requested")} and "signal.ended:preempted" in floor.kinds
    assert follow_route(floor.picture, p1, [on(1, 18)], NOW + 2, POLICY) == []  # police cannot take it back
    assert follow_route(floor.picture, a22, [on(1, 18)], NOW + 2, POLICY) == []  # equal importance: first keeps it
    # the pre-empted patrol's stale answer changes nothing
    assert answer(floor.picture, 1, "P1", 1, "granted") == []


def test_a_restricted_incidents_priorities_are_seen_only_by_its_agencies() -> None:
    floor = Floor()
    floor.incident("2001", owner="police", restricted=True)
    p1 = floor.unit("P1", "2001", kind="patrol", agency="police")
    [draft] = floor.fold(follow_route(floor.picture, p1, [on(1, 20)], NOW, POLICY))
    assert draft.audience == ["police"]
    assert floor.picture.visible_to(Viewer("fire")).signals == {}
    assert set(floor.picture.visible_to(Viewer("police")).signals) == {1}


def test_a_supervisor_suspends_priority_for_an_area_and_resumes_it() -> None:
    floor = Floor()
    floor.incident("1001")
    e11 = floor.unit("E11", "1001")
    floor.fold(follow_route(floor.picture, e11, [on(1, 10), on(2, 30)], NOW, POLICY))
    around_light_2 = [(60.169, 24.9415), (60.169, 24.9425), (60.171, 24.9425), (60.171, 24.9415)]
    with pytest.raises(Refusal) as refused:
        decide(floor.picture, Actor("anna", Role.DISPATCHER, "fire"), "signal.suspend",
               SuspendSignalPriority(around_light_2), NOW)
    assert refused.value.code == "forbidden"
    boss = Actor("sanna", Role.SUPERVISOR, "fire")
    floor.fold(decide(floor.picture, boss, "signal.suspend", SuspendSignalPriority(around_light_2, "roadworks"), NOW))
    [area] = floor.picture.signal_suspensions.values()
    assert (area.id, area.note, area.by) == ("SP-1", "roadworks", "hub")  # the fold's actor is the event's
    # light 2 is in the area: what E11 holds there ends, and nothing is asked there again
    ended = floor.fold(follow_route(floor.picture, e11, [on(1, 8), on(2, 28)], NOW + 2, POLICY))
    assert [(d.data["intersection"], d.data["reason"]) for d in ended] == [(2, "suspended")]
    assert floor.state() == {1: ("E11", "requested")}
    assert follow_route(floor.picture, e11, [on(1, 7), on(2, 27)], NOW + 3, POLICY) == []
    floor.fold(decide(floor.picture, boss, "signal.resume", ResumeSignalPriority("SP-1"), NOW + 4))
    [asked] = follow_route(floor.picture, e11, [on(1, 6), on(2, 26)], NOW + 4, POLICY)
    assert asked.data["intersection"] == 2
    with pytest.raises(Refusal):
        decide(floor.picture, boss, "signal.resume", ResumeSignalPriority("SP-1"), NOW + 5)
