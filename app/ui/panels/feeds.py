"""The feeds panel: the health of every way input reaches the hub, and what it quarantined.

The hub answers a `feeds` query (docs/protocol.md) with each feed's health, counters, rate, last error and
newest quarantined inputs; this panel asks every few seconds while it is shown (and on Refresh), and shows the
raw bytes of a quarantined input as a hex dump. Only dispatchers and supervisors may ask; others see why not.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.models import elapsed

HEALTH_COLOURS = {"ok": "#3fb950", "errors": "#f85149", "unreachable": "#f85149", "stalled": "#f85149",
                  "stale": "#e3b341", "idle": "#6e7681"}
#: How often the panel asks the hub while it is visible, milliseconds.
REFRESH_MS = 5000


def hex_dump(data: bytes, width: int = 16) -> str:
    """Offset, hex bytes and printable ASCII, `width` bytes a line (as `hexdump -C` shows them)."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset:offset + width]
        hexes = " ".join(f"{b:02x}" for b in chunk).ljust(width * 3 - 1)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes}  |{text}|")
    return "\n".join(lines)


def table_cell(text: str, colour: str | None = None, bold: bool = False) -> QTableWidgetItem:
    """A read-only table cell, optionally coloured and bold."""
    item = QTableWidgetItem(text)
    if colour:
        item.setForeground(QBrush(QColor(colour)))
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    return item


