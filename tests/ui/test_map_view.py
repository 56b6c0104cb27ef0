"""MapView against a real Qt WebEngine page: offline, basemap, live layers, signals, MBTiles."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage

from app.ui.map import MapView
from app.ui.map.offline import MBTilesSource
from app.ui.map.page import render_page_html

FIXTURE = Path(__file__).parent / "fixtures" / "basemap_small.json"


def make_view(qtbot, tmp_path, **kwargs) -> MapView:
    view = MapView(kwargs.pop("basemap", FIXTURE), cache_dir=tmp_path / "cache", **kwargs)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    with qtbot.waitSignal(view.ready, timeout=20000):
        pass
    return view


@pytest.fixture
def view(qtbot, tmp_path) -> MapView:
    return make_view(qtbot, tmp_path)


def js_value(js_eval, view: MapView, expr: str):
    return js_eval(view.page(), expr)


def unit(i: int, lat: float = 60.17, lon: float = 24.94, **extra) -> dict:
    return {
        "id": f"u{i}", "callsign": f"E{i}", "agency": ("fire", "police", "medical")[i % 3], "kind": "engine",
        "status": "available", "lat": lat, "lon": lon, "heading": (i * 37) % 360, "speed": 5.0, **extra,
    }


def test_rendered_page_references_no_remote_asset():
    html = render_page_html()
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?https?://""", html)
    assert "http://" not in html and "https://" not in html
    assert "leaflet.js" in html and "wf-map.js" in html


def test_page_loads_offline_and_blocks_remote_requests(view, js_eval, qtbot):
    assert view.external_requests_blocked == 0, view.blocked_urls
    # The guard must really refuse: a remote image request is blocked and counted.
    view.run_js("var i = new Image(); i.src = 'https://tile.openstreetmap.org/1/1/1.png'; 1")
    qtbot.waitUntil(lambda: view.external_requests_blocked == 1, timeout=5000)
    assert view.blocked_urls == ["https://tile.openstreetmap.org/1/1/1.png"]


def test_basemap_layers_and_attribution_are_drawn(view, js_eval):
    fixture = json.loads(FIXTURE.read_text())
    for layer in ("water", "parks", "buildings", "roads", "rail", "labels"):
        expected = len(fixture["layers"][layer]["features"])
        assert js_value(js_eval, view, f"wf.layerCount('{layer}')") == expected
    attribution = js_value(
        js_eval, view, "JSON.stringify(document.querySelector('.leaflet-control-attribution').textContent)"
    )
    assert "© OpenStreetMap contributors" in attribution


def test_five_hundred_units_arrive_in_few_batches(view, js_eval, qtbot):
    view.upsert_units([unit(i, 60.165 + i * 1e-5, 24.936 + i * 2e-5) for i in range(500)])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.count('units')") == 500, timeout=10000)
    assert view.stats.sent <= 3  # config + one batch (maybe one more if a tick split them): coalesced


