"""The triage panel: reports from sensors, cameras and the public-safety app waiting for a dispatcher.

Keys (focus with F10): A accept (opens an incident), M merge into an open incident (the proposed duplicate is
preselected; Enter confirms), X dismiss with a reason. A likely duplicate is highlighted with the incident, the
distance and how far apart in time ("≈ 1001 · 40 m · 3 min": likely duplicate of incident 1001).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.entities import IncidentStatus
from app.domain.geo import fast_distance_m
from app.domain.picture import Picture
from app.domain.triage import Candidate, CandidateState
from app.ui.dialogs import ok_cancel
from app.ui.models import KEY_ROLE, _Index, _KeyedModel, elapsed
from app.ui.panels.boards import _Board
from app.ui.timeline import type_label

#: How each kind of source is marked in the queue.
SOURCE_MARKS = {"sensor": ("⚡ SENSOR", "#58a6ff"), "camera": ("◉ CAMERA", "#bc8cff"), "app": ("☎ APP", "#3fb950")}
DUPLICATE_COLOUR = QColor(227, 179, 65, 70)
#: Reasons offered when dismissing (the dispatcher may type another).
DISMISS_REASONS = ("false alarm", "duplicate of a known call", "prank or abuse", "test", "no action needed")
#: A new candidate's row flashes this long, seconds.
FLASH_S = 10.0


def duplicate_text(candidate: Candidate, picture: Picture) -> str:
    """"likely duplicate of 1001 · 40 m · 3 min" for a proposed merge, else ""."""
    proposal = candidate.proposed_merge()
    if proposal is None:
        return ""
    text = f"likely duplicate of {proposal.incident} · {proposal.distance_m:.0f} m"
    incident = picture.incidents.get(proposal.incident)
    if incident is not None:
        text += f" · {abs(candidate.reported_at - incident.created_at) / 60:.0f} min"
    return text


class CandidateModel(_KeyedModel):
    """Pending candidates, oldest first (a report waiting longest is the most overdue)."""

    HEADERS = ("Age", "Source", "Type", "Likely dup.", "Where")

    def __init__(self) -> None:
        super().__init__()
        self.picture = Picture()
        self.flash_until: dict[str, float] = {}

    def set_picture(self, picture: Picture) -> None:
        """Refresh from a snapshot."""
        self.picture = picture
        pending = [c for c in picture.candidates.values() if c.state == CandidateState.PENDING]
        pending.sort(key=lambda c: (c.reported_at, c.id))
        self._replace([c.id for c in pending])

    def candidate(self, row: int) -> Candidate | None:
        """The candidate on a row."""
        key = self.key(row)
        return self.picture.candidates.get(key) if key else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        candidate = self.candidate(index.row())
        if candidate is None:
            return None
        column = index.column()
        if role == KEY_ROLE:
            return candidate.id
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return elapsed(self.clock() - candidate.reported_at)
            if column == 1:
                return SOURCE_MARKS.get(candidate.source, (candidate.source.upper(), ""))[0]
            if column == 2:
                return type_label(candidate.type) + (f" P{candidate.priority}" if candidate.priority else "")
            if column == 3:
                return duplicate_text(candidate, self.picture).replace("likely duplicate of ", "≈ ") or "—"
            if column == 4:
                return candidate.address or f"{candidate.lat:.5f}, {candidate.lon:.5f}"
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return QBrush(QColor(SOURCE_MARKS.get(candidate.source, ("", "#8b949e"))[1]))
        if role == Qt.ItemDataRole.BackgroundRole:
            until = self.flash_until.get(candidate.id, 0.0)
            if until > self.clock() and int(self.clock() * 2) % 2 == 0:
                return QBrush(QColor("#1f4f8f"))
            if column == 3 and candidate.proposals:
                return QBrush(DUPLICATE_COLOUR)
        if role == Qt.ItemDataRole.FontRole and column in (1, 3) and (column == 1 or candidate.proposals):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 3:
                return duplicate_text(candidate, self.picture) or "no open incident of this type nearby"
            return (f"{candidate.id} from {candidate.source} {candidate.source_id}\n{candidate.text}"
                    + (f"\n{candidate.media_url}" if candidate.media_url else "")).strip()
        return None


class CandidateTable(_Board):
    """The queue of pending candidates; A, M and X act on the current one."""

    accept = Signal(str)
    merge = Signal(str)
    dismiss = Signal(str)

    KEYS = {Qt.Key.Key_A: "accept", Qt.Key.Key_M: "merge", Qt.Key.Key_X: "dismiss"}

    def __init__(self, model: CandidateModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        for column, width in enumerate((46, 86, 140, 150)):
            self.setColumnWidth(column, width)
        self.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self.KEYS.get(Qt.Key(event.key()))
        key = self.selected_key()
        if action and key and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            getattr(self, action).emit(key)
            return
        super().keyPressEvent(event)


class TriagePanel(QWidget):
    """Pending candidates, the selected one's report, and Accept / Merge / Dismiss."""

    accept = Signal(str)  # candidate
    merge = Signal(str, str)  # candidate, incident
    dismiss = Signal(str, str)  # candidate, reason
    current_changed = Signal(str)  # candidate

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = CandidateModel()
        self.table = CandidateTable(self.model)
        self.report = QLabel("No reports waiting.")
        self.report.setObjectName("dim")
        self.report.setWordWrap(True)
        self.report.setTextFormat(Qt.TextFormat.RichText)
        self.report.setOpenExternalLinks(False)
        self.accept_button = QPushButton("Accept (A)")
        self.accept_button.setObjectName("accept")
        self.merge_button = QPushButton("Merge… (M)")
        self.dismiss_button = QPushButton("Dismiss… (X)")
        self.dismiss_button.setObjectName("decline")
        self.accept_button.clicked.connect(lambda: self._current(self.accept.emit))
        self.merge_button.clicked.connect(lambda: self._current(self.open_merge))
        self.dismiss_button.clicked.connect(lambda: self._current(self.open_dismiss))
        self.table.accept.connect(self.accept.emit)
        self.table.merge.connect(self.open_merge)
        self.table.dismiss.connect(self.open_dismiss)
        self.table.current_changed.connect(self._on_current)
        buttons = QHBoxLayout()
        for button in (self.accept_button, self.merge_button, self.dismiss_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.report)
        layout.addLayout(buttons)
        self._quiet = False
        self._update()

    def set_picture(self, picture: Picture) -> None:
        """Refresh from a snapshot."""
        self.model.set_picture(picture)
        if self.table.selected_key() is None and self.model.rowCount():
            # Ready for the keys, but a report arriving must not move the dispatcher's map.
            self._quiet = True
            self.table.select_key(self.model.key(0) or "")
            self._quiet = False
        self._update()

    def pending(self) -> list[str]:
        """The pending candidates shown, oldest first."""
        return [self.model.key(row) or "" for row in range(self.model.rowCount())]

    def selected(self) -> Candidate | None:
        """The current candidate, if it is still pending."""
        key = self.table.selected_key()
        candidate = self.model.picture.candidates.get(key) if key else None
        return candidate if candidate is not None and candidate.state == CandidateState.PENDING else None

    def open_merge(self, candidate_id: str) -> MergeDialog | None:
        """Choose the incident to merge into (the proposal preselected); emits `merge` on OK."""
        candidate = self.model.picture.candidates.get(candidate_id)
        if candidate is None:
            return None
        dialog = MergeDialog(candidate, self.model.picture, self)
        dialog.accepted.connect(lambda: dialog.incident() and self.merge.emit(candidate_id, dialog.incident()))
        dialog.open()
        return dialog

    def open_dismiss(self, candidate_id: str) -> DismissDialog | None:
        """Ask for the reason; emits `dismiss` on OK."""
        if candidate_id not in self.model.picture.candidates:
            return None
        dialog = DismissDialog(candidate_id, self)
        dialog.accepted.connect(lambda: dialog.reason() and self.dismiss.emit(candidate_id, dialog.reason()))
        dialog.open()
        return dialog

    def _current(self, action: Any) -> None:
        candidate = self.selected()
        if candidate is not None:
            action(candidate.id)

    def _on_current(self, key: str) -> None:
        self._update()
        if not self._quiet:
            self.current_changed.emit(key)

    def _update(self) -> None:
        candidate = self.selected()
        for button in (self.accept_button, self.merge_button, self.dismiss_button):
            button.setEnabled(candidate is not None)
        if candidate is None:
            self.report.setText("No reports waiting." if not self.model.rowCount() else "Select a report.")
            return
        mark = SOURCE_MARKS.get(candidate.source, (candidate.source, "#8b949e"))
        lines = [f"<b>{candidate.id}</b> · <span style='color:{mark[1]}'>{html.escape(mark[0])}</span> "
                 f"{html.escape(candidate.source_id)} · {html.escape(type_label(candidate.type))}"]
        if candidate.text:
            lines.append(f"“{html.escape(candidate.text)}”")
        if candidate.media_url:
            lines.append(f"media: {html.escape(candidate.media_url)}")
        duplicate = duplicate_text(candidate, self.model.picture)
        if duplicate:
            lines.append(f"<span style='color:#e3b341'><b>{html.escape(duplicate.capitalize())}</b></span>")
        self.report.setText("<br>".join(lines))


