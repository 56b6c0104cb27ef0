"""`watchfloor demo`: a hub, demo accounts, a live scenario and a console, in one command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from app.hub.server import Hub
    from app.sim.field import FeedPorts
    from app.ui.main_window import MainWindow

DEMO_PASSWORD = "watchfloor-demo"
DEMO_USERS = [("fire1", "dispatcher", "fire"), ("police1", "dispatcher", "police"),
              ("medical1", "dispatcher", "medical"), ("supervisor1", "supervisor", "fire"),
              ("demo-sim", "supervisor", "*"), ("demo-feed", "feed", "*"), ("pilot1", "drone_operator", "police")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor demo`."""
    parser.add_argument("--agency", choices=["fire", "police", "medical"], default="fire",
                        help="which agency's dispatcher the console signs in as (default fire)")
    parser.add_argument("--db", type=Path, help="event log (default: demo/hub.db in the user data directory)")
    parser.add_argument("--port", type=int, default=0, help="hub port (default: any free port)")
    parser.add_argument("--seed", type=int, default=7, help="scenario random seed")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario speed-up (default 1.0)")
    parser.add_argument("--theme", choices=["dark", "light"], help="colour theme")
    parser.add_argument("--supervisor", action="store_true",
                        help="sign in as the supervisor (supervisor1), who has the Review menu")
    parser.add_argument("--headless", action="store_true",
                        help="no window: the hub, the city and the live scenario only, for consoles on this or "
                             "other machines (it prints the address and the accounts); Ctrl-C stops it")
    parser.add_argument("--host", default="127.0.0.1",
                        help="with --headless: address the hub listens on (default 127.0.0.1, this machine only; "
                             "0.0.0.0 lets consoles on other machines in: the demo accounts' password is public, "
                             "so only on a network you trust)")


def start_scenario(url: str, seed: int, speed: float, stop: threading.Event,
                   feeds: FeedPorts | None = None, mavlink_port: int | None = None) -> threading.Thread:
    """Play the simulator's shift against the demo hub in a thread of its own, until `stop` is set.

    The fleet registers and reports status through a feed account (feeds may send thousands of positions a
    second; people's accounts are rate-limited), and positions over the field transports when `feeds` are
    given; the simulated dispatchers work through a supervisor account. With the hub's `mavlink_port` a police
    drone (flown by pilot1) reports over MAVLink and streams video with KLV.
    """
    from app.sim.drone_flight import DroneFlightConfig
    from app.sim.runner import run_scenario
    from app.sim.scenario import ATTACK_AT, ScenarioConfig

    async def play() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True).start()
        drone = DroneFlightConfig(mavlink_port=mavlink_port, operator="pilot1") if mavlink_port else None
        # The fleet reports over the field transports, and one unit's device is spoofed now and then, so the
        # Security panel shows what intrusion detection finds.
        attack = ScenarioConfig(spoof_at=ATTACK_AT) if feeds is not None and speed == 1 else None
        await run_scenario(url, "demo-feed", DEMO_PASSWORD, seed=seed, speed=speed, stop=done,
                           dispatcher=("demo-sim", DEMO_PASSWORD), drone=drone, feeds=feeds, config=attack)

    thread = threading.Thread(target=lambda: asyncio.run(play()), name="wf-demo-scenario", daemon=True)
    thread.start()
    return thread


def _build_city() -> None:
    """Build the current city before any window opens: the first run imports it (a few seconds, once)."""
    log = logging.getLogger("watchfloor.demo")
    try:
        from app.city.loader import current_city_name, load_city

        log.info("city %s: building it if this is its first use…", current_city_name())
        load_city()
    except Exception as exc:  # the console degrades to no basemap and straight-line ETAs, and says so
        log.warning("no city: %s", exc)


def _demo_log(args: argparse.Namespace) -> Path:
    """The demo's event log, claimed for the demo, with the demo accounts in it."""
    from app.store.log import claim_demo_log
    from app.store.users import UserStore

    db: Path = args.db or Path(platformdirs.user_data_dir("watchfloor")) / "demo" / "hub.db"
    try:
        claim_demo_log(db, own=args.db is None)  # never the demo accounts in a log that is not the demo's
    except ValueError as exc:
        raise SystemExit(f"watchfloor demo: {exc}") from None
    users = UserStore(db)
    try:
        for name, role, agency in DEMO_USERS:
            if users.get(name) is None:  # the log may be reused across runs
                users.add(name, DEMO_PASSWORD, role, agency)
    finally:
        users.close()
    return db


def _say_if_no_video() -> None:
    """The demo drone's camera is an ffmpeg process: without ffmpeg it flies without video; say so up front."""
    if shutil.which("ffmpeg") is None:
        print("watchfloor demo: the drone will fly without video, because ffmpeg is not installed "
              "(`apt-get install ffmpeg`, or run packaging/setup.sh as root).", file=sys.stderr, flush=True)


