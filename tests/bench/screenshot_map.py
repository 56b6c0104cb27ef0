"""Screenshot of the map with the city basemap, units, incidents, zones and an alert.

Run under Xvfb:
    Xvfb :99 -screen 0 1600x1000x24 -nolisten tcp &
    DISPLAY=:99 python tests/bench/screenshot_map.py --out map.png
    DISPLAY=:99 python tests/bench/screenshot_map.py --city ~/.local/share/watchfloor/cities/liechtenstein \
        --center 47.1398,9.5215 --zoom 16 --out vaduz.png      # a built city: its vector tiles
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.ui.map import MapView  # before the QApplication: registers the wf:// scheme
from tests.bench.scene import basemap_path, make_incidents, make_units, road_points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--basemap")
    parser.add_argument("--city", type=Path, help="a built city's folder: draw its vector tiles and labels.json")
    parser.add_argument("--out", default="map.png")
    parser.add_argument("--theme", default="dark")
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--incidents", type=int, default=40)
    parser.add_argument("--zoom", type=float, default=None)
    parser.add_argument("--center", default=None, help="lat,lon")
    args = parser.parse_args()

    app = QApplication(sys.argv)
    basemap = args.city / "basemap.json" if args.city else basemap_path(args.basemap)
    rng = random.Random(7)
    points = road_points(basemap)
    if args.city:
        view = MapView(args.city / "labels.json", basemap_tiles=args.city / "basemap.mbtiles", theme=args.theme)
    else:
        view = MapView(basemap, theme=args.theme)
    view.setWindowTitle("Watchfloor map")
    view.resize(1600, 1000)
    view.move(0, 0)
    view.show()

    def populate() -> None:
        view.upsert_units(make_units(args.units, points, rng))
        view.upsert_incidents(make_incidents(args.incidents, points, rng))
        lat, lon = points[len(points) // 3]
        view.set_zones([{"id": "z1", "name": "CORDON A", "kind": "cordon", "polygon": [
            [lat - 0.0012, lon - 0.002], [lat - 0.0012, lon + 0.002], [lat + 0.0010, lon + 0.0025],
            [lat + 0.0012, lon - 0.0015]]}])
        view.set_alerts([{"id": "a1", "headline": "Gas leak", "severity": "Severe",
                          "areas": [{"circle": [lat + 0.004, lon + 0.004, 180]}]}])
        view.upsert_drones([{"id": "d1", "callsign": "DRONE-1", "lat": lat + 0.003, "lon": lon - 0.004,
                             "heading": 60, "alt": 90}])
        view.set_footprints([{"id": "f1", "drone": "d1", "polygon": [
            [lat + 0.0035, lon - 0.0035], [lat + 0.0035, lon - 0.002], [lat + 0.0045, lon - 0.002],
            [lat + 0.0045, lon - 0.0035]]}])
        view.select("incident", "i3")
        if args.zoom is not None:
            center = [float(v) for v in args.center.split(",")] if args.center else None
            if center:
                view.center_on(center[0], center[1], args.zoom)
            else:
                view.run_js(f"map_wf.setZoom({args.zoom}, {{animate: false}}); 1")
        QTimer.singleShot(2500, shoot)

    def shoot() -> None:
        screen = app.primaryScreen()
        image = screen.grabWindow(0) if os.environ.get("DISPLAY") else view.grab()
        image.save(args.out)
        print(f"saved {args.out}; external requests blocked: {view.external_requests_blocked}")
        app.quit()

    view.ready.connect(populate)
    QTimer.singleShot(30000, app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
