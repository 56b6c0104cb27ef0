"""The `watchfloor` command line.

Each subcommand lives in the package it belongs to, as a module with `add_arguments(parser)` and
`run(args) -> int`. Only the chosen subcommand's module is imported, so `watchfloor hub` on a server never
loads Qt.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sqlite3
import sys
from pathlib import Path

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "hub": ("app.hub.cli", "run the hub: the websocket server every console and feed connects to"),
    "user": ("app.hub.user_cli", "add, list, disable and unlock user accounts in a hub's database"),
    "cert": ("app.hub.cert_cli", "create the control room's CA and the hub's certificate for wss:// (TLS)"),
    "device": ("app.hub.device_cli", "register, list and revoke field devices (CoT, NMEA, MAVLink, KLV senders)"),
    "eido": ("app.hub.eido_cli", "import a NENA EIDO incident into a hub, or export one from a hub's log"),
    "cluster": ("app.hub.cluster_cli", "a three-node NATS JetStream cluster on this machine for the clustered log"),
    "log": ("app.store.log_cli", "move an event log between a SQLite file and a NATS JetStream cluster"),
    "audit": ("app.store.audit_cli", "verify the event log's tamper-evident hash chain"),
    "bench": ("app.sim.bench", "measure the hub under load (hub: side by side with a bare websockets broadcast; "
                               "sim: under the simulator's fleet, side by side with hub)"),
    "city": ("app.city.cli", "import a city from OpenStreetMap data: basemap, road graph, gazetteer"),
    "signals": ("app.sim.signal_controller", "a traffic-signal controller simulator that answers signal priority "
                                             "requests (SREM) with status (SSEM)"),
    "sim": ("app.sim.cli", "play a realistic shift (or a load test) against a hub: fleet, calls, dispatch"),
    "review": ("app.review.cli", "supervisor review of a stored log: response-time figures, exports, reports"),
    "console": ("app.ui.cli_console", "the control-room console, connected to a hub"),
    "replay": ("app.ui.cli_review", "supervisor review windows over a log file: replay, timelines, figures, hotspots"),
    "demo": ("app.ui.cli_demo", "a local hub, demo accounts, a live scenario and a console, in one command"),
    "doctor": ("app.ui.doctor", "check this machine (display, Qt libraries, video, ports, city, certificates)"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the subcommand named in `argv` gets its full arguments."""
    parser = argparse.ArgumentParser(
        prog="watchfloor",
        description="Watchfloor: one common operating picture for fire, police and medical dispatch.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        child = sub.add_parser(name, help=text, description=text)
        if argv and argv[0] == name:
            importlib.import_module(module).add_arguments(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except sqlite3.DatabaseError as exc:  # a damaged, unreadable or read-only log: say so, without a traceback
        print(f"watchfloor {args.command}: {database_problem(getattr(args, 'db', None), exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        db = getattr(args, "db", None)
        # The database, a folder above it, or a file the log keeps beside it (its audit folder, its -wal).
        if db is None or exc.filename is None or not (str(db).startswith(str(exc.filename))
                                                      or str(exc.filename).startswith(str(db))):
            raise  # not about the database: keep the whole story
        advice = (": the hub must write it and the files beside it; check permissions and mounts"
                  if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else "")
        print(f"watchfloor {args.command}: cannot use the database {db} ({exc.strerror}: {exc.filename}){advice}.",
              file=sys.stderr)
        return 2


def database_problem(db: object, exc: sqlite3.DatabaseError) -> str:
    """One sentence on why the database cannot be used, and what to do about it."""
    text = str(exc)
    path = Path(str(db)) if db else None
    if "not a database" in text or "malformed" in text:
        advice = "it is damaged or is not a Watchfloor log; restore it from a backup"
    elif "readonly" in text or "read-only" in text or (
            path is not None and path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))):
        advice = "the hub must write it and create its -wal and -shm files beside it: check permissions and mounts"
    elif "unable to open" in text:
        advice = "check that the file and its directory exist and can be read"
    elif "full" in text or "I/O" in text:
        advice = "free space on its disk, or check the disk"
    else:
        advice = "check the file"
    return f"cannot use the database {db or ''} ({text}): {advice}."


if __name__ == "__main__":
    sys.exit(main())
