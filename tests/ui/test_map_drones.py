"""The map's drone layers against a real Qt WebEngine page: drones, footprints, in-view rings, look requests,
and the "Ask a drone to look here" map menu."""

from __future__ import annotations

import pytest

from tests.ui.test_map_view import js_value, make_view

SQUARE = [[60.1695, 24.9395], [60.1695, 24.9410], [60.1705, 24.9410], [60.1705, 24.9395]]
# Pixels of the drone magenta (#e040fb) on a page canvas: what the in-view ring is painted with.
MAGENTA_PIXELS = """JSON.stringify((function () {
  var canvas = map_wf.getPane('wfIncidents').querySelector('canvas');
  var d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, n = 0;
  for (var i = 0; i < d.length; i += 4) { if (d[i] > 200 && d[i + 1] < 110 && d[i + 2] > 220) { n++; } }
  return n;
})())"""


@pytest.fixture
def view(qtbot, tmp_path):
    view = make_view(qtbot, tmp_path)
    view.center_on(60.170, 24.940, 16)
    return view


def test_drone_footprint_in_view_ring_and_look_request(view, js_eval, qtbot):
    view.upsert_incidents([{"id": "1001", "type": "fire", "type_label": "Fire", "priority": 1, "status": "new",
                            "lat": 60.1700, "lon": 24.9402, "address": "", "restricted": False}])
    view.upsert_drones([{"id": "UAV1", "callsign": "UAV1", "lat": 60.1690, "lon": 24.9380, "heading": 45,
                         "agl": 120, "battery": 22, "link": "up"}])
    view.set_footprints([{"id": "UAV1", "drone": "UAV1", "polygon": SQUARE}])
    view.set_tracks({"UAV1": [[60.1680, 24.9370], [60.1685, 24.9375], [60.1690, 24.9380]]})
    view.set_looks([{"id": "LK-1", "drone": "UAV1", "lat": 60.1702, "lon": 24.9405, "note": "roof",
                     "acknowledged": False}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "'[' + [wf.count('drones'), wf.layerCount('footprints'),"
                                     "wf.layerCount('tracks'), wf.layerCount('looks')].join(',') + ']'")
                    == [1, 1, 1, 5], timeout=5000)
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.item('drones', 'UAV1')")["battery"] == 22, timeout=5000)
    # The look request is labelled with its drone on the map.
    label = js_value(js_eval, view, "JSON.stringify(document.querySelector('.wf-look-label').textContent)")
    assert label == "LOOK UAV1 — roof"

    # No ring before the camera sees the incident; a magenta ring around it once it does.
    qtbot.wait(200)
    before = js_value(js_eval, view, MAGENTA_PIXELS)
    view.set_in_view([{"kind": "incident", "id": "1001"}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.inView()") == ["incident:1001"], timeout=5000)
    qtbot.waitUntil(lambda: js_value(js_eval, view, MAGENTA_PIXELS) > before + 50, timeout=5000)
    view.set_in_view([])
    qtbot.waitUntil(lambda: js_value(js_eval, view, MAGENTA_PIXELS) == before, timeout=5000)

    # Acknowledged: the label turns (and says) so.
    view.set_looks([{"id": "LK-1", "drone": "UAV1", "lat": 60.1702, "lon": 24.9405, "note": "",
                     "acknowledged": True}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "JSON.stringify(document.querySelector('.wf-look-label.wf-ack')"
                                     " ? document.querySelector('.wf-look-label').textContent : null)")
                    == "LOOK UAV1 ✔", timeout=5000)


def test_map_menu_offers_look_here_only_when_there_are_drones(view, js_eval, qtbot):
    assert js_value(js_eval, view, "wf.contextAt(60.1701, 24.9402, 'Ask a drone to look here…')") is False
    view.upsert_drones([{"id": "UAV1", "callsign": "UAV1", "lat": 60.169, "lon": 24.938, "heading": 0}])
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.count('drones')") == 1, timeout=5000)
    with qtbot.waitSignal(view.context_look_here, timeout=5000) as blocker:
        view.run_js("wf.contextAt(60.1701, 24.9402, 'Ask a drone to look here…')")
    lat, lon = blocker.args
    assert lat == pytest.approx(60.1701) and lon == pytest.approx(24.9402)


def test_map_menu_offers_an_alert_only_to_those_who_may_issue_one(view, js_eval, qtbot):
    assert js_value(js_eval, view, "wf.contextAt(60.1701, 24.9402, 'Issue alert here…')") is False
    view.offer_alerts(True)
    with qtbot.waitSignal(view.context_issue_alert, timeout=5000) as blocker:
        qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.contextAt(60.1701, 24.9402, 'Issue alert here…')")
                        is True, timeout=5000)
    assert blocker.args == [pytest.approx(60.1701), pytest.approx(24.9402)]
    view.offer_alerts(False)
    qtbot.waitUntil(lambda: js_value(js_eval, view, "wf.contextAt(60.1701, 24.9402, 'Issue alert here…')")
                    is False, timeout=5000)
