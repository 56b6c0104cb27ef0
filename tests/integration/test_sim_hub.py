"""The simulator against a real hub on 127.0.0.1 with a temporary SQLite log."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.hub.server import Hub
from app.sim.map import FallbackMap
from app.sim.runner import SimStats, run_scenario
from app.sim.scenario import Scenario, ScenarioConfig, SimCommand
from app.store.log import LogReader
from app.store.users import UserStore

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
