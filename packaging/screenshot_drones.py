"""Screenshot of the demo console working with drones: run under Xvfb, save a PNG of the whole screen.

    Xvfb :104 -screen 0 1600x1000x24 -nolisten tcp &
    DISPLAY=:104 python packaging/screenshot_drones.py --out drones.png

On top of the demo (hub, scenario, fire dispatcher's console with the real offline map) two drones fly over
the city, each streaming real H.264 video from ffmpeg on 127.0.0.1 (`DroneVideoSource`) and reporting its
telemetry through the demo feed account: UAV1 orbits the most urgent incident with its camera on it, UAV2
hovers further off. The console opens both videos in docks, puts UAV1 on the incident, attaches a snapshot from
its video, asks UAV2 to look at a point, and the whole screen is grabbed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.footprint import offset_latlon

FEED_USER = "demo-feed"
#: Where UAV2 hovers and where the dispatcher asks it to look, metres (east, north) of UAV1's incident.
UAV2_OFFSET = (330.0, -260.0)
LOOK_OFFSET = (110.0, -190.0)


class DemoDrones:
    """Two drones over the demo city: registered, video published, telemetry at 2 Hz, until `stop`."""

    def __init__(self, url: str, password: str, video_urls: list[str]) -> None:
        self.url, self.password, self.video_urls = url, password, video_urls
        self.target: tuple[float, float] | None = None  # what UAV1 orbits (chosen from the picture)
        self.incident: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="demo-drones", daemon=True)

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
        # The most urgent open incident once the scenario has a few.
        await client.wait_for(lambda: any(i.status != "closed" for i in client.picture.incidents.values()), 60)
        incident = min((i for i in client.picture.incidents.values() if i.status != "closed"),
                       key=lambda i: (i.priority, i.created_at))
        self.incident, self.target = incident.id, (incident.lat, incident.lon)
        for drone, video in zip(("UAV1", "UAV2"), self.video_urls, strict=True):
            if drone not in client.picture.drones:
                await client.call("drone.register", {"id": drone, "agency": "fire", "kind": "multirotor",
                                                     "operator": "pilot1"})
            await client.call("drone.video", {"drone": drone, "url": video})
        t = 0.0
        while not self._stop.is_set():
            for args in self._fixes(t):
                with contextlib.suppress(CommandRefused):  # a fix the hub found stale; the next one will do
                    await client.call("drone.telemetry", args)
            t += 0.5
            await asyncio.sleep(0.5)
        await client.close()

    def _fixes(self, t: float) -> list[dict[str, Any]]:
        assert self.target is not None
        radius, agl = 160.0, 110.0
        angle = (t * 12.0 / radius) % (2 * math.pi)  # clockwise from north at 12 m/s
        lat, lon = offset_latlon(*self.target, radius * math.sin(angle), radius * math.cos(angle))
        orbit = {"drone": "UAV1", "lat": lat, "lon": lon, "alt_m": agl + 12, "agl_m": agl,
                 "heading": (math.degrees(angle) + 90.0) % 360.0, "speed": 12.0,
                 "gimbal_pitch": -math.degrees(math.atan2(agl, radius)), "gimbal_yaw": 90.0,
                 "hfov": 62.0, "vfov": 36.0, "battery": max(5.0, 64.0 - t * 0.05)}
        hlat, hlon = offset_latlon(*self.target, *UAV2_OFFSET)
        hover = {"drone": "UAV2", "lat": hlat, "lon": hlon, "alt_m": 95.0, "agl_m": 85.0,
                 "heading": 330.0 + 4 * math.sin(t / 4), "speed": 0.4, "gimbal_pitch": -50.0, "gimbal_yaw": 0.0,
                 "hfov": 70.0, "vfov": 40.0, "battery": 27.0}
        return [orbit, hover]


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
    streams = [DroneVideoSource("udp"), DroneVideoSource("http")]
    for stream in streams:
        stream.start()
    drones = DemoDrones(window.bridge.url, DEMO_PASSWORD, [s.url for s in streams])
    drones.start()
    ms = int(args.seconds * 1000)

    def open_videos() -> None:
        desk = window.drone_desk
        if drones.incident is None or "UAV2" not in desk.picture.drones:
            QTimer.singleShot(500, open_videos)
            return
        window.setGeometry(app.primaryScreen().availableGeometry())
        # The layout a drone-watching dispatcher would pick: boards tabbed together, a wider right-hand column
        # for the two videos under them, the map between.
        for name in ("alerts", "chat"):
            window.tabifyDockWidget(window.docks["units"], window.docks[name])
        window.resizeDocks([window.docks["queue"], window.docks["units"]], [470, 520], Qt.Orientation.Horizontal)
        window.docks["units"].raise_()
        for drone in ("UAV1", "UAV2"):
            desk.open_video(drone)
        window.focus_incident(drones.incident)
        desk.board.select_key("UAV1")
        window.send("drone.assign", {"drone": "UAV1", "incident": drones.incident}, "UAV1 to the incident")
        lat, lon = drones.target or (0.0, 0.0)
        look_lat, look_lon = offset_latlon(lat, lon, *LOOK_OFFSET)
        window.send("drone.look", {"drone": "UAV2", "lat": look_lat, "lon": look_lon, "note": "check the rear yard"},
                    "ask UAV2 to look")
        centre = offset_latlon(lat, lon, 120.0, -130.0)
        window.map.center_on(centre[0], centre[1], 15.8)
        QTimer.singleShot(int(ms * 0.25), snapshot)

    def snapshot() -> None:
        dock = window.drone_desk.videos.get("UAV1")
        if dock is not None and dock.panel.frames_decoded:
            window.drone_desk.snapshot("UAV1")
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
        drones.stop()
        for stream in streams:
            stream.stop()
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
