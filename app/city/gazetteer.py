"""The gazetteer: addresses, streets, named places and emergency facilities of a city.

`build_gazetteer` makes the `gazetteer.json` document at import time; `Gazetteer` loads it and answers the
lookups the geocoder and the console's address box need. Matching ignores case, accents and punctuation, so
"pohjoisesplanadi", "Pohjoisesplanadi" and "POHJOISESPLANADI" are one street, and Swedish street names
("Mannerheimvägen") lead to the Finnish one the addresses use.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import shapely

from app.city.osm import POI_KEYS, OsmExtract

FORMAT = "watchfloor-gazetteer/1"

LatLon = tuple[float, float]

#: alternative names worth finding a place or street by
ALT_NAME_KEYS = ("name:fi", "name:sv", "name:en", "alt_name", "official_name", "short_name")
STOP_TAGS = {
    "highway": {"bus_stop"},
    "railway": {"tram_stop", "station", "halt"},
    "public_transport": {"station"},
}


def normalize(text: str) -> str:
    """Casefolded, accents stripped, punctuation to spaces, spaces collapsed: the matching form of a name."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def normalize_number(text: str) -> str:
    """The matching form of a house number: "12 B" -> "12b", "5–7" -> "5-7"."""
    return re.sub(r"\s+", "", text.casefold().replace("–", "-"))


@dataclass(frozen=True, slots=True)
class Address:
    """One addressed building or entrance."""

    street: str
    housenumber: str
    postcode: str | None
    city: str | None
    lat: float
    lon: float

    @property
    def label(self) -> str:
        """How a dispatcher writes it: "Mannerheimintie 5, 00100 Helsinki"."""
        tail = " ".join(p for p in (self.postcode, self.city) if p)
        return f"{self.street} {self.housenumber}" + (f", {tail}" if tail else "")


@dataclass(frozen=True, slots=True)
class Place:
    """A named place or point of interest: a square, a museum, a tram stop..."""

    name: str
    kind: str  # "place" | "poi" | "stop"
    category: str  # the OSM tag value: "square", "museum", "tram_stop", ...
    lat: float
    lon: float
    names: tuple[str, ...] = ()  # other names (Swedish, English, alternative)
    address: str | None = None
    landmark: bool = False  # has a Wikidata entry: a name people know


@dataclass(frozen=True, slots=True)
class Street:
    """A named street, placed at the midpoint of its longest piece."""

    name: str
    lat: float
    lon: float
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Facility:
    """A fire station, police station, hospital or clinic that units are based at or take patients to."""

    kind: str  # "fire_station" | "police" | "hospital" | "clinic"
    name: str
    lat: float
    lon: float
    address: str | None
    osm: str  # "node/123", "way/456", "relation/789"


def facility_kind(tags: dict[str, str]) -> str | None:
    """The facility kind of an OSM object, or None; clinics count, a fallback where hospitals are missing."""
    amenity = tags.get("amenity")
    if amenity in ("fire_station", "police"):
        return amenity
    if amenity == "hospital" or tags.get("healthcare") == "hospital":
        return "hospital"
    if amenity in ("clinic", "doctors"):
        return "clinic"
    return None


def _point(geometry: Any) -> tuple[float, float]:
    point = geometry if geometry.geom_type == "Point" else geometry.representative_point()
    return round(point.y, 7), round(point.x, 7)


def _address_of(tags: dict[str, str]) -> str | None:
    if "addr:street" in tags and "addr:housenumber" in tags:
        return f"{tags['addr:street']} {tags['addr:housenumber']}"
    return None


def _alt_names(tags: dict[str, str]) -> list[str]:
    names = {tags[k] for k in ALT_NAME_KEYS if tags.get(k)} - {tags.get("name")}
    return sorted(names)


