"""MAVLink drone telemetry, sans-I/O, over pymavlink's reference parser.

:class:`MavlinkDecoder` takes datagrams (or any chunking of a serial/TCP byte stream), keeps one
:class:`DroneTelemetry` per MAVLink system id merged from the messages it has seen, and returns a
:class:`DroneUpdate` per message that changed something. Garbage and CRC failures never raise:
they are counted and returned as :class:`FeedError` records (code ``bad_crc`` or ``garbage``) with
the raw bytes in the reason, and parsing carries on at the next frame.

Messages are read with pymavlink's development dialect (common plus the messages still in development), for
GNSS_INTEGRITY: an autopilot's GNSS receiver saying it detects jamming or spoofing (`DroneTelemetry.gnss_warning`).

A decoder given a drone's signing state (:func:`signing_state`) takes MAVLink 2 signed frames only: an
unsigned frame, a wrong signature, or a timestamp not above the last one of its stream (a replay) is a
``bad_signature`` error, never applied.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import development as mavlink2

from app.feeds.errors import FeedError

MAV_MODE_FLAG_SAFETY_ARMED = 128
MAV_AUTOPILOT_INVALID = 8
MAV_TYPE_GCS = 6
UINT16_UNKNOWN = 0xFFFF
#: MAV_TYPE -> drone kind (any other airframe flies as a multirotor).
MAV_KINDS = {1: "fixed_wing", 19: "vtol", 20: "vtol", 21: "vtol", 22: "vtol", 23: "vtol", 24: "vtol", 25: "vtol"}
#: MAVLink 2 signing timestamps count 10 microsecond units since 2015-01-01 00:00:00 UTC.
SIGNING_EPOCH = 1420070400
SIGNATURE_LEN = 6
#: GNSS_INTEGRITY's jamming_state and spoofing_state value "detected" (GPS_JAMMING_STATE, GPS_SPOOFING_STATE):
#: "mitigated" (the receiver coped, its fix stands) and "unknown" are no warning.
GNSS_STATE_DETECTED = mavlink2.GPS_JAMMING_STATE_DETECTED


def signing_state(key: bytes, now: float) -> mavlink2.MAVLinkSigning:
    """A drone's signing state: its 32-byte secret key and the replay defence (the last timestamp of each stream,
    link id x system x component). Share one between all the decoders of a drone's frames. `now` (Unix seconds)
    starts the clock a new stream is held to: its first timestamp may be at most a minute behind it (the
    standard's rule), so frames recorded earlier than that are refused even after a restart."""
    state = mavlink2.MAVLinkSigning()
    state.secret_key = key
    state.timestamp = max(0, int((now - SIGNING_EPOCH) * 100_000))
    return state


class _VerifyingMavlink(mavlink2.MAVLink):
    """pymavlink's parser, checking a frame's signature before believing its timestamp."""

    def check_signature(self, msgbuf: bytearray, srcSystem: int, srcComponent: int) -> bool:
        # pymavlink records a frame's timestamp as its stream's last before it verifies the signature, so one
        # forged frame with a far-future timestamp would shut the real drone out; a forgery stops here instead.
        key = self.signing.secret_key or b""
        expected = hashlib.sha256(key + bytes(msgbuf[:-SIGNATURE_LEN])).digest()[:SIGNATURE_LEN]
        if expected != bytes(msgbuf[-SIGNATURE_LEN:]):
            return False
        return bool(super().check_signature(msgbuf, srcSystem, srcComponent))


@dataclass
class DroneTelemetry:
    """What we know of one drone. Degrees, metres, metres per second, percent; ``None`` = unknown.

    ``altitude_msl`` is GLOBAL_POSITION_INT's ``alt`` (metres above mean sea level),
    ``altitude_agl`` its ``relative_alt`` (above home, the best "above ground" MAVLink gives).
    Gimbal angles are the camera's: pitch 0 = horizon, -90 = straight down; yaw relative to the
    airframe unless the gimbal reports it in the earth frame (``gimbal_yaw_absolute``).
    """

    system_id: int
    vehicle_type: int | None = None
    armed: bool | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude_msl: float | None = None
    altitude_agl: float | None = None
    velocity_north: float | None = None
    velocity_east: float | None = None
    heading: float | None = None
    roll: float | None = None
    pitch: float | None = None
    yaw: float | None = None
    battery_percent: float | None = None
    gimbal_roll: float | None = None
    gimbal_pitch: float | None = None
    gimbal_yaw: float | None = None
    gimbal_yaw_absolute: float | None = None
    hfov: float | None = None
    vfov: float | None = None
    gnss_jamming: int | None = None  # GNSS_INTEGRITY jamming_state (GPS_JAMMING_STATE)
    gnss_spoofing: int | None = None  # GNSS_INTEGRITY spoofing_state (GPS_SPOOFING_STATE)
    messages: int = field(default=0, compare=False)
    #: Airframe HEARTBEATs and GLOBAL_POSITION_INTs seen, changed or not: a hovering drone repeats the same
    #: fix, and a link is alive as long as heartbeats come, though neither makes a `DroneUpdate`.
    heartbeats: int = field(default=0, compare=False)
    fixes: int = field(default=0, compare=False)

    @property
    def kind(self) -> str | None:
        """The drone kind its airframe's HEARTBEAT gives; None until one came (a fix may come first, and a fixed
        wing registered then would be drawn as a multirotor for good)."""
        if self.vehicle_type is None:
            return None
        return MAV_KINDS.get(self.vehicle_type, "multirotor")

    @property
    def gnss_warning(self) -> str | None:
        """"spoofing" or "jamming" while the autopilot's last GNSS_INTEGRITY says it detects it (spoofing first: it
        is the worse, a position that looks right and is not), else None."""
        if self.gnss_spoofing == GNSS_STATE_DETECTED:
            return "spoofing"
        if self.gnss_jamming == GNSS_STATE_DETECTED:
            return "jamming"
        return None

    @property
    def has_fix(self) -> bool:
        """A position is known. Autopilots send GLOBAL_POSITION_INT at 0,0 until their GPS has a lock."""
        return self.latitude is not None and self.longitude is not None \
            and not (self.latitude == 0 and self.longitude == 0)


@dataclass
class DroneUpdate:
    """The fields of one drone that a message changed (names as in :class:`DroneTelemetry`)."""

    system_id: int
    message: str
    changes: dict[str, Any]


def _quaternion_to_euler(q: list[float]) -> tuple[float, float, float]:
    """(roll, pitch, yaw) in degrees from a unit quaternion [w, x, y, z] (aerospace ZYX order)."""
    w, x, y, z = q
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return math.degrees(roll), math.degrees(pitch), math.degrees(yaw)


def _battery(remaining: int) -> float | None:
    return None if remaining < 0 else float(remaining)


def _fov_from_sensor(sensor_mm: float, focal_mm: float) -> float | None:
    if sensor_mm <= 0 or focal_mm <= 0:
        return None
    return math.degrees(2 * math.atan(sensor_mm / (2 * focal_mm)))


def _message_fields(msg: Any) -> dict[str, Any] | None:
    kind = msg.get_type()
    if kind == "HEARTBEAT":
        if msg.autopilot == MAV_AUTOPILOT_INVALID or msg.type == MAV_TYPE_GCS:
            return {}  # a gimbal, camera or ground station: not the airframe's state
        return {"vehicle_type": msg.type, "armed": bool(msg.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)}
    if kind == "GLOBAL_POSITION_INT":
        return {
            "latitude": msg.lat / 1e7,
            "longitude": msg.lon / 1e7,
            "altitude_msl": msg.alt / 1000.0,
            "altitude_agl": msg.relative_alt / 1000.0,
            "velocity_north": msg.vx / 100.0,
            "velocity_east": msg.vy / 100.0,
            "heading": None if msg.hdg == UINT16_UNKNOWN else msg.hdg / 100.0,
        }
    if kind == "ATTITUDE":
        return {"roll": math.degrees(msg.roll), "pitch": math.degrees(msg.pitch),
                "yaw": math.degrees(msg.yaw) % 360.0}
    if kind in ("BATTERY_STATUS", "SYS_STATUS"):
        return {"battery_percent": _battery(msg.battery_remaining)}
    if kind == "GIMBAL_DEVICE_ATTITUDE_STATUS":
        roll, pitch, yaw = _quaternion_to_euler(list(msg.q))
        return {"gimbal_roll": roll, "gimbal_pitch": pitch, "gimbal_yaw": yaw}
    if kind == "MOUNT_ORIENTATION":
        return {"gimbal_roll": msg.roll, "gimbal_pitch": msg.pitch, "gimbal_yaw": msg.yaw,
                "gimbal_yaw_absolute": msg.yaw_absolute}
    if kind == "GNSS_INTEGRITY":
        return {"gnss_jamming": msg.jamming_state, "gnss_spoofing": msg.spoofing_state}
    if kind == "CAMERA_FOV_STATUS":
        return {"hfov": msg.hfov, "vfov": msg.vfov}
    if kind == "CAMERA_INFORMATION":
        hfov = _fov_from_sensor(msg.sensor_size_h, msg.focal_length)
        vfov = _fov_from_sensor(msg.sensor_size_v, msg.focal_length)
        return {name: value for name, value in (("hfov", hfov), ("vfov", vfov)) if value is not None}
    return None


class MavlinkDecoder:
    """Bytes in, :class:`DroneUpdate` and :class:`FeedError` out; per-system state in ``drones``. With
    `signing` (:func:`signing_state`), only frames signed with its key, newer than their stream's last."""

    def __init__(self, signing: mavlink2.MAVLinkSigning | None = None) -> None:
        self._mav = _VerifyingMavlink(None)
        self._mav.robust_parsing = True  # bad frames come back as MAVLink_bad_data, not exceptions
        if signing is not None:
            self._mav.signing = signing  # no allow_unsigned_callback: an unsigned frame is refused
        self.drones: dict[int, DroneTelemetry] = {}
        self.messages = 0
        self.errors = 0
        self.ignored = 0

    def feed(self, data: bytes) -> list[DroneUpdate | FeedError]:
        """Parse a datagram (or a chunk of a byte stream); return updates and errors in order."""
        out: list[DroneUpdate | FeedError] = []
        garbage = bytearray()  # pymavlink may report garbage in pieces; report each run once
        for msg in self._parse(data):
            if isinstance(msg, mavlink2.MAVLink_bad_data):
                if str(msg.reason) == "Invalid signature":
                    self._flush_garbage(garbage, out)
                    self.errors += 1
                    out.append(FeedError("bad_signature", "unsigned, wrongly signed or replayed (timestamp not "
                                                          f"newer than its stream's) frame: "
                                                          f"{bytes(msg.data)[:64].hex()}"))
                elif "crc" in str(msg.reason).lower():
                    self._flush_garbage(garbage, out)
                    self.errors += 1
                    out.append(FeedError("bad_crc", f"{msg.reason}: {bytes(msg.data)[:64].hex()}"))
                else:
                    garbage += bytes(msg.data)
                continue
            self._flush_garbage(garbage, out)
            update = self._apply(msg)
            if update is not None:
                out.append(update)
        self._flush_garbage(garbage, out)
        return out

    def _apply(self, msg: Any) -> DroneUpdate | None:
        self.messages += 1
        values = _message_fields(msg)
        if values is None:
            self.ignored += 1
            return None
        system_id = msg.get_srcSystem()
        drone = self.drones.setdefault(system_id, DroneTelemetry(system_id))
        drone.messages += 1
        kind = msg.get_type()
        if kind == "HEARTBEAT" and values:
            drone.heartbeats += 1
        elif kind == "GLOBAL_POSITION_INT":
            drone.fixes += 1
        changes = {}
        for name, value in values.items():
            if getattr(drone, name) != value:
                setattr(drone, name, value)
                changes[name] = value
        return DroneUpdate(system_id, kind, changes) if changes else None

    def _flush_garbage(self, garbage: bytearray, out: list[DroneUpdate | FeedError]) -> None:
        if garbage:
            self.errors += 1
            out.append(FeedError("garbage", f"{len(garbage)} bytes outside any MAVLink frame: "
                                            f"{bytes(garbage[:64]).hex()}"))
            garbage.clear()

    def _parse(self, data: bytes) -> list[Any]:
        try:
            return self._mav.parse_buffer(data) or []
        except mavlink2.MAVError as error:  # robust parsing reports instead of raising; be sure
            return [mavlink2.MAVLink_bad_data(bytearray(data), str(error))]
