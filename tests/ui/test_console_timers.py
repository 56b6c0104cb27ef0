"""Unit timers on the console against a real hub: a countdown on the unit board, an overdue alert (row colour,
an entry under Alerts, a cue) that the dispatcher acknowledges from the keyboard (logged as `unit.checked`), the
limits taken from the console's settings per agency, and stale positions marked."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt

from app.ui.models import OVERDUE_COLOUR, STALE_MARK, UnitBoardModel
from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad
from tests.ui.test_console_unit_operations import _incident

hub = console_fixtures.hub
console = console_fixtures.console
TIMER = UnitBoardModel.TIMER_COLUMN


def _limits(tmp_path: Path, user: str, **values: float) -> None:
    settings = QSettings(str(tmp_path / f"{user}.ini"), QSettings.Format.IniFormat)
    for key, value in values.items():
        settings.setValue(key, value)
    settings.sync()


def test_overdue_turnout_is_alerted_and_acknowledged(qtbot, hub, console, tmp_path) -> None:
    # Fire's turnout limit is 2 s on this console (settings), so a dispatched engine goes overdue at once;
    # police keeps its default (2 minutes).
    _limits(tmp_path, "fire1", **{"timers/fire/turnout_s": 2})
    fire = console("fire1")
    call = _incident(qtbot, hub, fire)
    type_cad(qtbot, fire, f"D E1 {call}")
    qtbot.waitUntil(lambda: fire.picture.units["E1"].status == "dispatched", timeout=5000)
    row = fire.unit_model.row_of("E1")
    assert fire.unit_model.index(row, TIMER).data().startswith("turnout 0:0")  # counting down
    qtbot.waitUntil(lambda: fire.alerts.timers.count() == 1, timeout=5000)
    assert fire.unit_model.index(row, TIMER).data().startswith("TURNOUT +")
    assert fire.unit_model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole).color().name() == OVERDUE_COLOUR
    assert fire.alerts.timers_box.isVisible()
    assert fire.alerts.timers.item(0).text().startswith("‼ E1 (FIRE) turnout overdue by")
    assert "Overdue: E1 turnout" in fire.statusBar().currentMessage()

    if os.environ.get("WATCHFLOOR_SCREENSHOTS"):
        fire.resize(1920, 1080)
        # A few seconds overdue, as a dispatcher would find it.
        qtbot.waitUntil(lambda: "TURNOUT +0:03" in fire.unit_model.index(row, TIMER).data(), timeout=8000)
        qtbot.waitUntil(lambda: "by 0:03" in fire.alerts.timers.item(0).text(), timeout=2000)
        fire.grab().save(os.path.join(os.environ["WATCHFLOOR_SCREENSHOTS"], "overdue_timer.png"))

    # The dispatcher checks on the crew and acknowledges from the keyboard: Shift+F7, Enter on the overdue entry.
    fire.activateWindow()
    qtbot.waitUntil(fire.isActiveWindow)
    fire.command_line.focus()
    qtbot.keyClick(fire.command_line.edit, Qt.Key.Key_F7, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: fire.alerts.timers.hasFocus())
    qtbot.keyClick(fire.alerts.timers, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.units["E1"].checked_at) is not None, timeout=5000)
    checks = hub.look(lambda p: p.units["E1"].checked_at)
    assert checks >= hub.look(lambda p: p.units["E1"].status_at)
    # The clock restarts from the check, so it goes overdue again 2 s later, marked as checked once.
    qtbot.waitUntil(lambda: "✓" in fire.unit_model.index(row, TIMER).data(), timeout=5000)
    # ACK on the CAD line does the same (a new check, logged).
    qtbot.waitUntil(lambda: fire.alerts.timers.count() == 1, timeout=5000)
    type_cad(qtbot, fire, "ACK E1")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.units["E1"].checked_at) > checks, timeout=5000)
    # Going en route starts the en-route clock (fire's default: 10 minutes): nothing overdue.
    type_cad(qtbot, fire, "ER E1")
    qtbot.waitUntil(lambda: fire.unit_model.index(row, TIMER).data().startswith("en route 9:"), timeout=5000)
    qtbot.waitUntil(lambda: not fire.alerts.timers_box.isVisible(), timeout=5000)


def test_stale_positions_are_marked_on_the_board_and_the_map(qtbot, hub, console, tmp_path) -> None:
    _limits(tmp_path, "fire1", **{"timers/fire/stale_s": 1})
    fire = console("fire1")
    row = fire.unit_model.row_of("E1")
    qtbot.waitUntil(lambda: STALE_MARK in fire.unit_model.index(row, 0).data(), timeout=5000)
    assert "position STALE" in fire.unit_model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert STALE_MARK not in fire.unit_model.index(fire.unit_model.row_of("P1"), 0).data()  # police: 2 minutes
    assert fire.map.units["E1"]["fix_every"] == 1