def build_gazetteer(extract: OsmExtract) -> dict[str, Any]:
    """The `gazetteer.json` document for `extract`."""
    west, south, east, north = extract.bounds
    box = shapely.box(west, south, east, north)
    addresses: dict[tuple[str, str], dict[str, Any]] = {}
    places: list[dict[str, Any]] = []
    facilities: list[dict[str, Any]] = []
    # Buildings first: when a building and a shop inside it share an address, the building's point is the one.
    for feature in [*extract.areas, *extract.nodes]:
        tags = feature.tags
        lat, lon = _point(feature.geometry)
        if not box.contains(shapely.Point(lon, lat)):
            continue
        if tags.get("addr:street") and tags.get("addr:housenumber"):
            key = (normalize(tags["addr:street"]), normalize_number(tags["addr:housenumber"]))
            addresses.setdefault(
                key,
                {
                    "street": tags["addr:street"],
                    "housenumber": tags["addr:housenumber"],
                    "postcode": tags.get("addr:postcode"),
                    "city": tags.get("addr:city"),
                    "lat": lat,
                    "lon": lon,
                },
            )
        name = tags.get("name")
        if not name:
            continue
        kind = facility_kind(tags)
        if kind:
            facilities.append(
                {
                    "kind": kind,
                    "name": name,
                    "lat": lat,
                    "lon": lon,
                    "address": _address_of(tags),
                    "osm": f"{feature.osm_type}/{feature.id}",
                }
            )
        if "place" in tags:
            place_kind, category = "place", tags["place"]
        elif any(tags.get(k) in values for k, values in STOP_TAGS.items()):
            place_kind = "stop"
            category = tags.get("railway") or tags.get("highway") or tags["public_transport"]
        elif any(k in tags for k in POI_KEYS) or tags.get("building", "no") != "no":
            place_kind = "poi"
            category = next((tags[k] for k in POI_KEYS if k in tags), None) or "building"
        else:
            continue
        places.append(
            {
                "name": name,
                "kind": place_kind,
                "category": category,
                "lat": lat,
                "lon": lon,
                "names": _alt_names(tags),
                "address": _address_of(tags),
                "landmark": "wikidata" in tags,
            }
        )

    streets: dict[str, dict[str, Any]] = {}
    lengths: dict[str, float] = defaultdict(float)
    for way in extract.ways:
        name = way.tags.get("name")
        if not name or "highway" not in way.tags:
            continue
        for run in way.runs:
            line = shapely.LineString([(lon, lat) for _, lat, lon in run])
            middle = line.interpolate(0.5, normalized=True)
            entry = streets.setdefault(name, {"name": name, "names": [], "lat": 0.0, "lon": 0.0})
            entry["names"] = sorted(set(entry["names"]) | set(_alt_names(way.tags)))
            if line.length > lengths[name] and box.contains(middle):
                lengths[name] = line.length
                entry["lat"], entry["lon"] = round(middle.y, 7), round(middle.x, 7)
    return {
        "format": FORMAT,
        "addresses": sorted(addresses.values(), key=lambda a: (a["street"], _number_key(a["housenumber"]))),
        "streets": sorted((s for s in streets.values() if lengths[s["name"]] > 0), key=lambda s: s["name"]),
        "places": sorted(places, key=lambda p: (p["name"], p["kind"])),
        "facilities": sorted(facilities, key=lambda f: (f["kind"], f["name"])),
    }


def _number_key(housenumber: str) -> tuple[int, str]:
    match = re.match(r"\d+", housenumber)
    return (int(match.group()) if match else 1 << 30, housenumber)


_PLACE_ORDER = {"place": 0, "poi": 1, "stop": 2}


