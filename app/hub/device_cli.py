"""`watchfloor device add|enroll|list|revoke`: the field device registry.

Devices are events in the hub's log (`device.registered`, `device.revoked`), so `add`, `enroll` and `revoke`
go through the running hub as a supervisor's commands (`--hub`, `--user`, `--password-file`), exactly like the
console's: checked by the rules, sequenced, hash-chained, acknowledged only once stored, and in force at once.
Writing the log file directly instead would race the hub's single writer. `list` reads the log file
(read-only, safe beside a running hub).

`enroll` runs where the CA's key is (`--ca-dir`): it issues the device a client certificate, registers the
device with the certificate's SHA-256 (credential "certificate", CoT over TLS), and writes the TAK data package
the device imports (`app.hub.data_package`). The hub never sees the device's key.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import ssl
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import Encoding

from app.client.connection import CommandRefused, HubClient, SignInFailed, client_tls_context
from app.domain.devices import CREDENTIALS, FORMATS, TRANSPORTS
from app.hub.certificates import (
    CA_CERT,
    CertificateError,
    fingerprint,
    issue_device_certificate,
    load_authority,
    write_once,
)
from app.hub.data_package import TAK_TLS_PORT, build_data_package
from app.hub.gateway import TOKEN_PREFIX, token_sha256
from app.hub.signing_keys import SigningSecretError, drone_key, load_signing_secret
from app.store.log import LogReader


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor device`."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="register a field device (a supervisor's command to the running hub)")
    add.add_argument("id", help="the device's name, e.g. TAK-FIRE-1 (letters, digits, - and _; 16 at most)")
    add.add_argument("--agency", required=True, help="fire, police, medical, ...")
    add.add_argument("--formats", required=True, help=f"what it sends, comma separated: {', '.join(FORMATS)}")
    add.add_argument("--transport", choices=TRANSPORTS, default="udp")
    add.add_argument("--source", required=True, help="the address it sends from: IP, or IP:PORT to pin the port")
    add.add_argument("--units", default="", help="the units it reports for, comma separated")
    add.add_argument("--drones", default="", help="the drones it reports for, comma separated (MAVLink: UAV<N>)")
    add.add_argument("--credential", choices=[c for c in CREDENTIALS if c != "certificate"], default="address",
                     help="address: the source address only (MAVLink: unsigned); token: TCP, and a first line "
                          f"'{TOKEN_PREFIX.decode()}<token>' (a new token is printed once); mavlink_signing: "
                          "every frame MAVLink 2 signed with the drone link's key (printed once; needs "
                          "--mavlink-secret); certificates: `device enroll`")
    add.add_argument("--mavlink-secret", type=Path,
                     help="the hub's MAVLink signing secret (`watchfloor hub --mavlink-secret`): run this where "
                          "the hub is")
    add.add_argument("--rate", type=float, help="records per second it may send (default 50)")
    add.add_argument("--label", default="", help="a description, e.g. 'Station 3 vehicle modems'")
    enroll = sub.add_parser("enroll", help="issue a TAK device a client certificate from the control room's CA, "
                                           "register it (CoT over TLS) and write its TAK data package")
    enroll.add_argument("id", help="the device's name, also its certificate's common name, e.g. PHONE-P1")
    enroll.add_argument("--agency", required=True, help="fire, police, medical, ...")
    enroll.add_argument("--units", default="", help="the units it reports for, comma separated")
    enroll.add_argument("--drones", default="", help="the drones it reports for, comma separated")
    enroll.add_argument("--ca-dir", required=True, type=Path, help="the CA's directory (`watchfloor cert ca --dir`)")
    enroll.add_argument("--tak-host", help="the name or address the device connects to (default: --hub's host)")
    enroll.add_argument("--tak-port", type=int, default=TAK_TLS_PORT,
                        help=f"the hub's --cot-tls-port (default {TAK_TLS_PORT})")
    enroll.add_argument("--source", default="", help="the only address it may connect from (default: any)")
    enroll.add_argument("--days", type=int, default=365, help="the certificate's validity in days (365)")
    enroll.add_argument("--out", type=Path, help="the data package to write (default ID.zip; never overwritten)")
    enroll.add_argument("--rate", type=float, help="records per second it may send (default 50)")
    enroll.add_argument("--label", default="", help="a description, e.g. 'Patrol P1 phone'")
    revoke = sub.add_parser("revoke", help="cut a device off at once (a supervisor's command to the running hub)")
    revoke.add_argument("id")
    revoke.add_argument("--reason", default="")
    for p in (add, enroll, revoke):
        p.add_argument("--hub", required=True, help="hub URL, e.g. ws://127.0.0.1:8765")
        p.add_argument("--user", required=True, help="a supervisor account")
        p.add_argument("--password-file", required=True, help="file whose first line is the password")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the hub (30)")
    listing = sub.add_parser("list", help="list the registered devices, revoked ones included")
    listing.add_argument("--db", required=True, help="the hub's SQLite event log")


def run(args: argparse.Namespace) -> int:
    """Carry out the action; errors are printed, with exit code 1."""
    if args.action == "list":
        return list_devices(args.db)
    try:
        password = Path(args.password_file).read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError) as exc:
        print(f"cannot read the password: {exc}", file=sys.stderr)
        return 1
    if args.action == "enroll":
        return enroll(args, password)
    token, signing_key = None, None
    if args.action == "add":
        command = "device.register"
        payload: dict[str, Any] = {
            "id": args.id, "agency": args.agency, "formats": _words(args.formats), "transport": args.transport,
            "source": args.source, "credential": args.credential, "units": _words(args.units),
            "drones": _words(args.drones), "label": args.label}
        if args.rate is not None:
            payload["rate"] = args.rate
        if args.credential == "token":
            token = secrets.token_urlsafe(24)
            payload["token_sha256"] = token_sha256(token)
        elif args.credential == "mavlink_signing":
            try:
                signing_key = drone_key(_signing_secret(args.mavlink_secret), args.id)
            except SigningSecretError as exc:
                print(f"watchfloor device add: {exc}", file=sys.stderr)
                return 1
    else:
        command, payload = "device.revoke", {"id": args.id, "reason": args.reason}
    code = asyncio.run(_call(args.hub, args.user, password, command, payload, args.timeout))
    if code == 0:
        print(f"device {args.id} {'registered' if args.action == 'add' else 'revoked'}")
        if token is not None:
            print(f"its token (shown once; the hub keeps only its SHA-256): {token}")
            print(f"the device sends first, on its own line: {TOKEN_PREFIX.decode()}{token}")
        if signing_key is not None:
            print(f"its MAVLink 2 signing key (shown once; the hub derives it from its secret): {signing_key.hex()}")
    return code


def _signing_secret(path: Path | None) -> bytes:
    """The hub's MAVLink signing secret (the file `watchfloor hub --mavlink-secret` made)."""
    if path is None:
        raise SigningSecretError("give --mavlink-secret FILE, the file the hub is started with")
    return load_signing_secret(path)


