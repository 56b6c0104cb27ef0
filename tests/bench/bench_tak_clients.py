"""What a TAK client of Watchfloor receives: CoT events/s per client and the latency of each fix. Prints figures;
asserts nothing.

    python tests/bench/bench_tak_clients.py [--units 200] [--rates 1 5 10] [--clients 10] [--seconds 10]

For each rate, a fresh `watchfloor hub` process with a CoT TCP port: `--units` fire units report `rate` times a
second each through a feed connection (`app.hub.bench`'s load, fix time = wall clock at sending), and `--clients`
TAK devices (fire, registered with a token) read the picture the hub serves them on the CoT port as CoT XML
(`app/hub/tak_clients.py`). Every unit event a client reads is a delivery; its latency is (arrival - the fix time
the event carries, ms precision). A client that falls behind is sent each unit's newest fix instead of every fix
(by design), so "of sent" below 100% means coalesced, not lost. The load generator and the clients share this
process; the hub runs in its own.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import functools
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.client.connection import HubClient
from app.hub.bench import PASSWORD, Sample, _load, add_accounts, cpu_seconds, start_hub
from app.hub.gateway import token_sha256
from app.store.users import UserStore
from tests.integration.conftest import free_port

UNIT_EVENT = re.compile(rb'uid="watchfloor\.unit\.U\d+"[^>]*?time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z"')


@functools.lru_cache(maxsize=64)
def _second(stamp: bytes) -> int:
    return calendar.timegm(time.strptime(stamp.decode(), "%Y-%m-%dT%H:%M:%S"))


def fix_time(stamp: bytes, ms: bytes) -> float:
    """A CoT time attribute (whole seconds, milliseconds) as epoch seconds; strptime once per second, so the
    harness costs little beside the hub."""
    return _second(stamp) + int(ms) / 1000


async def tak_client(port: int, token: str, sample: Sample, stop: asyncio.Event, ready: asyncio.Event,
                     units: int) -> None:
    """A TAK device on the CoT port: every unit event it reads, until `stop` (ready once it holds every unit)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"WATCHFLOOR-TOKEN {token}\n".encode())
    await writer.drain()
    tail, seen = b"", 0
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1 << 16), 0.5)
        except TimeoutError:
            continue
        if not data:
            break
        now = time.time()
        data = tail + data
        cut = data.rfind(b"</event>")
        if cut < 0:
            tail = data
            continue
        tail, data = data[cut + 8:], data[:cut + 8]
        for match in UNIT_EVENT.finditer(data):
            seen += 1
            if ready.is_set():
                sample.latencies.append(now - fix_time(*match.groups()))
        if seen >= units:
            ready.set()
    writer.close()


async def run_rate(args: argparse.Namespace, rate: float, workdir: Path
                   ) -> tuple[Sample, float | None, float]:
    """One run at `rate`: what the clients saw, the hub's and this harness's CPU share while measured."""
    db = workdir / f"bench-{rate}.db"
    add_accounts(db, 0)
    users = UserStore(db)
    users.add("boss", PASSWORD, "supervisor", "fire")
    users.close()
    port = free_port()
    proc, url = start_hub(db, "--cot-port", str(port))
    try:
        feed, boss = HubClient(url, "feed", PASSWORD, subscribe=False), HubClient(url, "boss", PASSWORD,
                                                                                  subscribe=False)
        for client in (feed, boss):
            client.start()
            await client.wait_for(lambda c=client: c.state == "connected")
        units = [f"U{i:05d}" for i in range(args.units)]
        for unit in units:
            await feed.command("unit.register", {"id": unit, "agency": "fire", "kind": "engine", "lat": 60.16,
                                                 "lon": 24.94})
        for i in range(args.clients):
            await boss.call("device.register", {
                "id": f"RX{i}", "agency": "fire", "formats": ["cot"], "transport": "tcp", "source": "127.0.0.1",
                "units": [f"RX{i}"], "drones": [], "credential": "token",
                "token_sha256": token_sha256(f"rx-{i}")})
        sample, stop = Sample(), asyncio.Event()
        readies = [asyncio.Event() for _ in range(args.clients)]
        clients = [asyncio.create_task(tak_client(port, f"rx-{i}", sample, stop, readies[i], args.units))
                   for i in range(args.clients)]
        for ready in readies:
            await asyncio.wait_for(ready.wait(), 60)

        async def send(unit: str, lat: float, lon: float, t: float) -> None:
            feed.report("unit.position", {"unit": unit, "lat": lat, "lon": lon, "t": t})

        started, cpu, harness = time.monotonic(), cpu_seconds(proc.pid), time.process_time()
        await _load(send, units, rate, args.seconds, sample)
        sample.seconds = time.monotonic() - started
        await asyncio.sleep(1.0)  # in-flight deliveries
        cpu_after, harness = cpu_seconds(proc.pid), time.process_time() - harness
        stop.set()
        await asyncio.gather(*clients)
        for client in (feed, boss):
            await client.close()
        hub_cpu = (cpu_after - cpu) / sample.seconds if cpu is not None and cpu_after is not None else None
        return sample, hub_cpu, harness / sample.seconds
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 5.0, 10.0],
                        help="reports per unit per second, one run each")
    parser.add_argument("--clients", type=int, default=10, help="TAK clients reading the picture")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"{args.units} fire units, {args.clients} fire TAK clients on the CoT TCP port, {args.seconds:.0f} s "
          f"per rate; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    best = None
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates:
            sample, cpu, harness = asyncio.run(run_rate(args, rate, Path(tmp)))
            per_client = len(sample.latencies) / sample.seconds / args.clients
            cpu_text = f"hub CPU {cpu:4.0%}" if cpu is not None else "hub CPU ?"
            print(f"  {sample.line('TAK clients', args.clients)}   per client {per_client:7.0f} ev/s   {cpu_text}"
                  f"   harness CPU {harness:4.0%}   load {os.getloadavg()[0]:.2f}")
            delivered = len(sample.latencies) / max(1, sample.sent * args.clients)
            if sample.p99() < 0.1 and delivered >= 0.99:
                best = sample.sent / sample.seconds
    print(f"highest rate with >= 99% of fixes delivered to every client and p99 < 100 ms: "
          f"{f'{best:.0f} events/s' if best is not None else 'none of those run'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
