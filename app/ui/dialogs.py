"""Dialogs of the dispatch workflow: new incident, recommended units, close with a disposition, sign-in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.city.geocoder import precision_of
from app.domain.entities import Incident
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.lifecycle import DISPOSITIONS
from app.domain.location import precision_label
from app.domain.recommend import Recommendation
from app.ui.city_services import Geocoder


def ok_cancel(dialog: QDialog, ok_text: str, on_ok: Callable[[], object]) -> QDialogButtonBox:
    """The OK/Cancel row every console dialog ends with: OK relabelled with what it does."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(dialog.reject)
    return buttons

@dataclass(frozen=True, slots=True)
class VerifiedLocation:
    """An address the geocoder found: the text it was found for, its point and its precision."""

    text: str
    lat: float
    lon: float
    precision: str


class NewIncidentDialog(QDialog):
    """Take a call, or (given `incident`) edit one: type (searchable), priority (from the type), address
    (geocoded offline) or a map point, caller, notes, restricted.

    An incident is placed only at a verified location — an address the geocoder found, unchanged since — or at
    an explicit point (picked on the map, or coordinates typed with "Use this point" ticked), which is sent as an
    "unverified" location. Editing the address clears the verification. `args()` gives the incident.create
    arguments; `changes()` the incident.update arguments of an edit."""

    def __init__(self, geocoder: Geocoder | None, at: tuple[float, float] | None = None,
                 center: tuple[float, float] | None = None, parent: QWidget | None = None,
                 incident: Incident | None = None) -> None:
        super().__init__(parent)
        self.incident = incident
        self.setWindowTitle(f"Edit incident {incident.id}" if incident else "New incident")
        self.setMinimumWidth(560)
        self.geocoder = geocoder
        self.type = QComboBox()
        self.type.setEditable(True)
        self.type.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for itype in sorted(INCIDENT_TYPES.values(), key=lambda t: (t.priority, t.label)):
            self.type.addItem(f"{itype.label}  ·  {itype.agency}  ·  P{itype.priority}", itype.code)
        self.type.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.type.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.type.setCurrentIndex(-1)
        self.type.lineEdit().setPlaceholderText("type to search: fire, cardiac, collision…")
        self.priority = QSpinBox()
        self.priority.setRange(1, 5)
        self.priority.setValue(3)
        self.priority.setPrefix("P")
        self.address = QLineEdit()
        self.address.setPlaceholderText("street and number, two streets (A & B), or a place" if geocoder else
                                        "address (no offline geocoder: tick 'Use this point' or right-click the map)")
        self._suggestions = QStringListModel(self)
        completer = QCompleter(self._suggestions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.address.setCompleter(completer)
        self.located = QLabel("")
        self.located.setObjectName("dim")
        self.located.setWordWrap(True)
        self.lat = QDoubleSpinBox()
        self.lon = QDoubleSpinBox()
        for box, (low, high) in ((self.lat, (-90, 90)), (self.lon, (-180, 180))):
            box.setDecimals(6)
            box.setRange(low, high)
            box.setSingleStep(0.0005)
        point = (at or (incident.lat, incident.lon)) if incident else (at or center or (0.0, 0.0))
        self.lat.setValue(point[0])
        self.lon.setValue(point[1])
        # The point boxes hold the map centre until someone means a point: a map pick, or this box ticked.
        self.use_point = QCheckBox("Use this point — the incident is marked “unverified location”")
        self.use_point.setChecked(at is not None)
        self.verified: VerifiedLocation | None = None
        self._looked_up = ""  # the address text last given to the geocoder
        self.caller = QLineEdit()
        self.caller.setPlaceholderText("name and call-back number")
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("what the caller reports")
        self.notes.setFixedHeight(80)
        self.restricted = QCheckBox("Restricted: visible only to agencies working it")
        coords = QHBoxLayout()
        coords.addWidget(self.lat)
        coords.addWidget(self.lon)
        form = QFormLayout()
        form.addRow("&Type", self.type)
        form.addRow("&Priority", self.priority)
        form.addRow("&Address", self.address)
        form.addRow("", self.located)
        form.addRow("Point (lat, lon)", coords)
        form.addRow("", self.use_point)
        form.addRow("&Caller", self.caller)
        if incident is None:
            form.addRow("&Notes", self.notes)
            form.addRow("", self.restricted)
        self.buttons = ok_cancel(self, "Save  (Ctrl+Enter)" if incident else "Create  (Ctrl+Enter)", self._try_accept)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff7b72; font-weight: 600;")
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.type.currentIndexChanged.connect(self._type_chosen)
        self.address.textEdited.connect(self._address_edited)
        self.address.editingFinished.connect(self._address_finished)
        completer.activated.connect(lambda _text: self.locate())
        for box in (self.lat, self.lon):
            box.valueChanged.connect(self._point_edited)
        if incident is not None:
            self._fill(incident)
        elif at is not None:
            self._show("", f"Point from the map: {at[0]:.5f}, {at[1]:.5f} — unverified location")
            self._reverse(at)

    def _fill(self, incident: Incident) -> None:
        self.set_type(incident.type)
        self.priority.setValue(incident.priority)
        self.address.setText(incident.address)
        self.caller.setText(incident.caller)
        precision = incident.location_precision or "unverified"
        if precision == "unverified":
            self.use_point.setChecked(True)
            self._show("", f"Unverified location: {incident.lat:.5f}, {incident.lon:.5f}")
        else:
            self.verified = VerifiedLocation(incident.address, incident.lat, incident.lon, precision)
            self._looked_up = incident.address
            self._show("ok", f"✔ {incident.address}  —  {precision_label(precision)}")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and ctrl:
            self._try_accept()
            return
        super().keyPressEvent(event)

    def set_type(self, code: str) -> None:
        """Choose the incident type by code."""
        self.type.setCurrentIndex(self.type.findData(code))

    def _type_chosen(self, index: int) -> None:
        code = self.type.itemData(index)
        if code in INCIDENT_TYPES:
            self.priority.setValue(INCIDENT_TYPES[code].priority)

    def _show(self, state: str, text: str) -> None:
        self.located.setText(text)
        self.located.setStyleSheet({"ok": "color: #3fb950;", "bad": "color: #ff7b72;"}.get(state, ""))

    def _address_edited(self, text: str) -> None:
        """Typing in the address voids what was found for the old text."""
        if self.verified is not None:
            self.verified = None
            self._show("", "Not verified yet — Enter looks the address up")
        if self.geocoder is not None and len(text) >= 2:
            try:
                self._suggestions.setStringList(self.geocoder.suggest(text, 12))
            except Exception:  # a suggestion failure must not block typing
                self._suggestions.setStringList([])

    def _address_finished(self) -> None:
        if self.address.text().strip() != self._looked_up:
            self.locate()

    def _point_edited(self) -> None:
        """Coordinates typed by hand (not set by the geocoder) are an explicit, unverified point."""
        if self.verified is not None and (self.lat.value(), self.lon.value()) != (self.verified.lat,
                                                                                   self.verified.lon):
            self.verified = None
            self._show("", "Point changed by hand — unverified location")
        if self.verified is None and (self.lat.hasFocus() or self.lon.hasFocus()):
            self.use_point.setChecked(True)

    def _reverse(self, at: tuple[float, float]) -> None:
        reverse = getattr(self.geocoder, "reverse", None)
        if reverse is None:
            return
        try:
            location = reverse(at)
        except Exception:
            return
        if location is not None and not self.address.text():
            self.address.setText(location.address)
            self._looked_up = location.address  # a description of the pick, not an address to look up

    def locate(self) -> bool:
        """Geocode the address; on success the point and its precision are verified. Returns whether they are."""
        text = self.address.text().strip()
        self._looked_up = text
        if self.verified is not None and self.verified.text == text:
            return True
        self.verified = None
        if not text:
            self._show("", "")
            return False
        if self.geocoder is None:
            self._show("bad", "✖ no geocoder: tick 'Use this point' or right-click the map")
            return False
        try:
            location = self.geocoder.geocode(text)
        except Exception as exc:
            self._show("bad", f"✖ geocoder error: {exc}")
            return False
        if location is None:
            self._show("bad", f"✖ “{text}” not found — check the spelling, or pick the point on the map")
            return False
        elsewhere = (location.raw or {}).get("elsewhere") if isinstance(location.raw, dict) else None
        if elsewhere:
            # "Kirchstrasse" runs in three villages: verifying one of them would be a guess.
            choices = [location.address, *elsewhere]
            self._suggestions.setStringList(choices)
            self._show("bad", f"✖ “{text}” is in {len(choices)} places: {' · '.join(choices[:4])} — choose one "
                              "from the list or add the municipality")
            if self.isVisible():
                self.address.completer().complete()
            return False
        precision = precision_of(location)
        if precision in ("address_point", "interpolated", "intersection") and location.address:
            self.address.setText(location.address)  # the address as the gazetteer writes it
            text = location.address
            self._looked_up = text
        for box, value in ((self.lat, location.latitude), (self.lon, location.longitude)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.verified = VerifiedLocation(text, location.latitude, location.longitude, precision)
        self.use_point.setChecked(False)
        self._show("ok", f"✔ {location.address}  —  {precision_label(precision)}  —  "
                         f"{location.latitude:.5f}, {location.longitude:.5f}")
        return True

    def _try_accept(self) -> None:
        if self.type.currentData() not in INCIDENT_TYPES:
            # Accept a typed label that matches exactly one type.
            text = self.type.currentText().strip().lower()
            matches = [t.code for t in INCIDENT_TYPES.values() if text and text in t.label.lower()]
            if len(matches) == 1:
                self.set_type(matches[0])
            else:
                self.error.setText("Choose the incident type.")
                self.type.setFocus()
                return
        text = self.address.text().strip()
        verified = self.verified is not None and self.verified.text == text
        if not verified and text and text != self._looked_up:
            verified = self.locate()
        if not verified and not self.use_point.isChecked():
            self.error.setText("The location is not verified: give an address the geocoder finds, or pick the "
                               "point on the map (right-click) or tick “Use this point” to create it as an "
                               "unverified location.")
            self.address.setFocus()
            return
        self.accept()

    def _location(self) -> dict[str, Any]:
        if self.verified is not None and self.verified.text == self.address.text().strip():
            return {"lat": self.verified.lat, "lon": self.verified.lon, "location_precision": self.verified.precision}
        return {"lat": self.lat.value(), "lon": self.lon.value(), "location_precision": "unverified"}

    def args(self) -> dict[str, Any]:
        """The incident.create arguments."""
        return {"type": self.type.currentData(), "priority": self.priority.value(), **self._location(),
                "address": self.address.text().strip(), "caller": self.caller.text().strip(),
                "notes": self.notes.toPlainText().strip(), "restricted": self.restricted.isChecked()}

    def changes(self) -> dict[str, Any]:
        """The incident.update arguments of an edit: only what changed (empty when nothing did)."""
        incident = self.incident
        assert incident is not None
        new = {"type": self.type.currentData(), "priority": self.priority.value(),
               "address": self.address.text().strip(), "caller": self.caller.text().strip(), **self._location()}
        old = {"type": incident.type, "priority": incident.priority, "address": incident.address,
               "caller": incident.caller, "lat": incident.lat, "lon": incident.lon,
               "location_precision": incident.location_precision or "unverified"}
        changed = {k: v for k, v in new.items() if v != old[k]}
        # The point boxes keep 6 decimals: a point that only went through them has not moved.
        if abs(new["lat"] - incident.lat) < 1e-6 and abs(new["lon"] - incident.lon) < 1e-6:
            changed.pop("lat", None)
            changed.pop("lon", None)
        if "lat" in changed or "lon" in changed:
            changed.update(lat=new["lat"], lon=new["lon"], location_precision=new["location_precision"])
        return {"incident": incident.id, **changed} if changed else {}


@dataclass(frozen=True, slots=True)
class Choice:
    """A recommendation as the dialog offers it: pre-checked when it fills a need of the dispatcher's agency."""

    recommendation: Recommendation
    checked: bool


class RecommendDialog(QDialog):
    """Recommended units with ETAs and reasons. Keys 1-9 toggle a unit; Enter dispatches the checked ones."""

    def __init__(self, title: str, choices: list[Choice], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Assign units — {title}")
        self.setMinimumSize(760, 320)
        self.choices = choices
        self.table = QTableWidget(len(choices), 6)
        self.table.setHorizontalHeaderLabels(["", "Unit", "Kind", "Agency", "ETA", "Why"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        for row, choice in enumerate(choices):
            rec = choice.recommendation
            minutes, seconds = divmod(round(rec.eta_s), 60)
            check = QTableWidgetItem(str(row + 1) if row < 9 else "")
            check.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            check.setCheckState(Qt.CheckState.Checked if choice.checked else Qt.CheckState.Unchecked)
            self.table.setItem(row, 0, check)
            for column, text in enumerate((rec.unit, rec.kind, rec.agency.upper() + (" (aid)" if rec.needs_aid else ""),
                                           f"{minutes}:{seconds:02d}", rec.reason), start=1):
                item = QTableWidgetItem(text)
                if rec.needs_aid:
                    item.setForeground(QColor("#e3b341"))
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        hint = QLabel("1–9 toggle a unit · Enter dispatch the checked units · Esc cancel" if choices else
                      "No available unit of the kinds this incident needs. Request mutual aid, or dispatch by "
                      "CAD line (D <unit> <incident>).")
        hint.setObjectName("dim")
        buttons = ok_cancel(self, "Dispatch  (Enter)", self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.table.setFocus()
        if choices:
            self.table.selectRow(0)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if text.isdigit() and 1 <= int(text) <= min(9, len(self.choices)):
            item = self.table.item(int(text) - 1, 0)
            item.setCheckState(Qt.CheckState.Unchecked if item.checkState() == Qt.CheckState.Checked
                               else Qt.CheckState.Checked)
            self.table.selectRow(int(text) - 1)
            return
        if event.key() == Qt.Key.Key_Space and self.table.currentRow() >= 0:
            item = self.table.item(self.table.currentRow(), 0)
            item.setCheckState(Qt.CheckState.Unchecked if item.checkState() == Qt.CheckState.Checked
                               else Qt.CheckState.Checked)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
            return
        super().keyPressEvent(event)

    def chosen(self) -> list[Recommendation]:
        """The checked recommendations, in table order."""
        return [c.recommendation for row, c in enumerate(self.choices)
                if self.table.item(row, 0).checkState() == Qt.CheckState.Checked]


class CloseDialog(QDialog):
    """Close an incident with a disposition (and an optional closing note)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Close — {title}")
        self.disposition = QComboBox()
        self.disposition.setEditable(True)
        for code in DISPOSITIONS:
            self.disposition.addItem(code.replace("_", " "), code)
        self.note = QLineEdit()
        self.note.setPlaceholderText("closing note (optional)")
        form = QFormLayout()
        form.addRow("&Disposition", self.disposition)
        form.addRow("&Note", self.note)
        buttons = ok_cancel(self, "Close incident", self.accept)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def value(self) -> str:
        """The disposition code."""
        data = self.disposition.currentData()
        text = self.disposition.currentText().strip()
        return data if data and text == self.disposition.itemText(self.disposition.currentIndex()) else text


class AidDialog(QDialog):
    """Ask another agency for mutual aid on an incident."""

    def __init__(self, title: str, agencies: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Request mutual aid — {title}")
        self.agency = QComboBox()
        for code, name in agencies.items():
            self.agency.addItem(name, code)
        self.note = QLineEdit()
        self.note.setPlaceholderText("what you need, e.g. traffic control at the scene")
        form = QFormLayout()
        form.addRow("&Agency", self.agency)
        form.addRow("&Note", self.note)
        buttons = ok_cancel(self, "Request", self.accept)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)


class LoginDialog(QDialog):
    """Sign in to a hub: URL, user name, password."""

    def __init__(self, url: str = "", user: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Watchfloor — sign in")
        self.url = QLineEdit(url or "ws://127.0.0.1:8765")
        self.user = QLineEdit(user)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("&Hub", self.url)
        form.addRow("&User", self.user)
        form.addRow("&Password", self.password)
        buttons = ok_cancel(self, "Sign in", self.accept)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        (self.password if user else self.user).setFocus()
