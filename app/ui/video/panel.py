"""The drone video panel: one live stream, its state, and reconnection by itself.

QMediaPlayer (Qt's FFmpeg backend) decodes into our own QVideoSink; every frame is counted, kept
for :meth:`VideoPanel.snapshot` and handed on to a QVideoWidget's sink for display (the widget's
own ``grab()`` is blank headless, the sink's frames are not). Opening and decoding run on Qt's
media threads; the GUI thread only reacts to signals and a 4 Hz watchdog timer.

States: ``idle`` -> ``connecting`` -> ``playing``; ``playing`` -> ``stalled`` when no frame came
for ``stall_timeout`` s; ``stalled``, a failed or silent connection, the end of the stream and
player errors (``error``, with the text shown) all lead to ``reconnecting``: a countdown of the
current backoff delay (1, 2, 4, 8, 15, 15... s; back to 1 s once frames flow again), then
``connecting`` anew.
"""

from __future__ import annotations

import time
from enum import StrEnum

from PySide6.QtCore import QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QMediaPlayer, QPlaybackOptions, QVideoFrame, QVideoSink
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

WATCHDOG_MS = 250


class VideoState(StrEnum):
    """What the panel shows; emitted as plain strings by ``state_changed``."""

    IDLE = "idle"
    CONNECTING = "connecting"
    PLAYING = "playing"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    ERROR = "error"


