"""The alerts panel: mutual-aid requests (answer the ones addressed to this agency) and public alerts."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from app.domain.picture import Picture

ID_ROLE = Qt.ItemDataRole.UserRole + 1


class AlertsPanel(QWidget):
    """Aid requests (pending first) and alerts in force. Accept/Decline act on the selected pending request."""

    answer = Signal(str, bool)  # request id, accept
    open_incident = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.agency = ""
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.accept = QPushButton("Accept (F9)")
        self.accept.setObjectName("accept")
        self.decline = QPushButton("Decline (Shift+F9)")
        self.decline.setObjectName("decline")
        self.accept.clicked.connect(lambda: self._answer(True))
        self.decline.clicked.connect(lambda: self._answer(False))
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.list.itemDoubleClicked.connect(self._open)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept)
        buttons.addWidget(self.decline)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self._pending_for_me: list[str] = []
        self._signature: tuple = ()
        self._incident_of: dict[str, str] = {}
        self._update_buttons()

    def pending_for_me(self) -> list[str]:
        """Aid requests to this agency still unanswered, oldest first."""
        return list(self._pending_for_me)

    def set_picture(self, picture: Picture, now: float | None = None) -> None:
        """Refresh from a snapshot (rebuilt only when something shown changed)."""
        now = time.time() if now is None else now
        requests = sorted(picture.aid_requests.values(), key=lambda r: (r.state != "pending", -r.requested_at))
        alerts = [a for a in picture.alerts.values() if a.active(now)]
        signature = (tuple((r.id, r.state) for r in requests), tuple(a.id for a in alerts), self.agency)
        self._pending_for_me = [r.id for r in sorted(requests, key=lambda r: r.requested_at)
                                if r.state == "pending" and r.to_agency == self.agency]
        if signature == self._signature:
            return
        self._signature = signature
        current = self.list.currentItem().data(ID_ROLE) if self.list.currentItem() else None
        self.list.clear()
        for request in requests:
            incident = picture.incidents.get(request.incident)
            what = f"{incident.type.replace('_', ' ')} at {incident.address}" if incident else ""
            mine = request.to_agency == self.agency and request.state == "pending"
            text = (f"{'▶ ' if mine else ''}{request.id}  {request.from_agency.upper()} → "
                    f"{request.to_agency.upper()}  inc {request.incident}  [{request.state.upper()}]\n   {what}"
                    + (f" — {request.note}" if request.note else ""))
            item = QListWidgetItem(text)
            item.setData(ID_ROLE, request.id)
            self._incident_of[request.id] = request.incident
            colour = {"pending": "#e3b341", "accepted": "#3fb950", "declined": "#f85149"}[request.state]
            item.setForeground(QBrush(QColor(colour if request.state != "pending" or mine else "#d6dde6")))
            if mine:
                item.setBackground(QBrush(QColor(154, 103, 0, 90)))
            self.list.addItem(item)
        for alert in alerts:
            item = QListWidgetItem(f"⚠ {alert.severity.upper()}  {alert.headline}\n   {alert.event} "
                                   f"({alert.source})")
            item.setData(ID_ROLE, alert.id)
            item.setForeground(QBrush(QColor("#ff7b72" if alert.severity in ("Extreme", "Severe") else "#e3b341")))
            self.list.addItem(item)
        if not requests and not alerts:
            empty = QListWidgetItem("No mutual-aid requests · no alerts in force")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(empty)
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == current:
                self.list.setCurrentRow(row)
        self._update_buttons()

    def select_request(self, request_id: str) -> None:
        """Make a request the current item."""
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == request_id:
                self.list.setCurrentRow(row)

    def _selected_pending(self) -> str | None:
        item = self.list.currentItem()
        request = item.data(ID_ROLE) if item else None
        if request in self._pending_for_me:
            return request
        return self._pending_for_me[0] if self._pending_for_me else None

    def _update_buttons(self) -> None:
        enabled = self._selected_pending() is not None
        self.accept.setEnabled(enabled)
        self.decline.setEnabled(enabled)

    def _answer(self, accept: bool) -> None:
        request = self._selected_pending()
        if request:
            self.answer.emit(request, accept)

    def _open(self, item: QListWidgetItem) -> None:
        incident = self._incident_of.get(item.data(ID_ROLE))
        if incident:
            self.open_incident.emit(incident)
