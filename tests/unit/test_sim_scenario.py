"""The scenario engine offline: determinism, the fleet, the scheduled events, and validity against the rules."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from app.domain.geo import fast_distance_m
from app.feeds.cot import parse_cot
from app.feeds.errors import FeedError
from app.feeds.nmea import DeviceMap, NmeaSession
from app.sim.field import COT_UDP, NMEA, avl_device_map
from app.sim.fleet import fleet_counts, plan_fleet
from app.sim.map import FALLBACK_BOUNDS, FallbackMap
from app.sim.motion import EMERGENCY_SPEED_MS, Path
from app.sim.offline import play_offline
from app.sim.scenario import FLEET, RAW, Scenario, ScenarioConfig, SimCommand

HOUR = 3600.0


def script(seed: int = 1, duration: float = HOUR, **config: Any) -> list[SimCommand]:
    return Scenario(ScenarioConfig(seed=seed, **config), FallbackMap()).script(duration)


def test_same_seed_gives_the_same_script() -> None:
    first, second = script(7), script(7)
    assert len(first) > 1000
    assert first == second


def test_another_seed_gives_another_script() -> None:
    first, other = script(1), script(2)
    calls_first = [c.args for c in first if c.name == "incident.create"]
    calls_other = [c.args for c in other if c.name == "incident.create"]
    assert calls_first != calls_other


def test_script_can_be_played_in_steps() -> None:
    scenario = Scenario(ScenarioConfig(seed=3), FallbackMap())
    stepped = [c for _ in range(900) for c in scenario.step()]
    assert stepped == script(3, 900)


@pytest.mark.parametrize("total", [0, 5, 8, 40, 2000])
def test_fleet_has_the_size_asked_for(total: int) -> None:
    counts = fleet_counts(total)
    assert sum(counts.values()) == total
    if total >= 8:
        assert all(n >= 1 for n in counts.values())


def test_fleet_callsigns_and_bases() -> None:
    plans = plan_fleet(40, FallbackMap())
    ids = [p.id for p in plans]
    assert len(set(ids)) == 40
    assert {"E11", "L11", "P11", "M11"} <= set(ids)
    kinds = Counter(p.kind for p in plans)
    assert kinds["patrol"] == 14 and kinds["ambulance"] == 10 and kinds["engine"] == 8
    assert all(p.station.kind == "police" for p in plans if p.kind == "patrol")


def test_units_register_first_then_report() -> None:
    commands = script(duration=10)
    registrations = [c for c in commands if c.name == "unit.register"]
    assert len(registrations) == 40 and all(c.t == 0 and c.channel == FLEET for c in registrations)
    first_position = next(i for i, c in enumerate(commands) if c.name == "unit.position")
    assert first_position > max(i for i, c in enumerate(commands) if c.name == "unit.register")


def test_scheduled_events() -> None:
    commands = script(calls_per_hour=30)
    raw = [c for c in commands if c.name == RAW]
    assert {c.t for c in raw} == {120.0}
    assert len([c for c in raw if "feed" not in c.args]) == 5  # on the websocket
    # Over the field transports: each refused by the feed parsers for what is wrong with it.
    refused = []
    for c in raw:
        if "feed" not in c.args:
            continue
        with pytest.raises(FeedError) as error:
            if c.args["feed"] == NMEA:
                session = NmeaSession("udp:127.0.0.1:4000", DeviceMap(avl_device_map(plan_fleet(40, FallbackMap()))))
                device, spoilt = c.args["frame"].split("\r\n")[:2]
                assert session.feed(device) is None  # the box names itself, then a sentence line noise spoilt
                session.feed(spoilt)
            else:
                assert c.args["feed"] == COT_UDP
                parse_cot(c.args["frame"].encode())
        refused.append(error.value.code)
    assert sorted(refused) == ["bad_checksum", "entity_expansion", "truncated"]
    alerts = [c for c in commands if c.name == "alert.issue"]
    assert len(alerts) == 1 and alerts[0].t == 300.0 and alerts[0].ref == "AL1"
    assert len(alerts[0].args["areas"][0]["polygon"]) >= 3
    # A resident's report from the public-safety app, over the feed connection, of a call already open.
    reports = [c for c in commands if c.name == "report.submit"]
    assert len(reports) == 1 and reports[0].t >= 420.0 and reports[0].channel == FLEET
    dup = reports[0]
    assert dup.args["source"] == "app"
    earlier = [c for c in commands if c.name == "incident.create" and c.t <= dup.t
               and c.args["type"] == dup.args["type"]]
    assert any(fast_distance_m((c.args["lat"], c.args["lon"]), (dup.args["lat"], dup.args["lon"])) < 50
               for c in earlier)


def test_calls_follow_the_rate_roughly() -> None:
    creates = [c for c in script(duration=10 * HOUR, calls_per_hour=12, duplicate_at=None)
               if c.name == "incident.create"]
    assert 80 <= len(creates) <= 170  # Poisson, mean 121 (a first call at 20 s, then 12 an hour)


def test_positions_stay_in_town_at_plausible_speeds() -> None:
    (south, west), (north, east) = FALLBACK_BOUNDS
    positions = [c.args for c in script() if c.name == "unit.position"]
    assert all(south - 0.001 <= p["lat"] <= north + 0.001 and west - 0.001 <= p["lon"] <= east + 0.001
               for p in positions)
    assert max(p["speed"] for p in positions) <= EMERGENCY_SPEED_MS[1] + 0.1
    assert any(p["speed"] > 0 for p in positions)
    assert all(0 <= p.get("heading", 0) <= 360 for p in positions)


def test_load_configuration_reports_every_unit_every_second() -> None:
    commands = Scenario(ScenarioConfig(units=2000, position_every=1, idle_position_every=1, calls_per_hour=0,
                                       first_call_at=None), FallbackMap()).script(5)
    positions = Counter(c.args["unit"] for c in commands if c.name == "unit.position")
    assert len(positions) == 2000 and set(positions.values()) == {5}


def test_path_interpolates_and_heads_along_the_street() -> None:
    path = Path([(60.17, 24.94), (60.17, 24.95)])
    assert path.length == pytest.approx(555, rel=0.01)
    lat, lon, heading = path.at(path.length / 2)
    assert lat == pytest.approx(60.17) and lon == pytest.approx(24.945)
    assert heading == pytest.approx(90, abs=0.1)
    assert path.at(1e9)[:2] == (60.17, 24.95)
    assert Path([(60.17, 24.94)]).at(10) == (60.17, 24.94, None)


def test_every_command_of_a_shift_is_accepted_by_the_dispatch_rules() -> None:
    commands = script(duration=3 * HOUR, calls_per_hour=40)
    assert Counter(c.name for c in commands)["unit.assign"] > 50
    statuses = {c.args["status"] for c in commands if c.name == "unit.status"}
    assert statuses == {"en_route", "on_scene", "transporting", "at_hospital", "available"}
    played = play_offline(commands)
    assert played.refused == Counter()
    assert sum(i.status == "closed" for i in played.picture.incidents.values()) > 20


def test_a_big_fleet_is_accepted_by_the_dispatch_rules() -> None:
    commands = script(duration=HOUR, units=300, calls_per_hour=120)
    assert play_offline(commands).refused == Counter()
