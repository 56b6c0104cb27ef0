"""What Qt needs from the machine, settled before Qt is imported: is there a display it can open (asked first,
because Qt's answer is an abort), and its libraries' chatter kept off the terminal.

Without a display, Qt's xcb plugin prints "could not connect to display" and a hint about libxcb-cursor0 (which
is rarely the cause), then aborts the process (exit 134). Checking first lets `watchfloor demo` and
`watchfloor console` say in one sentence what to do instead. No Qt is imported here.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

#: Qt platform plugins that need no window system.
NO_WINDOW_SYSTEM = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "minimalegl", "vkkhrdisplay")


#: Qt logging categories that report how Qt multimedia found the machine (no PipeWire, which FFmpeg), logged
#: while QtMultimedia loads: before any message handler can be installed, so they are switched off by rule.
QUIET_RULES = "qt.multimedia.symbolsresolver.warning=false;qt.multimedia.ffmpeg.info=false"


def quiet_environment() -> None:
    """Before Qt is imported: keep library noise off the terminal. Qt's multimedia categories by rule, Chromium's
    log at fatal only, VA-API's banner off (both write to stderr themselves). What the user set is kept."""
    rules = os.environ.get("QT_LOGGING_RULES")
    os.environ["QT_LOGGING_RULES"] = f"{QUIET_RULES};{rules}" if rules else QUIET_RULES  # later rules win
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not flags:
        flags = "--no-sandbox --disable-gpu"  # root (CI, containers): Chromium's sandbox refuses to run as root
    if "--log-level" not in flags:
        flags = f"{flags} --log-level=3".strip()
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = flags
    os.environ.setdefault("LIBVA_MESSAGING_LEVEL", "0")


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why Qt cannot open a window here (a clause, for a sentence), or None when it can (or we cannot tell)."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None  # Windows and macOS always have their own window system
    plugin = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if plugin in NO_WINDOW_SYSTEM:
        return None
    wayland, x11 = env.get("WAYLAND_DISPLAY", ""), env.get("DISPLAY", "")
    if plugin.startswith("wayland"):
        return None if wayland and _wayland_reachable(wayland, env) else _missing("WAYLAND_DISPLAY", wayland)
    if plugin == "xcb" or not wayland:
        if not x11:
            return ("there is no display (DISPLAY and WAYLAND_DISPLAY are not set)" if not plugin
                    else f"QT_QPA_PLATFORM={plugin} needs a display, and DISPLAY is not set")
        return None if _x11_reachable(x11) else f"the X display {x11} (DISPLAY) does not answer"
    if _wayland_reachable(wayland, env) or (x11 and _x11_reachable(x11)):
        return None  # Qt falls back from wayland to xcb
    return _missing("WAYLAND_DISPLAY", wayland)


def _missing(variable: str, value: str) -> str:
    return f"the display {value} ({variable}) does not answer" if value else f"{variable} is not set"


def _x11_reachable(display: str) -> bool:
    """Whether an X server listens for `display` ("[host]:N[.screen]"): its socket, without speaking X."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return True  # a form we do not know (launchd paths on macOS...): let Qt try
    if host in ("", "unix"):
        return Path(f"/tmp/.X11-unix/X{number}").exists() or _abstract_x11(int(number))
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=2):
            return True
    except OSError:
        return False


def _abstract_x11(number: int) -> bool:
    """Linux X servers also listen on an abstract socket (the file may be hidden from a container)."""
    if not hasattr(socket, "AF_UNIX"):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(f"\0/tmp/.X11-unix/X{number}")
            return True
        except OSError:
            return False


def _wayland_reachable(name: str, env: Mapping[str, str]) -> bool:
    path = Path(name) if name.startswith("/") else Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / name
    return path.exists()
