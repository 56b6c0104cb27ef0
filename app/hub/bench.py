"""`watchfloor bench hub`: the hub under a unit-position load, side by side with a bare websockets broadcast.

Both servers run in their own process (as the hub does in production); the load generator and the consoles
share this one. Every console measures end-to-end latency as (receive time - the fix time the feed stamped on
the position), on one machine's clock. Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from websockets.asyncio.client import connect

from app.client.connection import HubClient
from app.store.users import UserStore

PASSWORD = "bench password 1"

# A bare broadcast: the first message of a connection says whether it is a feed or a console; every frame
# from a feed goes to every console, one frame per message. The ceiling for a Python websocket relay.
BARE_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve, broadcast
consoles = set()
async def handler(ws):
    role = await ws.recv()
    if role == "console":
        consoles.add(ws)
        try:
            await ws.wait_closed()
        finally:
            consoles.discard(ws)
    else:
        async for frame in ws:
            broadcast(consoles, frame)
async def main():
    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def add_arguments(parser: argparse.ArgumentParser, targets: tuple[str, ...] = ("hub",)) -> None:
    """Arguments of `watchfloor bench` (`targets`: what it can measure; `app.sim.bench` adds "sim")."""
    parser.add_argument("target", choices=targets, help="what to measure")
    parser.add_argument("--consoles", type=int, default=20)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=4, help="feed connections the units report through")
    parser.add_argument("--rate", type=float, default=1.0, help="reports per unit per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server")


@dataclass
class Sample:
    """What the consoles saw during one run."""

    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    seconds: float = 0.0
    #: CPU seconds the hub process used while measured (None where /proc is not there).
    hub_cpu_s: float | None = None

    def line(self, name: str, consoles: int) -> str:
        lat = sorted(self.latencies)
        p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
        p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
        return (f"{name:12} in {self.sent / self.seconds:8.0f} ev/s   deliveries {len(lat) / self.seconds:9.0f}/s "
                f"({len(lat) / max(1, self.sent * consoles):6.1%} of sent x consoles)   p50 {p50:7.1f} ms   "
                f"p99 {p99:7.1f} ms")

    def p99(self) -> float:
        lat = sorted(self.latencies)
        return lat[int(len(lat) * 0.99)] if lat else float("nan")


_events = msgspec.json.Decoder(dict)


def _hub_fix_times(message: dict) -> list[float]:
    """The fix times of the positions in a hub frame (an `events` batch)."""
    if message.get("type") != "events":
        return []
    return [e["data"]["t"] for e in message["events"] if e["kind"] == "unit.position"]


def _bare_fix_times(message: dict) -> list[float]:
    """The fix time of the one position a bare-broadcast frame carries."""
    return [message["args"]["t"]]


async def _listen(ws, fix_times, sample: Sample, stop: asyncio.Event) -> None:
    """A console: record (arrival - fix time) for every position until `stop`."""
    while not stop.is_set():
        try:
            frame = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        now = time.time()
        sample.latencies.extend(now - t for t in fix_times(_events.decode(frame)))


async def hub_console(url: str, user: str, sample: Sample, stop: asyncio.Event, ready: asyncio.Event) -> None:
    """A console signed in as `user` (password PASSWORD): the latency of every position it gets, until `stop`."""
    async with connect(url, max_size=None) as ws:
        await ws.send(msgspec.json.encode({"type": "hello", "v": 1, "user": user, "password": PASSWORD}).decode())
        await ws.recv()
        await ws.send('{"type": "subscribe", "since": null}')
        ready.set()
        await _listen(ws, _hub_fix_times, sample, stop)


async def _console_bare(url: str, sample: Sample, stop: asyncio.Event, ready: asyncio.Event) -> None:
    async with connect(url, max_size=None) as ws:
        await ws.send("console")
        ready.set()
        await _listen(ws, _bare_fix_times, sample, stop)


async def _load(send, units: list[str], rate: float, seconds: float, sample: Sample) -> None:
    """Each unit reports `rate` times a second, spread evenly over each interval."""
    interval = 1.0 / rate
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        slice_start = start + tick * interval
        for i, unit in enumerate(units):
            due = slice_start + interval * i / len(units)
            delay = due - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            lat = 60.16 + (hash((unit, tick)) % 1000) / 100000
            await send(unit, lat, 24.94, time.time())
            sample.sent += 1
        tick += 1


def _connected(client: HubClient) -> bool:
    return client.state == "connected"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process `pid` has used so far (Linux /proc), None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3, utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def add_accounts(db: Path, consoles: int) -> None:
    """A feed account "feed" and `consoles` dispatchers "console<i>" of the three agencies, all with PASSWORD."""
    users = UserStore(db)
    users.add("feed", PASSWORD, "feed", "*")
    for i in range(consoles):
        users.add(f"console{i}", PASSWORD, "dispatcher", ("fire", "police", "medical")[i % 3])
    users.close()


def start_hub(db: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """A `watchfloor hub` process on a free port (plus `options`); returns it and its URL once it listens."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "hub", "--db", str(db), "--port", "0",
                             "--log-level", "WARNING", *options], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip().rsplit(" ", 1)[-1]


