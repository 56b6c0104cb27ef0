"""Screenshots of the map as a dispatcher reads it: a dense cluster of units (grouped, one group spread), stale
positions, a drone footprint, the search box in use and the right-click menu, on the real city.

Run under Xvfb (a real display: the search box's suggestion list is a separate window):
    Xvfb :97 -screen 0 1920x1080x24 -nolisten tcp &
    DISPLAY=:97 python tests/bench/screenshot_reading.py --out-dir shots/
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.ui.map import MapView  # before the QApplication: registers the wf:// scheme

AGENCY_KINDS = {"fire": ["engine", "ladder", "rescue", "tanker", "command"], "police": ["patrol", "patrol", "k9"],
                "medical": ["ambulance", "ambulance"]}
STATUSES = ["available", "en_route", "on_scene", "dispatched", "transporting"]


def scene(now: float, rng: random.Random) -> list[dict]:
    """Units around Helsinki's centre: a station with ten units on one point, a scene with six, stragglers."""
    units = []

    def add(uid: str, agency: str, lat: float, lon: float, **extra) -> None:
        units.append({"id": uid, "callsign": uid, "agency": agency, "kind": rng.choice(AGENCY_KINDS[agency]),
                      "status": rng.choice(STATUSES), "lat": lat, "lon": lon, "heading": rng.uniform(0, 360),
                      "speed": rng.choice([0.0, 9.0]), "fix_at": now - rng.uniform(0, 50), "fix_every": 120.0,
                      **extra})

    for i in range(10):  # Station 1: everything parked on the same point
        add(f"E{10 + i}" if i < 5 else f"M{20 + i}", "fire" if i < 5 else "medical", 60.17120, 24.93820, speed=0.0)
    for i in range(6):  # an incident scene: units a few metres apart
        add(f"P{30 + i}", "police", 60.16900 + rng.uniform(-4e-5, 4e-5), 24.94700 + rng.uniform(-8e-5, 8e-5))
    for i in range(60):  # the rest of the fleet, spread over the centre
        agency = rng.choice(list(AGENCY_KINDS))
        add(f"{agency[0].upper()}{100 + i}", agency, 60.1660 + rng.uniform(0, 0.0110), 24.9330 + rng.uniform(0, 0.0230))
    for uid, age in (("E102", 300), ("P105", 1500), ("M108", 7400)):  # positions that stopped coming
        for u in units:
            if u["id"] == uid:
                u["fix_at"] = now - age
    return units


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument("--theme", default="dark")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    from app.city.geocoder import OfflineGeocoder
    from app.city.loader import load_city
    from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
    from app.domain.picture import Picture
    from app.ui import map_search

    app = QApplication(sys.argv)
    city = load_city()
    geocoder = OfflineGeocoder(city.gazetteer)
    now = time.time()
    units = scene(now, random.Random(5))
    picture = Picture()
    for u in units:
        picture.units[u["id"]] = Unit(u["id"], u["agency"], u["kind"], "S1", UnitStatus(u["status"]), now,
                                      lat=u["lat"], lon=u["lon"], position_at=u["fix_at"])
    picture.incidents["2026-0042"] = Incident("2026-0042", "fire", 1, 60.16905, 24.94690, "Aleksanterinkatu 13",
                                              IncidentStatus.ON_SCENE, now, "disp", "fire", ["fire"])

    view = MapView(city.basemap_path, theme=args.theme)
    view.setWindowTitle("Watchfloor map")
    view.resize(1600, 1000)
    view.move(0, 0)
    view.show()
    view.set_search_provider(lambda text: map_search.search(text, picture, geocoder))
    view.set_place_resolver(lambda lat, lon: map_search.place_at(geocoder, lat, lon))

    steps: list[tuple[float, Callable[[], None]]] = []

    def shoot(name: str) -> Callable[[], None]:
        def save() -> None:
            screen = app.primaryScreen()
            image = screen.grabWindow(0) if os.environ.get("DISPLAY") else view.grab()
            path = args.out_dir / name
            image.save(str(path))
            print(f"saved {path}")
        return save

    def populate() -> None:
        view.set_clock(now)
        view.upsert_units(units)
        view.upsert_incidents([{"id": "2026-0042", "type": "fire", "type_label": "Structure fire", "priority": 1,
                                "status": "on_scene", "lat": 60.16905, "lon": 24.94690,
                                "address": "Aleksanterinkatu 13"}])
        view.upsert_drones([{"id": "UAV1", "callsign": "UAV1", "lat": 60.1700, "lon": 24.9440, "heading": 80,
                             "alt": 400, "agl": 380, "battery": 64, "link": "up"}])
        view.set_footprints([{"id": "UAV1", "drone": "UAV1", "polygon": [
            [60.160, 24.925], [60.160, 24.965], [60.182, 24.965], [60.182, 24.925]]}])
        view.set_in_view([{"kind": "incident", "id": "2026-0042"}] + [{"kind": "unit", "id": u["id"]} for u in units])
        view.center_on(60.1700, 24.9430, 16)
        run(0)

    def spread_station() -> None:
        view.run_js("(function () { var d = JSON.parse(wf.unitDrawn('E10'));"
                    " wf.clickAt(d.at[0], d.at[1]); })(); 1")

    def type_search() -> None:
        view.focus_search()
        QTest.keyClicks(view.search_box, "Manner")

    def search_unit() -> None:
        view.search_box.clear()
        QTest.keyClicks(view.search_box, "P105")
        QTest.keyClick(view.search_box, Qt.Key.Key_Return)

    def right_click() -> None:
        view.search_box.clearFocus()
        view.run_js("wf.openMenuAt(60.16955, 24.94010); 1")

    steps.extend([
        (3.0, shoot("1-cluster-z16.png")),
        (0.2, spread_station),
        (1.5, shoot("2-station-spread.png")),
        (0.2, type_search),
        (1.5, shoot("3-search-suggestions.png")),
        (0.2, search_unit),
        (2.0, shoot("4-search-callsign.png")),
        (0.2, right_click),
        (1.5, shoot("5-right-click.png")),
        (0.1, lambda: view.center_on(60.1700, 24.9430, 13)),
        (2.0, shoot("6-footprint-z13.png")),
        (0.1, app.quit),
    ])

    def run(i: int) -> None:
        if i < len(steps):
            delay, action = steps[i]
            QTimer.singleShot(int(delay * 1000), lambda: (action(), run(i + 1)))

    view.ready.connect(populate)
    QTimer.singleShot(60000, app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
