"""Fixtures for the console tests: a real hub in a background thread, seeded units, and console windows.

Imported by the test modules (tests/ui/conftest.py belongs to the map's tests): `hub = console_fixtures.hub`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

from PySide6.QtCore import QSettings, Qt

from app.city.geocoder import make_geocoder
from app.city.loader import load_city
from app.client.connection import HubClient
from app.domain.picture import Picture
from app.ui.bridge import HubBridge
from app.ui.city_services import CityServices
from app.ui.hub_thread import HubThread
from app.ui.main_window import MainWindow
from tests.ui.schematic_map import SchematicMap

PASSWORD = "correct horse battery"
USERS = [("fire1", "dispatcher", "fire"), ("police1", "dispatcher", "police"),
         ("medical1", "dispatcher", "medical"), ("feed1", "feed", "*"), ("op1", "drone_operator", "fire"),
         ("observer1", "observer", "police")]
UNITS = [("E1", "fire", "engine", 60.1700, 24.9400), ("E2", "fire", "engine", 60.1710, 24.9420),
         ("L1", "fire", "ladder", 60.1705, 24.9410), ("M1", "medical", "ambulance", 60.1690, 24.9450),
         ("P1", "police", "patrol", 60.1720, 24.9450), ("P2", "police", "patrol", 60.1730, 24.9460)]


#: The real offline geocoder over the shipped Helsinki gazetteer (what the console loads in production).
GEOCODER = make_geocoder(gazetteer=load_city().gazetteer)


class RunningHub(HubThread):
    """A HubThread with helpers to look at the hub's own (authoritative) picture from the test thread."""

    def look(self, question: Callable[[Picture], Any]) -> Any:
        """Evaluate `question(picture)` on the hub's loop, where the picture is safe to read."""
        async def ask() -> Any:
            assert self.hub is not None and self.hub.sequencer is not None
            return question(self.hub.sequencer.picture)

        return self.run(ask())

    def unit_status(self, unit: str) -> str:
        return self.look(lambda p: p.units[unit].status.value)


@pytest.fixture
def hub(tmp_path) -> Iterator[RunningHub]:
    """A hub on 127.0.0.1 with a fresh SQLite log, the test accounts, and six units at their stations."""
    running = RunningHub(tmp_path / "hub.db")
    for name, role, agency in USERS:
        running.ensure_user(name, PASSWORD, role, agency)
    running.start()

    async def seed() -> None:
        feed = HubClient(running.url, "feed1", PASSWORD, subscribe=False)
        feed.start()
        await feed.wait_for(lambda: feed.state == "connected", 10)
        for unit_id, agency, kind, lat, lon in UNITS:
            await feed.call("unit.register", {"id": unit_id, "agency": agency, "kind": kind, "station": "S1",
                                              "lat": lat, "lon": lon})
        await feed.close()

    running.run(seed())
    yield running
    running.shutdown()


@pytest.fixture
def console(qtbot, hub, tmp_path) -> Callable[..., MainWindow]:
    """`console("fire1")`: a signed-in console window caught up with the hub.

    It geocodes with the real offline Helsinki gazetteer and draws on a schematic map (see schematic_map.py)."""
    windows: list[MainWindow] = []

    def make(user: str = "fire1") -> MainWindow:
        settings = QSettings(str(tmp_path / f"{user}.ini"), QSettings.Format.IniFormat)
        city = CityServices()
        city.geocoder = GEOCODER
        bridge = HubBridge(hub.url, user, PASSWORD, backoff_max=0.5)
        window = MainWindow(bridge, city, map_factory=lambda _city, _theme: SchematicMap(), settings=settings)
        qtbot.addWidget(window)
        bridge.start()
        window.show()
        qtbot.waitUntil(lambda: window.status.state == "connected" and len(window.picture.units) == len(UNITS),
                        timeout=10000)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def type_cad(qtbot: Any, window: MainWindow, line: str) -> None:
    """Type a line on a console's CAD line and press Enter, as a dispatcher does."""
    window.command_line.focus()
    qtbot.keyClicks(window.command_line.edit, line)
    qtbot.keyClick(window.command_line.edit, Qt.Key.Key_Return)
