"""Table models over the picture: the incident queue and the unit status board.

Each model is refreshed from a whole picture snapshot (`set_picture`), at the coalesced frame rate. When the
row keys are unchanged it only signals `dataChanged` (selection and scroll stay put); otherwise it resets.
Elapsed times are computed when painted, so a 1 Hz `tick()` keeps them moving without new data.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.domain.entities import Incident, IncidentStatus, Unit
from app.domain.location import precision_label
from app.domain.picture import Picture
from app.domain.timers import Limits, is_stale, unit_timer
from app.ui.theme import (
    INCIDENT_STATUS_COLORS,
    PRIORITY_COLORS,
    UNIT_STATUS_COLORS,
    UNIT_STATUS_LABELS,
    agency_color,
)
from app.ui.timeline import type_label

KEY_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


def elapsed(seconds: float) -> str:
    """Elapsed time as a board shows it: 0:42, 12:05, 3h07."""
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}" if hours else f"{minutes}:{secs:02d}"


class _KeyedModel(QAbstractTableModel):
    """Rows identified by a key; a refresh keeps rows (and so the selection) when keys did not change."""

    HEADERS: tuple[str, ...] = ()
    ELAPSED_COLUMN = -1

    def __init__(self) -> None:
        super().__init__()
        self._keys: list[str] = []
        self.agencies: dict[str, tuple[str, str]] = {}
        self.clock = time.time

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._keys)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def key(self, row: int) -> str | None:
        """The key of a row (incident id, unit id), or None."""
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def row_of(self, key: str) -> int:
        """The row showing `key`, or -1."""
        try:
            return self._keys.index(key)
        except ValueError:
            return -1

    def _replace(self, keys: list[str]) -> None:
        if keys == self._keys:
            if keys:
                self.dataChanged.emit(self.index(0, 0), self.index(len(keys) - 1, len(self.HEADERS) - 1))
            return
        self.beginResetModel()
        self._keys = keys
        self.endResetModel()

    def tick(self) -> None:
        """Repaint the elapsed-time column (and blinking rows)."""
        if self._keys:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._keys) - 1, len(self.HEADERS) - 1),
                                  [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole])


class IncidentQueueModel(_KeyedModel):
    """Open incidents, most urgent first, then oldest first."""

    HEADERS = ("P", "Inc", "Type", "Address", "Status", "Units", "Age")

    def __init__(self) -> None:
        super().__init__()
        self._incidents: dict[str, Incident] = {}
        self._units: dict[str, Unit] = {}
        #: incident id -> time until which its row flashes (new priority-1 calls)
        self.flash_until: dict[str, float] = {}

    def set_picture(self, picture: Picture) -> None:
        """Refresh from a snapshot."""
        self._incidents = picture.incidents
        self._units = picture.units
        open_incidents = [i for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED]
        open_incidents.sort(key=lambda i: (i.priority, i.created_at, int(i.id) if i.id.isdigit() else 0))
        self._replace([i.id for i in open_incidents])

    def incident(self, row: int) -> Incident | None:
        """The incident on a row."""
        key = self.key(row)
        return self._incidents.get(key) if key else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        incident = self.incident(index.row())
        if incident is None:
            return None
        column = index.column()
        if role == KEY_ROLE:
            return incident.id
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"P{incident.priority}"
            if column == 1:
                return incident.id + (" \N{LOCK}" if incident.restricted else "")
            if column == 2:
                return type_label(incident.type)
            if column == 3:
                where = incident.address or f"{incident.lat:.5f}, {incident.lon:.5f}"
                precision = incident.location_precision
                return f"{where}  [{precision_label(precision)}]" if precision else where
            if column == 4:
                held = f" · HELD {incident.hold_reason}".rstrip() if incident.held else ""
                return incident.status.value.replace("_", " ").upper() + held
            if column == 5:
                return " ".join(incident.units) or "—"
            if column == 6:
                return elapsed(self.clock() - incident.created_at)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 0:
                return QBrush(QColor(PRIORITY_COLORS.get(incident.priority, "#8b949e")))
            if column == 4:
                return QBrush(QColor(INCIDENT_STATUS_COLORS.get(incident.status.value, "#8b949e")))
            if column == 1:
                return QBrush(QColor(agency_color(incident.owner, self.agencies)))
            if column == 3 and incident.location_precision == "unverified":
                return QBrush(QColor("#e3b341"))  # amber: nobody confirmed where this is
        if role == Qt.ItemDataRole.BackgroundRole:
            until = self.flash_until.get(incident.id, 0.0)
            if until > self.clock() and int(self.clock() * 2) % 2 == 0:
                return QBrush(QColor("#7a1d1d"))
            if incident.held:
                return QBrush(QColor(139, 148, 158, 40))  # grey: waiting on purpose, not forgotten
            if incident.status == IncidentStatus.NEW:
                return QBrush(QColor(248, 81, 73, 38))
        if role == Qt.ItemDataRole.FontRole and column in (0, 1):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 1, 6):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            notes = "\n".join(n.text for n in incident.notes[-3:])
            agencies = " ".join(a.upper() for a in incident.agencies)
            return (f"{type_label(incident.type)} at {incident.address}\nOwner {incident.owner.upper()} · agencies "
                    f"{agencies}\nCaller: {incident.caller}\n{notes}").strip()
        return None


#: How the unit board marks a unit whose current position intrusion detection doubts.
SUSPECT_MARK = "⚠"
SUSPECT_COLOUR = "#f0883e"
#: How the board marks a unit whose last position is too old to say where it is (app.domain.timers.is_stale).
STALE_MARK = "◷"  # a clock face: the fonts the console ships with have no hourglass
OVERDUE_COLOUR = "#b62324"


def timer_text(unit: Unit, now: float, limits: dict[str, Limits] | None) -> str:
    """The board's timer cell: "turnout 0:42" counting down, "TURNOUT +1:05" once overdue ("✓" once checked)."""
    timer = unit_timer(unit, limits)
    if timer is None:
        return ""
    left = timer.remaining(now)
    checked = " ✓" if timer.acknowledged else ""
    if left < 0:
        return f"{timer.kind.upper()} +{elapsed(-left)}{checked}"
    return f"{timer.kind} {elapsed(left)}{checked}"


