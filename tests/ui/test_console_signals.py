"""The supervisor's signal priority switch on the console, against a real hub: suspend it inside a zone, every
console sees the area, a dispatcher cannot, and the supervisor resumes it."""

from __future__ import annotations

from tests.ui import console_fixtures

hub = console_fixtures.hub
console = console_fixtures.console


def test_a_supervisor_suspends_signal_priority_in_a_zone_and_resumes_it(qtbot, hub, console) -> None:
    hub.ensure_user("super1", console_fixtures.PASSWORD, "supervisor", "fire")
    supervisor = console("super1")
    police = console("police1")
    qtbot.waitUntil(lambda: supervisor.signal_tools.suspend_action.isEnabled())
    assert not police.signal_tools.suspend_action.isEnabled()
    supervisor.send("zone.create", {"name": "Roadworks", "polygon": [[60.1695, 24.9400], [60.1712, 24.9400],
                                                                      [60.1712, 24.9425]]})
    qtbot.waitUntil(lambda: "Z-1" in supervisor.picture.zones)

    police.signal_tools.suspend_in_zone("Z-1", "not mine to switch")  # refused by the hub: nothing changes
    supervisor.signal_tools.suspend_in_zone("Z-1", "roadworks on Kaisaniemenkatu")
    qtbot.waitUntil(lambda: hub.look(lambda p: "SP-1" in p.signal_suspensions), timeout=5000)
    assert hub.look(lambda p: len(p.signal_suspensions)) == 1
    qtbot.waitUntil(lambda: "SP-1" in police.picture.signal_suspensions, timeout=5000)
    area = police.picture.signal_suspensions["SP-1"]
    assert (area.note, area.by, len(area.polygon)) == ("roadworks on Kaisaniemenkatu", "super1", 3)

    supervisor.signal_tools.resume("SP-1")
    qtbot.waitUntil(lambda: not police.picture.signal_suspensions, timeout=5000)
