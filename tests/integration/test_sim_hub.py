"""The simulator against a real hub on 127.0.0.1 with a temporary SQLite log."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.feeds.nmea import DeviceMap
from app.hub.server import Hub
from app.sim.field import FeedPorts, avl_device_map
from app.sim.fleet import plan_fleet
from app.sim.map import FallbackMap
from app.sim.runner import SimStats, run_scenario
from app.sim.scenario import Scenario, ScenarioConfig, SimCommand
from app.store.log import LogReader
from app.store.users import UserStore
from tests.integration.waiting import until

PASSWORD = "correct horse battery"
FEED, SUPERVISOR = "sim-fleet", "sim-dispatch"
#: Busier than a real shift, so ten minutes hold a few complete calls.
BUSY = ScenarioConfig(calls_per_hour=60)
LOAD = ScenarioConfig(calls_per_hour=0, first_call_at=None, duplicate_at=None, malformed_at=None, flood_at=None,
                      position_every=1, idle_position_every=1)


def make_db(path: Path) -> Path:
    users = UserStore(path)
    users.add(FEED, PASSWORD, "feed", "*")
    users.add(SUPERVISOR, PASSWORD, "supervisor", "*")
    users.close()
    return path


async def play(db: Path, record: list[SimCommand] | None = None, **kwargs: Any) -> tuple[SimStats, dict[str, Any]]:
    hub = Hub(db)
    port = await hub.start()
    try:
        stats = await run_scenario(f"ws://127.0.0.1:{port}", FEED, PASSWORD, dispatcher=(SUPERVISOR, PASSWORD),
                                   map_=FallbackMap(), record=record, **kwargs)
        assert hub.sequencer is not None
        await hub.sequencer.drain()
        return stats, hub.stats()
    finally:
        await hub.close()


def log_of(db: Path) -> list[tuple[str, dict[str, Any]]]:
    """The log as (kind, data) with the hub's timestamps taken out."""
    reader = LogReader(db)
    try:
        return [(e.kind, {k: v for k, v in e.data.items() if k != "t"}) for e in reader.iter_events()]
    finally:
        reader.close()


