"""Unit timers and stale positions, and the pending queue and incident search: pure functions of the picture and
the time."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.incident_search import SearchError, parse_search, pending_calls, search
from app.domain.timers import Limits, is_stale, overdue_timers, unit_timer
from tests.unit.test_domain_rules import FEED, FIRE, World, create, with_fleet


@pytest.fixture
def world() -> World:
    return with_fleet(World())


def test_turnout_en_route_and_welfare_timers_count_from_the_status_or_the_last_check(world: World) -> None:
    iid = create(world)
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    start = world.now
    timer = unit_timer(world.picture.units["E1"])
    assert timer is not None and (timer.kind, timer.limit_s, timer.started_at) == ("turnout", 90.0, start)
    assert timer.remaining(start + 30) == 60 and not timer.overdue(start + 90) and timer.overdue(start + 91)
    assert [t.unit for t in overdue_timers(world.picture, start + 91)] == ["E1"]
    assert overdue_timers(world.picture, start + 91, agency="police") == []
    tight = {"fire": Limits(turnout_s=10)}
    assert unit_timer(world.picture.units["E1"], tight).overdue(start + 11)  # type: ignore[union-attr]
    world.do(FIRE, "unit.check", c.CheckUnit("E1"))
    timer = unit_timer(world.picture.units["E1"])
    assert timer is not None and timer.acknowledged and timer.started_at == world.now
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene"))
    timer = unit_timer(world.picture.units["E1"])
    assert timer is not None and (timer.kind, timer.acknowledged) == ("welfare check", False)
    assert unit_timer(world.picture.units["E2"]) is None  # available: no clock


def test_stale_positions(world: World) -> None:
    world.do(FEED, "unit.position", c.ReportPosition("E1", 60.17, 24.94))
    fixed = world.picture.units["E1"].position_at
    assert fixed is not None
    assert not is_stale(world.picture.units["E1"], fixed + 120) and is_stale(world.picture.units["E1"], fixed + 121)
    assert not is_stale(world.picture.units["E1"], fixed + 121, {"fire": Limits(stale_s=600)})


def test_pending_queue_and_search(world: World) -> None:
    low, urgent = create(world, priority=3, address="Bulevardi 1"), create(world, priority=1, address="Erottaja 2")
    held = create(world, priority=1, address="Bulevardi 9")
    world.do(FIRE, "incident.hold", c.HoldIncident(held))
    assert [i.id for i in pending_calls(world.picture)] == [urgent, low, held]
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", low))
    now = world.now
    assert [i.id for i in search(world.picture, parse_search("bulevardi", now))] == [held, low]  # newest first
    assert [i.id for i in search(world.picture, parse_search("unit:e1", now))] == [low]
    assert [i.id for i in search(world.picture, parse_search(f"{urgent}", now))] == [urgent]
    assert [i.id for i in search(world.picture, parse_search("type:structure since:1m", now))] == [held, urgent, low]
    assert search(world.picture, parse_search("until:1h", now)) == []
    with pytest.raises(SearchError, match="since:2h"):
        parse_search("since:yesterday", now)
    with pytest.raises(SearchError, match="search for"):
        parse_search("  ", now)
