"""`watchfloor bench`: `bench hub` (app.hub.bench) and `bench sim`, the hub under the simulator's fleet.

`bench sim` starts a hub process with its feed gateway and a `watchfloor sim` process against it: `--units`
units reporting every second (`--rate` 1) over the field transports (police CoT over TCP, fire CoT over UDP, EMS
NMEA over UDP) or the websocket (`--transport`), driving the city's streets. `--consoles` consoles in this
process measure each position's end-to-end latency as `bench hub`'s do: receive time - the fix time in the
position.
Then `bench hub` runs at the same load (units, rate, consoles, seconds), and the two are printed side by side.
Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.hub import bench as hub_bench
from app.sim.field import TRANSPORT, FeedPorts, avl_device_map
from app.sim.fleet import plan_fleet
from app.sim.map import FallbackMap
from app.store.log import LogReader
from app.store.users import UserStore

#: Seconds played before measuring, from the first position the consoles see.
WARMUP_S = 3.0
#: After the simulator stops: the hub has drained when no position reached a console for QUIET_S.
QUIET_S, DRAIN_LIMIT_S = 2.0, 120.0


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
    lag_s: float = 0.0  # how far the simulator fell behind its clock at worst
    sent: Counter[str] = field(default_factory=Counter)  # the run's positions, by transport
    accepted: Counter[str] = field(default_factory=Counter)  # of those, the ones the hub logged
    udp_drops: int | None = None  # datagrams the kernel dropped at the hub's full UDP sockets (Linux)
    quarantined: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the simulator's "not sent" and "refused" lines


#: The supervisor account the simulator registers its field devices with.
SUPERVISOR = "bench-supervisor"


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


def _sim_command(args: argparse.Namespace, url: str, ports: FeedPorts) -> list[str]:
    """`watchfloor sim` as a load: every unit reports every 1/rate seconds, moving or not; no calls."""
    if not 0 < args.rate <= 1:
        raise SystemExit("bench sim: --rate is reports per unit per second, at most 1 (the simulator's tick)")
    every = f"{1.0 / args.rate:g}"
    command = [sys.executable, "-m", "app.cli", "sim", "--url", url, "--user", "feed", "--seed", str(args.seed),
               "--dispatcher-user", SUPERVISOR,
               "--units", str(args.units), "--duration", f"{WARMUP_S + args.seconds:g}", "--calls-per-hour", "0",
               "--position-every", every, "--idle-position-every", every, "--transport", args.transport,
               "--log-level", "ERROR"]
    if args.transport == "field":
        command += ["--cot-port", str(ports.cot_tcp), "--cot-udp-port", str(ports.cot_udp),
                    "--nmea-port", str(ports.nmea)]
    return command + (["--city", args.city] if args.city else [])


def _read_summary(text: str, run: SimRun, transport: str) -> None:
    """What the simulator's summary says: its worst lag, positions sent by transport, anything not sent."""
    lag = re.search(r"worst lag ([\d.]+) s", text)
    run.lag_s = float(lag.group(1)) if lag else float("nan")
    over_field = re.search(r"^positions over the field: (.*)$", text, re.M)
    if transport == "field" and over_field:
        run.sent.update({k: int(v) for k, v in (pair.split() for pair in over_field.group(1).split(", "))})
    else:
        positions = re.search(r"^sent: .*\bunit\.position (\d+)", text, re.M)
        run.sent["ws"] = int(positions.group(1)) if positions else 0
    run.notes = re.findall(r"^(?:not sent|refused by the hub): .*$", text, re.M)


async def _measure_after_warmup(sample: hub_bench.Sample, hub_pid: int) -> tuple[float, float | None]:
    """Clear the consoles' sample WARMUP_S after the first position reached them; when that was, and the hub's
    CPU seconds then."""
    while not sample.latencies:
        await asyncio.sleep(0.01)
    await asyncio.sleep(WARMUP_S)
    sample.latencies.clear()
    return time.time(), hub_bench.cpu_seconds(hub_pid)


async def _until_quiet(sample: hub_bench.Sample) -> float:
    """Wait until no position has reached the consoles for QUIET_S (the hub has worked off its backlog, or
    dropped it), at most DRAIN_LIMIT_S; when the last one arrived."""
    count, changed = len(sample.latencies), time.time()
    deadline = changed + DRAIN_LIMIT_S
    while time.time() - changed < QUIET_S and time.time() < deadline:
        await asyncio.sleep(0.1)
        if len(sample.latencies) != count:
            count, changed = len(sample.latencies), time.time()
    return changed


