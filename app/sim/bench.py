"""`watchfloor bench`: `bench hub` (app.hub.bench) and `bench sim`, the hub under the simulator's fleet.

`bench sim` starts a hub process with its feed gateway and plays the simulator against it from this process:
`--units` units reporting every second (`--rate` 1) over the field transports (police CoT over TCP, fire CoT over
UDP, EMS NMEA over UDP) or the websocket (`--transport`), driving the city's streets. `--consoles` consoles
measure each position's end-to-end latency as `bench hub`'s do: receive time - the fix time in the position.
Then `bench hub` runs at the same load (units, rate, consoles, seconds), and the two are printed side by side.
Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.hub import bench as hub_bench
from app.sim.field import TRANSPORT, FeedPorts, avl_device_map
from app.sim.fleet import plan_fleet
from app.sim.map import FallbackMap, load_map
from app.sim.runner import SimStats, run_scenario
from app.sim.scenario import ScenarioConfig, SimCommand
from app.store.log import LogReader

#: Simulated seconds played before measuring: the fleet registers and starts reporting.
WARMUP_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor bench`."""
    hub_bench.add_arguments(parser, targets=("hub", "sim"))
    parser.add_argument("--transport", choices=["field", "ws"], default="field",
                        help="sim: how units report positions (default field)")
    parser.add_argument("--city", help="sim: built city directory (default: the shipped one, else a fallback map)")
    parser.add_argument("--seed", type=int, default=1, help="sim: scenario seed (default 1)")


@dataclass
class SimRun:
    """What `bench sim` saw: the consoles' sample, and the simulator's and the hub's side of it."""

    sample: hub_bench.Sample
    stats: SimStats
    sent: int = 0  # positions the simulator sent in the measured window
    accepted: Counter[str] = field(default_factory=Counter)  # of the run's positions, those logged, by transport
    udp_drops: int | None = None  # datagrams the kernel dropped at the hub's full UDP sockets (Linux)
    quarantined: list[str] = field(default_factory=list)


def _udp_drops(ports: FeedPorts) -> int | None:
    """Datagrams dropped at the hub's UDP feed sockets because their receive buffers were full (/proc/net/udp)."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    ours = {f"0100007F:{port:04X}" for port in (ports.cot_udp, ports.nmea)}
    return sum(int(fields[-1]) for fields in map(str.split, lines) if fields[1] in ours)


def _free_port(kind: int) -> int:
    # Picked here and handed to the hub process, which binds it a moment later.
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(args: argparse.Namespace) -> ScenarioConfig:
    """A load shift: every unit reports every 1/rate seconds, moving or not; no calls, no scheduled events."""
    if not 0 < args.rate <= 1:
        raise SystemExit("bench sim: --rate is reports per unit per second, at most 1 (the simulator's tick)")
    every = 1.0 / args.rate
    return ScenarioConfig(seed=args.seed, units=args.units, calls_per_hour=0.0, first_call_at=None,
                          malformed_at=None, flood_at=None, duplicate_at=None, position_every=every,
                          idle_position_every=every)


async def _measure_after_warmup(record: list[SimCommand], sample: hub_bench.Sample) -> float:
    """Clear the consoles' sample once the simulator starts the first measured tick; when that was."""
    while not record or record[-1].t < WARMUP_S:
        await asyncio.sleep(0.005)
    sample.latencies.clear()
    return time.time()


