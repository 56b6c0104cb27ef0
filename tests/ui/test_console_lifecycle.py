"""A call's lifecycle from the keyboard against a real hub: held calls in the pending queue, under control,
reopen, withdrawing an aid request, aid requests that end with their incident, and searching every incident."""

from __future__ import annotations

from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad
from tests.ui.test_console_unit_operations import _incident

hub = console_fixtures.hub
console = console_fixtures.console


def test_hold_under_control_reopen_and_aid_that_ends_with_its_incident(qtbot, hub, console) -> None:
    fire, police = console("fire1"), console("police1")
    urgent = _incident(qtbot, hub, fire, priority=2, address="Bulevardi 1")
    waiting = _incident(qtbot, hub, fire, priority=1, address="Erottaja 1")
    # A held call waits at the end of the pending queue (Q), marked in the incident queue.
    type_cad(qtbot, fire, f"HOLD {waiting} waiting for police to secure")
    qtbot.waitUntil(lambda: fire.picture.incidents[waiting].held, timeout=5000)
    row = fire.queue_model.row_of(waiting)
    assert "HELD waiting for police to secure" in fire.queue_model.index(row, 4).data()
    type_cad(qtbot, fire, "Q")
    lines = fire.command_line.feedback.text().splitlines()
    assert lines[0] == "Pending calls (2):"
    assert lines[1].startswith(urgent) and lines[2].startswith(waiting) and "HELD" in lines[2]
    type_cad(qtbot, fire, f"UNHOLD {waiting}")
    qtbot.waitUntil(lambda: not fire.picture.incidents[waiting].held, timeout=5000)

    # Under control, then an aid request that the incident's close ends: police can no longer accept it.
    type_cad(qtbot, fire, f"D E1 {urgent}")
    type_cad(qtbot, fire, "OS E1")
    qtbot.waitUntil(lambda: hub.unit_status("E1") == "on_scene", timeout=5000)
    type_cad(qtbot, fire, f"UC {urgent}")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents[urgent].status.value) == "under_control", timeout=5000)
    type_cad(qtbot, fire, f"AID {urgent} police traffic control")
    qtbot.waitUntil(lambda: police.alerts.pending_for_me() == ["AR-1"], timeout=5000)
    type_cad(qtbot, fire, f"CLA {urgent} resolved")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.aid_requests["AR-1"].state) == "cancelled", timeout=5000)
    qtbot.waitUntil(lambda: police.alerts.pending_for_me() == [], timeout=5000)
    type_cad(qtbot, police, "ACC AR-1")
    qtbot.waitUntil(lambda: police.command_line.has_error(), timeout=5000)
    assert "already cancelled" in police.command_line.feedback.text()
    assert "police" not in hub.look(lambda p: p.incidents[urgent].agencies)

    # Reopen (the owner's dispatcher may), and withdraw an aid request nobody answered.
    type_cad(qtbot, fire, f"RO {urgent} caller rang back: smoke again")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents[urgent].status.value) == "new", timeout=5000)
    type_cad(qtbot, fire, f"AID {urgent} police")
    qtbot.waitUntil(lambda: police.alerts.pending_for_me() == ["AR-2"], timeout=5000)
    type_cad(qtbot, police, "CAN AR-2")
    qtbot.waitUntil(lambda: "is fire's to withdraw" in police.command_line.feedback.text(), timeout=5000)
    type_cad(qtbot, fire, "CAN AR-2 fire out")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.aid_requests["AR-2"].state) == "cancelled", timeout=5000)


def test_search_every_incident_by_number_address_type_unit_and_time(qtbot, hub, console) -> None:
    fire, police = console("fire1"), console("police1")
    hidden = _incident(qtbot, hub, police, type="assault", address="Bulevardi 5", restricted=True)
    first = _incident(qtbot, hub, fire, address="Bulevardi 1")
    _incident(qtbot, hub, fire, type="fire_alarm", address="Erottaja 1")
    type_cad(qtbot, fire, f"D E2 {first}")
    type_cad(qtbot, fire, f"CLA {first} resolved")
    qtbot.waitUntil(lambda: fire.picture.incidents[first].status == "closed", timeout=5000)

    def search(line: str) -> list[str]:
        type_cad(qtbot, fire, line)  # the hub answers from its whole history
        qtbot.waitUntil(lambda: "asking the hub" not in fire.command_line.feedback.text(), timeout=5000)
        return fire.command_line.feedback.text().splitlines()

    found = search("S unit:E2")  # a closed incident is found by a unit that was on it
    assert found[0] == "Search “unit:E2” (1):" and found[1].startswith(f"{first} P1 Structure fire")
    assert "CLOSED" in found[1]
    assert search("S erottaja type:fire_alarm since:1h")[0].endswith("(1):")
    assert search(f"S {first}")[1].startswith(first)
    # Police's restricted call on the same street is not fire's to find.
    assert search("S bulevardi")[0] == "Search “bulevardi” (1):"
    type_cad(qtbot, police, "S bulevardi")
    qtbot.waitUntil(lambda: "(2):" in police.command_line.feedback.text(), timeout=5000)
    assert hidden in police.command_line.feedback.text()
    assert search("S bulevardi until:1h") == ["Search “bulevardi until:1h”: none"]
    search("S since:yesterday")
    assert fire.command_line.has_error() and "since:2h" in fire.command_line.feedback.text()
