"""Starting the console: Qt set-up in the right order, the bridge, the window."""

from __future__ import annotations

import gc
import logging
import os
import ssl
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


def freeze_long_lived() -> None:
    """Move everything alive now (Qt wrappers, the road graph, the gazetteer) out of the collector's sight.

    Full collections walk every tracked object; with the city loaded that is millions of them, and the GUI
    thread stalled 8-59 ms at 2,000 moving units (tests/bench/bench_map.py). These objects live as long as
    the console, so scanning them is wasted work: frozen, the worst stall measured 4-12 ms.
    """
    gc.freeze()


def open_console(url: str, user: str, password: str, ssl_context: ssl.SSLContext | None = None) -> MainWindow:
    """Connect (in the background) and show the console; returns the window. A wss:// URL without
    `ssl_context` verifies the hub against the system's trust store."""
    city = CityServices()
    city.load_basemap()
    city.loaded.connect(freeze_long_lived)
    city.load_async()
    bridge = HubBridge(url, user, password, ssl_context=ssl_context)
    window = MainWindow(bridge, city)
    city.setParent(window)
    bridge.start()
    window.show()
    window.command_line.focus()
    return window
