"""What lies inside an alert's area, with real Helsinki coordinates: circles are metres on the ground at 60° N,
polygons are CAP's lat/lon rings; closed incidents and units without a position are left out."""

from __future__ import annotations

from geopy.distance import geodesic

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.alert_area import circle_ring, inside, named_only
from app.domain.decide import decide
from app.domain.events import Event
from app.domain.picture import Picture

SUPER = Actor("sue", Role.SUPERVISOR, "fire")
KAUPPATORI = (60.1675, 24.9525)  # Market Square, by the South Harbour
RAUTATIENTORI = (60.1710, 24.9440)  # Railway Square, ~650 m north-west
T0 = 1_714_550_400.0


class World:
    """A picture changed only through decide + fold, as the hub does."""

    def __init__(self) -> None:
        self.picture = Picture()
        self.seq = 0

    def do(self, name: str, args: object, actor: Actor = SUPER) -> None:
        for draft in decide(self.picture, actor, name, args, T0 + self.seq):
            self.seq += 1
            self.picture.apply(Event(self.seq, T0 + self.seq, actor.user, draft.kind, draft.data, draft.audience))


def at(bearing: float, metres: float, origin: tuple[float, float] = KAUPPATORI) -> tuple[float, float]:
    point = geodesic(meters=metres).destination(origin, bearing)
    return point.latitude, point.longitude


def world_with_units(**positions: tuple[float, float]) -> World:
    world = World()
    for unit_id, (lat, lon) in positions.items():
        world.do("unit.register", c.RegisterUnit(unit_id, "fire", "engine", lat=lat, lon=lon))
    return world


def test_a_circle_is_metres_on_the_ground_at_helsinki_latitude() -> None:
    # East-west is where degrees lie: 300 m is 0.0054° of longitude at 60° N but only 0.0027° of latitude.
    world = world_with_units(E1=at(90, 280), E2=at(90, 320), E3=at(0, 280), E4=at(0, 320), E5=at(225, 295))
    world.do("alert.issue", c.IssueAlert("Flood", [c.AlertAreaArgs(circle=[*KAUPPATORI, 300])]))
    assert inside(world.picture.alerts["AL-1"], world.picture).units == ("E1", "E3", "E5")


def test_a_circle_of_radius_zero_is_the_point_and_a_named_area_covers_nothing() -> None:
    world = world_with_units(E1=KAUPPATORI, E2=at(90, 10))
    world.do("alert.issue", c.IssueAlert("Gas smell", [c.AlertAreaArgs(circle=[*KAUPPATORI, 0])]))
    world.do("alert.issue", c.IssueAlert("Storm", [c.AlertAreaArgs(desc="Uusimaa")]))
    assert inside(world.picture.alerts["AL-1"], world.picture).units == ("E1",)
    assert named_only(world.picture.alerts["AL-2"]) == ["Uusimaa"]
    assert inside(world.picture.alerts["AL-2"], world.picture).total == 0


def test_the_circle_ring_is_within_a_fraction_of_a_metre_of_the_radius() -> None:
    ring = circle_ring(*KAUPPATORI, 300)
    assert ring[0] == ring[-1] and len(ring) == 129
    assert all(abs(geodesic(KAUPPATORI, p).meters - 300) < 0.01 for p in ring)


def test_polygon_area_lists_units_open_incidents_and_overlapping_zones() -> None:
    # The shoreline polygon of the Helsinki flood CAP sample (tests/unit/data/feeds/cap_helsinki_flood_alert.xml).
    shore = [[60.1650, 24.9460], [60.1690, 24.9460], [60.1690, 24.9530], [60.1650, 24.9530]]
    world = world_with_units(E1=(60.1670, 24.9500), E2=RAUTATIENTORI)
    world.do("unit.register", c.RegisterUnit("E3", "fire", "engine"))  # no position yet
    world.do("incident.create", c.CreateIncident("flooding", 60.1680, 24.9510, address="Kauppatori"))
    world.do("incident.create", c.CreateIncident("flooding", 60.1660, 24.9480, address="Eteläranta"))
    world.do("incident.create", c.CreateIncident("fire_alarm", *RAUTATIENTORI, address="Rautatientori"))
    world.do("incident.close", c.CloseIncident("1002", "false_alarm"))
    world.do("zone.create", c.CreateZone("Harbour cordon", [[60.1685, 24.9520], [60.1700, 24.9520],
                                                            [60.1700, 24.9560]]))  # straddles the edge
    world.do("zone.create", c.CreateZone("Station staging", [[60.1712, 24.9420], [60.1720, 24.9420],
                                                             [60.1720, 24.9435]]))
    world.do("alert.issue", c.IssueAlert("Flood warning", [c.AlertAreaArgs(polygon=shore, desc="Kauppatori")]))
    found = inside(world.picture.alerts["AL-1"], world.picture)
    assert found.units == ("E1",)
    assert found.incidents == ("1001",)  # 1002 is inside but closed; 1003 is at the station
    assert found.zones == ("Z-1",)
    assert found.total == 3


def test_several_areas_are_one_union() -> None:
    world = world_with_units(E1=KAUPPATORI, E2=RAUTATIENTORI, E3=at(180, 1500))
    areas = [c.AlertAreaArgs(circle=[*KAUPPATORI, 100]), c.AlertAreaArgs(circle=[*RAUTATIENTORI, 100])]
    world.do("alert.issue", c.IssueAlert("Gas leak", areas))
    assert inside(world.picture.alerts["AL-1"], world.picture).units == ("E1", "E2")


def test_a_self_crossing_polygon_still_answers() -> None:
    bow_tie = [[60.166, 24.950], [60.169, 24.955], [60.166, 24.955], [60.169, 24.950]]
    # Lobes left and right of the crossing at 24.9525: E1 is in the left lobe, E2 below the crossing.
    world = world_with_units(E1=(60.1675, 24.9505), E2=(60.1665, 24.9525))
    world.do("alert.issue", c.IssueAlert("Hand-drawn", [c.AlertAreaArgs(polygon=bow_tie)]))
    assert inside(world.picture.alerts["AL-1"], world.picture).units == ("E1",)