class Gazetteer:
    """Lookups over a city's `gazetteer.json`."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != FORMAT:
            raise ValueError(f"not a gazetteer: format {document.get('format')!r}, expected {FORMAT!r}")
        self.addresses = [Address(**a) for a in document["addresses"]]
        self.streets = [Street(s["name"], s["lat"], s["lon"], tuple(s["names"])) for s in document["streets"]]
        self.places = [Place(**{**p, "names": tuple(p["names"])}) for p in document["places"]]
        self.facilities = [Facility(**f) for f in document["facilities"]]

        # street matching name -> the street name the addresses use
        self._by_street: dict[str, list[Address]] = defaultdict(list)
        for address in self.addresses:
            self._by_street[normalize(address.street)].append(address)
        self._street_names: dict[str, str] = {}
        self._street_at: dict[str, Street] = {}
        for address in self.addresses:
            self._street_names.setdefault(normalize(address.street), address.street)
        for street in self.streets:
            self._street_at[normalize(street.name)] = street
            for name in (street.name, *street.names):
                self._street_names.setdefault(normalize(name), street.name)
        self._places: dict[str, list[Place]] = defaultdict(list)
        for place in self.places:
            for name in {place.name, *place.names}:
                self._places[normalize(name)].append(place)
        for found in self._places.values():
            found.sort(key=lambda p: (_PLACE_ORDER[p.kind], not p.landmark))
        self._street_keys = sorted(self._street_names)
        self._place_keys = sorted(self._places)

        self._kx = (
            111_320.0 * math.cos(math.radians(sum(a.lat for a in self.addresses) / len(self.addresses)))
            if self.addresses
            else 1.0
        )
        self._tree = shapely.STRtree(
            [shapely.Point(a.lon * self._kx, a.lat * 110_574.0) for a in self.addresses]
        )

    # -- streets and addresses -------------------------------------------------------------------------------

    def street_name(self, query: str) -> str | None:
        """The street a (partial, Swedish, lower-case) name means: exact first, then the busiest prefix."""
        key = normalize(query)
        if not key:
            return None
        if key in self._street_names:
            return self._street_names[key]
        matches = {self._street_names[k] for k in self._street_keys if k.startswith(key)}
        if not matches:
            return None
        return min(matches, key=lambda s: (-len(self._by_street.get(normalize(s), [])), len(s), s))

    def street(self, name: str) -> Street | None:
        """The street record of a street name as `street_name` returns it."""
        return self._street_at.get(normalize(name))

    def addresses_on(self, street: str) -> list[Address]:
        """Every address on `street`, in house-number order."""
        return list(self._by_street.get(normalize(street), []))

    def find_address(self, street: str, housenumber: str) -> tuple[Address, bool] | None:
        """The address `housenumber` on `street` and whether it matched exactly.

        An unknown number gives the nearest number on the same side of the street (same parity), flagged
        inexact; None when the street has no addresses.
        """
        on_street = self.addresses_on(street)
        wanted = normalize_number(housenumber)
        for address in on_street:
            if normalize_number(address.housenumber) == wanted:
                return address, True
        digits = re.match(r"\d+", wanted)
        numbered = [(a, _number_key(a.housenumber)[0]) for a in on_street if re.match(r"\d", a.housenumber)]
        if not digits or not numbered:
            return None
        n = int(digits.group())
        for address, _ in numbered:  # ranges like "5-7"
            bounds = re.fullmatch(r"(\d+)[a-z]?-(\d+)[a-z]?", normalize_number(address.housenumber))
            if bounds and int(bounds.group(1)) <= n <= int(bounds.group(2)):
                return address, True
        return min(numbered, key=lambda an: (an[1] % 2 != n % 2, abs(an[1] - n), an[0].housenumber))[0], False

    def nearest_address(self, point: LatLon) -> Address | None:
        """The address nearest to a (lat, lon) point."""
        if not self.addresses:
            return None
        index = self._tree.nearest(shapely.Point(point[1] * self._kx, point[0] * 110_574.0))
        return self.addresses[int(index)]

    # -- places --------------------------------------------------------------------------------------------

    def find_places(self, query: str) -> list[Place]:
        """Places named `query` exactly (by any of their names), best first; else those starting with it."""
        key = normalize(query)
        if not key:
            return []
        if key in self._places:
            return list(self._places[key])
        found = [p for k in self._place_keys if k.startswith(key) for p in self._places[k]]
        return sorted(found, key=lambda p: (_PLACE_ORDER[p.kind], not p.landmark, len(p.name), p.name))

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        """Completions for an address box: streets, then places; "street N" completes house numbers.

        Each suggestion, given back to the geocoder, finds what it names.
        """
        parsed = parse_address(prefix)
        results: list[str] = []
        if parsed and parsed[1]:
            street = self.street_name(parsed[0])
            if street:
                typed = normalize_number(parsed[1])
                results = [
                    f"{a.street} {a.housenumber}"
                    for a in self.addresses_on(street)
                    if normalize_number(a.housenumber).startswith(typed)
                ]
            return results[:limit]
        key = normalize(prefix)
        if not key:
            return []
        streets = {self._street_names[k] for k in self._street_keys if k.startswith(key)}
        results.extend(sorted(streets, key=lambda s: (-len(self._by_street.get(normalize(s), [])), s)))
        for place in self.find_places(prefix):
            if place.name not in results:
                results.append(place.name)
        return results[:limit]


def parse_address(query: str) -> tuple[str, str | None] | None:
    """Split "Mannerheimintie 5 A, 00100 Helsinki" into ("Mannerheimintie", "5 A"); the number may be None."""
    first = query.split(",")[0].strip()
    if not first:
        return None
    match = re.fullmatch(
        r"(?P<street>.*?\D)\s+(?P<number>\d+(?:\s*[a-zA-Z](?![a-zA-Z]))?(?:\s*[-–]\s*\d+)?)"
        r"(?:\s+.*)?",
        first,
    )
    if match:
        return match.group("street").strip(), match.group("number")
    return first, None


def as_dict(record: Address | Place | Street | Facility) -> dict[str, Any]:
    """A gazetteer record as the plain dict geopy's `Location.raw` carries."""
    return asdict(record)
