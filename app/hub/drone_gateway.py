"""Drone feeds into drone commands: MAVLink and MISB ST 0601 KLV over UDP, CoT drones and video links, and the
watchdog that marks a drone's link lost when it falls silent.

The `FeedGateway` owns the sockets, the per-sender parser state and the quarantine; this module turns what
the parsers decode into `drone.register`, `drone.telemetry`, `drone.link` and `drone.video` submitted as the
gateway's feed account (see docs/drones.md, "Transports").

Every drone belongs to the registered device that reports it (`app.domain.devices`): a device registers and
moves only the drones listed for it, for its agency; input about any other drone is refused as `not_owned`.
A datagram's refusals and parse errors are quarantined once per datagram (its first error, and how many
there were), never once per frame or packet inside it.

* MAVLink system N is drone "UAV<N>" (registered once its airframe's heartbeat gives its kind; fixes before
  that, fixes at 0,0 before the GPS has a lock, and valid frames of messages nothing here reads, are counted
  as ignored). Every
  GLOBAL_POSITION_INT makes one `drone.telemetry` carrying the latest of everything else the decoder knows
  (attitude, battery, gimbal, field of view); HEARTBEATs keep the link up.
* KLV: one or more UAS Datalink Local Set packets per datagram; the drone is named by the platform tail number
  (tag 4), else the mission id (3), else the platform designation (10), else the name the same sender gave last
  (packets may carry only the values that changed). The four corner points become the
  footprint; sensor position, altitude, angles and field of view the rest.
* CoT `a-*-A-M-H-Q` drones: position, course/speed, `<sensor>` azimuth/elevation/fov; `__video` or a `b-i-v`
  event publishes the drone's video link.
* Link: no heartbeat (MAVLink) or packet (KLV) for `link_timeout` seconds -> `drone.link lost`; the next one
  -> `drone.link up`.

Values a feed sends outside what the rules accept (a 0° field of view, a battery of -1) are left out of the
telemetry rather than losing the whole fix; positions and footprints that are not on Earth are refused and
quarantined like any other bad input.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from app.domain import commands as c
from app.domain.drone_rules import TELEMETRY_RANGES
from app.feeds.cot import CotEvent, CotVideo
from app.feeds.cot_meaning import unit_id_for
from app.feeds.errors import FeedError
from app.feeds.klv import KlvPacket, KlvPlatforms, KlvStreamDecoder
from app.feeds.mavlink import DroneTelemetry, MavlinkDecoder

if TYPE_CHECKING:
    from app.domain.devices import Device
    from app.hub.gateway import FeedGateway

#: A drone silent this long has lost its link (MAVLink ground stations use a few seconds too).
LINK_TIMEOUT_S = 5.0
#: Video links a field device may publish: network streams only (a `file://` URL names a file on the hub's or
#: a console's disk, which no device in the field has any business pointing at).
FIELD_VIDEO_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "http://", "https://", "srt://")


def telemetry_args(drone: str, lat: float, lon: float, t: float | None = None,
                   footprint: list[tuple[float, float]] | None = None, **values: float | None
                   ) -> c.ReportDroneTelemetry:
    """A `drone.telemetry` command from decoded values: unknown ones, and ones outside what the rules accept
    (e.g. a 0° field of view, a -1 battery), are left out."""
    kept: dict[str, Any] = {}
    for name, value in values.items():
        low, high, _ = TELEMETRY_RANGES[name]
        if value is not None and math.isfinite(value) and low <= value <= high:
            kept[name] = float(value)
    return c.ReportDroneTelemetry(drone=drone, lat=lat, lon=lon, t=t,
                                  footprint=[(la, lo) for la, lo in footprint] if footprint else None, **kept)


class DatagramErrors:
    """The errors of one datagram, quarantined as one row: the first one's code, and how many there were."""

    def __init__(self) -> None:
        self.count = 0
        self.first: tuple[str, str] | None = None

    def add(self, code: str, reason: str) -> None:
        self.count += 1
        if self.first is None:
            self.first = (code, reason)

    def quarantine(self, gateway: FeedGateway, feed: str, source: str, raw: bytes) -> None:
        if self.first is not None:
            code, reason = self.first
            more = f" (and {self.count - 1} more in this datagram)" if self.count > 1 else ""
            gateway.feeds.quarantine(feed, source, code, reason + more, raw)


def _relative(angle: float | None) -> float | None:
    """An angle in -180..180."""
    return None if angle is None else (angle + 180.0) % 360.0 - 180.0