async def run_sim_load(args: argparse.Namespace, workdir: Path) -> SimRun:
    """A hub process with its feed gateway, a `watchfloor sim` process against it, and the consoles watching
    from this one (each on its own loop: the simulator's CPU does not delay the consoles' clocks)."""
    db, devices = workdir / "sim.db", workdir / "avl.json"
    hub_bench.add_accounts(db, args.consoles)
    users = UserStore(db)  # the simulator registers its field devices as a supervisor (it takes no calls: 0/h)
    users.add(SUPERVISOR, hub_bench.PASSWORD, "supervisor", "fire")
    users.close()
    devices.write_text(json.dumps({"devices": avl_device_map(plan_fleet(args.units, FallbackMap()))}))
    ports = FeedPorts("127.0.0.1", _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM),
                      _free_port(socket.SOCK_DGRAM))
    proc, url = hub_bench.start_hub(db, "--cot-port", str(ports.cot_tcp), "--cot-udp-port", str(ports.cot_udp),
                                    "--nmea-port", str(ports.nmea), "--nmea-devices", str(devices))
    sample = hub_bench.Sample()
    run = SimRun(sample)
    try:
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in range(args.consoles)]
        consoles = [asyncio.create_task(hub_bench.hub_console(url, f"console{i}", sample, stop, readies[i]))
                    for i in range(args.consoles)]
        for ready in readies:
            await ready.wait()
        window = asyncio.create_task(_measure_after_warmup(sample, proc.pid))
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
               "WATCHFLOOR_PASSWORD": hub_bench.PASSWORD}
        sim = await asyncio.create_subprocess_exec(*_sim_command(args, url, ports), env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await sim.communicate()
        if sim.returncode != 0 or not window.done():
            window.cancel()
            raise SystemExit(f"bench sim: the simulator failed ({sim.returncode}):\n{out.decode()}")
        start, cpu = window.result()
        end = await _until_quiet(sample)  # what the hub holds in its socket buffers is not lost yet
        cpu_after = hub_bench.cpu_seconds(proc.pid)
        sample.hub_cpu_s = cpu_after - cpu if cpu is not None and cpu_after is not None else None
        stop.set()
        await asyncio.gather(*consoles)
        if args.transport == "field":
            run.udp_drops = _udp_drops(ports)
    finally:
        proc.terminate()
        proc.wait(30)
    sample.seconds = end - start
    _read_summary(out.decode(), run, args.transport)
    transport = {p.id: TRANSPORT[p.agency] for p in plan_fleet(args.units, FallbackMap())}
    reader = LogReader(db)
    try:
        times = []
        for e in reader.iter_events(kinds=("unit.position",)):
            times.append(e.data["t"])
            run.accepted[transport[e.data["unit"]] if args.transport == "field" else "ws"] += 1
        run.quarantined = [q["code"] for q in reader.quarantined(limit=1000)]
    finally:
        reader.close()
    # Throughput in: the positions of the window (by their fix time over the field; over the websocket by the
    # time the hub took them) over the time until the hub had delivered its last one.
    sample.sent = sum(1 for t in times if t >= start)
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
    sent, accepted = sim.sent.total(), sim.accepted.total()
    print(f"simulator: worst lag {sim.lag_s:.2f} s; positions sent {sent}, logged by the hub {accepted}, "
          f"lost {sent - accepted}")
    by_transport = ", ".join(f"{k} {v}/{sim.accepted[k]}" for k, v in sorted(sim.sent.items()))
    print(f"  by transport (sent/logged): {by_transport}"
          + ("" if sim.udp_drops is None else f"; the hub's UDP sockets dropped {sim.udp_drops} datagrams (full)")
          + f"; quarantined {len(sim.quarantined)}" + (f" {sorted(set(sim.quarantined))}" if sim.quarantined else ""))
    for note in sim.notes:
        print(f"  simulator: {note}")
    if sim.sample.latencies and hub.latencies:
        print(f"ratio sim/hub: deliveries {len(sim.sample.latencies) / sim.sample.seconds:.0f}/s vs "
              f"{len(hub.latencies) / hub.seconds:.0f}/s "
              f"({len(sim.sample.latencies) / sim.sample.seconds / (len(hub.latencies) / hub.seconds):.2f}x)   "
              f"p50 {statistics.median(sim.sample.latencies) / statistics.median(hub.latencies):.2f}x   "
              f"p99 {sim.sample.p99() / hub.p99():.2f}x")
    if sim.sample.hub_cpu_s is not None and hub.hub_cpu_s is not None and sim.sample.sent and hub.sent:
        print(f"hub CPU per position taken: sim {sim.sample.hub_cpu_s / sim.sample.sent * 1e6:.0f} us, "
              f"bench hub {hub.hub_cpu_s / hub.sent * 1e6:.0f} us (both include the fan-out to the consoles)")
    if args.transport == "ws":
        print("(over the websocket the simulator stamps no fix time: sim latencies count from the hub's receipt)")
    return 0
