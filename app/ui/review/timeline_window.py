"""The incident timeline: swimlanes of statuses, units, notes, messages, feed inputs and alerts, on a clock.

Zoom with the wheel and pan by dragging (time only; lanes stay put). Hovering a bar or a marker says what it
is in the status line and a tooltip; clicking shows the event in full on the right. Response intervals (call
processing, turnout, travel) are drawn under their lane, green within their NFPA benchmark, red over it, grey
where no benchmark applies.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import Event
from app.domain.narrative import type_label
from app.review.replay import ReviewLog
from app.ui.models import elapsed
from app.ui.review.actions import ReviewActions
from app.ui.review.background import Jobs
from app.ui.review.event_detail import EventDetail
from app.ui.review.lanes import (
    ALERTS,
    DRONES,
    FEED,
    MARKER_LANES,
    MEASURE_LABELS,
    MESSAGES,
    NOTES,
    Interval,
    Marker,
    Span,
    Swimlanes,
    build_swimlanes,
)
from app.ui.review.review_frame import ReviewFrame
from app.ui.review.source import LogSource, clock, feed_accounts
from app.ui.theme import INCIDENT_STATUS_COLORS, UNIT_STATUS_COLORS, UNIT_STATUS_LABELS

WITHIN, OVER, UNJUDGED = "#3fb950", "#f85149", "#8b949e"
#: Marker lane -> (symbol, colour).
MARKER_STYLE = {NOTES: ("s", "#d2a8ff"), MESSAGES: ("o", "#58a6ff"), DRONES: ("p", "#56d4dd"),
                FEED: ("t1", "#e3b341"), ALERTS: ("d", "#ff7b72")}
INCIDENT_MARKER = ("star", "#e6edf3")
STATUS_BAR = (0.10, 0.50)  # lane-relative top and height of a status bar
INTERVAL_BAR = (0.66, 0.24)
MARKER_LANE_HEIGHT = 0.55
ALIGN = int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)


def span_text(span: Span) -> str:
    """What a hover over a status bar says."""
    who = span.lane.partition(":")[2]
    status = span.status.replace("_", " ").upper()
    by = f" · set by {span.event.actor}" if span.event is not None else " · already so when the window opens"
    return (f"{who} {status} on {span.incident} · {clock(span.start)}–{clock(span.end)} "
            f"({elapsed(span.end - span.start)}){by}")


def interval_text(interval: Interval) -> str:
    """What a hover over a response interval says, with its benchmark."""
    label = MEASURE_LABELS[interval.measure]
    who = f" {interval.unit}" if interval.unit else ""
    text = f"{label}{who}: {elapsed(interval.seconds)} ({clock(interval.start)} → {clock(interval.end)})"
    if interval.benchmark is None:
        return text + " · no benchmark"
    verdict = "OVER" if interval.over else "within"
    return f"{text} · {verdict} {elapsed(interval.benchmark.seconds)} — {interval.benchmark.source}"


def marker_text(marker: Marker) -> str:
    """What a hover over a marker says: when, who, what."""
    return f"{clock(marker.ts)} · {marker.event.actor}: {marker.text}"


class _Bar(QGraphicsRectItem):
    """A hoverable, clickable bar in data coordinates (pyqtgraph calls hoverEvent and mouseClickEvent)."""

    def __init__(self, rect: QRectF, colour: str, text: str, event: Event | None,
                 window: TimelineWindow, label: str = "") -> None:
        super().__init__(rect)
        self.text = text
        self.label = label
        self.room_right = 0.0  # free time after the bar on its lane, where the label may go if it does not fit
        self.logged = event
        self._window = window
        self.colour = colour
        self.setBrush(QBrush(QColor(colour)))
        pen = QPen(QColor("#0d1117"))
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setToolTip(text)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        super().paint(painter, option, widget)
        if not self.label:
            return
        # The label is drawn in screen pixels, and only when it fits: zoomed out, short bars stay clean.
        transform = painter.transform()
        box = transform.mapRect(self.rect())
        width = painter.fontMetrics().horizontalAdvance(self.label) + 8
        if box.height() < 10:
            return
        painter.save()
        painter.resetTransform()
        if box.width() >= width:
            painter.setPen(QColor("#0d1117"))
            painter.drawText(box.adjusted(4, 0, 0, 0), ALIGN, self.label)
        elif transform.m11() * self.room_right >= width:  # beside the bar, if the lane is free there
            painter.setPen(QColor(self.colour))
            painter.drawText(QRectF(box.right() + 4, box.top(), width, box.height()), ALIGN, self.label)
        painter.restore()

    def hoverEvent(self, ev: Any) -> None:
        if ev.isExit():
            self._window.hover(None, None)
        elif ev.isEnter():
            self._window.hover(self.text, ev.screenPos())

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self.logged is not None:
            ev.accept()
            self._window.open_event(self.logged)


class TimelinePlot(pg.PlotWidget):
    """The swimlane plot: time across (real clock labels), lanes down."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        base = QApplication.palette().base().color()
        self.setBackground(base)
        item = self.getPlotItem()
        item.showGrid(x=True, y=False, alpha=0.15)
        item.invertY(True)
        item.setMouseEnabled(x=True, y=False)
        item.hideButtons()
        item.getAxis("left").setWidth(118)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen(QApplication.palette().text().color())
            item.getAxis(axis).setPen(QColor("#2b333e"))


