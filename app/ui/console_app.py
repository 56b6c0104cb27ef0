"""Starting the console: Qt set-up in the right order, the bridge, the window."""

from __future__ import annotations

import gc
import logging
import signal
import ssl
import sys

from PySide6.QtCore import QMessageLogContext, QSettings, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from app.ui.bridge import HubBridge
from app.ui.city_services import CityServices
from app.ui.display import quiet_environment
from app.ui.main_window import MainWindow
from app.ui.theme import apply_theme

log = logging.getLogger("watchfloor.console")
qt_log = logging.getLogger("watchfloor.qt")

#: What Qt's multimedia and WebEngine print on machines without sound, a GPU or a session bus (no PipeWire, no
#: PulseAudio server, no Vulkan, no VA-API): true, harmless, and nothing a dispatcher can act on. Kept at debug.
NOISY_CATEGORIES = ("qt.multimedia", "qt.webenginecontext", "qt.rhi")
NOISY_MESSAGES = ("PulseAudioService:", "Failed to create Vulkan instance", "Failed to create platform Vulkan",
                  "Unable to detect GPU vendor", "GPUInfo not initialized", "libva ")


def _qt_message(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's messages into Python's logging: library noise at debug, the rest at its own level."""
    category = context.category or "default"
    if category.startswith(NOISY_CATEGORIES) or message.startswith(NOISY_MESSAGES):
        qt_log.debug("%s: %s", category, message)
        return
    level = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
             QtMsgType.QtWarningMsg: logging.WARNING}.get(mode, logging.ERROR)
    qt_log.log(level, "%s: %s", category, message)


def quiet_libraries() -> None:
    """Keep library noise off the terminal: Qt's own messages through `_qt_message`, and the environment of
    `quiet_environment` (which the command lines set before they import Qt at all)."""
    quiet_environment()
    qInstallMessageHandler(_qt_message)


def quit_on_interrupt(app: QApplication) -> None:
    """Ctrl-C (and SIGTERM) quit the event loop, so the caller's clean-up runs. Qt's loop is C++: Python's
    signal handlers only run when Python gets control, so a timer hands it control a few times a second. The quit
    is posted to the loop rather than called: a signal that comes before `exec()` starts would otherwise be lost
    (`quit()` outside a running loop does nothing) and the window would run on."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, app.quit))
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)


def prepare_qt() -> None:
    """Before the QApplication exists: library noise off, WebEngine flags for root/headless, the map's URL
    scheme."""
    quiet_libraries()
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
