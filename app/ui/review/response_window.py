"""Response times: median and 90th percentile per phase, grouped by agency, type, priority or hour of day.

One chart per phase (call processing, turnout, travel, total). For each group two bars: the median (blue) and
the 90th percentile, green where it meets the NFPA benchmark, red where it does not, grey where none applies.
The benchmark is the dashed line across the group; the share of calls within it is written above. A table
beside the charts has the same figures in numbers. Figures come from `app.review.figures`, off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.domain.narrative import type_label
from app.domain.response_times import MEASURES, Figure, IncidentTimes
from app.review.figures import DIMENSIONS, duration, figures_by, response_times
from app.ui.review.background import Jobs
from app.ui.review.lanes import MEASURE_LABELS
from app.ui.review.review_frame import ReviewFrame
from app.ui.review.source import LogSource, clock

MEDIAN, WITHIN, OVER, UNJUDGED = "#3b7ddd", "#3fb950", "#f85149", "#8b949e"
#: Time windows offered, as hours back from the end of the log (None: the whole log).
WINDOWS: dict[str, float | None] = {"Whole log": None, "Last hour": 1, "Last 8 hours": 8, "Last 24 hours": 24}
DIMENSION_LABELS = {"agency": "By agency", "type": "By incident type", "priority": "By priority",
                    "hour": "By hour of day"}


@dataclass(slots=True)
class ResponseFigures:
    """What the window shows: the incidents measured and their figures per grouping."""

    t0: float
    t1: float
    times: list[IncidentTimes]
    by: dict[str, list[Figure]] = field(default_factory=dict)


def group_label(dimension: str, group: str) -> str:
    """A group as the chart's axis says it."""
    if dimension == "type":
        return type_label(group)
    if dimension == "agency":
        return group.upper()
    return group


class DurationAxis(pg.AxisItem):
    """Seconds shown as m:ss, ticked at whole clock steps (10 s, 30 s, 1 min, 2 min, ...)."""

    STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        span = maxVal - minVal
        step = next((s for s in self.STEPS if span / s <= 7), self.STEPS[-1])
        return [(step, 0)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [duration(v) for v in values]


class PhaseChart(pg.PlotWidget):
    """Median and 90th-percentile bars of one phase, per group, with benchmark lines and compliance."""

    def __init__(self, measure: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"left": DurationAxis(orientation="left")})
        self.measure = measure
        self.medians: pg.BarGraphItem | None = None
        self.p90s: pg.BarGraphItem | None = None
        self.benchmarks: list[float] = []
        self.compliance: list[str] = []
        palette = QApplication.palette()
        self.setBackground(palette.base().color())
        item = self.getPlotItem()
        item.setTitle(MEASURE_LABELS[measure], color=palette.text().color().name(), size="11pt")
        item.showGrid(x=False, y=True, alpha=0.15)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen(palette.text().color())
            item.getAxis(axis).setPen(QColor("#2b333e"))

    def show_figures(self, dimension: str, rows: list[Figure]) -> None:
        """Draw the figures of this phase (rows of other phases are ignored)."""
        item = self.getPlotItem()
        item.clear()
        self.benchmarks, self.compliance = [], []
        rows = [f for f in rows if f.measure == self.measure]
        if not rows:
            self.medians = self.p90s = None
            empty = pg.TextItem("no call reached this step", color=UNJUDGED, anchor=(0.5, 0.5))
            empty.setPos(0, 0)
            item.addItem(empty)
            item.getAxis("bottom").setTicks([[]])
            item.setXRange(-1, 1)
            item.setYRange(-1, 1)
            return
        xs = list(range(len(rows)))
        colours = [UNJUDGED if f.compliant is None else WITHIN if f.compliant else OVER for f in rows]
        self.medians = pg.BarGraphItem(x=[x - 0.19 for x in xs], height=[f.median for f in rows], width=0.36,
                                       brush=MEDIAN, pen=pg.mkPen(None))
        self.p90s = pg.BarGraphItem(x=[x + 0.19 for x in xs], height=[f.p90 for f in rows], width=0.36,
                                    brushes=[pg.mkBrush(c) for c in colours], pen=pg.mkPen(None))
        item.addItem(self.medians)
        item.addItem(self.p90s)
        top = max(max(f.p90 for f in rows), max((f.benchmark.seconds for f in rows if f.benchmark), default=0))
        for x, f in zip(xs, rows, strict=True):
            label = f"n={f.count}"
            if f.benchmark is not None and f.within is not None:
                self.benchmarks.append(f.benchmark.seconds)
                line = pg.PlotDataItem([x - 0.46, x + 0.46], [f.benchmark.seconds] * 2,
                                       pen=pg.mkPen("#e6edf3", width=1.5, style=Qt.PenStyle.DashLine))
                item.addItem(line)
                label = f"{f.within:.0%} within · n={f.count}"
            self.compliance.append(label)
            text = pg.TextItem(label, color=colours[x] if f.benchmark else UNJUDGED, anchor=(0.5, 1))
            text.setPos(x, top * 1.12)
            item.addItem(text)
        item.getAxis("bottom").setTicks([[(x, group_label(dimension, f.group)) for x, f in zip(xs, rows,
                                                                                                strict=True)]])
        item.setXRange(-0.6, len(rows) - 0.4, padding=0)
        item.setYRange(0, top * 1.25, padding=0)


