"""One drone's live video in a dock of its own: several side by side, each detachable onto another monitor.

The dock wraps a `VideoPanel` with a bar that shows the stream's state in colour (a dispatcher must see at a
glance that a picture is frozen or reconnecting, not live) and the actions on it: Snapshot (attach the current
frame to the drone's incident) and Detach/Dock. Closing the dock stops the stream: nothing keeps decoding video
nobody looks at.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui.video.panel import VideoPanel, VideoState

#: State -> (pill colour, text colour). Only "playing" is green: anything else means the picture is not live.
STATE_STYLE: dict[str, tuple[str, str]] = {
    VideoState.PLAYING: ("#2ea043", "#0d1117"),
    VideoState.CONNECTING: ("#e3b341", "#0d1117"),
    VideoState.STALLED: ("#f0883e", "#0d1117"),
    VideoState.RECONNECTING: ("#f0883e", "#0d1117"),
    VideoState.ERROR: ("#f85149", "#ffffff"),
    VideoState.IDLE: ("#6e7681", "#ffffff"),
}


class VideoDock(QDockWidget):
    """A dock titled with the drone's callsign, playing its published stream until closed.

    Signals: ``snapshot_requested(drone)`` when the Snapshot button is pressed, ``closed(drone)`` once the
    stream has been stopped.
    """

    snapshot_requested = Signal(str)
    closed = Signal(str)

    def __init__(self, drone: str, url: str, parent: QWidget | None = None) -> None:
        super().__init__(f"Video · {drone}", parent)
        self.drone = drone
        self.setObjectName(f"video-{drone}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        # Tight stall/backoff: a live picture from the air is only worth watching while it is live.
        self.panel = VideoPanel(url, drone, stall_timeout=2.0, backoff=(0.5, 1.0, 2.0, 4.0, 8.0), show_title=False)
        self.state_label = QLabel()
        self.state_label.setObjectName("videoState")
        self.snapshot_button = QPushButton("Snapshot → incident")
        self.snapshot_button.setToolTip("Attach the current frame to the drone's incident (JPEG)")
        self.snapshot_button.clicked.connect(lambda: self.snapshot_requested.emit(self.drone))
        self.float_button = QPushButton("Detach")
        self.float_button.setToolTip("Float this video in its own window (drag it to another monitor)")
        self.float_button.clicked.connect(lambda: self.setFloating(not self.isFloating()))
        self.topLevelChanged.connect(lambda floating: self.float_button.setText("Dock" if floating else "Detach"))
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        bar.addWidget(self.state_label, 1)
        bar.addWidget(self.snapshot_button)
        bar.addWidget(self.float_button)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.panel, 1)
        self.setWidget(body)
        self.setMinimumSize(280, 200)
        self.panel.state_changed.connect(self._paint_state)
        self._paint_state(self.panel.state)
        self.setToolTip(self.panel.title_text)
        self._stopped = False

    @property
    def url(self) -> str:
        return self.panel.url

    def play(self, url: str | None = None) -> None:
        """Start playing (or switch to a newly published link)."""
        self.panel.play(url, self.drone)
        self.setToolTip(self.panel.title_text)

    def _paint_state(self, state: str) -> None:
        background, colour = STATE_STYLE.get(state, STATE_STYLE[VideoState.IDLE])
        self.state_label.setText(f" ● {state.upper()} ")
        self.state_label.setStyleSheet(f"QLabel#videoState {{ background: {background}; color: {colour}; "
                                       "font-weight: 700; border-radius: 3px; padding: 2px 6px; }")
        self.snapshot_button.setEnabled(self.panel.frames_decoded > 0)

    def stop(self) -> None:
        """Stop the stream (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self.panel.stop()
            self.closed.emit(self.drone)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)