async def run_sim_load(args: argparse.Namespace, workdir: Path) -> SimRun:
    """A hub process with its feed gateway, the simulator's fleet against it, and the consoles watching."""
    db, devices = workdir / "sim.db", workdir / "avl.json"
    hub_bench.add_accounts(db, args.consoles)
    devices.write_text(json.dumps({"devices": avl_device_map(plan_fleet(args.units, FallbackMap()))}))
    ports = FeedPorts("127.0.0.1", _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM),
                      _free_port(socket.SOCK_DGRAM))
    city = await asyncio.to_thread(load_map, args.city)
    proc, url = hub_bench.start_hub(db, "--cot-port", str(ports.cot_tcp), "--cot-udp-port", str(ports.cot_udp),
                                    "--nmea-port", str(ports.nmea), "--nmea-devices", str(devices))
    try:
        sample, stop = hub_bench.Sample(), asyncio.Event()
        readies = [asyncio.Event() for _ in range(args.consoles)]
        consoles = [asyncio.create_task(hub_bench.hub_console(url, f"console{i}", sample, stop, readies[i]))
                    for i in range(args.consoles)]
        for ready in readies:
            await ready.wait()
        record: list[SimCommand] = []
        window = asyncio.create_task(_measure_after_warmup(record, sample))
        stats = await run_scenario(url, "feed", hub_bench.PASSWORD, speed=1.0, seed=args.seed, units=args.units,
                                   duration=WARMUP_S + args.seconds, map_=city, config=_config(args),
                                   record=record, feeds=ports if args.transport == "field" else None)
        start, end = await window, time.time()
        await asyncio.sleep(1.0)  # in-flight deliveries
        stop.set()
        await asyncio.gather(*consoles)
        drops = _udp_drops(ports) if args.transport == "field" else None
    finally:
        proc.terminate()
        proc.wait(30)
    sample.seconds = end - start
    run = SimRun(sample, stats, udp_drops=drops)
    transport = {p.id: TRANSPORT[p.agency] for p in plan_fleet(args.units, FallbackMap())}
    run.sent = sum(1 for c in record if c.name == "unit.position" and WARMUP_S <= c.t < WARMUP_S + args.seconds)
    reader = LogReader(db)
    try:
        times = []
        for e in reader.iter_events(kinds=("unit.position",)):
            times.append(e.data["t"])
            run.accepted[transport[e.data["unit"]] if args.transport == "field" else "ws"] += 1
        run.quarantined = [q["code"] for q in reader.quarantined(limit=1000)]
    finally:
        reader.close()
    # Throughput in: what the hub took during the window (the fix time over the field; over the websocket the
    # hub stamps the time it took the position).
    sample.sent = sum(1 for t in times if start <= t < end)
    return run


def run(args: argparse.Namespace) -> int:
    """`bench hub`, or `bench sim` followed by `bench hub` at the same load, printed side by side."""
    if args.target == "hub":
        return hub_bench.run(args)
    print(f"load: {args.units} units x {args.rate}/s, {args.consoles} consoles, {args.seconds:.0f} s each; "
          f"sim over {args.transport}; cores: {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sim").mkdir()
        (Path(tmp) / "hub").mkdir()
        sim = asyncio.run(run_sim_load(args, Path(tmp) / "sim"))
        hub = asyncio.run(hub_bench.run_hub_load(args, Path(tmp) / "hub"))
    print(sim.sample.line(f"sim {args.transport}", args.consoles))
    print(hub.line("bench hub", args.consoles))
    stats = sim.stats
    sent = stats.field or Counter(ws=stats.sent["unit.position"])
    print(f"simulator: worst lag {stats.max_lag_s:.2f} s; positions sent {sent.total()} ({sim.sent} in the window), "
          f"logged by the hub {sim.accepted.total()}, lost {sent.total() - sim.accepted.total()}")
    print("  by transport (sent/logged): " + ", ".join(f"{k} {v}/{sim.accepted[k]}" for k, v in sorted(sent.items()))
          + ("" if sim.udp_drops is None else f"; the hub's UDP sockets dropped {sim.udp_drops} datagrams (full)")
          + f"; quarantined {len(sim.quarantined)}" + (f" {sorted(set(sim.quarantined))}" if sim.quarantined else ""))
    if stats.skipped or stats.refused:
        print(f"simulator: not sent {dict(stats.skipped)}, refused {dict(stats.refused)}")
    if sim.sample.latencies and hub.latencies:
        print(f"ratio sim/hub: deliveries {len(sim.sample.latencies) / sim.sample.seconds:.0f}/s vs "
              f"{len(hub.latencies) / hub.seconds:.0f}/s "
              f"({len(sim.sample.latencies) / sim.sample.seconds / (len(hub.latencies) / hub.seconds):.2f}x)   "
              f"p50 {statistics.median(sim.sample.latencies) / statistics.median(hub.latencies):.2f}x   "
              f"p99 {sim.sample.p99() / hub.p99():.2f}x")
    if args.transport == "ws":
        print("(over the websocket the simulator stamps no fix time: sim latencies count from the hub's receipt)")
    return 0