class ResponseTimesWindow(ReviewFrame):
    """Response-time charts and table for a window of the log."""

    COLUMNS = ("Group", "Phase", "n", "Median", "90th pct", "Benchmark", "Within", "Meets")

    def __init__(self, source: LogSource, parent: QWidget | None = None) -> None:
        super().__init__(source, "Response times", parent)
        self.result: ResponseFigures | None = None
        self.error: str | None = None
        self.jobs = Jobs(1, self)

        controls = QWidget()
        row = QHBoxLayout(controls)
        row.setContentsMargins(10, 6, 10, 6)
        self.dimension = QComboBox()
        for key, text in DIMENSION_LABELS.items():
            self.dimension.addItem(text, key)
        self.dimension.currentIndexChanged.connect(lambda _i: self._draw())
        self.window_choice = QComboBox()
        for text, hours in WINDOWS.items():
            self.window_choice.addItem(text, hours)
        self.window_choice.currentIndexChanged.connect(lambda _i: self.reload())
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("detailTitle")
        row.addWidget(self.summary, 1)
        row.addWidget(QLabel("Window"))
        row.addWidget(self.window_choice)
        row.addWidget(QLabel("Group"))
        row.addWidget(self.dimension)
        legend = QLabel(f"<span style='color:{MEDIAN}'>■</span> median &nbsp; <span style='color:{WITHIN}'>■</span>"
                        f" 90th pct meets benchmark &nbsp; <span style='color:{OVER}'>■</span> 90th pct over "
                        f"&nbsp; <span style='color:{UNJUDGED}'>■</span> no benchmark &nbsp; ╌ NFPA benchmark")
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setContentsMargins(10, 0, 10, 4)

        charts = QWidget()
        grid = QGridLayout(charts)
        grid.setContentsMargins(4, 4, 4, 4)
        self.charts = {measure: PhaseChart(measure) for measure in MEASURES}
        for i, chart in enumerate(self.charts.values()):
            grid.addWidget(chart, i // 2, i % 2)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        splitter = QSplitter()
        splitter.addWidget(charts)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setSizes([1020, 660])
        self.body.addWidget(controls)
        self.body.addWidget(legend)
        self.body.addWidget(splitter, 1)
        self.resize(1680, 900)
        self.reload()

    def reload(self) -> None:
        """Measure the chosen window again (off the GUI thread)."""
        hours = self.window_choice.currentData()
        self.jobs.run(lambda: self._measure(hours), self._loaded, self._failed)

    def _measure(self, hours: float | None) -> ResponseFigures:
        with self.source.open() as replay:
            first, last = replay.span()
            t0 = first if hours is None else max(first, last - hours * 3600)
            times = response_times(replay, t0, last)
        return ResponseFigures(t0, last, times, {d: figures_by(times, d) for d in DIMENSIONS})

    def _failed(self, message: str) -> None:
        self.error = message
        self.summary.setText(f"Cannot measure this log: {message}")

    def _loaded(self, result: ResponseFigures) -> None:
        self.result = result
        reached = sum(1 for t in result.times if t.total is not None)
        self.summary.setText(f"{len(result.times)} calls · {reached} reached · "
                             f"{clock(result.t0, True)} – {clock(result.t1)}")
        self._draw()

    def _draw(self) -> None:
        if self.result is None:
            return
        dimension = self.dimension.currentData()
        rows = self.result.by[dimension]
        for chart in self.charts.values():
            chart.show_figures(dimension, rows)
        self.table.setRowCount(len(rows))
        for r, f in enumerate(rows):
            within = f"{f.within:.0%}" if f.within is not None else "—"
            meets = {True: "yes", False: "NO", None: "—"}[f.compliant]
            cells = (group_label(dimension, f.group), MEASURE_LABELS[f.measure], str(f.count), duration(f.median),
                     duration(f.p90), duration(f.benchmark.seconds) if f.benchmark else "—", within, meets)
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if c >= 2:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 7 and f.compliant is not None:
                    cell.setForeground(QColor(WITHIN if f.compliant else OVER))
                if f.benchmark is not None:
                    cell.setToolTip(f.benchmark.source)
                self.table.setItem(r, c, cell)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.jobs.shutdown()
        super().closeEvent(event)
