"""The offline geocoder against the raw OpenStreetMap data it was built from (no network)."""

from __future__ import annotations

import osmium
import pytest
from geopy.geocoders import Nominatim, Photon
from geopy.location import Location

from app.city.gazetteer import parse_address
from app.city.geocoder import OfflineGeocoder, make_geocoder
from app.city.loader import CITY_RESOURCES, load_city
from app.city.osm import haversine_m

PBF = str(CITY_RESOURCES / "Helsinki.osm.pbf")


@pytest.fixture(scope="module")
def geocoder() -> OfflineGeocoder:
    return OfflineGeocoder(load_city().gazetteer)


def _raw_position(**tags: str) -> tuple[float, float]:
    """Where the OSM object carrying all `tags` is: a node's location, or the mean of a way's nodes."""
    for obj in osmium.FileProcessor(PBF).with_locations():
        if all(obj.tags.get(k) == v for k, v in tags.items()):
            if obj.is_node():
                return obj.location.lat, obj.location.lon
            if obj.is_way():
                points = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
                return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
    raise LookupError(tags)


def test_a_real_address_geocodes_to_its_building(geocoder: OfflineGeocoder) -> None:
    # Ateneum, the national art museum: a building way tagged addr:street=Kaivokatu, addr:housenumber=2.
    raw = _raw_position(**{"addr:street": "Kaivokatu", "addr:housenumber": "2", "name": "Ateneum"})
    location = geocoder.geocode("Kaivokatu 2")
    assert isinstance(location, Location)
    assert location.raw["precision"] == "address_point"
    assert location.address.startswith("Kaivokatu 2")
    assert haversine_m(location.latitude, location.longitude, *raw) < 40


@pytest.mark.parametrize(
    "query",
    [
        "Mannerheimintie 5",
        "mannerheimintie 5",
        "MANNERHEIMINTIE 5",
        "Mannerheimintie 5, Helsinki",
        "Mannerheimintie 5, 00100 Helsinki",
        "Mannerheimvägen 5",
    ],
)
def test_address_queries_are_tolerant(geocoder: OfflineGeocoder, query: str) -> None:
    location = geocoder.geocode(query)
    assert location is not None
    assert location.address.startswith("Mannerheimintie 5,")


def test_swedish_name_comes_from_the_data() -> None:
    names = {
        obj.tags.get("name:sv")
        for obj in osmium.FileProcessor(PBF, osmium.osm.WAY)
        if obj.tags.get("name") == "Mannerheimintie"
    }
    assert "Mannerheimvägen" in names


def test_partial_street_and_named_places(geocoder: OfflineGeocoder) -> None:
    street = geocoder.geocode("Mannerh")
    assert street is not None and street.address == "Mannerheimintie, Helsinki" and street.raw["precision"] == "street"
    square = geocoder.geocode("Kauppatori")
    assert square is not None and square.raw["category"] == "square"
    assert geocoder.geocode("Salutorget").point == square.point  # its Swedish name
    ateneum = geocoder.geocode("ateneum")
    assert ateneum is not None and ateneum.raw["name"] == "Ateneum" and ateneum.raw["category"] == "museum"


def test_an_unknown_number_is_interpolated_between_its_neighbours(geocoder: OfflineGeocoder) -> None:
    gazetteer = load_city().gazetteer
    numbers = {int(a.housenumber) for a in gazetteer.addresses_on("Mannerheimintie") if a.housenumber.isdigit()}
    missing = next(n for n in range(min(numbers) + 2, max(numbers)) if n not in numbers
                   and {n - 2, n + 2} & numbers)  # a gap in the numbering, on a side that has numbers
    location = geocoder.geocode(f"Mannerheimintie {missing}")
    assert location is not None and location.raw["precision"] == "interpolated"
    assert location.address.startswith(f"Mannerheimintie {missing}")
    below = max((a for a in gazetteer.addresses_on("Mannerheimintie")
                 if a.housenumber.isdigit() and int(a.housenumber) < missing and int(a.housenumber) % 2 == missing % 2),
                key=lambda a: int(a.housenumber))
    assert haversine_m(location.latitude, location.longitude, below.lat, below.lon) < 300
    # A number past either end of the numbered stretch: the street, and it says so.
    beyond = geocoder.geocode("Mannerheimintie 999")
    assert beyond is not None and beyond.raw["precision"] == "street" and beyond.address.startswith("Mannerheimintie")


@pytest.mark.parametrize("query", ["Xyzzyplatz 12", "qqqq", "", "   ,  "])
def test_unknown_queries_give_none(geocoder: OfflineGeocoder, query: str) -> None:
    assert geocoder.geocode(query) is None


def test_reverse_gives_the_nearest_address(geocoder: OfflineGeocoder) -> None:
    ateneum = _raw_position(**{"addr:street": "Kaivokatu", "addr:housenumber": "2", "name": "Ateneum"})
    location = geocoder.reverse(ateneum)
    assert location is not None and location.address.startswith("Kaivokatu 2,")
    again = geocoder.reverse(f"{ateneum[0]}, {ateneum[1]}", exactly_one=False)
    assert isinstance(again, list) and again[0].address == location.address
    # Every address reverse-geocodes to itself (or to one sharing its point).
    for address in load_city().gazetteer.addresses[::25]:
        found = geocoder.reverse((address.lat, address.lon))
        assert (found.latitude, found.longitude) == (address.lat, address.lon)


def test_suggest_completes_streets_places_and_numbers(geocoder: OfflineGeocoder) -> None:
    assert geocoder.suggest("mannerh")[0] == "Mannerheimintie"
    numbers = geocoder.suggest("Mannerheimintie 1", limit=5)
    assert numbers and all(s.startswith("Mannerheimintie 1") for s in numbers) and len(numbers) <= 5
    assert "Kauppatori" in geocoder.suggest("Kauppat")
    for suggestion in geocoder.suggest("Ale") + numbers:
        assert geocoder.geocode(suggestion) is not None
    assert geocoder.suggest("qqqq") == []


def test_parse_address() -> None:
    assert parse_address("Mannerheimintie 5 A, 00100 Helsinki") == ("Mannerheimintie", "5 A")
    assert parse_address("Iso Roobertinkatu 3-5") == ("Iso Roobertinkatu", "3-5")
    assert parse_address("Kauppatori") == ("Kauppatori", None)


def test_make_geocoder_is_offline_unless_a_server_is_configured() -> None:
    assert isinstance(make_geocoder(), OfflineGeocoder)
    nominatim = make_geocoder({"geocoder_url": "https://nominatim.example.org", "user_agent": "test"})
    assert isinstance(nominatim, Nominatim) and nominatim.domain == "nominatim.example.org"
    photon = make_geocoder({"geocoder_url": "http://10.0.0.5:2322", "geocoder": "photon"})
    assert isinstance(photon, Photon) and photon.scheme == "http"
