"""The CAD command line: type `D E12 1042`, Enter. Completion per word (verbs, units, incidents, requests),
history with Up/Down, and a feedback line that turns red with the reason when a command is refused."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QStringListModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCompleter, QLineEdit, QVBoxLayout, QWidget

from app.client.cad import VERBS, CadCommand, CadError, parse
from app.ui.panels import wrapping_label


class CadLineEdit(QLineEdit):
    """A line edit that completes the word under the cursor and keeps a command history."""

    HISTORY = 200

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cad")
        self.history: list[str] = []
        self._history_pos = 0
        self._words = QStringListModel(self)
        self._completer = QCompleter(self._words, self)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._completer.setWidget(self)
        self._completer.activated.connect(self._insert_completion)
        self.textEdited.connect(self._update_completion)
        self._vocabulary: dict[str, list[str]] = {"verbs": sorted(VERBS)}

    def set_vocabulary(self, units: list[str], incidents: list[str], requests: list[str]) -> None:
        """What can be completed after the verb."""
        self._vocabulary.update(units=units, incidents=incidents, requests=requests)

    def _candidates(self, position: int) -> list[str]:
        if position == 0:
            return self._vocabulary["verbs"]
        verb = self.text().split()[0].upper() if self.text().split() else ""
        units, incidents = self._vocabulary.get("units", []), self._vocabulary.get("incidents", [])
        if verb in ("ACC", "DEC", "CAN"):
            return self._vocabulary.get("requests", [])
        if verb in ("CL", "CLA", "N", "P", "AID", "UC", "RO", "HOLD", "UNHOLD", "I"):
            return incidents if position == 1 else []
        if verb in ("DIV", "STK"):
            return units if position == 1 else incidents if position == 2 else []
        if verb == "D":
            return units + incidents
        if verb == "MSG":
            return ["all", "fire", "police", "medical", *incidents] if position == 1 else []
        return units if position == 1 else []

    def _current_word(self) -> tuple[int, str]:
        before = self.text()[: self.cursorPosition()]
        words = before.split(" ")
        return len(words) - 1, words[-1]

    def _update_completion(self, _text: str) -> None:
        position, word = self._current_word()
        if not word:
            self._completer.popup().hide()
            return
        self._words.setStringList(self._candidates(position))
        self._completer.setCompletionPrefix(word)
        if self._completer.completionCount() and self._completer.currentCompletion().upper() != word.upper():
            self._completer.complete()
        else:
            self._completer.popup().hide()

    def _insert_completion(self, completion: str) -> None:
        before = self.text()[: self.cursorPosition()]
        after = self.text()[self.cursorPosition():]
        head = before[: len(before) - len(self._current_word()[1])]
        self.setText(head + completion + " " + after.lstrip())
        self.setCursorPosition(len(head) + len(completion) + 1)

    def remember(self, line: str) -> None:
        """Add a line to the history (Up/Down walk it)."""
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[: -self.HISTORY]
        self._history_pos = len(self.history)

    def event(self, event: QEvent) -> bool:
        # Tab completes here instead of moving the focus on.
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Tab:
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self._completer.popup()
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab):
            index = popup.currentIndex()
            completion = index.data() if index.isValid() else self._completer.currentCompletion()
            popup.hide()
            if event.key() == Qt.Key.Key_Tab or index.isValid():
                self._insert_completion(completion)
                return
        if event.key() == Qt.Key.Key_Tab:
            if self._completer.completionCount():
                self._insert_completion(self._completer.currentCompletion())
            return
        if not popup.isVisible() and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.history:
            step = -1 if event.key() == Qt.Key.Key_Up else 1
            self._history_pos = max(0, min(len(self.history), self._history_pos + step))
            self.setText(self.history[self._history_pos] if self._history_pos < len(self.history) else "")
            return
        super().keyPressEvent(event)


class CommandLine(QWidget):
    """The command line and its feedback. Emits `submitted` with a parsed command; the window sends it."""

    submitted = Signal(object)  # CadCommand
    help_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = CadLineEdit()
        self.edit.setPlaceholderText("CAD  (F1)   D E12 1042 · ER E12 · OS M3 · AV E12 · CL 1042 resolved · "
                                     "AID 1042 police · ACC AR-3 · DIV E12 1044 reason · CLA 1042 resolved · Q · HELP")
        # A long refusal wraps within the window: it once widened the window to 9,689 px.
        self.feedback = wrapping_label("cadFeedback")
        self.feedback.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.feedback)
        self.agencies: frozenset[str] | None = None
        self.edit.returnPressed.connect(self._enter)
        self.edit.textEdited.connect(lambda _t: self._set_error(False))

    def focus(self) -> None:
        """Put the cursor in the command line, text selected for overtyping."""
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def _enter(self) -> None:
        line = self.edit.text().strip()
        if not line:
            return
        try:
            command = parse(line, self.agencies)
        except CadError as error:
            self.show_error(str(error))
            return
        self.edit.remember(line)
        self.edit.clear()
        if command.verb == "HELP":
            # The full language is a table: it opens in the help window rather than squeezed into one line.
            self.show_info("Help is open (Ctrl+F1 at any time)")
            self.help_requested.emit()
            return
        self.show_info(f"» {command.summary} …")
        self.submitted.emit(command)

    def show_info(self, text: str) -> None:
        """A neutral or success message under the line."""
        self._set_error(False)
        self.feedback.setText(text)

    def show_error(self, text: str, line: str | None = None) -> None:
        """Turn red with the reason; `line` (a refused command) is put back for correction if the line is empty."""
        if line and not self.edit.text():
            self.edit.setText(line)
        self._set_error(True)
        self.feedback.setText("✖ " + text)
        self.feedback.setToolTip(text)

    def has_error(self) -> bool:
        """Whether the line shows an error."""
        return bool(self.edit.property("error"))

    def _set_error(self, error: bool) -> None:
        for widget in (self.edit, self.feedback):
            if bool(widget.property("error")) != error:
                widget.setProperty("error", error)
                widget.style().unpolish(widget)
                widget.style().polish(widget)


__all__ = ["CadCommand", "CommandLine"]
