"""The simulator's view of the city: routes, addresses, stations and hospitals.

`CityMap` wraps the imported city (`app.city`: real roads, real addresses, real facilities). When no city is
available (`app.city` not installed or no city built), `FallbackMap` stands in: straight-line routes and a
handful of approximate places inside central Helsinki, enough to develop and test against.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from typing import Any, Protocol

import shapely

from app.domain.geo import LatLon, fast_distance_m
from app.domain.recommend import StraightLineTravel, TravelModel

log = logging.getLogger("watchfloor.sim")

#: Central Helsinki, where the fallback map lives: (south, west), (north, east).
FALLBACK_BOUNDS: tuple[LatLon, LatLon] = ((60.164, 24.935), (60.179, 24.953))

#: Low ground by the South Harbour and the Market Square: where a storm surge floods first.
SOUTH_HARBOUR_FLOOD: list[LatLon] = [(60.1660, 24.9490), (60.1684, 24.9497), (60.1690, 24.9530),
                                     (60.1676, 24.9560), (60.1658, 24.9545)]


@dataclass(frozen=True, slots=True)
class Station:
    """Where units are based or patients taken: a fire station, a police station, a hospital."""

    kind: str  # "fire" | "police" | "medical" | "hospital"
    name: str
    lat: float
    lon: float

    @property
    def point(self) -> LatLon:
        """(lat, lon)."""
        return self.lat, self.lon


@dataclass(frozen=True, slots=True)
class Address:
    """A place a call can come from: how the dispatcher writes it, and where it is."""

    label: str
    lat: float
    lon: float
    precision: str = "address_point"  # app.domain.location.PRECISIONS: the fallback map's are "unverified"


@dataclass(frozen=True, slots=True)
class FloodWarning:
    """The texts and area of the shift's flood warning (a CAP alert)."""

    headline: str
    description: str
    instruction: str
    area: list[LatLon]


def _sea_flood(area: list[LatLon]) -> FloodWarning:
    return FloodWarning("Flood warning: sea level rising at the South Harbour",
                        "Storm surge: sea level expected 80-100 cm above mean within two hours.",
                        "Keep clear of the shore; move vehicles from low-lying streets.", area)


#: how far (metres) a river's high water reaches past its banks in the warning
RIVER_FLOOD_M = 150.0
#: water smaller than this (square degrees, ~5 ha) is a pond, not a river that floods streets
MIN_RIVER_DEG2 = 6e-6


class Map(Protocol):
    """What the scenario needs from a city. Every method is deterministic for a given `rng` state."""

    name: str
    travel: TravelModel

    def route(self, origin: LatLon, destination: LatLon) -> list[LatLon]:
        """The polyline to drive, from `origin` to `destination` (at least those two points)."""
        ...

    def random_address(self, rng: random.Random) -> Address:
        """A real address, chosen with `rng`."""
        ...

    def stations(self, kind: str) -> list[Station]:
        """Bases of one kind ("fire", "police", "medical", "hospital"), never empty."""
        ...

    def flood_area(self) -> list[LatLon]:
        """A polygon of low ground by the shore, for the flood warning."""
        ...

    def flood_warning(self) -> FloodWarning:
        """The flood warning the shift issues: what floods, and where."""
        ...


def _straight(origin: LatLon, destination: LatLon) -> list[LatLon]:
    return [origin, destination] if origin != destination else [origin]


