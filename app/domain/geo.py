"""Coordinates and distances. Everything here takes and returns (lat, lon) in WGS84 degrees."""

from __future__ import annotations

import math

from geopy.distance import geodesic

from app.domain.errors import Refusal

LatLon = tuple[float, float]

EARTH_RADIUS_M = 6_371_008.8
#: Corners a zone or alert polygon may have: a drawn cordon has tens, a national warning area a few thousand.
MAX_POLYGON_POINTS = 5000


def check_lat_lon(lat: float, lon: float) -> LatLon:
    """Return (lat, lon) as floats, or refuse coordinates that are not on Earth."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise Refusal("bad_coordinates", f"coordinates must be numbers, got {lat!r}, {lon!r}") from None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        raise Refusal("bad_coordinates", "coordinates must be finite numbers")
    if not -90.0 <= lat_f <= 90.0:
        raise Refusal("bad_coordinates", f"latitude {lat_f} is outside -90..90")
    if not -180.0 <= lon_f <= 180.0:
        raise Refusal("bad_coordinates", f"longitude {lon_f} is outside -180..180")
    return lat_f, lon_f


def distance_m(a: LatLon, b: LatLon) -> float:
    """Geodesic distance in metres on the WGS84 ellipsoid."""
    return float(geodesic(a, b).meters)


def fast_distance_m(a: LatLon, b: LatLon) -> float:
    """Haversine distance in metres: within 0.5% of geodesic, ~50x cheaper, for ranking many candidates."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial bearing from `a` to `b`, degrees clockwise from north in [0, 360)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlon = math.radians(b[1] - a[1])
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(x, y)) % 360.0


def check_polygon(points: list[list[float]] | list[tuple[float, float]]) -> list[LatLon]:
    """Validate a polygon ring given as [(lat, lon), ...]: three to MAX_POLYGON_POINTS distinct corners, each a
    [lat, lon] pair on Earth."""
    if len(points) > MAX_POLYGON_POINTS or any(len(p) != 2 for p in points):
        raise Refusal("bad_geometry", f"a polygon is 3 to {MAX_POLYGON_POINTS} [lat, lon] corners")
    ring = [check_lat_lon(p[0], p[1]) for p in points]
    if ring and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(set(ring)) < 3:
        raise Refusal("bad_geometry", "a polygon needs at least three distinct corners")
    return ring
