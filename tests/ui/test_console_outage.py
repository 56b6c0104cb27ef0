"""A hub outage is unmistakable (whole-console strip with the picture's age, the map veiled), and what was typed
during it is shown for confirmation after the reconnect: sent once when confirmed, never when dropped."""

from __future__ import annotations

from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad

hub = console_fixtures.hub
console = console_fixtures.console


def _incident(qtbot, hub, window) -> str:
    window.send("incident.create", {"type": "fire_alarm", "lat": 60.17, "lon": 24.94, "address": "Bulevardi 1"})
    qtbot.waitUntil(lambda: "1001" in window.picture.incidents, timeout=5000)
    return "1001"


def _outage_then_dispatch(qtbot, hub, window) -> str:
    incident = _incident(qtbot, hub, window)
    hub.stop()
    qtbot.waitUntil(lambda: window.status.state != "connected", timeout=10000)
    type_cad(qtbot, window, f"D E1 {incident}")
    qtbot.waitUntil(lambda: window.status.queued == 1, timeout=5000)
    hub.start()  # same database, same port
    qtbot.waitUntil(lambda: window.held_dialog is not None, timeout=15000)
    return incident


def _round_trip(qtbot, hub, window, incident: str, text: str) -> None:
    """A note sent after the decision has reached the hub: anything sent before it on the link has too. Waits for
    the console to hold the note's answer as well: a hub stopped before the answer arrives leaves the note in the
    outbox, and the reconnect rightly holds it for confirmation."""
    window.send("incident.note", {"incident": incident, "text": text})
    qtbot.waitUntil(lambda: text in hub.look(lambda p: [n.text for n in p.incidents[incident].notes]), timeout=5000)
    qtbot.waitUntil(lambda: window.status.queued == len(window.status.held), timeout=5000)


def test_outage_strip_with_the_pictures_age_and_a_veiled_map_until_the_hub_is_back(qtbot, hub, console) -> None:
    fire = console("fire1")
    assert not fire.outage_bar.isVisible() and not fire.map_dimmer.isVisible()
    hub.stop()
    qtbot.waitUntil(lambda: fire.outage_bar.isVisible(), timeout=10000)
    assert fire.map_dimmer.isVisible()
    assert fire.map_dimmer.geometry() == fire.map.rect()
    text = fire.outage.text()
    assert "HUB CONNECTION LOST" in text and "NOT LIVE: the picture is 0:0" in text and "last live" in text
    assert "NOT LIVE" in fire.map_dimmer.text()
    # The strip spans the console, above the docks, not only the map's column.
    assert fire.outage_bar.width() >= fire.width() - 20
    hub.start()
    qtbot.waitUntil(lambda: fire.status.state == "connected", timeout=15000)
    qtbot.waitUntil(lambda: not fire.outage_bar.isVisible() and not fire.map_dimmer.isVisible())


def test_a_dispatch_typed_during_the_outage_waits_for_confirmation_then_goes_once(qtbot, hub, console) -> None:
    fire = console("fire1")
    incident = _outage_then_dispatch(qtbot, hub, fire)
    dialog = fire.held_dialog
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == [f"dispatch E1 to {incident}"]
    # Held, not sent: a command sent after it reaches the hub while E1 is still free.
    _round_trip(qtbot, hub, fire, incident, "while the dialog is open")
    assert hub.unit_status("E1") == "available"
    dialog.send_button.click()
    qtbot.waitUntil(lambda: hub.look(lambda p: (p.units["E1"].status.value, p.units["E1"].incident))
                    == ("dispatched", incident), timeout=5000)
    qtbot.waitUntil(lambda: fire.status.queued == 0 and not fire.status.held, timeout=5000)
    assigned = hub.look(lambda p: sum(1 for n in p.incidents[incident].units if n == "E1"))
    assert assigned == 1
    assert fire.held_dialog is None


def test_a_dispatch_dropped_after_the_outage_is_never_sent(qtbot, hub, console) -> None:
    fire = console("fire1")
    incident = _outage_then_dispatch(qtbot, hub, fire)
    fire.held_dialog.drop_button.click()
    qtbot.waitUntil(lambda: "dropped after the outage, never sent" in fire.command_line.feedback.text(), timeout=5000)
    qtbot.waitUntil(lambda: fire.status.queued == 0 and not fire.status.held, timeout=5000)
    _round_trip(qtbot, hub, fire, incident, "after the drop")
    assert hub.unit_status("E1") == "available"
    # Nor after a later reconnect.
    hub.stop()
    qtbot.waitUntil(lambda: fire.status.state != "connected", timeout=10000)
    hub.start()
    qtbot.waitUntil(lambda: fire.status.state == "connected", timeout=15000)
    _round_trip(qtbot, hub, fire, incident, "after the second outage")
    assert hub.unit_status("E1") == "available"
    assert fire.held_dialog is None
