"""`watchfloor hub`: run the hub in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor hub`."""
    parser.add_argument("--db", required=True, help="SQLite event log (created if missing)")
    parser.add_argument("--log", metavar="nats://HOST:PORT,HOST:PORT,HOST:PORT",
                        help="keep the event log in a replicated NATS JetStream stream (3 replicas); --db is then "
                             "this hub's copy of it (and its accounts); default: the --db file is the log")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free)")
    parser.add_argument("--cert", help="PEM certificate chain: serve wss:// (TLS) instead of ws://")
    parser.add_argument("--key", help="PEM private key for --cert")
    parser.add_argument("--cot-port", type=int, help="CoT over TCP on this port (TAK: 8087); off if not given")
    parser.add_argument("--cot-udp-port", type=int, help="CoT over UDP (default: --cot-port)")
    parser.add_argument("--cot-tls-port", type=int,
                        help="CoT over TLS with client certificates (TAK: 8089) on --host; needs --ca-dir; "
                             "off if not given")
    parser.add_argument("--ca-dir", help="the control room's CA directory (`watchfloor cert ca`): CoT TLS clients "
                                         "must present a certificate it signed (`watchfloor device enroll`); the "
                                         "hub's certificate is --cert/--key, else DIR/hub.pem and DIR/hub.key")
    parser.add_argument("--nmea-port", type=int, help="NMEA 0183 over UDP (e.g. 10110); off if not given")
    parser.add_argument("--nmea-tcp-port", type=int, help="NMEA 0183 over TCP (e.g. 10110); off if not given")
    parser.add_argument("--nmea-devices", help="NMEA device map, JSON or INI ([devices] id = unit callsign)")
    parser.add_argument("--mavlink-port", type=int, help="MAVLink over UDP (e.g. 14550); off if not given")
    parser.add_argument("--mavlink-secret", help="the MAVLink signing secret (a file, 0600; made if missing) that "
                                                 "devices with credential mavlink_signing have their keys from")
    parser.add_argument("--klv-port", type=int,
                        help="MISB ST 0601 KLV packets over UDP (drone metadata); off if not given")
    parser.add_argument("--feed-host", default="127.0.0.1",
                        help="address the plaintext feed listeners bind (default 127.0.0.1, whatever --host is: "
                             "they take only registered devices' input, but it is unauthenticated)")
    parser.add_argument("--quarantine-mib", type=float, default=64.0,
                        help="size of the quarantine table in MiB; the oldest rows are pruned beyond it (64)")
    parser.add_argument("--cap-url",
                        help="poll this URL for CAP (one alert or distribution, or an Atom/RSS index of alerts)")
    parser.add_argument("--cap-interval", type=float, default=60.0, help="seconds between --cap-url polls (60)")
    parser.add_argument("--cap-deadline", type=float, default=30.0,
                        help="seconds one CAP fetch may take in all, connect to last byte (30)")
    parser.add_argument("--cap-allow", action="append", metavar="NETWORK",
                        help="let --cap-url's index link to this internal network (CIDR, e.g. 10.20.0.0/16 or "
                             "127.0.0.1); loopback, private and link-local addresses are refused otherwise; "
                             "may be repeated")
    parser.add_argument("--cap-dir", help="watch this directory for CAP 1.2 *.xml files (a file drop)")
    parser.add_argument("--cap-out", help="publish alerts issued here as CAP 1.2 files + index.atom in this directory")
    parser.add_argument("--cap-sender", help="CAP <sender> of published alerts (default watchfloor@<host name>)")
    parser.add_argument("--cot-out", action="append", metavar="tcp://HOST:PORT|udp://HOST:PORT",
                        help="send units and incidents as CoT to a TAK server (tcp) or a multicast group (udp); "
                             "may be repeated")
    parser.add_argument("--cot-ttl", type=int, default=1, help="multicast TTL for udp --cot-out (1: local network)")
    parser.add_argument("--signal-priority", metavar="udp://HOST:PORT",
                        help="ask the traffic controllers' priority service there for green for responding units "
                             "(ETSI SREM/SSEM; routes on the current city's road graph; docs/security.md)")
    parser.add_argument("--signal-agencies", default="fire=2,medical=1,police=1", metavar="AGENCY=PRIORITY,...",
                        help="which agencies' units ask for signal priority, and on calls of which priority at "
                             "most (1 is the most urgent); default fire=2,medical=1,police=1")
    parser.add_argument("--no-klv-video", dest="klv_video", action="store_false",
                        help="do not read the ST 0601 KLV inside drones' MPEG-TS video links (read by default)")
    parser.add_argument("--klv-video-allow", action="append", metavar="NETWORK",
                        help="let drone video links on this internal network be read for their KLV (CIDR, e.g. "
                             "10.20.0.0/16 or 127.0.0.1); only public addresses are read otherwise; may be repeated")
    parser.add_argument("--residents-port", type=int,
                        help="serve the residents' public-safety web app on this port of --host (HTTPS with "
                             "--cert; 0: any free); off if not given (docs/residents.md)")
    parser.add_argument("--residents-url",
                        help="the residents' app's public address as dispatchers reach it, for photo links "
                             "(default: its scheme, --host and port)")
    parser.add_argument("--residents-push-allow", action="append", metavar="NETWORK",
                        help="let residents' Web Push subscriptions name a push service on this internal network "
                             "(CIDR, e.g. 127.0.0.1 for a test's push service); only public https:// push "
                             "services are taken otherwise; may be repeated")
    parser.add_argument("--key-file", help="encrypt the log at rest (SQLCipher) with the key in this file (0600; "
                                           "or set WATCHFLOOR_DB_KEY); see docs/security.md")
    parser.add_argument("--checkpoint-every", type=float, default=60.0,
                        help="seconds between signed checkpoints of the audit trail (60; one more at shutdown)")
    parser.add_argument("--lockout-after", type=int, default=10,
                        help="failed sign-ins in a row that lock an account until `watchfloor user unlock` (10)")
    parser.add_argument("--refusal-delay", type=float, default=0.5,
                        help="seconds before answering the third failed sign-in of an account or address; "
                             "each further one doubles it, up to 30 (0.5)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; pending events are committed before exiting."""
    from app.domain.sign_in import ThrottlePolicy
    from app.hub.server import run_hub
    from app.store.at_rest import LogLockedError, use_key_file

    use_key_file(args.key_file)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if bool(args.cert) != bool(args.key):
        raise SystemExit("--cert and --key go together")
    context = _tls(args.cert, args.key) if args.cert else None
    scheme = "wss" if context else "ws"
    feeds = feed_options(args)
    if args.lockout_after < 1 or args.refusal_delay < 0:
        raise SystemExit("--lockout-after must be at least 1 and --refusal-delay not negative")
    sign_in = ThrottlePolicy(first_delay=args.refusal_delay, lock_after=args.lockout_after)
    if args.log:
        from app.store.jetstream import parse_log_url

        try:
            parse_log_url(args.log)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    push_allow = _networks("--residents-push-allow", args.residents_push_allow)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready(port: int) -> None:
            # Scripts and tests wait for this line to know the port.
            print(f"watchfloor hub listening on {scheme}://{args.host}:{port}", flush=True)

        residents = None if args.residents_port is None else {"port": args.residents_port,
                                                              "public_url": args.residents_url,
                                                              "push_allow": push_allow}
        await run_hub(args.db, args.host, args.port, context, ready=ready, stop=stop, feeds=feeds,
                      feed_io=feed_io_options(args), checkpoint_every=args.checkpoint_every, sign_in=sign_in,
                      quarantine_budget=int(args.quarantine_mib * 1024 * 1024), log_url=args.log,
                      residents=residents)

    try:
        asyncio.run(main())
    except LogLockedError as exc:  # encrypted without the key, a wrong key, or not a database
        raise SystemExit(str(exc)) from None
    except Exception as exc:  # the clustered log cannot be reached or made: one sentence, no traceback
        from app.store.jetstream import StreamUnavailable

        if isinstance(exc, StreamUnavailable):
            raise SystemExit(f"watchfloor hub --log: {exc}") from None
        raise
    return 0


def _networks(option: str, values: list[str] | None) -> tuple[Any, ...]:
    from app.hub.cap_fetch import parse_networks

    try:
        return parse_networks(values or [])
    except ValueError as exc:
        raise SystemExit(f"{option}: {exc}") from None


def _tls(cert: str, key: str) -> ssl.SSLContext:
    """The server's TLS context; prints the certificate's fingerprint, for operators to compare with the one
    `watchfloor cert hub` printed (or `openssl x509 -fingerprint -sha256`) before they trust a hub."""
    from app.hub.certificates import CertificateError, fingerprint, read_certificate
    from app.hub.server import tls_context

    try:
        context = tls_context(cert, key)
        certificate = read_certificate(Path(cert))
    except (OSError, ssl.SSLError, CertificateError) as exc:
        raise SystemExit(f"--cert {cert} --key {key}: {exc}") from None
    print(f"watchfloor hub certificate {certificate.subject.rfc4514_string()}, valid until "
          f"{certificate.not_valid_after_utc:%Y-%m-%d}, SHA-256 fingerprint {fingerprint(certificate)}", flush=True)
    return context


def feed_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """`Hub.start_feeds` arguments from the command line, or None when no feed port is given."""
    from app.feeds.errors import FeedError
    from app.feeds.nmea import DeviceMap
    from app.hub.gateway import CotTls
    from app.hub.signing_keys import SigningSecretError, create_signing_secret, load_signing_secret

    cot_udp = args.cot_udp_port if args.cot_udp_port is not None else args.cot_port
    if all(p is None for p in (args.cot_port, cot_udp, args.nmea_port, args.nmea_tcp_port, args.mavlink_port,
                               args.klv_port, args.cot_tls_port)):
        return None
    cot_tls = None
    if args.cot_tls_port is not None:
        if not args.ca_dir:
            raise SystemExit("--cot-tls-port needs --ca-dir (the CA whose device certificates are trusted)")
        cot_tls = CotTls(args.host, args.cot_tls_port, _device_tls(Path(args.ca_dir), args.cert, args.key))
    mavlink_secret = None
    if args.mavlink_secret:
        path = Path(args.mavlink_secret)
        try:
            mavlink_secret = load_signing_secret(path) if path.exists() else create_signing_secret(path)
        except SigningSecretError as exc:
            raise SystemExit(f"--mavlink-secret: {exc}") from None
    device_map = None
    if args.nmea_devices:
        text = Path(args.nmea_devices).read_text(encoding="utf-8")
        try:
            device_map = DeviceMap.from_json(text) if text.lstrip().startswith("{") else DeviceMap.from_ini(text)
        except FeedError as exc:
            raise SystemExit(f"--nmea-devices: {exc}") from None
    return {"host": args.feed_host, "cot_port": args.cot_port, "cot_udp_port": cot_udp,
            "nmea_port": args.nmea_port, "mavlink_port": args.mavlink_port, "klv_port": args.klv_port,
            "nmea_tcp_port": args.nmea_tcp_port, "device_map": device_map, "cot_tls": cot_tls,
            "mavlink_secret": mavlink_secret}


def _device_tls(ca_dir: Path, cert: str | None, key: str | None) -> ssl.SSLContext:
    """The CoT TLS listener's context: the hub's certificate (`cert`/`key`, else the CA directory's hub.pem and
    hub.key), and a client certificate signed by the CA in `ca_dir` required of every device."""
    from app.hub.certificates import CA_CERT, HUB_CERT, HUB_KEY
    from app.hub.server import tls_context

    cert_file, key_file = (cert, key) if cert and key else (str(ca_dir / HUB_CERT), str(ca_dir / HUB_KEY))
    try:
        context = tls_context(cert_file, key_file)
        context.load_verify_locations(cafile=str(ca_dir / CA_CERT))
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(f"--cot-tls-port: cannot load {cert_file}, {key_file} or {ca_dir / CA_CERT}: {exc}") \
            from None
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def feed_io_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """`start_feed_io` arguments from the command line (CAP fetch/outbox, CoT out), or None when none is given."""
    from urllib.parse import urlsplit

    from app.hub.cap_fetch import parse_networks
    from app.hub.cot_out import parse_target

    if args.cap_url and urlsplit(args.cap_url).scheme not in ("http", "https"):
        raise SystemExit(f"--cap-url {args.cap_url!r}: only http:// and https:// URLs are polled")
    try:
        cap_allow = parse_networks(args.cap_allow or [])
    except ValueError as exc:
        raise SystemExit(f"--cap-allow: {exc}") from None
    try:
        klv_video_allow = parse_networks(args.klv_video_allow or [])
    except ValueError as exc:
        raise SystemExit(f"--klv-video-allow: {exc}") from None
    for target in args.cot_out or []:
        try:
            parse_target(target)
        except ValueError as exc:
            raise SystemExit(f"--cot-out {exc}") from None
    signals = signal_options(args)
    if not (args.cap_url or args.cap_dir or args.cap_out or args.cot_out or args.klv_video or signals):
        return None
    return {"cap_url": args.cap_url, "cap_interval": args.cap_interval, "cap_allow": cap_allow,
            "cap_deadline": args.cap_deadline, "cap_dir": args.cap_dir,
            "cap_out": args.cap_out, "cap_sender": args.cap_sender, "cot_out": args.cot_out, "cot_ttl": args.cot_ttl,
            "klv_video": args.klv_video, "klv_video_allow": klv_video_allow, **signals}


def signal_options(args: argparse.Namespace) -> dict[str, Any]:
    """The signal priority link's arguments: target, the current city's road graph, the agencies' policy."""
    if not args.signal_priority:
        return {}
    from app.city.loader import load_city
    from app.domain.signal_priority import PriorityPolicy
    from app.hub.cot_out import parse_target

    try:
        if parse_target(args.signal_priority)[0] != "udp":
            raise ValueError(f"{args.signal_priority!r}: expected udp://HOST:PORT")
        max_priority = {}
        for item in args.signal_agencies.split(","):
            agency, _, priority = item.strip().partition("=")
            max_priority[agency] = int(priority)
    except ValueError as exc:
        raise SystemExit(f"--signal-priority/--signal-agencies: {exc}") from None
    city = load_city()
    return {"signal_priority": args.signal_priority, "signal_planner": city.roads,
            "signal_policy": PriorityPolicy(max_priority=max_priority)}
