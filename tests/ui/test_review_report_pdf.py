"""The incident report printed to PDF by Qt WebEngine, offline: pages, a first page rendered, no request out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.review.replay import Replay
from app.review.report import incident_report_html
from app.ui.review.report_pdf import print_pdf
from tests.review_log import write_morning

pytestmark = pytest.mark.skipif(not shutil.which("pdfinfo") or not shutil.which("pdftoppm"),
                                reason="poppler-utils (pdfinfo, pdftoppm) are needed to read the PDF back")


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("Pages:")))


def test_the_report_prints_to_a_pdf_without_any_outside_request(qapp, tmp_path: Path) -> None:
    with Replay(write_morning(tmp_path / "morning.db")) as replay:
        html = incident_report_html(replay, "1004")
    pdf = tmp_path / "1004.pdf"
    assert print_pdf(html, pdf) == 0  # blocked requests
    assert 2 <= pdf_pages(pdf) <= 4
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    page = next(tmp_path.glob("page*.png"))
    assert page.stat().st_size > 20_000  # a page with a header, tables and text, not a blank sheet


def test_an_outside_reference_is_blocked_and_counted(qapp, tmp_path: Path) -> None:
    html = "<html><body><h1>x</h1><img src='http://tracker.example/pixel.png'></body></html>"
    assert print_pdf(html, tmp_path / "x.pdf") == 1
    assert pdf_pages(tmp_path / "x.pdf") == 1
