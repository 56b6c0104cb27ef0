"""The incident detail panel: who, what, where; the units on it; snapshots attached to it; its timeline; and its
cross-agency chat."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain.entities import Incident, Message
from app.domain.location import precision_label
from app.domain.picture import Picture
from app.ui.models import elapsed
from app.ui.panels.attachments import AttachmentList
from app.ui.theme import INCIDENT_STATUS_COLORS, PRIORITY_COLORS, UNIT_STATUS_COLORS, UNIT_STATUS_LABELS
from app.ui.timeline import TimelineEntry, type_label


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


class IncidentDetail(QWidget):
    """Shows one incident. Emits what the dispatcher asks for; the window turns it into hub commands."""

    recommend = Signal(str)
    edit_incident = Signal(str)
    close_incident = Signal(str)
    request_aid = Signal(str)
    add_note = Signal(str, str)  # incident, text
    send_chat = Signal(str, str)  # channel, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.incident_id: str | None = None
        self.title = QLabel("No incident selected")
        self.title.setObjectName("detailTitle")
        self.facts = QLabel("Select an incident in the queue (F3) or on the map.")
        self.facts.setObjectName("dim")
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.units = QTableWidget(0, 4)
        self.units.setHorizontalHeaderLabels(["Unit", "Kind", "Status", "Time"])
        self.units.verticalHeader().hide()
        self.units.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.units.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.units.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.units.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.units.verticalHeader().setDefaultSectionSize(22)
        self.units.setMaximumHeight(130)
        buttons = QHBoxLayout()
        self._buttons: list[QPushButton] = []
        for text, signal in (("Assign units  (R)", self.recommend), ("Edit…  (Ctrl+E)", self.edit_incident),
                             ("Mutual aid…", self.request_aid),
                             ("Close  (C)", self.close_incident)):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, s=signal: self.incident_id and s.emit(self.incident_id))
            buttons.addWidget(button)
            self._buttons.append(button)
        self.attachments = AttachmentList()
        self.timeline = QTextBrowser()
        self.timeline.setOpenLinks(False)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Add a note to the narrative — Enter")
        self.note.returnPressed.connect(self._note)
        self.chat = QTextBrowser()
        self.chat_input = QLineEdit()
        self.chat_input.setPlaceholderText("Message every agency on this incident — Enter")
        self.chat_input.returnPressed.connect(self._chat)

        top = QWidget()
        grid = QGridLayout(top)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.facts, 1, 0)
        grid.addWidget(self.units, 2, 0)
        grid.addLayout(buttons, 3, 0)
        grid.addWidget(self.attachments, 4, 0)
        timeline_box = QWidget()
        tl = QVBoxLayout(timeline_box)
        tl.setContentsMargins(8, 0, 8, 0)
        tl.addWidget(self.timeline)
        tl.addWidget(self.note)
        chat_box = QWidget()
        cl = QVBoxLayout(chat_box)
        cl.setContentsMargins(8, 0, 8, 6)
        label = QLabel("INCIDENT CHAT (all agencies on it)")
        label.setObjectName("dim")
        cl.addWidget(label)
        cl.addWidget(self.chat)
        cl.addWidget(self.chat_input)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(timeline_box)
        splitter.addWidget(chat_box)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._set_enabled(False)
        self._timeline_count = -1
        self._chat_count = -1

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (*self._buttons, self.note, self.chat_input):
            widget.setEnabled(enabled)

    def _note(self) -> None:
        text = self.note.text().strip()
        if self.incident_id and text:
            self.add_note.emit(self.incident_id, text)
            self.note.clear()

    def _chat(self) -> None:
        text = self.chat_input.text().strip()
        if self.incident_id and text:
            self.send_chat.emit(f"incident:{self.incident_id}", text)
            self.chat_input.clear()

    def show_incident(self, incident_id: str | None, picture: Picture, timeline: list[TimelineEntry],
                      now: float) -> None:
        """Show (or refresh) an incident from a snapshot."""
        changed = incident_id != self.incident_id
        self.incident_id = incident_id
        incident = picture.incidents.get(incident_id) if incident_id else None
        if incident is None:
            self.title.setText("No incident selected" if not incident_id else f"Incident {incident_id} is gone")
            self.facts.setText("Select an incident in the queue (F3) or on the map.")
            self.units.setRowCount(0)
            self.timeline.clear()
            self.chat.clear()
            self.attachments.set_attachments([])
            self._set_enabled(False)
            self._timeline_count = self._chat_count = -1
            return
        self._set_enabled(incident.status != "closed")
        self._header(incident, now)
        self._units(incident, picture, now)
        self.attachments.set_attachments(incident.attachments)
        if changed or len(timeline) != self._timeline_count:
            self._timeline_count = len(timeline)
            self._render_timeline(incident, timeline)
        messages = [m for m in picture.messages if m.channel == f"incident:{incident.id}"]
        if changed or len(messages) != self._chat_count:
            self._chat_count = len(messages)
            self._render_chat(messages)

    def _header(self, incident: Incident, now: float) -> None:
        colour = PRIORITY_COLORS.get(incident.priority, "#8b949e")
        lock = "  \N{LOCK} RESTRICTED" if incident.restricted else ""
        self.title.setText(f"<span style='color:{colour}'>P{incident.priority}</span>  {incident.id} · "
                           f"{html.escape(type_label(incident.type))}{lock}")
        status_colour = INCIDENT_STATUS_COLORS.get(incident.status.value, "#8b949e")
        status = incident.status.value.replace("_", " ").upper()
        disposition = f" ({html.escape(incident.disposition)})" if incident.disposition else ""
        precision = incident.location_precision
        where = (f" <span style='color:{'#e3b341' if precision == 'unverified' else '#8b949e'}'>"
                 f"[{html.escape(precision_label(precision))}]</span>" if precision else "")
        self.facts.setText(
            f"<b>{html.escape(incident.address or f'{incident.lat:.5f}, {incident.lon:.5f}')}</b>{where}<br>"
            f"<span style='color:{status_colour}'><b>{status}</b></span>{disposition} · "
            f"open {elapsed(now - incident.created_at)} · owner {incident.owner.upper()} · "
            f"agencies {' '.join(a.upper() for a in incident.agencies)}"
            + (f"<br>Caller: {html.escape(incident.caller)}" if incident.caller else ""))

    def _units(self, incident: Incident, picture: Picture, now: float) -> None:
        ids = list(dict.fromkeys([*incident.units, *incident.history_units]))
        self.units.setRowCount(len(ids))
        for row, unit_id in enumerate(ids):
            unit = picture.units.get(unit_id)
            on_it = unit is not None and unit.incident == incident.id
            status = unit.status.value if unit is not None and on_it else "cleared"
            cells = (unit_id, unit.kind if unit else "", UNIT_STATUS_LABELS.get(status, "CLEARED"),
                     elapsed(now - unit.status_at) if unit and on_it else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setBackground(QColor(UNIT_STATUS_COLORS.get(status, "#30363d")))
                    item.setForeground(QColor("#0d1117" if on_it else "#8b949e"))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.units.setItem(row, column, item)

    def _render_timeline(self, incident: Incident, timeline: list[TimelineEntry]) -> None:
        rows = [f"<tr><td style='color:#8b949e;padding-right:8px'>{_clock(e.at)}</td>"
                f"<td style='color:#8b949e;padding-right:8px'>{html.escape(e.actor)}</td>"
                f"<td>{html.escape(e.text)}</td></tr>" for e in timeline]
        if not timeline:
            rows = [f"<tr><td style='color:#8b949e;padding-right:8px'>{_clock(n.at)}</td>"
                    f"<td style='color:#8b949e;padding-right:8px'>{html.escape(n.author)}</td>"
                    f"<td>Note: {html.escape(n.text)}</td></tr>" for n in incident.notes]
        self.timeline.setHtml("<table cellspacing=0 cellpadding=1>" + "".join(rows) + "</table>")
        self.timeline.verticalScrollBar().setValue(self.timeline.verticalScrollBar().maximum())

    def _render_chat(self, messages: list[Message]) -> None:
        self.chat.setHtml("".join(
            f"<div><span style='color:#8b949e'>{_clock(m.at)}</span> <b>{html.escape(m.sender)}</b> "
            f"<span style='color:#8b949e'>[{m.agency.upper()}]</span> {html.escape(m.text)}</div>"
            for m in messages[-200:]))
        self.chat.verticalScrollBar().setValue(self.chat.verticalScrollBar().maximum())
