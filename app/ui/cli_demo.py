"""`watchfloor demo`: a hub, demo accounts, a live scenario and a console, in one command."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

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


def start_scenario(url: str, seed: int, speed: float, stop: threading.Event,
                   feeds: FeedPorts | None = None, mavlink_port: int | None = None) -> threading.Thread:
    """Play the simulator's shift against the demo hub in a thread of its own, until `stop` is set.

    The fleet registers and reports status through a feed account (feeds may send thousands of positions a
    second; people's accounts are rate-limited), and positions over the field transports when `feeds` are
    given; the simulated dispatchers work through a supervisor account. With the hub's `mavlink_port` a police
    drone (flown by pilot1) reports over MAVLink and streams video with KLV.
    """
    import asyncio

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


def start_demo(args: argparse.Namespace) -> tuple[QApplication, MainWindow, Callable[[], None]]:
    """Start the hub, the scenario and the console; returns the app, the window and a clean-up function."""
    from app.sim.field import FeedPorts, gateway_options
    from app.sim.scenario import ScenarioConfig
    from app.store.log import claim_demo_log
    from app.ui.console_app import make_app, open_console
    from app.ui.hub_thread import HubThread

    db = args.db or Path(platformdirs.user_data_dir("watchfloor")) / "demo" / "hub.db"
    try:
        claim_demo_log(db, own=args.db is None)  # never the demo accounts in a log that is not the demo's
    except ValueError as exc:
        raise SystemExit(f"watchfloor demo: {exc}") from None
    _build_city()
    app = make_app(args.theme)
    # A sped-up shift moves its units faster than their fix times allow: intrusion detection would doubt every
    # one, so it runs only at the real pace (where the scenario's spoofed fix shows in the Security panel).
    hub = HubThread(db, port=args.port, judge_fixes=args.speed == 1)
    for name, role, agency in DEMO_USERS:
        hub.ensure_user(name, DEMO_PASSWORD, role, agency)
    hub.start()
    feeds = hub.start_feeds(**gateway_options(ScenarioConfig().units))  # the fleet reports as in the field
    logging.getLogger("watchfloor.demo").info("demo hub at %s (log %s), feeds %s", hub.url, db, feeds)
    stop = threading.Event()
    scenario = start_scenario(hub.url, args.seed, args.speed, stop, FeedPorts.of_gateway(hub.host, feeds),
                              feeds["mavlink"])  # the demo drone's MAVLink comes in there
    window = open_console(hub.url, "supervisor1" if getattr(args, "supervisor", False) else f"{args.agency}1",
                          DEMO_PASSWORD)
    window.review.set_log(db)  # the embedded hub's log is on this machine: review reads it directly

    def cleanup() -> None:
        stop.set()
        scenario.join(5)
        hub.shutdown()

    return app, window, cleanup


def run(args: argparse.Namespace) -> int:
    """Run the demo until the console's window closes, then stop the hub cleanly."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app, _window, cleanup = start_demo(args)
    try:
        return app.exec()
    finally:
        cleanup()
