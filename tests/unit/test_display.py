"""The display check `watchfloor demo` and `watchfloor console` make before Qt can abort (app/ui/display.py)."""

from __future__ import annotations

from pathlib import Path

from app.ui.display import display_problem


def test_no_display_at_all() -> None:
    assert display_problem({}, "linux") == "there is no display (DISPLAY and WAYLAND_DISPLAY are not set)"
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") == \
        "QT_QPA_PLATFORM=xcb needs a display, and DISPLAY is not set"


def test_platforms_without_windows_need_no_display() -> None:
    for plugin in ("offscreen", "vnc", "minimal", "eglfs", "linuxfb", "offscreen:size=800x600"):
        assert display_problem({"QT_QPA_PLATFORM": plugin}, "linux") is None


def test_a_display_that_does_not_answer(tmp_path: Path) -> None:
    assert display_problem({"DISPLAY": ":987"}, "linux") == "the X display :987 (DISPLAY) does not answer"
    assert display_problem({"DISPLAY": "127.0.0.1:987"}, "linux") == \
        "the X display 127.0.0.1:987 (DISPLAY) does not answer"
    env = {"WAYLAND_DISPLAY": "wayland-7", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert display_problem(env, "linux") == "the display wayland-7 (WAYLAND_DISPLAY) does not answer"
    (tmp_path / "wayland-7").touch()  # the compositor's socket
    assert display_problem(env, "linux") is None


def test_other_systems_always_have_a_window_system() -> None:
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None
