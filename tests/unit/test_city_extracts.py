"""The two shipped real-world extracts (Liechtenstein, central Porto): geocoding checked against the raw
OpenStreetMap data with pyosmium, samples drawn from the data itself; and the demo fleet based at their real
stations. The cities are built on first use into the session's data folder (tests/conftest.py)."""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from typing import Any

import osmium
import pytest
import shapely

from app.city.geocoder import OfflineGeocoder
from app.city.loader import CITY_RESOURCES, SHIPPED, load_city
from app.city.osm import haversine_m
from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
from app.domain.recommend import recommend
from app.sim.fleet import plan_fleet
from app.sim.map import CityMap

CITIES = ("liechtenstein", "porto")
WITHIN_M = 50.0


def _pbf(city: str) -> str:
    return str(CITY_RESOURCES / SHIPPED[city])


def _raw_addresses(city: str) -> dict[tuple[str, str], list[Any]]:
    """(street, number) -> every place OSM has it: a node's point, or a building's outline [(lat, lon), ...]."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for obj in osmium.FileProcessor(_pbf(city)).with_locations():
        tags = obj.tags
        if "addr:street" not in tags or "addr:housenumber" not in tags:
            continue
        if obj.is_node():
            point = (obj.location.lat, obj.location.lon)
        elif obj.is_way():
            point = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
            if len(point) < 3:
                continue
        else:
            continue
        found[(tags["addr:street"], tags["addr:housenumber"])].append(point)
    return found


def _raw_streets(city: str) -> dict[str, list[list[tuple[float, float]]]]:
    """Named highway -> its ways' node positions (squares drawn as areas are places, not streets)."""
    streets: dict[str, list[list[tuple[float, float]]]] = defaultdict(list)
    for way in osmium.FileProcessor(_pbf(city), osmium.osm.WAY | osmium.osm.NODE).with_locations():
        if way.is_way() and "highway" in way.tags and "name" in way.tags and way.tags.get("area") != "yes":
            nodes = [(n.lat, n.lon) for n in way.nodes if n.location.valid()]
            if len(nodes) >= 2:
                streets[way.tags["name"]].append(nodes)
    return streets


def _metres_from(point: tuple[float, float], where: Any) -> float:
    """Metres from a point to where OSM has an address: its node, or inside/near its building's outline."""
    if isinstance(where, tuple):
        return haversine_m(*point, *where)
    kx = 111_320.0 * math.cos(math.radians(point[0]))
    outline = shapely.Polygon([(lon * kx, lat * 110_574.0) for lat, lon in where])
    return outline.distance(shapely.Point(point[1] * kx, point[0] * 110_574.0))


def _distance_to_line_m(point: tuple[float, float], lines: list[list[tuple[float, float]]]) -> float:
    """Metres from a point to the nearest of some polylines (local equirectangular projection)."""
    kx = 111_320.0 * math.cos(math.radians(point[0]))
    here = shapely.Point(point[1] * kx, point[0] * 110_574.0)
    return min(shapely.LineString([(lon * kx, lat * 110_574.0) for lat, lon in line]).distance(here)
               for line in lines)


@pytest.fixture(scope="module", params=CITIES)
def city(request: pytest.FixtureRequest) -> Any:
    return load_city(request.param)


def _inside(city: Any, where: Any) -> bool:
    """Whether OSM's point (or a building's first node) is inside the extract's box: the rest is cut off."""
    (south, west), (north, east) = city.bounds
    lat, lon = where if isinstance(where, tuple) else where[0]
    return south <= lat <= north and west <= lon <= east


def test_real_addresses_geocode_to_their_address_point(city: Any) -> None:
    raw = _raw_addresses(city.name)
    # House numbers as people say them ("12", "12a", OSM's list "148;146"), not data slips ("223 312").
    inside = sorted(key for key, places in raw.items() if all(_inside(city, p) for p in places)
                    and re.fullmatch(r"\d+\s*[A-Za-z]?(\s*;\s*\d+\s*[A-Za-z]?)*", key[1]))
    sample = random.Random(13).sample(inside, 120)
    geocoder = OfflineGeocoder(city.gazetteer)
    for street, listed in sample:
        number = listed.split(";")[-1].strip()  # "148;146" lists two numbers of one door: ask for one
        found = geocoder.geocode(f"{street} {number}")
        assert found is not None, (street, number)
        assert found.raw["precision"] == "address_point", (street, number, found.raw)
        # The same street and number may exist in two municipalities: it must be one of OSM's points.
        assert min(_metres_from((found.latitude, found.longitude), p) for p in raw[(street, listed)]) < WITHIN_M


