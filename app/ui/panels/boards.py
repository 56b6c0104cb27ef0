"""The incident queue and the unit status board: table views with dispatcher keys.

Queue (focus with F3): Enter or R recommend and assign units, C close, N note, Space centre the map.
Units (focus with F4): E en route, O on scene, T transporting, H at hospital, A available, S out of service.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from app.domain.entities import UnitStatus
from app.ui.models import IncidentQueueModel, UnitBoardModel

#: Unit board keys -> status.
STATUS_KEYS: dict[int, UnitStatus] = {
    Qt.Key.Key_E: UnitStatus.EN_ROUTE,
    Qt.Key.Key_O: UnitStatus.ON_SCENE,
    Qt.Key.Key_T: UnitStatus.TRANSPORTING,
    Qt.Key.Key_H: UnitStatus.AT_HOSPITAL,
    Qt.Key.Key_A: UnitStatus.AVAILABLE,
    Qt.Key.Key_S: UnitStatus.OUT_OF_SERVICE,
}


class _Board(QTableView):
    current_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.horizontalHeader().setHighlightSections(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._selected_key: str | None = None
        self._fit_rows()

    def fit_columns(self, stretch: int) -> None:
        """Every column as wide as its header and contents at the current text size; `stretch` takes the rest.

        (Fixed pixel widths cut "AVAIL" and incident numbers to "…" once the text was made larger.)"""
        header = self.horizontalHeader()
        for column in range(self.model().columnCount()):
            mode = QHeaderView.ResizeMode.Stretch if column == stretch else QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(column, mode)

    def _fit_rows(self) -> None:
        # Rows follow the text size (Ctrl+= / Ctrl+-), with room for the bold status cell's padding.
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_rows()

    def setModel(self, model) -> None:
        super().setModel(model)
        model.modelAboutToBeReset.connect(self._remember)
        model.modelReset.connect(self._restore)
        self.selectionModel().currentRowChanged.connect(self._on_current)

    def selected_key(self) -> str | None:
        """The key (id) of the current row."""
        return self._selected_key

    def select_key(self, key: str) -> bool:
        """Make the row with `key` current; False if it is not shown."""
        row = self.model().row_of(key)
        if row < 0:
            return False
        self.selectionModel().setCurrentIndex(
            self.model().index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.scrollTo(self.model().index(row, 0))
        return True

    def _remember(self) -> None:
        self._restoring = self._selected_key

    def _restore(self) -> None:
        key = getattr(self, "_restoring", None)
        if key and self.select_key(key):
            return
        self._selected_key = None

    def _on_current(self, current, _previous) -> None:
        key = self.model().key(current.row()) if current.isValid() else None
        if key and key != self._selected_key and not key.startswith(UnitBoardModel.HEADER_PREFIX):
            self._selected_key = key
            self.current_changed.emit(key)


class IncidentQueueView(_Board):
    """The queue of open incidents."""

    recommend = Signal(str)
    close_incident = Signal(str)
    note = Signal(str)
    center = Signal(str)

    def __init__(self, model: IncidentQueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.fit_columns(stretch=3)  # the address
        self.doubleClicked.connect(lambda index: self._emit(self.recommend))

    def _emit(self, signal) -> bool:
        key = self.selected_key()
        if key:
            signal.emit(key)
        return bool(key)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_R) and self._emit(self.recommend):
            return
        if key == Qt.Key.Key_C and self._emit(self.close_incident):
            return
        if key == Qt.Key.Key_N and self._emit(self.note):
            return
        if key == Qt.Key.Key_Space and self._emit(self.center):
            return
        super().keyPressEvent(event)


class UnitBoardView(_Board):
    """The unit status board, grouped by agency."""

    status_requested = Signal(str, str)  # unit, status

    def __init__(self, model: UnitBoardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.fit_columns(stretch=5)  # the station
        model.modelReset.connect(self._span_headers)

    def _span_headers(self) -> None:
        self.clearSpans()
        model = self.model()
        for row in range(model.rowCount()):
            if model.is_header(row):
                self.setSpan(row, 0, 1, model.columnCount())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        status = STATUS_KEYS.get(Qt.Key(event.key()))
        unit = self.selected_key()
        if status is not None and unit and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.status_requested.emit(unit, status.value)
            return
        super().keyPressEvent(event)
