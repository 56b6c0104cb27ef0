"""A geopy geocoder over the offline gazetteer, and the factory that picks offline or online geocoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from geopy.geocoders import Nominatim, Photon
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from geopy.point import Point

from app.city.gazetteer import Address, Gazetteer, Place, Street, as_dict, normalize, parse_address

DEFAULT_USER_AGENT = "watchfloor"


def _location(record: Address | Place | Street, match: str) -> Location:
    if isinstance(record, Address):
        text = record.label
    elif isinstance(record, Place):
        text = f"{record.name}, {record.address}" if record.address else record.name
    else:
        text = record.name
    raw = {"type": type(record).__name__.lower(), "match": match, **as_dict(record)}
    return Location(text, (record.lat, record.lon), raw)


class OfflineGeocoder(Geocoder):
    """geopy's Geocoder interface answered from a city's gazetteer, with no network.

    `geocode` understands "Mannerheimintie 5", "mannerheimintie 5 a, 00100 Helsinki", "Mannerheimvägen 5"
    (Swedish), "Mannerh" (a street prefix), "Kauppatori" and "Ateneum" (named places). `raw["match"]` says how
    a result was found: "address", "nearest_number" (the street exists, that number does not: the nearest
    number on the same side), "street", "place". Unknown queries give None.
    """

    def __init__(self, gazetteer: Gazetteer) -> None:
        super().__init__(user_agent=DEFAULT_USER_AGENT)
        self.gazetteer = gazetteer

    def _candidates(self, query: str) -> list[Location]:
        parsed = parse_address(query)
        if parsed is None:
            return []
        street_query, number = parsed
        results: list[Location] = []
        if number is not None:
            street = self.gazetteer.street_name(street_query)
            found = self.gazetteer.find_address(street, number) if street else None
            if found:
                address, exact = found
                results.append(_location(address, "address" if exact else "nearest_number"))
        whole = query.split(",")[0]
        places = self.gazetteer.find_places(whole)
        street = self.gazetteer.street_name(whole)
        record = self.gazetteer.street(street) if street else None
        # A square or a landmark named exactly as asked beats a street; a street beats a bus stop.
        wanted = normalize(whole)
        exact_place = [
            p for p in places if p.kind != "stop" and wanted in {normalize(n) for n in (p.name, *p.names)}
        ]
        results.extend(_location(p, "place") for p in exact_place)
        if record is not None:
            results.append(_location(record, "street"))
        results.extend(_location(p, "place") for p in places if p not in exact_place)
        return results

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
        """The address nearest to `query` ((lat, lon), "lat, lon" or a geopy Point)."""
        point = Point(query)
        address = self.gazetteer.nearest_address((point.latitude, point.longitude))
        if address is None:
            return None
        location = _location(address, "nearest_address")
        return location if exactly_one else [location]

    def suggest(self, prefix: str, limit: int = 10) -> list[str]:
        """Autocomplete for the address box; each suggestion geocodes to what it names."""
        return self.gazetteer.suggest(prefix, limit)


def make_geocoder(config: Mapping[str, Any] | None = None, gazetteer: Gazetteer | None = None) -> Geocoder:
    """The geocoder a console should use.

    With no `geocoder_url` in `config`: the offline gazetteer (`gazetteer`, or the default city's). With one:
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