def test_moving_a_unit_moves_it_in_the_page(view, js_eval, qtbot):
    view.upsert_units([unit(1)])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.unitLatLng('u1')") == [60.17, 24.94], timeout=5000)
    for step in range(1, 20):  # many updates between two flushes coalesce to the last
        view.upsert_units([{"id": "u1", "lat": 60.17 + step * 1e-4, "lon": 24.94}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.unitLatLng('u1')") == [60.1719, 24.94], timeout=5000)
    assert js_value(js_eval, view, "wf.item('units', 'u1')")["callsign"] == "E1"  # partial update merged


def test_removed_units_leave_the_page(view, js_eval, qtbot):
    view.upsert_units([unit(i) for i in range(10)])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.count('units')") == 10, timeout=5000)
    view.remove_units(["u3", "u4"])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.count('units')") == 8, timeout=5000)
    assert js_value(js_eval, view, "wf.unitLatLng('u3')") is None


def test_clicking_a_unit_emits_selected(view, js_eval, qtbot):
    view.upsert_units([unit(7, 60.171, 24.944)])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.count('units')") == 1, timeout=5000)
    # The unit is hit-tested where it was last painted, and the map may still move after `ready` (Leaflet
    # re-fits when the widget gets its final size, later on a busy machine). So the pixel is taken, checked
    # against the painted unit and clicked in one turn of the page, and retried until a paint has caught up;
    # a point computed once and clicked later can miss.
    click = ("(function () { var p = JSON.parse(wf.screenPoint(60.171, 24.944)), x = p[0] + 3, y = p[1] - 2;"
             " if (wf.hitTest(x, y) !== JSON.stringify(['unit', 'u7'])) { return JSON.stringify(false); }"
             " return wf.clickAt(x, y); })()")
    with qtbot.waitSignal(view.selected, timeout=5000) as blocker:
        qtbot.waitUntil(lambda: js_value(js_eval, view, click) is True)
    assert blocker.args == ["unit", "u7"]
    assert js_value(js_eval, view, "wf.stats()")["selection"] == {"kind": "unit", "id": "u7"}


def test_clicking_empty_map_selects_nothing_but_a_zone_is_selectable(view, js_eval, qtbot):
    view.set_zones([{"id": "z1", "name": "Cordon A", "kind": "cordon",
                     "polygon": [[60.170, 24.940], [60.170, 24.946], [60.173, 24.946], [60.173, 24.940]]}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.layerCount('zones')") == 1, timeout=5000)
    x, y = js_value(js_eval, view, "wf.screenPoint(60.1715, 24.943)")
    with qtbot.waitSignal(view.selected, timeout=5000) as blocker:
        view.run_js(f"wf.clickAt({x}, {y})")
    assert blocker.args == ["zone", "z1"]


def test_context_menu_new_incident_emits_position(view, qtbot):
    with qtbot.waitSignal(view.context_new_incident, timeout=5000) as blocker:
        view.run_js("wf.contextAt(60.1701, 24.9402)")
    lat, lon = blocker.args
    assert lat == pytest.approx(60.1701) and lon == pytest.approx(24.9402)


def test_measure_tool_emits_metres(view, qtbot):
    with qtbot.waitSignal(view.measured, timeout=5000) as blocker:
        view.run_js("wf.measureDemo([60.17, 24.94], [60.18, 24.94])")
    assert blocker.args[0] == pytest.approx(1112, rel=0.01)  # 0.01 degree of latitude


def test_every_live_layer_reaches_the_page(view, js_eval, qtbot):
    square = [[60.168, 24.940], [60.168, 24.942], [60.169, 24.942], [60.169, 24.940]]
    view.upsert_incidents([
        {"id": f"i{p}", "type": t, "type_label": t.title(), "priority": p, "status": "new", "lat": 60.17,
         "lon": 24.94 + p * 1e-3, "address": "Mannerheimintie 1", "restricted": p == 2}
        for p, t in zip(range(1, 6), ["fire", "medical", "police", "traffic", "other"], strict=True)
    ])
    view.upsert_drones([
        {"id": "d1", "callsign": "DR1", "lat": 60.171, "lon": 24.941, "heading": 90, "alt": 80},
    ])
    view.set_footprints([{"id": "f1", "drone": "d1", "polygon": square}])
    view.set_alerts([{"id": "a1", "headline": "Gas leak", "severity": "Severe",
                      "areas": [{"polygon": square}, {"circle": [60.172, 24.945, 150]},
                                {"circle": [60.173, 24.946, 0]}]}])  # radius 0: a point alert, still drawn
    view.set_tracks({"u1": [[60.17, 24.94], [60.171, 24.941], [60.172, 24.943]]})
    view.set_heat([[60.17, 24.94, 1.0], [60.171, 24.941, 0.5]])
    view.select("incident", "i1")
    view.remove_incidents(["i5"])

    def arrived() -> bool:
        counts = js_value(js_eval, view, "'[' + [wf.count('incidents'), wf.count('drones'),"
                                         "wf.layerCount('footprints'), wf.layerCount('alerts'),"
                                         "wf.layerCount('tracks'),"
                                         "JSON.stringify(JSON.parse(wf.stats()).selection)].join(',') + ']'")
        return counts == [4, 1, 1, 3, 1, {"kind": "incident", "id": "i1"}]

    qtbot.waitUntil(arrived, timeout=5000)


def test_theme_switches(view, js_eval, qtbot):
    assert js_value(js_eval, view, "wf.stats()")["theme"] == "dark"
    view.set_theme("light")
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.stats()")["theme"] == "light", timeout=5000)


def png_tile(colour: str) -> bytes:
    image = QImage(256, 256, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def make_mbtiles(path: Path, zoom: int) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute(
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
    )
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [
        ("name", "test"), ("format", "png"), ("minzoom", str(zoom)), ("maxzoom", str(zoom)),
        ("bounds", "-180,-85,180,85"), ("attribution", "© OpenStreetMap contributors"),
    ])
    tiles = [png_tile("#223344"), png_tile("#445566")]
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", [
        (zoom, x, y, tiles[(x + y) % 2]) for x in range(1 << zoom) for y in range(1 << zoom)
    ])
    db.commit()
    db.close()


def test_mbtiles_source_flips_rows_to_xyz(tmp_path):
    path = tmp_path / "t.mbtiles"
    make_mbtiles(path, 1)
    source = MBTilesSource(path)
    # XYZ (0, 0) is the north-west tile, stored as TMS row 1.
    assert source.tile(1, 0, 0) == png_tile("#445566")
    assert source.tile(1, 0, 1) == png_tile("#223344")
    assert source.tile(5, 0, 0) is None
    assert source.bounds() == [[-85.0, -180.0], [85.0, 180.0]]


def test_mbtiles_scheme_serves_tiles_to_the_page(qtbot, tmp_path, js_eval):
    path = tmp_path / "city.mbtiles"
    make_mbtiles(path, 3)
    view = make_view(qtbot, tmp_path, basemap=None, mbtiles=path)
    view.center_on(60.17, 24.94, 3)
    loaded = "JSON.stringify(document.querySelectorAll('img.leaflet-tile-loaded').length)"
    qtbot.waitUntil(lambda: js_value(js_eval, view, loaded) > 0, timeout=10000)
    src = js_value(js_eval, view, "JSON.stringify(document.querySelector('img.leaflet-tile-loaded').src)")
    assert src.startswith("wf://mbtiles/")
    assert view.external_requests_blocked == 0


def test_distance_helper_is_consistent():
    # Guard for the measure test's expectation: 0.01 degree of latitude on a 6371 km sphere.
    assert 6371008.8 * math.radians(0.01) == pytest.approx(1112, rel=0.01)


def test_traffic_lights_show_from_street_level_only(qtbot, tmp_path, js_eval):
    basemap = json.loads(FIXTURE.read_text(encoding="utf-8"))
    lights = [(60.1712, 24.9441), (60.1716, 24.9437), (60.178, 24.936)]  # two at the centre, one far off
    basemap["layers"]["signals"] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {"id": i + 1}}
        for i, (lat, lon) in enumerate(lights)
    ]}
    path = tmp_path / "basemap.json"
    path.write_text(json.dumps(basemap), encoding="utf-8")
    view = make_view(qtbot, tmp_path, basemap=path)
    assert js_value(js_eval, view, "wf.layerCount('signals')") == 3
    view.center_on(60.1714, 24.944, 15)
    qtbot.waitUntil(lambda: js_value(js_eval, view, "JSON.parse(wf.stats()).zoom") == 15, timeout=5000)
    assert js_value(js_eval, view, "wf.signalsDrawn()") == 0  # a district overview: no clutter of lights
    view.center_on(60.1714, 24.944, 17)
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.signalsDrawn()") == 2, timeout=5000)