def mavlink_telemetry(drone_id: str, d: DroneTelemetry) -> c.ReportDroneTelemetry | None:
    """The telemetry a MAVLink drone's merged state gives, or None before its GPS has a fix."""
    if not d.has_fix or d.latitude is None or d.longitude is None:
        return None
    speed = None
    if d.velocity_north is not None and d.velocity_east is not None:
        speed = math.hypot(d.velocity_north, d.velocity_east)
    heading = d.heading if d.heading is not None else d.yaw
    gimbal_yaw = d.gimbal_yaw
    if d.gimbal_yaw_absolute is not None and heading is not None and d.gimbal_yaw is None:
        gimbal_yaw = d.gimbal_yaw_absolute - heading
    args = telemetry_args(
        drone_id, d.latitude, d.longitude, alt_m=d.altitude_msl, agl_m=d.altitude_agl, heading=heading,
        speed=speed, pitch=d.pitch, roll=d.roll, gimbal_pitch=d.gimbal_pitch, gimbal_yaw=_relative(gimbal_yaw),
        hfov=d.hfov, vfov=d.vfov, battery=d.battery_percent)
    args.gnss = d.gnss_warning  # the autopilot's own jamming or spoofing warning: the fix is marked suspect
    return args


def klv_telemetry(drone_id: str, p: KlvPacket) -> c.ReportDroneTelemetry:
    """The telemetry in one ST 0601 packet (raises FeedError without the sensor's position)."""
    if p.sensor_latitude is None or p.sensor_longitude is None:
        raise FeedError("missing_field", "KLV packet without sensor latitude/longitude (tags 13, 14)")
    agl = None
    if p.sensor_altitude is not None:
        agl = p.sensor_altitude - (p.frame_center_elevation or 0.0)
    gimbal_pitch = None
    if p.sensor_relative_elevation is not None:
        gimbal_pitch = (p.pitch or 0.0) + p.sensor_relative_elevation
    return telemetry_args(
        drone_id, p.sensor_latitude, p.sensor_longitude, footprint=p.corners, alt_m=p.sensor_altitude, agl_m=agl,
        heading=p.platform_heading, pitch=p.pitch, roll=p.roll, gimbal_pitch=gimbal_pitch,
        gimbal_yaw=_relative(p.sensor_relative_azimuth), hfov=p.sensor_hfov, vfov=p.sensor_vfov)


