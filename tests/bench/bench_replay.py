"""Replay seek times on a busy day's log. Prints figures; asserts nothing about time.

    python tests/bench/bench_replay.py [--units 300] [--hours 24] [--incidents 500] [--every 5] [--seeks 50]

Generates (once; cached under /tmp, keyed by the parameters) a log of a busy city written through the real
`EventLog`, so the hash chain and the snapshots every 5,000 events are what a hub stores: `--units` units
reporting every `--every` seconds for `--hours` (300 x 5 s x 24 h = 5.2 million positions) and `--incidents`
calls with realistic unit statuses (dispatched, en route, on scene, transporting, available). Then seeks to
`--seeks` random moments and prints median / p90 / max for `Replay.picture_at(T)` and for `tracks` of the
10 minutes before T, and, side by side for a few moments, a naive seek that folds the log from the start.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.events import Event
from app.domain.picture import Picture
from app.review.replay import Replay
from app.store.log import EventLog, LogReader

T0 = 1714521600.0  # 2024-05-01 00:00 UTC
CENTER = (60.1716, 24.9443)
SNAPSHOT_EVERY = 5000
AGENCY_KINDS = (("fire", "engine", "E"), ("police", "patrol", "P"), ("medical", "ambulance", "M"))
TYPES = (("structure_fire", "fire", 1), ("vehicle_fire", "fire", 2), ("traffic_collision", "police", 2),
         ("burglary", "police", 3), ("medical_emergency", "medical", 2), ("cardiac_arrest", "medical", 1))


def cache_path(units: int, hours: float, incidents: int, every: float) -> Path:
    # v2: snapshots carry the fold's version (a v1 log's snapshots are never used).
    return Path(f"/tmp/watchfloor-bench-replay-{units}u-{hours:g}h-{incidents}i-{every:g}s-v2.db")


def schedule_incidents(rng: random.Random, units: list[tuple[str, str]], hours: float,
                       incidents: int) -> list[tuple[float, str, str, dict, list[str] | None]]:
    """(ts, actor, kind, data, audience) of every call event, in time order, with units busy while committed."""
    free_at = {uid: 0.0 for uid, _ in units}
    agency_of = dict(units)
    out: list[tuple[float, str, str, dict, list[str] | None]] = []
    created_times = sorted(rng.uniform(60, hours * 3600 - 3600) for _ in range(incidents))
    for n, created in enumerate(created_times):
        iid = str(1001 + n)
        itype, agency, priority = rng.choice(TYPES)
        lat, lon = CENTER[0] + rng.uniform(-0.006, 0.006), CENTER[1] + rng.uniform(-0.009, 0.009)
        actor = f"{agency}1"
        restricted = agency == "police" and rng.random() < 0.1
        audience = [agency] if restricted else None
        out.append((created, actor, "incident.created", {
            "id": iid, "type": itype, "priority": priority, "lat": lat, "lon": lon, "address": f"Street {n}",
            "caller": "", "notes": "", "owner": agency, "agencies": [agency], "restricted": restricted}, audience))
        t = created + rng.uniform(20, 110)
        candidates = [u for u, a in units if a == agency and free_at[u] < t]
        sent = rng.sample(candidates, min(len(candidates), rng.choice((1, 1, 2, 3))))
        status_done = set()
        end = t
        for i, unit in enumerate(sent):
            assigned = t + i * rng.uniform(5, 30)
            en_route = assigned + rng.uniform(30, 120)
            on_scene = en_route + rng.uniform(120, 600)
            cleared = on_scene + rng.uniform(900, 3000)
            steps = [(assigned, "unit.assigned", {"unit": unit, "incident": iid}),
                     (en_route, "unit.status", {"unit": unit, "status": "en_route", "previous": "dispatched",
                                                "incident": iid}),
                     (on_scene, "unit.status", {"unit": unit, "status": "on_scene", "previous": "en_route",
                                                "incident": iid})]
            previous = "on_scene"
            if agency_of[unit] == "medical" and rng.random() < 0.5:
                steps.append((on_scene + 600, "unit.status", {"unit": unit, "status": "transporting",
                                                              "previous": "on_scene", "incident": iid}))
                previous = "transporting"
            steps.append((cleared, "unit.status", {"unit": unit, "status": "available", "previous": previous,
                                                   "incident": iid}))
            for ts, kind, data in steps:
                out.append((ts, actor, kind, data, None))
            for ts, status in ((assigned, "dispatched"), (en_route, "en_route"), (on_scene, "on_scene")):
                if status not in status_done:
                    status_done.add(status)
                    out.append((ts, actor, "incident.status", {"id": iid, "status": status}, audience))
            free_at[unit] = cleared
            end = max(end, cleared)
        out.append((end + 60, actor, "incident.status", {"id": iid, "status": "closed", "disposition": "resolved"},
                    audience))
        out.append((created + 90, actor, "message.posted", {
            "id": f"MSG-{n + 1}", "channel": f"incident:{iid}", "agency": agency, "text": "units informed"},
            audience))
    out.sort(key=lambda e: e[0])
    return out


def generate(path: Path, units: int, hours: float, incidents: int, every: float) -> None:
    """Write the day through EventLog, a snapshot every 5,000 events, as the hub would."""
    rng = random.Random(1)
    temp = path.with_suffix(".partial")
    for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
        leftover.unlink(missing_ok=True)
    log = EventLog(temp, synchronous="OFF")
    picture = Picture()
    fleet = [(f"{prefix}{i + 1}", agency, kind) for i in range(units)
             for agency, kind, prefix in [AGENCY_KINDS[i % 3]]]
    positions = {uid: (CENTER[0] + rng.uniform(-0.006, 0.006), CENTER[1] + rng.uniform(-0.009, 0.009))
                 for uid, _, _ in fleet}
    calls = schedule_incidents(rng, [(uid, agency) for uid, agency, _ in fleet], hours, incidents)
    batch: list[tuple[Event, str | None]] = []
    seq = 0
    last_ts = 0.0

    def emit(ts: float, actor: str, kind: str, data: dict, audience: list[str] | None = None) -> None:
        nonlocal seq, batch, last_ts
        seq += 1
        last_ts = max(ts, last_ts)  # the hub stamps events in sequence order
        event = Event(seq, T0 + last_ts, actor, kind, data, audience)
        picture.apply(event)
        batch.append((event, None))
        if len(batch) == SNAPSHOT_EVERY:
            log.append(batch)
            log.save_snapshot(picture)
            batch = []

    for uid, agency, kind in fleet:
        lat, lon = positions[uid]
        emit(0.0, "feed1", "unit.registered", {"id": uid, "agency": agency, "kind": kind, "station": "", "lat": lat,
                                               "lon": lon})
    ticks = int(hours * 3600 / every)
    call_index = 0
    started = time.perf_counter()
    for tick in range(1, ticks + 1):
        base = tick * every
        step = every / (units + 1)
        for i, (uid, _agency, _kind) in enumerate(fleet):
            ts = base + i * step
            while call_index < len(calls) and calls[call_index][0] <= ts:
                emit(*calls[call_index])
                call_index += 1
            lat, lon = positions[uid]
            lat += rng.uniform(-0.00004, 0.00004)
            lon += rng.uniform(-0.00007, 0.00007)
            positions[uid] = (lat, lon)
            emit(ts, "avl", "unit.position", {"unit": uid, "lat": round(lat, 6), "lon": round(lon, 6),
                                              "t": T0 + ts, "speed": 8.0, "heading": 90.0})
        if tick % 720 == 0:
            print(f"  generated {tick * every / 3600:.0f} h ({seq:,} events, {time.perf_counter() - started:.0f} s)",
                  flush=True)
    for call in calls[call_index:]:
        emit(*call)
    if batch:
        log.append(batch)
    log.close()
    temp.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{temp}{suffix}").unlink(missing_ok=True)


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    median, top = statistics.median(ordered) * 1000, ordered[-1] * 1000
    return f"median {median:7.1f} ms   p90 {p90 * 1000:7.1f} ms   max {top:7.1f} ms"


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between a unit's fixes")
    parser.add_argument("--seeks", type=int, default=50)
    parser.add_argument("--naive", type=int, default=3, help="moments also sought by folding from the start")
    args = parser.parse_args()

    path = cache_path(args.units, args.hours, args.incidents, args.every)
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        took, _ = timed(generate, path, args.units, args.hours, args.incidents, args.every)
        print(f"  done in {took:.0f} s")
    reader = LogReader(path)
    events = reader.head()
    snapshots = reader.conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    positions = reader.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'unit.position'").fetchone()[0]
    print(f"log: {path} ({path.stat().st_size / 1e6:,.0f} MB), {events:,} events ({positions:,} positions), "
          f"{snapshots:,} snapshots")

    rng = random.Random(7)
    with Replay(path) as replay:
        first, last = replay.span()
        moments = [rng.uniform(first + 600, last) for _ in range(args.seeks)]
        seek, tracks, fixes = [], [], []
        for t in moments:
            took, picture = timed(replay.picture_at, t)
            seek.append(took)
            took, window = timed(replay.tracks, t - 600, t)
            tracks.append(took)
            fixes.append(sum(len(v) for v in window.values()))
        assert picture.units  # the seek found the fleet
        print(f"\n{args.seeks} random seeks over {(last - first) / 3600:.1f} h:")
        print(f"  picture_at(T)               {summary(seek)}")
        print(f"  tracks(T - 10 min, T)       {summary(tracks)}   ({statistics.median(fixes):,.0f} fixes each)")
        sample_incidents = [str(1001 + i) for i in rng.sample(range(args.incidents), min(10, args.incidents))]
        history = [timed(replay.incident_events, i)[0] for i in sample_incidents]
        print(f"  incident_events(id)         {summary(history)}   ({len(history)} incidents)")
        hour = [timed(replay.events, t - 3600, t)[0] for t in moments[:10]]
        print(f"  events(T - 1 h, T)          {summary(hour)}")

        print("\nside by side with a naive seek (fold every event from the start up to T):")
        for t in sorted(moments)[:: max(1, len(moments) // args.naive)][: args.naive]:
            fast, picture = timed(replay.picture_at, t)
            naive, folded = timed(lambda t=t: Picture().apply_all(reader.iter_events(0, until_seq=replay.seq_at(t))))
            assert folded.units.keys() == picture.units.keys()
            print(f"  T = {(t - first) / 3600:5.1f} h: picture_at {fast * 1000:7.1f} ms, naive {naive:6.2f} s "
                  f"({naive / fast:,.0f}x)")
    reader.close()


if __name__ == "__main__":
    main()
