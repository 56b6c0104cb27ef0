"""What the console shows while the hub is out of reach, and what it asks when the hub is back.

- `OutageBanner`: a strip across the whole console, above every panel: the picture is not live, and how old it is.
- `MapDimmer`: a veil over the map with the same message, so a glance at the map alone cannot mistake it for live.
- `HeldCommandsDialog`: after the reconnect, the commands typed before or during the outage, each to be sent
  (under its original id, so the hub applies it once) or dropped (never sent).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)


class OutageBanner(QFrame):
    """A steady (not flashing: it may last hours) red strip naming the outage and the age of the picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("outage")  # colours and size in the theme's style sheet (they follow Ctrl+= / Ctrl+-)
        # One line, most important words first: a word-wrapped label in a tool bar asks for its height at zero
        # width (one word a line) and took half the screen. Ignored width: a narrow window cuts the tail (the
        # tooltip has all of it) instead of the text widening the window.
        self._label = QLabel()
        self._label.setObjectName("outageText")
        self._label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self._label, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def text(self) -> str:
        """What the strip says."""
        return self._label.text()

    def set_text(self, text: str) -> None:
        """Say `text` (only repainted when it changed: this is called twice a second)."""
        if text != self._label.text():
            self._label.setText(text)
            self._label.setToolTip(text)


class MapDimmer(QWidget):
    """A translucent veil laid over a map widget (its child, kept to its size), clicks passing through."""

    def __init__(self, map_widget: QWidget) -> None:
        super().__init__(map_widget)
        self.setObjectName("mapDimmer")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("QWidget#mapDimmer { background: rgba(0, 0, 0, 150); }"
                           "QLabel { color: white; font-size: 20pt; font-weight: 700; background: transparent; }")
        self._label = QLabel(self)
        self._label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._label)
        map_widget.installEventFilter(self)
        self.setGeometry(map_widget.rect())
        self.hide()

    def text(self) -> str:
        """What the veil says."""
        return self._label.text()

    def dim(self, text: str) -> None:
        """Veil the map with `text` across it."""
        if text != self._label.text():
            self._label.setText(text)
        if not self.isVisible():
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
            self.show()
            self.raise_()

    def clear(self) -> None:
        """Lift the veil."""
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.parentWidget():
            self.setGeometry(self.parentWidget().rect())
        return False


class HeldCommandsDialog(QDialog):
    """The commands held over an outage, all ticked: Send the ticked ones, drop the rest; Drop all sends none."""

    def __init__(self, lines: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        """`lines`: (command id, what it does in the dispatcher's words), oldest first."""
        super().__init__(parent)
        self.setWindowTitle("Commands typed while the hub was down")
        self.setModal(True)
        intro = QLabel("The hub is back. These commands were typed before or during the outage and have NOT "
                       "been sent. The situation may have changed: untick what no longer stands.")
        intro.setWordWrap(True)
        self.list = QListWidget()
        for command_id, text in lines:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, command_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(item)
        buttons = QDialogButtonBox()
        self.send_button = buttons.addButton("Send ticked", QDialogButtonBox.ButtonRole.AcceptRole)
        self.drop_button = buttons.addButton("Drop all", QDialogButtonBox.ButtonRole.RejectRole)
        self.send_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.resize(640, 320)

    def ids(self) -> list[str]:
        """Every held command's id, in order."""
        return [str(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())]

    def ticked(self) -> list[str]:
        """The ids to send (none if the dialog was rejected)."""
        if self.result() != QDialog.DialogCode.Accepted:
            return []
        return [command_id for i, command_id in enumerate(self.ids())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]
