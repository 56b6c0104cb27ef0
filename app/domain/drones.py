"""Drones in the common picture: the aircraft, its camera's footprint, "look here" requests, and the
snapshots attached to incidents.

The fold handlers here are registered in `app.domain.picture`; the rules in `app.domain.drone_rules`.
Like the rest of the fold, nothing here consults a clock or refuses: given the same events, every picture
holds the same drones with the same footprints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shapely.geometry import Point, Polygon

from app.domain import events as ev
from app.domain.events import Event
from app.domain.footprint import camera_footprint
from app.domain.plausibility import Fix, advance

if TYPE_CHECKING:
    from app.domain.picture import Picture

#: How many points of a drone's track a picture keeps (10 minutes at 1 Hz).
TRACK_KEPT = 600
#: A footprint given by the drone's metadata (KLV corners) stands until a fix this much newer without one.
GIVEN_FOOTPRINT_S = 5.0

LatLon = tuple[float, float]


@dataclass(slots=True)
class LookRequest:
    """A dispatcher's "look here" for a drone's operator, open until acknowledged."""

    id: str
    lat: float
    lon: float
    note: str
    requested_by: str
    requested_at: float
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None


@dataclass(slots=True)
class Attachment:
    """A snapshot (JPEG or PNG, base64) attached to an incident, e.g. a frame of a drone's video."""

    id: str
    incident: str
    mime: str
    data_b64: str
    caption: str
    source: str
    added_by: str
    added_at: float


@dataclass(slots=True)
class Drone:
    """An unmanned aircraft with a camera, as its telemetry last described it."""

    id: str  # the callsign, e.g. "UAV1"
    agency: str
    operator: str  # user who registered/flies it; "" for a drone known only from a feed
    kind: str = "multirotor"
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None  # above mean sea level
    agl_m: float | None = None  # above ground: what the footprint maths needs
    heading: float | None = None  # degrees true
    speed: float | None = None  # m/s over ground
    pitch: float | None = None
    roll: float | None = None
    gimbal_pitch: float | None = None  # degrees, negative = looking down
    gimbal_yaw: float | None = None  # degrees relative to the airframe's heading
    hfov: float | None = None
    vfov: float | None = None
    battery: float | None = None  # percent remaining
    link: str = "up"  # "up" | "lost"
    incident: str | None = None
    video_url: str = ""
    footprint: list[LatLon] | None = None  # ground polygon (lat, lon)
    footprint_given: bool = False  # True: from the drone's own metadata (KLV corners); False: computed here
    footprint_at: float | None = None
    telemetry_at: float | None = None
    suspect: str = ""  # the intrusion-detection rule that doubts the current position ("" when believed)
    track: list[tuple[float, float, float]] = field(default_factory=list)  # (t, lat, lon), oldest first
    look: LookRequest | None = None


#: Telemetry fields copied from a `drone.telemetry` event onto the drone when present.
TELEMETRY_FIELDS = ("alt_m", "agl_m", "heading", "speed", "pitch", "roll", "gimbal_pitch", "gimbal_yaw",
                    "hfov", "vfov", "battery")


def computed_footprint(drone: Drone) -> list[LatLon] | None:
    """The flat-ground footprint from the drone's position, height, heading, gimbal and field of view,
    or None while any of them is unknown. The gimbal is taken as stabilised (no roll)."""
    if (drone.lat is None or drone.lon is None or drone.agl_m is None or drone.heading is None
            or drone.gimbal_pitch is None or drone.hfov is None or drone.vfov is None):
        return None
    fp = camera_footprint(drone.lat, drone.lon, drone.agl_m, drone.heading, drone.gimbal_pitch,
                          drone.hfov, drone.vfov, yaw=drone.gimbal_yaw or 0.0)
    return fp.corners


def footprint_polygon(drone: Drone) -> Polygon | None:
    """The drone's footprint as a shapely polygon (x=lon, y=lat), or None."""
    if not drone.footprint or len(drone.footprint) < 3:
        return None
    return Polygon([(lon, lat) for lat, lon in drone.footprint])


def inside_footprint(drone: Drone, picture: Picture) -> tuple[list[str], list[str]]:
    """(incident ids, unit ids) of open incidents and positioned units on the ground the camera sees."""
    polygon = footprint_polygon(drone)
    if polygon is None or not polygon.is_valid:
        return [], []
    incidents = sorted(i.id for i in picture.incidents.values()
                       if i.status != "closed" and polygon.covers(Point(i.lon, i.lat)))
    units = sorted(u.id for u in picture.units.values()
                   if u.lat is not None and u.lon is not None and polygon.covers(Point(u.lon, u.lat)))
    return incidents, units