class FallbackMap:
    """Straight lines and approximate places in central Helsinki, used when no city is built."""

    name = "central Helsinki (fallback: straight-line routes)"

    _STREETS = ("Aleksanterinkatu", "Esplanadi", "Mannerheimintie", "Bulevardi", "Fredrikinkatu",
                "Annankatu", "Kaisaniemenkatu", "Unioninkatu", "Kalevankatu", "Yrjönkatu", "Erottajankatu",
                "Mikonkatu", "Lönnrotinkatu", "Uudenmaankatu", "Korkeavuorenkatu", "Pohjoisesplanadi")
    # Approximate places: the fallback exists for development, not for navigation.
    _STATIONS = {
        "fire": [Station("fire", "Keskuspelastusasema (approx.)", 60.1650, 24.9470),
                 Station("fire", "Kaisaniemi fire post (approx.)", 60.1760, 24.9470)],
        "police": [Station("police", "Keskusta police post (approx.)", 60.1690, 24.9400),
                   Station("police", "Kruununhaka police post (approx.)", 60.1720, 24.9520)],
        "medical": [Station("medical", "Kamppi ambulance post (approx.)", 60.1685, 24.9360),
                    Station("medical", "Keskuspelastusasema ambulances (approx.)", 60.1650, 24.9470)],
        "hospital": [Station("hospital", "Kaisaniemi hospital (approx.)", 60.1770, 24.9440),
                     Station("hospital", "Eira hospital (approx.)", 60.1645, 24.9390)],
    }

    def __init__(self) -> None:
        self.travel: TravelModel = StraightLineTravel()

    def route(self, origin: LatLon, destination: LatLon) -> list[LatLon]:
        """A straight line."""
        return _straight(origin, destination)

    def random_address(self, rng: random.Random) -> Address:
        """A street name and number at a random point of the central bounding box."""
        (south, west), (north, east) = FALLBACK_BOUNDS
        street = rng.choice(self._STREETS)
        number = rng.randint(1, 60)
        lat, lon = round(rng.uniform(south, north), 6), round(rng.uniform(west, east), 6)
        return Address(f"{street} {number}", lat, lon, "unverified")

    def stations(self, kind: str) -> list[Station]:
        """The approximate bases of `kind`."""
        return list(self._STATIONS[kind])

    def flood_area(self) -> list[LatLon]:
        """The South Harbour."""
        return list(SOUTH_HARBOUR_FLOOD)

    def flood_warning(self) -> FloodWarning:
        """A storm surge at the South Harbour."""
        return _sea_flood(self.flood_area())


#: Facility kinds of `app.city` that serve as each kind of base, in order of preference.
_FACILITY_KINDS = {"fire": ("fire_station",), "police": ("police",), "hospital": ("hospital", "clinic"),
                   "medical": ("hospital", "fire_station", "clinic")}


#: a settlement farther than this from every base of a kind gets a plausible post of that kind (metres)
COVER_M = 4000.0
#: at most this many plausible posts are added per kind
MAX_ADDED_POSTS = 4
_POST_NAMES = {"fire": "Fire post", "police": "Police post", "medical": "Ambulance post"}


def plausible_posts(kind: str, stations: list[Station], settlements: list[tuple[str, float, float]]
                    ) -> list[Station]:
    """Posts a service of `kind` would plausibly have where the data shows none: at the settlements farthest
    from every known base (beyond COVER_M), farthest first. Named as additions, so nobody mistakes them for
    real stations."""
    if kind not in _POST_NAMES or not stations:
        return []
    bases = list(stations)
    added: list[Station] = []
    while len(added) < MAX_ADDED_POSTS:
        gaps = [(min(fast_distance_m(b.point, (lat, lon)) for b in bases), name, lat, lon)
                for name, lat, lon in settlements]
        far = max(gaps, default=None)
        if far is None or far[0] <= COVER_M:
            break
        _, name, lat, lon = far
        post = Station(kind, f"{_POST_NAMES[kind]} {name} (plausible addition, not in OpenStreetMap)", lat, lon)
        added.append(post)
        bases.append(post)
    return added


