"""The incident timeline window over a real log: lanes, spans, markers, intervals, hover and click, viewers."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.domain import events as ev
from app.domain.picture import Viewer
from app.domain.response_times import benchmark_for, incident_times
from app.sim.map import FallbackMap
from app.ui.review.lanes import ALERTS, DRONES, MESSAGES, NOTES, incident_lane, unit_lane
from app.ui.review.source import ReviewSource
from app.ui.review.timeline_window import OVER, UNJUDGED, WITHIN, TimelineWindow
from tests.ui.shift_log import ShiftLog, write_shift_log


@pytest.fixture(scope="module")
def shift(tmp_path_factory) -> ShiftLog:
    return write_shift_log(tmp_path_factory.mktemp("shift") / "hub.db", duration=1800, map_=FallbackMap())


def open_window(qtbot, source: ReviewSource, **kwargs) -> TimelineWindow:
    window = TimelineWindow(source, **kwargs)
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    qtbot.waitUntil(lambda: window.lanes is not None or window.error is not None, timeout=15000)
    return window


def screen_point(window: TimelineWindow, x: float, y: float) -> QPoint:
    """Where a data point (time, lane y) is in the plot's viewport."""
    scene = window.plot.getPlotItem().vb.mapViewToScene(QPointF(x, y))
    return window.plot.mapFromScene(scene)


def hover_until(qtbot, widget, point: QPoint, condition) -> None:
    """Rest the mouse on `point`, jiggling by a pixel as a hand does, until `condition()` holds.

    pyqtgraph drops mouse moves that come faster than its rate limit, so one synthetic move may go unseen.
    """
    moves = [0]

    def moved() -> bool:
        moves[0] += 1
        qtbot.mouseMove(widget, point + QPoint(moves[0] % 2, 0))
        return bool(condition())

    qtbot.waitUntil(moved, timeout=5000)


def test_incident_lanes_show_statuses_units_and_markers(qtbot, shift):
    incident = shift.extras["incident"]
    window = open_window(qtbot, ReviewSource(shift.path), incident=incident)
    lanes = window.lanes
    assert lanes is not None and window.error is None
    # Expected independently from the events written: the units ever assigned and each one's statuses.
    assigned = [e.data["unit"] for e in shift.events if e.kind == ev.UNIT_ASSIGNED and e.data["incident"] == incident]
    assert [lane.key for lane in lanes.lanes] == [incident_lane(incident), *map(unit_lane, dict.fromkeys(assigned)),
                                                 NOTES, MESSAGES, DRONES, "feed", ALERTS]
    unit = assigned[0]
    statuses = ["dispatched"] + [e.data["status"] for e in shift.events if e.kind == ev.UNIT_STATUS
                                 and e.data["unit"] == unit and e.data.get("incident") == incident
                                 and e.data["status"] not in ("available", "out_of_service")]
    assert [s.status for s in lanes.spans_of(unit_lane(unit))] == statuses
    incident_statuses = ["new"] + [e.data["status"] for e in shift.events if e.kind == ev.INCIDENT_STATUS
                                   and e.data["id"] == incident and e.data["status"] != "closed"]
    assert [s.status for s in lanes.spans_of(incident_lane(incident))] == incident_statuses
    # Each span is drawn as a bar covering its time on its lane.
    drawn = {(round(b.rect().left(), 3), round(b.rect().width(), 3)) for b in window.bars}
    for span in lanes.spans:
        assert (round(span.start, 3), round(span.end - span.start, 3)) in drawn
    assert shift.extras["note"] in [m.event.seq for m in lanes.markers_of(NOTES)]
    assert [m.event.seq for m in lanes.markers_of(MESSAGES)] == [shift.extras["message"]]
    assert [m.event.kind for m in lanes.markers_of(ALERTS)][:1] == [ev.ALERT_ISSUED]
    assert len(window.scatters[NOTES].points()) == len(lanes.markers_of(NOTES))


