"""`watchfloor doctor`: check this machine for what Watchfloor needs, and say what is missing.

Each check answers with a status and one line: `ok`, `note` (works, with a limit worth knowing) or `missing`
(something Watchfloor needs here, with what to do). The exit code is 1 when anything is missing. Qt is not
imported (a missing library would abort the check itself); its libraries are inspected with `ldd`.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SETUP = "run `bash packaging/setup.sh` as root (it installs Debian's packages)"


@dataclass(frozen=True)
class Finding:
    """One check's answer."""

    check: str
    status: str  # "ok" | "note" | "missing"
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor doctor`."""
    parser.add_argument("--port", type=int, default=8765, help="the hub's port to check is free (default 8765)")
    parser.add_argument("--cert", type=Path, help="the hub's certificate (PEM) to check, with --key")
    parser.add_argument("--key", type=Path, help="the hub's private key (PEM) for --cert")
    parser.add_argument("--ca", type=Path, help="the control room's CA certificate a console verifies the hub with")


def run(args: argparse.Namespace) -> int:
    """Print every finding; 1 if anything is missing."""
    findings = examine(args.port, args.cert, args.key, args.ca)
    for finding in findings:
        print(f"{finding.status:8} {finding.check:13} {finding.detail}")
    missing = [f.check for f in findings if f.status == "missing"]
    print(f"watchfloor doctor: missing {', '.join(missing)}." if missing else "watchfloor doctor: all set.")
    return 1 if missing else 0


def examine(port: int = 8765, cert: Path | None = None, key: Path | None = None,
            ca: Path | None = None) -> list[Finding]:
    """Every check, in the order a first run meets them."""
    return [check_display(), check_qt(), check_video(), check_port(port), check_city(),
            *check_certificates(cert, key, ca)]


def check_display() -> Finding:
    """A display for the console's window."""
    from app.ui.display import display_problem

    problem = display_problem()
    if problem is None:
        return Finding("display", "ok", "the console can open its window")
    return Finding("display", "note", f"{problem}: the console and `watchfloor demo` need one; `watchfloor demo "
                                      "--headless`, `watchfloor hub` and consoles on other machines do not")


def check_qt() -> Finding:
    """PySide6 and the system libraries its window, map (WebEngine) and video (Multimedia) plugins load."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return Finding("qt", "missing", "PySide6 is not installed: pip install the project (packaging/setup.sh)")
    qt = Path(spec.origin).parent / "Qt"
    parts = {"window (xcb)": qt / "plugins" / "platforms" / "libqxcb.so",
             "map (WebEngine)": qt / "lib" / "libQt6WebEngineCore.so.6",
             "video (Multimedia)": qt / "plugins" / "multimedia" / "libffmpegmediaplugin.so"}
    if shutil.which("ldd") is None:
        return Finding("qt", "note", "PySide6 is installed; no `ldd` here to check the system libraries it needs")
    lacking: dict[str, list[str]] = {}
    for part, library in parts.items():
        if not library.exists():
            continue  # another platform's layout (macOS, Windows): the wheel carries what it needs
        listing = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=30).stdout
        absent = sorted({line.split()[0] for line in listing.splitlines() if "not found" in line})
        if absent:
            lacking[part] = absent
    if lacking:
        return Finding("qt", "missing", "; ".join(f"the {part} lacks {', '.join(libs)}" for part, libs in
                                                  lacking.items()) + f": {SETUP}")
    return Finding("qt", "ok", "PySide6 and the system libraries of its window, map and video plugins")


def check_video() -> Finding:
    """ffmpeg, which makes the simulated drones' camera streams (the console plays video with Qt's own)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return Finding("video", "missing", f"no ffmpeg: the demo's drone flies without video; {SETUP}, or "
                                           "`apt-get install ffmpeg`")
    try:
        first = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True,
                               timeout=30).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding("video", "missing", f"{ffmpeg} does not run ({exc})")
    return Finding("video", "ok", first[0].split(" Copyright")[0] if first else ffmpeg)


def check_port(port: int) -> Finding:
    """The hub's port is free on this machine."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            return Finding("ports", "note", f"port {port} is taken ({exc.strerror}): another hub? `watchfloor hub "
                                            "--port N` (the demo takes any free port)")
    return Finding("ports", "ok", f"port {port} (the hub's default) is free")


def check_city() -> Finding:
    """The current city: its shipped extract, and whether it is built yet."""
    from app.city.loader import CITY_RESOURCES, SHIPPED, cities_dir, current_city_name

    name = current_city_name()
    built = (cities_dir() / name / "city.json").is_file()
    if name in SHIPPED:
        source = CITY_RESOURCES / SHIPPED[name]
        if not source.is_file():
            return Finding("city", "missing", f"{name}'s extract {source} is not installed: reinstall Watchfloor")
        return Finding("city", "ok", f"{name} ({'built' if built else 'built at first use, a few seconds'}, "
                                     f"in {cities_dir()})")
    if built:
        return Finding("city", "ok", f"{name} (imported, in {cities_dir()})")
    return Finding("city", "missing", f"no city named {name}: `watchfloor city list`, `watchfloor city use NAME`")


def check_certificates(cert: Path | None, key: Path | None, ca: Path | None) -> list[Finding]:
    """The hub's certificate and key (they load together, in date) and the CA a console trusts."""
    from app.hub.certificates import CertificateError, read_certificate
    from app.hub.server import tls_context

    if cert is None and ca is None:
        return [Finding("certificates", "note", "none given (--cert/--key, --ca): fine on one machine over ws://; "
                                                "for wss:// see `watchfloor cert` in the README")]
    findings: list[Finding] = []
    for label, path in (("hub", cert), ("CA", ca)):
        if path is None:
            continue
        try:
            certificate = read_certificate(path)
        except (OSError, CertificateError, ValueError) as exc:
            findings.append(Finding("certificates", "missing", f"the {label} certificate: {exc}"))
            continue
        left = (certificate.not_valid_after_utc - datetime.now(UTC)).days
        status = "ok" if left > 30 else "note" if left >= 0 else "missing"
        findings.append(Finding("certificates", status, f"the {label} certificate {path}: "
                                f"{certificate.subject.rfc4514_string()}, " +
                                (f"expired {-left} days ago" if left < 0 else f"valid for {left} more days")))
    if cert is not None:
        if key is None:
            findings.append(Finding("certificates", "missing", "--cert without --key: the hub needs both"))
        else:
            try:
                tls_context(str(cert), str(key))
            except (OSError, ssl.SSLError) as exc:
                findings.append(Finding("certificates", "missing", f"{cert} and {key} do not load together "
                                                                   f"({exc})"))
    return findings
