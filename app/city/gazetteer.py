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
import shapely.geometry
import shapely.ops
from shapely.geometry.base import BaseGeometry

from app.city.osm import POI_KEYS, OsmExtract

FORMAT = "watchfloor-gazetteer/2"

LatLon = tuple[float, float]

#: alternative names worth finding a place or street by
ALT_NAME_KEYS = ("name:fi", "name:sv", "name:en", "alt_name", "official_name", "short_name")
#: admin levels that are municipalities (a Gemeinde, a concelho), most local first
MUNICIPALITY_LEVELS = ("8", "7")
#: place values that name a settlement, the fallback municipality where the data has no admin areas
SETTLEMENTS = {"city", "town", "village"}
#: how unnamed facilities are named
FACILITY_LABELS = {"fire_station": "Fire station", "police": "Police station", "hospital": "Hospital",
                   "clinic": "Clinic"}
#: streets closer than this (metres) meet: OSM streets share a node where they cross, so this is slack only
CROSSING_GAP_M = 3.0
_KY = 110_574.0  # metres per degree of latitude
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


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def street_key(text: str) -> str:
    """The grouping form of a street name: `normalize` with German umlauts spelled out, because OSM writes
    the street "Äulestrasse" and its addresses "Aeulestrasse"."""
    return normalize(text.translate(_UMLAUTS))


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
    municipality: str | None = None  # from the admin areas, whether or not the address has addr:city

    @property
    def label(self) -> str:
        """How a dispatcher writes it: "Mannerheimintie 5, 00100 Helsinki"."""
        tail = " ".join(p for p in (self.postcode, self.city or self.municipality) if p)
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
    municipality: str | None = None


@dataclass(frozen=True, slots=True)
class Street:
    """A named street in one municipality, placed at the midpoint of its longest piece."""

    name: str
    lat: float
    lon: float
    names: tuple[str, ...] = ()
    municipality: str | None = None


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


def _municipality_areas(extract: OsmExtract) -> list[tuple[str, BaseGeometry]]:
    """The named local-government areas: admin_level 8 (a commune, a Gemeinde), else the next level present."""
    by_level: dict[str, list[tuple[str, BaseGeometry]]] = defaultdict(list)
    for area in extract.areas:
        tags = area.tags
        if tags.get("boundary") == "administrative" and tags.get("name") and tags.get("admin_level"):
            by_level[tags["admin_level"]].append((tags["name"], area.geometry))
    for level in MUNICIPALITY_LEVELS:
        if by_level.get(level):
            return sorted(by_level[level], key=lambda named: named[0])
    return []


def _settlements(extract: OsmExtract) -> list[dict[str, Any]]:
    """Named settlements (city, town, village, suburb) as points: the fallback for the municipality."""
    return [
        {"name": n.tags["name"], "lat": round(float(shapely.get_y(n.geometry)), 7),
         "lon": round(float(shapely.get_x(n.geometry)), 7)}
        for n in extract.nodes
        if n.osm_type == "node" and n.tags.get("place") in SETTLEMENTS and n.tags.get("name")
    ]


def _facility_name(kind: str, tags: dict[str, str], municipality: str | None) -> str:
    """A facility's name; an unnamed one (Liechtenstein's national police HQ) is named by kind and place."""
    if tags.get("name"):
        return tags["name"]
    where = ", ".join(p for p in (_address_of(tags), tags.get("addr:city") or municipality) if p)
    return f"{FACILITY_LABELS[kind]}, {where}" if where else FACILITY_LABELS[kind]


