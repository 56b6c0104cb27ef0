"""VideoPanel against a real ffmpeg stream on 127.0.0.1: play, lose the sender, recover by itself.

The sender is ``python -m app.sim.drone_video`` in its own process, killed with SIGKILL to
simulate a crashed drone link. Figures (time to first frame, recovery time) are printed, never
asserted: the machine is shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("PySide6.QtMultimedia")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.sim.drone_video import DroneVideoSource
from app.ui.video import VideoPanel

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg"),
]

WAIT_MS = 30_000


class SenderProcess:
    """The simulated drone stream in a child process, on a fixed port so it can come back."""

    def __init__(self, transport: str) -> None:
        probe = DroneVideoSource(transport)  # only to pick a free port and build the URL
        self.transport = transport
        self.port = probe.port
        self.url = probe.url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.sim.drone_video", "--transport", self.transport,
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(params=["udp", "http"])
def sender(request: pytest.FixtureRequest) -> Iterator[SenderProcess]:
    sender = SenderProcess(request.param)
    sender.start()
    yield sender
    sender.kill()


class GuiLatencyProbe:
    """A 20 ms GUI-thread timer; the longest gap between its ticks shows any blocking."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.longest = 0.0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self._last)
        self._last = now


def test_panel_plays_loses_the_sender_and_recovers_by_itself(qtbot, sender: SenderProcess) -> None:
    probe = GuiLatencyProbe()
    panel = VideoPanel(callsign="DRONE-1", stall_timeout=1.5, backoff=(0.5, 1.0, 2.0))
    qtbot.addWidget(panel)
    states: list[str] = []
    panel.state_changed.connect(states.append)
    panel.play(sender.url)
    assert "DRONE-1" in panel.title_text and sender.url in panel.title_text

    started = time.monotonic()
    qtbot.waitUntil(lambda: panel.state == "playing" and panel.frames_decoded > 30, timeout=WAIT_MS)
    print(f"\n[{sender.transport}] first frame after {panel.first_frame_seconds:.2f} s, "
          f"30 frames after {time.monotonic() - started:.2f} s")
    image = panel.snapshot()
    assert not image.isNull()
    assert (image.width(), image.height()) == (640, 360)

    sender.kill()
    lost = time.monotonic()
    qtbot.waitUntil(lambda: panel.state in ("stalled", "reconnecting", "error", "connecting"),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.state in ("reconnecting", "connecting"), timeout=WAIT_MS)
    noticed = time.monotonic() - lost
    frames_before = panel.frames_decoded

    sender.start()
    back = time.monotonic()
    qtbot.waitUntil(
        lambda: panel.state == "playing" and panel.frames_decoded > frames_before + 30, timeout=WAIT_MS
    )
    print(f"[{sender.transport}] loss noticed after {noticed:.2f} s, playing again "
          f"{time.monotonic() - back:.2f} s after the sender restarted; "
          f"{panel.frames_decoded} frames, {panel.attempts} connection attempts, "
          f"longest GUI-thread gap {probe.longest * 1000:.0f} ms, states {states}")
    assert "reconnecting" in states
    assert states[-1] == "playing"
    panel.stop()
    assert panel.state == "idle"
