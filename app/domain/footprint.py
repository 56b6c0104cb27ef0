"""The camera footprint: the patch of ground a drone's camera sees, over flat ground.

Geometry in a local east-north-up frame at the drone, ``altitude_agl`` metres above the ground.
The boresight points at azimuth ``heading + yaw`` (degrees clockwise from true north; ``yaw`` is the
gimbal's pan relative to the airframe) and elevation ``pitch`` (0 = horizon, -90 = straight down).
Each image corner is the ray ``forward + x tan(hfov/2) right + y tan(vfov/2) up`` with x, y = ±1,
turned by ``roll`` (positive: image rotated clockwise as seen by the camera, its right side down),
and meets the ground at ``t = altitude / -dz``. A ray that points at or above the horizon, or meets
the ground beyond ``max_range``, is cut at ``max_range`` metres horizontally and the footprint says
``clipped=True``: what lies beyond is sky or too far to matter. Local metres become lat/lon with the
WGS84 radii of curvature at the drone's latitude (error well under a metre at 2 km).

Corners are in image order, as MISB ST 0601 numbers them: upper left, upper right, lower right,
lower left. Points are (lat, lon); shapely polygons are (x=lon, y=lat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from shapely.geometry import Point, Polygon

DEFAULT_MAX_RANGE_M = 2000.0
_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.694_379_990_14e-3

LatLon = tuple[float, float]
Vector = tuple[float, float, float]


@dataclass(frozen=True)
class Footprint:
    """Ground corners (lat, lon) in image order, the boresight's ground point, and whether any
    ray was cut at the maximum range."""

    corners: list[LatLon]
    center: LatLon | None
    clipped: bool

    @property
    def polygon(self) -> Polygon:
        """The footprint as a shapely polygon in (lon, lat)."""
        return footprint_polygon(self)

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the ground point lies inside the footprint (edges included)."""
        return bool(self.polygon.covers(Point(lon, lat)))


