"""Hotspots: where calls came from, as a heat map on the offline city map, by incident type and time window.

The heat layer is Leaflet.heat (the plugin folium's HeatMap wraps), served from local files like every other
asset of the map page; nothing is fetched from outside. Each call weighs by its priority (P1 counts most).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from app.domain import events as ev
from app.domain.narrative import type_label
from app.ui.review.background import Jobs
from app.ui.review.replay_window import review_map
from app.ui.review.response_window import WINDOWS
from app.ui.review.review_frame import ReviewFrame
from app.ui.review.source import LogSource, clock

ALL_TYPES = ""
#: Heat weight of a call by priority: a P1 counts most.
PRIORITY_WEIGHT = {1: 1.0, 2: 0.8, 3: 0.6, 4: 0.4, 5: 0.3}


@dataclass(frozen=True, slots=True)
class Call:
    """Where and when a call came in, and what it was (as last updated)."""

    incident: str
    ts: float
    lat: float
    lon: float
    type: str
    priority: int


def calls_in(source: LogSource, hours: float | None) -> tuple[float, float, list[Call]]:
    """Every call the viewer may see that came in within the last `hours` of the log (None: all of it)."""
    with source.open() as replay:
        first, last = replay.span()
        t0 = first if hours is None else max(first, last - hours * 3600)
        calls: dict[str, Call] = {}
        for e in replay.events(t0, last, kinds=(ev.INCIDENT_CREATED, ev.INCIDENT_UPDATED)):
            d = e.data
            if e.kind == ev.INCIDENT_CREATED:
                calls[d["id"]] = Call(d["id"], e.ts, d["lat"], d["lon"], d["type"], d["priority"])
            elif d["id"] in calls:  # a call re-typed or moved is counted where and as it really was
                c = calls[d["id"]]
                calls[d["id"]] = Call(c.incident, c.ts, d.get("lat", c.lat), d.get("lon", c.lon),
                                      d.get("type", c.type), d.get("priority", c.priority))
    return t0, last, list(calls.values())


class HotspotsWindow(ReviewFrame):
    """Heat map of calls, filtered by type, over a time window."""

    def __init__(self, source: LogSource, *, map_factory: Callable[[], QWidget] = review_map,
                 parent: QWidget | None = None) -> None:
        super().__init__(source, "Hotspots", parent)
        self.calls: list[Call] = []
        self.shown: list[Call] = []
        self.error: str | None = None
        self.jobs = Jobs(1, self)

        controls = QWidget()
        row = QHBoxLayout(controls)
        row.setContentsMargins(10, 6, 10, 6)
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("detailTitle")
        self.type_choice = QComboBox()
        self.type_choice.setMinimumWidth(220)
        self.type_choice.currentIndexChanged.connect(lambda _i: self._draw())
        self.window_choice = QComboBox()
        for text, hours in WINDOWS.items():
            self.window_choice.addItem(text, hours)
        self.window_choice.currentIndexChanged.connect(lambda _i: self.reload())
        row.addWidget(self.summary, 1)
        row.addWidget(QLabel("Type"))
        row.addWidget(self.type_choice)
        row.addWidget(QLabel("Window"))
        row.addWidget(self.window_choice)
        self.map = map_factory()
        self.body.addWidget(controls)
        self.body.addWidget(self.map, 1)
        self.resize(1300, 900)
        self.reload()

    def reload(self) -> None:
        """Read the calls of the chosen window (off the GUI thread)."""
        hours = self.window_choice.currentData()
        self.jobs.run(lambda: calls_in(self.source, hours), self._loaded, self._failed)

    def _failed(self, message: str) -> None:
        self.error = message
        self.summary.setText(f"Cannot read this log: {message}")

    def _loaded(self, result: tuple[float, float, list[Call]]) -> None:
        self.t0, self.t1, self.calls = result
        chosen = self.type_choice.currentData() or ALL_TYPES
        counts = Counter(c.type for c in self.calls)
        self.type_choice.blockSignals(True)
        self.type_choice.clear()
        self.type_choice.addItem(f"All types ({len(self.calls)})", ALL_TYPES)
        for code, n in counts.most_common():
            self.type_choice.addItem(f"{type_label(code)} ({n})", code)
        self.type_choice.setCurrentIndex(max(0, self.type_choice.findData(chosen)))
        self.type_choice.blockSignals(False)
        self._draw()

    def set_type(self, code: str) -> None:
        """Show only calls of one type (ALL_TYPES for every type)."""
        self.type_choice.setCurrentIndex(self.type_choice.findData(code))

    def _draw(self) -> None:
        code = self.type_choice.currentData() or ALL_TYPES
        self.shown = [c for c in self.calls if code in (ALL_TYPES, c.type)]
        self.map.set_heat([[c.lat, c.lon, PRIORITY_WEIGHT.get(c.priority, 0.3)] for c in self.shown])
        if self.shown:
            lats, lons = [c.lat for c in self.shown], [c.lon for c in self.shown]
            self.map.fit([[min(lats), min(lons)], [max(lats), max(lons)]])
        what = type_label(code) if code else "All calls"
        self.summary.setText(f"{what}: {len(self.shown)} calls · {clock(self.t0, True)} – {clock(self.t1)}")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.jobs.shutdown()
        super().closeEvent(event)
