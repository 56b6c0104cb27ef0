"""A geopy geocoder over the offline gazetteer, and the factory that picks offline or online geocoding.

Every result says how precisely it places the location (`raw["precision"]`, one of
`app.domain.location.PRECISIONS`), the way a CAD geocoder does: an address point where the data has one; else
a position interpolated along the named street between the numbered points around it; else the street itself;
an intersection of two streets; a named place or landmark.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from geopy.geocoders import Nominatim, Photon
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from geopy.point import Point

from app.city.gazetteer import Address, Gazetteer, Place, Street, as_dict, normalize, parse_address
from app.city.osm import haversine_m

DEFAULT_USER_AGENT = "watchfloor"

#: "A & B", "A / B", "A and B", "A und B", "A x B", "A @ B": an intersection
_CROSSING = re.compile(r"\s*(?:&|/|@|\s(?:and|und|x|at)\s)\s*", re.IGNORECASE)
#: equally good answers farther apart than this (metres) make a query ambiguous
AMBIGUOUS_M = 200.0
#: reverse geocoding calls a point an address when an address point is this close (metres)
REVERSE_ADDRESS_M = 30.0
#: ... and a street when a named street is this close
REVERSE_STREET_M = 80.0


def _location(text: str, at: tuple[float, float], precision: str, raw: dict[str, Any]) -> Location:
    return Location(text, at, {**raw, "precision": precision})


def _street_text(street: Street) -> str:
    return f"{street.name}, {street.municipality}" if street.municipality else street.name


class OfflineGeocoder(Geocoder):
    """geopy's Geocoder interface answered from a city's gazetteer, with no network.

    `geocode` understands "Landstrasse 12", "landstrasse 12, Vaduz", "Mannerheimvägen 5" (another language's
    name), "Mannerh" (a street prefix), "Landstrasse & Kirchstrasse" (an intersection), "Kauppatori" and
    "Landesspital" (named places). `raw["precision"]` says what the point is: "address_point",
    "interpolated", "street", "intersection" or "place"; `raw["municipality"]` where it is. Unknown queries
    give None: a geocoder that guesses puts ambulances at the wrong door.
    """

    def __init__(self, gazetteer: Gazetteer) -> None:
        super().__init__(user_agent=DEFAULT_USER_AGENT)
        self.gazetteer = gazetteer

    def _split_municipality(self, query: str) -> tuple[str, str | None]:
        """("Landstrasse 12", "Vaduz") from "Landstrasse 12, 9490 Vaduz"; the municipality must be known."""
        first, *rest = [part.strip() for part in query.split(",")]
        for part in rest:
            words = [w for w in part.split() if not any(c.isdigit() for c in w)]
            if words and self.gazetteer.is_municipality(" ".join(words)):
                return first, " ".join(words)
        return first, None

    def _address(self, street_query: str, number: str, municipality: str | None) -> list[Location]:
        gazetteer = self.gazetteer
        street_name = gazetteer.street_name(street_query)
        if street_name is None:
            return []
        addresses = gazetteer.find_addresses(street_name, number, municipality)
        if addresses:
            return [self._address_location(address) for address in addresses]
        results = []
        for street in gazetteer.streets_named(street_name, municipality):
            at = gazetteer.interpolate(street, number)
            if at is not None:
                text = f"{street.name} {number}" + (f", {street.municipality}" if street.municipality else "")
                results.append(
                    _location(text, at, "interpolated", {"type": "address", "street": street.name,
                                                          "housenumber": number, "municipality": street.municipality})
                )
        if results:
            return results
        return [self._street_location(street) for street in gazetteer.streets_named(street_name, municipality)]

    @staticmethod
    def _address_location(address: Address) -> Location:
        return _location(address.label, (address.lat, address.lon), "address_point",
                         {"type": "address", **as_dict(address)})

    @staticmethod
    def _street_location(street: Street) -> Location:
        return _location(_street_text(street), (street.lat, street.lon), "street",
                         {"type": "street", "street": street.name, "municipality": street.municipality})

    @staticmethod
    def _place_location(place: Place) -> Location:
        text = f"{place.name}, {place.address}" if place.address else place.name
        if place.municipality and place.municipality != place.name:
            text += f", {place.municipality}"
        return _location(text, (place.lat, place.lon), "place", {"type": "place", **as_dict(place)})

    def _intersection(self, query: str, municipality: str | None = None) -> list[Location]:
        # Street names may hold a separator word themselves ("Peter- und Paul-Strasse"): try each split.
        for separator in _CROSSING.finditer(query):
            first = self.gazetteer.street_name(query[: separator.start()])
            second = self.gazetteer.street_name(query[separator.end() :])
            if first is None or second is None or first == second:
                continue
            found = [
                _location(f"{first} & {second}" + (f", {municipality}" if municipality else ""), at,
                          "intersection", {"type": "intersection", "streets": [first, second],
                                           "municipality": municipality})
                for at, municipality in self.gazetteer.intersections(first, second, municipality)
            ]
            if found:
                return found
        return []

    def _tiers(self, query: str) -> list[list[Location]]:
        """The candidates for `query` in tiers of equally good answers, best tier first."""
        whole, municipality = self._split_municipality(query)
        crossing = self._intersection(whole, municipality)
        if crossing:
            return [crossing]
        parsed = parse_address(whole)
        if parsed is None:
            return []
        street_query, number = parsed
        if number is not None:
            found = self._address(street_query, number, municipality)
            if found:
                return [found]
        places = self.gazetteer.find_places(whole)
        if municipality:
            places = [p for p in places if normalize(p.municipality or "") == normalize(municipality)] or places
        street_name = self.gazetteer.street_name(whole)
        streets = self.gazetteer.streets_named(street_name, municipality) if street_name else []
        # A square or a landmark named exactly as asked beats a street; a street beats a bus stop.
        wanted = normalize(whole)
        exact_place = [
            p for p in places if p.kind != "stop" and wanted in {normalize(n) for n in (p.name, *p.names)}
        ]
        tiers = [
            [self._place_location(p) for p in exact_place],
            [self._street_location(s) for s in streets],
            [self._place_location(p) for p in places if p not in exact_place],
        ]
        return [tier for tier in tiers if tier]

    def _candidates(self, query: str) -> list[Location]:
        tiers = self._tiers(query)
        if not tiers:
            return []
        best, *_ = tiers
        # Equally good answers far apart ("Kirchstrasse" in three villages): the caller must say which.
        elsewhere = [c.address for c in best[1:]
                     if haversine_m(c.latitude, c.longitude, best[0].latitude, best[0].longitude) > AMBIGUOUS_M]
        best[0].raw["elsewhere"] = list(dict.fromkeys(elsewhere))
        return [location for tier in tiers for location in tier]

    def geocode(
        self, query: str, *, exactly_one: bool = True, limit: int | None = None, **_ignored: Any
    ) -> Location | list[Location] | None:
        """The best match for `query` (or up to `limit` matches when `exactly_one` is False); None if none."""
        results = self._candidates(str(query))
        if not results:
            return None
        if exactly_one:
            return results[0]
        return results[:limit] if limit else results

    def reverse(
        self, query: Any, *, exactly_one: bool = True, **_ignored: Any
    ) -> Location | list[Location] | None:
        """What is at `query` ((lat, lon), "lat, lon" or a geopy Point): an address point within 30 m, else the
        nearest street within 80 m, else the nearest place; with the municipality and the cross streets."""
        point = Point(query)
        here = (point.latitude, point.longitude)
        gazetteer = self.gazetteer
        municipality = gazetteer.municipality(here)
        near_street = gazetteer.nearest_street(here)
        address = gazetteer.nearest_address(here)
        if address is not None and haversine_m(*here, address.lat, address.lon) > REVERSE_ADDRESS_M:
            address = None
        # An address's cross streets are those of its own street, not of whatever street is nearest.
        street = (gazetteer.street(address.street, address.municipality) if address else None) or (
            near_street[0] if near_street else None
        )
        cross = gazetteer.cross_streets(here, street) if street else []
        extra = {"municipality": municipality, "cross_streets": cross}
        location: Location | None = None
        if address is not None:
            location = _location(address.label, (address.lat, address.lon), "address_point",
                                 {"type": "address", **as_dict(address), **extra})
        elif near_street is not None and near_street[1] <= REVERSE_STREET_M:
            street = near_street[0]
            text = street.name + (f" (near {' / '.join(cross)})" if cross else "")
            text += f", {municipality}" if municipality else ""
            location = _location(text, here, "street", {"type": "street", "street": street.name, **extra})
        else:
            places = [p for p in gazetteer.places if p.kind != "stop"]
            if places:
                place = min(places, key=lambda p: haversine_m(*here, p.lat, p.lon))
                text = f"near {place.name}" + (f", {municipality}" if municipality else "")
                location = _location(text, here, "place", {"type": "place", "name": place.name, **extra})
        if location is None:
            return None
        return location if exactly_one else [location]

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        """Autocomplete for the address box; each suggestion geocodes to what it names."""
        return self.gazetteer.suggest(prefix, limit)


def precision_of(location: Location) -> str:
    """The precision of any geopy result: ours say it; Nominatim's and Photon's are read from their type."""
    raw = location.raw if isinstance(location.raw, dict) else {}
    if "precision" in raw:
        return str(raw["precision"])
    kind = str(raw.get("addresstype") or raw.get("type") or (raw.get("properties") or {}).get("type") or "")
    if kind in ("house", "building") or raw.get("properties", {}).get("housenumber"):
        return "address_point"
    if kind in ("road", "street", "residential", "primary", "secondary", "tertiary"):
        return "street"
    return "place"


def make_geocoder(config: Mapping[str, Any] | None = None, gazetteer: Gazetteer | None = None) -> Geocoder:
    """The geocoder a console should use.

    With no `geocoder_url` in `config`: the offline gazetteer (`gazetteer`, or the current city's). With one:
    geopy's Photon when `geocoder` is "photon" or the URL mentions photon, else Nominatim — both pointed at
    that (typically self-hosted) server, with `user_agent` from the config.
    """
    config = config or {}
    url = config.get("geocoder_url")
    if not url:
        if gazetteer is None:
            from app.city.loader import load_city

            gazetteer = load_city().gazetteer
        return OfflineGeocoder(gazetteer)
    parts = urlsplit(url if "://" in url else f"https://{url}")
    domain = parts.netloc + parts.path.rstrip("/")
    user_agent = config.get("user_agent", DEFAULT_USER_AGENT)
    provider = config.get("geocoder") or ("photon" if "photon" in url.casefold() else "nominatim")
    if provider == "photon":
        return Photon(domain=domain, scheme=parts.scheme, user_agent=user_agent)
    return Nominatim(domain=domain, scheme=parts.scheme, user_agent=user_agent)