class DroneFeeds:
    """The drone half of a `FeedGateway`: decoded drone input -> commands, and the link watchdog."""

    def __init__(self, gateway: FeedGateway, link_timeout: float = LINK_TIMEOUT_S) -> None:
        self.gateway = gateway
        self.link_timeout = link_timeout
        self._heard: dict[str, tuple[float, str]] = {}  # drone -> (loop time last heard, feed)
        self._watchdog: asyncio.Task[None] | None = None
        self._klv_platforms = KlvPlatforms()

    @property
    def _picture(self) -> Any:
        return self.gateway.hub.sequencer.picture

    def start(self) -> None:
        """Start the link watchdog (on the running loop)."""
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_links())

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)

    # -- commands ----------------------------------------------------------------------------------------

    def _owned(self, device: Device, drone: str, errors: DatagramErrors) -> bool:
        if device.owns_drone(drone):
            return True
        self.gateway.named_stranger(device, drone)
        errors.add("not_owned", f"device {device.id} does not report for drone {drone}")
        return False

    def _ensure(self, feed: str, source: str, raw: bytes, drone: str, device: Device,
                kind: str = "multirotor") -> bool:
        if drone in self._picture.drones:
            return True
        if self.gateway._submit(feed, source, raw, "drone.register", c.RegisterDrone(drone, device.agency, kind),
                                device):
            return True
        self.gateway.named_stranger(device, drone)  # a drone it may not create
        return False

    def _telemetry(self, feed: str, source: str, raw: bytes, args: c.ReportDroneTelemetry, device: Device) -> None:
        known = self._picture.drones.get(args.drone)
        if known is not None and args.t is not None and known.telemetry_at is not None \
                and args.t <= known.telemetry_at:
            # Two sources (MAVLink and KLV) for one drone interleave: an older fix is not bad input.
            self.gateway.feeds.feed(feed).ignore("older_fix")
            return
        self.gateway._submit(feed, source, raw, "drone.telemetry", args, device)

    def _heard_from(self, feed: str, source: str, raw: bytes, drone: str, device: Device) -> None:
        self._heard[drone] = (asyncio.get_running_loop().time(), feed)
        known = self._picture.drones.get(drone)
        if known is not None and known.link == "lost":
            self.gateway._submit(feed, source, raw, "drone.link", c.SetDroneLink(drone, "up"), device)

    async def _watch_links(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.link_timeout / 4))
            now = loop.time()
            for drone, (heard, feed) in list(self._heard.items()):
                known = self._picture.drones.get(drone)
                if known is None or now - heard < self.link_timeout or known.link == "lost":
                    continue
                self.gateway._submit(feed, "watchdog", b"", "drone.link", c.SetDroneLink(drone, "lost"))

    # -- MAVLink ---------------------------------------------------------------------------------------

    def mavlink(self, source: str, raw: bytes, decoder: MavlinkDecoder, device: Device) -> None:
        """One datagram: errors quarantined (once), heartbeats keep links up, each fix becomes telemetry."""
        errors = DatagramErrors()
        before = {sid: (d.heartbeats, d.fixes) for sid, d in decoder.drones.items()}
        unused = decoder.ignored
        for item in decoder.feed(raw):
            if isinstance(item, FeedError):
                errors.add(item.code, item.reason)
        status = self.gateway.feeds.feed("mavlink")
        for _ in range(decoder.ignored - unused):  # valid frames nothing here reads (PARAM_VALUE, RADIO, ...)
            status.ignore("unused_message")
        for sid, d in list(decoder.drones.items()):
            heartbeats, fixes = before.get(sid, (0, 0))
            if not (d.heartbeats > heartbeats or d.fixes > fixes):
                continue
            drone = f"UAV{sid}"
            if not self._owned(device, drone, errors):
                del decoder.drones[sid]  # keep no state for drones this sender may not speak for
                continue
            if d.kind is None:  # not registered before its airframe is known: see DroneTelemetry.kind
                status.ignore("before_heartbeat")
                continue
            if not self._ensure("mavlink", source, raw, drone, device, kind=d.kind):
                continue
            if d.heartbeats > heartbeats:
                self._heard_from("mavlink", source, raw, drone, device)
            if d.fixes > fixes:
                args = mavlink_telemetry(drone, d)
                if args is None:
                    status.ignore("no_fix")
                else:
                    self._telemetry("mavlink", source, raw, args, device)
        errors.quarantine(self.gateway, "mavlink", source, raw)

    # -- KLV -------------------------------------------------------------------------------------------

    def klv(self, source: str, raw: bytes, device: Device) -> None:
        """One datagram of ST 0601 packets; bad packets are quarantined (once) and the others still count."""
        errors = DatagramErrors()
        decoder = KlvStreamDecoder()
        for item in decoder.feed(raw) + decoder.finish():
            if isinstance(item, FeedError):
                errors.add(item.code, item.reason)
                continue
            name = self._klv_platforms.name(source, item)
            if name is None:
                errors.add("missing_field", "KLV packet names no platform (tail number, mission id or designation), "
                                            "nor did one before it")
                continue
            drone = unit_id_for(name)
            if not self._owned(device, drone, errors):
                continue
            try:
                args = klv_telemetry(drone, item)
            except FeedError as error:
                errors.add(error.code, error.reason)
                continue
            if self._ensure("klv", source, raw, drone, device):
                self._heard_from("klv", source, raw, drone, device)
                self._telemetry("klv", source, raw, args, device)
        errors.quarantine(self.gateway, "klv", source, raw)

    # -- CoT -------------------------------------------------------------------------------------------

    def cot_drone(self, source: str, raw: bytes, event: CotEvent, drone: str, device: Device) -> None:
        """A CoT drone's position (with its camera's `<sensor>`), and its `__video` if it carries one."""
        if not device.owns_drone(drone):
            self.gateway.refuse_not_owned("cot", source, raw, device, "drone", drone)
            return
        if not self._ensure("cot", source, raw, drone, device):
            return
        heading = event.track.course if event.track else None
        sensor = event.sensor
        values: dict[str, float | None] = {"heading": heading, "speed": event.track.speed if event.track else None}
        if event.hae < 9_999_999:  # CoT's "unknown"
            values["alt_m"] = event.hae
        if sensor is not None:
            values["hfov"], values["vfov"], values["gimbal_pitch"] = sensor.fov, sensor.vfov, sensor.elevation
            if sensor.azimuth is not None and heading is not None:  # CoT's azimuth is a true bearing
                values["gimbal_yaw"] = _relative(sensor.azimuth - heading)
        self._telemetry("cot", source, raw, telemetry_args(drone, event.lat, event.lon, event.time.timestamp(),
                                                           footprint=None, **values), device)
        if event.video is not None:
            self.cot_video(source, raw, drone, event.video, device)

    def cot_video(self, source: str, raw: bytes, drone: str, video: CotVideo, device: Device) -> None:
        """Publish a drone's video link (unchanged links are not sent again: drones repeat them)."""
        if not device.owns_drone(drone):
            self.gateway.refuse_not_owned("cot", source, raw, device, "drone", drone)
            return
        if not video.url.lower().startswith(FIELD_VIDEO_SCHEMES):
            self.gateway.feeds.quarantine("cot", source, "bad_url", f"a field device may publish only network "
                                          f"video ({', '.join(FIELD_VIDEO_SCHEMES)}), not {video.url[:100]!r}", raw)
            return
        known = self._picture.drones.get(drone)
        if known is not None and known.video_url == video.url:
            self.gateway.feeds.feed("cot").ignore("same_video")
            return
        self.gateway._submit("cot", source, raw, "drone.video", c.PublishDroneVideo(drone, video.url), device)
