"""`watchfloor eido`: import a NENA EIDO document into a hub, or export an incident from a hub's log as EIDO.

    watchfloor eido import incident.json --hub wss://hub.example:8765 --ca ca.pem --user anna --password-file pw.txt
    watchfloor eido export --db hub.db --incident 1001 [--out 1001.eido.json] [--seq N]

Import signs in as a dispatcher or supervisor (feeds may not open incidents), opens the incident (or finds the
one an earlier import of the same EIDO opened), adds the notes, and assigns and updates the EIDO's units the hub
knows. An EIDO that cannot be put on the map (a call transfer without an incident, a location without coordinates)
is posted as a message for triage on the importing account's agency channel instead. Every refusal is printed
with the hub's code and reason; the exit code is 0 when the incident (or the triage message) is in the hub (even
if some units were refused or skipped), 1 otherwise. Export reads the log (as of now, or of event N)
and prints the document, or writes it to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path
from typing import Any

from app.client.connection import CommandRefused, HubClient, SignInFailed, client_tls_context
from app.feeds.eido import parse_eido
from app.feeds.eido_incidents import find_imported, import_plan, incident_eido
from app.feeds.errors import FeedError
from app.store.log import LogReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor eido`."""
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="open an incident in a hub from an EIDO JSON document")
    imp.add_argument("file", help="EIDO JSON document")
    imp.add_argument("--hub", required=True, help="hub URL, e.g. wss://hub.example:8765")
    imp.add_argument("--ca", help="the control room's CA certificate (`watchfloor cert ca`): trust a wss:// hub it "
                                  "signed (default: the system's trust store)")
    imp.add_argument("--user", required=True, help="a dispatcher or supervisor account")
    imp.add_argument("--password-file", required=True, help="file whose first line is the password")
    imp.add_argument("--type", help="Watchfloor incident type when the EIDO's is not one (e.g. structure_fire)")
    imp.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the hub (30)")
    exp = sub.add_parser("export", help="write an incident from a hub's event log as EIDO JSON")
    exp.add_argument("--db", required=True, help="the hub's SQLite event log")
    exp.add_argument("--incident", required=True, help="incident id, e.g. 1001")
    exp.add_argument("--seq", type=int, help="as the incident was after this event (default: now)")
    exp.add_argument("--out", help="write here instead of printing")


def run(args: argparse.Namespace) -> int:
    """Run `import` or `export`; returns the exit code."""
    if args.action == "export":
        return export(args)
    try:
        raw = Path(args.file).read_bytes()
        password = Path(args.password_file).read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 1
    try:
        doc = parse_eido(raw)
    except FeedError as error:
        print(f"not a usable EIDO: {error.code}: {error.reason}", file=sys.stderr)
        return 1
    try:
        tls = client_tls_context(args.hub, args.ca)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    return asyncio.run(import_eido(doc, args.hub, args.user, password, args.type, args.timeout, tls))


def export(args: argparse.Namespace) -> int:
    """`eido export`: the incident as EIDO JSON from the log."""
    if not Path(args.db).exists():
        print(f"no such log: {args.db}", file=sys.stderr)
        return 1
    reader = LogReader(args.db)
    try:
        picture = reader.picture_at(seq=args.seq)
    finally:
        reader.close()
    incident = picture.incidents.get(args.incident)
    if incident is None:
        print(f"there is no incident {args.incident} in {args.db}", file=sys.stderr)
        return 1
    text = json.dumps(incident_eido(incident, picture), indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"incident {incident.id} written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


async def import_eido(doc: Any, url: str, user: str, password: str, incident_type: str | None,
                      timeout: float, ssl_context: ssl.SSLContext | None) -> int:
    """Apply an EIDO's import plan through a HubClient; prints a line per step."""
    client = HubClient(url, user, password, client="watchfloor-eido-import", ssl_context=ssl_context)
    try:
        try:
            await client.sign_in(timeout)
        except SignInFailed as failed:
            print(failed, file=sys.stderr)
            return 1
        try:
            plan = import_plan(doc, client.picture, incident_type)
        except FeedError as error:
            print(f"cannot import: {error.code}: {error.reason}", file=sys.stderr)
            return 1
        if plan.triage is not None:
            return await _post_triage(client, plan.triage, plan.posted, timeout)
        incident = plan.existing
        if plan.create is not None:
            try:
                await client.call("incident.create", plan.create, timeout)
            except CommandRefused as refused:
                print(f"incident refused: {refused.code}: {refused.message}", file=sys.stderr)
                return 1
            incident = find_imported(client.picture, doc.id)  # the ack came after its event: it is in the picture
            print(f"created incident {incident}: {plan.create['type']} at {plan.create['address'] or 'map point'}")
        else:
            print(f"already imported as incident {incident}: updating it")
        assert incident is not None
        for step in plan.steps:
            key = "incident" if step.name in ("incident.note", "unit.assign") else None
            args = {**step.args, **({key: incident} if key else {})}
            try:
                await client.call(step.name, args, timeout)
                print(f"  {step.subject}: {step.name} {step.args.get('status', '')}".rstrip())
            except CommandRefused as refused:
                print(f"  {step.subject}: {step.name} refused: {refused.code}: {refused.message}")
        for line in plan.skipped:
            print(f"  skipped {line}")
        return 0
    finally:
        await client.close()


async def _post_triage(client: HubClient, text: str, posted: bool, timeout: float) -> int:
    """Post an EIDO that cannot be put on the map as a message on the importer's agency channel."""
    reason = text.splitlines()[0].split(": ", 1)[-1]
    if posted:
        print(f"already posted for triage, unchanged: {reason}")
        return 0
    welcome = client.session.welcome
    channel = f"agency:{welcome.agency}" if welcome is not None and welcome.agency != "*" else "all"
    try:
        await client.call("message.send", {"channel": channel, "text": text}, timeout)
    except CommandRefused as refused:
        print(f"triage message refused: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    print(f"no incident opened: {reason}\nposted for triage on {channel}:\n{text}")
    return 0