def report_table(headers: list[str]) -> QTableWidget:
    """A compact read-only table of whole rows (the feeds and devices panels' look)."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(22)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def ignored_kinds(kinds: dict[str, int]) -> str:
    """" (GSV 107, GSA 82, no_fix 63, …)": what a feed sent that nothing uses, most first (not a problem)."""
    if not kinds:
        return ""
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{kind} {count}" for kind, count in ranked[:6])
    return f" ({shown}{', …' if len(ranked) > 6 else ''})"


class FeedsPanel(QWidget):
    """Feed health table, the selected feed's quarantined inputs, and the raw bytes of the selected one."""

    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feeds: list[dict[str, Any]] = []
        self.answered_at: float | None = None
        self.status = QLabel("Feed health: not asked yet")
        self.status.setObjectName("dim")
        self.status.setWordWrap(True)
        self.refresh = QPushButton("Refresh")
        self.refresh.clicked.connect(self.refresh_requested.emit)
        self.table = report_table(["Feed", "Health", "Quar.", "/min", "Taken", "Last in", "Last error"])
        for column, width in enumerate((104, 70, 48, 44, 54, 60)):
            self.table.setColumnWidth(column, width)
        self.items = report_table(["Time", "Code", "Source", "Reason"])
        for column, width in enumerate((72, 124, 150)):
            self.items.setColumnWidth(column, width)
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setPlaceholderText("Select a quarantined input to see its raw bytes.")
        self.raw.setStyleSheet('font-family: "DejaVu Sans Mono", monospace; font-size: 9pt;')
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.table.itemSelectionChanged.connect(self._show_items)
        self.items.itemSelectionChanged.connect(self._show_raw)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.refresh)
        # Stacked, not side by side: the dock usually shares a narrow column with the unit board.
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.items)
        split.addWidget(self.raw)
        split.setSizes([150, 110, 140])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._auto_refresh)
        self.timer.start()

    def _auto_refresh(self) -> None:
        if self.isVisible():
            self.refresh_requested.emit()

    def set_result(self, ok: bool, data: Any = None, message: str = "", code: str = "") -> None:
        """The hub's answer to a feeds query (or why there is none)."""
        if not ok:
            self.status.setText(f"Feed health unavailable: {message} [{code}]")
            if code == "forbidden":  # asking again will not help (and each refusal is audited): stop asking
                self.timer.stop()
            return
        self.timer.start()
        self.answered_at = time.time()
        selected_feed = self.selected_feed()
        self.feeds = list(data.get("feeds", []))
        now = float(data.get("at") or self.answered_at)
        quarantined = sum(int(f.get("quarantined", 0)) for f in self.feeds)
        unwell = [f["name"] for f in self.feeds if f.get("health") in ("errors", "unreachable", "stalled", "stale")]
        # A hub alarm (its event log cannot be written: no command is being taken) outranks any feed; then the
        # quarantine over its budget (pruning).
        alarms = [f"⚠ HUB ALARM {a['code']}: {a['reason']}" for a in data.get("alarms", [])]
        pruning = (data.get("quarantine") or {}).get("alarm")
        if pruning:
            alarms.append(f"⚠ {pruning}")
        self.status.setText(" · ".join([*alarms, f"{len(self.feeds)} feeds · {quarantined} quarantined"
                                        + (f" · attention: {', '.join(unwell)}" if unwell else " · all well")
                                        + f" · as of {time.strftime('%H:%M:%S', time.localtime(now))}"]))
        self.status.setStyleSheet("color: #f85149; font-weight: bold;" if alarms else "")
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.feeds))
        for row, feed in enumerate(self.feeds):
            error = feed.get("last_error")
            last = feed.get("last_input_at")
            health = str(feed.get("health", ""))
            cells = [
                table_cell(str(feed.get("label") or feed["name"]), bold=True),
                table_cell(f"● {health}", HEALTH_COLOURS.get(health), bold=True),
                table_cell(str(feed.get("quarantined", 0)), "#ff7b72" if feed.get("quarantined") else None,
                           bold=bool(feed.get("quarantined"))),
                table_cell(f"{feed.get('rate_per_min', 0):.0f}"),
                table_cell(str(feed.get("accepted", 0))),
                table_cell(elapsed(now - last) if last else "never"),
                table_cell(f"{error['code']}: {error['reason']}" if error else "—", "#ff7b72" if error else None),
            ]
            cells[0].setToolTip(f"{feed['name']}: {feed.get('label', '')}\nlistening on "
                                f"{', '.join(feed.get('listening') or ['—'])}\n{feed.get('sources', 0)} sources · "
                                f"{feed.get('received', 0)} received · {feed.get('ignored', 0)} ignored"
                                f"{ignored_kinds(feed.get('ignored_kinds') or {})} · "
                                f"{feed.get('unknown', 0)} from unknown devices · {feed.get('throttled', 0)} throttled")
            cells[0].setData(Qt.ItemDataRole.UserRole, feed["name"])
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, cell)
        self.table.blockSignals(False)
        names = [f["name"] for f in self.feeds]
        worst = next((f["name"] for f in self.feeds if f.get("recent")), names[0] if names else None)
        choice = selected_feed if selected_feed in names else worst
        if choice is not None:
            self.select_feed(choice)
        self.table.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)

    def selected_feed(self) -> str | None:
        """The name of the feed whose quarantined inputs are shown."""
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select_feed(self, name: str) -> None:
        """Show a feed's quarantined inputs."""
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                self._show_items()
                return

    def recent(self) -> list[dict[str, Any]]:
        """The quarantined inputs listed for the selected feed, newest first."""
        name = self.selected_feed()
        feed = next((f for f in self.feeds if f["name"] == name), None)
        return list(feed.get("recent", [])) if feed else []

    def _show_items(self) -> None:
        recent = self.recent()
        keep = self.items.currentRow()
        self.items.blockSignals(True)
        self.items.setRowCount(len(recent))
        for row, item in enumerate(recent):
            self.items.setItem(row, 0, table_cell(time.strftime("%H:%M:%S", time.localtime(item["at"]))))
            self.items.setItem(row, 1, table_cell(item["code"], "#ff7b72", bold=True))
            self.items.setItem(row, 2, table_cell(item["source"]))
            self.items.setItem(row, 3, table_cell(item["reason"]))
            self.items.item(row, 3).setToolTip(item["reason"])
        self.items.blockSignals(False)
        if recent:
            self.items.selectRow(min(max(keep, 0), len(recent) - 1))
        self._show_raw()

    def _show_raw(self) -> None:
        recent = self.recent()
        row = self.items.currentRow()
        if not 0 <= row < len(recent):
            self.raw.setPlainText("")
            return
        item = recent[row]
        data = bytes.fromhex(item.get("raw_hex", ""))
        shown = f"first {len(data)} of {item['size']} bytes" if item["size"] > len(data) else f"{item['size']} bytes"
        self.raw.setPlainText(f"{item['code']} from {item['source']} at "
                              f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(item['at']))}\n"
                              f"{item['reason']}\n\n{shown}:\n{hex_dump(data)}")
