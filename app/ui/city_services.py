"""The city, when one is installed (`app.city`, built by `watchfloor city import`): basemap for the map,
offline geocoder for addresses, road network for drive times. Each is optional; the console degrades to
coordinates typed or clicked on the map and straight-line ETAs.

Loading reads files, so `CityServices.load_async` does it on a worker thread and signals when ready.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("watchfloor.console")


class Geocoder(Protocol):
    """What the console needs of a geocoder (geopy-compatible `geocode`, plus `suggest` for autocomplete)."""

    def geocode(self, query: str, **kwargs: Any) -> Any: ...

    def suggest(self, prefix: str, limit: int = 10) -> list[str]: ...


class CityServices(QObject):
    """Holds whatever of the city could be loaded. Read its attributes only in the GUI thread."""

    loaded = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.geocoder: Geocoder | None = None
        self.travel: Any = None
        self.basemap: Path | None = None
        self.basemap_tiles: Path | None = None  # vector tiles; `basemap` is then the labels alone
        self.center: tuple[float, float] | None = None
        self.name = ""
        self.problem = ""
        self._result: dict[str, Any] = {}

    def load_basemap(self) -> None:
        """The basemap path and centre: metadata only, cheap enough for start-up."""
        try:
            from app.city.loader import load_city

            city = load_city()
            self.basemap, self.center, self.name = city.basemap_path, city.center, city.name
            if city.tiles_path is not None:  # the whole country as tiles: no multi-MB GeoJSON to load and redraw
                self.basemap, self.basemap_tiles = city.labels_path, city.tiles_path
        except Exception as exc:  # no city package or no built city: the map shows no basemap
            self.problem = f"no city data: {exc}"
            log.info("city not available: %s", exc)

    def load_async(self) -> None:
        """Load the geocoder and road network in a worker thread; `loaded` fires in the GUI thread."""
        self.loaded.connect(self._adopt)
        threading.Thread(target=self._load, name="wf-city-load", daemon=True).start()

    def _load(self) -> None:
        result: dict[str, Any] = {}
        try:
            from app.city.geocoder import make_geocoder
            from app.city.loader import load_city

            city = load_city()
            result["geocoder"] = make_geocoder(gazetteer=city.gazetteer)
            result["travel"] = city.roads
        except Exception as exc:  # degrade: coordinates and straight-line ETAs
            result["problem"] = f"offline geocoder unavailable: {exc}"
            log.info("geocoder not available: %s", exc)
        self._result = result
        self.loaded.emit()

    def _adopt(self) -> None:
        self.geocoder = self._result.get("geocoder")
        self.travel = self._result.get("travel")
        self.problem = self._result.get("problem", self.problem)
