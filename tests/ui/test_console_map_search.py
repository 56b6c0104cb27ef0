"""The console wires the map's search box and right-click address to its picture and its geocoder, and keeps
the map's clock on its own (positions age against the console's time, a replay's included)."""

from __future__ import annotations

import dataclasses

from app.domain.entities import Unit, UnitStatus
from app.domain.picture import Picture
from app.domain.timers import limits_for
from app.ui.map_feed import MapFeed
from tests.ui import console_fixtures
from tests.ui.schematic_map import SchematicMap

hub = console_fixtures.hub
console = console_fixtures.console


def test_the_console_map_searches_its_picture_and_names_addresses(qtbot, hub, console) -> None:
    window = console("fire1")
    qtbot.waitUntil(lambda: any(u.lat is not None for u in window.picture.units.values()), timeout=5000)
    unit = next(u for u in sorted(window.picture.units.values(), key=lambda u: u.id) if u.lat is not None)
    hits = window.map.search_provider(unit.id.lower())
    assert (hits[0].kind, hits[0].id, hits[0].lat, hits[0].lon) == ("unit", unit.id, unit.lat, unit.lon)
    place = window.map.search_provider("Mannerheimintie 1")[0]
    assert (place.kind, round(place.lat, 4), round(place.lon, 4)) == ("place", 60.1681, 24.9417)
    assert window.map.place_resolver(60.1681, 24.9417) == {"address": "Mannerheimintie 1", "street": "Mannerheimintie"}
    # The map is told when each unit's position was taken and how often its feed should report.
    assert window.map.units[unit.id]["fix_at"] == unit.position_at
    assert window.map.units[unit.id]["fix_every"] == limits_for(unit.agency).stale_s


def test_map_feed_keeps_the_page_clock_on_the_consoles(qtbot) -> None:
    view = SchematicMap()
    qtbot.addWidget(view)
    feed, picture = MapFeed(view), Picture()
    picture.units["E1"] = Unit("E1", "fire", "engine", "S1", UnitStatus.AVAILABLE, 0.0, lat=60.17, lon=24.94,
                               position_at=1000.0)
    feed.update(picture, 1000.0)
    assert view.clock == 1000.0 and view.units["E1"]["fix_at"] == 1000.0
    feed.update(picture, 1000.2)  # time running on as the page's own clock runs: nothing re-sent
    assert view.clock == 1000.0
    feed.update(picture, 400.0)  # a replay jumps back: the page must measure ages against that
    assert view.clock == 400.0
    picture.units["E1"] = dataclasses.replace(picture.units["E1"], position_at=1010.0)
    feed.update(picture, 400.1)
    assert view.units["E1"]["fix_at"] == 1010.0
