"""The Security panel through the real widgets against a real hub: a registered modem's CoT teleports its
engine; the supervisor's Security panel lists the finding and acknowledges it with the A key; the dispatcher
has no Security panel and no finding, and both unit boards mark the engine's position as suspect."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

from PySide6.QtCore import Qt

from app.domain.commands import RegisterDevice
from app.domain.plausibility import GNSS_WARNINGS
from app.feeds.cot import encode_position
from app.ui.models import SUSPECT_MARK
from app.ui.panels.security import RULE_LABELS
from tests.ui import console_fixtures
from tests.ui.console_fixtures import PASSWORD
from tests.ui.test_console_devices import register

hub = console_fixtures.hub
console = console_fixtures.console


def send_fix(port: int, lat: float, taken: float) -> None:
    frame = encode_position("MODEM-E1", lat, 24.94, callsign="E1", group="Red",
                            time=datetime.fromtimestamp(taken, UTC))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(frame, ("127.0.0.1", port))


def board_text(window, unit: str) -> str:  # type: ignore[no-untyped-def]
    model = window.unit_model
    row = next(r for r in range(model.rowCount()) if model.key(r) == unit)
    return str(model.data(model.index(row, 0)))


def test_the_supervisor_sees_and_acknowledges_a_finding_and_the_fix_is_marked(qtbot, hub, console) -> None:
    hub.ensure_user("super1", PASSWORD, "supervisor", "fire")
    ports = hub.run(hub.hub.start_feeds(cot_udp_port=0))
    register(hub, RegisterDevice(id="MODEM-E1", agency="fire", formats=["cot"], transport="udp",
                                 source="127.0.0.1", units=["E1"]))
    boss, fire = console("super1"), console("fire1")
    panel = boss.triage_desk.security
    assert boss.docks["security"].isVisible() and not fire.docks["security"].isVisible()
    assert not fire.docks["security"].toggleViewAction().isVisible()

    start = time.time()
    send_fix(ports["cot_udp"], 60.1701, start)
    qtbot.waitUntil(lambda: abs((fire.picture.units["E1"].lat or 0) - 60.1701) < 1e-7, timeout=5000)
    assert board_text(fire, "E1") == "E1"
    send_fix(ports["cot_udp"], 60.2150, start + 2)  # 5 km north two seconds later
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=5000)
    cells = [panel.table.item(0, c).text() for c in range(len(panel.HEADERS))]
    assert cells[1:5] == ["SA-1", "E1", "device:MODEM-E1", "teleport"]
    assert "distance m 49" in cells[5] and cells[6] == "new"
    assert boss.docks["security"].windowTitle() == "Security · 1 new"
    qtbot.waitUntil(lambda: board_text(fire, "E1") == f"E1 {SUSPECT_MARK}", timeout=5000)
    assert board_text(boss, "E1") == f"E1 {SUSPECT_MARK}"
    assert fire.triage_desk.security.table.rowCount() == 0 and fire.picture.security.alerts == {}

    panel.table.selectRow(0)
    panel.note.setText("crew confirms they are at the station")
    panel.table.setFocus()
    qtbot.keyClick(panel.table, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.security.alerts["SA-1"].acknowledged_by) == "super1", timeout=5000)
    qtbot.waitUntil(lambda: panel.table.item(0, 6).text()
                    == "acknowledged by super1: crew confirms they are at the station", timeout=5000)
    assert not panel.acknowledge_button.isEnabled() and boss.docks["security"].windowTitle() == "Security"


def test_the_panel_explains_the_gnss_warnings_devices_raise() -> None:
    """A receiver's own jamming, spoofing or unsafe warning is shown with what it means, not just its code."""
    assert set(GNSS_WARNINGS.values()) <= set(RULE_LABELS)
