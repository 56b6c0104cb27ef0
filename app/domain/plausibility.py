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
#: How far off a fix's own time may be: many receivers stamp whole seconds (NMEA), others the moment they
#: send rather than the fix. It is added to the time between two fixes before a speed is computed, so two
#: fixes a fraction of a second apart do not make a parked unit a rocket.
TIME_JITTER_S = 1.0
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
#: Report-rate window. The most fixes one track may send in it is its kind's `Limits.max_fixes`: 30 for
#: vehicles (the simulator sends one every 2 s; a fast AVL box one a second), 300 for drones (autopilots
#: send MAVLink positions at 4-10 Hz, and KLV comes with the video).
RATE_WINDOW_S = 10.0
#: Acceleration and reported-speed checks use segments at least this long (shorter ones are all jitter).
MIN_SEGMENT_S = 1.0
#: Acceleration is judged only over segments no longer than this (over a longer one anything averages out).
MAX_SEGMENT_S = 10.0
#: A reported speed this much above what the fixes show (or above the kind's maximum) is tampered with.
SPEED_CLAIM_MARGIN_MS = 25.0
#: Two fixes that both say the unit stands still (reported speed under `STILL_MS`) yet lie this far apart:
#: the position was moved under it (an offset injected while parked, where the time between fixes is long).
STILL_MS = 1.0
STANDING_JUMP_M = 150.0
#: A unit that keeps claiming speed (at least `MOVING_MS`) while its fixes stay put (within `JITTER_M`) for
#: this much claimed distance: its position is stale or frozen.
MOVING_MS = 3.0
FROZEN_M = 200.0
#: A device registering more new units than this within the window (its TAK server forwarding callsigns it
#: may report for, but nobody has seen yet) is making up identities: a Sybil attack. A new device forwarding
#: a fleet raises this once, at installation.
SYBIL_WINDOW_S = 600.0
SYBIL_COUNT = 10
#: How many of the ids a device made up a Sybil finding quotes (`named_stranger`).
SYBIL_EXAMPLES = 3
#: The prefix of a field device's actor in the log (`app.hub.gateway.device_actor`).
DEVICE_PREFIX = "device:"
#: What a GNSS receiver or autopilot says of its own fix when it doubts it, as the field's formats carry it (the
#: feeds map theirs: MAVLink GNSS_INTEGRITY's jamming or spoofing state "detected", NMEA 4.10's navigational status
#: "U", unsafe, in RMC or GNS), and the rule each raises. The device's own word outranks every other rule: its fix
#: is applied and marked suspect whatever the track says.
GNSS_WARNINGS: dict[str, str] = {"jamming": "gnss_jamming", "spoofing": "gnss_spoofing", "unsafe": "gnss_unsafe"}


@dataclass(frozen=True, slots=True)
class Limits:
    """What a kind of vehicle can do: top speed (m/s) and acceleration or braking (m/s²); and the most fixes
    its devices send in `RATE_WINDOW_S`."""

    max_speed: float
    max_accel: float
    max_fixes: int = 30