def build_gazetteer(extract: OsmExtract) -> dict[str, Any]:
    """The `gazetteer.json` document for `extract`."""
    west, south, east, north = extract.bounds
    box = shapely.box(west, south, east, north)
    municipalities = _municipality_areas(extract)
    settlements = _settlements(extract)
    locator = _Locator(
        [(name, shapely.simplify(geometry, 0.0001)) for name, geometry in municipalities], settlements
    )
    addresses: dict[tuple[str, str, str], dict[str, Any]] = {}
    places: list[dict[str, Any]] = []
    facilities: list[dict[str, Any]] = []
    # Buildings first: when a building and a shop inside it share an address, the building's point is the one.
    for feature in [*extract.areas, *extract.nodes]:
        tags = feature.tags
        if not (tags.get("addr:housenumber") or tags.get("name") or facility_kind(tags)):
            continue  # most buildings: nothing to find them by
        lat, lon = _point(feature.geometry)
        if not box.contains(shapely.Point(lon, lat)):
            continue
        municipality = locator.municipality((lat, lon))
        # "148;146": one door with several numbers (OSM's list syntax) is an address for each.
        for housenumber in re.split(r"\s*;\s*", tags.get("addr:housenumber", "").strip()):
            if not tags.get("addr:street") or not housenumber:
                continue
            # The same street name and number recur in neighbouring municipalities ("Landstrasse 5").
            key = (
                normalize(tags["addr:street"]),
                normalize_number(housenumber),
                normalize(municipality or ""),
            )
            addresses.setdefault(
                key,
                {
                    "street": tags["addr:street"],
                    "housenumber": housenumber,
                    "postcode": tags.get("addr:postcode"),
                    "city": tags.get("addr:city"),
                    "lat": lat,
                    "lon": lon,
                    "municipality": municipality,
                },
            )
        kind = facility_kind(tags)
        if kind and (tags.get("name") or kind != "clinic"):
            facilities.append(
                {
                    "kind": kind,
                    "name": _facility_name(kind, tags, municipality),
                    "lat": lat,
                    "lon": lon,
                    "address": _address_of(tags),
                    "osm": f"{feature.osm_type}/{feature.id}",
                }
            )
        name = tags.get("name")
        if not name or tags.get("boundary") == "administrative":
            continue
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
                "municipality": municipality,
            }
        )

    # A street is one name in one municipality: "Kirchstrasse" in Schaan and in Balzers are two streets.
    streets: dict[tuple[str, str], dict[str, Any]] = {}
    for way in extract.ways:
        name = way.tags.get("name")
        if not name or "highway" not in way.tags or way.tags.get("area") == "yes":
            continue
        for run in way.runs:
            # The part of the street inside the extract: a street leaving the box still has its junctions inside.
            inside = shapely.LineString([(lon, lat) for _, lat, lon in run]).intersection(box)
            for line in shapely.get_parts(inside):
                if line.geom_type != "LineString" or line.length == 0:
                    continue
                middle = line.interpolate(0.5, normalized=True)
                municipality = locator.municipality((middle.y, middle.x))
                entry = streets.setdefault(
                    (name, municipality or ""),
                    {"name": name, "names": [], "municipality": municipality, "lines": []},
                )
                entry["names"] = sorted(set(entry["names"]) | set(_alt_names(way.tags)))
                entry["lines"].append([[round(lat, 7), round(lon, 7)] for lon, lat in line.coords])
    return {
        "format": FORMAT,
        "addresses": sorted(
            addresses.values(), key=lambda a: (a["street"], _number_key(a["housenumber"]), a["municipality"] or "")
        ),
        "streets": sorted(streets.values(), key=lambda s: (s["name"], s["municipality"] or "")),
        "places": sorted(places, key=lambda p: (p["name"], p["kind"])),
        "facilities": sorted(facilities, key=lambda f: (f["kind"], f["name"])),
        "municipalities": [
            {"name": name, "geometry": shapely.geometry.mapping(geometry)}
            for name, geometry in locator.areas
        ],
        "settlements": settlements,
    }


class _Locator:
    """Which municipality a point is in: its admin area, else the nearest named settlement."""

    def __init__(self, areas: list[tuple[str, BaseGeometry]], settlements: list[dict[str, Any]]) -> None:
        self.areas = areas
        for _, geometry in areas:
            shapely.prepare(geometry)  # point-in-polygon against a prepared outline is ~100 times faster
        self._tree = shapely.STRtree([geometry for _, geometry in areas])
        self._settlements = settlements
        self._settlement_tree = shapely.STRtree([shapely.Point(s["lon"], s["lat"]) for s in settlements])

    def municipality(self, point: LatLon) -> str | None:
        """The municipality name at (lat, lon), or None when the data has neither areas nor settlements."""
        here = shapely.Point(point[1], point[0])
        if self.areas:
            for index in sorted(int(i) for i in self._tree.query(here)):
                if self.areas[index][1].intersects(here):
                    return self.areas[index][0]
        if self._settlements:
            return str(self._settlements[int(self._settlement_tree.nearest(here))]["name"])
        return None


