"""The attention banner across the top of the console: flashes for a new priority-1 call, an incoming
mutual-aid request or a "look here" request for the drone this operator flies, with the actions it calls for."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class Banner(QFrame):
    """A flashing strip: text, and optional Accept/Decline (aid), Open (incident) or Show/Acknowledge (look)."""

    accept = Signal(str)
    decline = Signal(str)
    open_incident = Signal(str)
    locate = Signal(str)
    acknowledge = Signal(str)

    FLASHES = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self._label = QLabel()
        self._label.setObjectName("bannerText")
        # A long address or note wraps instead of widening the window past the screen; without height-for-width,
        # which would make the top-level window resize itself each time the banner shows.
        self._label.setWordWrap(True)
        policy = self._label.sizePolicy()
        policy.setHeightForWidth(False)
        self._label.setSizePolicy(policy)
        self._open = QPushButton("Open")
        self._accept = QPushButton("Accept (F9)")
        self._accept.setObjectName("accept")
        self._decline = QPushButton("Decline (Shift+F9)")
        self._decline.setObjectName("decline")
        self._locate = QPushButton("Show on map")
        self._ack = QPushButton("Acknowledge (F8)")
        self._ack.setObjectName("accept")
        self._dismiss = QPushButton("Dismiss (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self._label, 1)
        for button in (self._open, self._accept, self._decline, self._locate, self._ack, self._dismiss):
            layout.addWidget(button)
        self._subject = ""
        self._kind = ""
        self._colour = "#b62324"
        self._flashes = 0
        self._timer = QTimer(self)
        self._timer.setInterval(400)
        self._timer.timeout.connect(self._flash)
        self._open.clicked.connect(lambda: self.open_incident.emit(self._subject))
        self._accept.clicked.connect(lambda: self.accept.emit(self._subject))
        self._decline.clicked.connect(lambda: self.decline.emit(self._subject))
        self._locate.clicked.connect(lambda: self.locate.emit(self._subject))
        self._ack.clicked.connect(lambda: self.acknowledge.emit(self._subject))
        self._dismiss.clicked.connect(self.dismiss)
        self.hide()

    @property
    def subject(self) -> tuple[str, str]:
        """(kind, id) of what the banner shows: ("aid", "AR-3"), ("incident", "1042"), ("look", "LK-1") or ("", "")."""
        return (self._kind, self._subject) if self.isVisible() else ("", "")

    def text(self) -> str:
        """The banner's text."""
        return self._label.text()

    def show_incident(self, incident_id: str, text: str) -> None:
        """Announce a new urgent incident."""
        self._show("incident", incident_id, text, "#b62324")

    def show_aid(self, request_id: str, text: str) -> None:
        """Announce an incoming mutual-aid request, with Accept and Decline."""
        self._show("aid", request_id, text, "#9a6700")

    def show_look(self, request_id: str, text: str) -> None:
        """Announce a "look here" request to the drone's operator, with Show on map and Acknowledge."""
        self._show("look", request_id, text, "#8f2d9e")

    def _show(self, kind: str, subject: str, text: str, colour: str) -> None:
        self._kind, self._subject, self._colour = kind, subject, colour
        self._label.setText(text)
        self._open.setVisible(kind == "incident")
        self._accept.setVisible(kind == "aid")
        self._decline.setVisible(kind == "aid")
        self._locate.setVisible(kind == "look")
        self._ack.setVisible(kind == "look")
        self._flashes = 0
        self._paint(True)
        self.show()
        self._timer.start()

    def dismiss(self) -> None:
        """Hide the banner."""
        self._timer.stop()
        self.hide()

    def dismiss_if(self, kind: str, subject: str) -> None:
        """Hide the banner if it shows this item (it was answered or opened elsewhere)."""
        if self.subject == (kind, subject):
            self.dismiss()

    def _flash(self) -> None:
        self._flashes += 1
        self._paint(self._flashes % 2 == 0 or self._flashes >= self.FLASHES)
        if self._flashes >= self.FLASHES:
            self._timer.stop()

    def _paint(self, bright: bool) -> None:
        colour = self._colour if bright else "#3a1214"
        self.setStyleSheet(f"QFrame#banner {{ background: {colour}; }}")