# Accelerations are judged between two segments' average speeds, from fixes with jitter, so the limit is
# 2 g (no road vehicle brakes or pulls away at that) rather than the 0.5-1 g vehicles really do.
_ROAD = Limits(70.0, 20.0)  # a patrol car on a motorway (250 km/h)
_HEAVY = Limits(40.0, 20.0)  # fire apparatus (144 km/h)
#: Unit and drone kind -> its limits; unknown kinds get `_ROAD`.
LIMITS: dict[str, Limits] = {
    "engine": _HEAVY, "ladder": _HEAVY, "rescue": _HEAVY, "hazmat": _HEAVY,
    "fire_command": Limits(55.0, 20.0), "ambulance": Limits(55.0, 20.0), "medic": Limits(55.0, 20.0),
    "ems_command": Limits(55.0, 20.0), "patrol": _ROAD, "k9": _ROAD, "police_command": _ROAD,
    "boat": Limits(30.0, 10.0),
    "drone": Limits(40.0, 30.0, 300), "multirotor": Limits(40.0, 30.0, 300), "vtol": Limits(60.0, 30.0, 300),
    "fixed_wing": Limits(80.0, 30.0, 300), "tethered": Limits(5.0, 10.0, 300),
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
    segment_s: float = 0.0  # the time between the last two fixes, over which `speed` is the average
    window_at: float = 0.0  # start of the report-rate window (hub time)
    window_count: int = 0
    reported_speed: float | None = None  # the speed the last fix itself reported
    claimed_m: float = 0.0  # distance claimed by reported speeds while the fixes stayed put


@dataclass(frozen=True, slots=True)
class Fix:
    """A position offered for a unit or drone."""

    lat: float
    lon: float
    t: float
    source: str
    received: float
    reported_speed: float | None = None
    gnss: str | None = None  # the receiver's own warning (a key of `GNSS_WARNINGS`), None when it has none


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a fix is suspect: the rule, and the figures that show it."""

    rule: str
    evidence: dict[str, Any]


def is_device(actor: str) -> bool:
    """Whether an actor is a field device: intrusion detection judges the fixes of field devices only (people
    and feeds signed in over the websocket are accounts the control room trusts)."""
    return actor.startswith(DEVICE_PREFIX)


def is_replay(track: Track | None, t: float) -> Finding | None:
    """A fix older than the track's last by more than `REPLAY_S` (the rules refuse any fix not newer, so this
    one is never applied; it is reported)."""
    if track is None or t >= track.t - REPLAY_S:
        return None
    return Finding("replay", {"t": t, "last_t": track.t, "age_s": round(track.t - t, 1)})


def check(track: Track | None, fix: Fix, limits: Limits) -> Finding | None:
    """The first rule a fix newer than the track's last breaks, or None when it is plausible."""
    if fix.gnss is not None:
        return Finding(GNSS_WARNINGS[fix.gnss], {"gnss": fix.gnss})
    ahead = fix.t - fix.received
    if ahead > FUTURE_S:
        return Finding("future", {"t": fix.t, "received": fix.received, "ahead_s": round(ahead, 1)})
    if fix.reported_speed is not None and fix.reported_speed > limits.max_speed:
        return Finding("speed_claim", {"reported_ms": fix.reported_speed, "limit_ms": limits.max_speed})
    if track is None:
        return None
    if fix.source != track.source and is_device(track.source) and fix.received - track.received < CLASH_S:
        apart = _distance(track, fix)
        if apart > CLASH_M:
            return Finding("identity_clash", {"other_device": track.source, "other_lat": track.lat,
                                              "other_lon": track.lon, "distance_m": round(apart),
                                              "apart_s": round(fix.received - track.received, 1)})
    if fix.received - track.window_at < RATE_WINDOW_S and track.window_count >= limits.max_fixes:
        return Finding("report_rate", {"fixes": track.window_count + 1, "window_s": RATE_WINDOW_S,
                                       "limit": limits.max_fixes})
    return _motion(track, fix, limits)


def _distance(track: Track, fix: Fix) -> float:
    return fast_distance_m((track.lat, track.lon), (fix.lat, fix.lon))


def _speed(distance: float, dt: float) -> float:
    """The least speed that covers `distance` in `dt`, jitter in place and time allowed for."""
    return max(0.0, distance - JITTER_M) / (dt + TIME_JITTER_S)


def _motion(track: Track, fix: Fix, limits: Limits) -> Finding | None:
    dt = fix.t - track.t
    if dt <= 0:
        return None
    distance = _distance(track, fix)
    speed = _speed(distance, dt)
    evidence = {"distance_m": round(distance), "dt_s": round(dt, 3), "speed_ms": round(speed, 1),
                "limit_ms": limits.max_speed, "from_lat": track.lat, "from_lon": track.lon}
    if speed > limits.max_speed:
        return Finding("teleport" if distance >= TELEPORT_M else "speed", evidence)
    if track.speed is not None and MIN_SEGMENT_S <= dt <= MAX_SEGMENT_S \
            and MIN_SEGMENT_S <= track.segment_s <= MAX_SEGMENT_S:
        # Two average speeds, one per segment: they are the speeds at the segments' middles.
        accel = abs(speed - track.speed) / ((dt + track.segment_s) / 2)
        if accel > limits.max_accel:
            return Finding("acceleration", {**evidence, "previous_ms": round(track.speed, 1),
                                            "accel_ms2": round(accel, 1), "limit_ms2": limits.max_accel})
    if fix.reported_speed is None:
        return None
    if dt >= MIN_SEGMENT_S:
        most = (distance + JITTER_M) / dt
        if fix.reported_speed > most + SPEED_CLAIM_MARGIN_MS:
            return Finding("speed_claim", {**evidence, "reported_ms": fix.reported_speed,
                                           "shown_at_most_ms": round(most, 1)})
    if (distance > STANDING_JUMP_M and fix.reported_speed < STILL_MS and track.reported_speed is not None
            and track.reported_speed < STILL_MS):
        return Finding("standing_jump", {**evidence, "reported_ms": fix.reported_speed})
    claimed = _claimed(track, fix, distance)
    if claimed > FROZEN_M:
        return Finding("frozen", {**evidence, "reported_ms": fix.reported_speed, "claimed_m": round(claimed)})
    return None