async def run_hub_load(args: argparse.Namespace, workdir: Path) -> Sample:
    """A hub process under `args.units` positions at `args.rate` a second each, sent by `args.feeds` feed
    connections for `args.seconds`; what `args.consoles` consoles saw."""
    db = workdir / "bench.db"
    add_accounts(db, args.consoles)
    proc, url = start_hub(db)
    try:
        feeds = [HubClient(url, "feed", PASSWORD, subscribe=False) for _ in range(args.feeds)]
        for feed in feeds:
            feed.start()
        for feed in feeds:
            await feed.wait_for(functools.partial(_connected, feed))
        unit_ids = [f"U{i:05d}" for i in range(args.units)]
        await asyncio.gather(*(feeds[0].command("unit.register", {"id": u, "agency": "fire", "kind": "engine"})
                               for u in unit_ids))
        sample, stop = Sample(), asyncio.Event()
        readies = [asyncio.Event() for _ in range(args.consoles)]
        consoles = [asyncio.create_task(hub_console(url, f"console{i}", sample, stop, readies[i]))
                    for i in range(args.consoles)]
        for r in readies:
            await r.wait()
        await asyncio.sleep(1.0)  # let every snapshot arrive before measuring
        sample.latencies.clear()

        def sender(feed: HubClient):
            async def send(unit: str, lat: float, lon: float, t: float) -> None:
                feed.report("unit.position", {"unit": unit, "lat": lat, "lon": lon, "t": t})
            return send

        shares = [unit_ids[i::args.feeds] for i in range(args.feeds)]
        started, cpu = time.monotonic(), cpu_seconds(proc.pid)
        await asyncio.gather(*(_load(sender(f), share, args.rate, args.seconds, sample)
                               for f, share in zip(feeds, shares, strict=True)))
        sample.seconds = time.monotonic() - started
        await asyncio.sleep(1.0)  # in-flight deliveries
        cpu_after = cpu_seconds(proc.pid)
        sample.hub_cpu_s = cpu_after - cpu if cpu is not None and cpu_after is not None else None
        stop.set()
        await asyncio.gather(*consoles)
        for feed in feeds:
            await feed.close()
        return sample
    finally:
        proc.terminate()
        proc.wait(10)


async def _run_bare(args: argparse.Namespace) -> Sample:
    proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = f"ws://127.0.0.1:{proc.stdout.readline().strip()}"
        sample, stop = Sample(), asyncio.Event()
        readies = [asyncio.Event() for _ in range(args.consoles)]
        consoles = [asyncio.create_task(_console_bare(url, sample, stop, readies[i])) for i in range(args.consoles)]
        for r in readies:
            await r.wait()
        feeds = [await connect(url, max_size=None) for _ in range(args.feeds)]
        for ws in feeds:
            await ws.send("feed")

        def sender(ws):
            async def send(unit: str, lat: float, lon: float, t: float) -> None:
                # The same frame a Watchfloor feed sends.
                await ws.send(msgspec.json.encode({"type": "command", "name": "unit.position", "args": {
                    "unit": unit, "lat": lat, "lon": lon, "t": t}}).decode())
            return send

        unit_ids = [f"U{i:05d}" for i in range(args.units)]
        shares = [unit_ids[i::args.feeds] for i in range(args.feeds)]
        started = time.monotonic()
        await asyncio.gather(*(_load(sender(ws), share, args.rate, args.seconds, sample)
                               for ws, share in zip(feeds, shares, strict=True)))
        sample.seconds = time.monotonic() - started
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*consoles)
        for ws in feeds:
            await ws.close()
        return sample
    finally:
        proc.terminate()
        proc.wait(10)


def run(args: argparse.Namespace) -> int:
    """Run both servers under the same load, one after the other, and print the comparison."""
    print(f"load: {args.units} units x {args.rate}/s through {args.feeds} feed connections, "
          f"{args.consoles} consoles, {args.seconds:.0f} s each; cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        hub = asyncio.run(run_hub_load(args, Path(tmp)))
    bare = asyncio.run(_run_bare(args))
    print(hub.line("watchfloor", args.consoles))
    print(bare.line("bare ws", args.consoles))
    if bare.latencies and hub.latencies:
        print(f"ratio watchfloor/bare: p50 {statistics.median(hub.latencies) / statistics.median(bare.latencies):.2f}x"
              f"   p99 {hub.p99() / bare.p99():.2f}x   (watchfloor also authenticates, validates, stores with "
              "fsync, and sequences every position)")
    return 0
