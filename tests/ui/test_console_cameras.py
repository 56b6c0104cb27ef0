"""Cameras in the console, against a real hub: a camera gateway's camera appears on the map with its view wedge,
and its live video (a real ffmpeg stream) opens in the same kind of dock as a drone's."""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from app.sim.drone_video import DroneVideoSource
from tests.ui import console_fixtures, test_console_drones
from tests.ui.test_console_drones import VIDEO_WAIT_MS, Feed

hub = console_fixtures.hub
console = console_fixtures.console
feed = test_console_drones.feed


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_a_cameras_view_is_on_the_map_and_its_video_opens_in_a_dock(qtbot, hub, console, feed: Feed) -> None:
    stream = DroneVideoSource("http", size="320x180")
    stream.start()
    try:
        fire = console("fire1")
        mapped: Any = fire.map
        feed.call("camera.register", {"id": "CAM-HARBOUR", "agency": "fire", "label": "Harbour mast"})
        feed.call("camera.report", {"camera": "CAM-HARBOUR", "lat": 60.1675, "lon": 24.9560, "azimuth": 200.0,
                                    "hfov": 60.0, "range_m": 120.0, "url": stream.url, "stale_s": 3600,
                                    "t": time.time()})
        qtbot.waitUntil(lambda: [c["id"] for c in mapped.cameras] == ["CAM-HARBOUR"], timeout=10000)
        shown = mapped.cameras[0]
        assert shown["label"] == "Harbour mast" and not shown["stale"] and len(shown["wedge"]) == 14

        dialog = fire.drone_desk.choose_camera_video()
        assert dialog is not None and dialog.choice.currentData() == "CAM-HARBOUR"
        dialog.accept()
        qtbot.waitUntil(lambda: "camera CAM-HARBOUR" in fire.drone_desk.videos, timeout=5000)
        dock = fire.drone_desk.videos["camera CAM-HARBOUR"]
        assert dock.windowTitle() == "Video · camera CAM-HARBOUR" and dock.isVisible()
        qtbot.waitUntil(lambda: dock.panel.state == "playing" and dock.panel.frames_decoded > 15,
                        timeout=VIDEO_WAIT_MS)
        # Closed, and opened again by clicking the camera on the map.
        dock.close()
        qtbot.waitUntil(lambda: not fire.drone_desk.videos, timeout=5000)
        mapped.selected.emit("camera", "CAM-HARBOUR")
        assert list(fire.drone_desk.videos) == ["camera CAM-HARBOUR"]
        dock = fire.drone_desk.videos["camera CAM-HARBOUR"]
        # The camera is taken down: off the map.
        feed.call("camera.retire", {"camera": "CAM-HARBOUR"})
        qtbot.waitUntil(lambda: mapped.cameras == [], timeout=10000)
        dock.close()
    finally:
        stream.stop()
