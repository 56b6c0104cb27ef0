"""Starting the console: Qt set-up in the right order, the bridge, the window."""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.ui.bridge import HubBridge
from app.ui.city_services import CityServices
from app.ui.main_window import MainWindow
from app.ui.theme import apply_theme

log = logging.getLogger("watchfloor.console")


def prepare_qt() -> None:
    """Before the QApplication exists: WebEngine flags for root/headless, and the map's URL scheme."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
    try:
        import app.ui.map  # noqa: F401  (registers the wf:// scheme, which must precede the QApplication)
    except ImportError as exc:
        log.info("map module not installed: %s", exc)


def make_app(theme: str | None = None) -> QApplication:
    """The QApplication, themed (the user's last theme, dark by default)."""
    prepare_qt()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Watchfloor")
    app.setOrganizationName("Watchfloor")
    apply_theme(app, theme or str(QSettings("Watchfloor", "console").value("theme", "dark")))  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def open_console(url: str, user: str, password: str) -> MainWindow:
    """Connect (in the background) and show the console; returns the window."""
    city = CityServices()
    city.load_basemap()
    city.load_async()
    bridge = HubBridge(url, user, password)
    window = MainWindow(bridge, city)
    city.setParent(window)
    bridge.start()
    window.show()
    window.command_line.focus()
    return window
