"""Find, build and load cities: the shipped OpenStreetMap extracts and the user's own imports.

Shipped cities are `.osm.pbf` extracts in `resources/city/`; each is built on first use (a few seconds) into the
user's data folder (`<data>/cities/<name>/`) and rebuilt whenever the extract or the importer's code changes.
`watchfloor city import` writes there too, never into the installed package. The current city is, in order:
the `WATCHFLOOR_CITY` environment variable (a name or a built city's directory), the choice saved by
`watchfloor city use NAME`, else Liechtenstein.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from app.city.gazetteer import Facility, Gazetteer
from app.city.roads import RoadNetwork
from app.shipped import shipped

#: where the shipped extracts are in a source checkout or an installed package
CITY_RESOURCES = shipped("city")
#: shipped cities: name -> extract in CITY_RESOURCES
SHIPPED = {
    "liechtenstein": "liechtenstein-2015.osm.pbf",
    "porto": "porto-2020.osm.pbf",
    "helsinki": "Helsinki.osm.pbf",
}
#: the language residents of the shipped cities read (ISO 639-1), for the residents' web app; a city's own
#: `language` in its city.json wins, and any other city is served in English alone
LANGUAGES = {"liechtenstein": "de", "porto": "pt", "helsinki": "fi"}
#: the city of a fresh installation: a whole country with one 112 control room for police, fire and ambulance
DEFAULT_CITY = "liechtenstein"
#: the modules whose code decides what a build contains: a change to any of them rebuilds shipped cities
_BUILDERS = ("osm.py", "basemap.py", "tiles.py", "roads.py", "gazetteer.py", "importer.py")

LatLon = tuple[float, float]


def data_dir() -> Path:
    """The user's Watchfloor data folder (`WATCHFLOOR_DATA_DIR` overrides it, as tests do)."""
    return Path(os.environ.get("WATCHFLOOR_DATA_DIR") or platformdirs.user_data_dir("watchfloor"))


def cities_dir() -> Path:
    """Where built cities live: `<data>/cities/<name>/`."""
    return data_dir() / "cities"


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
    def language(self) -> str:
        """The residents' language (ISO 639-1): city.json's `language`, else the shipped city's, else "en"."""
        return str(self.metadata.get("language") or LANGUAGES.get(self.name.lower(), "en"))

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

    @property
    def labels_path(self) -> Path:
        """The basemap's labels alone (basemap.json's format), drawn over `tiles_path`."""
        return self.path / "labels.json"

    @property
    def tiles_path(self) -> Path | None:
        """The basemap as vector tiles (MBTiles of Mapbox Vector Tiles), or None for a city built before them."""
        path = self.path / "basemap.mbtiles"
        return path if path.is_file() else None

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


def builder_version() -> str:
    """A digest of the importer's code: a built city made by other code is stale."""
    digest = hashlib.sha256()
    for module in _BUILDERS:
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_current(out: Path, source: Path) -> bool:
    try:
        metadata = _read(out / "city.json")
    except (OSError, ValueError):
        return False
    built_from = metadata.get("source", {})
    return metadata.get("builder") == builder_version() and built_from.get("sha256") == file_digest(source)


def build_into(source: Path, out: Path, name: str) -> dict[str, Any]:
    """Import `source` into directory `out` atomically: a crash or a second process never leaves half a city."""
    from app.city.importer import import_city

    if out.exists() and any(out.iterdir()) and not (out / "city.json").is_file():
        # Replacing a directory that is not a built city could delete someone's files.
        raise FileExistsError(f"{out} exists and is not a built city: choose an empty or new directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out.parent))
    try:
        metadata = import_city(source, staging, name)
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
        try:
            staging.rename(out)
        except OSError:  # another process built it at the same moment: theirs is as good as ours
            if not (out / "city.json").is_file():
                raise
        return metadata
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_built(name: str) -> Path:
    """The directory of built city `name`: a shipped city is built (or rebuilt when stale) first."""
    return _ensure_built(name, cities_dir())


@functools.cache
def _ensure_built(name: str, where: Path) -> Path:
    out = where / name
    if name in SHIPPED:
        source = CITY_RESOURCES / SHIPPED[name]
        if not _is_current(out, source):
            build_into(source, out, name)
        return out
    if (out / "city.json").is_file():
        return out
    known = ", ".join(sorted(available_cities()))
    raise LookupError(f"no city named {name!r} (known: {known}); import one with `watchfloor city import FILE`")


def available_cities() -> dict[str, str]:
    """Every city that can be used: name -> where it comes from (a shipped extract or an import)."""
    found = {name: f"shipped: {file}" for name, file in SHIPPED.items()}
    if cities_dir().is_dir():
        for path in sorted(cities_dir().iterdir()):
            if path.name not in found and not path.name.startswith(".") and (path / "city.json").is_file():
                found[path.name] = f"imported: {_read(path / 'city.json').get('source', {}).get('file', '?')}"
    return found


def _choice_file() -> Path:
    return data_dir() / "city.txt"


def current_city_name() -> str:
    """The city in use: WATCHFLOOR_CITY, else the `city use` choice, else the default (Liechtenstein)."""
    chosen = os.environ.get("WATCHFLOOR_CITY")
    if chosen:
        return chosen
    try:
        saved = _choice_file().read_text(encoding="utf-8").strip()
    except OSError:
        saved = ""
    return saved or DEFAULT_CITY


def use_city(name: str) -> Path:
    """Make `name` the current city (built now if it needs to be); returns its directory."""
    path = ensure_built(name)
    _choice_file().parent.mkdir(parents=True, exist_ok=True)
    _choice_file().write_text(name + "\n", encoding="utf-8")
    return path


@functools.cache
def _load(path: Path) -> City:
    return City(path, _read(path / "city.json"))


def load_city(city: str | Path | None = None) -> City:
    """A built city by name ("porto"), by directory, or (None) the current city; cached per directory."""
    if city is None:
        city = current_city_name()
    path = Path(city)
    if not (path / "city.json").is_file():
        path = ensure_built(str(city))
    return _load(path.resolve())
