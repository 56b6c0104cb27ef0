"""Screenshot of the demo console working with drones: run under Xvfb, save a PNG of the whole screen.

    Xvfb :104 -screen 0 1600x1000x24 -nolisten tcp &
    DISPLAY=:104 python packaging/screenshot_drones.py --out drones.png

The demo (hub, scenario, fire dispatcher's console with the real offline map) already flies the simulator's
police drone UAV1: MAVLink telemetry through the hub's gateway, real H.264 video with KLV from ffmpeg, assigned
to the newest call and orbiting it with its camera on it. This script adds a fire-service drone, UAV7, with a
stream of its own (`DroneVideoSource` on 127.0.0.1) and telemetry through the demo feed account, hovering
near UAV1's incident. The console opens both videos in docks, puts UAV7 on the incident, attaches a snapshot
from its video, asks UAV1 to look at a point, and the whole screen is grabbed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.footprint import offset_latlon

FEED_USER = "demo-feed"
SIM_DRONE, OWN_DRONE = "UAV1", "UAV7"
#: Where UAV7 hovers and where the dispatcher asks UAV1 to look, metres (east, north) of UAV1's incident.
HOVER_OFFSET = (170.0, -150.0)
LOOK_OFFSET = (-120.0, -230.0)


class FireDrone:
    """UAV7 over the demo city: registered, video published, telemetry at 2 Hz, until `stop`."""

    def __init__(self, url: str, password: str, video_url: str) -> None:
        self.url, self.password, self.video_url = url, password, video_url
        self.target: tuple[float, float] | None = None  # UAV1's incident (or the most urgent one)
        self.incident: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="demo-drone", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    async def _run(self) -> None:
        from app.client.connection import CommandRefused, HubClient

        client = HubClient(self.url, FEED_USER, self.password)
        client.start()
        await client.wait_for(lambda: client.state == "connected", 20)

        def sim_incident() -> str | None:
            drone = client.picture.drones.get(SIM_DRONE)
            return drone.incident if drone is not None and drone.incident in client.picture.incidents else None

        with contextlib.suppress(TimeoutError):  # no simulated drone on an incident yet: take the worst call
            await client.wait_for(lambda: sim_incident() is not None, 20)
        await client.wait_for(lambda: any(i.status != "closed" for i in client.picture.incidents.values()), 60)
        incident = client.picture.incidents.get(sim_incident() or "") or min(
            (i for i in client.picture.incidents.values() if i.status != "closed"),
            key=lambda i: (i.priority, i.created_at))
        self.target = (incident.lat, incident.lon)
        await client.call("drone.register", {"id": OWN_DRONE, "agency": "fire", "kind": "multirotor"})
        await client.call("drone.video", {"drone": OWN_DRONE, "url": self.video_url})
        self.incident = incident.id
        started = time.monotonic()
        while not self._stop.is_set():
            with contextlib.suppress(CommandRefused):  # a fix the hub found stale; the next one will do
                await client.call("drone.telemetry", self._fix(time.monotonic() - started))
            await asyncio.sleep(0.5)
        await client.close()

    def _fix(self, t: float) -> dict[str, Any]:
        assert self.target is not None
        lat, lon = offset_latlon(*self.target, *HOVER_OFFSET)
        # Hovering, turned towards the incident, camera tilted down onto it.
        bearing = (math.degrees(math.atan2(-HOVER_OFFSET[0], -HOVER_OFFSET[1])) + 360.0) % 360.0
        distance, agl = math.hypot(*HOVER_OFFSET), 110.0
        return {"drone": OWN_DRONE, "lat": lat, "lon": lon, "alt_m": agl + 12, "agl_m": agl,
                "heading": bearing + 2 * math.sin(t / 3), "speed": 0.4, "hfov": 44.0, "vfov": 26.0,
                "gimbal_pitch": -math.degrees(math.atan2(agl, distance)), "gimbal_yaw": 0.0, "battery": 27.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("drones.png"))
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the demo runs before the shot")
    parser.add_argument("--theme", default="dark", choices=["dark", "light"])
    parser.add_argument("--speed", type=float, default=6.0)
    args = parser.parse_args()

    from PySide6.QtCore import QSettings, Qt, QTimer

    from app.sim.drone_video import DroneVideoSource
    from app.ui.cli_demo import DEMO_PASSWORD, start_demo

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    # A layout of its own: the console restores the user's last one, and a shot must not depend on it.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    demo_args = argparse.Namespace(agency="fire", db=Path(tempfile.mkdtemp()) / "hub.db", port=0, seed=7,
                                   speed=args.speed, theme=args.theme)
    app, window, cleanup = start_demo(demo_args)
    window.showMaximized()
    # Xvfb has no window manager to hold a maximised window at the screen's size: set it.
    window.setGeometry(app.primaryScreen().availableGeometry())
    stream = DroneVideoSource("http")
    stream.start()
    drone = FireDrone(window.bridge.url, DEMO_PASSWORD, stream.url)
    drone.start()
    ms = int(args.seconds * 1000)

    def open_videos() -> None:
        desk = window.drone_desk
        sim = desk.drone(SIM_DRONE)
        if drone.incident is None or OWN_DRONE not in desk.picture.drones or sim is None or not sim.video_url:
            QTimer.singleShot(500, open_videos)
            return
        window.setGeometry(app.primaryScreen().availableGeometry())
        # The layout a drone-watching dispatcher would pick: boards tabbed together, a wider right-hand column
        # for the two videos under them, the map between.
        for name in ("alerts", "chat"):
            window.tabifyDockWidget(window.docks["units"], window.docks[name])
        window.resizeDocks([window.docks["queue"], window.docks["units"]], [470, 520], Qt.Orientation.Horizontal)
        window.docks["units"].raise_()
        for drone_id in (SIM_DRONE, OWN_DRONE):
            desk.open_video(drone_id)
        window.focus_incident(drone.incident)
        desk.board.select_key(OWN_DRONE)
        window.send("drone.assign", {"drone": OWN_DRONE, "incident": drone.incident}, f"{OWN_DRONE} to the incident")
        lat, lon = drone.target or (0.0, 0.0)
        look_lat, look_lon = offset_latlon(lat, lon, *LOOK_OFFSET)
        window.send("drone.look", {"drone": SIM_DRONE, "lat": look_lat, "lon": look_lon,
                                   "note": "check the rear yard"}, f"ask {SIM_DRONE} to look")
        centre = offset_latlon(lat, lon, 120.0, -130.0)
        window.map.center_on(centre[0], centre[1], 15.8)
        QTimer.singleShot(int(ms * 0.25), snapshot)

    def snapshot() -> None:
        dock = window.drone_desk.videos.get(OWN_DRONE)
        own = window.drone_desk.drone(OWN_DRONE)
        if dock is not None and dock.panel.frames_decoded and own is not None and own.incident:
            window.drone_desk.snapshot(OWN_DRONE)
        else:
            QTimer.singleShot(500, snapshot)

    def shoot() -> None:
        image = app.primaryScreen().grabWindow(0)
        image.save(str(args.out))
        states = {d: v.panel.state for d, v in window.drone_desk.videos.items()}
        print(f"saved {args.out} ({image.width()}x{image.height()}); videos {states}")
        window.close()

    QTimer.singleShot(int(ms * 0.45), open_videos)
    QTimer.singleShot(ms, shoot)
    try:
        return app.exec()
    finally:
        drone.stop()
        stream.stop()
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
