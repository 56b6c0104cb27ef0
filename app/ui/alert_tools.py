"""Console tools for public warnings and incident exchange: issue a CAP-ready alert for an area, save any alert
as a CAP 1.2 file, export an incident as a NENA EIDO document, and select on the map what lies inside an alert.

`AlertTools(window)` wires them into a `MainWindow`: the Alerts panel's buttons, an "Alerts" menu and an
"Export incident as EIDO…" item in the Incident menu. Files are written on a worker thread (the GUI thread
never waits on the disk); the outcome comes back to the status bar.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.entities import ALERT_VALUES, Zone
from app.domain.picture import Picture
from app.feeds.cap import encode_alert
from app.feeds.cap_alerts import cap_for_alert
from app.feeds.eido_incidents import incident_eido
from app.ui.dialogs import ok_cancel

#: How far the console's files go: CAP's sender for a saved alert.
CONSOLE_SENDER = "watchfloor-console"


class IssueAlertDialog(QDialog):
    """A warning for an area: event, headline, CAP severity/urgency/certainty/category, a circle around a point
    or the polygon of a zone, expiry, description and instruction. `args()` gives the alert.issue arguments."""

    def __init__(self, at: tuple[float, float], zones: list[Zone], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Issue alert")
        self.setMinimumWidth(560)
        self.event = QLineEdit()
        self.event.setPlaceholderText("what is happening: Gas leak, Flood, Smoke…")
        self.headline = QLineEdit()
        self.headline.setPlaceholderText("one line the public reads first")
        self.values: dict[str, QComboBox] = {}
        defaults = {"severity": "Severe", "urgency": "Immediate", "certainty": "Observed", "category": "Safety"}
        for name, allowed in ALERT_VALUES.items():
            box = QComboBox()
            box.addItems(list(allowed))
            box.setCurrentText(defaults[name])
            self.values[name] = box
        self.circle = QRadioButton("Circle around a point")
        self.zone_area = QRadioButton("A zone's polygon")
        self.circle.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.circle)
        group.addButton(self.zone_area)
        self.lat, self.lon = QDoubleSpinBox(), QDoubleSpinBox()
        for box, (low, high) in ((self.lat, (-90, 90)), (self.lon, (-180, 180))):
            box.setDecimals(6)
            box.setRange(low, high)
            box.setSingleStep(0.0005)
        self.lat.setValue(at[0])
        self.lon.setValue(at[1])
        self.radius = QSpinBox()
        self.radius.setRange(10, 100_000)
        self.radius.setSingleStep(50)
        self.radius.setValue(300)
        self.radius.setSuffix(" m")
        self.zone = QComboBox()
        for zone in zones:
            self.zone.addItem(f"{zone.name} ({zone.kind})", zone.id)
        self._zones = {z.id: z for z in zones}
        self.zone_area.setEnabled(bool(zones))
        self.area_name = QLineEdit()
        self.area_name.setPlaceholderText("e.g. Around Rautatientori (CAP areaDesc)")
        self.hours = QDoubleSpinBox()
        self.hours.setRange(0, 168)
        self.hours.setDecimals(1)
        self.hours.setValue(2)
        self.hours.setSuffix(" h")
        self.hours.setSpecialValueText("no expiry")
        self.description = QPlainTextEdit()
        self.description.setFixedHeight(60)
        self.instruction = QPlainTextEdit()
        self.instruction.setPlaceholderText("what people should do")
        self.instruction.setFixedHeight(60)
        point = QHBoxLayout()
        for widget in (self.lat, self.lon, self.radius):
            point.addWidget(widget)
        cap = QHBoxLayout()
        for box in self.values.values():
            cap.addWidget(box)
        form = QFormLayout()
        form.addRow("&Event", self.event)
        form.addRow("&Headline", self.headline)
        form.addRow("Severity · urgency · certainty · category", cap)
        form.addRow(self.circle, point)
        form.addRow(self.zone_area, self.zone)
        form.addRow("Area &name", self.area_name)
        form.addRow("E&xpires in", self.hours)
        form.addRow("&Description", self.description)
        form.addRow("&Instruction", self.instruction)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff7b72; font-weight: 600;")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(ok_cancel(self, "Issue alert", self._try_accept))

    def use_zone(self, zone_id: str) -> None:
        """Take the area from a zone."""
        self.zone.setCurrentIndex(self.zone.findData(zone_id))
        self.zone_area.setChecked(True)

    def _try_accept(self) -> None:
        if not self.headline.text().strip():
            self.error.setText("Write a headline.")
            self.headline.setFocus()
            return
        self.accept()

    def args(self, now: float | None = None) -> dict[str, Any]:
        """The alert.issue arguments."""
        now = time.time() if now is None else now
        desc = self.area_name.text().strip()
        if self.zone_area.isChecked() and self.zone.currentData() in self._zones:
            zone = self._zones[self.zone.currentData()]
            area: dict[str, Any] = {"polygon": [list(p) for p in zone.polygon], "desc": desc or zone.name}
        else:
            area = {"circle": [self.lat.value(), self.lon.value(), float(self.radius.value())], "desc": desc}
        args: dict[str, Any] = {
            "headline": self.headline.text().strip(), "event": self.event.text().strip(), "areas": [area],
            "description": self.description.toPlainText().strip(),
            "instruction": self.instruction.toPlainText().strip(),
            **{name: box.currentText() for name, box in self.values.items()},
        }
        if self.hours.value() > 0:
            args["expires"] = now + self.hours.value() * 3600
        return args


class _Saved(QObject):
    done = Signal(str, bool)  # message, ok


class _Write(QRunnable):
    def __init__(self, path: Path, data: bytes, saved: _Saved, what: str) -> None:
        super().__init__()
        self.path, self.data, self.saved, self.what = path, data, saved, what

    def run(self) -> None:
        try:
            self.path.write_bytes(self.data)
        except OSError as exc:
            self.saved.done.emit(f"✖ could not save {self.what}: {exc}", False)
        else:
            self.saved.done.emit(f"✔ {self.what} saved to {self.path}", True)


class AlertTools(QObject):
    """Alert and exchange actions for one console window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.saved = _Saved(self)
        self.saved.done.connect(lambda message, ok: window.statusBar().showMessage(message, 8000 if ok else 15000))
        self.last_saved: str = ""
        self.saved.done.connect(lambda message, _ok: setattr(self, "last_saved", message))
        panel = window.alerts
        panel.issue_alert.connect(self.issue_alert)
        panel.save_cap.connect(self.save_cap)
        panel.select_on_map.connect(self.show_on_map)
        window.bridge.status_changed.connect(self._status)
        window.map.context_issue_alert.connect(lambda lat, lon: self.issue_alert(at=(lat, lon)))
        menu = window.menuBar()
        alerts = menu.addMenu("&Alerts")
        menu.insertMenu(menu.actions()[-2], alerts)  # before Help
        window._action(alerts, "&Issue alert…", self.issue_alert, [])
        window._action(alerts, "&Save selected alert as CAP…", lambda: self.save_cap(panel.current_alert() or ""), [])
        incident_menu = next(a.menu() for a in menu.actions() if a.text() == "&Incident")
        export = window._action(incident_menu, "&Export incident as EIDO…",
                                lambda: window._on_selected(self.export_eido), [])
        incident_menu.insertAction(incident_menu.actions()[-3], export)  # above the separator and Quit

    @property
    def picture(self) -> Picture:
        return self.window.picture  # type: ignore[no-any-return]

    def _status(self, status: Any) -> None:
        self.window.alerts.can_issue = status.role == "supervisor"
        self.window.alerts._update_buttons()
        self.window.map.offer_alerts(self.window.alerts.can_issue)

    def issue_alert(self, at: tuple[float, float] | None = None) -> IssueAlertDialog:
        """Open the issue dialog at a point (default: the selected incident, else the map's centre)."""
        incident = self.picture.incidents.get(self.window.selected_incident or "")
        point = at or ((incident.lat, incident.lon) if incident else None) or self.window.city.center or (
            60.1699, 24.9384)
        dialog = IssueAlertDialog(point, sorted(self.picture.zones.values(), key=lambda z: z.name), self.window)
        dialog.accepted.connect(lambda: self.window.send("alert.issue", dialog.args(),
                                                         f"alert “{dialog.headline.text().strip()}”"))
        dialog.open()
        return dialog

    def show_on_map(self, kind: str, item_id: str) -> None:
        """Select an alert, or a unit, incident or zone inside one, on the map (and its board)."""
        if kind == "incident":
            self.window.focus_incident(item_id)
            return
        self.window.map.select(kind, item_id)
        if kind == "unit":
            self.window.units.select_key(item_id)
            unit = self.picture.units.get(item_id)
            if unit is not None and unit.lat is not None:
                self.window.map.center_on(unit.lat, unit.lon, 16)

    def _ask_path(self, title: str, name: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.window, title, name, filters)
        return Path(path) if path else None

    def save_cap(self, alert_id: str, path: Path | None = None) -> bool:
        """Write an alert as a CAP 1.2 file (asks where unless `path` is given)."""
        alert = self.picture.alerts.get(alert_id)
        if alert is None:
            self.window.statusBar().showMessage("Select an alert first", 4000)
            return False
        path = path or self._ask_path("Save alert as CAP", f"{alert.id}.cap.xml", "CAP 1.2 (*.xml)")
        if path is None:
            return False
        cap = cap_for_alert(alert, sender=CONSOLE_SENDER, identifier=alert.id, sent=alert.issued_at,
                            sender_name=alert.issued_by)
        QThreadPool.globalInstance().start(_Write(path, encode_alert(cap), self.saved, f"alert {alert.id} (CAP)"))
        return True

    def export_eido(self, incident_id: str, path: Path | None = None) -> bool:
        """Write an incident as a NENA EIDO JSON document (asks where unless `path` is given)."""
        incident = self.picture.incidents.get(incident_id)
        if incident is None:
            return False
        path = path or self._ask_path("Export incident as EIDO", f"{incident.id}.eido.json", "EIDO JSON (*.json)")
        if path is None:
            return False
        data = json.dumps(incident_eido(incident, self.picture), indent=2, ensure_ascii=False).encode()
        QThreadPool.globalInstance().start(_Write(path, data, self.saved, f"incident {incident.id} (EIDO)"))
        return True
