"""The alerts panel: mutual-aid requests (answer the ones addressed to this agency), and the alerts in force with
what lies inside each one's area (units, open incidents, zones: counts, expandable; a click selects on the map)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.alert_area import Inside, inside, named_only
from app.domain.entities import Alert
from app.domain.picture import Picture
from app.domain.timers import UnitTimer
from app.ui.models import OVERDUE_COLOUR, elapsed

ID_ROLE = Qt.ItemDataRole.UserRole + 1
_SEVERITY_ORDER = {"Extreme": 0, "Severe": 1, "Moderate": 2, "Minor": 3}
#: A group (units, incidents, zones) under an expanded alert starts open when it is this short.
GROUP_OPEN_UP_TO = 12
KIND_ROLE = Qt.ItemDataRole.UserRole + 2  # alert tree: "alert", "unit", "incident" or "zone"


class AlertsPanel(QWidget):
    """Aid requests (pending first) and alerts in force. Accept/Decline act on the selected pending request."""

    answer = Signal(str, bool)  # request id, accept
    check_unit = Signal(str)  # unit id: the dispatcher checked on it (acknowledges its overdue timer)
    open_incident = Signal(str)
    select_on_map = Signal(str, str)  # kind (alert, unit, incident, zone), id
    issue_alert = Signal()
    save_cap = Signal(str)  # alert id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.agency = ""
        # Overdue unit timers first: each needs a look now (Enter or "Checked" acknowledges it, as ACK <unit> does).
        self.timers = QListWidget()
        self.timers.setObjectName("overdue-timers")
        self.timers.setMaximumHeight(120)
        self.timers.itemActivated.connect(lambda item: self.check_unit.emit(item.data(ID_ROLE)))
        self.checked = QPushButton("Checked (ACK)")
        self.checked.setObjectName("check-unit")
        self.checked.clicked.connect(self._check_current)
        self.timers_box = QWidget()
        timers_layout = QVBoxLayout(self.timers_box)
        timers_layout.setContentsMargins(0, 0, 0, 0)
        timers_title = QLabel("OVERDUE TIMERS")
        timers_title.setObjectName("dim")
        timers_layout.addWidget(timers_title)
        timers_layout.addWidget(self.timers)
        timers_layout.addWidget(self.checked)
        self.timers_box.hide()
        self._timer_signature: tuple = ()
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
        self.can_issue = False  # supervisors issue alerts (set from the signed-in role)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setObjectName("alerts-in-force")
        self.tree.itemClicked.connect(self._clicked)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.issue = QPushButton("Issue alert…")
        self.issue.setObjectName("issue-alert")
        self.issue.clicked.connect(self.issue_alert)
        self.save = QPushButton("Save as CAP…")
        self.save.setObjectName("save-cap")
        self.save.clicked.connect(lambda: self.save_cap.emit(self.current_alert() or ""))
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept)
        buttons.addWidget(self.decline)
        alert_buttons = QHBoxLayout()
        alert_buttons.addWidget(self.issue)
        alert_buttons.addWidget(self.save)
        aid = QWidget()
        aid_layout = QVBoxLayout(aid)
        aid_layout.setContentsMargins(0, 0, 0, 0)
        aid_layout.addWidget(self.list)
        aid_layout.addLayout(buttons)
        alerts = QWidget()
        alerts_layout = QVBoxLayout(alerts)
        alerts_layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("ALERTS IN FORCE  ·  what is inside each area")
        title.setObjectName("dim")
        alerts_layout.addWidget(title)
        alerts_layout.addWidget(self.tree)
        alerts_layout.addLayout(alert_buttons)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(aid)
        split.addWidget(alerts)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)  # alerts and what is inside them need the room; aid requests are few
        split.setSizes([100, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.timers_box)
        layout.addWidget(split)
        self._pending_for_me: list[str] = []
        self._signature: tuple = ()
        self._alert_signature: tuple = ()
        self._incident_of: dict[str, str] = {}
        self.inside: dict[str, Inside] = {}  # alert id -> what its areas hold, as last shown
        self._update_buttons()

    def set_timers(self, timers: list[UnitTimer], now: float) -> None:
        """The overdue timers to show (most overdue first); the box hides when there are none."""
        signature = tuple((t.unit, t.kind, t.started_at) for t in timers)
        current = self.timers.currentItem().data(ID_ROLE) if self.timers.currentItem() else None
        if signature != self._timer_signature:
            self._timer_signature = signature
            self.timers.clear()
            for timer in timers:
                item = QListWidgetItem()
                item.setData(ID_ROLE, timer.unit)
                item.setForeground(QBrush(QColor("#ffffff")))
                item.setBackground(QBrush(QColor(OVERDUE_COLOUR)))
                self.timers.addItem(item)
                if timer.unit == current:
                    self.timers.setCurrentItem(item)
            if self.timers.currentItem() is None and self.timers.count():
                self.timers.setCurrentRow(0)
        for row, timer in enumerate(timers):  # the overdue time keeps counting
            self.timers.item(row).setText(f"‼ {timer.unit} ({timer.agency.upper()}) {timer.kind} overdue by "
                                          f"{elapsed(-timer.remaining(now))} — ACK {timer.unit}")
        self.timers_box.setVisible(bool(timers))

    def _check_current(self) -> None:
        item = self.timers.currentItem()
        if item is not None:
            self.check_unit.emit(item.data(ID_ROLE))

    def pending_for_me(self) -> list[str]:
        """Aid requests to this agency still unanswered, oldest first."""
        return list(self._pending_for_me)

    def set_picture(self, picture: Picture, now: float | None = None) -> None:
        """Refresh from a snapshot (rebuilt only when something shown changed)."""
        now = time.time() if now is None else now
        requests = sorted(picture.aid_requests.values(), key=lambda r: (r.state != "pending", -r.requested_at))
        self._show_alerts(picture, now)
        signature = (tuple((r.id, r.state) for r in requests), self.agency)
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
            colour = {"pending": "#e3b341", "accepted": "#3fb950", "declined": "#f85149"}.get(request.state, "#8b949e")
            item.setForeground(QBrush(QColor(colour if request.state != "pending" or mine else "#d6dde6")))
            if mine:
                item.setBackground(QBrush(QColor(154, 103, 0, 90)))
            self.list.addItem(item)
        if not requests:
            empty = QListWidgetItem("No mutual-aid requests")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(empty)
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == current:
                self.list.setCurrentRow(row)
        self._update_buttons()

    def _show_alerts(self, picture: Picture, now: float) -> None:
        alerts = sorted((a for a in picture.alerts.values() if a.active(now)),
                        key=lambda a: (_SEVERITY_ORDER.get(a.severity, 9), -a.issued_at))
        self.inside = {a.id: inside(a, picture) for a in alerts}
        signature = tuple((a.id, a.headline, a.severity, a.expires, self.inside[a.id]) for a in alerts)
        if signature == self._alert_signature:
            return
        self._alert_signature = signature
        expanded = {self.tree.topLevelItem(i).data(0, ID_ROLE) for i in range(self.tree.topLevelItemCount())
                    if self.tree.topLevelItem(i).isExpanded()}
        current = self.current_alert()
        self.tree.clear()
        for alert in alerts:
            top = self._alert_item(alert, self.inside[alert.id], picture)
            self.tree.addTopLevelItem(top)
            top.setExpanded(alert.id in expanded)
            for i in range(top.childCount()):  # (expanding works only once the item is in the tree)
                top.child(i).setExpanded(top.child(i).childCount() <= GROUP_OPEN_UP_TO)
            if alert.id == current:
                self.tree.setCurrentItem(top)
        if not alerts:
            empty = QTreeWidgetItem(["No alerts in force"])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)
        self._update_buttons()

    def _alert_item(self, alert: Alert, found: Inside, picture: Picture) -> QTreeWidgetItem:
        counts = (f"{len(found.units)} unit{'s' * (len(found.units) != 1)} · {len(found.incidents)} "
                  f"incident{'s' * (len(found.incidents) != 1)} · {len(found.zones)} zone"
                  f"{'s' * (len(found.zones) != 1)} inside")
        named = named_only(alert)
        if len(named) == len(alert.areas):  # no shape at all: "0 inside" would be false comfort
            counts = "area given by name only, not drawn on the map: judge who it concerns"
        elif named:
            counts += f" · not drawn: {'; '.join(named)}"
        areas = "; ".join(dict.fromkeys(a.desc for a in alert.areas if a.desc)) or alert.event
        until = time.strftime(" · until %H:%M", time.localtime(alert.expires)) if alert.expires else ""
        top = QTreeWidgetItem([f"⚠ {alert.severity.upper()}  {alert.headline}\n   {areas} ({alert.source}){until}"
                               f"\n   {counts}"])
        top.setData(0, ID_ROLE, alert.id)
        top.setData(0, KIND_ROLE, "alert")
        top.setForeground(0, QBrush(QColor("#ff7b72" if alert.severity in ("Extreme", "Severe") else "#e3b341")))
        for kind, title, ids, describe in (
                ("unit", "Units", found.units,
                 lambda i: f"{i}  {picture.units[i].kind} · {picture.units[i].status.value.replace('_', ' ')}"),
                ("incident", "Incidents", found.incidents,
                 lambda i: f"{i}  {picture.incidents[i].type.replace('_', ' ')} · {picture.incidents[i].address}"),
                ("zone", "Zones", found.zones, lambda i: f"{picture.zones[i].name} ({picture.zones[i].kind})")):
            if not ids:
                continue
            group = QTreeWidgetItem([f"{title} ({len(ids)})"])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.addChild(group)
            for item_id in ids:
                child = QTreeWidgetItem([describe(item_id)])
                child.setData(0, ID_ROLE, item_id)
                child.setData(0, KIND_ROLE, kind)
                group.addChild(child)
        return top

    def current_alert(self) -> str | None:
        """The alert of the current tree item (itself or one of its children), if any."""
        item = self.tree.currentItem()
        while item is not None and item.data(0, KIND_ROLE) != "alert":
            item = item.parent()
        return item.data(0, ID_ROLE) if item is not None else None

    def select_alert(self, alert_id: str, expand: bool = True) -> None:
        """Make an alert the current item (and show what is inside it)."""
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, ID_ROLE) == alert_id:
                self.tree.setCurrentItem(item)
                item.setExpanded(expand)

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        kind = item.data(0, KIND_ROLE)
        if kind:
            self.select_on_map.emit(kind, item.data(0, ID_ROLE))

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
        self.issue.setEnabled(self.can_issue)
        self.issue.setToolTip("" if self.can_issue else "Supervisors issue alerts")
        self.save.setEnabled(self.current_alert() is not None)

    def _answer(self, accept: bool) -> None:
        request = self._selected_pending()
        if request:
            self.answer.emit(request, accept)

    def _open(self, item: QListWidgetItem) -> None:
        incident = self._incident_of.get(item.data(ID_ROLE))
        if incident:
            self.open_incident.emit(incident)
