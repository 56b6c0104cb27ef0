"""The fleet: how many units of each kind a city of this size fields, their callsigns and their bases."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.agencies import UNIT_KINDS
from app.sim.map import Map, Station

#: Share of the fleet by unit kind (sums to 1), and the callsign letter(s) of each kind.
FLEET_MIX: dict[str, float] = {"engine": 0.2, "ladder": 0.075, "rescue": 0.025, "hazmat": 0.025, "boat": 0.025,
                               "ambulance": 0.25, "medic": 0.05, "patrol": 0.35}
CALLSIGN: dict[str, str] = {"engine": "E", "ladder": "L", "rescue": "R", "hazmat": "HZ", "boat": "B",
                            "ambulance": "M", "medic": "MD", "patrol": "P"}
#: Where each kind is based: map station kind.
BASE_OF: dict[str, str] = {"engine": "fire", "ladder": "fire", "rescue": "fire", "hazmat": "fire", "boat": "fire",
                           "ambulance": "medical", "medic": "medical", "patrol": "police"}


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """One unit to field: callsign, agency, kind and home station."""

    id: str
    agency: str
    kind: str
    station: Station


def fleet_counts(total: int) -> dict[str, int]:
    """Units per kind for a fleet of `total`: largest remainders of the mix, at least one of each kind when
    the fleet is big enough to have one of each."""
    if total < 0:
        raise ValueError("a fleet cannot have a negative number of units")
    counts = {k: int(total * share) for k, share in FLEET_MIX.items()}
    if total >= len(FLEET_MIX):
        for kind in counts:
            counts[kind] = max(counts[kind], 1)
    by_remainder = sorted(FLEET_MIX, key=lambda k: (-(total * FLEET_MIX[k] - int(total * FLEET_MIX[k])),
                                                    -FLEET_MIX[k], k))
    i = 0
    while sum(counts.values()) < total:
        counts[by_remainder[i % len(by_remainder)]] += 1
        i += 1
    while sum(counts.values()) > total:  # the minimum of one each overshot: take from the biggest
        biggest = max(counts, key=lambda k: (counts[k], k))
        counts[biggest] -= 1
    return counts


def plan_fleet(total: int, city: Map) -> list[UnitPlan]:
    """The fleet's units, in a stable order: callsigns E11, E12, ... L11, ... spread over the stations."""
    plans: list[UnitPlan] = []
    for kind, count in fleet_counts(total).items():
        stations = city.stations(BASE_OF[kind])
        for n in range(count):
            plans.append(UnitPlan(f"{CALLSIGN[kind]}{11 + n}", UNIT_KINDS[kind], kind, stations[n % len(stations)]))
    return plans
