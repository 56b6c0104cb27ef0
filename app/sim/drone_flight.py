"""A simulated police drone over the city: MAVLink telemetry to the hub's gateway, a live camera stream with
matching KLV, and its registration, video link and assignment through the hub.

The drone takes off from a police station, orbits it, and whenever it has no open incident the flight
assigns it to the newest open one it can see and slides its orbit there; the camera always looks at the
orbit's centre. One `OrbitTrack` drives both what the autopilot reports over MAVLink (position, heading,
attitude, gimbal, field of view, battery) and the KLV in the video (`DroneVideoSource`), timed from the
video's first frame, so the footprint the hub casts from MAVLink and the corners in the KLV agree.

This runs in real time whatever the scenario's speed (the video is real time) and is off unless asked for,
so the simulator's deterministic runs are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import common as mavlink2

from app.client.connection import CommandRefused, HubClient
from app.domain.footprint import metres_per_degree
from app.sim.drone_video import DroneVideoSource, OrbitTrack
from app.sim.field import register_field_devices

log = logging.getLogger("watchfloor.sim.drone")

GIMBAL_COMPONENT = mavlink2.MAV_COMP_ID_GIMBAL
CAMERA_COMPONENT = mavlink2.MAV_COMP_ID_CAMERA


@dataclass(slots=True)
class DroneFlightConfig:
    """Where the drone reports and who it is. `video`: "udp", "http" or "" (no camera stream)."""

    mavlink_host: str = "127.0.0.1"
    mavlink_port: int = 14550
    system_id: int = 1  # the hub names it "UAV<system_id>"
    agency: str = "police"
    operator: str = ""
    video: str = "udp"
    rate_hz: float = 4.0
    transit_mps: float = 20.0  # how fast the orbit's centre moves to a new incident
    battery_drain_per_min: float = 1.5

    @property
    def drone_id(self) -> str:
        return f"UAV{self.system_id}"


def _gimbal_quaternion(pitch_deg: float, yaw_deg: float) -> list[float]:
    """[w, x, y, z] of a camera turned `yaw_deg` then tilted `pitch_deg` (no roll), as MAVLink gimbals report."""
    half_yaw, half_pitch = math.radians(yaw_deg) / 2, math.radians(pitch_deg) / 2
    cy, sy, cp, sp = math.cos(half_yaw), math.sin(half_yaw), math.cos(half_pitch), math.sin(half_pitch)
    return [cy * cp, -sy * sp, cy * sp, sy * cp]


class Autopilot:
    """MAVLink frames of one drone (autopilot, gimbal and camera components), made with pymavlink."""

    def __init__(self, system_id: int) -> None:
        self._autopilot = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=mavlink2.MAV_COMP_ID_AUTOPILOT1)
        self._gimbal = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=GIMBAL_COMPONENT)
        self._camera = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=CAMERA_COMPONENT)
        self._started = time.monotonic()

    def _boot_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000) & 0xFFFFFFFF

    def heartbeat(self) -> bytes:
        mav = self._autopilot
        return bytes(mav.heartbeat_encode(mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_PX4,
                                          mavlink2.MAV_MODE_FLAG_SAFETY_ARMED, 0, mavlink2.MAV_STATE_ACTIVE
                                          ).pack(mav))

    def state(self, klv: dict[str, Any], agl: float, speed: float, battery: float) -> list[bytes]:
        """Position, attitude, battery, gimbal and field of view from the same fields as the video's KLV."""
        a, g, c, ms = self._autopilot, self._gimbal, self._camera, self._boot_ms()
        lat, lon, heading = klv["sensor_latitude"], klv["sensor_longitude"], klv["platform_heading"]
        vn, ve = speed * math.cos(math.radians(heading)), speed * math.sin(math.radians(heading))
        relative_yaw = (klv["sensor_relative_azimuth"] + 180.0) % 360.0 - 180.0
        return [
            bytes(a.global_position_int_encode(
                ms, round(lat * 1e7), round(lon * 1e7), round(klv["sensor_altitude"] * 1000), round(agl * 1000),
                round(vn * 100), round(ve * 100), 0, round(heading * 100) % 36000).pack(a)),
            bytes(a.attitude_encode(ms, math.radians(klv["platform_roll"]), math.radians(klv["platform_pitch"]),
                                    math.radians(heading if heading <= 180 else heading - 360), 0, 0, 0).pack(a)),
            bytes(a.battery_status_encode(0, mavlink2.MAV_BATTERY_FUNCTION_ALL, mavlink2.MAV_BATTERY_TYPE_LIPO,
                                          2500, [15200] + [65535] * 9, 1200, -1, -1, round(battery)).pack(a)),
            bytes(g.gimbal_device_attitude_status_encode(
                0, 0, ms, 0, _gimbal_quaternion(klv["sensor_relative_elevation"], relative_yaw),
                math.nan, math.nan, math.nan, 0).pack(g)),
            bytes(c.camera_fov_status_encode(
                ms, round(lat * 1e7), round(lon * 1e7), round(klv["sensor_altitude"] * 1000),
                round(klv.get("frame_center_latitude", lat) * 1e7), round(klv.get("frame_center_longitude", lon) * 1e7),
                0, [1.0, 0.0, 0.0, 0.0], klv["sensor_hfov"], klv["sensor_vfov"]).pack(c)),
        ]