def test_ten_minutes_at_60x_twice_gives_the_same_log(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        db = make_db(tmp_path / f"{name}.db")
        record: list[SimCommand] = []
        stats, hub_stats = asyncio.run(play(db, record, seed=5, speed=60, duration=600, config=BUSY))
        runs.append((db, record, stats, hub_stats))
    (db_a, record_a, stats_a, hub_a), (db_b, record_b, _, _) = runs
    offline = Scenario(ScenarioConfig(calls_per_hour=60, seed=5), FallbackMap()).script(600)
    assert record_a == record_b == offline
    log_a, log_b = log_of(db_a), log_of(db_b)
    assert log_a == log_b
    kinds = Counter(kind for kind, _ in log_a)
    assert kinds["unit.registered"] == 40
    assert kinds["incident.created"] >= 5 and kinds["unit.assigned"] >= 5
    assert kinds["alert.issued"] == 1
    # The resident's report waits in triage, proposed for a merge into the call it duplicates.
    reports = [d for k, d in log_a if k == "candidate.created"]
    assert len(reports) == 1 and reports[0]["source"] == "app"
    assert reports[0]["proposed_merge"] is not None and reports[0]["proposed_merge"]["distance_m"] < 50
    # Everything the scenario sent was applied, apart from the five malformed frames, refused without harm.
    assert sum(stats_a.refused.values()) == 5
    assert hub_a["commands_applied"] == stats_a.commands - 5
    assert stats_a.sent["unit.position"] == kinds["unit.position"]


def test_two_thousand_units_at_1hz_all_arrive(tmp_path: Path) -> None:
    db = make_db(tmp_path / "load.db")
    stats, _ = asyncio.run(play(db, seed=1, speed=1, units=2000, duration=5, config=LOAD))
    reader = LogReader(db)
    per_unit = Counter(e.data["unit"] for e in reader.iter_events(kinds=("unit.position",)))
    reader.close()
    assert len(per_unit) == 2000
    assert set(per_unit.values()) == {5}
    assert not stats.refused
    print(f"\n2,000 units x 5 s: {stats.commands} commands in {stats.wall_seconds:.1f} s, "
          f"worst lag {stats.max_lag_s:.2f} s")


def test_a_second_run_reuses_the_fleet_on_the_hub(tmp_path: Path) -> None:
    db = make_db(tmp_path / "again.db")
    first, _ = asyncio.run(play(db, seed=2, speed=600, duration=300, config=BUSY))
    second, _ = asyncio.run(play(db, seed=2, speed=600, duration=60, config=BUSY))
    assert first.units_existing == 0 and second.units_existing == 40
    assert second.skipped["unit.register (exists)"] == 40
    assert not second.refused.get("duplicate")
    assert second.sent["incident.create"] >= 1 and "unit_busy" not in second.refused


def test_stop_ends_a_run(tmp_path: Path) -> None:
    db = make_db(tmp_path / "stop.db")

    async def main() -> SimStats:
        stop = asyncio.Event()
        record: list[SimCommand] = []

        async def stop_once_the_clock_runs() -> None:
            # Stopping on a condition, not after a fixed delay: signing in takes longer on a loaded machine.
            while not any(command.t > 0 for command in record):
                await asyncio.sleep(0.02)
            stop.set()

        watcher = asyncio.create_task(stop_once_the_clock_runs())
        stats, _ = await play(db, record=record, seed=1, speed=60, stop=stop)
        watcher.cancel()
        return stats

    stats = asyncio.run(main())  # without a working stop, an endless run (duration=None) times the test out
    assert stats.sim_seconds > 0


def test_without_a_dispatcher_only_the_fleet_plays(tmp_path: Path) -> None:
    db = make_db(tmp_path / "fleet.db")

    async def main() -> SimStats:
        hub = Hub(db)
        port = await hub.start()
        try:
            return await run_scenario(f"ws://127.0.0.1:{port}", FEED, PASSWORD, speed=600, duration=330,
                                      map_=FallbackMap(), config=BUSY)
        finally:
            await hub.close()

    stats = asyncio.run(main())
    assert stats.sent["incident.create"] == 0 and stats.sent["unit.register"] == 40
    assert "AL1" in stats.ids  # the flood warning, its id learnt from the fleet's own subscription
    assert sum(stats.refused.values()) == 5


def test_an_unreachable_hub_is_reported() -> None:
    async def main() -> None:
        await run_scenario("ws://127.0.0.1:9", FEED, PASSWORD, duration=1, map_=FallbackMap(), connect_timeout=1)

    with pytest.raises(ConnectionError, match="cannot reach"):
        asyncio.run(main())


def test_over_the_field_transports_every_unit_report_arrives_in_order(tmp_path: Path) -> None:
    db = make_db(tmp_path / "field.db")
    record: list[SimCommand] = []

    async def main() -> tuple[SimStats, dict[str, dict[str, Any]]]:
        hub = Hub(db)
        port = await hub.start()
        devices = DeviceMap(avl_device_map(plan_fleet(40, FallbackMap())))
        ports = await hub.start_feeds(cot_port=0, cot_udp_port=0, nmea_port=0, device_map=devices)
        try:
            stats = await run_scenario(f"ws://127.0.0.1:{port}", FEED, PASSWORD, dispatcher=(SUPERVISOR, PASSWORD),
                                       map_=FallbackMap(), record=record, seed=5, speed=60, duration=600,
                                       config=BUSY, feeds=FeedPorts.of_gateway("127.0.0.1", ports))
            feeds = hub.feeds
            # The last datagrams may still be in the hub's socket buffer when the run ends.
            await until(lambda: feeds.feed("cot").accepted + feeds.feed("nmea").accepted >=
                        stats.sent["unit.position"], timeout=60)
            await feeds.flush()
            assert hub.sequencer is not None
            await hub.sequencer.drain()
            return stats, {name: status.wire(0.0, 0) for name, status in feeds.feeds.items()}
        finally:
            await hub.close()

    stats, feed_stats = asyncio.run(main())
    assert set(stats.field) == {"cot_tcp", "cot_udp", "nmea"} and sum(stats.field.values()) > 500
    assert stats.sent["unit.position"] == sum(stats.field.values()) and not stats.skipped
    scripted: dict[str, list[tuple[float, float, float]]] = {}
    for c in record:
        if c.name == "unit.position":  # a CoT track needs a course: before a unit's first move it has no speed
            speed = c.args["speed"] if "heading" in c.args else 0.0
            scripted.setdefault(c.args["unit"], []).append((c.args["lat"], c.args["lon"], speed))
    reader = LogReader(db)
    try:
        logged: dict[str, list[tuple[float, float, float]]] = {}
        for e in reader.iter_events(kinds=("unit.position",)):
            # NMEA carries minutes to 6 decimals and knots to 3: ~2 mm and ~0.3 mm/s.
            logged.setdefault(e.data["unit"], []).append((round(e.data["lat"], 6), round(e.data["lon"], 6),
                                                         round(e.data.get("speed", 0.0), 2)))
        kinds = Counter(e.kind for e in reader.iter_events())
        quarantined = reader.quarantined()
    finally:
        reader.close()
    # Every unit's reports, none lost, in the order the devices sent them, where they were and as fast.
    assert logged.keys() == scripted.keys() and len(logged) == 40
    for unit, reports in scripted.items():
        assert logged[unit] == reports, unit
    # Registered once, with their kinds, over the websocket: the gateway registered nobody.
    assert kinds["unit.registered"] == 40 and kinds["incident.created"] >= 5 and kinds["alert.issued"] == 1
    # The field transports quarantined exactly the three broken field reports; the websocket's five bad frames
    # were refused to the simulator and kept under the feed accounts' own feed (alike ones from one connection
    # on one row, counted in its repeats). No report came from an unknown device: the simulator registered its own.
    field = [q for q in quarantined if q["feed"] in ("cot", "nmea")]
    assert sorted(q["code"] for q in field) == ["bad_checksum", "entity_expansion", "truncated"]
    assert {q["feed"] for q in quarantined} == {"cot", "nmea", "websocket"}
    assert sum(q["repeats"] for q in quarantined) == 3 + 5
    assert kinds["device.registered"] == 3 and not any(s["unknown"] or s["throttled"] for s in feed_stats.values())
    assert sum(stats.refused.values()) == 5
    assert feed_stats["cot"]["accepted"] + feed_stats["nmea"]["accepted"] == stats.sent["unit.position"]


def test_a_closed_cot_port_is_reported(tmp_path: Path) -> None:
    db = make_db(tmp_path / "nocot.db")

    async def main() -> None:
        hub = Hub(db)
        port = await hub.start()
        try:
            await run_scenario(f"ws://127.0.0.1:{port}", FEED, PASSWORD, duration=1, map_=FallbackMap(),
                               feeds=FeedPorts("127.0.0.1", 9, 9, 9), connect_timeout=5)
        finally:
            await hub.close()

    with pytest.raises(ConnectionError, match="CoT port"):
        asyncio.run(main())