def test_missing_numbers_are_interpolated_on_the_named_street(city: Any) -> None:
    """A number between two numbered points of a street lands on that street, between them, labelled so."""
    raw = _raw_addresses(city.name)
    streets = _raw_streets(city.name)
    geocoder = OfflineGeocoder(city.gazetteer)
    by_street: dict[str, set[int]] = defaultdict(set)
    for (street, number), places in raw.items():
        if number.isdigit() and all(_inside(city, p) for p in places):
            by_street[street].add(int(number))
    gaps = [(street, n) for street, numbers in sorted(by_street.items()) if street in streets
            for n in range(min(numbers) + 2, max(numbers), 2)
            if n not in numbers and n - 2 in numbers and n + 2 in numbers and not any(
                re.fullmatch(rf"{n}\s*\w", key[1]) for key in raw if key[0] == street)]
    assert len(gaps) >= 5, "the extract has numbered streets with gaps"
    for street, n in random.Random(5).sample(gaps, min(40, len(gaps))):
        found = geocoder.geocode(f"{street} {n}")
        assert found is not None and found.raw["precision"] == "interpolated", (street, n, found)
        assert _distance_to_line_m((found.latitude, found.longitude), streets[street]) < WITHIN_M
        neighbours = raw[(street, str(n - 2))] + raw[(street, str(n + 2))]
        assert min(_metres_from((found.latitude, found.longitude), p) for p in neighbours) < 400


def test_intersections_geocode_to_the_shared_node(city: Any) -> None:
    """Two named streets that share a node in OSM: "A & B" is at that node."""
    streets = _raw_streets(city.name)
    nodes: dict[tuple[float, float], set[str]] = defaultdict(set)
    for name, lines in streets.items():
        for line in lines:
            for point in line:
                nodes[point].add(name)
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for point, names in nodes.items():
        if len(names) == 2 and _inside(city, point):
            a, b = sorted(names)
            pairs[(a, b)].append(point)
    geocoder = OfflineGeocoder(city.gazetteer)
    sample = random.Random(3).sample(sorted(pairs), 60)
    for a, b in sample:
        found = geocoder.geocode(f"{a} & {b}", exactly_one=False)
        assert found, (a, b)
        assert all(f.raw["precision"] == "intersection" for f in found)
        assert min(haversine_m(f.latitude, f.longitude, *p) for f in found for p in pairs[(a, b)]) < WITHIN_M


def test_places_and_landmarks_geocode_by_name_and_alias(city: Any) -> None:
    geocoder = OfflineGeocoder(city.gazetteer)
    named = [p for p in city.gazetteer.places if p.kind == "place" or p.landmark]
    for place in random.Random(8).sample(named, min(40, len(named))):
        found = geocoder.geocode(place.name, exactly_one=False)
        assert found and any(f.raw["precision"] == "place" and
                             haversine_m(f.latitude, f.longitude, place.lat, place.lon) < WITHIN_M
                             for f in found), place
        for alias in place.names[:1]:
            again = geocoder.geocode(alias, exactly_one=False)
            assert again and any(haversine_m(f.latitude, f.longitude, place.lat, place.lon) < WITHIN_M
                                 for f in again), (place, alias)


def test_reverse_gives_address_municipality_and_cross_streets(city: Any) -> None:
    geocoder = OfflineGeocoder(city.gazetteer)
    for address in random.Random(2).sample(city.gazetteer.addresses, 40):
        found = geocoder.reverse((address.lat, address.lon))
        assert found is not None and found.raw["precision"] == "address_point"
        assert haversine_m(found.latitude, found.longitude, address.lat, address.lon) < 1
        assert found.raw["municipality"]
    # Away from any address: the street, with the streets crossing it either side.
    street = max(city.gazetteer.streets, key=lambda s: len(city.gazetteer.cross_streets((s.lat, s.lon), s)))
    found = geocoder.reverse((street.lat, street.lon))
    assert found.raw["cross_streets"] and found.raw["municipality"]