class DroneFlight:
    """Fly one drone until `stop()`: `await flight.run()` in a task next to the scenario."""

    def __init__(self, client: HubClient, config: DroneFlightConfig, home: tuple[float, float]) -> None:
        self.client = client
        self.config = config
        self.track = OrbitTrack(centre=home, callsign=config.drone_id)
        self.target = home
        self.autopilot = Autopilot(config.system_id)
        self.video: DroneVideoSource | None = None
        self.battery = 100.0
        self.sent = 0
        self._epoch = time.time()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tasks: set[asyncio.Task[bool]] = set()  # assignments in flight (the loop keeps only weak refs)

    # -- the pieces ------------------------------------------------------------------------------------

    def start_video(self) -> str:
        """Start the camera stream; returns its URL, or "" (logged) when there is no ffmpeg to make it."""
        if not self.config.video:
            return ""
        source = DroneVideoSource(self.config.video, track=self.track)
        try:
            source.start()
        except OSError as exc:  # FileNotFoundError: no ffmpeg on this machine
            log.warning("drone %s flies without video: cannot start ffmpeg (%s)", self.config.drone_id, exc)
            return ""
        self.video = source
        log.info("drone %s video at %s", self.config.drone_id, source.url)
        return source.url

    async def _command(self, name: str, args: dict[str, Any], *tolerated: str) -> bool:
        try:
            await self.client.call(name, args, timeout=15)
        except CommandRefused as exc:
            if exc.code not in tolerated:
                log.warning("drone %s: %s refused: %s", self.config.drone_id, name, exc)
            return False
        except TimeoutError:
            log.warning("drone %s: no answer to %s", self.config.drone_id, name)
            return False
        return True

    def _send(self, frames: list[bytes]) -> None:
        for frame in frames:
            with contextlib.suppress(OSError):  # UDP: nobody listening drops it, as a radio link would
                self._socket.send(frame)
            self.sent += 1

    def _elapsed(self) -> float:
        """Seconds into the orbit, on the video's clock once its first frame is out (so KLV and MAVLink agree)."""
        started = self.video.first_frame_at if self.video is not None else None
        return time.time() - (started if started is not None else self._epoch)

    def _slide_centre(self, dt: float) -> None:
        lat, lon = self.track.centre
        per_lat, per_lon = metres_per_degree(lat)
        north, east = (self.target[0] - lat) * per_lat, (self.target[1] - lon) * per_lon
        distance = math.hypot(north, east)
        step = self.config.transit_mps * dt
        if distance <= step:
            self.track.centre = self.target
        else:
            self.track.centre = (lat + north / distance * step / per_lat, lon + east / distance * step / per_lon)

    def _choose_incident(self) -> None:
        """Keep the drone on an open incident: the newest one it can see, when its own is closed or gone."""
        picture = self.client.picture
        drone = picture.drones.get(self.config.drone_id)
        if drone is None:
            return
        current = picture.incidents.get(drone.incident) if drone.incident else None
        if current is not None and current.status != "closed":
            self.target = (current.lat, current.lon)
            return
        open_incidents = [i for i in picture.incidents.values() if i.status != "closed"]
        if open_incidents:
            newest = max(open_incidents, key=lambda i: i.created_at)
            self.target = (newest.lat, newest.lon)
            task = asyncio.get_running_loop().create_task(
                self._command("drone.assign", {"drone": drone.id, "incident": newest.id}, "no_change"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- the flight ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register the drone, publish its video, then report at `rate_hz` until cancelled."""
        cfg = self.config
        # Its MAVLink is unsigned: the hub takes it from the address registered for it (app.domain.devices).
        self._socket.connect((cfg.mavlink_host, cfg.mavlink_port))
        source = str(self._socket.getsockname()[0])
        try:
            await register_field_devices(self.client, [{
                "id": "SIM-UAS", "agency": cfg.agency, "formats": ["mavlink"], "transport": "udp", "source": source,
                "drones": [cfg.drone_id], "label": f"watchfloor sim: drone {cfg.drone_id} (unsigned MAVLink)"}])
        except (CommandRefused, TimeoutError) as exc:
            log.warning("drone %s: its MAVLink device could not be registered: %s", cfg.drone_id, exc)
        await self._command("drone.register", {"id": cfg.drone_id, "agency": cfg.agency, "operator": cfg.operator},
                            "duplicate")
        url = await asyncio.to_thread(self.start_video)
        drone = self.client.picture.drones.get(cfg.drone_id)
        if url and (drone is None or drone.video_url != url):
            await self._command("drone.video", {"drone": cfg.drone_id, "url": url}, "no_change")
        period = 1.0 / cfg.rate_hz
        loop = asyncio.get_running_loop()
        last = loop.time()
        next_heartbeat = next_choice = last
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            dt, last = now - last, now
            if now >= next_choice:
                self._choose_incident()
                next_choice = now + 2.0
            self._slide_centre(dt)
            self.battery -= cfg.battery_drain_per_min * dt / 60
            if self.battery < 20:  # the crew swaps the pack between sorties
                self.battery = 100.0
            klv = self.track.klv_fields(self._elapsed(), round(time.time() * 1e6))
            frames = self.autopilot.state(klv, self.track.altitude_agl, self.track.speed_mps, self.battery)
            if now >= next_heartbeat:
                frames.insert(0, self.autopilot.heartbeat())
                next_heartbeat = now + 1.0
            self._send(frames)

    def stop(self) -> None:
        """Stop the video and close the MAVLink socket (cancel the `run` task first)."""
        if self.video is not None:
            self.video.stop()
            self.video = None
        self._socket.close()
