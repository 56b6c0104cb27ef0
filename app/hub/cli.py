"""`watchfloor hub`: run the hub in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor hub`."""
    parser.add_argument("--db", required=True, help="SQLite event log (created if missing)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free)")
    parser.add_argument("--cert", help="PEM certificate chain: serve wss:// (TLS) instead of ws://")
    parser.add_argument("--key", help="PEM private key for --cert")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; pending events are committed before exiting."""
    from app.hub.server import run_hub, tls_context

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if bool(args.cert) != bool(args.key):
        raise SystemExit("--cert and --key go together")
    context = tls_context(args.cert, args.key) if args.cert else None
    scheme = "wss" if context else "ws"

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready(port: int) -> None:
            # Scripts and tests wait for this line to know the port.
            print(f"watchfloor hub listening on {scheme}://{args.host}:{port}", flush=True)

        await run_hub(args.db, args.host, args.port, context, ready=ready, stop=stop)

    asyncio.run(main())
    return 0
