"""The whole-country basemap: vector tiles against the GeoJSON basemap, side by side. Prints figures only.

    QT_QPA_PLATFORM=offscreen QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu" \
        python tests/bench/bench_tiles.py [--seconds 8] [--skip-import] [--skip-demo]

1. Import of Liechtenstein and Porto: whole `city import` time, the tiles' share of it, what it writes, and
   the tiles per zoom (count, bytes).
2. For Liechtenstein, once with the GeoJSON basemap (basemap.json) and once with the tiles (basemap.mbtiles +
   labels.json), each in a fresh cache (cold): the map's time to `ready` and to its first basemap paint
   (GeoJSON: two animation frames after the basemap script ran; tiles: every tile in view drawn, then two
   frames); the time a jump to another view blocks the page (to the next frame) and takes to settle (tiles
   in view drawn), over a fixed round of views from the whole country to street level; then 5,000 units
   each reporting 10 times a second over the whole-country view: map batches applied per second.
3. Cold start of `watchfloor demo` (the city already built, as on every start but the first) to a live map
   with its basemap painted, measured from the process's start in a child process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

#: views visited by the pan/zoom round: (lat, lon, zoom) over Liechtenstein, whole country to street level
VIEWS = [(47.16, 9.55, 11), (47.139, 9.522, 14), (47.141, 9.523, 17), (47.166, 9.51, 15), (47.211, 9.53, 13),
         (47.06, 9.50, 16), (47.16, 9.55, 12), (47.25, 9.55, 15), (47.166, 9.51, 18), (47.10, 9.56, 13),
         (47.16, 9.55, 11.5), (47.139, 9.522, 16)]

# Visit each view; per view, the ms until the next frame (how long the page was blocked) and until the
# basemap is complete (no tile still loading). Results land in window.__round.
ROUND_JS = """(function (views) {
  var out = [], i = 0;
  function frame(cb) { requestAnimationFrame(function () { requestAnimationFrame(cb); }); }
  function settled() {
    return !document.querySelector('.leaflet-pane canvas.leaflet-tile:not(.leaflet-tile-loaded)');
  }
  function next() {
    if (i >= views.length) { window.__round = out; return; }
    var v = views[i++], t0 = performance.now();
    map_wf.setView([v[0], v[1]], v[2], { animate: false });
    frame(function () {
      var blocked = performance.now() - t0;
      (function wait() {
        if (settled()) { out.push([blocked, performance.now() - t0]); setTimeout(next, 50); }
        else { setTimeout(wait, 5); }
      })();
    });
  }
  window.__round = null;
  next();
  return 1;
})(%s)"""


def bench_import(name: str) -> Path:
    from app.city.basemap import build_basemap
    from app.city.importer import import_city
    from app.city.loader import CITY_RESOURCES, SHIPPED
    from app.city.osm import read_extract
    from app.city.tiles import write_mbtiles

    source = CITY_RESOURCES / SHIPPED[name]
    out = Path(tempfile.mkdtemp()) / name
    started = time.perf_counter()
    metadata = import_city(source, out, name)
    took = time.perf_counter() - started
    basemap = build_basemap(read_extract(source), name)
    started = time.perf_counter()
    write_mbtiles(basemap, Path(tempfile.mkdtemp()) / "again.mbtiles")
    tiles_s = time.perf_counter() - started
    print(f"\n== import {name} ({source.stat().st_size / 1e6:.1f} MB extract)")
    print(f"  city import {took:.1f} s wall (tiles {tiles_s:.1f} s of it); writes "
          + ", ".join(f"{f} {b / 1e6:.2f} MB" for f, b in metadata["bytes"].items()))
    with sqlite3.connect(out / "basemap.mbtiles") as db:
        rows = db.execute("SELECT zoom_level, COUNT(*), SUM(LENGTH(tile_data)), MAX(LENGTH(tile_data)) "
                          "FROM tiles GROUP BY zoom_level").fetchall()
    total = sum(r[1] for r in rows)
    print(f"  tiles: {total} in all, {sum(r[2] for r in rows) / 1e6:.2f} MB; per zoom (count / KB / largest KB): "
          + "  ".join(f"z{z} {n}/{b / 1e3:.0f}/{m / 1e3:.0f}" for z, n, b, m in rows))
    return out


def bench_view(app, city: Path, mode: str, seconds: float, rate: float) -> None:
    from PySide6.QtCore import QEventLoop

    from app.ui.map import MapView
    from tests.bench.bench_map import StallProbe, js, run_scenario, spin
    from tests.bench.scene import make_units, road_points

    cache = Path(tempfile.mkdtemp())  # cold: the page and basemap script are made anew
    started = time.perf_counter()
    if mode == "tiles":
        view = MapView(city / "labels.json", basemap_tiles=city / "basemap.mbtiles", cache_dir=cache, rate_hz=rate)
    else:
        view = MapView(city / "basemap.json", cache_dir=cache, rate_hz=rate)
    view.resize(1600, 1000)
    view.show()
    loop = QEventLoop()
    view.ready.connect(loop.quit)
    loop.exec()
    ready = time.perf_counter() - started
    if mode == "tiles":
        while not (js(view, "wf.tileStats()") or {}).get("firstLoadMs"):
            spin(app, 0.005)
    view.run_js("window.__painted = false; requestAnimationFrame(function () {"
                " requestAnimationFrame(function () { window.__painted = true; }); }); 1")
    while not js(view, "JSON.stringify(window.__painted)"):
        spin(app, 0.005)
    painted = time.perf_counter() - started
    files = "labels.json + basemap.mbtiles" if mode == "tiles" else "basemap.json"
    print(f"\n== map with the {mode} basemap ({files})")
    print(f"  cold start: ready {ready:.2f} s, first basemap paint {painted:.2f} s")

    view.run_js(ROUND_JS % json.dumps(VIEWS))
    result = None
    while result is None:
        spin(app, 0.05)
        result = js(view, "JSON.stringify(window.__round)")
    blocked = sorted(r[0] for r in result)
    settle = sorted(r[1] for r in result)
    print(f"  view changes ({len(VIEWS)}, z11-z18): page blocked to next frame median "
          f"{statistics.median(blocked):.0f} ms, max {blocked[-1]:.0f} ms; basemap complete median "
          f"{statistics.median(settle):.0f} ms, max {settle[-1]:.0f} ms")
    if mode == "tiles":
        stats = js(view, "wf.tileStats()")
        decode = stats["decodeMs"] / max(1, stats["fetched"])
        draw = stats["drawMsTotal"] / max(1, stats["drawn"])
        print(f"  tiles: {stats['fetched']} read and decoded ({decode:.1f} ms each), {stats['drawn']} drawn "
              f"({draw:.1f} ms each, max {stats['drawMsMax']:.0f} ms)")

    view.fit(json.loads((city / "labels.json").read_text(encoding="utf-8"))["bounds"])  # whole country
    spin(app, 1.0)
    points = road_points(city / "basemap.json")
    units = make_units(5000, points, random.Random(1))
    view.upsert_units(units)
    r = run_scenario(app, view, units, reports_per_s=10, tick_ms=20, seconds=seconds, probe=StallProbe())
    zoom = js(view, "wf.stats()")["zoom"]
    print(f"  5,000 units x 10 reports/s at the whole-country view (z{zoom}): {r['batches_per_s']:.1f} map updates "
          f"applied/s, JS {r['js_ms_mean']:.1f} ms mean per batch, {r['paints_per_s']:.1f} paints/s "
          f"({r['paint_ms_mean']:.1f} ms mean); GUI {r['stall']}")
    print(f"  external requests blocked: {view.external_requests_blocked}")
    view.close()
    view.deleteLater()
    spin(app, 0.5)


def demo_child(db: Path) -> int:
    """In a child process: start the demo and print when its map was ready and its basemap painted."""
    from PySide6.QtCore import QEventLoop

    from app.ui.cli_demo import start_demo
    from app.ui.map import MapView
    from tests.bench.bench_map import js, spin

    args = argparse.Namespace(agency="fire", db=db, port=0, seed=7, speed=1.0, theme="dark")
    app, window, cleanup = start_demo(args)
    window.show()
    view = window.findChild(MapView)
    if not view.is_ready:
        loop = QEventLoop()
        view.ready.connect(loop.quit)
        loop.exec()
    ready = time.time()
    while True:
        stats = js(view, "wf.tileStats()")
        if stats is None or stats.get("firstLoadMs"):  # None: a GeoJSON basemap, drawn when the map is ready
            break
        spin(app, 0.005)
    print(json.dumps({"ready": ready, "painted": time.time()}), flush=True)
    cleanup()
    return 0


def bench_demo() -> None:
    db = Path(tempfile.mkdtemp()) / "hub.db"
    print("\n== `watchfloor demo` cold start (city already built), from the process's start:")
    for run in ("first run (makes the demo accounts)", "second run (accounts exist: every later start)"):
        started = time.time()
        child = subprocess.run([sys.executable, __file__, "--demo-child", str(db)], capture_output=True, text=True,
                               timeout=120, env=os.environ)
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"  {run}: failed\n{child.stderr[-2000:]}")
            return
        ready, painted = (json.loads(lines[-1])[k] - started for k in ("ready", "painted"))
        print(f"  {run}: map ready {ready:.2f} s, basemap painted {painted:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the 5,000-unit run per basemap")
    parser.add_argument("--rate", type=float, default=10.0, help="map flush rate, Hz (the console's is 10)")
    parser.add_argument("--skip-import", action="store_true", help="use the current data folder's Liechtenstein")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--demo-child", type=Path, help=argparse.SUPPRESS)  # the demo log to use
    args = parser.parse_args()
    if args.demo_child:
        return demo_child(args.demo_child)

    from app.city.loader import current_city_name, ensure_built

    city = ensure_built("liechtenstein")
    ensure_built(current_city_name())  # the demo's city, so that its start is an ordinary one
    if not args.skip_import:
        bench_import("liechtenstein")
        bench_import("porto")

    from PySide6.QtWidgets import QApplication

    import app.ui.map  # noqa: F401  (registers the wf:// scheme before the QApplication)

    qapp = QApplication(sys.argv)
    print(f"\nplatform {qapp.platformName()}, map flush rate {args.rate:g} Hz")
    for mode in ("geojson", "tiles"):
        bench_view(qapp, city, mode, args.seconds, args.rate)
    if not args.skip_demo:
        bench_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
