"""Road routing: on a small hand-made graph (exact figures) and on the shipped Helsinki (real behaviour)."""

from __future__ import annotations

import itertools
import math

import pytest

from app.city.geocoder import OfflineGeocoder
from app.city.loader import load_city
from app.city.osm import OsmExtract, Way, haversine_m
from app.city.roads import (
    FORMAT,
    OFF_ROAD_SPEED_KMH,
    RoadNetwork,
    build_road_graph,
    directions,
    drivable_class,
    speed_kmh,
)

# A 3x1 ladder ~111 m per rung along a meridian: a -> b -> c one-way north at 36 km/h (10 m/s), and a
# two-way detour a - d - c at 18 km/h (5 m/s) to the east.
A, B, C = (60.0, 25.0), (60.001, 25.0), (60.002, 25.0)
D = (60.001, 25.002)


def _network(signals: list[dict[str, object]] | None = None) -> RoadNetwork:
    nodes = [list(A), list(B), list(C), list(D)]

    def length(u: int, v: int) -> float:
        return haversine_m(*nodes[u], *nodes[v])

    edges = [[0, 1, length(0, 1), 36], [1, 2, length(1, 2), 36]]
    for u, v in ((0, 3), (3, 2)):
        edges += [[u, v, length(u, v), 18], [v, u, length(u, v), 18]]
    return RoadNetwork({"format": FORMAT, "nodes": nodes, "edges": edges, "signals": signals or []})


def test_one_way_street_is_fast_one_way_only() -> None:
    network = _network()
    north = network.travel_seconds(A, C)
    south = network.travel_seconds(C, A)
    assert north == pytest.approx(haversine_m(*A, *C) / 10, rel=1e-6)
    detour = haversine_m(*A, *D) + haversine_m(*D, *C)
    assert south == pytest.approx(detour / 5, rel=1e-6)


def test_speed_factor_scales_road_time_not_the_off_road_leg() -> None:
    network = _network()
    origin = (60.0005, 25.0003)  # ~17 m east of the a-b segment
    slow, fast = network.travel_seconds(origin, C), network.travel_seconds(origin, C, speed_factor=2.0)
    off_road = haversine_m(*origin, 60.0005, 25.0) / (OFF_ROAD_SPEED_KMH / 3.6)
    assert slow is not None and fast is not None
    assert fast - off_road == pytest.approx((slow - off_road) / 2, rel=1e-3)


def test_points_on_one_segment_drive_along_it_in_its_direction() -> None:
    network = _network()
    low, high = (60.0002, 25.0), (60.0008, 25.0)
    assert network.travel_seconds(low, high) == pytest.approx(haversine_m(*low, *high) / 10, rel=1e-3)
    backwards = network.travel_seconds(high, low)
    assert backwards is not None and backwards > 4 * haversine_m(*low, *high) / 10  # round the detour


def test_route_follows_the_roads() -> None:
    network = _network()
    assert network.route(A, C) == [A, B, C]
    assert network.route(C, A) == [C, D, A]
    assert network.nearest_node((60.00095, 25.0001)) == 1


def test_far_from_any_road_is_unreachable() -> None:
    network = _network()
    assert network.travel_seconds((60.1, 25.0), A) is None
    assert network.travel_seconds_many([A, (60.1, 25.0)], C) == [
        pytest.approx(haversine_m(*A, *C) / 10),
        None,
    ]
    assert network.route((60.1, 25.0), A) == []


def test_tagging_rules() -> None:
    assert drivable_class({"highway": "primary_link"}) == "primary"
    assert drivable_class({"highway": "pedestrian"}) == "pedestrian"
    assert drivable_class({"highway": "footway"}) is None
    assert drivable_class({"highway": "pedestrian", "area": "yes"}) is None
    assert speed_kmh({"maxspeed": "40"}, "residential") == 40
    assert speed_kmh({"maxspeed": "20 mph"}, "residential") == pytest.approx(32.19, abs=0.01)
    assert speed_kmh({"maxspeed": "FI:urban"}, "secondary") == 50
    assert speed_kmh({"maxspeed": "30"}, "pedestrian") == 10
    assert directions({"oneway": "yes"}, "residential") == (True, False)
    assert directions({"oneway": "-1"}, "residential") == (False, True)
    assert directions({"junction": "roundabout"}, "primary") == (True, False)
    assert directions({"junction": "roundabout", "oneway": "no"}, "primary") == (True, True)
    assert directions({}, "residential") == (True, True)


# -- the shipped city -------------------------------------------------------------------------------------


def _where(query: str) -> tuple[float, float]:
    location = OfflineGeocoder(load_city().gazetteer).geocode(query)
    assert location is not None and location.raw["precision"] == "address_point", query
    return location.latitude, location.longitude


def test_nearer_in_a_straight_line_is_not_nearer_to_drive() -> None:
    """Found by searching the real data: Kamppi's one-way grid makes the nearer door the slower one."""
    roads = load_city().roads
    incident = _where("Yrjönkatu 31")
    near, far = _where("Simonkatu 12"), _where("Eerikinkatu 2")
    assert haversine_m(*near, *incident) < haversine_m(*far, *incident)
    near_s, far_s = roads.travel_seconds_many([near, far], incident)
    assert near_s is not None and far_s is not None
    assert near_s > 2 * far_s

    def route_length(points: list[tuple[float, float]]) -> float:
        return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(points))

    assert route_length(roads.route(near, incident)) > route_length(roads.route(far, incident))