def _close(a: LatLon, b: LatLon) -> bool:
    """Two crossings of the same pair of streets closer than 30 m are one junction."""
    return abs(a[0] - b[0]) < 0.0003 and abs(a[1] - b[1]) < 0.0004


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
        self.places = [Place(**{**p, "names": tuple(p["names"])}) for p in document["places"]]
        self.facilities = [Facility(**f) for f in document["facilities"]]
        #: named settlements (city, town, village): (name, lat, lon)
        self.settlements = [(s["name"], s["lat"], s["lon"]) for s in document["settlements"]]
        self._locator = _Locator(
            [(m["name"], shapely.geometry.shape(m["geometry"])) for m in document["municipalities"]],
            document["settlements"],
        )
        mean_lat = (
            sum(a.lat for a in self.addresses) / len(self.addresses)
            if self.addresses
            else sum(line[0][0] for s in document["streets"] for line in s["lines"][:1])
            / max(1, len(document["streets"]))
        )
        self._kx = 111_320.0 * math.cos(math.radians(mean_lat))

        # Streets in metres: one MultiLineString per street, for interpolation, crossings and reverse lookups.
        self.streets: list[Street] = []
        self._street_lines: list[shapely.MultiLineString] = []
        for s in document["streets"]:
            lines = shapely.MultiLineString([[self._xy((lat, lon)) for lat, lon in line] for line in s["lines"]])
            longest = max(lines.geoms, key=lambda line: line.length)
            lat, lon = self._latlon(longest.interpolate(0.5, normalized=True))
            self.streets.append(Street(s["name"], lat, lon, tuple(s["names"]), s["municipality"]))
            self._street_lines.append(lines)
        self._street_tree = shapely.STRtree(self._street_lines)
        self._streets_by_name: dict[str, list[int]] = defaultdict(list)
        for index, street in enumerate(self.streets):
            self._streets_by_name[street_key(street.name)].append(index)

        # street matching name -> the street name the addresses use
        self._by_street: dict[str, list[Address]] = defaultdict(list)
        # Both spellings: "Bödastrasse 4" is asked as "Bodastrasse 4" and "Boedastrasse 4".
        self._by_plain: dict[str, list[Address]] = defaultdict(list)
        for address in self.addresses:
            self._by_street[street_key(address.street)].append(address)
            self._by_plain[normalize(address.street)].append(address)
        self._street_names: dict[str, str] = {}
        for name in [a.street for a in self.addresses] + [s.name for s in self.streets]:
            self._street_names.setdefault(normalize(name), name)
            self._street_names.setdefault(street_key(name), name)
        for street in self.streets:
            for name in street.names:
                self._street_names.setdefault(normalize(name), street.name)
        self._places: dict[str, list[Place]] = defaultdict(list)
        for place in self.places:
            for name in {place.name, *place.names}:
                self._places[normalize(name)].append(place)
        for found in self._places.values():
            found.sort(key=lambda p: (_PLACE_ORDER[p.kind], not p.landmark))
        self._street_keys = sorted(self._street_names)
        self._place_keys = sorted(self._places)
        self._municipality_keys = {
            normalize(name) for name in [*(m["name"] for m in document["municipalities"]),
                                         *(s["name"] for s in document["settlements"])]
        }
        self._tree = shapely.STRtree([shapely.Point(self._xy((a.lat, a.lon))) for a in self.addresses])

    def _xy(self, point: LatLon) -> tuple[float, float]:
        return point[1] * self._kx, point[0] * _KY

    def _latlon(self, xy: Any) -> LatLon:
        return round(xy.y / _KY, 7), round(xy.x / self._kx, 7)

    # -- streets and addresses -------------------------------------------------------------------------------

    def street_name(self, query: str) -> str | None:
        """The street a (partial, Swedish, lower-case) name means: exact first, then the busiest prefix."""
        key = normalize(query)
        if not key:
            return None
        for exact in (key, street_key(query)):
            if exact in self._street_names:
                return self._street_names[exact]
        matches = {self._street_names[k] for k in self._street_keys if k.startswith(key)}
        if not matches:
            return None
        return min(matches, key=lambda s: (-len(self._by_street.get(street_key(s), [])), len(s), s))

    def is_municipality(self, text: str) -> bool:
        """Whether `text` names a municipality or settlement of the city ("Vaduz", "Schaan")."""
        return normalize(text) in self._municipality_keys

    def streets_named(self, name: str, municipality: str | None = None) -> list[Street]:
        """The street records called `name` (one per municipality it runs through), the busiest first."""
        found = [self.streets[i] for i in self._streets_by_name.get(street_key(name), [])]
        if municipality:
            found = [s for s in found if normalize(s.municipality or "") == normalize(municipality)] or found
        on = self._by_street.get(street_key(name), [])
        return sorted(found, key=lambda s: -sum(1 for a in on if a.municipality == s.municipality))

    def street(self, name: str, municipality: str | None = None) -> Street | None:
        """The street record of a street name as `street_name` returns it (the busiest, or in `municipality`)."""
        found = self.streets_named(name, municipality)
        return found[0] if found else None

    def addresses_on(self, street: str, municipality: str | None = None) -> list[Address]:
        """Every address on `street` (in `municipality` when given), in house-number order."""
        on = list(dict.fromkeys([*self._by_street.get(street_key(street), []),
                                 *self._by_plain.get(normalize(street), [])]))
        if municipality:
            on = [a for a in on if normalize(a.municipality or "") == normalize(municipality)]
        return on

    def find_addresses(self, street: str, housenumber: str, municipality: str | None = None) -> list[Address]:
        """The address points `housenumber` on `street` (a range "5-7" holds 5, 6 and 7): one per municipality
        that has it, or only `municipality`'s when given."""
        on_street = self.addresses_on(street, municipality) or self.addresses_on(street)
        wanted = normalize_number(housenumber)
        found = [a for a in on_street if normalize_number(a.housenumber) == wanted]
        digits = re.match(r"\d+", wanted)
        if found or not digits:
            return found
        n = int(digits.group())
        for address in on_street:
            bounds = re.fullmatch(r"(\d+)[a-z]?-(\d+)[a-z]?", normalize_number(address.housenumber))
            if bounds and int(bounds.group(1)) <= n <= int(bounds.group(2)):
                found.append(address)
        return found

    def find_address(self, street: str, housenumber: str, municipality: str | None = None) -> Address | None:
        """The first of `find_addresses`, or None."""
        found = self.find_addresses(street, housenumber, municipality)
        return found[0] if found else None

    def interpolate(self, street: Street, housenumber: str) -> LatLon | None:
        """Where number `housenumber` falls on `street`'s centreline, between the numbered points around it.

        The numbers either side (the same side of the street when both sides have points) are projected on the
        centreline and the position is interpolated between them; None outside the numbered stretch.
        """
        digits = re.match(r"\d+", housenumber.strip())
        if not digits:
            return None
        n = int(digits.group())
        lines = self._street_lines[self.streets.index(street)]
        numbered = [
            (_number_key(a.housenumber)[0], a)
            for a in self.addresses_on(street.name, street.municipality)
            if re.match(r"\d", a.housenumber)
        ]
        same_side = [(k, a) for k, a in numbered if k % 2 == n % 2]
        for points in (same_side, numbered):
            below = [(k, a) for k, a in points if k < n]
            above = [(k, a) for k, a in points if k > n]
            if not below or not above:
                continue
            (k1, a1), (k2, a2) = max(below, key=lambda ka: ka[0]), min(above, key=lambda ka: ka[0])
            line = min(
                shapely.get_parts(lines),
                key=lambda g: g.distance(shapely.Point(self._xy((a1.lat, a1.lon))))
                + g.distance(shapely.Point(self._xy((a2.lat, a2.lon)))),
            )
            d1 = line.project(shapely.Point(self._xy((a1.lat, a1.lon))))
            d2 = line.project(shapely.Point(self._xy((a2.lat, a2.lon))))
            return self._latlon(line.interpolate(d1 + (d2 - d1) * (n - k1) / (k2 - k1)))
        return None

    def intersections(
        self, first: str, second: str, municipality: str | None = None
    ) -> list[tuple[LatLon, str | None]]:
        """Where streets `first` and `second` meet (within a few metres), with the municipality of each point;
        only in `municipality` when given."""
        found: list[tuple[LatLon, str | None]] = []
        for a in self._streets_by_name.get(street_key(first), []):
            for b in self._streets_by_name.get(street_key(second), []):
                if municipality and normalize(municipality) not in {
                    normalize(self.streets[a].municipality or ""), normalize(self.streets[b].municipality or "")
                }:
                    continue
                la, lb = self._street_lines[a], self._street_lines[b]
                if la.distance(lb) > CROSSING_GAP_M:
                    continue
                meet = la.intersection(lb)
                # Every junction of the two: crossing points, and both ends of any stretch they share.
                points = [shapely.Point(xy) for part in shapely.get_parts(meet) for xy in part.coords] or [
                    shapely.ops.nearest_points(la, lb)[0]
                ]
                for point in points:
                    latlon = self._latlon(point)
                    if not any(_close(latlon, seen) for seen, _ in found):
                        found.append((latlon, self.municipality(latlon)))
        return found

    def nearest_address(self, point: LatLon) -> Address | None:
        """The address nearest to a (lat, lon) point."""
        if not self.addresses:
            return None
        index = self._tree.nearest(shapely.Point(self._xy(point)))
        return self.addresses[int(index)]

    def nearest_street(self, point: LatLon) -> tuple[Street, float] | None:
        """The named street nearest to (lat, lon) and its distance in metres."""
        if not self.streets:
            return None
        here = shapely.Point(self._xy(point))
        index = int(self._street_tree.nearest(here))
        return self.streets[index], self._street_lines[index].distance(here)

    def cross_streets(self, point: LatLon, street: Street) -> list[str]:
        """The nearest streets crossing `street` on either side of `point` (one or two names)."""
        index = self.streets.index(street)
        lines = self._street_lines[index]
        here = shapely.Point(self._xy(point))
        line = min(shapely.get_parts(lines), key=lambda g: g.distance(here))
        at = line.project(here)
        before: tuple[float, str] | None = None
        after: tuple[float, str] | None = None
        for other in self._street_tree.query(line.buffer(CROSSING_GAP_M)):
            name = self.streets[int(other)].name
            if name == street.name:
                continue
            meet = line.intersection(self._street_lines[int(other)].buffer(CROSSING_GAP_M))
            if meet.is_empty:
                continue
            along = line.project(meet.representative_point())
            if along <= at and (before is None or at - along < before[0]):
                before = (at - along, name)
            elif along > at and (after is None or along - at < after[0]):
                after = (along - at, name)
        return list(dict.fromkeys(found[1] for found in (before, after) if found))

    def municipality(self, point: LatLon) -> str | None:
        """The municipality (or nearest settlement) at a (lat, lon) point."""
        return self._locator.municipality(point)

    # -- places --------------------------------------------------------------------------------------------

    def find_places(self, query: str) -> list[Place]:
        """Places named `query` exactly (by any of their names), best first; else those starting with it."""
        key = normalize(query)
        if not key:
            return []
        if key in self._places:
            return list(self._places[key])
        # "Landesspital" finds "Liechtensteinisches Landesspital": any word of a name may start the match.
        found = [p for k in self._place_keys if k.startswith(key) or f" {key}" in f" {k}" for p in self._places[k]]
        found = list(dict.fromkeys(found))
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
        results.extend(sorted(streets, key=lambda s: (-len(self._by_street.get(street_key(s), [])), s)))
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
        r"(?P<street>.*\D)\s+(?P<number>\d+(?:\s*[a-zA-Z](?![a-zA-Z]))?(?:\s*[-–]\s*\d+)?)"
        r"(?:\s+.*)?",
        first,
    )
    if match:
        return match.group("street").strip(), match.group("number")
    return first, None


def as_dict(record: Address | Place | Street | Facility) -> dict[str, Any]:
    """A gazetteer record as the plain dict geopy's `Location.raw` carries."""
    return asdict(record)