class CityMap:
    """The imported city: routes on its road network, its addresses, its stations and hospitals.

    Units are based at the city's real fire stations, police stations and hospitals; where a large city's data
    leaves settlements far from any base of a kind, plausible posts are added there (see `plausible_posts`)."""

    def __init__(self, city: Any) -> None:
        self.city = city
        self.name = f"{city.name} (road network)"
        self.travel: TravelModel = city.roads
        self._addresses = city.gazetteer.addresses
        if not self._addresses:
            raise ValueError(f"city {city.name} has no addresses")
        self._stations: dict[str, list[Station]] = {}
        for kind, facility_kinds in _FACILITY_KINDS.items():
            found = [Station(kind, f.name, f.lat, f.lon) for fk in facility_kinds
                     for f in city.facilities if f.kind == fk]
            if not found:  # an extract may cut every station off: base the units in the middle
                lat, lon = city.center
                found = [Station(kind, f"{kind} base (no station in the map)", lat, lon)]
            self._stations[kind] = found + plausible_posts(kind, found, city.gazetteer.settlements)

    def route(self, origin: LatLon, destination: LatLon) -> list[LatLon]:
        """The fastest road route; a straight line where the roads do not join the two points."""
        return self.city.roads.route(origin, destination) or _straight(origin, destination)

    def random_address(self, rng: random.Random) -> Address:
        """One of the gazetteer's addresses."""
        a = self._addresses[rng.randrange(len(self._addresses))]
        return Address(a.label, a.lat, a.lon)

    def stations(self, kind: str) -> list[Station]:
        """The city's facilities serving as bases of `kind`."""
        return list(self._stations[kind])

    def flood_area(self) -> list[LatLon]:
        """The area of `flood_warning`."""
        return self.flood_warning().area

    def flood_warning(self) -> FloodWarning:
        """A storm surge at the South Harbour when the city has it; else high water on the city's largest river
        or lake (the Rhine in Liechtenstein, the Douro in Porto); else a strip along the southern edge."""
        (south, west), (north, east) = self.city.bounds
        box = shapely.box(west, south, east, north)
        harbour = shapely.Polygon([(lon, lat) for lat, lon in SOUTH_HARBOUR_FLOOD])
        inside = harbour.intersection(box)
        if isinstance(inside, shapely.Polygon) and inside.area > 0.1 * harbour.area:
            return _sea_flood([(round(lat, 6), round(lon, 6)) for lon, lat in inside.exterior.coords[:-1]])
        river = self._largest_water(box)
        if river is not None:
            name, area = river
            return FloodWarning(f"Flood warning: the {name} is rising",
                                f"Heavy rain upstream: the {name} expected to overtop its banks within hours.",
                                "Keep clear of the banks; move vehicles from low-lying streets.", area)
        depth = (north - south) * 0.1
        return _sea_flood([(south, west), (south + depth, west), (south + depth, east), (south, east)])

    def _largest_water(self, box: shapely.Polygon) -> tuple[str, list[LatLon]] | None:
        """The largest named water area, widened by RIVER_FLOOD_M and clipped to the city, as a ring."""
        with self.city.basemap_path.open(encoding="utf-8") as f:
            water = json.load(f)["layers"]["water"]["features"]
        areas = [(shapely.geometry.shape(w["geometry"]), w["properties"].get("name") or "river") for w in water]
        geometry, name = max(areas, key=lambda gn: gn[0].area, default=(None, ""))
        if geometry is None or geometry.area < MIN_RIVER_DEG2:  # a pond or a fountain does not flood streets
            return None
        degrees = RIVER_FLOOD_M / 111_320.0
        reach = geometry.buffer(degrees).intersection(box)
        largest = max(shapely.get_parts(reach), key=lambda g: g.area, default=None)
        if largest is None or largest.geom_type != "Polygon":
            return None
        ring = largest.simplify(degrees / 3).exterior.coords[:-1]
        return name, [(round(lat, 6), round(lon, 6)) for lon, lat in ring]


def load_map(city_path: str | None = None) -> Map:  # a city name ("porto") or a built city's directory
    """The imported city (`app.city`) if there is one, else the fallback map (logged)."""
    try:
        from app.city.loader import load_city  # the city package may not be installed yet
    except ImportError:
        log.warning("app.city is not available: using the fallback map (straight-line routes)")
        return FallbackMap()
    try:
        return CityMap(load_city(city_path))
    except (OSError, ValueError, LookupError) as exc:
        log.warning("no city could be loaded (%s): using the fallback map (straight-line routes)", exc)
        return FallbackMap()


def nearest(stations: list[Station], point: LatLon) -> Station:
    """The station nearest to `point` (ties: the first listed)."""
    return min(stations, key=lambda s: fast_distance_m(s.point, point))
