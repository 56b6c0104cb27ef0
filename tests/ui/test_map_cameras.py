"""Cameras on the map: the view wedge the console computes from a camera's report, and the camera layer on a real
Qt WebEngine page (dot, wedge, name; greyed when stale)."""

from __future__ import annotations

import math

import pytest

from app.domain.cameras import Camera
from app.domain.footprint import metres_per_degree
from app.domain.picture import Picture
from app.ui.map_feed import MapFeed, camera_dicts, camera_wedge
from tests.ui.schematic_map import SchematicMap
from tests.ui.test_map_view import js_value, make_view

CAM = Camera("CAM-1", "police", label="Town hall", lat=60.1700, lon=24.9400, azimuth=90.0, hfov=60.0, range_m=150.0,
             video_url="rtsp://203.0.113.5/cam", reported_at=1000.0, stale_at=1300.0)


def metres(a: list[float], b: list[float]) -> tuple[float, float]:
    per_lat, per_lon = metres_per_degree(a[0])
    return (b[1] - a[1]) * per_lon, (b[0] - a[0]) * per_lat  # east, north


def test_the_wedge_opens_from_the_camera_across_its_field_of_view_to_its_range() -> None:
    wedge = camera_wedge(CAM)
    assert wedge is not None and wedge[0] == [CAM.lat, CAM.lon]
    bearings = []
    for point in wedge[1:]:
        east, north = metres(wedge[0], point)
        assert math.hypot(east, north) == pytest.approx(150.0, rel=1e-3)
        bearings.append(math.degrees(math.atan2(east, north)))
    assert bearings[0] == pytest.approx(60.0, abs=0.01) and bearings[-1] == pytest.approx(120.0, abs=0.01)
    assert camera_wedge(Camera("CAM-2", "police", lat=60.17, lon=24.94, azimuth=0.0)) is None  # no fov, range
    panorama = camera_wedge(Camera("CAM-3", "police", lat=60.17, lon=24.94, azimuth=0.0, hfov=360.0, range_m=50.0))
    assert panorama is not None and len(panorama) == 13  # a ring, not a wedge from the centre


def test_stale_cameras_are_marked_and_unplaced_ones_left_out(qtbot) -> None:
    picture = Picture(cameras={"CAM-1": CAM, "CAM-9": Camera("CAM-9", "police")})
    assert [(c["id"], c["stale"]) for c in camera_dicts(picture, 1299.0)] == [("CAM-1", False)]
    assert [(c["id"], c["stale"]) for c in camera_dicts(picture, 1300.0)] == [("CAM-1", True)]
    schematic = SchematicMap()
    MapFeed(schematic).update(picture, 1000.0)
    assert [c["id"] for c in schematic.cameras] == ["CAM-1"]


@pytest.fixture
def view(qtbot, tmp_path):
    view = make_view(qtbot, tmp_path)
    view.center_on(60.170, 24.941, 16)
    return view


def test_the_camera_layer_draws_dot_wedge_and_name(view, js_eval, qtbot) -> None:
    picture = Picture(cameras={"CAM-1": CAM})
    view.set_cameras(camera_dicts(picture, 1000.0))
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.layerCount('cameras')") == 2, timeout=5000)
    label = js_value(js_eval, view, "JSON.stringify(document.querySelector('.wf-camera-label').textContent)")
    assert label == "CAM CAM-1 — Town hall"
    # A click on the camera's dot selects it (the console opens its video).
    x, y = js_value(js_eval, view, f"JSON.stringify((function () {{ var p = map_wf.latLngToContainerPoint("
                                   f"[{CAM.lat}, {CAM.lon}]); return [p.x + 3, p.y - 2]; }})())")
    with qtbot.waitSignal(view.selected, timeout=5000) as blocker:
        view.run_js(f"wf.clickAt({x}, {y})")
    assert blocker.args == ["camera", "CAM-1"]
    view.set_cameras(camera_dicts(picture, 2000.0))
    qtbot.waitUntil(lambda: js_value(js_eval, view, "JSON.stringify(document.querySelector('.wf-camera-label')"
                                     ".textContent)") == "CAM CAM-1 — Town hall (stale)", timeout=5000)
    view.set_cameras([])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.layerCount('cameras')") == 0, timeout=5000)
