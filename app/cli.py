"""The `watchfloor` command line.

Each subcommand lives in the package it belongs to, as a module with `add_arguments(parser)` and
`run(args) -> int`. Only the chosen subcommand's module is imported, so `watchfloor hub` on a server never
loads Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "hub": ("app.hub.cli", "run the hub: the websocket server every console and feed connects to"),
    "user": ("app.hub.user_cli", "add, list and disable user accounts in a hub's database"),
    "device": ("app.hub.device_cli", "register, list and revoke field devices (CoT, NMEA, MAVLink, KLV senders)"),
    "eido": ("app.hub.eido_cli", "import a NENA EIDO incident into a hub, or export one from a hub's log"),
    "audit": ("app.store.audit_cli", "verify the event log's tamper-evident hash chain"),
    "bench": ("app.sim.bench", "measure the hub under load (hub: side by side with a bare websockets broadcast; "
                               "sim: under the simulator's fleet, side by side with hub)"),
    "city": ("app.city.cli", "import a city from OpenStreetMap data: basemap, road graph, gazetteer"),
    "sim": ("app.sim.cli", "play a realistic shift (or a load test) against a hub: fleet, calls, dispatch"),
    "review": ("app.review.cli", "supervisor review of a stored log: response-time figures, exports, reports"),
    "console": ("app.ui.cli_console", "the control-room console, connected to a hub"),
    "replay": ("app.ui.cli_review", "supervisor review windows over a log file: replay, timelines, figures, hotspots"),
    "demo": ("app.ui.cli_demo", "a local hub, demo accounts, a live scenario and a console, in one command"),
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
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