def enroll(args: argparse.Namespace, password: str) -> int:
    """Issue the certificate, write the data package (0600, never over a file), register the device; a refused
    registration removes the package again, so nothing is left that the hub would not take."""
    out = args.out or Path(f"{args.id}.zip")
    host = args.tak_host or urlsplit(args.hub).hostname
    if not host or not 0 < args.tak_port < 65536 or not 1 <= args.days <= 36500:
        print("give --tak-host, a --tak-port of 1-65535 and --days of 1-36500", file=sys.stderr)
        return 1
    try:
        authority = load_authority(args.ca_dir)
        hub_tls = client_tls_context(args.hub, args.ca_dir / CA_CERT if args.hub.startswith("wss:") else None)
        certificate, key = issue_device_certificate(authority, args.id, datetime.now(UTC), args.days)
        package = build_data_package(args.id, certificate, key, authority.certificate, host, args.tak_port,
                                     secrets.token_urlsafe(18))
        write_once(out, package)
    except (CertificateError, ValueError) as exc:
        print(f"watchfloor device enroll: {exc}", file=sys.stderr)
        return 1
    payload: dict[str, Any] = {
        "id": args.id, "agency": args.agency, "formats": ["cot"], "transport": "tls", "source": args.source,
        "credential": "certificate", "cert_sha256": hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
        "units": _words(args.units), "drones": _words(args.drones), "label": args.label}
    if args.rate is not None:
        payload["rate"] = args.rate
    code = asyncio.run(_call(args.hub, args.user, password, "device.register", payload, args.timeout, hub_tls))
    if code != 0:
        out.unlink()
        return code
    print(f"device {args.id} enrolled: certificate SHA-256 fingerprint {fingerprint(certificate)}, valid until "
          f"{certificate.not_valid_after_utc:%Y-%m-%d}")
    print(f"its TAK data package: {out} (connects to {host}:{args.tak_port} over TLS). It holds the device's "
          "private key: hand it over like a key, and delete it once imported")
    return 0


async def _call(url: str, user: str, password: str, command: str, payload: dict[str, Any], timeout: float,
                ssl_context: ssl.SSLContext | None = None) -> int:
    client = HubClient(url, user, password, subscribe=False, client="watchfloor-device", ssl_context=ssl_context)
    try:
        try:
            await client.sign_in(timeout)
        except SignInFailed as failed:
            print(failed, file=sys.stderr)
            return 1
        try:
            await client.call(command, payload, timeout)
        except CommandRefused as refused:
            print(f"refused: {refused.code}: {refused.message}", file=sys.stderr)
            return 1
        return 0
    finally:
        await client.close()


def list_devices(db: str) -> int:
    """Print every device in the log, as of now."""
    if not Path(db).exists():
        print(f"no such log: {db}", file=sys.stderr)
        return 1
    reader = LogReader(db)
    try:
        devices = reader.picture_at().devices
    finally:
        reader.close()
    for d in devices.values():
        state = "active" if d.active else f"revoked ({d.revoke_reason})" if d.revoke_reason else "revoked"
        owns = ", ".join([*d.units, *d.drones])
        print(f"{d.id:16} {d.agency:9} {'/'.join(d.formats):12} {d.transport}:{d.source:22} {d.credential:8} "
              f"{state:9} {owns}")
    return 0
