"""The vector-tile basemap in a real Qt WebEngine page: tiles come over wf:// and are drawn, nothing goes out."""

from __future__ import annotations

import json
from pathlib import Path

from app.city.importer import labels_only
from app.city.tiles import write_mbtiles
from app.ui.map import MapView

FIXTURE = Path(__file__).parent / "fixtures" / "basemap_small.json"
DARK_WATER = [0x0F, 0x25, 0x36]
LIGHT_WATER = [0xA9, 0xCF, 0xE0]

# The colour of the basemap tile canvas at a map position (null when no tile covers it).
PIXEL = """(function (lat, lon) {
  var p = map_wf.latLngToContainerPoint([lat, lon]), box = map_wf.getContainer().getBoundingClientRect();
  var tiles = document.querySelectorAll('.leaflet-pane canvas.leaflet-tile');
  for (var i = 0; i < tiles.length; i++) {
    var r = tiles[i].getBoundingClientRect(), x = box.left + p.x - r.left, y = box.top + p.y - r.top;
    if (x >= 0 && y >= 0 && x < r.width && y < r.height && tiles[i].classList.contains('leaflet-tile-loaded')) {
      var k = tiles[i].width / r.width, d = tiles[i].getContext('2d').getImageData(x * k, y * k, 1, 1).data;
      if (d[3]) { return JSON.stringify([d[0], d[1], d[2]]); }
    }
  }
  return JSON.stringify(null);
})(%f, %f)"""


def tiled_view(qtbot, tmp_path: Path) -> MapView:
    basemap = json.loads(FIXTURE.read_text(encoding="utf-8"))
    write_mbtiles(basemap, tmp_path / "basemap.mbtiles")
    (tmp_path / "labels.json").write_text(json.dumps(labels_only(basemap)), encoding="utf-8")
    view = MapView(tmp_path / "labels.json", basemap_tiles=tmp_path / "basemap.mbtiles", cache_dir=tmp_path / "cache")
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    with qtbot.waitSignal(view.ready, timeout=20000):
        pass
    return view


def test_vector_tiles_load_offline_and_draw_the_basemap(qtbot, tmp_path, js_eval):
    view = tiled_view(qtbot, tmp_path)
    view.center_on(60.166, 24.9505, 16)  # the harbour, over-zoomed from the z14 tile
    qtbot.waitUntil(lambda: js_eval(view.page(), PIXEL % (60.166, 24.9505)) == DARK_WATER, timeout=10000)
    stats = js_eval(view.page(), "wf.tileStats()")
    assert stats["fetched"] >= 1 and stats["drawn"] >= 1
    # Areas and lines come from the tiles alone; the names are still placed from labels.json.
    assert js_eval(view.page(), "wf.layerCount('water')") == 0
    assert js_eval(view.page(), "wf.layerCount('labels')") == 4
    assert view.external_requests_blocked == 0, view.blocked_urls


def test_theme_switch_redraws_the_tiles(qtbot, tmp_path, js_eval):
    view = tiled_view(qtbot, tmp_path)
    view.center_on(60.166, 24.9505, 15)
    qtbot.waitUntil(lambda: js_eval(view.page(), PIXEL % (60.166, 24.9505)) == DARK_WATER, timeout=10000)
    view.set_theme("light")
    qtbot.waitUntil(lambda: js_eval(view.page(), PIXEL % (60.166, 24.9505)) == LIGHT_WATER, timeout=10000)


def test_console_city_uses_the_tiles_and_the_labels(qtbot):
    from app.city.loader import load_city
    from app.ui.city_services import CityServices

    city = CityServices()
    city.load_basemap()
    built = load_city()
    assert city.problem == ""
    assert city.basemap_tiles == built.tiles_path and city.basemap_tiles is not None
    assert city.basemap == built.labels_path  # names only: the areas and lines come as tiles


def test_an_unreadable_tile_is_left_blank_and_the_rest_still_draw(qtbot, tmp_path, js_eval):
    import sqlite3

    view = tiled_view(qtbot, tmp_path)
    # The z12 tile under the harbour, damaged (the first view, at street level, has not read it yet).
    with sqlite3.connect(tmp_path / "basemap.mbtiles") as db:
        db.execute("UPDATE tiles SET tile_data = ? WHERE zoom_level = 12", (b"garbage, not a vector tile",))
    view.center_on(60.166, 24.9505, 12)
    unloaded = "JSON.stringify(document.querySelectorAll('canvas.leaflet-tile:not(.leaflet-tile-loaded)').length)"
    qtbot.waitUntil(lambda: js_eval(view.page(), "wf.tileStats()")["missing"] >= 1, timeout=10000)
    qtbot.waitUntil(lambda: js_eval(view.page(), unloaded) == 0, timeout=10000)
    assert js_eval(view.page(), PIXEL % (60.166, 24.9505)) is None  # blank where the damaged tile is
    view.center_on(60.166, 24.9505, 13)  # a sound tile of another zoom still draws
    qtbot.waitUntil(lambda: js_eval(view.page(), PIXEL % (60.166, 24.9505)) == DARK_WATER, timeout=10000)
