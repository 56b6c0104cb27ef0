"""What lies inside an alert's areas: the units, open incidents and zones a warning concerns.

Areas are polygons of (lat, lon) or circles (lat, lon, radius in metres; radius 0 is the point itself); an area
that is only named (CAP areaDesc with geocodes, no shape) covers nothing here: the panel says it is not drawn.
Shapely works in plain coordinates, so geometry is built in (lon, lat) degrees and a circle is drawn as a geodesic
ring: points at the radius along `CIRCLE_SEGMENTS` bearings on the WGS84 ellipsoid, so "300 m" is 300 m at any
latitude (a degree of longitude is only ~55 km at Helsinki's 60° N). With 128 segments the ring lies within 0.03%
of the radius of the true circle. Polygons are taken as CAP draws them: straight lines between corners in
latitude/longitude.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import shapely
from geopy.distance import geodesic
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from app.domain.entities import Alert, AlertArea, IncidentStatus
from app.domain.picture import Picture

CIRCLE_SEGMENTS = 128

#: One area as a hashable key: ("polygon", ((lat, lon), ...)) or ("circle", (lat, lon, radius_m)).
AreaKey = tuple[str, tuple]


@dataclass(frozen=True, slots=True)
class Inside:
    """What an alert covers: unit ids, open incident ids and ids of zones that overlap its areas, sorted."""

    units: tuple[str, ...] = ()
    incidents: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """How many things in all."""
        return len(self.units) + len(self.incidents) + len(self.zones)


def circle_ring(lat: float, lon: float, radius_m: float, segments: int = CIRCLE_SEGMENTS) -> list[tuple[float, float]]:
    """The circle as a closed ring of (lat, lon): geodesic points `radius_m` from the centre."""
    distance = geodesic(meters=radius_m)
    ring = []
    for i in range(segments):
        point = distance.destination((lat, lon), 360.0 * i / segments)
        ring.append((point.latitude, point.longitude))
    return [*ring, ring[0]]


def _key(area: AlertArea) -> AreaKey:
    if area.polygon:
        return ("polygon", tuple((float(p[0]), float(p[1])) for p in area.polygon))
    assert area.circle is not None
    return ("circle", tuple(float(v) for v in area.circle))


@functools.lru_cache(maxsize=512)
def _shape(keys: tuple[AreaKey, ...]) -> BaseGeometry:
    """The union of areas in (lon, lat); cached because the console asks again at every refresh."""
    parts: list[BaseGeometry] = []
    for kind, value in keys:
        if kind == "circle" and value[2] == 0:  # radius 0: the point itself (a ring of one point is no polygon)
            parts.append(Point(value[1], value[0]))
            continue
        ring = circle_ring(*value) if kind == "circle" else list(value)
        polygon = Polygon([(lon, lat) for lat, lon in ring])
        parts.append(polygon if polygon.is_valid else shapely.make_valid(polygon))  # a bow-tie drawn by hand
    shape = shapely.union_all(parts)
    shapely.prepare(shape)
    return shape


def alert_shape(alert: Alert) -> BaseGeometry:
    """All of an alert's areas as one shapely geometry in (lon, lat) degrees."""
    return _shape(tuple(_key(a) for a in alert.areas if a.polygon or a.circle))


def named_only(alert: Alert) -> list[str]:
    """The descriptions of the alert's areas that have no shape (named by CAP areaDesc/geocodes only)."""
    return [a.desc for a in alert.areas if not a.polygon and not a.circle]


def _covered(shape: BaseGeometry, items: dict[str, tuple[float, float]]) -> tuple[str, ...]:
    if not items:
        return ()
    ids = list(items)
    lats = np.fromiter((items[i][0] for i in ids), float, len(ids))
    lons = np.fromiter((items[i][1] for i in ids), float, len(ids))
    # intersects_xy counts a point on the boundary as inside: a unit on the edge of the area is concerned.
    hits = shapely.intersects_xy(shape, lons, lats)
    return tuple(sorted(i for i, hit in zip(ids, hits, strict=True) if hit))


def inside(alert: Alert, picture: Picture) -> Inside:
    """The units (with a position), open incidents and zones inside or overlapping the alert's areas."""
    shape = alert_shape(alert)
    if shape.is_empty:
        return Inside()
    units = {u.id: (u.lat, u.lon) for u in picture.units.values() if u.lat is not None and u.lon is not None}
    incidents = {i.id: (i.lat, i.lon) for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED}
    zones = tuple(sorted(z.id for z in picture.zones.values() if len(z.polygon) >= 3
                         and shape.intersects(Polygon([(lon, lat) for lat, lon in z.polygon]))))
    return Inside(_covered(shape, units), _covered(shape, incidents), zones)