def test_lights_a_responding_unit_asked_for_show_their_state_from_district_level(qtbot, tmp_path, js_eval):
    basemap = json.loads(FIXTURE.read_text(encoding="utf-8"))
    lights = [(60.1712, 24.9441), (60.1716, 24.9437), (60.1720, 24.9430)]
    basemap["layers"]["signals"] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {"id": i + 1}}
        for i, (lat, lon) in enumerate(lights)
    ]}
    path = tmp_path / "basemap.json"
    path.write_text(json.dumps(basemap), encoding="utf-8")
    view = make_view(qtbot, tmp_path, basemap=path)
    view.center_on(60.1714, 24.944, 14)
    qtbot.waitUntil(lambda: js_value(js_eval, view, "JSON.parse(wf.stats()).zoom") == 14, timeout=5000)
    assert js_value(js_eval, view, "wf.signalsDrawn()") == 0
    view.set_signal_states([{"id": 1, "state": "granted", "unit": "E11"},
                            {"id": 2, "state": "requested", "unit": "E11"}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.signalsLit()") == {"granted": 1, "requested": 1},
                    timeout=5000)
    assert js_value(js_eval, view, "wf.signalsDrawn()") == 2  # the light nobody asked for stays out at z14
    view.set_signal_states([])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.signalsLit()") == {}, timeout=5000)


def test_the_console_sends_the_map_each_lights_state_from_the_picture(qtbot) -> None:
    from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
    from app.domain.picture import Picture
    from app.domain.signal_priority import SignalPriority
    from app.ui.map_feed import MapFeed
    from tests.ui.schematic_map import SchematicMap

    picture = Picture(signals={
        9: SignalPriority(9, "E11", "1001", 9, 1, "fire", 14, 100.0, 120.0, "granted", 90.0, 91.0),
        4: SignalPriority(4, "E11", "1001", 4, 2, "fire", 14, 130.0, 150.0, "requested", 90.0),
    })
    picture.incidents["1001"] = Incident("1001", "structure_fire", 1, 60.175, 24.95, "", IncidentStatus.DISPATCHED,
                                         90.0, "anna", "fire", ["fire"])
    picture.units["E11"] = Unit("E11", "fire", "engine", "Erottaja", UnitStatus.EN_ROUTE, 90.0, incident="1001",
                                lat=60.168, lon=24.94)
    picture.units["E12"] = Unit("E12", "fire", "engine", "Erottaja", UnitStatus.EN_ROUTE, 90.0, incident="1001",
                                lat=60.169, lon=24.94)  # drives without priority: no line drawn for it
    routed: list[tuple[tuple[float, float], tuple[float, float]]] = []

    def router(origin: tuple[float, float], destination: tuple[float, float]) -> list[tuple[float, float]]:
        routed.append((origin, destination))
        return [origin, (origin[0], destination[1]), destination]

    schematic = SchematicMap()
    feed = MapFeed(schematic)
    feed.router = router
    feed.update(picture, 95.0)
    assert schematic.signal_states == [{"id": 4, "state": "requested", "unit": "E11"},
                                       {"id": 9, "state": "granted", "unit": "E11"}]
    assert schematic.routes == [{"id": "E11", "points": [[60.168, 24.94], [60.168, 24.95], [60.175, 24.95]]}]
    feed.update(picture, 95.5)
    assert len(routed) == 1  # the unit did not move: its line is not searched for again
    picture.signals.clear()
    feed.update(picture, 96.0)
    assert schematic.signal_states == [] and schematic.routes == []


def test_the_way_ahead_of_a_unit_under_priority_is_drawn(view, js_eval, qtbot):
    view.set_routes([{"id": "E11", "points": [[60.168, 24.94], [60.168, 24.95], [60.175, 24.95]]}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.layerCount('routes')") == 1, timeout=5000)
    view.set_routes([])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.layerCount('routes')") == 0, timeout=5000)
