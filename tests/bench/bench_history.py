"""History over the wire beside the same query on the file. Prints p50/p99; asserts nothing about time.

    python tests/bench/bench_history.py [--units 300] [--hours 24] [--incidents 500] [--every 5] [--samples 30]

Uses the busy city's log of `bench_replay.py` (generated once, cached under /tmp), starts a real hub process on
it (the first start audits the whole log: minutes on the 24-hour log), and times, for the same random inputs:
an incident's history (`history.incident`, every page), the picture at a random moment (`history.picture`),
and a one-hour track window (`history.tracks` as the console's `HubReplay` reads it: an answer the hub cut at
its cap of fixes is asked on from where it was cut, so the whole hour arrives), through a control-room supervisor's
connection; beside them `Replay.incident_events`, `Replay.picture_at` and `Replay.tracks` reading the file.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.client.connection import HubClient
from app.review.replay import Replay
from app.store.users import UserStore
from tests.bench.bench_replay import cache_path, generate
from tests.integration.conftest import PASSWORD, HubProcess, free_port

REVIEWER = "bench-room"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000

    return f"p50 {at(0.5):8.1f} ms   p99 {at(0.99):8.1f} ms"


async def timed_async(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await fn()
    return time.perf_counter() - started, result


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


async def history_pages(client: HubClient, incident: str) -> list[Any]:
    events: list[Any] = []
    after = 0
    while True:
        page = await client.query("history.incident", 60, {"incident": incident, "after": after})
        events += page["events"]
        if page["next"] is None:
            return events
        after = page["next"]


async def whole_tracks(client: HubClient, t0: float, t1: float) -> int:
    """Every unit's fixes of the window, asked on from `until` while the hub cuts it; returns the answers taken."""
    answers = 0
    while True:
        answer = await client.query("history.tracks", 120, {"t0": t0, "t1": t1, "drones": []})
        answers += 1
        if not answer["truncated"] or answer["until"] is None or answer["until"] <= t0:
            return answers
        t0 = answer["until"]


async def over_the_wire(url: str, incidents: list[str], moments: list[float]) -> dict[str, list[float]]:
    client = HubClient(url, REVIEWER, PASSWORD, subscribe=False)
    client.start()
    await client.wait_for(lambda: client.state == "connected", 60)
    out: dict[str, list[float]] = {"history": [], "picture": [], "tracks": []}
    cut = 0
    try:
        for incident in incidents:
            out["history"].append((await timed_async(lambda i=incident: history_pages(client, i)))[0])
        for t in moments:
            out["picture"].append((await timed_async(
                lambda t=t: client.query("history.picture", 120, {"at": t})))[0])
            took, tracks = await timed_async(lambda t=t: whole_tracks(client, t - 3600, t))
            out["tracks"].append(took)
            cut += tracks > 1
    finally:
        await client.close()
    print(f"  (track windows the hub answered in more than one part: {cut} of {len(moments)})")
    return out


def on_the_file(path: Path, incidents: list[str], moments: list[float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"history": [], "picture": [], "tracks": []}
    with Replay(path) as replay:
        for incident in incidents:
            out["history"].append(timed(lambda i=incident: replay.incident_events(i))[0])
        for t in moments:
            out["picture"].append(timed(lambda t=t: replay.picture_at(t))[0])
            out["tracks"].append(timed(lambda t=t: replay.tracks(t - 3600, t))[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between a unit's fixes")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()

    path = cache_path(args.units, args.hours, args.incidents, args.every)
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate(path, args.units, args.hours, args.incidents, args.every)
    users = UserStore(path)
    if users.get(REVIEWER) is None:
        users.add(REVIEWER, PASSWORD, "supervisor", "*")  # reviews everything, as the file does
    users.close()

    rng = random.Random(11)
    with Replay(path) as replay:
        first, last = replay.span()
    moments = [rng.uniform(first + 3600, last) for _ in range(args.samples)]
    incidents = [str(1001 + i) for i in rng.sample(range(args.incidents), min(args.samples, args.incidents))]

    hub = HubProcess(path, free_port())
    print("starting the hub (it audits the log first) ...", flush=True)
    took, _ = timed(lambda: hub.start(timeout=3600))
    print(f"  up in {took:.0f} s")
    try:
        print(f"\n{len(incidents)} incident histories, {len(moments)} moments, over {(last - first) / 3600:.1f} h:")
        wire = asyncio.run(over_the_wire(hub.url, incidents, moments))
    finally:
        hub.stop()
        hub.kill()
    file = on_the_file(path, incidents, moments)
    labels = {"history": "incident history", "picture": "picture at T", "tracks": "one-hour track window"}
    for key, label in labels.items():
        print(f"  {label:24} wire {percentiles(wire[key])}   |   file {percentiles(file[key])}")


if __name__ == "__main__":
    main()
