"""Response-time figures on a crafted log whose answers are known by hand."""

from __future__ import annotations

import pytest

from app.domain.events import Event
from app.domain.response_times import figures, incident_times, percentile


class Log:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def at(self, ts: float, kind: str, **data: object) -> None:
        self.events.append(Event(len(self.events) + 1, ts, "x", kind, dict(data)))

    def created(self, ts: float, iid: str, owner: str = "fire", type_: str = "structure_fire", pri: int = 1) -> None:
        self.at(ts, "incident.created", id=iid, owner=owner, type=type_, priority=pri)

    def unit(self, ts: float, unit: str, status: str) -> None:
        self.at(ts, "unit.status", unit=unit, status=status)


@pytest.fixture
def log() -> Log:
    log = Log()
    # 1001: the textbook case. created 0, E1 dispatched 50, en route 120, on scene 400.
    log.created(0, "1001")
    log.at(50, "unit.assigned", unit="E1", incident="1001")
    log.unit(120, "E1", "en_route")
    log.unit(400, "E1", "on_scene")
    # 1002: reassignment. E2 dispatched at 1030 and cancelled; E3 dispatched 1100, en route 1150, on scene 1300.
    log.created(1000, "1002")
    log.at(1030, "unit.assigned", unit="E2", incident="1002")
    log.unit(1040, "E2", "en_route")
    log.unit(1060, "E2", "available")
    log.at(1100, "unit.assigned", unit="E3", incident="1002")
    log.unit(1150, "E3", "en_route")
    log.unit(1300, "E3", "on_scene")
    # 1003: nobody on scene. dispatched after 90 s, en route 30 s later, then cancelled.
    log.created(2000, "1003")
    log.at(2090, "unit.assigned", unit="E1", incident="1003")
    log.unit(2120, "E1", "en_route")
    # 1004: a medical call answered first by a mutual-aid fire engine: E4 arrives before the ambulance.
    log.created(3000, "1004", owner="medical", type_="cardiac_arrest")
    log.at(3020, "unit.assigned", unit="M1", incident="1004")
    log.at(3025, "unit.assigned", unit="E4", incident="1004")
    log.unit(3060, "M1", "en_route")
    log.unit(3070, "E4", "en_route")
    log.unit(3200, "E4", "on_scene")
    log.unit(3260, "M1", "on_scene")
    # 1005: never dispatched.
    log.created(4000, "1005", owner="police", type_="burglary", pri=3)
    return log


def test_each_incident_is_measured_on_its_first_arriving_unit(log: Log) -> None:
    t = {x.incident: x for x in incident_times(log.events)}
    assert (t["1001"].call_processing, t["1001"].turnout, t["1001"].travel, t["1001"].total) == (50, 70, 280, 400)
    # The first dispatch counts for call processing; turnout and travel are E3's, the unit that arrived.
    assert (t["1002"].call_processing, t["1002"].first_unit, t["1002"].turnout, t["1002"].travel,
            t["1002"].total) == (30, "E3", 50, 150, 300)
    assert (t["1003"].call_processing, t["1003"].turnout, t["1003"].travel, t["1003"].total) == (90, 30, None, None)
    assert (t["1004"].first_unit, t["1004"].turnout, t["1004"].travel, t["1004"].total) == ("E4", 45, 130, 200)
    assert (t["1005"].call_processing, t["1005"].total) == (None, None)


def test_figures_by_agency_with_compliance(log: Log) -> None:
    by = {(f.group, f.measure): f for f in figures(incident_times(log.events))}
    fire_cp = by[("fire", "call_processing")]
    assert (fire_cp.count, fire_cp.median, fire_cp.p90) == (3, 50, 90)
    assert fire_cp.within == pytest.approx(2 / 3) and fire_cp.compliant is False  # 90 s > 60 s
    fire_travel = by[("fire", "travel")]
    assert (fire_travel.count, fire_travel.p90, fire_travel.compliant) == (2, 280, False)  # 280 s > 240 s
    fire_turnout = by[("fire", "turnout")]
    assert fire_turnout.benchmark.seconds == 80 and fire_turnout.p90 == 70 and fire_turnout.compliant
    medical_turnout = by[("medical", "turnout")]
    assert medical_turnout.benchmark.seconds == 60 and medical_turnout.p90 == 45
    assert ("police", "call_processing") not in by  # never dispatched: nothing to measure


def test_figures_by_type_priority_and_hour(log: Log) -> None:
    times = incident_times(log.events)
    by_type = {(f.group, f.measure): f for f in figures(times, by=lambda t: t.type)}
    assert by_type[("cardiac_arrest", "total")].median == 200
    by_priority = {(f.group, f.measure): f for f in figures(times, by=lambda t: t.priority)}
    assert by_priority[("1", "call_processing")].count == 4
    assert {t.hour for t in times} == {0, 1}
    assert {f.group for f in figures(times, by=lambda t: t.hour)} == {"0"}  # the 01:xx call was never dispatched


def test_nearest_rank_percentile() -> None:
    assert percentile([5, 1, 3, 2, 4], 90) == 5
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile([7], 90) == 7
