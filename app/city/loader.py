"""Load a built city directory (the output of `watchfloor city import`)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.city.gazetteer import Facility, Gazetteer
from app.city.roads import RoadNetwork

#: where built cities live in a source checkout; the default city is `helsinki`
CITY_RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "city"
DEFAULT_CITY = CITY_RESOURCES / "helsinki"

LatLon = tuple[float, float]


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


@dataclass(frozen=True, eq=False)
class City:
    """A built city: where it is, its basemap file, its road network and its gazetteer.

    The road network and gazetteer are read on first use, so loading a city for its map alone is instant.
    """

    path: Path
    metadata: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        """The city's name, as given to `city import --name`."""
        return str(self.metadata["name"])

    @property
    def attribution(self) -> str:
        """The attribution the map must show ("© OpenStreetMap contributors")."""
        return str(self.metadata["attribution"])

    @property
    def bounds(self) -> tuple[LatLon, LatLon]:
        """((south, west), (north, east))."""
        (south, west), (north, east) = self.metadata["bounds"]
        return (south, west), (north, east)

    @property
    def center(self) -> LatLon:
        """(lat, lon) of the middle of the city."""
        lat, lon = self.metadata["center"]
        return lat, lon

    @property
    def basemap_path(self) -> Path:
        """The basemap.json the map view loads."""
        return self.path / "basemap.json"

    @functools.cached_property
    def roads(self) -> RoadNetwork:
        """The drivable road network."""
        return RoadNetwork(_read(self.path / "roads.json"))

    @functools.cached_property
    def gazetteer(self) -> Gazetteer:
        """Addresses, streets, places and facilities."""
        return Gazetteer(_read(self.path / "gazetteer.json"))

    @property
    def facilities(self) -> list[Facility]:
        """Fire stations, police stations, hospitals and clinics."""
        return self.gazetteer.facilities


@functools.cache
def _load(path: Path) -> City:
    return City(path, _read(path / "city.json"))


def load_city(path: str | Path | None = None) -> City:
    """The built city in directory `path` (default: the shipped Helsinki); cached per path."""
    return _load(Path(path or DEFAULT_CITY).resolve())
