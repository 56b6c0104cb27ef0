"""The replay window over a real log: the queue, board and map at T, trails, play, and a dragged slider."""

from __future__ import annotations

import pytest

from app.domain import events as ev
from app.domain.picture import Viewer
from app.sim.map import FallbackMap
from app.ui.review.replay_window import ReplayWindow
from app.ui.review.source import ReviewSource
from tests.ui.schematic_map import SchematicMap
from tests.ui.shift_log import ShiftLog, write_shift_log


@pytest.fixture(scope="module")
def shift(tmp_path_factory) -> ShiftLog:
    return write_shift_log(tmp_path_factory.mktemp("shift") / "hub.db", duration=1800, map_=FallbackMap())


def open_replay(qtbot, source: ReviewSource, **kwargs) -> ReplayWindow:
    window = ReplayWindow(source, map_factory=kwargs.pop("map_factory", SchematicMap), **kwargs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.moment is not None, timeout=15000)
    return window


def seek_and_wait(qtbot, window: ReplayWindow, ts: float) -> None:
    window.seek(ts)
    qtbot.waitUntil(lambda: window.moment is not None and window.moment.ts == ts and window.seeker.idle,
                    timeout=15000)


def queue_ids(window: ReplayWindow) -> list[str]:
    model = window.queue_model
    return [model.key(r) for r in range(model.rowCount())]


def test_window_is_marked_replay_and_offers_no_commands(qtbot, shift):
    window = open_replay(qtbot, ReviewSource(shift.path))
    assert "REPLAY" in window.windowTitle() and window.banner_text.text().startswith("REPLAY · READ-ONLY")
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&Review"]
    # The unit board's status keys go nowhere: nothing is connected to its command signal.
    assert window.units.receivers("2status_requested(QString,QString)") == 0
    assert window.queue.receivers("2recommend(QString)") == 0


def test_queue_board_and_map_show_the_picture_at_t(qtbot, shift):
    window = open_replay(qtbot, ReviewSource(shift.path))
    assert window.t0 == shift.t0 and window.t1 == shift.t1
    created = [e for e in shift.events if e.kind == ev.INCIDENT_CREATED]
    later = created[2]
    before, after = later.ts - 1, later.ts + 1
    seek_and_wait(qtbot, window, before)
    assert later.data["id"] not in queue_ids(window)
    assert later.data["id"] not in window.map.incidents
    seek_and_wait(qtbot, window, after)
    expected = shift.picture_at(after)
    open_ids = {i.id for i in expected.incidents.values() if i.status != "closed"}
    assert later.data["id"] in queue_ids(window) and set(queue_ids(window)) == open_ids
    assert set(window.map.incidents) == open_ids
    # A unit's status on the board and on the map is its status at T.
    assigned = next(e for e in shift.events if e.kind == ev.UNIT_ASSIGNED)
    unit = assigned.data["unit"]
    for ts in (assigned.ts - 1, assigned.ts + 1):
        seek_and_wait(qtbot, window, ts)
        want = shift.picture_at(ts).units[unit].status.value
        row = window.unit_model.row_of(unit)
        assert window.unit_model.unit(row).status.value == want
        assert window.map.units[unit]["status"] == want
    assert want == "dispatched"
    # Ages on the queue are measured at T, not now.
    row = queue_ids(window).index(assigned.data["incident"])
    age = window.queue_model.data(window.queue_model.index(row, 6))
    incident = shift.picture_at(assigned.ts + 1).incidents[assigned.data["incident"]]
    seconds = int(assigned.ts + 1 - incident.created_at)
    assert age == f"{seconds // 60}:{seconds % 60:02d}"


def test_trails_show_the_last_minutes_of_positions(qtbot, shift):
    window = open_replay(qtbot, ReviewSource(shift.path))
    window.trail.setValue(5)
    ts = shift.t0 + 900
    seek_and_wait(qtbot, window, ts)
    fixes: dict[str, list[list[float]]] = {}
    for e in shift.events:
        if e.kind == ev.UNIT_POSITION and ts - 300 <= e.ts <= ts:
            fixes.setdefault(e.data["unit"], []).append([e.data["lat"], e.data["lon"]])
    assert window.map.tracks == {u: pts for u, pts in fixes.items() if len(pts) > 1}
    assert window.map.tracks


def test_play_at_60x_advances_the_clock(qtbot, shift):
    window = open_replay(qtbot, ReviewSource(shift.path))
    start = shift.t0 + 100
    seek_and_wait(qtbot, window, start)
    window.set_speed(60)
    window.set_playing(True)
    qtbot.waitUntil(lambda: window.moment.ts >= start + 60, timeout=20000)
    window.set_playing(False)
    stopped = window.target
    assert window.play_button.text().endswith("Play")
    assert window.clock_label.text() != "--:--:--"
    # Stopped means stopped: the slider stays where it was.
    qtbot.waitUntil(lambda: window.seeker.idle, timeout=10000)
    assert window.target == stopped


def test_dragging_the_slider_computes_only_the_newest_moment(qtbot, shift):
    window = open_replay(qtbot, ReviewSource(shift.path))
    computed = window.seeker.computed
    for second in range(0, 1500, 5):  # 300 slider positions, as fast as a hand can drag
        window.slider.setValue(second)
    qtbot.waitUntil(lambda: window.seeker.idle and window.moment.ts == shift.t0 + 1495, timeout=20000)
    assert window.seeker.computed - computed < 300 / 2  # most positions were superseded before they started
    assert window.clock_label.text() and window.moment.picture.seq == shift.picture_at(shift.t0 + 1495).seq


def test_a_dispatchers_replay_leaves_out_other_agencies_restricted_calls(qtbot, shift):
    restricted = shift.extras["restricted"]
    created = next(e for e in shift.events if e.kind == ev.INCIDENT_CREATED and e.data["id"] == restricted)
    fire = open_replay(qtbot, ReviewSource(shift.path, Viewer("fire")))
    seek_and_wait(qtbot, fire, created.ts + 5)
    assert restricted not in queue_ids(fire) and restricted not in fire.map.incidents
    assert "FIRE view" in fire.windowTitle()
    police = open_replay(qtbot, ReviewSource(shift.path, Viewer("police")))
    seek_and_wait(qtbot, police, created.ts + 5)
    assert restricted in queue_ids(police)


def test_real_map_draws_incidents_units_and_trails_offline(qtbot, shift, js_eval, tmp_path):
    from app.ui.map import MapView

    views: list[MapView] = []

    def real_map() -> MapView:
        view = MapView(cache_dir=tmp_path / "map")
        views.append(view)
        return view

    window = open_replay(qtbot, ReviewSource(shift.path), map_factory=real_map)
    view = views[0]
    qtbot.waitUntil(lambda: view.is_ready, timeout=20000)
    ts = shift.t0 + 900
    seek_and_wait(qtbot, window, ts)
    expected = shift.picture_at(ts)
    open_count = sum(1 for i in expected.incidents.values() if i.status != "closed")

    def drawn() -> bool:
        counts = js_eval(view.page(), "'[' + [wf.count('incidents'), wf.count('units'),"
                                      "wf.layerCount('tracks')].join(',') + ']'")
        return counts == [open_count, len(expected.units), len(window.moment.tracks)]

    qtbot.waitUntil(drawn, timeout=10000)
    assert view.external_requests_blocked == 0, view.blocked_urls
    window.close()