def test_liechtenstein_municipalities_and_street_names_shared_between_them() -> None:
    city = load_city("liechtenstein")
    gazetteer = city.gazetteer
    assert {"Vaduz", "Schaan", "Balzers", "Triesen", "Eschen"} <= {m for m, *_ in
                                                                   [(gazetteer.municipality((a.lat, a.lon)),)
                                                                    for a in gazetteer.addresses]}
    geocoder = OfflineGeocoder(gazetteer)
    everywhere = geocoder.geocode("Kirchstrasse", exactly_one=False)
    assert len({f.raw["municipality"] for f in everywhere}) >= 2  # one street name, several villages
    in_vaduz = geocoder.geocode("Kirchstrasse, Vaduz")
    assert in_vaduz.raw["municipality"] == "Vaduz" and in_vaduz.raw["precision"] == "street"
    hospital = geocoder.geocode("Landesspital")
    assert hospital.raw["precision"] == "place" and "Landesspital" in hospital.address


def test_the_demo_fleet_sits_at_the_countrys_stations_so_recommendations_differ() -> None:
    city_map = CityMap(load_city("liechtenstein"))
    plans = plan_fleet(40, city_map)
    fire_bases = {p.station.point for p in plans if p.agency == "fire"}
    assert len(fire_bases) >= 4  # Liechtenstein's fire stations, not one
    police = city_map.stations("police")
    assert police[0].name.startswith("Police station, Gewerbeweg 4")  # the real national police HQ
    assert all("plausible addition" in s.name for s in police[1:])
    units = {p.id: Unit(p.id, p.agency, p.kind, p.station.name, UnitStatus.AVAILABLE, 0.0,
                        lat=p.station.lat, lon=p.station.lon) for p in plans}
    geocoder = OfflineGeocoder(city.gazetteer) if (city := load_city("liechtenstein")) else None
    best = {}
    for query in ("Kirchstrasse, Balzers", "Kirchstrasse, Ruggell"):
        at = geocoder.geocode(query)
        incident = Incident(query, "structure_fire", 1, at.latitude, at.longitude, query, IncidentStatus.NEW,
                            0.0, "f1", "fire", ["fire"])
        engines = [r for r in recommend(incident, units, city.roads) if r.kind == "engine"]
        best[query] = engines[0]
        assert engines[0].eta_s < engines[-1].eta_s  # not all the same ETA
    balzers, ruggell = best.values()
    assert units[balzers.unit].station != units[ruggell.unit].station


def test_geocode_and_reverse_commands_print_json(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from app.city.cli import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["geocode", "--city", "liechtenstein", "Landstrasse", "&", "Kirchstrasse"])) == 0
    crossing = json.loads(capsys.readouterr().out)
    assert crossing["precision"] == "intersection" and crossing["municipality"] == "Schaan"
    assert run(parser.parse_args(["reverse", "--city", "liechtenstein", str(crossing["lat"]),
                                  str(crossing["lon"])])) == 0
    here = json.loads(capsys.readouterr().out)
    assert here["municipality"] == "Schaan" and here["precision"] in ("address_point", "street")
    assert {"Landstrasse", "Kirchstrasse"} & {here["text"].split(" ")[0].rstrip(","), *here["cross_streets"]}
    assert run(parser.parse_args(["geocode", "--city", "liechtenstein", "--all", "Kirchstrasse"])) == 0
    everywhere = json.loads(capsys.readouterr().out)
    assert everywhere[0]["elsewhere"] and len({r["municipality"] for r in everywhere}) >= 3
    assert run(parser.parse_args(["geocode", "--city", "liechtenstein", "Sturenkatu", "5"])) == 1
    assert json.loads(capsys.readouterr().out) is None
    assert run(parser.parse_args(["geocode", "--city", "atlantis", "x"])) == 2
