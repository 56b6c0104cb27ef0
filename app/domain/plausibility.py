"""Intrusion detection on field positions: is a fix one the unit (or drone) could really have sent?

Each unit and drone has a `Track`: its last fix, where it came from, and a small report-rate window. A new
fix is checked against it (`check`, called by the rules before a position is accepted) and, once the event is
sequenced, the fold moves the track on (`advance`). The track lives in the picture and is moved only by the
fold, so replaying the log rebuilds the same tracks, and the findings are events (`security.alert`), never
recomputed. A suspect fix is still applied, with the rule that doubted it (`suspect`): it is shown as
suspect, neither silently dropped nor silently believed.

Pure and cheap: one dict lookup and a haversine per fix, no clock (times are passed in), a fixed size per
track. Thresholds and what each rule does not catch are in docs/security.md, "Intrusion detection".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.geo import fast_distance_m

#: How far a still receiver's fixes wander (GPS jitter, and rounding to 6 decimals): distance under this
#: between two fixes is not counted as motion.
JITTER_M = 30.0
#: A jump at least this long that no vehicle of the kind could have made is a teleport (or a sudden
#: appearance far from the last fix, after a gap), rather than speeding.
TELEPORT_M = 1000.0
#: A fix stamped further than this ahead of the hub's clock (up to the 30 s `check_time` refuses).
FUTURE_S = 5.0
#: A fix older than the track's last by more than this is a replay, not a datagram overtaken in flight.
REPLAY_S = 30.0
#: Two devices reporting one unit within this time, this far apart: an identity clash. (Two devices on one
#: vehicle, a TAK phone and an AVL box, agree on where it is.)
CLASH_S = 60.0
CLASH_M = 200.0
#: Report-rate window and the most fixes one track may send in it (the simulator sends one every 2 s; a
#: fast AVL box one a second).
RATE_WINDOW_S = 10.0
MAX_FIXES_PER_WINDOW = 30
#: Acceleration and reported-speed checks use segments at least this long (shorter ones are all jitter).
MIN_SEGMENT_S = 1.0
#: Acceleration is judged only over segments no longer than this (over a longer one anything averages out).
MAX_SEGMENT_S = 10.0
#: A reported speed this much above what the fixes show (or above the kind's maximum) is tampered with.
SPEED_CLAIM_MARGIN_MS = 25.0
#: The prefix of a field device's actor in the log (`app.hub.gateway.device_actor`).
DEVICE_PREFIX = "device:"


@dataclass(frozen=True, slots=True)
class Limits:
    """What a kind of vehicle can do: top speed (m/s) and acceleration or braking (m/s²)."""

    max_speed: float
    max_accel: float


_ROAD = Limits(70.0, 12.0)  # a patrol car on a motorway (250 km/h); above 1 g no wheeled vehicle keeps up
_HEAVY = Limits(40.0, 12.0)  # fire apparatus (144 km/h)
#: Unit and drone kind -> its limits; unknown kinds get `_ROAD`.
LIMITS: dict[str, Limits] = {
    "engine": _HEAVY, "ladder": _HEAVY, "rescue": _HEAVY, "hazmat": _HEAVY,
    "fire_command": Limits(55.0, 12.0), "ambulance": Limits(55.0, 12.0), "medic": Limits(55.0, 12.0),
    "ems_command": Limits(55.0, 12.0), "patrol": _ROAD, "k9": _ROAD, "police_command": _ROAD,
    "boat": Limits(30.0, 8.0),
    "drone": Limits(40.0, 20.0), "multirotor": Limits(40.0, 20.0), "vtol": Limits(60.0, 20.0),
    "fixed_wing": Limits(80.0, 20.0), "tethered": Limits(5.0, 10.0),
}


def limits_of(kind: str) -> Limits:
    """The limits of a unit or drone kind."""
    return LIMITS.get(kind, _ROAD)


@dataclass(slots=True)
class Track:
    """What the fold remembers of one unit's or drone's positions: a fixed size whatever it sends."""

    lat: float
    lon: float
    t: float  # the last fix's own time
    source: str  # who sent it (`device:<id>`, or a feed or person)
    received: float  # when the hub took it
    speed: float | None = None  # over ground between the last two fixes, m/s (jitter taken off)
    window_at: float = 0.0  # start of the report-rate window (hub time)
    window_count: int = 0


@dataclass(frozen=True, slots=True)
class Fix:
    """A position offered for a unit or drone."""

    lat: float
    lon: float
    t: float
    source: str
    received: float
    reported_speed: float | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a fix is suspect: the rule, and the figures that show it."""

    rule: str
    evidence: dict[str, Any]


