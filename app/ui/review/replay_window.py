"""Replay: the shift as it stood at any moment — map, incident queue and unit board — with unit trails.

A time slider spans the log; play runs the clock at 1x to 60x; step buttons move by ten seconds or a minute.
Every moment is rebuilt from the log by `Replay.picture_at` on a worker thread (`LatestOnly`: a dragged
slider computes only the newest moment once the worker is free), so the GUI never waits on SQLite. The
window is read-only: its boards answer no keys with commands and it has no command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.entities import IncidentStatus
from app.domain.picture import Picture
from app.review.replay import ReviewLog
from app.ui.map_feed import MapFeed
from app.ui.models import IncidentQueueModel, UnitBoardModel, elapsed
from app.ui.panels.boards import IncidentQueueView, UnitBoardView
from app.ui.review.actions import ReviewActions
from app.ui.review.background import Jobs, LatestOnly
from app.ui.review.review_frame import ReviewFrame
from app.ui.review.source import LogSource, clock
from app.ui.theme import current_theme

SPEEDS = (1, 5, 10, 30, 60)
TICK_MS = 200
#: How often the log's end is looked up again (a live hub keeps writing while a supervisor reviews).
SPAN_REFRESH_MS = 10_000


@dataclass(slots=True)
class Moment:
    """What the worker computed for one time: the picture and the trails behind the units."""

    ts: float
    picture: Picture
    tracks: dict[str, list[list[float]]]


def review_map() -> QWidget:
    """The offline city map, as the console shows it."""
    from app.ui.city_services import CityServices
    from app.ui.main_window import default_map_factory  # the console's own map set-up

    city = CityServices()
    city.load_basemap()
    return default_map_factory(city, current_theme(QApplication.instance()))  # type: ignore[arg-type]


class ReplayWindow(ReviewFrame):
    """Scrub and play a stored shift."""

    MARK = "REPLAY"
    BANNER = "#8a4a12"  # amber-brown: the past, unmistakably not the live picture

    def __init__(self, source: LogSource, *, map_factory: Callable[[], QWidget] = review_map,
                 trail_minutes: int = 10, parent: QWidget | None = None) -> None:
        super().__init__(source, "Shift replay", parent)
        self.t0 = self.t1 = 0.0
        self.moment: Moment | None = None
        self.error: str | None = None
        self._play_from: tuple[float, float] | None = None  # (monotonic, T) when play started or speed changed
        self._replay: ReviewLog | None = None  # the worker's own connection (used only on the worker thread)

        self.map = map_factory()
        self.map_feed = MapFeed(self.map)
        self.queue_model = IncidentQueueModel()
        self.queue = IncidentQueueView(self.queue_model)
        self.unit_model = UnitBoardModel()
        self.units = UnitBoardView(self.unit_model)
        for model in (self.queue_model, self.unit_model):
            model.clock = self.now  # ages and times in status are as of the replayed moment

        self.body.addWidget(self._controls())
        splitter = QSplitter()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self._title("Incident queue at T"))
        left_layout.addWidget(self.queue, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self._title("Unit status at T"))
        right_layout.addWidget(self.units, 1)
        splitter.addWidget(left)
        splitter.addWidget(self.map)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([520, 800, 380])
        self.body.addWidget(splitter, 1)
        self.counts = QLabel("")
        self.statusBar().addPermanentWidget(self.counts)
        self.resize(1700, 980)

        self.seeker = LatestOnly(self._compute, self)
        self.seeker.result.connect(self._show)
        self.seeker.failed.connect(lambda _ts, message: self._fail(message))
        self.jobs = Jobs(1, self)
        self.player = QTimer(self)
        self.player.setInterval(TICK_MS)
        self.player.timeout.connect(self._advance)
        self.span_timer = QTimer(self)
        self.span_timer.setInterval(SPAN_REFRESH_MS)
        self.span_timer.timeout.connect(self._refresh_span)
        self.queue.current_changed.connect(lambda i: self.map.select("incident", i))
        self.units.current_changed.connect(lambda u: self.map.select("unit", u))
        self.map.selected.connect(self._map_selected)
        self.actions = ReviewActions(self, lambda: self.source, incident=self.selected_incident,
                                     moment=lambda: self.moment.ts if self.moment else None)
        self.actions.build(self.menuBar().addMenu("&Review"), replay=False)
        self._refresh_span()

    # -- layout --------------------------------------------------------------------------------------

    @staticmethod
    def _title(text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setStyleSheet("font-weight: 600; padding: 4px 8px;")
        label.setObjectName("dim")
        return label

    def _controls(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(10, 6, 10, 6)
        self.clock_label = QLabel("--:--:--")
        self.clock_label.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace; font-size: 20pt; "
                                       "font-weight: 700; padding: 0 10px;")
        self.date_label = QLabel("")
        self.date_label.setObjectName("dim")
        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed}×", speed)
        self.speed.currentIndexChanged.connect(lambda _i: self._restart_play_clock())
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._slider_moved)
        self.trail = QSpinBox()
        self.trail.setRange(0, 120)
        self.trail.setValue(10)
        self.trail.setSuffix(" min trails")
        self.trail.valueChanged.connect(lambda _v: self.seek(self.target))
        steps = [("◀◀ 1 min", -60), ("◀ 10 s", -10), ("10 s ▶", 10), ("1 min ▶▶", 60)]
        self.step_buttons = {}
        row.addWidget(self.clock_label)
        row.addWidget(self.date_label)
        for text, delta in steps[:2]:
            self.step_buttons[delta] = self._step_button(text, delta)
            row.addWidget(self.step_buttons[delta])
        row.addWidget(self.play_button)
        for text, delta in steps[2:]:
            self.step_buttons[delta] = self._step_button(text, delta)
            row.addWidget(self.step_buttons[delta])
        row.addWidget(self.speed)
        row.addWidget(self.slider, 1)
        self.span_label = QLabel("")
        self.span_label.setObjectName("dim")
        row.addWidget(self.span_label)
        row.addWidget(self.trail)
        shortcuts = [("Space", lambda: self.play_button.toggle()), ("Left", lambda: self.step(-10)),
                     ("Right", lambda: self.step(10)), ("Shift+Left", lambda: self.step(-60)),
                     ("Shift+Right", lambda: self.step(60))]
        for key, slot in shortcuts:
            action = QAction(self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(slot)
            self.addAction(action)
        return bar

    def _step_button(self, text: str, delta: int) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(lambda: self.step(delta))
        return button

    # -- time ----------------------------------------------------------------------------------------

    @property
    def target(self) -> float:
        """The moment the slider asks for (the picture shown may still be catching up)."""
        return self.t0 + self.slider.value()

    def now(self) -> float:
        """The replayed moment on screen (what the boards measure ages against)."""
        return self.moment.ts if self.moment is not None else self.t0

    def seek(self, ts: float) -> None:
        """Show the shift at `ts` (clamped to the log); the picture follows from the worker."""
        ts = min(max(ts, self.t0), self.t1)
        self.slider.blockSignals(True)
        self.slider.setValue(round(ts - self.t0))
        self.slider.blockSignals(False)
        self._restart_play_clock()
        self._request(ts)

    def _slider_moved(self, value: int) -> None:
        self._restart_play_clock()
        self._request(self.t0 + value)

    def _request(self, ts: float) -> None:
        # The trail length goes with the request: the worker must not read widgets.
        self.seeker.request((ts, self.trail.value()))

    def step(self, seconds: float) -> None:
        """Move the clock by `seconds` (negative: back)."""
        self.seek(self.target + seconds)

    def set_playing(self, playing: bool) -> None:
        """Run or stop the replay clock at the chosen speed."""
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
        if self.play_button.isChecked() != playing:
            self.play_button.setChecked(playing)
        if playing:
            if self.target >= self.t1:
                self.seek(self.t0)
            self._restart_play_clock()
            self.player.start()
        else:
            self.player.stop()

    @property
    def speed_factor(self) -> int:
        """Replayed seconds per real second."""
        return int(self.speed.currentData())

    def set_speed(self, factor: int) -> None:
        """Choose one of SPEEDS."""
        self.speed.setCurrentIndex(SPEEDS.index(factor))

    def _restart_play_clock(self) -> None:
        self._play_from = (time.monotonic(), self.target)

    def _advance(self) -> None:
        if self._play_from is None:
            return
        started, at = self._play_from
        ts = min(at + (time.monotonic() - started) * self.speed_factor, self.t1)
        self.slider.blockSignals(True)
        self.slider.setValue(round(ts - self.t0))
        self.slider.blockSignals(False)
        self._request(ts)
        if ts >= self.t1:
            self.set_playing(False)

    # -- the worker ----------------------------------------------------------------------------------

    def _compute(self, request: tuple[float, int]) -> Moment:
        """On the worker thread: the picture at a time and the trails of the last minutes before it."""
        ts, minutes = request
        if self._replay is None:
            self._replay = self.source.open()
        picture = self._replay.picture_at(ts)
        tracks = self._replay.tracks(ts - minutes * 60, ts) if minutes else {}
        trails = {unit: [[lat, lon] for _t, lat, lon in points] for unit, points in tracks.items() if len(points) > 1}
        return Moment(ts, picture, trails)

    def _refresh_span(self) -> None:
        def span() -> tuple[float, float]:
            with self.source.open() as replay:
                return replay.span()

        self.jobs.run(span, self._adopt_span, self._fail)

    def _adopt_span(self, span: tuple[float, float]) -> None:
        first = self.t1 == 0.0
        self.t0, self.t1 = span
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(1, round(self.t1 - self.t0)))
        self.slider.setPageStep(60)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        self.span_label.setText(f"{clock(self.t0)} – {clock(self.t1)}")
        if first:
            self.seek(self.t0)
            self.span_timer.start()

    def _fail(self, message: str) -> None:
        self.error = message
        self.set_playing(False)
        self.statusBar().showMessage(f"Cannot replay this log: {message}")

    # -- showing a moment ----------------------------------------------------------------------------

    def _show(self, _request: tuple[float, int], moment: Moment) -> None:
        self.moment = moment
        picture = moment.picture
        self.clock_label.setText(clock(moment.ts))
        self.date_label.setText(f"{time.strftime('%a %d %b %Y', time.localtime(moment.ts))}\n"
                                f"T+{elapsed(moment.ts - self.t0)}")
        self.queue_model.set_picture(picture)
        self.unit_model.set_picture(picture)
        self.map_feed.update(picture, moment.ts)
        self.map.set_tracks(moment.tracks)
        open_incidents = [i for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED]
        free = sum(1 for u in picture.units.values() if u.status == "available")
        self.counts.setText(f"{len(open_incidents)} open incidents · {free}/{len(picture.units)} units available · "
                            f"event {picture.seq}")

    def _map_selected(self, kind: str, item_id: str) -> None:
        if kind == "incident":
            self.queue.select_key(item_id)
        elif kind == "unit":
            self.units.select_key(item_id)

    def selected_incident(self) -> str | None:
        """The incident selected in the queue, if any."""
        return self.queue.selected_key()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.stop()
        self.span_timer.stop()
        self.seeker.shutdown()
        self.jobs.shutdown()
        self.actions.shutdown()
        if self._replay is not None:
            self._replay.close()
        super().closeEvent(event)


def open_replay(source: LogSource, **kwargs: Any) -> ReplayWindow:
    """Open and show a replay window."""
    window = ReplayWindow(source, **kwargs)
    window.show()
    return window