class MergeDialog(QDialog):
    """Merge a candidate into an open incident: nearest first, the proposed duplicate preselected."""

    def __init__(self, candidate: Candidate, picture: Picture, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Merge {candidate.id} into an incident")
        self.setMinimumWidth(460)
        self.target = QComboBox()
        proposal = candidate.proposed_merge()
        incidents = [i for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED]
        incidents.sort(key=lambda i: fast_distance_m((candidate.lat, candidate.lon), (i.lat, i.lon)))
        for incident in incidents:
            metres = fast_distance_m((candidate.lat, candidate.lon), (incident.lat, incident.lon))
            mark = "  ◀ likely duplicate" if proposal is not None and proposal.incident == incident.id else ""
            self.target.addItem(f"{incident.id}  {type_label(incident.type)} · {incident.address or 'map point'}"
                                f" · {metres:.0f} m{mark}", incident.id)
        if proposal is not None and self.target.findData(proposal.incident) >= 0:
            self.target.setCurrentIndex(self.target.findData(proposal.incident))
        form = QFormLayout()
        form.addRow("&Incident", self.target)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{type_label(candidate.type)} from {candidate.source} {candidate.source_id}: "
                                f"{candidate.text or '(no text)'}"))
        layout.addLayout(form)
        layout.addWidget(ok_cancel(self, "Merge", self.accept))

    def incident(self) -> str:
        """The chosen incident's id ("" when there is no open incident)."""
        return str(self.target.currentData() or "")


class DismissDialog(QDialog):
    """Dismiss a candidate with a reason (a list of common ones, or typed)."""

    def __init__(self, candidate_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Dismiss {candidate_id}")
        self.reason_box = QComboBox()
        self.reason_box.setEditable(True)
        self.reason_box.addItems(DISMISS_REASONS)
        form = QFormLayout()
        form.addRow("&Reason", self.reason_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(ok_cancel(self, "Dismiss", self.accept))

    def reason(self) -> str:
        """The reason given."""
        return self.reason_box.currentText().strip()
