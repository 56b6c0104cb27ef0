"""Response-time charts and the hotspots heat map over a real log, against figures computed independently."""

from __future__ import annotations

import pytest

from app.domain import events as ev
from app.domain.picture import Viewer
from app.domain.response_times import figures, incident_times
from app.sim.map import FallbackMap
from app.ui.review.hotspots_window import HotspotsWindow
from app.ui.review.response_window import OVER, UNJUDGED, WITHIN, ResponseTimesWindow
from app.ui.review.source import ReviewSource
from tests.ui.shift_log import ShiftLog, write_shift_log


@pytest.fixture(scope="module")
def shift(tmp_path_factory) -> ShiftLog:
    return write_shift_log(tmp_path_factory.mktemp("shift") / "hub.db", duration=3600, calls_per_hour=30,
                           map_=FallbackMap())


def open_response(qtbot, source: ReviewSource) -> ResponseTimesWindow:
    window = ResponseTimesWindow(source)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.result is not None or window.error is not None, timeout=15000)
    return window


def test_charts_and_table_show_the_logs_response_figures(qtbot, shift):
    window = open_response(qtbot, ReviewSource(shift.path))
    expected = figures(incident_times(shift.events), by=lambda t: t.agency)
    assert expected and window.table.rowCount() == len(expected)
    for row, f in enumerate(expected):
        cells = [window.table.item(row, c).text() for c in range(window.table.columnCount())]
        assert cells[0] == f.group.upper() and cells[2] == str(f.count)
    for measure, chart in window.charts.items():
        rows = [f for f in expected if f.measure == measure]
        if not rows:
            assert chart.medians is None
            continue
        assert list(chart.medians.opts["height"]) == pytest.approx([f.median for f in rows])
        assert list(chart.p90s.opts["height"]) == pytest.approx([f.p90 for f in rows])
        colours = [b.color().name() for b in chart.p90s.opts["brushes"]]
        assert colours == [UNJUDGED if f.compliant is None else WITHIN if f.compliant else OVER for f in rows]
        judged = [f for f in rows if f.benchmark is not None]
        assert chart.benchmarks == [f.benchmark.seconds for f in judged]
        assert [c for c in chart.compliance if "within" in c] == [f"{f.within:.0%} within · n={f.count}"
                                                                  for f in judged]


def test_grouping_by_priority_and_hour(qtbot, shift):
    window = open_response(qtbot, ReviewSource(shift.path))
    times = incident_times(shift.events)
    window.dimension.setCurrentIndex(window.dimension.findData("priority"))
    expected = figures(times, by=lambda t: f"P{t.priority}")
    assert [window.table.item(r, 0).text() for r in range(window.table.rowCount())] == [f.group for f in expected]
    window.dimension.setCurrentIndex(window.dimension.findData("hour"))
    hours = {f"{t.hour:02d}h" for t in times if t.call_processing is not None}
    ticks = window.charts["call_processing"].getPlotItem().getAxis("bottom")._tickLevels[0]
    assert {label for _x, label in ticks} == hours


def test_a_dispatchers_figures_leave_out_other_agencies_restricted_calls(qtbot, shift):
    fire = open_response(qtbot, ReviewSource(shift.path, Viewer("fire")))
    restricted = shift.extras["restricted"]
    assert restricted not in {t.incident for t in fire.result.times}
    everyone = open_response(qtbot, ReviewSource(shift.path))
    assert restricted in {t.incident for t in everyone.result.times}


def test_hotspots_heat_map_is_drawn_offline_and_filters_by_type(qtbot, shift, js_eval, tmp_path):
    from app.ui.map import MapView

    views: list[MapView] = []

    def real_map() -> MapView:
        views.append(MapView(cache_dir=tmp_path / "map"))
        return views[0]

    window = HotspotsWindow(ReviewSource(shift.path), map_factory=real_map)
    qtbot.addWidget(window)
    window.resize(1000, 800)
    window.show()
    view = views[0]
    qtbot.waitUntil(lambda: view.is_ready and bool(window.calls), timeout=20000)
    created = {e.data["id"]: e for e in shift.events if e.kind == ev.INCIDENT_CREATED}
    assert {c.incident for c in window.shown} == set(created)

    def heat_pixels() -> int:
        return js_eval(view.page(), """(function () {
            var c = document.querySelector('canvas.leaflet-heatmap-layer');
            if (!c) { return JSON.stringify(-1); }
            var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;
            for (var i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } }
            return JSON.stringify(n); })()""")

    qtbot.waitUntil(lambda: heat_pixels() > 0, timeout=10000)
    everything = heat_pixels()
    rare = min({e.data["type"] for e in created.values()},
               key=lambda t: sum(1 for e in created.values() if e.data["type"] == t))
    window.set_type(rare)
    assert {c.type for c in window.shown} == {rare}
    assert len(window.shown) == sum(1 for e in created.values() if e.data["type"] == rare)
    qtbot.waitUntil(lambda: 0 < heat_pixels() < everything, timeout=10000)
    assert view.external_requests_blocked == 0, view.blocked_urls
    window.close()