# --- the fold ---------------------------------------------------------------------------------------------

def _registered(p: Picture, e: Event) -> None:
    d = e.data
    p.drones[d["id"]] = Drone(id=d["id"], agency=d["agency"], operator=d.get("operator", ""),
                              kind=d.get("kind", "multirotor"))


def _retired(p: Picture, e: Event) -> None:
    p.drones.pop(e.data["drone"], None)
    p.tracks.pop(track_key(e.data["drone"]), None)


def track_key(drone_id: str) -> str:
    """A drone's key in `Picture.tracks` (units are keyed by their callsign)."""
    return f"drone:{drone_id}"


def _telemetry(p: Picture, e: Event) -> None:
    d = e.data
    drone = p.drones.get(d["drone"])
    if drone is None:
        return
    t = d.get("t", e.ts)
    drone.lat, drone.lon = d["lat"], d["lon"]
    for name in TELEMETRY_FIELDS:
        if name in d:
            setattr(drone, name, d[name])
    drone.telemetry_at = t
    drone.suspect = d.get("suspect", "")
    key = track_key(drone.id)
    fix = Fix(d["lat"], d["lon"], t, e.actor, e.ts, d.get("speed"))
    p.tracks[key] = advance(p.tracks.get(key), fix, bool(drone.suspect))
    drone.track.append((t, d["lat"], d["lon"]))
    if len(drone.track) > TRACK_KEPT:
        del drone.track[: len(drone.track) - TRACK_KEPT]
    if d.get("footprint"):
        drone.footprint = [(pt[0], pt[1]) for pt in d["footprint"]]
        drone.footprint_given, drone.footprint_at = True, t
    elif not (drone.footprint_given and drone.footprint_at is not None and t - drone.footprint_at < GIVEN_FOOTPRINT_S):
        # The drone's own corners stand for a while (KLV and MAVLink may arrive interleaved); after that,
        # or if there never were any, the footprint is cast from what the telemetry says.
        drone.footprint = computed_footprint(drone)
        drone.footprint_given, drone.footprint_at = False, t if drone.footprint else None


def _link(p: Picture, e: Event) -> None:
    drone = p.drones.get(e.data["drone"])
    if drone is not None:
        drone.link = e.data["state"]


def _video(p: Picture, e: Event) -> None:
    drone = p.drones.get(e.data["drone"])
    if drone is not None:
        drone.video_url = e.data["url"]


def _assigned(p: Picture, e: Event) -> None:
    drone = p.drones.get(e.data["drone"])
    if drone is not None:
        drone.incident = e.data.get("incident")


def _look_requested(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    d = e.data
    drone = p.drones.get(d["drone"])
    if drone is not None:
        drone.look = LookRequest(id=d["id"], lat=d["lat"], lon=d["lon"], note=d.get("note", ""),
                                 requested_by=e.actor, requested_at=e.ts)


def _look_acknowledged(p: Picture, e: Event) -> None:
    drone = p.drones.get(e.data["drone"])
    if drone is not None and drone.look is not None and drone.look.id == e.data["request"]:
        drone.look.acknowledged_by, drone.look.acknowledged_at = e.actor, e.ts


def _attached(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    d = e.data
    incident = p.incidents.get(d["incident"])
    if incident is not None:
        incident.attachments.append(Attachment(
            id=d["id"], incident=d["incident"], mime=d["mime"], data_b64=d["data_b64"],
            caption=d.get("caption", ""), source=d.get("source", ""), added_by=e.actor, added_at=e.ts))


#: Event kind -> fold handler, merged into the picture's handlers.
DRONE_HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.DRONE_REGISTERED: _registered,
    ev.DRONE_RETIRED: _retired,
    ev.DRONE_TELEMETRY: _telemetry,
    ev.DRONE_LINK: _link,
    ev.DRONE_VIDEO: _video,
    ev.DRONE_ASSIGNED: _assigned,
    ev.DRONE_LOOK_REQUESTED: _look_requested,
    ev.DRONE_LOOK_ACKNOWLEDGED: _look_acknowledged,
    ev.INCIDENT_ATTACHED: _attached,
}
