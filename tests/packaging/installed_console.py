"""Run by an installed Watchfloor's interpreter (tests/packaging/test_wheel.py): an offscreen console signs in to
the hub at argv[1] as fire1 (password in WATCHFLOOR_PASSWORD) and reports where its files came from once it is
connected and its map page (the wheel's web assets, the wheel's city) is up."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QTimer

import app
from app.ui.console_app import make_app, open_console
from app.ui.map.page import WEB_DIR

qt = make_app()
window = open_console(sys.argv[1], "fire1", os.environ["WATCHFLOOR_PASSWORD"])


def check() -> None:
    if window.status.state == "connected" and window.map.is_ready and window.city.basemap is not None:
        print(f"ready package={app.__file__} web={WEB_DIR} basemap={window.city.basemap} "
              f"blocked={window.map.external_requests_blocked}", flush=True)
        qt.quit()


poll = QTimer()
poll.timeout.connect(check)
poll.start(100)
QTimer.singleShot(int(sys.argv[2]) * 1000, lambda: qt.exit(3))  # the test's deadline: give up, say nothing
sys.exit(qt.exec())
