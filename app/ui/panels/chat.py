"""The chat panel: everyone, one's own agency, or any incident channel."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QTextBrowser, QVBoxLayout, QWidget

from app.domain.picture import Picture
from app.ui.theme import agency_color


class ChatPanel(QWidget):
    """All chat lines this console may read, newest last; sends on the chosen channel."""

    send = Signal(str, str)  # channel, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QTextBrowser()
        self.channel = QComboBox()
        self.channel.setMinimumWidth(130)
        self.input = QLineEdit()
        self.input.setPlaceholderText("Message — Enter (F6 to focus)")
        self.input.returnPressed.connect(self._send)
        row = QHBoxLayout()
        row.addWidget(self.channel)
        row.addWidget(self.input, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view)
        layout.addLayout(row)
        self._count = -1
        self.agencies: dict[str, tuple[str, str]] = {}

    def set_channels(self, agency: str) -> None:
        """Offer "all" and the dispatcher's own agency channel."""
        self.channel.clear()
        self.channel.addItem("All agencies", "all")
        if agency and agency != "*":
            self.channel.addItem(f"{agency.title()} only", f"agency:{agency}")

    def focus(self) -> None:
        """Put the cursor in the message box."""
        self.input.setFocus()

    def _send(self) -> None:
        text = self.input.text().strip()
        if text:
            self.send.emit(self.channel.currentData() or "all", text)
            self.input.clear()

    def set_picture(self, picture: Picture) -> None:
        """Show the newest lines (re-rendered only when a line arrived)."""
        if len(picture.messages) == self._count and (not picture.messages or self._last == picture.messages[-1].id):
            return
        self._count = len(picture.messages)
        self._last = picture.messages[-1].id if picture.messages else ""
        lines = []
        for m in picture.messages[-300:]:
            colour = agency_color(m.agency, self.agencies)
            channel = "" if m.channel == "all" else f" <span style='color:#8b949e'>→ {html.escape(m.channel)}</span>"
            lines.append(f"<div><span style='color:#8b949e'>{time.strftime('%H:%M', time.localtime(m.at))}</span> "
                         f"<b style='color:{colour}'>{html.escape(m.sender)}</b>{channel}: {html.escape(m.text)}</div>")
        self.view.setHtml("".join(lines))
        self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().maximum())
