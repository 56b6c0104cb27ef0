"""The Security panel: intrusion detection's findings (`security.alert`), newest first, for supervisors.

Findings come with the picture (`Picture.security`, which only supervisors' pictures hold). A supervisor selects
one and acknowledges it (the button, or the A key in the list), with an optional note of what was done; the
hub refuses anyone else. Unacknowledged findings are bold and red.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.domain.picture import Picture
from app.domain.security_alerts import SecurityAlert
from app.ui.panels.feeds import report_table, table_cell

NEW_COLOUR = "#f85149"
ACKNOWLEDGED_COLOUR = "#6e7681"
#: What each rule means, for the panel's tooltip and evidence column.
RULE_LABELS = {
    "teleport": "teleport (a jump no vehicle of its kind could make)",
    "speed": "speed beyond its kind",
    "acceleration": "impossible change of speed",
    "speed_claim": "reported speed the fixes do not show",
    "standing_jump": "moved while reporting it stood still",
    "frozen": "position frozen while reporting speed",
    "future": "fix time in the future",
    "replay": "replayed old fix",
    "report_rate": "flood of fixes",
    "identity_clash": "one unit, two devices, two places",
    "sybil": "device making up units",
    "on_scene_far": "CAD on scene, GPS far away",
    "gnss_jamming": "the device's GNSS receiver reports jamming",
    "gnss_spoofing": "the device's GNSS receiver reports spoofing",
    "gnss_unsafe": "the device's GNSS receiver calls its fix unsafe",
}


def evidence_text(evidence: dict[str, Any]) -> str:
    """The evidence of a finding on one line: `key value` pairs, the doubted fix's position last."""
    shown = {k: v for k, v in evidence.items() if k not in ("lat", "lon", "from_lat", "from_lon")}
    text = ", ".join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in shown.items())
    if evidence.get("lat") is not None and evidence.get("lon") is not None:
        text += f"; at {evidence['lat']:.5f}, {evidence['lon']:.5f}"
    return text


def _value(value: Any) -> str:
    if isinstance(value, list):  # a Sybil finding's example ids
        return ", ".join(_value(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


class SecurityPanel(QWidget):
    """Security findings (newest first) with an Acknowledge action."""

    acknowledge = Signal(str, str)  # alert id, note

    HEADERS = ["Time", "Alert", "Unit", "Device", "Rule", "Evidence", "State"]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = report_table(self.HEADERS)
        self.note = QLineEdit()
        self.note.setPlaceholderText("what was done (optional)")
        self.acknowledge_button = QPushButton("Acknowledge (A)")
        self.acknowledge_button.setEnabled(False)
        self.acknowledge_button.clicked.connect(self._acknowledge)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.status = QLabel("No findings.")
        self.table.installEventFilter(self)  # the A key in the list acknowledges (before its type-ahead search)
        actions = QHBoxLayout()
        actions.addWidget(self.note, 1)
        actions.addWidget(self.acknowledge_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        self._ids: list[str] = []
        self._open: set[str] = set()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The A key on the list acknowledges the selected finding."""
        if watched is self.table and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and event.key() == Qt.Key.Key_A and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self._acknowledge()
            return True
        return super().eventFilter(watched, event)

    def set_picture(self, picture: Picture) -> None:
        """Show the picture's findings (only when they changed: the table keeps its selection)."""
        alerts = sorted(picture.security.alerts.values(), key=lambda a: (a.raised_at, a.id), reverse=True)
        ids = [a.id for a in alerts]
        open_ids = {a.id for a in alerts if a.acknowledged_at is None}
        if ids == self._ids and open_ids == self._open:
            return
        selected = self.selected()
        self._ids, self._open = ids, open_ids
        self.table.setRowCount(len(alerts))
        for row, alert in enumerate(alerts):
            self._fill(row, alert)
        self.status.setText(f"{len(open_ids)} to acknowledge, {len(alerts)} findings" if alerts else "No findings.")
        if selected in ids:
            self.table.selectRow(ids.index(selected))
        self._selection_changed()

    def _fill(self, row: int, alert: SecurityAlert) -> None:
        new = alert.acknowledged_at is None
        colour = NEW_COLOUR if new else ACKNOWLEDGED_COLOUR
        state = "new" if new else f"acknowledged by {alert.acknowledged_by}" + (
            f": {alert.note}" if alert.note else "")
        what = alert.unit or (f"drone {alert.drone}" if alert.drone else "")
        cells = [time.strftime("%H:%M:%S", time.localtime(alert.raised_at)), alert.id, what, alert.device,
                 alert.rule, evidence_text(alert.evidence), state]
        for column, text in enumerate(cells):
            cell = table_cell(text, colour, bold=new and column in (1, 2, 4))
            cell.setToolTip(RULE_LABELS.get(alert.rule, alert.rule))
            self.table.setItem(row, column, cell)

    def selected(self) -> str | None:
        """The selected finding's id."""
        rows = self.table.selectionModel().selectedRows()
        return self._ids[rows[0].row()] if rows else None

    def unacknowledged(self) -> int:
        """How many findings no supervisor has acknowledged yet."""
        return len(self._open)

    def _selection_changed(self) -> None:
        self.acknowledge_button.setEnabled(self.selected() in self._open)

    def _acknowledge(self) -> None:
        alert = self.selected()
        if alert is not None and alert in self._open:
            self.acknowledge.emit(alert, self.note.text().strip())
            self.note.clear()