def test_intervals_match_response_figures_and_benchmark_colours(qtbot, shift):
    incident = shift.extras["incident"]
    window = open_window(qtbot, ReviewSource(shift.path), incident=incident)
    expected = next(t for t in incident_times(shift.events) if t.incident == incident)
    measured = {i.measure: i for i in window.lanes.intervals if i.unit in (None, expected.first_unit)}
    assert measured["call_processing"].seconds == pytest.approx(expected.call_processing)
    assert measured["turnout"].seconds == pytest.approx(expected.turnout)
    assert measured["travel"].seconds == pytest.approx(expected.travel)
    colours = {(round(b.rect().left(), 3), round(b.rect().width(), 3)): b.colour for b in window.bars}
    agencies = shift.picture_at(shift.t1).units
    for interval in window.lanes.intervals:
        agency = agencies[interval.unit].agency if interval.unit else expected.agency
        bench = benchmark_for(interval.measure, agency)
        want = UNJUDGED if bench is None else OVER if interval.seconds > bench.seconds else WITHIN
        assert colours[(round(interval.start, 3), round(interval.seconds, 3))] == want


def test_hover_says_what_and_who_and_click_opens_the_event(qtbot, shift):
    window = open_window(qtbot, ReviewSource(shift.path), incident=shift.extras["incident"])
    note = next(m for m in window.lanes.markers_of(NOTES) if m.event.seq == shift.extras["note"])
    y = window.scatters[NOTES].points()[0].pos().y()
    point = screen_point(window, note.ts, y)
    hover_until(qtbot, window.plot.viewport(), point,
                lambda: "supervisor1" in window.hover_label.text() and "second floor" in window.hover_label.text())
    qtbot.mouseClick(window.plot.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: window.detail.shown is not None and window.detail.shown.seq == note.event.seq,
                    timeout=5000)
    text = window.detail.toPlainText()
    assert "supervisor1" in text and "incident.note" in text and "Caller reports smoke" in text

    # A unit's status bar opens the event that set the status (the dispatch, by the dispatcher).
    unit_span = window.lanes.spans_of(window.lanes.lanes[1].key)[0]
    middle = screen_point(window, (unit_span.start + unit_span.end) / 2, 1.35)
    qtbot.mouseClick(window.plot.viewport(), Qt.MouseButton.LeftButton, pos=middle)
    qtbot.waitUntil(lambda: window.detail.shown is unit_span.event, timeout=5000)
    assert "sim-dispatch" in window.detail.toPlainText()


def test_time_window_shows_every_incident_open_in_it(qtbot, shift):
    t0, t1 = shift.t0 + 600, shift.t0 + 1200
    window = open_window(qtbot, ReviewSource(shift.path), window=(t0, t1))
    before = shift.picture_at(t0)
    expected = {i.id for i in before.incidents.values() if i.status != "closed"}
    expected |= {e.data["id"] for e in shift.events if e.kind == ev.INCIDENT_CREATED and t0 <= e.ts <= t1}
    shown = {lane.key.partition(":")[2] for lane in window.lanes.lanes if lane.key.startswith("incident:")}
    assert shown == expected and shown
    # Spans already under way at the window's start are drawn from its edge.
    assert any(s.start == t0 and s.event is None for s in window.lanes.spans)


def test_restricted_incident_is_hidden_from_other_agencies(qtbot, shift):
    restricted = shift.extras["restricted"]
    fire = open_window(qtbot, ReviewSource(shift.path, Viewer("fire")), incident=restricted)
    assert fire.lanes is None and f"no incident {restricted}" in fire.error
    police = open_window(qtbot, ReviewSource(shift.path, Viewer("police")), incident=restricted)
    assert police.lanes is not None and police.lanes.lanes[0].key == incident_lane(restricted)
    # The window view of a fire dispatcher leaves the restricted call out too.
    span = (shift.t0, shift.t1)
    fire_window = open_window(qtbot, ReviewSource(shift.path, Viewer("fire")), window=span)
    assert incident_lane(restricted) not in [lane.key for lane in fire_window.lanes.lanes]


def test_a_file_that_is_not_a_log_gets_a_clear_error(qtbot, tmp_path: Path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    window = open_window(qtbot, ReviewSource(junk), incident="1001")
    assert window.lanes is None and "not a Watchfloor log" in window.error
    assert "not a Watchfloor log" in window.heading.text()
