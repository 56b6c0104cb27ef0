"""The devices panel: the field devices registered with the hub, and the senders it hears that are none of them.

Registered devices come with the picture (`device.registered` / `device.revoked` events: a console sees its
agency's devices, a supervisor all of them). Unknown senders come with the hub's `feeds` report
(`unknown_devices`), which the Feeds panel asks for. A supervisor revokes the selected device from here; the
hub refuses anyone else (the rules say who may).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.domain.picture import Picture
from app.ui.models import elapsed
from app.ui.panels.feeds import report_table, table_cell

REVOKED_COLOUR = "#6e7681"


class DevicesPanel(QWidget):
    """Registered devices (newest first) with a Revoke action, and the unknown senders below them."""

    revoke = Signal(str, str)  # device id, reason

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = report_table(["Device", "Agency", "Sends", "From", "Credential", "State", "Reports for"])
        self.unknown = report_table(["Feed", "Sender", "Inputs", "Last heard"])
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("reason for revoking")
        self.revoke_button = QPushButton("Revoke device")
        self.revoke_button.setEnabled(False)
        self.revoke_button.clicked.connect(self._revoke)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        actions = QHBoxLayout()
        actions.addWidget(self.reason, 1)
        actions.addWidget(self.revoke_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 2)
        layout.addLayout(actions)
        layout.addWidget(QLabel("Senders that are no registered device (from the Feeds report):"))
        layout.addWidget(self.unknown, 1)
        self._ids: list[str] = []
        self._active: set[str] = set()

    def set_picture(self, picture: Picture) -> None:
        """Show the picture's devices (only when they changed: the table keeps its selection)."""
        devices = sorted(picture.devices.values(), key=lambda d: d.registered_at, reverse=True)
        ids = [d.id for d in devices]
        active = {d.id for d in devices if d.active}
        if ids == self._ids and active == self._active:
            return
        selected = self.selected()
        self._ids, self._active = ids, active
        self.table.setRowCount(len(devices))
        for row, d in enumerate(devices):
            colour = None if d.active else REVOKED_COLOUR
            state = "active" if d.active else "revoked" + (f": {d.revoke_reason}" if d.revoke_reason else "")
            cells = [d.id, d.agency, "/".join(d.formats), f"{d.transport} {d.source}", d.credential, state,
                     ", ".join([*d.units, *d.drones])]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, table_cell(text, colour, bold=column == 0 and d.active))
        if selected in ids:
            self.table.selectRow(ids.index(selected))
        self._selection_changed()

    def set_unknown(self, senders: list[dict[str, Any]], now: float) -> None:
        """Show the `unknown_devices` of a `feeds` report (newest first)."""
        self.unknown.setRowCount(len(senders))
        for row, s in enumerate(senders):
            cells = [s["feed"], s["source"], str(s["count"]), f"{elapsed(now - s['last_at'])} ago"]
            for column, text in enumerate(cells):
                self.unknown.setItem(row, column, table_cell(text))

    def selected(self) -> str | None:
        """The selected device's id."""
        rows = self.table.selectionModel().selectedRows()
        return self._ids[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        self.revoke_button.setEnabled(self.selected() in self._active)

    def _revoke(self) -> None:
        device = self.selected()
        if device is not None:
            self.revoke.emit(device, self.reason.text().strip())
            self.reason.clear()