def is_replay(track: Track | None, t: float) -> Finding | None:
    """A fix older than the track's last by more than `REPLAY_S` (the rules refuse any fix not newer, so this
    one is never applied; it is reported)."""
    if track is None or t >= track.t - REPLAY_S:
        return None
    return Finding("replay", {"t": t, "last_t": track.t, "age_s": round(track.t - t, 1)})


def check(track: Track | None, fix: Fix, limits: Limits) -> Finding | None:
    """The first rule a fix newer than the track's last breaks, or None when it is plausible."""
    ahead = fix.t - fix.received
    if ahead > FUTURE_S:
        return Finding("future", {"t": fix.t, "received": fix.received, "ahead_s": round(ahead, 1)})
    if fix.reported_speed is not None and fix.reported_speed > limits.max_speed:
        return Finding("speed_claim", {"reported_ms": fix.reported_speed, "limit_ms": limits.max_speed})
    if track is None:
        return None
    if (fix.source != track.source and fix.source.startswith(DEVICE_PREFIX)
            and track.source.startswith(DEVICE_PREFIX) and fix.received - track.received < CLASH_S):
        apart = _distance(track, fix)
        if apart > CLASH_M:
            return Finding("identity_clash", {"other_device": track.source, "other_lat": track.lat,
                                              "other_lon": track.lon, "distance_m": round(apart),
                                              "apart_s": round(fix.received - track.received, 1)})
    if fix.received - track.window_at < RATE_WINDOW_S and track.window_count >= MAX_FIXES_PER_WINDOW:
        return Finding("report_rate", {"fixes": track.window_count + 1, "window_s": RATE_WINDOW_S,
                                       "limit": MAX_FIXES_PER_WINDOW})
    return _motion(track, fix, limits)


def _distance(track: Track, fix: Fix) -> float:
    return fast_distance_m((track.lat, track.lon), (fix.lat, fix.lon))


def _motion(track: Track, fix: Fix, limits: Limits) -> Finding | None:
    dt = fix.t - track.t
    if dt <= 0:
        return None
    distance = _distance(track, fix)
    speed = max(0.0, distance - JITTER_M) / dt
    evidence = {"distance_m": round(distance), "dt_s": round(dt, 3), "speed_ms": round(speed, 1),
                "limit_ms": limits.max_speed, "from_lat": track.lat, "from_lon": track.lon}
    if speed > limits.max_speed:
        return Finding("teleport" if distance >= TELEPORT_M else "speed", evidence)
    if track.speed is not None and MIN_SEGMENT_S <= dt <= MAX_SEGMENT_S:
        accel = abs(speed - track.speed) / dt
        if accel > limits.max_accel:
            return Finding("acceleration", {**evidence, "previous_ms": round(track.speed, 1),
                                            "accel_ms2": round(accel, 1), "limit_ms2": limits.max_accel})
    if fix.reported_speed is not None and dt >= MIN_SEGMENT_S:
        most = (distance + JITTER_M) / dt
        if fix.reported_speed > most + SPEED_CLAIM_MARGIN_MS:
            return Finding("speed_claim", {**evidence, "reported_ms": fix.reported_speed,
                                           "shown_at_most_ms": round(most, 1)})
    return None


def advance(track: Track | None, fix: Fix, suspect: bool = False) -> Track:
    """The track after an applied fix (the fold's step). Suspect fixes move it too, so a unit that really was
    moved is doubted once, not for ever; the speed of a jump to or from a suspect fix is not kept, so the next
    fix is not also judged against it (as an acceleration)."""
    if track is None:
        return Track(fix.lat, fix.lon, fix.t, fix.source, fix.received, None, fix.received, 1)
    dt = fix.t - track.t
    speed = None if suspect or dt <= 0 else max(0.0, _distance(track, fix) - JITTER_M) / dt
    if fix.received - track.window_at < RATE_WINDOW_S:
        window_at, count = track.window_at, track.window_count + 1
    else:
        window_at, count = fix.received, 1
    return Track(fix.lat, fix.lon, fix.t, fix.source, fix.received, speed, window_at, count)
