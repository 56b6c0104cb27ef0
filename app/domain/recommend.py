"""Unit recommendation: for an incident, the best available units of the kinds it needs, by travel time.

Travel time comes from a `TravelModel`. The default estimates from straight-line distance; the city's road
network (`app.city.roads.RoadNetwork`) has the same method and ranks by drive time along real streets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.domain.entities import Incident, Unit, UnitStatus
from app.domain.geo import LatLon, fast_distance_m
from app.domain.incident_types import INCIDENT_TYPES

#: Typical emergency driving speed in town, metres per second, by unit kind (lights and sirens).
RESPONSE_SPEED_MS: dict[str, float] = {"ambulance": 13.0, "medic": 14.0, "patrol": 14.0, "engine": 11.0,
                                       "ladder": 10.0, "hazmat": 10.0, "boat": 9.0}
DEFAULT_SPEED_MS = 12.0
#: Streets are not straight: drive distance over straight-line distance in a European city centre.
DETOUR_FACTOR = 1.35


class TravelModel(Protocol):
    """Estimates driving times to one destination from many origins ((lat, lon) pairs); None = unreachable."""

    def travel_seconds_many(self, origins: list[LatLon], destination: LatLon) -> list[float | None]: ...


class StraightLineTravel:
    """Travel time from geodesic distance, a detour factor and a typical speed: used when no road graph."""

    name = "straight-line estimate"

    def travel_seconds_many(self, origins: list[LatLon], destination: LatLon) -> list[float | None]:
        """Seconds from each origin, at the default response speed."""
        return [fast_distance_m(o, destination) * DETOUR_FACTOR / DEFAULT_SPEED_MS for o in origins]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One proposed unit, with why: its kind fills a need, and how far and how long away it is."""

    unit: str
    kind: str
    agency: str
    eta_s: float
    distance_m: float
    needs_aid: bool
    reason: str


def _describe(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def recommend(incident: Incident, units: dict[str, Unit], travel: TravelModel | None = None,
              per_kind_extra: int = 1) -> list[Recommendation]:
    """Rank available units for `incident`.

    For each kind the incident type needs, the nearest `need + per_kind_extra` available units with a known
    position, fastest first. A kind the units already on the incident fill still offers `per_kind_extra`: the
    dispatcher calling for more (a second alarm) must see who is nearest, not an empty list. Units of agencies
    not yet involved are flagged: mutual aid is needed first.
    """
    travel = travel or StraightLineTravel()
    model_name = getattr(travel, "name", "road network")
    itype = INCIDENT_TYPES.get(incident.type)
    needs = dict(itype.needs) if itype else {}
    # Units already on the incident fill its needs.
    for unit_id in incident.units:
        unit = units.get(unit_id)
        if unit is not None and needs.get(unit.kind, 0) > 0:
            needs[unit.kind] -= 1
    destination = (incident.lat, incident.lon)
    result: list[Recommendation] = []
    for kind, count in needs.items():
        count = max(count, 0)
        candidates = [u for u in units.values() if u.kind == kind and u.status == UnitStatus.AVAILABLE
                      and u.lat is not None and u.lon is not None]
        if not candidates:
            continue
        origins = [(u.lat, u.lon) for u in candidates]
        times = travel.travel_seconds_many(origins, destination)  # type: ignore[arg-type]
        ranked = sorted(((t, u) for t, u in zip(times, candidates, strict=True) if t is not None),
                        key=lambda pair: (pair[0], pair[1].id))
        for t, unit in ranked[: count + per_kind_extra]:
            distance = fast_distance_m((unit.lat, unit.lon), destination)  # type: ignore[arg-type]
            aid = unit.agency not in incident.agencies
            wanted = f"{count} needed" if count else "plan met: one more"
            reason = (f"{kind} ({wanted}): {distance / 1000:.1f} km, ETA {_describe(t)} by "
                      f"{model_name}" + (f"; needs mutual aid from {unit.agency}" if aid else ""))
            result.append(Recommendation(unit.id, kind, unit.agency, t, distance, aid, reason))
    return result