class VideoPanel(QWidget):
    """Plays one drone's stream URL (UDP/HTTP MPEG-TS, RTSP, RTMP, file) and keeps it playing.

    Signals: ``state_changed(str)`` with a :class:`VideoState` value, ``frame_received(int)``
    with the running frame count. ``frames_decoded``, ``state``, ``error_text`` and
    ``status_text`` describe it; ``snapshot()`` returns the last frame.
    """

    state_changed = Signal(str)
    frame_received = Signal(int)

    def __init__(
        self,
        url: str = "",
        callsign: str = "",
        parent: QWidget | None = None,
        stall_timeout: float = 2.0,
        connect_timeout: float = 10.0,
        backoff: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0),
        network_timeout_ms: int = 3000,
        show_title: bool = True,
    ) -> None:
        super().__init__(parent)
        self.url = url
        self.callsign = callsign
        self.stall_timeout = stall_timeout
        self.connect_timeout = connect_timeout
        self.backoff = backoff
        self.frames_decoded = 0
        self.attempts = 0
        self.error_text = ""
        self.first_frame_seconds: float | None = None  # time to the first frame of the last connection
        self._state = VideoState.IDLE
        self._last_frame: QVideoFrame | None = None
        self._last_frame_at = 0.0
        self._connect_started = 0.0
        self._retry_at = 0.0
        self._failures = 0

        self._title = QLabel()
        self._title.setObjectName("videoTitle")
        self._title.setVisible(show_title)  # a dock that names the drone itself hides this line
        self._video = QVideoWidget()
        self._video.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._status = QLabel()
        self._status.setObjectName("videoStatus")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._title)
        layout.addWidget(self._video, 1)
        layout.addWidget(self._status)

        self._sink = QVideoSink(self)
        self._sink.videoFrameChanged.connect(self._on_frame)
        self._player = QMediaPlayer(self)
        self._player.setVideoSink(self._sink)
        options = QPlaybackOptions()
        options.setPlaybackIntent(QPlaybackOptions.PlaybackIntent.LowLatencyStreaming)
        options.setNetworkTimeout(network_timeout_ms)
        self._player.setPlaybackOptions(options)
        self._player.errorOccurred.connect(self._on_error)
        self._player.mediaStatusChanged.connect(self._on_media_status)

        self._watchdog = QTimer(self)
        self._watchdog.setInterval(WATCHDOG_MS)
        self._watchdog.timeout.connect(self._tick)
        self._update_title()
        self._update_status()

    # --- public ---------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def status_text(self) -> str:
        return self._status.text()

    @property
    def title_text(self) -> str:
        return self._title.text()

    def play(self, url: str | None = None, callsign: str | None = None) -> None:
        """Start (or switch to) a stream; the panel keeps it playing until :meth:`stop`."""
        if url is not None:
            self.url = url
        if callsign is not None:
            self.callsign = callsign
        self._update_title()
        self._failures = 0
        self._watchdog.start()
        self._connect()

    def stop(self) -> None:
        """Stop playing and reconnecting."""
        self._watchdog.stop()
        self._player.stop()
        self._player.setSource(QUrl())
        self._set_state(VideoState.IDLE)

    def snapshot(self) -> QImage:
        """The last decoded frame (a null QImage before the first)."""
        return self._last_frame.toImage() if self._last_frame is not None else QImage()

    # --- state machine --------------------------------------------------------------------------

    def _connect(self) -> None:
        self.attempts += 1
        self._connect_started = time.monotonic()
        self._set_state(VideoState.CONNECTING)
        self._player.stop()
        self._player.setSource(QUrl())  # setting the same URL again would be a no-op
        self._player.setSource(QUrl(self.url) if "://" in self.url else QUrl.fromLocalFile(self.url))
        self._player.play()

    def _schedule_reconnect(self) -> None:
        delay = self.backoff[min(self._failures, len(self.backoff) - 1)]
        self._failures += 1
        self._retry_at = time.monotonic() + delay
        self._player.stop()
        self._set_state(VideoState.RECONNECTING)

    @Slot()
    def _tick(self) -> None:
        now = time.monotonic()
        if self._state is VideoState.PLAYING and now - self._last_frame_at > self.stall_timeout:
            self._set_state(VideoState.STALLED)
        elif self._state is VideoState.STALLED and now - self._last_frame_at > 2 * self.stall_timeout:
            self._schedule_reconnect()
        elif self._state is VideoState.CONNECTING and now - self._connect_started > self.connect_timeout:
            self.error_text = f"no video within {self.connect_timeout:g} s"
            self._schedule_reconnect()
        elif self._state in (VideoState.RECONNECTING, VideoState.ERROR) and now >= self._retry_at:
            self._connect()
        self._update_status()

    @Slot(QVideoFrame)
    def _on_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid():
            return
        self.frames_decoded += 1
        self._last_frame = frame
        self._last_frame_at = time.monotonic()
        self._video.videoSink().setVideoFrame(frame)
        if self._state in (VideoState.CONNECTING, VideoState.STALLED):
            if self._state is VideoState.CONNECTING:
                self.first_frame_seconds = self._last_frame_at - self._connect_started
            self._failures = 0
            self.error_text = ""
            self._set_state(VideoState.PLAYING)
        self.frame_received.emit(self.frames_decoded)

    @Slot(QMediaPlayer.Error, str)
    def _on_error(self, error: QMediaPlayer.Error, message: str) -> None:
        if error == QMediaPlayer.Error.NoError or self._state in (VideoState.IDLE, VideoState.RECONNECTING):
            return  # late reports from the connection we already gave up on
        self.error_text = message or error.name
        self._set_state(VideoState.ERROR)
        self._schedule_reconnect()

    @Slot(QMediaPlayer.MediaStatus)
    def _on_media_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if self._state in (VideoState.IDLE, VideoState.RECONNECTING):
            return
        if status in (QMediaPlayer.MediaStatus.EndOfMedia, QMediaPlayer.MediaStatus.InvalidMedia):
            ended = status == QMediaPlayer.MediaStatus.EndOfMedia
            self.error_text = "stream ended" if ended else "invalid media"
            self._schedule_reconnect()

    # --- display --------------------------------------------------------------------------------

    def _set_state(self, state: VideoState) -> None:
        if state is self._state:
            return
        self._state = state
        self._update_status()
        self.state_changed.emit(state.value)

    def _update_title(self) -> None:
        self._title.setText(f"{self.callsign or 'drone'} \u2014 {self.url or 'no stream'}")

    def _update_status(self) -> None:
        state = self._state
        if state is VideoState.RECONNECTING:
            seconds = max(0, round(self._retry_at - time.monotonic()))
            text = f"reconnecting in {seconds} s (attempt {self.attempts + 1})"
            if self.error_text:
                text += f" \u2014 {self.error_text}"
        elif state is VideoState.STALLED:
            text = f"stalled: no video for {time.monotonic() - self._last_frame_at:.0f} s"
        elif state is VideoState.ERROR:
            text = f"error: {self.error_text}"
        elif state is VideoState.PLAYING:
            text = f"playing \u2014 {self.frames_decoded} frames"
        else:
            text = state.value
        if self._status.text() != text:
            self._status.setText(text)
