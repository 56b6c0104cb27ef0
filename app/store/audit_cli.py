"""`watchfloor audit verify`: walk the event log's hash chain and name the first broken link."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor audit`."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="check that no stored event was altered, removed or inserted")
    verify.add_argument("--db", required=True, help="the hub's SQLite database")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the chain is whole, 1 (naming the event) when it is broken."""
    from app.store.log import LogReader

    checked, broken = LogReader(args.db).verify_chain()
    if broken is None:
        print(f"ok: {checked} events, hash chain intact")
        return 0
    print(f"BROKEN at event {broken.seq}: {broken.reason} ({checked} events before it are intact)", file=sys.stderr)
    return 1