class TimelineWindow(ReviewFrame):
    """Timeline of one incident, or of every incident in a time window."""

    def __init__(self, source: LogSource, *, incident: str | None = None,
                 window: tuple[float, float] | None = None, parent: QWidget | None = None) -> None:
        if incident is None and window is None:
            raise ValueError("a timeline needs an incident or a time window")
        what = f"Incident {incident}" if incident else f"{clock(window[0])}–{clock(window[1])}"  # type: ignore[index]
        super().__init__(source, f"Timeline · {what}", parent)
        self.incident = incident
        self.window_span = window
        self.lanes: Swimlanes | None = None
        self.bars: list[_Bar] = []
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        self.error: str | None = None

        self.heading = QLabel("Loading…")
        self.heading.setObjectName("detailTitle")
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.plot = TimelinePlot()
        self.detail = EventDetail()
        self.hover_label = QLabel("Hover a bar or marker for details · wheel zooms · drag pans")
        self.hover_label.setObjectName("dim")

        head = QWidget()
        head_layout = QVBoxLayout(head)
        head_layout.setContentsMargins(10, 6, 10, 4)
        head_layout.addWidget(self.heading)
        head_layout.addWidget(self.summary)
        head_layout.addWidget(self._legend())
        splitter = QSplitter()
        splitter.addWidget(self.plot)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1100, 340])
        self.body.addWidget(head)
        self.body.addWidget(splitter, 1)
        self.statusBar().addWidget(self.hover_label, 1)
        self.resize(1500, 820)

        self.actions = ReviewActions(self, lambda: self.source, incident=lambda: self.incident,
                                     moment=lambda: self.lanes.t1 if self.lanes else None)
        self.actions.build(self.menuBar().addMenu("&Review"))
        self.jobs = Jobs(1, self)
        self.jobs.run(self._load, self._loaded, self._failed)

    def _legend(self) -> QWidget:
        legend = QWidget()
        row = QHBoxLayout(legend)
        row.setContentsMargins(0, 2, 0, 0)
        row.setSpacing(12)
        row.addWidget(QLabel("Response intervals (thin bars):"))
        entries = [("within NFPA benchmark", WITHIN), ("over benchmark", OVER), ("no benchmark applies", UNJUDGED)]
        entries += [(MARKER_LANES[lane].lower(), colour) for lane, (_symbol, colour) in MARKER_STYLE.items()]
        for text, colour in entries:
            chip = QLabel(f"<span style='color:{colour}'>■</span> {text}")
            chip.setTextFormat(Qt.TextFormat.RichText)
            row.addWidget(chip)
        row.addStretch(1)
        return legend

    # -- loading (off the GUI thread) ----------------------------------------------------------------

    def _load(self) -> tuple[Swimlanes, str]:
        with self.source.open() as replay:
            if self.incident is not None:
                return self._load_incident(replay, self.incident)
            t0, t1 = self.window_span  # type: ignore[misc]
            start = replay.picture_at(t0)
            lanes = build_swimlanes(replay.events(t0, t1), t0, t1, start=start, feed_actors=feed_accounts(replay))
            opened = sum(1 for lane in lanes.lanes if lane.key.startswith("incident:"))
            return lanes, f"Shift window {clock(t0, True)} – {clock(t1)} · {opened} incidents"

    @staticmethod
    def _load_incident(replay: ReviewLog, incident_id: str) -> tuple[Swimlanes, str]:
        events = replay.incident_events(incident_id)
        created = events[0]
        end = replay.span()[1]
        closed = [e.ts for e in events if e.kind == "incident.status" and e.data.get("status") == "closed"]
        t1 = closed[-1] if closed else end
        units = {u.id: u.agency for u in replay.picture_at(t1).units.values()}
        lanes = build_swimlanes(events, created.ts, t1, incidents={incident_id}, feed_actors=feed_accounts(replay),
                                unit_agencies=units)
        d = created.data
        state = f"closed {clock(t1)}" if closed else "still open at the end of the log"
        return lanes, (f"Incident {incident_id} · P{d['priority']} {type_label(d['type'])} · "
                       f"{d.get('address') or 'map point'} · {d['owner'].upper()} · opened {clock(created.ts, True)}"
                       f" · {state}")

    def _failed(self, message: str) -> None:
        self.error = message
        self.heading.setText(f"Cannot show this timeline: {message}")

    def _loaded(self, result: tuple[Swimlanes, str]) -> None:
        self.lanes, title = result
        self.heading.setText(title)
        self.summary.setText(self._interval_summary(self.lanes))
        self._draw(self.lanes)

    @staticmethod
    def _interval_summary(lanes: Swimlanes) -> str:
        parts = []
        for interval in lanes.intervals[:12]:
            colour = UNJUDGED if interval.over is None else OVER if interval.over else WITHIN
            who = f" {interval.unit}" if interval.unit else ""
            parts.append(f"<span style='color:{colour}'><b>{MEASURE_LABELS[interval.measure]}{who} "
                         f"{elapsed(interval.seconds)}</b></span>")
        return " · ".join(parts) or "<span style='color:#8b949e'>No unit was dispatched in this window</span>"

    # -- drawing -------------------------------------------------------------------------------------

    def _draw(self, lanes: Swimlanes) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.bars.clear()
        self.scatters.clear()
        rows: dict[str, tuple[float, float]] = {}  # lane -> (top, height): marker lanes are thinner
        top = 0.0
        for i, lane in enumerate(lanes.lanes):
            height = MARKER_LANE_HEIGHT if lane.key in MARKER_STYLE else 1.0
            rows[lane.key] = (top, height)
            if i % 2:  # alternate lane shading, like a board's rows
                band = QGraphicsRectItem(QRectF(lanes.t0 - 1e6, top, 2e6 + lanes.t1 - lanes.t0, height))
                band.setBrush(QBrush(QColor(255, 255, 255, 10)))
                band.setPen(QPen(Qt.PenStyle.NoPen))
                band.setZValue(-10)
                item.addItem(band)
            top += height
        for span in lanes.spans:
            row = rows[span.lane][0]
            colours = INCIDENT_STATUS_COLORS if span.lane.startswith("incident:") else UNIT_STATUS_COLORS
            rect = QRectF(span.start, row + STATUS_BAR[0], max(span.end - span.start, 0.5), STATUS_BAR[1])
            label = UNIT_STATUS_LABELS.get(span.status, span.status.replace("_", " ").upper())
            self._add_bar(rect, colours.get(span.status, "#6e7681"), span_text(span), span.event, label)
        for interval in lanes.intervals:
            row = rows[interval.lane][0]
            colour = UNJUDGED if interval.over is None else OVER if interval.over else WITHIN
            rect = QRectF(interval.start, row + INTERVAL_BAR[0], max(interval.seconds, 0.5), INTERVAL_BAR[1])
            following = [i.start for i in lanes.intervals if i.lane == interval.lane and i.start >= interval.end]
            bar = self._add_bar(rect, colour, interval_text(interval), None,
                                f"{MEASURE_LABELS[interval.measure]} {elapsed(interval.seconds)}")
            bar.room_right = (min(following) if following else lanes.t1 + 1e6) - interval.end
        by_lane: dict[str, list[Marker]] = {}
        for marker in lanes.markers:
            by_lane.setdefault(marker.lane, []).append(marker)
        for lane, markers in by_lane.items():
            symbol, colour = MARKER_STYLE.get(lane, INCIDENT_MARKER)
            row, height = rows[lane]
            y = row + (height / 2 if lane in MARKER_STYLE else STATUS_BAR[0] + STATUS_BAR[1] / 2)
            scatter = pg.ScatterPlotItem(
                x=[m.ts for m in markers], y=[y] * len(markers), data=markers, symbol=symbol, size=13,
                brush=pg.mkBrush(colour), pen=pg.mkPen("#0d1117", width=1), hoverable=True,
                hoverSize=17, hoverPen=pg.mkPen("#ffffff", width=1.5), tip=None)
            scatter.setZValue(10)
            scatter.sigHovered.connect(self._scatter_hovered)
            scatter.sigClicked.connect(lambda _item, points, _ev: points and self.open_event(points[0].data().event))
            item.addItem(scatter)
            self.scatters[lane] = scatter
        left = item.getAxis("left")
        left.setTicks([[(rows[lane.key][0] + rows[lane.key][1] / 2, lane.title) for lane in lanes.lanes], []])
        pad = max((lanes.t1 - lanes.t0) * 0.03, 5.0)
        item.setLimits(xMin=lanes.t0 - pad * 4, xMax=lanes.t1 + pad * 4, minXRange=10)
        item.setXRange(lanes.t0 - pad, lanes.t1 + pad, padding=0)
        item.setYRange(0, top, padding=0.02)

    def _add_bar(self, rect: QRectF, colour: str, text: str, event: Event | None, label: str) -> _Bar:
        bar = _Bar(rect, colour, text, event, self, label)
        self.plot.getPlotItem().addItem(bar)
        self.bars.append(bar)
        return bar

    def _scatter_hovered(self, _item: Any, points: Any, ev: Any) -> None:
        if len(points):
            self.hover(marker_text(points[0].data()), ev.screenPos() if hasattr(ev, "screenPos") else None)

    # -- interaction ---------------------------------------------------------------------------------

    def hover(self, text: str | None, screen_pos: Any) -> None:
        """Say what is under the mouse (status line and tooltip); None when it left."""
        if text is None:
            QToolTip.hideText()
            return
        self.hover_label.setText(text)
        if screen_pos is not None:
            QToolTip.showText(screen_pos.toPoint(), text, self.plot)

    def open_event(self, event: Event) -> None:
        """Show an event in full in the side panel."""
        self.detail.show_event(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.jobs.shutdown()
        self.actions.shutdown()
        super().closeEvent(event)


def open_timeline(source: LogSource, incident: str | None = None,
                  window: tuple[float, float] | None = None) -> TimelineWindow:
    """Open and show a timeline window."""
    win = TimelineWindow(source, incident=incident, window=window)
    win.show()
    return win