def footprint_polygon(footprint: Footprint) -> Polygon:
    """Shapely polygon (x=lon, y=lat) of a footprint's corners."""
    return Polygon([(lon, lat) for lat, lon in footprint.corners])


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of latitude, metres per degree of longitude) at ``lat`` on WGS84."""
    phi = math.radians(lat)
    w = 1.0 - _WGS84_E2 * math.sin(phi) ** 2
    meridional = _WGS84_A * (1.0 - _WGS84_E2) / w**1.5
    prime_vertical = _WGS84_A / math.sqrt(w)
    return math.radians(1.0) * meridional, math.radians(1.0) * prime_vertical * math.cos(phi)


def offset_latlon(lat: float, lon: float, east_m: float, north_m: float) -> LatLon:
    """The point ``east_m``/``north_m`` metres from (lat, lon)."""
    per_lat, per_lon = metres_per_degree(lat)
    return lat + north_m / per_lat, lon + east_m / per_lon


def _ground_point(ray: Vector, altitude: float, max_range: float) -> tuple[float, float, bool]:
    """(east, north, clipped) where the ray from the camera meets the ground."""
    dx, dy, dz = ray
    horizontal = math.hypot(dx, dy)
    if dz < 0:
        t = altitude / -dz
        if t * horizontal <= max_range:
            return t * dx, t * dy, False
    if horizontal < 1e-12:  # straight up: no direction to clip along
        return 0.0, 0.0, True
    return dx / horizontal * max_range, dy / horizontal * max_range, True


def camera_footprint(
    lat: float,
    lon: float,
    altitude_agl: float,
    heading: float,
    pitch: float,
    hfov: float,
    vfov: float,
    roll: float = 0.0,
    yaw: float = 0.0,
    max_range: float = DEFAULT_MAX_RANGE_M,
) -> Footprint:
    """Cast the boresight and the four corner rays onto flat ground (angles in degrees)."""
    azimuth = math.radians(heading + yaw)
    elevation = math.radians(pitch)
    forward = (
        math.sin(azimuth) * math.cos(elevation),
        math.cos(azimuth) * math.cos(elevation),
        math.sin(elevation),
    )
    right0 = (math.cos(azimuth), -math.sin(azimuth), 0.0)
    up0 = _cross(right0, forward)
    r = math.radians(roll)
    right = _add(_scale(right0, math.cos(r)), _scale(up0, -math.sin(r)))
    up = _add(_scale(up0, math.cos(r)), _scale(right0, math.sin(r)))
    half_h = math.tan(math.radians(hfov) / 2)
    half_v = math.tan(math.radians(vfov) / 2)
    altitude = max(altitude_agl, 0.0)
    clipped = False
    corners = []
    for x, y in ((-1, 1), (1, 1), (1, -1), (-1, -1)):
        ray = _add(forward, _add(_scale(right, x * half_h), _scale(up, y * half_v)))
        east, north, cut = _ground_point(ray, altitude, max_range)
        clipped |= cut
        corners.append(offset_latlon(lat, lon, east, north))
    east, north, _ = _ground_point(forward, altitude, max_range)
    return Footprint(corners, offset_latlon(lat, lon, east, north), clipped)


def footprint_from_corners(corners: list[LatLon], center: LatLon | None = None) -> Footprint:
    """A footprint given by its corners (as KLV's corner tags give it), never clipped."""
    if len(corners) != 4:
        raise ValueError(f"a footprint has 4 corners, got {len(corners)}")
    if center is None:
        center = (sum(c[0] for c in corners) / 4, sum(c[1] for c in corners) / 4)
    return Footprint(list(corners), center, False)


class KlvGeometry(Protocol):
    """The ST 0601 fields a footprint needs (app.feeds.klv.KlvPacket has them)."""

    sensor_latitude: float | None
    sensor_longitude: float | None
    sensor_altitude: float | None
    platform_heading: float | None
    platform_pitch: float | None
    sensor_relative_azimuth: float | None
    sensor_relative_elevation: float | None
    sensor_relative_roll: float | None
    sensor_hfov: float | None
    sensor_vfov: float | None
    frame_center_elevation: float | None

    @property
    def corners(self) -> list[LatLon] | None: ...

    @property
    def frame_center(self) -> LatLon | None: ...


def footprint_from_klv(
    packet: KlvGeometry, ground_elevation: float | None = None, max_range: float = DEFAULT_MAX_RANGE_M
) -> Footprint | None:
    """The footprint of a KLV packet: its corner points when it has them, else cast from the
    sensor's position and angles over ground at ``ground_elevation`` metres (default: the packet's
    frame centre elevation, else 0). ``None`` when the packet lacks the geometry."""
    corners = packet.corners
    if corners is not None:
        return footprint_from_corners(corners, packet.frame_center)
    lat, lon, altitude = packet.sensor_latitude, packet.sensor_longitude, packet.sensor_altitude
    heading, elevation = packet.platform_heading, packet.sensor_relative_elevation
    hfov, vfov = packet.sensor_hfov, packet.sensor_vfov
    if (lat is None or lon is None or altitude is None or heading is None or elevation is None
            or hfov is None or vfov is None):
        return None
    ground = ground_elevation if ground_elevation is not None else packet.frame_center_elevation or 0.0
    relative_roll = packet.sensor_relative_roll or 0.0
    return camera_footprint(
        lat, lon, altitude - ground, heading,
        pitch=(packet.platform_pitch or 0.0) + elevation,
        hfov=hfov,
        vfov=vfov,
        roll=relative_roll - 360.0 if relative_roll > 180.0 else relative_roll,
        yaw=packet.sensor_relative_azimuth or 0.0,
        max_range=max_range,
    )


def _add(a: Vector, b: Vector) -> Vector:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _scale(a: Vector, k: float) -> Vector:
    return (a[0] * k, a[1] * k, a[2] * k)


def _cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
