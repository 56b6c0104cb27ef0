"""The console stays legible: long CAD feedback never widens the window, the help shows its placeholders, the
priority-1 banner leaves with its incident, and the text size follows Ctrl+= / Ctrl+- and is kept per user."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette, QTextDocument
from PySide6.QtWidgets import QApplication, QMessageBox

from app.ui.theme import DEFAULT_FONT_PT, agency_color, apply_theme, current_font_pt, current_theme
from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad

hub = console_fixtures.hub
console = console_fixtures.console


def _settle(window) -> None:
    """Run the pending layout passes now, inside out, as the event loop would (no waiting on a clock)."""
    for widget in (window.command_line, window.centralWidget(), window):
        widget.layout().activate()


def _close_dialogs(window) -> None:
    for box in window.findChildren(QMessageBox):
        box.close()


def test_help_and_a_long_refusal_leave_the_window_width_alone(qtbot, hub, console) -> None:
    fire = console("fire1")
    qtbot.waitUntil(lambda: fire.isVisible())
    width = fire.width()
    type_cad(qtbot, fire, "HELP")
    qtbot.waitUntil(lambda: any(b.isVisible() for b in fire.findChildren(QMessageBox)))
    _settle(fire)
    assert fire.minimumSizeHint().width() < width
    assert fire.width() == width
    _close_dialogs(fire)
    fire.command_line.edit.clear()
    # A refusal far longer than any screen: an address the geocoder cannot find is quoted back in full.
    fire.send("incident.create", {"type": "fire_alarm", "lat": 60.17, "lon": 24.94, "address": "Bulevardi 1"})
    qtbot.waitUntil(lambda: "1001" in fire.picture.incidents, timeout=5000)
    type_cad(qtbot, fire, "ADDR 1001 " + "Nowhere street behind the old harbour warehouse " * 40)
    qtbot.waitUntil(lambda: fire.command_line.has_error(), timeout=5000)
    assert len(fire.command_line.feedback.text()) > 300
    # An unwrapped label asks for its whole text's width (thousands of px), and the window has to give it.
    _settle(fire)
    assert fire.minimumSizeHint().width() < width
    assert fire.width() == width
    assert fire.centralWidget().width() <= fire.width()


def test_help_shows_every_argument_placeholder(qtbot, hub, console) -> None:
    fire = console("fire1")
    box = fire.show_help()
    shown = QTextDocument()
    shown.setHtml(box.text())  # what the rich-text label renders
    text = shown.toPlainText()
    assert "D <unit> [<unit> ...] <incident>" in text
    assert "CL <incident> <disposition>" in text
    box.close()


def test_priority_one_banner_leaves_when_its_incident_closes(qtbot, hub, console) -> None:
    police = console("police1")
    fire = console("fire1")
    fire.send("incident.create", {"type": "cardiac_arrest", "lat": 60.17, "lon": 24.94, "address": "Kalevankatu 3"})
    qtbot.waitUntil(lambda: police.banner.subject == ("incident", "1001"), timeout=5000)
    fire.send("incident.close", {"incident": "1001", "disposition": "resolved"})
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].status.value) == "closed", timeout=5000)
    qtbot.waitUntil(lambda: not police.banner.isVisible(), timeout=5000)


def test_text_size_follows_ctrl_plus_minus_and_is_kept(qtbot, hub, console, tmp_path) -> None:
    app = QApplication.instance()
    apply_theme(app, current_theme(app), DEFAULT_FONT_PT)
    try:
        fire = console("fire1")
        fire.activateWindow()
        size_of = lambda: fire.command_line.feedback.font().pointSize()  # noqa: E731
        assert size_of() == DEFAULT_FONT_PT
        qtbot.keyClick(fire, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(fire, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: size_of() == DEFAULT_FONT_PT + 2)
        qtbot.keyClick(fire, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: size_of() == DEFAULT_FONT_PT + 1)
        fire.close()
        kept = QSettings(str(tmp_path / "fire1.ini"), QSettings.Format.IniFormat)
        assert int(kept.value("fire1/font_pt")) == DEFAULT_FONT_PT + 1
        # A new console for the same user comes back at that size.
        apply_theme(app, current_theme(app), DEFAULT_FONT_PT)
        again = console("fire1")
        assert current_font_pt(app) == DEFAULT_FONT_PT + 1
        assert again.command_line.feedback.font().pointSize() == DEFAULT_FONT_PT + 1
    finally:
        apply_theme(app, current_theme(app), DEFAULT_FONT_PT)


def _cut_cells(view) -> list[str]:
    """The cells of a board whose text does not fit its column (or row) at the view's current font."""
    model, cut = view.model(), []
    stretch = [c for c in range(model.columnCount())
               if view.horizontalHeader().sectionResizeMode(c) == view.horizontalHeader().ResizeMode.Stretch]
    for row in range(model.rowCount()):
        if view.rowSpan(row, 0) > 1 or view.columnSpan(row, 0) > 1:
            continue  # an agency header row spans the whole board
        for column in range(model.columnCount()):
            text = str(model.index(row, column).data() or "")
            font = model.index(row, column).data(Qt.ItemDataRole.FontRole) or view.font()
            font.setPointSize(view.font().pointSize())
            metrics = QFontMetrics(font)
            if column not in stretch and metrics.horizontalAdvance(text) + 6 > view.columnWidth(column):
                cut.append(f"{text!r} in column {column}")
            if metrics.height() > view.rowHeight(row):
                cut.append(f"{text!r} in row {row} (height)")
    return cut


def test_board_columns_fit_their_text_at_a_large_size(qtbot, hub, console) -> None:
    app = QApplication.instance()
    apply_theme(app, current_theme(app), DEFAULT_FONT_PT)
    try:
        fire = console("fire1")
        fire.send("incident.create", {"type": "structure_fire", "lat": 60.17, "lon": 24.94,
                                      "address": "Mannerheimintie 100"})
        qtbot.waitUntil(lambda: "1001" in fire.picture.incidents, timeout=5000)
        fire.send("unit.assign", {"unit": "E1", "incident": "1001"})
        qtbot.waitUntil(lambda: fire.picture.units["E1"].incident == "1001", timeout=5000)
        for _ in range(6):
            fire.zoom_text(1)
        qtbot.waitUntil(lambda: fire.units.font().pointSize() == DEFAULT_FONT_PT + 6)
        QApplication.processEvents()
        assert _cut_cells(fire.units) == []
        assert _cut_cells(fire.queue) == []
    finally:
        apply_theme(app, current_theme(app), DEFAULT_FONT_PT)


def test_white_ems_is_darkened_on_whatever_light_background_the_console_has(qapp) -> None:
    """EMS's colour is white: on a light background (the light theme, or Qt's default palette before any theme is
    applied) its unit board header and callsigns would vanish; on the dark theme it stays white."""
    saved = qapp.palette(), qapp.styleSheet(), qapp.property("wf_theme")
    try:
        for light in (True, False):
            if light:
                qapp.setPalette(QPalette(QColor("#ffffff")))  # no theme applied: a light palette
            else:
                apply_theme(qapp, "dark")
            background = qapp.palette().color(QPalette.ColorRole.Base).lightnessF()
            ems = QColor(agency_color("medical")).lightnessF()
            assert abs(background - ems) > 0.4, (light, background, ems)
    finally:  # as it was: later tests see no theme applied
        qapp.setStyleSheet(saved[1])
        qapp.setProperty("wf_theme", saved[2])
        qapp.setPalette(saved[0])
