"""Signalised intersections: the traffic lights a responding unit may ask for priority at.

The city import finds them in OSM (`highway=traffic_signals` nodes on drivable roads) and numbers their
approaches from the road graph; signal priority (`app/domain/signal_priority.py`) plans requests with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.domain.geo import LatLon

#: SAE J2735 / ISO 19091 ApproachID is 0..15, 0 meaning "unknown": an intersection numbers at most 15 approaches.
MAX_APPROACHES = 15


@dataclass(frozen=True, slots=True)
class Approach:
    """A road segment driven into the intersection: its id (1..15) and the bearing of travel along it."""

    id: int
    bearing: float  # degrees clockwise from north, the direction a vehicle on it is heading


@dataclass(frozen=True, slots=True)
class SignalisedIntersection:
    """One traffic light controller's intersection.

    `id` is the IntersectionID of SREM/SSEM (1..65535, region 0): the intersection's place in the city's list
    ordered by OSM node id, so the same extract always gives the same numbers.
    """

    id: int
    osm_node: int
    lat: float
    lon: float
    approaches: tuple[Approach, ...]

    @property
    def position(self) -> LatLon:
        """(lat, lon) of the stop point."""
        return (self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class SignalPass:
    """A route's passage through a signalised intersection (its id): by which approach, how many seconds from the
    start."""

    intersection: int
    approach: int
    eta_s: float
    lat: float
    lon: float


class RoutePlanner(Protocol):
    """The lights a drive passes (the city's road graph, `app.city.roads.RoadNetwork`, is one)."""

    def signal_passes(self, origin: LatLon, destination: LatLon, speed_factor: float = 1.0) -> list[SignalPass]:
        """The signalised intersections the fastest route from `origin` to `destination` drives through."""
        ...

