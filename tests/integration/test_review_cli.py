"""`watchfloor review` as a user runs it: figures, exports and a report (HTML and PDF) from a log file, and
clear errors for a missing log, a file that is not a log, a bad time and an unknown incident."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT
from tests.review_log import write_morning


def review(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app.cli", "review", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=180)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_morning(tmp_path_factory.mktemp("cli") / "morning.db"))


def test_figures_table(db: str) -> None:
    done = review("figures", "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("5 calls, 4 dispatched")
    travel = next(line for line in done.stdout.splitlines() if line.startswith("fire") and "travel" in line)
    assert travel.split() == ["fire", "travel", "2", "4:20", "5:00", "240", "s", "50%", "NO"]
    as_fire = review("figures", "--db", db, "--as-agency", "fire", "--from", "2024-05-01T08:50:00Z")
    assert as_fire.stdout.startswith("2 calls, 2 dispatched")  # 1003 and 1004; police's restricted 1005 unseen


def test_exports(db: str, tmp_path: Path) -> None:
    out = tmp_path / "window.csv"
    done = review("export", "--db", db, "--from", "2024-05-01T08:15:00Z", "--to", "2024-05-01T08:30:00Z",
                  "-o", str(out))
    assert done.returncode == 0 and done.stdout.strip() == f"wrote 7 rows to {out}"
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["summary"] == "Created: Structure fire P1 at Mikonkatu 8" and all(r["actor"] for r in rows)
    geo = tmp_path / "1004.geojson"
    assert review("export", "--db", db, "--incident", "1004", "--format", "geojson", "-o", str(geo)).returncode == 0
    layers = [f["properties"]["layer"] for f in json.loads(geo.read_text())["features"]]
    assert layers == ["incident", "track", "track"]


def test_report_html_and_pdf(db: str, tmp_path: Path) -> None:
    html, pdf = tmp_path / "1001.html", tmp_path / "1001.pdf"
    done = review("report", "--db", db, "--incident", "1001", "-o", str(html), "--pdf", str(pdf))
    assert done.returncode == 0, done.stderr
    assert "<h1>Incident 1001 — Structure fire" in html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF-") and "warning" not in done.stderr


def test_bad_input_gets_a_clear_error(db: str, tmp_path: Path) -> None:
    missing = review("figures", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 1 and "there is no log file" in missing.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert "is not a Watchfloor log" in review("figures", "--db", str(junk)).stderr
    bad_time = review("export", "--db", db, "--from", "yesterday", "-o", str(tmp_path / "x.csv"))
    assert bad_time.returncode == 2 and "'yesterday' is not a time" in bad_time.stderr
    unknown = review("report", "--db", db, "--incident", "4242", "-o", str(tmp_path / "x.html"))
    assert unknown.returncode == 1 and "there is no incident 4242" in unknown.stderr
    hidden = review("report", "--db", db, "--incident", "1005", "--as-agency", "fire", "-o", str(tmp_path / "y.html"))
    assert hidden.returncode == 1 and not (tmp_path / "y.html").exists()
    unwritable = review("export", "--db", db, "-o", str(tmp_path / "no" / "such" / "dir.csv"))
    assert unwritable.returncode == 1 and "No such file or directory" in unwritable.stderr
