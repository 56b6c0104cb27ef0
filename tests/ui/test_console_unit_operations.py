"""Unit operations from the keyboard against a real hub: many units per CAD line (each refusal reported on its
own while the others go), divert with a reason, a stacked next assignment, release-all-and-close by the owning
agency; and a three-agency call to close, counting the keystrokes."""

from __future__ import annotations

from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad

hub = console_fixtures.hub
console = console_fixtures.console


def _incident(qtbot, hub, window, **extra) -> str:
    before = hub.look(lambda p: len(p.incidents))
    window.send("incident.create", {"type": "structure_fire", "lat": 60.17, "lon": 24.94, "address": "Bulevardi 1",
                                    **extra})
    qtbot.waitUntil(lambda: hub.look(lambda p: len(p.incidents)) > before, timeout=5000)
    incident = hub.look(lambda p: max(p.incidents, key=int))
    qtbot.waitUntil(lambda: incident in window.picture.incidents)
    return incident


def test_many_units_divert_stack_and_release_all(qtbot, hub, console) -> None:
    fire, police = console("fire1"), console("police1")
    first = _incident(qtbot, hub, fire, priority=3)
    type_cad(qtbot, fire, f"D E1 E2 L1 {first}")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents[first].units) == ["E1", "E2", "L1"], timeout=5000)
    # Several units on one line: police's P1 is refused, in plain words, while E1 and E2 go.
    type_cad(qtbot, fire, "ER E1 E2 P1")
    qtbot.waitUntil(lambda: fire.command_line.has_error(), timeout=5000)
    feedback = fire.command_line.feedback.text()
    assert "P1 en route: unit P1 belongs to police" in feedback
    assert "✔ E1 en route" in feedback and "✔ E2 en route" in feedback
    assert [hub.unit_status(u) for u in ("E1", "E2", "P1")] == ["en_route", "en_route", "available"]

    # Divert: only to a more urgent call, and the reason is in both narratives.
    urgent = _incident(qtbot, hub, fire, priority=1, address="Aleksanterinkatu 15")
    fire.command_line.edit.clear()
    type_cad(qtbot, fire, f"DIV E1 {urgent} P1 fire, nearest engine")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.units["E1"].incident) == urgent, timeout=5000)
    notes = hub.look(lambda p: [n.text for n in p.incidents[first].notes])
    assert notes == [f"E1 diverted to incident {urgent}: P1 fire, nearest engine"]
    minor = _incident(qtbot, hub, fire, priority=4, address="Erottaja 1")
    type_cad(qtbot, fire, f"DIV E2 {minor} closer")
    qtbot.waitUntil(lambda: "is not more urgent" in fire.command_line.feedback.text(), timeout=5000)
    assert hub.unit_status("E2") == "en_route"

    # A stacked next assignment goes out when the unit becomes available; the board shows it meanwhile.
    fire.command_line.edit.clear()
    type_cad(qtbot, fire, f"STK L1 {urgent}")
    qtbot.waitUntil(lambda: fire.picture.units["L1"].next_incident == urgent, timeout=5000)
    row = fire.unit_model.row_of("L1")
    assert fire.unit_model.index(row, 3).data() == f"{first} → {urgent}"
    type_cad(qtbot, fire, "AV L1")
    qtbot.waitUntil(lambda: hub.look(lambda p: (p.units["L1"].incident, p.units["L1"].status.value))
                    == (urgent, "dispatched"), timeout=5000)

    # Police joins the fire call on fire's aid request; then police may not close fire's call for it...
    type_cad(qtbot, fire, f"AID {first} police traffic control")
    qtbot.waitUntil(lambda: police.alerts.pending_for_me() == ["AR-1"], timeout=5000)
    type_cad(qtbot, police, "ACC AR-1")
    qtbot.waitUntil(lambda: "police" in hub.look(lambda p: p.incidents[first].agencies), timeout=5000)
    type_cad(qtbot, police, f"D P1 {first}")
    qtbot.waitUntil(lambda: hub.unit_status("P1") == "dispatched", timeout=5000)
    type_cad(qtbot, police, f"CLA {first} resolved")
    qtbot.waitUntil(lambda: "may not release E2 (fire)" in police.command_line.feedback.text(), timeout=5000)
    # ... but fire, the owner, releases every unit (police's P1 too) and closes it in one command.
    type_cad(qtbot, fire, f"CLA {first} resolved")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents[first].status.value) == "closed", timeout=5000)
    assert [hub.unit_status(u) for u in ("E2", "P1")] == ["available", "available"]
    qtbot.waitUntil(lambda: police.picture.units["P1"].status == "available", timeout=5000)


def test_three_agency_call_to_close_keystrokes(qtbot, hub, console) -> None:
    """The call-to-close of issue 16 with fire, police and medical, typed on the CAD line. Keystrokes: every
    character typed plus Enter. The same call in main's CAD language is counted below for comparison."""
    fire, police, medical = console("fire1"), console("police1"), console("medical1")
    call = _incident(qtbot, hub, fire)
    typed: list[str] = []

    def cad(window, line: str) -> None:
        typed.append(line)
        type_cad(qtbot, window, line)

    cad(fire, f"D E1 E2 L1 {call}")
    qtbot.waitUntil(lambda: hub.look(lambda p: len(p.incidents[call].units)) == 3, timeout=5000)
    cad(fire, f"AID {call} police")
    cad(fire, f"AID {call} medical")
    qtbot.waitUntil(lambda: bool(police.alerts.pending_for_me() and medical.alerts.pending_for_me()), timeout=5000)
    cad(police, "ACC AR-1")
    cad(medical, "ACC AR-2")
    qtbot.waitUntil(lambda: len(hub.look(lambda p: p.incidents[call].agencies)) == 3, timeout=5000)
    cad(police, f"D P1 {call}")
    cad(medical, f"D M1 {call}")
    qtbot.waitUntil(lambda: hub.look(lambda p: len(p.incidents[call].units)) == 5, timeout=5000)
    cad(fire, "ER E1 E2 L1")
    cad(police, "ER P1")
    cad(medical, "ER M1")
    qtbot.waitUntil(lambda: {hub.unit_status(u) for u in ("E1", "E2", "L1", "P1", "M1")} == {"en_route"},
                    timeout=5000)
    cad(fire, "OS E1 E2 L1")
    cad(police, "OS P1")
    cad(medical, "OS M1")
    qtbot.waitUntil(lambda: {hub.unit_status(u) for u in ("E1", "E2", "L1", "P1", "M1")} == {"on_scene"},
                    timeout=5000)
    cad(fire, f"UC {call}")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents[call].status.value) == "under_control", timeout=5000)
    cad(fire, f"CLA {call} resolved")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents[call].status.value) == "closed", timeout=5000)
    assert {hub.unit_status(u) for u in ("E1", "E2", "L1", "P1", "M1")} == {"available"}
    after = sum(len(line) + 1 for line in typed)

    # main: one unit per status line, each agency clears its own units on its own console, then CL.
    units = {"fire": ["E1", "E2", "L1"], "police": ["P1"], "medical": ["M1"]}
    before_lines = [f"D E1 E2 L1 {call}", f"AID {call} police", f"AID {call} medical", "ACC AR-1", "ACC AR-2",
                    f"D P1 {call}", f"D M1 {call}",
                    *(f"{verb} {u}" for verb in ("ER", "OS", "AV") for us in units.values() for u in us),
                    f"CL {call} resolved"]
    before = sum(len(line) + 1 for line in before_lines)
    print(f"\ncall-to-close, three agencies, CAD keystrokes: before (main's language) {before}, after {after}")
    assert after < before