class UnitBoardModel(_KeyedModel):
    """Units grouped by agency (a header row per agency), then by id; status colour and time in status."""

    HEADERS = ("Unit", "Kind", "Status", "Inc", "Time", "Timer", "Station")
    TIMER_COLUMN = 5
    HEADER_PREFIX = "agency:"

    def __init__(self) -> None:
        super().__init__()
        self._units: dict[str, Unit] = {}
        self._summary: dict[str, str] = {}
        self.own_agency = ""
        self.limits: dict[str, Limits] | None = None  # per-agency timer limits (None: the defaults)

    def set_picture(self, picture: Picture) -> None:
        """Refresh from a snapshot."""
        self._units = picture.units
        by_agency: dict[str, list[Unit]] = {}
        for unit in picture.units.values():
            by_agency.setdefault(unit.agency, []).append(unit)
        keys: list[str] = []
        # The dispatcher's own agency first, then the others alphabetically.
        for agency in sorted(by_agency, key=lambda a: (a != self.own_agency, a)):
            units = sorted(by_agency[agency], key=lambda u: (u.kind, _natural(u.id)))
            free = sum(1 for u in units if u.status == "available")
            name = self.agencies.get(agency, (agency.title(), ""))[0]
            self._summary[agency] = f"{name.upper()}   {free}/{len(units)} available"
            keys.append(self.HEADER_PREFIX + agency)
            keys.extend(u.id for u in units)
        self._replace(keys)

    def unit(self, row: int) -> Unit | None:
        """The unit on a row (None for an agency header)."""
        key = self.key(row)
        return self._units.get(key) if key and not key.startswith(self.HEADER_PREFIX) else None

    def is_header(self, row: int) -> bool:
        """Whether the row is an agency header."""
        key = self.key(row)
        return bool(key and key.startswith(self.HEADER_PREFIX))

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if self.is_header(index.row()):
            return Qt.ItemFlag.ItemIsEnabled
        return super().flags(index)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        key = self.key(index.row())
        if key is None:
            return None
        column = index.column()
        if key.startswith(self.HEADER_PREFIX):
            agency = key[len(self.HEADER_PREFIX):]
            if role == Qt.ItemDataRole.DisplayRole and column == 0:
                return self._summary.get(agency, agency)
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(agency_color(agency, self.agencies)))
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
            if role == Qt.ItemDataRole.BackgroundRole:
                colour = QColor(agency_color(agency, self.agencies))
                colour.setAlpha(40)
                return QBrush(colour)
            return None
        unit = self._units.get(key)
        if unit is None:
            return None
        status = unit.status.value
        if role == KEY_ROLE:
            return unit.id
        now = self.clock()
        if role == Qt.ItemDataRole.DisplayRole:
            # A suspect position (intrusion detection doubts it) is marked, not hidden: the unit is where its
            # device says, and nobody should believe it without a look. So is a stale one.
            stale = f" {STALE_MARK}" if is_stale(unit, now, self.limits) else ""
            stacked = f" → {unit.next_incident}" if unit.next_incident else ""
            return (unit.id + (f" {SUSPECT_MARK}" if unit.suspect else "") + stale, unit.kind.replace("_", " "),
                    UNIT_STATUS_LABELS.get(status, status), (unit.incident or "") + stacked,
                    elapsed(now - unit.status_at), timer_text(unit, now, self.limits), unit.station)[column]
        timer = unit_timer(unit, self.limits)
        if timer is not None and timer.overdue(now) and column != 2:
            # The whole row turns red (the status cell keeps its colour), its text white to stay legible.
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(OVERDUE_COLOUR))
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor("#ffffff"))
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 0:
                return QBrush(QColor(SUSPECT_COLOUR if unit.suspect else agency_color(unit.agency, self.agencies)))
            if column == 2:
                return QBrush(QColor("#0d1117" if status != "out_of_service" else "#e6edf3"))
        if role == Qt.ItemDataRole.BackgroundRole and column == 2:
            return QBrush(QColor(UNIT_STATUS_COLORS.get(status, "#6e7681")))
        if role == Qt.ItemDataRole.FontRole and column in (0, 2):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3, 4):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{unit.id} ({unit.agency} {unit.kind}) {status.replace('_', ' ')}" + (
                f" on incident {unit.incident}" if unit.incident else "") + (
                f"; next: incident {unit.next_incident}" if unit.next_incident else "") + (
                f"; position suspect: {unit.suspect.replace('_', ' ')}" if unit.suspect else "") + (
                "; position STALE: its last fix is too old to say where it is" if is_stale(unit, now, self.limits)
                else "")
        return None


def _natural(text: str) -> tuple[str, int]:
    head = text.rstrip("0123456789")
    tail = text[len(head):]
    return head, int(tail) if tail else -1
