"""`watchfloor doctor` on this machine, run as a user would, with parts of the machine taken away."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from app.hub.certificates import create_authority, issue_hub_certificate
from tests.integration.conftest import ROOT


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, list[str]]]:
    """Exit code, and each check's lines as "status detail"."""
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "app.cli", "doctor", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**base, "PYTHONPATH": str(ROOT), **(env or {})})
    checks: dict[str, list[str]] = {}
    for line in done.stdout.splitlines()[:-1]:
        status, check, detail = line.split(None, 2)
        checks.setdefault(check, []).append(f"{status} {detail}")
    assert done.stdout.splitlines()[-1].startswith("watchfloor doctor: "), done.stdout + done.stderr
    return done.returncode, checks


def test_doctor_reports_each_part_of_the_machine() -> None:
    code, checks = doctor()
    assert list(checks) == ["display", "qt", "video", "ports", "city", "certificates"]
    assert checks["display"][0].startswith("note there is no display") and "--headless" in checks["display"][0]
    assert checks["qt"] == ["ok PySide6 and the system libraries of its window, map and video plugins"]
    assert checks["video"][0].startswith("ok ffmpeg version")
    assert checks["city"][0].startswith("ok helsinki")  # the suite's city (tests/conftest.py)
    assert code == 0


def test_doctor_says_what_is_missing_and_exits_1(tmp_path: Path) -> None:
    # A PATH with ldd but without ffmpeg; the hub's port taken; a certificate with someone else's key.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ldd = shutil.which("ldd")
    assert ldd is not None
    (bin_dir / "ldd").symlink_to(ldd)
    now = datetime.now(UTC)
    issue_hub_certificate(create_authority(tmp_path / "tls", "Test CA", now, 365), tmp_path / "tls",
                          ["hub.example"], [], now, 10)
    other = create_authority(tmp_path / "other", "Other CA", now, 365)
    issue_hub_certificate(other, tmp_path / "other", ["hub.example"], [], now, 10)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, checks = doctor("--port", str(taken.getsockname()[1]), "--cert", str(tmp_path / "tls" / "hub.pem"),
                              "--key", str(tmp_path / "other" / "hub.key"), "--ca", str(tmp_path / "tls" / "ca.pem"),
                              env={"PATH": str(bin_dir)})
    assert code == 1
    assert checks["video"][0].startswith("missing no ffmpeg") and "apt-get install ffmpeg" in checks["video"][0]
    assert checks["ports"][0].startswith("note port") and "is taken" in checks["ports"][0]
    assert checks["certificates"][0].startswith("note the hub certificate") and "valid for 9 more days" in \
        checks["certificates"][0]
    assert checks["certificates"][1].startswith("ok the CA certificate")
    assert checks["certificates"][2].startswith("missing") and "do not load together" in checks["certificates"][2]
