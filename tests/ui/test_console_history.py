"""A console's incident timeline is the hub's history of the incident, extended live: a console that joins
mid-shift shows the same timeline as one connected from the start, the drone's part included (real hub)."""

from __future__ import annotations

from app.client.connection import HubClient
from tests.ui import console_fixtures
from tests.ui.console_fixtures import PASSWORD

hub = console_fixtures.hub
console = console_fixtures.console


def texts(window, incident: str) -> list[str]:
    return [e.text for e in window.timelines.of(incident)]


def test_a_console_joining_mid_shift_shows_the_same_incident_timeline(qtbot, hub, console):
    there = console("fire1")  # connected since the start of the shift
    there.send("incident.create", {"type": "structure_fire", "lat": 60.1699, "lon": 24.9384,
                                   "address": "Aleksanterinkatu 52", "notes": "smoke"})
    qtbot.waitUntil(lambda: bool(there.picture.incidents), timeout=10000)
    incident = next(iter(there.picture.incidents))
    there.show_incident(incident)
    there.send("unit.assign", {"unit": "E1", "incident": incident})
    qtbot.waitUntil(lambda: there.picture.units["E1"].incident == incident, timeout=10000)

    async def drone_work() -> None:  # the fire drone operator's part, from another client
        pilot = HubClient(hub.url, "op1", PASSWORD)
        pilot.start()
        await pilot.wait_for(lambda: pilot.state == "connected", 10)
        await pilot.call("drone.register", {"id": "UAV7", "agency": "fire"})
        await pilot.call("drone.assign", {"drone": "UAV7", "incident": incident})
        await pilot.call("incident.note", {"incident": incident, "text": "drone over the roof"})
        await pilot.close()

    hub.run(drone_work())
    qtbot.waitUntil(lambda: "drone over the roof" in " ".join(texts(there, incident)), timeout=10000)

    joined = console("fire1")  # joins mid-shift: its picture starts from a snapshot
    joined.show_incident(incident)
    qtbot.waitUntil(lambda: texts(joined, incident) == texts(there, incident), timeout=10000)
    # And both grow alike with what happens next.
    there.send("incident.note", {"incident": incident, "text": "after the join"})
    there.send("unit.status", {"unit": "E1", "status": "en_route"})
    qtbot.waitUntil(lambda: any("E1 en route" in t for t in texts(there, incident)), timeout=10000)
    qtbot.waitUntil(lambda: texts(joined, incident) == texts(there, incident), timeout=10000)
    lines = texts(joined, incident)
    assert lines[0].startswith("Created: Structure fire") and "Drone UAV7 assigned" in lines
    assert "Note: after the join" in lines
    rendered = joined.detail.timeline.toPlainText()
    assert "Drone UAV7 assigned" in rendered and "smoke" in rendered
