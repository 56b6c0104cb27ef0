"""`watchfloor sim`: play a shift (or a load test) against a running hub."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

from app.sim.field import FeedPorts, avl_device_map
from app.sim.fleet import plan_fleet
from app.sim.map import FallbackMap


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor sim`."""
    parser.add_argument("--url", default="ws://127.0.0.1:8765", help="the hub (default ws://127.0.0.1:8765)")
    parser.add_argument("--ca", help="the control room's CA certificate (`watchfloor cert ca`): trust a wss:// hub "
                                     "it signed (default: the system's trust store)")
    parser.add_argument("--user", help="feed account (role feed, agency '*') that fields the fleet (required)")
    parser.add_argument("--password-file", help="file holding its password (default: env WATCHFLOOR_PASSWORD)")
    parser.add_argument("--dispatcher-user",
                        help="supervisor account that plays the dispatchers; without one no calls come in")
    parser.add_argument("--dispatcher-password-file",
                        help="its password (default: env WATCHFLOOR_DISPATCHER_PASSWORD, else the fleet's)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed plays the same shift (default 1)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second, e.g. 60 (default 1)")
    parser.add_argument("--units", type=int, default=40, help="fleet size (default 40)")
    parser.add_argument("--duration", type=float, help="simulated seconds to play (default: until Ctrl-C)")
    parser.add_argument("--calls-per-hour", type=float, default=12.0, help="call rate, simulated (default 12)")
    parser.add_argument("--position-every", type=float, default=2.0,
                        help="simulated seconds between position reports of a moving unit (default 2)")
    parser.add_argument("--idle-position-every", type=float, default=60.0,
                        help="... of a standing unit (default 60; 1 for a load test at 1 Hz)")
    parser.add_argument("--drone-mavlink-port", type=int,
                        help="fly a drone: its MAVLink goes to this UDP port of the hub (watchfloor hub "
                             "--mavlink-port); needs --dispatcher-user")
    parser.add_argument("--drone-mavlink-host", default="127.0.0.1", help="the hub's MAVLink host")
    parser.add_argument("--drone-video", choices=["udp", "http", "none"], default="udp",
                        help="the drone's camera stream (ffmpeg H.264 MPEG-TS with KLV; default udp)")
    parser.add_argument("--city", help="city name or built city directory (default: the current city, else fallback)")
    parser.add_argument("--transport", choices=["ws", "field"], default="ws",
                        help="how units report positions: ws (the feed account's websocket; the default) or field "
                             "(police CoT over TCP, fire CoT over UDP, EMS NMEA over UDP, to the hub's feed ports)")
    parser.add_argument("--feed-host", help="address of the hub's feed listeners (default: the host of --url)")
    parser.add_argument("--cot-port", type=int, help="the hub's CoT TCP port (--transport field)")
    parser.add_argument("--cot-udp-port", type=int, help="its CoT UDP port (default: --cot-port)")
    parser.add_argument("--nmea-port", type=int, help="its NMEA UDP port (--transport field)")
    parser.add_argument("--print-nmea-devices", action="store_true",
                        help="print the NMEA device map of a fleet of --units (JSON, for `watchfloor hub "
                             "--nmea-devices`) and exit")
    parser.add_argument("--attack", action="store_true",
                        help="inject a spoofed fix (a 5 km teleport) from a unit's device at 30 s and every 15 "
                             "minutes after, for intrusion detection to find (with --transport field)")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default WARNING)")


def _secret(path: str | None, env: str) -> str | None:
    if path:
        return Path(path).read_text(encoding="utf-8").rstrip("\n")
    return os.environ.get(env)


def _feed_ports(args: argparse.Namespace) -> FeedPorts | None:
    """The hub's feed ports for --transport field (None for ws); exits with a message when some are missing."""
    if args.transport == "ws":
        return None
    if args.cot_port is None or args.nmea_port is None:
        raise SystemExit("--transport field needs the hub's --cot-port and --nmea-port")
    host = args.feed_host or urlsplit(args.url).hostname or "127.0.0.1"
    cot_udp = args.cot_udp_port if args.cot_udp_port is not None else args.cot_port
    return FeedPorts(host, args.cot_port, cot_udp, args.nmea_port)


def run(args: argparse.Namespace) -> int:
    """Play until the duration or Ctrl-C; prints what was done. Exit code 1 if the hub refused an account."""
    from app.client.connection import client_tls_context
    from app.sim.map import load_map
    from app.sim.runner import run_scenario
    from app.sim.scenario import ATTACK_AT, ScenarioConfig

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.print_nmea_devices:
        print(json.dumps({"devices": avl_device_map(plan_fleet(args.units, FallbackMap()))}, indent=1))
        return 0
    if not args.user:
        raise SystemExit("give the fleet's feed account with --user")
    feeds = _feed_ports(args)
    try:
        tls = client_tls_context(args.url, args.ca)
    except ValueError as exc:
        raise SystemExit(f"watchfloor sim: {exc}") from None
    password = _secret(args.password_file, "WATCHFLOOR_PASSWORD")
    if password is None:
        raise SystemExit("give the password with --password-file or the WATCHFLOOR_PASSWORD variable")
    dispatcher = None
    if args.dispatcher_user:
        dispatcher_password = _secret(args.dispatcher_password_file, "WATCHFLOOR_DISPATCHER_PASSWORD") or password
        dispatcher = (args.dispatcher_user, dispatcher_password)
    config = ScenarioConfig(calls_per_hour=args.calls_per_hour, position_every=args.position_every,
                            idle_position_every=args.idle_position_every, spoof_at=ATTACK_AT if args.attack else None)
    drone = None
    if args.drone_mavlink_port is not None:
        from app.sim.drone_flight import DroneFlightConfig

        drone = DroneFlightConfig(args.drone_mavlink_host, args.drone_mavlink_port,
                                  video="" if args.drone_video == "none" else args.drone_video)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        city = await asyncio.to_thread(load_map, args.city)
        print(f"watchfloor sim: {args.units} units on {city.name}, seed {args.seed}, {args.speed:g}x", flush=True)
        try:
            stats = await run_scenario(args.url, args.user, password, seed=args.seed, speed=args.speed,
                                       units=args.units, duration=args.duration, stop=stop, map_=city,
                                       dispatcher=dispatcher, config=config, drone=drone, feeds=feeds,
                                       ssl_context=tls)
        except ConnectionError as exc:
            print(f"watchfloor sim: {exc}", flush=True)
            return 1
        print(stats.summary(), flush=True)
        return 0

    return asyncio.run(main())
