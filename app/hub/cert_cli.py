"""`watchfloor cert`: the control room's certificate authority and the hub's wss:// certificate.

    watchfloor cert ca --dir tls                       # once: tls/ca.pem (give to every client) + tls/ca.key
    watchfloor cert hub --dir tls --name hub.example --ip 10.0.0.5   # tls/hub.pem + tls/hub.key for the hub

Clients then connect with `--url wss://hub.example:8765 --ca tls/ca.pem`. Nothing is ever overwritten.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor cert`."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ca = sub.add_parser("ca", help="create the control room's CA: DIR/ca.pem and DIR/ca.key (mode 0600)")
    ca.add_argument("--dir", required=True, type=Path, help="directory for the CA (created if missing)")
    ca.add_argument("--name", default="Watchfloor control room CA", help="the CA's common name")
    ca.add_argument("--days", type=int, default=3650, help="validity in days (default 3650)")
    hub = sub.add_parser("hub", help="issue the hub's server certificate, signed by the CA in DIR: "
                                     "DIR/hub.pem and DIR/hub.key (mode 0600)")
    hub.add_argument("--dir", required=True, type=Path, help="the CA's directory (`cert ca --dir`)")
    hub.add_argument("--name", action="append", default=[], metavar="HOST",
                     help="a DNS name clients use in wss://HOST:PORT; may be repeated")
    hub.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                     help="an IP address clients use in wss://ADDRESS:PORT; may be repeated")
    hub.add_argument("--days", type=int, default=825, help="validity in days (default 825)")


def run(args: argparse.Namespace) -> int:
    """Create the CA or issue the hub's certificate; errors are printed, with exit code 1."""
    from app.hub.certificates import (
        CA_CERT,
        CA_KEY,
        HUB_CERT,
        HUB_KEY,
        CertificateError,
        create_authority,
        fingerprint,
        issue_hub_certificate,
        load_authority,
    )

    now = datetime.now(UTC)
    if not 1 <= args.days <= 36500:
        print("--days must be between 1 and 36500", file=sys.stderr)
        return 1
    try:
        if args.action == "ca":
            authority = create_authority(args.dir, args.name, now, args.days)
            print(f"CA {args.name!r} created: {args.dir / CA_CERT} (give it to every client, with --ca), "
                  f"{args.dir / CA_KEY} (keep it secret and off the network)")
            print(f"CA SHA-256 fingerprint {fingerprint(authority.certificate)}")
        else:
            certificate = issue_hub_certificate(load_authority(args.dir), args.dir, args.name, args.ip, now,
                                                args.days)
            names = ", ".join(args.name + args.ip)
            print(f"hub certificate for {names} written: {args.dir / HUB_CERT} and {args.dir / HUB_KEY} "
                  f"(watchfloor hub --cert {args.dir / HUB_CERT} --key {args.dir / HUB_KEY}), "
                  f"valid until {certificate.not_valid_after_utc:%Y-%m-%d}")
            print(f"hub certificate SHA-256 fingerprint {fingerprint(certificate)}")
    except CertificateError as exc:
        print(f"watchfloor cert {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
