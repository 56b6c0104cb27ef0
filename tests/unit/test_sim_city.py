"""The simulator on the imported city (`app.city`): skipped until the city package and its data are present."""

from __future__ import annotations

import random

import pytest

from app.sim.map import CityMap, load_map
from app.sim.offline import play_offline
from app.sim.scenario import Scenario, ScenarioConfig

loader = pytest.importorskip("app.city.loader")


@pytest.fixture(scope="module", params=["helsinki", "liechtenstein"])
def city_map(request: pytest.FixtureRequest) -> CityMap:
    try:
        return CityMap(loader.load_city(request.param))
    except (OSError, ValueError, KeyError) as exc:
        pytest.skip(f"no built city: {exc}")


def test_load_map_prefers_the_city(city_map: CityMap) -> None:
    assert isinstance(load_map(), CityMap)


def test_routes_follow_the_roads(city_map: CityMap) -> None:
    rng = random.Random(4)
    a, b = city_map.random_address(rng), city_map.random_address(rng)
    route = city_map.route((a.lat, a.lon), (b.lat, b.lon))
    assert len(route) > 2
    assert route[0] == (a.lat, a.lon) and route[-1] == (b.lat, b.lon)
    assert all(city_map.stations(kind) for kind in ("fire", "police", "medical", "hospital"))
    assert len(city_map.flood_area()) >= 3


def test_a_shift_on_the_city_is_deterministic_and_valid(city_map: CityMap) -> None:
    first = Scenario(ScenarioConfig(seed=9, calls_per_hour=40), city_map).script(1800)
    again = Scenario(ScenarioConfig(seed=9, calls_per_hour=40), city_map).script(1800)
    assert first == again
    assert not play_offline(first).refused


def test_the_flood_warning_fits_the_city() -> None:
    """Helsinki's storm surge at the South Harbour; landlocked Liechtenstein's Rhine in flood, along the river."""
    helsinki = CityMap(loader.load_city("helsinki")).flood_warning()
    assert "South Harbour" in helsinki.headline
    liechtenstein = CityMap(loader.load_city("liechtenstein"))
    warning = liechtenstein.flood_warning()
    assert warning.headline == "Flood warning: the Rhein is rising" and "sea" not in warning.description
    (south, west), (north, east) = liechtenstein.city.bounds
    assert len(warning.area) >= 3 and all(south <= lat <= north and west <= lon <= east for lat, lon in warning.area)
    # The Rhine is the western border: the area hugs it, well west of Vaduz's centre (9.52 E).
    assert sum(lon for _, lon in warning.area) / len(warning.area) < 9.52
    script = Scenario(ScenarioConfig(seed=3, calls_per_hour=0, first_call_at=None, flood_at=5.0),
                      liechtenstein).script(10)
    (issued,) = [c for c in script if c.name == "alert.issue"]
    assert issued.args["headline"] == warning.headline
    assert not play_offline(script).refused
