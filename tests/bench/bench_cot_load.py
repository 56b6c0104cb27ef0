"""CoT end to end, before and after: the highest rate at which every fix reaches every console with p99 < 100 ms.
Prints; asserts nothing.

    python tests/bench/bench_cot_load.py [--before main] [--rates 2000,3000,4000,5000] [--duration 8]

For each revision ("before": a git revision's ``app`` package from ``git archive`` in a temporary directory;
"after": this worktree) and each rate: a fresh hub (``python -m app.cli hub --cot-port``, the revision's code)
on a fresh database with 10 fire dispatchers, a TAK device registered for the load's units at the most a device
may send (5,000 records/s, ``app.domain.devices.MAX_RATE``), then ``/work/shared/peers/cot_load.py --proto wf``
(1 sender over TCP, 10 Watchfloor consoles, ``--units`` uids, ~425-byte events) against it. A rate is clean
when every fix was delivered to every console (loss 0) and the wall-clock latency p99 is under 100 ms. The
machine's load average is printed beside every figure (taken by cot_load.py as the run starts).

The load's unit names carry a per-run tag; it is fixed here (``cot_load.RUN``) so the device can be registered
for them before the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.client.connection import HubClient  # noqa: E402
from app.domain.devices import MAX_RATE  # noqa: E402
from app.feeds.cot_meaning import unit_id_for  # noqa: E402
from app.store.users import UserStore  # noqa: E402

PEERS = Path(os.environ.get("WF_PEERS", "/work/shared/peers"))
PASSWORD = "bench password 1"
CONSOLES = 10

# Runs cot_load.py with its run tag fixed (its children are forked, so they share it).
HARNESS = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import cot_load
    cot_load.RUN, cot_load.RUN_B = sys.argv[2], sys.argv[2].encode()
    sys.argv = ["cot_load.py", *sys.argv[3:]]
    cot_load.main()
''')


def extract(revision: str, into: Path) -> Path:
    """The revision's ``app`` package under ``into``."""
    archive = subprocess.run(["git", "archive", revision, "app"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hub:
    """A hub of one revision's code, started and stopped by its pid."""

    def __init__(self, code: Path, db: Path) -> None:
        self.port, self.cot_port = free_port(), free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "hub", "--db", str(db), "--port", str(self.port),
             "--cot-port", str(self.cot_port)],
            cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "watchfloor hub listening on" in line:
                break
        else:
            raise RuntimeError("hub did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


async def register(url: str, run: str, units: int) -> None:
    """The load's sender as a fire TAK device that owns every callsign cot_load sends under."""
    supervisor = HubClient(url, "super", PASSWORD, subscribe=False)
    await supervisor.sign_in(30)
    owned = [unit_id_for(f"{run}S0U{u:04d}") for u in range(units)] + [unit_id_for(f"{run}S0{x}") for x in
                                                                       ("PRB", "SA")]
    await supervisor.call("device.register", {"id": "LOAD-TAK", "agency": "fire", "formats": ["cot"],
                                              "transport": "tcp", "source": "127.0.0.1", "units": owned,
                                              "drones": [], "rate": MAX_RATE}, 10)
    await supervisor.close()


def one_run(code: Path, rate: int, duration: float, units: int, label: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "hub.db"
        users = UserStore(db)
        users.add("super", PASSWORD, "supervisor", "fire")
        for i in range(CONSOLES):
            users.add(f"console{i}", PASSWORD, "dispatcher", "fire")
        users.close()
        hub = Hub(code, db)
        run = secrets.token_hex(3)
        out = Path(tmp) / "result.json"
        try:
            asyncio.run(register(f"ws://127.0.0.1:{hub.port}", run, units))
            subprocess.run(
                [sys.executable, "-c", HARNESS, str(PEERS), run, "--proto", "wf", "--port", str(hub.cot_port),
                 "--ws-port", str(hub.port), "--user-prefix", "console", "--password", PASSWORD,
                 "--query-user", "super", "-K", str(CONSOLES), "-M", "1", "--units", str(units),
                 "--rate", str(rate), "--duration", str(duration), "--drain", "15", "--connect-gap", "0.05",
                 "--server-pid", str(hub.proc.pid), "--label", label, "--json", str(out)],
                check=True, capture_output=True, text=True, timeout=duration + 240)
        finally:
            hub.stop()
        return json.loads(out.read_text().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main")
    parser.add_argument("--rates", default="2000,3000,4000,5000")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--units", type=int, default=50,
                        help="uids the sender cycles through (at most MAX_OWNED - 2 = 1998: the probe and SA too)")
    parser.add_argument("--only", choices=["before", "after"], default=None)
    parser.add_argument("--verbose", action="store_true", help="print cot_load.py's whole result")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    print(f"{'code':8s}{'rate/s':>8s}{'sent/s':>9s}{'loss max':>10s}{'p50 ms':>9s}{'p99 ms':>9s}"
          f"{'hub CPU%':>10s}{'RSS MB':>8s}{'clean':>7s}   load average")
    with tempfile.TemporaryDirectory() as tmp:
        codes = {"before": extract(args.before, Path(tmp)), "after": ROOT}
        for name, code in codes.items():
            if args.only and name != args.only:
                continue
            best = 0
            for rate in rates:
                started = time.monotonic()
                r = one_run(code, rate, args.duration, args.units, f"{name}-{rate}")
                clean = r["loss_max"] == 0 and r["lat_wall_p99_ms"] is not None and r["lat_wall_p99_ms"] < 100
                best = rate if clean else best
                if args.verbose:
                    print(json.dumps({k: v for k, v in r.items() if k != "per_rx"}))
                print(f"{name:8s}{rate:8d}{r['sent_rate']:9.0f}{r['loss_max']:10.4f}{r['lat_wall_p50_ms']:9.1f}"
                      f"{r['lat_wall_p99_ms']:9.1f}{r['server_cpu_pct'] or 0:10.0f}{r['server_rss_mb_max'] or 0:8.0f}"
                      f"{'yes' if clean else 'no':>7s}   {r['load_avg']}   ({time.monotonic() - started:.0f} s)",
                      flush=True)
            print(f"{name}: highest clean rate {best}/s (of {args.rates}; {args.units} units)", flush=True)


if __name__ == "__main__":
    main()
