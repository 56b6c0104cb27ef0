"""A map a dispatcher reads at a glance, against a real Qt WebEngine page: symbols by kind, co-located units
grouped and spread, stale positions with their age, drone footprints that do not ring half the city, the
search box and the right-click address with cross streets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.city.gazetteer import FORMAT, Gazetteer
from app.city.geocoder import OfflineGeocoder
from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
from app.domain.picture import Picture
from app.ui import map_search
from app.ui.map import MapView
from tests.ui.test_map_view import make_view

NOW = 1_800_000_000.0  # the console's clock, passed in: no test waits for a position to age

# A small grid of named streets: Mannerheimintie and Keskuskatu run north-south and are crossed by
# Kalevankatu, Simonkatu and Aleksanterinkatu, each drawn as one straight line (crossings found by geometry).
NS = {"Mannerheimintie": 24.9400, "Keskuskatu": 24.9440}
EW = {"Kalevankatu": 60.1680, "Simonkatu": 60.1700, "Aleksanterinkatu": 60.1720}
ADDRESSES = [("Mannerheimintie", "5", 60.1690, 24.9401), ("Mannerheimintie", "7", 60.1694, 24.9401),
             ("Keskuskatu", "3", 60.1710, 24.9441), ("Simonkatu", "2", 60.1701, 24.9420)]


def grid_basemap(path: Path) -> Path:
    roads = [{"type": "Feature", "properties": {"class": "secondary", "name": name},
              "geometry": {"type": "LineString", "coordinates": [[lon, 60.1650], [lon, 60.1750]]}}
             for name, lon in NS.items()]
    roads += [{"type": "Feature", "properties": {"class": "residential", "name": name},
               "geometry": {"type": "LineString", "coordinates": [[24.9360, lat], [24.9480, lat]]}}
              for name, lat in EW.items()]
    empty = {"type": "FeatureCollection", "features": []}
    data = {"name": "Grid", "attribution": "© OpenStreetMap contributors",
            "bounds": [[60.1660, 24.9370], [60.1740, 24.9470]], "center": [60.17, 24.942],
            "layers": {"roads": {"type": "FeatureCollection", "features": roads}, "water": empty, "parks": empty,
                       "buildings": empty, "rail": empty, "labels": empty}}
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def geocoder() -> OfflineGeocoder:
    document = {
        "format": FORMAT,
        "addresses": [{"street": s, "housenumber": n, "postcode": "00100", "city": "Helsinki", "lat": lat,
                       "lon": lon} for s, n, lat, lon in ADDRESSES],
        # The same grid as the basemap's streets: each a line across the map.
        "streets": [{"name": n, "names": [], "municipality": "Helsinki", "lines": [[[60.1650, lon], [60.1750, lon]]]}
                    for n, lon in NS.items()]
        + [{"name": n, "names": [], "municipality": "Helsinki", "lines": [[[lat, 24.9360], [lat, 24.9480]]]}
           for n, lat in EW.items()],
        "places": [{"name": "Kolmen sepän aukio", "kind": "place", "category": "square", "lat": 60.1712,
                    "lon": 24.9425, "names": [], "address": None, "landmark": True}],
        "facilities": [],
        "settlements": [{"name": "Helsinki", "lat": 60.17, "lon": 24.942}],
        "municipalities": [],
    }
    return OfflineGeocoder(Gazetteer(document))


@pytest.fixture
def view(qtbot, tmp_path) -> MapView:
    return make_view(qtbot, tmp_path)


@pytest.fixture
def grid_view(qtbot, tmp_path) -> MapView:
    return make_view(qtbot, tmp_path, basemap=grid_basemap(tmp_path / "grid.json"))


def unit(uid: str, kind: str, lat: float, lon: float, **extra) -> dict:
    return {"id": uid, "callsign": uid, "agency": "fire", "kind": kind, "status": "available", "lat": lat,
            "lon": lon, "heading": 0, "speed": 0.0, **extra}


def js(js_eval, view: MapView, expr: str):
    return js_eval(view.page(), expr)


# One JS turn: look up where the unit was painted, check the hit test agrees, then click there. The map may
# still move after `ready`, so a point computed in one call and clicked in a later one can miss.
CLICK_UNIT = ("(function (id) { var d = JSON.parse(wf.unitDrawn(id)); if (!d) { return JSON.stringify(false); }"
              " var h = JSON.parse(wf.hitTest(d.at[0], d.at[1]));"
              " if (!h || h[0] !== 'unit' || h[1] !== id) { return JSON.stringify(false); }"
              " return wf.clickAt(d.at[0], d.at[1]); })")


def test_ten_units_on_one_point_are_one_group_that_spreads_on_click(view, js_eval, qtbot):
    kinds = ["engine", "ladder", "ambulance", "patrol", "engine", "rescue", "ambulance", "command", "tanker", "k9"]
    view.upsert_units([unit(f"U{i}", kind, 60.171, 24.944) for i, kind in enumerate(kinds)])
    view.center_on(60.171, 24.944, 18)  # full zoom: they still stand on one point

    def grouped() -> bool:
        paint = js(js_eval, view, "wf.unitPaint()")
        return paint["groups"] == 1 and paint["biggest"] == 10 and paint["badges"] == ["10"]

    qtbot.waitUntil(grouped, timeout=5000)
    assert js(js_eval, view, "wf.unitDrawn('U3')")["group"] == 10
    click_group = ("(function () { var d = JSON.parse(wf.unitDrawn('U0'));"
                   " var h = JSON.parse(wf.hitTest(d.at[0], d.at[1]));"
                   " if (!h || h[0] !== 'group' || h[1].length !== 10) { return JSON.stringify(false); }"
                   " return wf.clickAt(d.at[0], d.at[1]); })()")
    qtbot.waitUntil(lambda: js(js_eval, view, click_group) is True, timeout=5000)
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.unitPaint()")["spread"] == 10, timeout=5000)
    paint = js(js_eval, view, "wf.unitPaint()")
    assert paint["groups"] == 0 and paint["badges"] == []
    assert sorted(paint["labels"]) == sorted(f"U{i}" for i in range(10))  # every callsign readable
    spots = set()
    for i in range(10):
        drawn = js(js_eval, view, f"wf.unitDrawn('U{i}')")
        assert drawn["spread"] and drawn["group"] == 1
        spots.add((round(drawn["at"][0]), round(drawn["at"][1])))
        with qtbot.waitSignal(view.selected, timeout=5000) as blocker:
            qtbot.waitUntil(lambda i=i: js(js_eval, view, f"{CLICK_UNIT}('U{i}')") is True, timeout=5000)
        assert blocker.args == ["unit", f"U{i}"]
    assert len(spots) == 10  # drawn apart
    assert js(js_eval, view, "wf.unitPaint()")["spread"] == 10  # picking one keeps the others apart


def test_a_unit_selected_from_the_board_spreads_its_group(view, js_eval, qtbot):
    view.upsert_units([unit(f"U{i}", "engine", 60.171, 24.944) for i in range(4)])
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.unitPaint()")["biggest"] == 4, timeout=5000)
    view.select("unit", "U2")
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.unitPaint()")["spread"] == 4, timeout=5000)


def test_the_symbol_says_what_kind_of_unit_it_is(view, js_eval, qtbot):
    kinds = {"E1": "engine", "L1": "ladder", "A1": "ambulance", "P1": "patrol", "D1": "drone", "B1": "boat",
             "X1": "hovercraft"}
    view.upsert_units([unit(uid, kind, 60.166 + i * 0.0015, 24.938 + i * 0.002)
                       for i, (uid, kind) in enumerate(kinds.items())])
    qtbot.waitUntil(lambda: sum(js(js_eval, view, "wf.unitPaint()")["symbols"].values()) == 7, timeout=5000)
    drawn = {uid: js(js_eval, view, f"wf.unitDrawn('{uid}')") for uid in kinds}
    symbols = {uid: (d["shape"], d["letter"]) for uid, d in drawn.items()}
    assert symbols == {"E1": ("square", "E"), "L1": ("square", "L"), "A1": ("cross", "A"), "P1": ("shield", "P"),
                       "D1": ("triangle", "D"), "B1": ("hull", "B"), "X1": ("circle", "")}
    assert len(set(symbols.values())) == 7
    assert js(js_eval, view, "wf.unitPaint()")["symbols"] == {
        "squareE": 1, "squareL": 1, "crossA": 1, "shieldP": 1, "triangleD": 1, "hullB": 1, "circle": 1}


def test_a_position_older_than_its_feed_interval_is_drawn_stale_with_its_age(view, js_eval, qtbot):
    view.set_clock(NOW)
    view.upsert_units([
        unit("OLD", "engine", 60.170, 24.940, fix_at=NOW - 300, fix_every=120),
        unit("NEW", "engine", 60.172, 24.948, fix_at=NOW - 10, fix_every=120),
        unit("NOFIX", "engine", 60.168, 24.946),
    ])
    view.center_on(60.171, 24.944, 16)
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.unitPaint()")["stale"] == 1, timeout=5000)
    old = js(js_eval, view, "wf.unitDrawn('OLD')")
    assert old["stale"] and old["age"] == "5 min"
    assert not js(js_eval, view, "wf.unitDrawn('NEW')")["stale"]
    assert not js(js_eval, view, "wf.unitDrawn('NOFIX')")["stale"]
    qtbot.waitUntil(lambda: "OLD · 5 min" in js(js_eval, view, "wf.unitPaint()")["labels"], timeout=5000)
    # A new fix makes it current again; the clock moving on makes the other one stale.
    view.upsert_units([{"id": "OLD", "fix_at": NOW + 195}])
    view.set_clock(NOW + 200)
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.unitDrawn('NEW')")["stale"], timeout=5000)
    assert js(js_eval, view, "wf.unitDrawn('NEW')")["age"] == "4 min"  # 210 s
    assert not js(js_eval, view, "wf.unitDrawn('OLD')")["stale"]


def test_a_huge_drone_footprint_rings_nothing_but_a_small_one_does(view, js_eval, qtbot):
    view.upsert_incidents([{"id": "i1", "type": "fire", "priority": 1, "status": "dispatched", "lat": 60.1715,
                            "lon": 24.944}])
    view.upsert_units([unit("E1", "engine", 60.1716, 24.9445)])
    view.upsert_drones([{"id": "UAV1", "callsign": "UAV1", "lat": 60.1712, "lon": 24.943, "heading": 0, "alt": 120}])
    view.set_in_view([{"kind": "incident", "id": "i1"}, {"kind": "unit", "id": "E1"}])
    view.set_footprints([{"id": "UAV1", "drone": "UAV1",
                          "polygon": [[60.14, 24.90], [60.14, 24.99], [60.20, 24.99], [60.20, 24.90]]}])
    view.center_on(60.1715, 24.944, 16)
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.layerCount('footprints')") == 1
                    and js(js_eval, view, "wf.count('incidents')") == 1, timeout=5000)
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.stats()")["zoom"] == 16, timeout=5000)
    assert js(js_eval, view, "wf.inView()") == ["incident:i1", "unit:E1"]  # the drone desk's word stands
    assert js(js_eval, view, "wf.ringed()") == {"unit": [], "incident": []}  # but the map rings nothing
    assert js(js_eval, view, "wf.inViewSummary('UAV1')") == "in view: 1 unit, 1 incident"  # it counts them
    d = 0.0004  # ~45 m across: a small share of the view at zoom 16
    view.set_footprints([{"id": "UAV1", "drone": "UAV1", "polygon": [
        [60.1715 - d, 24.944 - 2 * d], [60.1715 - d, 24.944 + 2 * d], [60.1715 + d, 24.944 + 2 * d],
        [60.1715 + d, 24.944 - 2 * d]]}])
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.ringed()") == {"unit": ["E1"], "incident": ["i1"]}, timeout=5000)
    assert js(js_eval, view, "wf.inViewSummary('UAV1')") == ""
    # A tight footprint over a crowd: a ring on each of 13 units says less than the count does.
    crowd = [unit(f"C{i}", "patrol", 60.1715 + (i % 4 - 1.5) * 1e-4, 24.944 + (i // 4 - 1.5) * 2e-4) for i in range(12)]
    view.upsert_units(crowd)
    view.set_in_view([{"kind": "incident", "id": "i1"}, {"kind": "unit", "id": "E1"}]
                     + [{"kind": "unit", "id": u["id"]} for u in crowd])
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.ringed()") == {"unit": [], "incident": []}, timeout=5000)
    assert js(js_eval, view, "wf.inViewSummary('UAV1')") == "in view: 13 units, 1 incident"


def make_picture() -> Picture:
    picture = Picture()
    picture.units["E12"] = Unit("E12", "fire", "engine", "Station 1", UnitStatus.EN_ROUTE, NOW, lat=60.1705,
                                lon=24.9432, position_at=NOW)
    picture.units["E1"] = Unit("E1", "fire", "engine", "Station 1", UnitStatus.AVAILABLE, NOW, lat=60.1675,
                               lon=24.9385, position_at=NOW)
    picture.incidents["1042"] = Incident("1042", "fire", 1, 60.1718, 24.9446, "Keskuskatu 3",
                                         IncidentStatus.NEW, NOW, "disp1", "fire", ["fire"])
    return picture


def test_search_ranks_exact_callsigns_and_incident_numbers_before_places(geocoder):
    picture = make_picture()
    assert [h.id for h in map_search.search("E1", picture, geocoder)][:2] == ["E1", "E12"]
    assert [(h.kind, h.id) for h in map_search.search("1042", picture, geocoder)] == [("incident", "1042")]
    hit = map_search.search("mannerheimintie 5", picture, geocoder)[0]
    assert (hit.kind, hit.id, hit.lat, hit.lon) == ("place", "Mannerheimintie 5, 00100 Helsinki", 60.169, 24.9401)
    assert map_search.search("kolmen sepän", picture, geocoder)[0].id == "Kolmen sepän aukio"
    assert map_search.search("E12", picture, None)[0].label == "E12 · engine · fire · en route"
    assert map_search.search("   ", picture, geocoder) == []


def centred_on(js_eval, view: MapView, lat: float, lon: float) -> bool:
    stats = js(js_eval, view, "wf.stats()")
    return stats["zoom"] == MapView.SEARCH_ZOOM and abs(stats["center"][0] - lat) < 1e-5 \
        and abs(stats["center"][1] - lon) < 1e-5


def type_and_enter(qtbot, view: MapView, text: str) -> None:
    view.focus_search()
    view.search_box.clear()
    qtbot.keyClicks(view.search_box, text)
    qtbot.keyClick(view.search_box, Qt.Key.Key_Return)


def test_the_search_box_finds_a_callsign_an_incident_and_an_address(grid_view, js_eval, qtbot, geocoder):
    view, picture = grid_view, make_picture()
    view.set_search_provider(lambda text: map_search.search(text, picture, geocoder))
    assert view.search_box.isVisible()
    view.upsert_units([unit(u.id, u.kind, u.lat, u.lon) for u in picture.units.values()])
    view.upsert_incidents([{"id": "1042", "type": "fire", "priority": 1, "status": "new", "lat": 60.1718,
                            "lon": 24.9446}])
    qtbot.waitUntil(lambda: js(js_eval, view, "wf.count('units')") == 2, timeout=5000)

    with qtbot.waitSignal(view.selected, timeout=5000) as blocker:
        type_and_enter(qtbot, view, "e12")
    assert blocker.args == ["unit", "E12"]
    qtbot.waitUntil(lambda: centred_on(js_eval, view, 60.1705, 24.9432), timeout=5000)
    assert js(js_eval, view, "wf.stats()")["selection"] == {"kind": "unit", "id": "E12"}

    with qtbot.waitSignal(view.selected, timeout=5000) as blocker:
        type_and_enter(qtbot, view, "1042")
    assert blocker.args == ["incident", "1042"]
    qtbot.waitUntil(lambda: centred_on(js_eval, view, 60.1718, 24.9446), timeout=5000)
    assert js(js_eval, view, "wf.stats()")["selection"] == {"kind": "incident", "id": "1042"}

    with qtbot.waitSignal(view.searched, timeout=5000) as blocker:
        type_and_enter(qtbot, view, "Mannerheimintie 5")
    assert blocker.args[0].kind == "place"
    qtbot.waitUntil(lambda: centred_on(js_eval, view, 60.1690, 24.9401), timeout=5000)
    assert js(js_eval, view, "wf.pin()") == {"lat": 60.169, "lon": 24.9401,
                                             "label": "Mannerheimintie 5, 00100 Helsinki"}
    assert js(js_eval, view, "wf.stats()")["selection"]["id"] is None


def test_suggestions_appear_while_typing(grid_view, qtbot, geocoder):
    picture = make_picture()
    grid_view.set_search_provider(lambda text: map_search.search(text, picture, geocoder))
    grid_view.focus_search()
    qtbot.keyClicks(grid_view.search_box, "Manner")
    popup = grid_view.search_box.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    labels = [popup.model().index(r, 0).data() for r in range(popup.model().rowCount())]
    assert labels[0].startswith("Mannerheimintie")


def menu_head(js_eval, view: MapView) -> list[str] | None:
    return js(js_eval, view, "wf.menuHead()")


def test_right_click_names_the_nearest_address_and_the_cross_streets(grid_view, js_eval, qtbot, geocoder):
    grid_view.set_place_resolver(lambda lat, lon: map_search.place_at(geocoder, lat, lon))
    js(js_eval, grid_view, "wf.openMenuAt(60.1691, 24.9402)")
    qtbot.waitUntil(lambda: (menu_head(js_eval, grid_view) or [""])[0] != "…", timeout=5000)
    assert menu_head(js_eval, grid_view) == ["Mannerheimintie 5", "between Simonkatu and Kalevankatu",
                                              "60.16910, 24.94020"]
    # At a crossing the menu says so.
    js(js_eval, grid_view, "wf.openMenuAt(60.17003, 24.94005)")
    qtbot.waitUntil(lambda: (menu_head(js_eval, grid_view) or [""])[0] != "…", timeout=5000)
    assert menu_head(js_eval, grid_view)[1] == "at the corner of Mannerheimintie and Simonkatu"


def test_right_click_without_a_geocoder_still_names_the_street(grid_view, js_eval, qtbot):
    js(js_eval, grid_view, "wf.openMenuAt(60.1710, 24.9441)")
    qtbot.waitUntil(lambda: (menu_head(js_eval, grid_view) or ["…"])[0] != "…", timeout=5000)
    assert menu_head(js_eval, grid_view) == ["on Keskuskatu, between Simonkatu and Aleksanterinkatu",
                                              "60.17100, 24.94410"]


def test_a_failing_search_is_logged_and_the_box_keeps_working(qtbot, caplog):
    from app.ui.map.search import MapSearchBox

    box = MapSearchBox()
    qtbot.addWidget(box)

    def broken(_text: str) -> list[map_search.SearchHit]:
        raise RuntimeError("gazetteer file vanished")

    box.provider = broken
    box.setText("E12")
    assert box.go() is None
    assert "map search failed" in caplog.text
    found = map_search.SearchHit("unit", "E12", "E12 · engine", 60.17, 24.94)
    box.provider = lambda _text: [found]
    with qtbot.waitSignal(box.chosen, timeout=1000) as blocker:
        assert box.go() == found
    assert blocker.args == [found]