def test_many_origins_in_one_search_match_one_search_each() -> None:
    city = load_city()
    (south, west), (north, east) = city.bounds
    origins = [
        (south + (north - south) * (i % 7 + 0.5) / 7, west + (east - west) * (i // 7 + 0.5) / 7)
        for i in range(49)
    ]
    incident = city.center
    many = city.roads.travel_seconds_many(origins, incident, speed_factor=1.3)
    single = [city.roads.travel_seconds(o, incident, speed_factor=1.3) for o in origins]
    assert many == pytest.approx(single)
    assert sum(s is not None for s in many) >= 45  # a few grid points may be out in the bay
    assert all(s is None or (0 <= s < 1800 and math.isfinite(s)) for s in many)


def test_route_starts_and_ends_where_asked() -> None:
    roads = load_city().roads
    start, end = _where("Mannerheimintie 5"), _where("Korkeavuorenkatu 26")
    polyline = roads.route(start, end)
    assert polyline[0] == start and polyline[-1] == end
    assert len(polyline) > 5


def test_recommendation_ranks_by_drive_time_over_the_real_road_graph() -> None:
    """The same two engines, ranked by straight line and then by the city's road network: the order flips."""
    from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
    from app.domain.recommend import StraightLineTravel, recommend

    incident_at = _where("Yrjönkatu 31")
    near, far = _where("Simonkatu 12"), _where("Eerikinkatu 2")
    units = {uid: Unit(uid, "fire", "engine", "", UnitStatus.AVAILABLE, 0.0, lat=pos[0], lon=pos[1])
             for uid, pos in (("E-NEAR", near), ("E-FAR", far))}
    incident = Incident("1001", "vehicle_fire", 2, incident_at[0], incident_at[1], "Yrjönkatu 31",
                        IncidentStatus.NEW, 0.0, "f1", "fire", ["fire"])
    by_line = [r.unit for r in recommend(incident, units, StraightLineTravel())]
    by_road = recommend(incident, units, load_city().roads)
    assert by_line == ["E-NEAR", "E-FAR"]
    assert [r.unit for r in by_road] == ["E-FAR", "E-NEAR"]
    assert "road network" in by_road[0].reason


# Lights at b (entered only from a: the street is one-way north) and at d (entered from a or from c).
LIGHTS = [
    {"id": 1, "osm": 11, "node": 1, "approaches": [{"id": 1, "from": 0, "bearing": 0.0}]},
    {"id": 2, "osm": 12, "node": 3, "approaches": [{"id": 1, "from": 0, "bearing": 45.0},
                                                   {"id": 2, "from": 2, "bearing": 135.0}]},
]


def test_a_route_passes_its_signals_by_the_approach_it_takes_with_the_time_to_each() -> None:
    network = _network(LIGHTS)
    assert [s.id for s in network.signals] == [1, 2]
    [north] = network.signal_passes(A, C)
    assert (north.intersection, north.approach) == (1, 1)
    assert north.eta_s == pytest.approx(haversine_m(*A, *B) / 10, rel=1e-6)
    [south] = network.signal_passes(C, A, speed_factor=2.0)
    assert (south.intersection, south.approach) == (2, 2)
    assert south.eta_s == pytest.approx(haversine_m(*C, *D) / 5 / 2, rel=1e-6)
    assert network.signal_passes(A, (60.0005, 25.0)) == []  # stops short of b's stop line
    assert network.signal_passes((60.1, 25.0), A) == []


def test_the_import_keeps_lights_on_drivable_roads_and_numbers_approaches_clockwise_from_north() -> None:
    centre, north, east, south, west = (60.0, 25.0), (60.001, 25.0), (60.0, 25.002), (59.999, 25.0), (60.0, 24.998)
    street = {"highway": "secondary"}
    ways = [
        Way(1, street, [[(2, *north), (1, *centre), (4, *south)]]),
        Way(2, {**street, "oneway": "yes"}, [[(3, *east), (1, *centre), (5, *west)]]),  # westbound only
        Way(3, {"highway": "footway"}, [[(5, *west), (6, 60.0, 24.997)]]),
    ]
    extract = OsmExtract(bounds=(24.99, 59.99, 25.01, 60.01), ways=ways,
                         signals=[(6, 60.0, 24.997), (1, *centre)])
    [light] = build_road_graph(extract)["signals"]  # the footway's crossing light is no driver's
    assert light["osm"] == 1 and light["id"] == 1
    nodes = build_road_graph(extract)["nodes"]
    arriving = [(a["id"], a["bearing"], tuple(nodes[a["from"]])) for a in light["approaches"]]
    # heading south from the north arm (180), west from the east arm (270), north from the south arm (0)
    assert arriving == [(1, 0.0, south), (2, 180.0, north), (3, 270.0, east)]


def test_the_shipped_cities_have_their_traffic_lights() -> None:
    helsinki = load_city("helsinki").roads
    assert len(helsinki.signals) > 100  # 135 tagged in the extract; a few stand on footways or cut-off stubs
    assert all(1 <= len(s.approaches) <= 15 for s in helsinki.signals)
    assert len({s.id for s in helsinki.signals}) == len(helsinki.signals)