def _claimed(track: Track, fix: Fix, distance: float) -> float:
    """The distance the reported speeds claim since the fixes last moved (0 once they move or stop claiming).
    A segment counts only when the fixes at both its ends claim speed (a unit that reports its first fix as it
    pulls out, from where it stood, has claimed nothing yet), and for at most `MAX_SEGMENT_S`."""
    if distance > JITTER_M or fix.reported_speed is None or fix.reported_speed < MOVING_MS \
            or track.reported_speed is None or track.reported_speed < MOVING_MS:
        return 0.0
    return track.claimed_m + fix.reported_speed * min(MAX_SEGMENT_S, max(0.0, fix.t - track.t))


def advance(track: Track | None, fix: Fix, suspect: bool = False) -> Track:
    """The track after an applied fix (the fold's step). Suspect fixes move it too, so a unit that really was
    moved is doubted once, not for ever; the speed of a jump to or from a suspect fix is not kept, so the next
    fix is not also judged against it (as an acceleration)."""
    if track is None:
        return Track(fix.lat, fix.lon, fix.t, fix.source, fix.received, None, 0.0, fix.received, 1,
                     fix.reported_speed)
    dt = fix.t - track.t
    distance = _distance(track, fix)
    speed = None if suspect or dt <= 0 else _speed(distance, dt)
    if fix.received - track.window_at < RATE_WINDOW_S:
        window_at, count = track.window_at, track.window_count + 1
    else:
        window_at, count = fix.received, 1
    # A frozen track stays where it froze (its anchor), so the claimed distance keeps adding up.
    claimed = _claimed(track, fix, distance)
    lat, lon = (track.lat, track.lon) if claimed > 0 else (fix.lat, fix.lon)
    return Track(lat, lon, fix.t, fix.source, fix.received, speed, max(dt, 0.0), window_at, count,
                 fix.reported_speed, claimed)


@dataclass(slots=True)
class Registrar:
    """How many units one device registered lately (for the Sybil rule)."""

    window_at: float  # hub time the window started
    count: int


def is_sybil(registrar: Registrar | None, now: float) -> Finding | None:
    """A device registering one unit too many within `SYBIL_WINDOW_S`."""
    if registrar is None or now - registrar.window_at >= SYBIL_WINDOW_S or registrar.count < SYBIL_COUNT:
        return None
    return Finding("sybil", {"new_units": registrar.count + 1, "window_s": SYBIL_WINDOW_S, "limit": SYBIL_COUNT})


def registered(registrar: Registrar | None, now: float) -> Registrar:
    """The registrar after the device registered one more unit at `now` (the fold's step)."""
    if registrar is None or now - registrar.window_at >= SYBIL_WINDOW_S:
        return Registrar(now, 1)
    return Registrar(registrar.window_at, registrar.count + 1)


@dataclass(frozen=True, slots=True)
class Strangers:
    """The distinct units and drones one device named lately that it may not report for or that do not exist
    (the Sybil rule for a device that cannot create them: its fixes are refused, so no registration counts them).
    At most `SYBIL_COUNT` ids, whatever the device sends."""

    window_at: float  # hub time the window started
    names: frozenset[str]
    raised: bool = False  # this window's finding was raised


def named_stranger(seen: Strangers | None, name: str, now: float) -> tuple[Strangers, Finding | None]:
    """The device's strangers after it named `name` (a unit or drone it was refused for) at `now`, and the Sybil
    finding when `name` is one distinct stranger more than `SYBIL_COUNT` within `SYBIL_WINDOW_S`: raised once
    per window, however many it names after that. A device naming one wrong unit again and again raises
    nothing."""
    if seen is None or now - seen.window_at >= SYBIL_WINDOW_S:
        seen = Strangers(now, frozenset())
    if seen.raised or name in seen.names:
        return seen, None
    if len(seen.names) < SYBIL_COUNT:
        return Strangers(seen.window_at, seen.names | {name}), None
    examples = [*sorted(seen.names)[:SYBIL_EXAMPLES - 1], name]
    return Strangers(seen.window_at, seen.names, True), Finding("sybil", {
        "unknown_ids": SYBIL_COUNT + 1, "examples": examples, "window_s": SYBIL_WINDOW_S, "limit": SYBIL_COUNT})