def start_demo(args: argparse.Namespace) -> tuple[QApplication, MainWindow, Callable[[], None]]:
    """Start the hub, the scenario and the console; returns the app, the window and a clean-up function."""
    from app.sim.field import FeedPorts, gateway_options
    from app.sim.scenario import ScenarioConfig
    from app.ui.console_app import make_app, open_console
    from app.ui.hub_thread import HubThread

    db = _demo_log(args)
    _build_city()
    app = make_app(args.theme)
    # A sped-up shift moves its units faster than their fix times allow: intrusion detection would doubt every
    # one, so it runs only at the real pace (where the scenario's spoofed fix shows in the Security panel).
    hub = HubThread(db, port=args.port, judge_fixes=args.speed == 1)
    hub.start()
    feeds = hub.start_feeds(**gateway_options(ScenarioConfig().units))  # the fleet reports as in the field
    assert hub.hub is not None
    hub.run(start_signal_priority(hub.hub))
    logging.getLogger("watchfloor.demo").info("demo hub at %s (log %s), feeds %s", hub.url, db, feeds)
    stop = threading.Event()
    scenario = start_scenario(hub.url, args.seed, args.speed, stop, FeedPorts.of_gateway(hub.host, feeds),
                              feeds["mavlink"])  # the demo drone's MAVLink comes in there
    window = open_console(hub.url, "supervisor1" if getattr(args, "supervisor", False) else f"{args.agency}1",
                          DEMO_PASSWORD)

    def cleanup() -> None:
        stop.set()
        scenario.join(5)
        hub.shutdown()

    return app, window, cleanup


def run(args: argparse.Namespace) -> int:
    """Run the demo until the console's window closes (or Ctrl-C), then stop the hub cleanly; headless, until
    Ctrl-C. Without a display it says what to do instead of letting Qt abort."""
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C while starting (the city's first build), before the handlers are in place
        print("watchfloor demo: interrupted while starting.", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from app.ui.display import display_problem, quiet_environment

    quiet_environment()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)  # a line per connection drowns the demo's own
    if args.headless:
        _say_if_no_video()
        return run_headless(args)
    if args.host != "127.0.0.1":
        raise SystemExit("watchfloor demo: --host goes with --headless (with a window, the demo's hub stays on "
                         "this machine).")
    problem = display_problem()
    if problem:
        print(f"watchfloor demo: {problem}, so no window can open; run `watchfloor demo --headless` here and "
              "`watchfloor console` on a machine with a screen, or give it a display (`xvfb-run watchfloor demo`"
              ", or log in to a desktop).", file=sys.stderr)
        return 2
    _say_if_no_video()
    from app.ui.console_app import quit_on_interrupt

    app, _window, cleanup = start_demo(args)
    quit_on_interrupt(app)
    # Said once Ctrl-C is handled as a clean stop (before this, it interrupts the start): scripts wait for it.
    logging.getLogger("watchfloor.demo").info("console open; close its window or press Ctrl-C to stop the demo")
    try:
        return app.exec()
    finally:
        cleanup()


def run_headless(args: argparse.Namespace) -> int:
    """The hub (on `--host`), the city and the live scenario, without Qt, until SIGINT or SIGTERM."""
    from app.hub.server import Hub
    from app.sim.field import FeedPorts, gateway_options
    from app.sim.scenario import ScenarioConfig

    db = _demo_log(args)
    _build_city()

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        hub = Hub(db, judge_fixes=args.speed == 1)  # as in the windowed demo: only at the real pace
        try:
            port = await hub.start(args.host, args.port)
            # The feed listeners take unauthenticated input: they stay on this machine, whatever --host is.
            feeds = await hub.start_feeds("127.0.0.1", **gateway_options(ScenarioConfig().units))
            await start_signal_priority(hub)
            local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
            print(headless_banner(args.host, port, db), flush=True)
            halt = threading.Event()
            scenario = start_scenario(f"ws://{local}:{port}", args.seed, args.speed, halt,
                                      FeedPorts.of_gateway("127.0.0.1", feeds), feeds["mavlink"])
            await stop.wait()
            print("watchfloor demo: stopping…", flush=True)
            halt.set()
            await loop.run_in_executor(None, scenario.join, 10)
        finally:
            await hub.close()

    asyncio.run(serve())
    return 0


async def start_signal_priority(hub: Hub) -> None:
    """Green lights for the scenario's responding units: the traffic controller simulator and the hub's signal
    priority link to it, both closed with the hub."""
    from app.city.loader import load_city
    from app.hub.signal_link import SignalLink
    from app.sim.signal_controller import SimulatedControllers

    controllers = SimulatedControllers()
    await controllers.start()
    hub.services.append(controllers)
    link = SignalLink(hub, f"udp://127.0.0.1:{controllers.port}", load_city().roads)
    await link.start()
    hub.services.append(link)


def headless_banner(host: str, port: int, db: Path) -> str:
    """What a headless demo prints: where consoles connect, and as whom."""
    wildcard = host in ("0.0.0.0", "::", "")
    addresses = [f"ws://{a}:{port}" for a in (_outward_addresses() if wildcard else [host])]
    people = [(n, r, a) for n, r, a in DEMO_USERS if not n.startswith("demo-")]
    lines = [f"watchfloor demo (headless): hub listening on ws://{host}:{port}, log {db}",
             f"consoles connect with:  watchfloor console --url {addresses[0]} --user fire1"]
    lines += [f"                    or:  --url {a}" for a in addresses[1:]]
    if not wildcard and host.startswith("127."):
        lines.append("(this machine only: --host 0.0.0.0 lets consoles on other machines in, or forward the port "
                     f"with `ssh -L {port}:127.0.0.1:{port}`)")
    lines.append(f"accounts (password {DEMO_PASSWORD}): " + ", ".join(
        f"{n} ({a} {r.replace('_', ' ')})" for n, r, a in people))
    lines.append("Ctrl-C stops it.")
    return "\n".join(lines)


def _outward_addresses() -> list[str]:
    """This machine's addresses other machines can likely reach (the route out, then the host name's), else
    loopback."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: picks the outgoing interface, sends nothing
            found.append(probe.getsockname()[0])
        except OSError:
            pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            address = str(info[4][0])
            if address not in found and not address.startswith("127."):
                found.append(address)
    except OSError:
        pass
    return found or ["127.0.0.1"]
