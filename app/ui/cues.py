"""Attention cues: a sound and a flashing banner for what must not be missed (a new priority-1 call, an
incoming mutual-aid request).

Sound goes through QSoundEffect when QtMultimedia and an audio output exist; otherwise QApplication.beep().
Nothing here may fail on a headless machine: the cue is a courtesy, the banner and the row flash carry it.
"""

from __future__ import annotations

import logging
import math
import struct
import wave
from pathlib import Path

import platformdirs
from PySide6.QtCore import QObject, QUrl
from PySide6.QtWidgets import QApplication

log = logging.getLogger("watchfloor.console")


def _tone_file() -> Path:
    """A short two-tone alert (880/660 Hz) written once to the cache directory."""
    path = Path(platformdirs.user_cache_dir("watchfloor")) / "alert-tone.wav"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 22050
    frames = bytearray()
    for freq, length in ((880, 0.16), (0, 0.05), (660, 0.22)):
        for n in range(int(rate * length)):
            envelope = min(1.0, n / 200, (rate * length - n) / 200)
            frames += struct.pack("<h", int(12000 * envelope * math.sin(2 * math.pi * freq * n / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


class Sound(QObject):
    """Plays the alert tone; `muted` silences it; `played` counts cues (tests read it)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.muted = False
        self.played = 0
        self._effect = None
        try:
            from PySide6.QtMultimedia import QMediaDevices, QSoundEffect

            if QMediaDevices.audioOutputs():
                effect = QSoundEffect(self)
                effect.setSource(QUrl.fromLocalFile(str(_tone_file())))
                effect.setVolume(0.8)
                self._effect = effect
        except Exception as exc:  # no QtMultimedia, no audio stack: fall back to the system beep
            log.info("alert sound unavailable, using beep: %s", exc)

    def play(self) -> None:
        """Sound the cue once."""
        self.played += 1
        if self.muted:
            return
        if self._effect is not None:
            self._effect.play()
        else:
            QApplication.beep()
