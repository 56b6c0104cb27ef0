"""MapView: the common operating picture's map, a Qt widget around an offline Leaflet page."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import platformdirs
from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineSettings
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.map.bridge import MapBridge, PlaceResolver
from app.ui.map.offline import (
    SCHEME,
    MBTilesSource,
    OfflineInterceptor,
    TileSchemeHandler,
    schemes_registered,
)
from app.ui.map.page import build_basemap_script, build_page
from app.ui.map.search import MapSearchBox
from app.ui.map.staging import ChangeStage
from app.ui.map_search import SearchHit, SearchProvider

log = logging.getLogger(__name__)


def _source_name(path: str | Path) -> str:
    """The tile source's name in its wf:// URL: stable for a file, and no path in the page."""
    return hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:12]


@dataclass
class BatchStats:
    """What the page reported about the batches it applied."""

    sent: int = 0
    applied: int = 0
    js_ms_last: float = 0.0
    js_ms_max: float = 0.0
    js_ms_total: float = 0.0
    bytes_sent: int = 0
    send_ms_max: float = 0.0  # GUI-thread time to encode and hand over the largest batch

    @property
    def js_ms_mean(self) -> float:
        return self.js_ms_total / self.applied if self.applied else 0.0


class MapView(QWidget):
    """The live map. Calls only stage changes; a timer sends them to the page as one batch per tick.

    ``basemap`` is the path of a city's ``basemap.json``; ``basemap_tiles`` the city's vector tiles
    (``basemap.mbtiles``), drawn instead of the basemap's areas and lines (``basemap`` is then best its
    ``labels.json``); ``tiles`` an XYZ URL template (its host is then allowed through the offline guard);
    ``mbtiles`` the path of a raster MBTiles file served locally.
    """

    selected = Signal(str, str)
    context_new_incident = Signal(float, float)
    context_look_here = Signal(float, float)
    context_issue_alert = Signal(float, float)
    measured = Signal(float)
    ready = Signal()
    batch_applied = Signal(int, float)
    searched = Signal(object)  # SearchHit

    #: The zoom a search result is shown at: street level, where unit symbols and labels are legible.
    SEARCH_ZOOM = 17

    # Two batches may be on their way: one being applied while the next crosses the process boundary.
    # Beyond that, changes coalesce in Python instead of queueing in the page.
    MAX_IN_FLIGHT = 2
    IN_FLIGHT_TIMEOUT_S = 2.0

    def __init__(
        self,
        basemap: str | Path | None = None,
        *,
        basemap_tiles: str | Path | None = None,
        tiles: str | None = None,
        tiles_attribution: str = "",
        mbtiles: str | Path | None = None,
        theme: str = "dark",
        rate_hz: float = 10.0,
        cache_dir: str | Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        default_cache = Path(platformdirs.user_cache_dir("watchfloor")) / "map"
        self._cache_dir = Path(cache_dir) if cache_dir else default_cache
        self._stage = ChangeStage()
        self._seq = 0
        self._in_flight: dict[int, float] = {}  # seq -> when it was sent
        self._config_seq = -1
        self._last_send = 0.0
        self._is_ready = False
        self.stats = BatchStats()

        # Created before the profile so that, as children are deleted in creation order, the page goes
        # before its profile (Qt WebEngine warns and may crash otherwise).
        self._view = QWebEngineView(self)
        self._view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        # An off-the-record profile of its own: no disk cache or cookies, and its own tile scheme handler.
        profile = QWebEngineProfile(self)
        self._tile_handler = TileSchemeHandler(profile)
        if schemes_registered():
            profile.installUrlSchemeHandler(SCHEME.encode(), self._tile_handler)
        elif mbtiles is not None or basemap_tiles is not None:
            raise RuntimeError("import app.ui.map before creating the QApplication to serve MBTiles")
        allowed_hosts = frozenset({urlsplit(tiles).hostname or ""}) - {""} if tiles else frozenset()
        self._interceptor = OfflineInterceptor(allowed_hosts, profile)
        # The interceptor is the one gate to the network: Chromium's own file:// restriction would refuse
        # remote loads silently, uncounted, so it is left open and every request passes through the gate.
        profile.setUrlRequestInterceptor(self._interceptor)
        self._config = self._page_config(
            basemap, tiles, tiles_attribution, mbtiles, theme, self._tile_handler
        )
        if basemap_tiles is not None:
            source = MBTilesSource(Path(basemap_tiles))
            self._config["vectorTiles"] = {
                "url": self._tile_handler.add_source(_source_name(basemap_tiles), source),
                "minZoom": int(source.metadata.get("minzoom", 0)),
                "maxZoom": int(source.metadata.get("maxzoom", 14)),
                "bounds": source.bounds(),
            }

        self._page = QWebEnginePage(profile, self._view)
        settings = self._page.settings()
        settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, True)
        settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, True)
        self._view.setPage(self._page)

        self._bridge = MapBridge(self)
        self._channel = QWebChannel(self._page)
        self._channel.registerObject("wfBridge", self._bridge)
        self._page.setWebChannel(self._channel)
        self._bridge.hello.connect(self._on_hello)
        self._bridge.page_ready.connect(self._on_page_ready)
        self._bridge.clicked.connect(self.selected)
        self._bridge.new_incident_at.connect(self.context_new_incident)
        self._bridge.look_here_at.connect(self.context_look_here)
        self._bridge.alert_at.connect(self.context_issue_alert)
        self._bridge.measured.connect(self.measured)
        self._bridge.batch_applied.connect(self._on_batch_applied)
        self._page.loadFinished.connect(self._on_load_finished)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._view)
        # Over the map, top centre; hidden until someone gives it something to search.
        self.search_box = MapSearchBox(self)
        self.search_box.chosen.connect(self.show_hit)
        self.search_box.hide()

        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(max(1, round(1000 / rate_hz)))
        self._timer.timeout.connect(self._flush)

        self.page_path = build_page(self._cache_dir)
        self._page.load(QUrl.fromLocalFile(str(self.page_path)))

    def _page_config(
        self,
        basemap: str | Path | None,
        tiles: str | None,
        tiles_attribution: str,
        mbtiles: str | Path | None,
        theme: str,
        tile_handler: TileSchemeHandler,
    ) -> dict[str, Any]:
        config: dict[str, Any] = {"theme": theme}
        if basemap is not None:
            config["basemapScript"] = build_basemap_script(Path(basemap), self._cache_dir).as_uri()
        if mbtiles is not None:
            source = MBTilesSource(Path(mbtiles))
            config["tiles"] = {
                "url": tile_handler.add_source(_source_name(mbtiles), source),
                "attribution": source.metadata.get("attribution", "© OpenStreetMap contributors"),
                "minZoom": int(source.metadata.get("minzoom", 0)),
                "maxZoom": 19,
                "bounds": source.bounds(),
            }
        elif tiles:
            config["tiles"] = {"url": tiles, "attribution": tiles_attribution}
        return config

    # ---- state -------------------------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        """True once the page is up, configured and its basemap loaded."""
        return self._is_ready

    @property
    def external_requests_blocked(self) -> int:
        """How many non-local requests the page attempted (and was refused)."""
        return self._interceptor.blocked

    @property
    def blocked_urls(self) -> list[str]:
        return list(self._interceptor.blocked_urls)

    def page(self) -> QWebEnginePage:
        return self._page

    def set_rate(self, rate_hz: float) -> None:
        """How often staged changes are flushed to the page."""
        self._timer.setInterval(max(1, round(1000 / rate_hz)))

    def run_js(self, script: str, callback: Callable[[Any], None] | None = None) -> None:
        """Run a script in the page (asynchronously); ``callback`` gets its result (use JSON.stringify)."""
        if callback is None:
            self._page.runJavaScript(script)
        else:
            self._page.runJavaScript(script, 0, callback)

    # ---- live layers -------------------------------------------------------------------------------

    def upsert_units(self, units: Iterable[Mapping[str, Any]]) -> None:
        """Add or update units: {id, callsign, agency, kind, status, lat, lon, heading, speed}."""
        self._stage.upsert("units", units)

    def remove_units(self, ids: Iterable[str]) -> None:
        self._stage.remove("units", ids)

    def upsert_incidents(self, incidents: Iterable[Mapping[str, Any]]) -> None:
        """Add or update incidents.

        Fields: {id, type, type_label, priority (1 highest..5), status, lat, lon, address, restricted}.
        """
        self._stage.upsert("incidents", incidents)

    def remove_incidents(self, ids: Iterable[str]) -> None:
        self._stage.remove("incidents", ids)

    def upsert_drones(self, drones: Iterable[Mapping[str, Any]]) -> None:
        """Add or update drones: {id, callsign, lat, lon, heading, alt, agl, battery, link ("up"/"lost")}."""
        self._stage.upsert("drones", drones)

    def remove_drones(self, ids: Iterable[str]) -> None:
        self._stage.remove("drones", ids)

    def set_zones(self, zones: Sequence[Mapping[str, Any]]) -> None:
        """Replace all zones: {id, name, kind, polygon: [[lat, lon], ...]}."""
        self._stage.replace("zones", list(zones))

    def set_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Replace all alerts: {id, headline, severity, areas: [{polygon} | {circle: [lat, lon, r_m]}]}."""
        self._stage.replace("alerts", list(alerts))

    def set_footprints(self, footprints: Sequence[Mapping[str, Any]]) -> None:
        """Replace all sensor footprints: {id, drone, polygon: [[lat, lon] x 4], lost?}."""
        self._stage.replace("footprints", list(footprints))

    def set_cameras(self, cameras: Sequence[Mapping[str, Any]]) -> None:
        """Replace all cameras: {id, label, lat, lon, wedge: [[lat, lon], ...] or None, stale}."""
        self._stage.replace("cameras", list(cameras))

    def set_signal_states(self, states: Sequence[Mapping[str, Any]]) -> None:
        """Replace the lit traffic lights: {id (IntersectionID), state: requested|granted|rejected|unanswered|served,
        unit}."""
        self._stage.replace("signalStates", list(states))

    def set_routes(self, routes: Sequence[Mapping[str, Any]]) -> None:
        """Replace the drawn ways ahead of units under signal priority: {id (unit), points: [[lat, lon], ...]}."""
        self._stage.replace("routes", list(routes))

    def set_looks(self, looks: Sequence[Mapping[str, Any]]) -> None:
        """Replace the open "look here" requests: {id, drone, lat, lon, note, acknowledged}."""
        self._stage.replace("looks", list(looks))

    def set_in_view(self, items: Sequence[Mapping[str, str]]) -> None:
        """Ring the items a drone's camera sees now: [{kind: "incident" | "unit", id}]."""
        self._stage.replace("inView", list(items))

    def set_tracks(self, tracks: Mapping[str, Sequence[Sequence[float]]]) -> None:
        """Replace all tracks: id -> [[lat, lon], ...]."""
        self._stage.replace("tracks", {str(k): list(v) for k, v in tracks.items()})

    def set_heat(self, points: Sequence[Sequence[float]]) -> None:
        """Replace the heat layer: [[lat, lon, weight], ...]."""
        self._stage.replace("heat", [list(p) for p in points])

    # ---- view commands -----------------------------------------------------------------------------

    def select(self, kind: str, item_id: str | None) -> None:
        """Highlight an item (``kind`` is unit, incident, drone, zone or alert); None clears."""
        self._stage.command("select", kind, None if item_id is None else str(item_id))

    def fit(self, bounds: Sequence[Sequence[float]]) -> None:
        """Show [[south, west], [north, east]]."""
        self._stage.command("fit", [list(bounds[0]), list(bounds[1])])

    def center_on(self, lat: float, lon: float, zoom: float | None = None) -> None:
        self._stage.command("center", lat, lon, zoom)

    def set_theme(self, theme: str) -> None:
        """``dark`` (night) or ``light`` (day)."""
        self._stage.command("theme", theme)

    def offer_alerts(self, on: bool) -> None:
        """Whether the right-click menu offers "Issue alert here…" (for those who may issue alerts)."""
        self._stage.command("canIssueAlerts", on)

    def set_clock(self, now: float) -> None:
        """The time (epoch seconds) the page measures position ages against; it runs on from there."""
        self._stage.command("clock", now)

    def pin(self, lat: float | None, lon: float | None = None, label: str = "") -> None:
        """Mark a found place with a labelled pin (None removes it)."""
        self._stage.command("pin", None if lat is None else {"lat": lat, "lon": lon, "label": label})

    # ---- search and places ---------------------------------------------------------------------------

    def set_search_provider(self, provider: SearchProvider | None) -> None:
        """What the search box searches (None hides the box)."""
        self.search_box.provider = provider
        self.search_box.setVisible(provider is not None)
        self._place_search_box()

    def focus_search(self) -> None:
        """Put the cursor in the search box, its text selected (Ctrl+F in the console)."""
        if self.search_box.isVisible():
            self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.search_box.selectAll()

    @Slot(object)
    def show_hit(self, hit: SearchHit) -> None:
        """Centre on what a search found: select a unit, incident or drone, pin a place. Emits `searched`,
        and `selected` for a selectable item as a click on it would."""
        self.center_on(hit.lat, hit.lon, self.SEARCH_ZOOM)
        if hit.kind in ("unit", "incident", "drone"):
            self.pin(None)
            self.select(hit.kind, hit.id)
            self.selected.emit(hit.kind, hit.id)
        else:
            self.select("", None)
            self.pin(hit.lat, hit.lon, hit.id)
        self.searched.emit(hit)

    def set_place_resolver(self, resolver: PlaceResolver | None) -> None:
        """Names the place under a right-click: ``resolver(lat, lon) -> {"address", "street"} | None``."""
        self._bridge.place_resolver = resolver

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_search_box()

    def _place_search_box(self) -> None:
        width = min(460, max(200, self.width() - 120))
        self.search_box.setGeometry((self.width() - width) // 2, 10, width, 30)
        self.search_box.raise_()

    # ---- plumbing ----------------------------------------------------------------------------------

    def _send(self, batch: dict[str, Any]) -> None:
        started = time.perf_counter()
        batch["seq"] = self._seq
        text = msgspec.json.encode(batch).decode()
        self._in_flight[self._seq] = time.monotonic()
        self._seq += 1
        self._bridge.batch.emit(text)
        stats = self.stats
        stats.sent += 1
        stats.bytes_sent += len(text)
        stats.send_ms_max = max(stats.send_ms_max, (time.perf_counter() - started) * 1000)

    @Slot()
    def _flush(self) -> None:
        """Send what is staged, at most once per interval, with at most MAX_IN_FLIGHT unapplied.

        While the page is busy, changes keep coalescing here rather than queueing up in the page. Called by
        the timer and again when the page acknowledges a batch, so a late acknowledgement does not cost a
        whole interval.
        """
        if not self._is_ready or not self._stage:
            return
        now = time.monotonic()
        for seq, sent in list(self._in_flight.items()):
            if now - sent > self.IN_FLIGHT_TIMEOUT_S:  # a lost acknowledgement must not stall the map
                del self._in_flight[seq]
        if len(self._in_flight) >= self.MAX_IN_FLIGHT:
            return
        # Allow a little early so that timer jitter does not skip ticks.
        if (now - self._last_send) * 1000 < self._timer.interval() * 0.8:
            return
        self._last_send = now
        self._send(self._stage.drain())

    @Slot()
    def _on_hello(self) -> None:
        self._is_ready = False
        self._config_seq = self._seq
        self._send({"config": self._config})

    @Slot()
    def _flush_if_due(self) -> None:
        if (time.monotonic() - self._last_send) * 1000 >= self._timer.interval():
            self._flush()

    @Slot(bool)
    def _on_page_ready(self, ok: bool) -> None:
        if not ok:
            log.error("map page could not load its basemap (%s)", self._config.get("basemapScript"))
        self._is_ready = True
        self._timer.start()
        self.ready.emit()

    @Slot(int, float)
    def _on_batch_applied(self, seq: int, js_ms: float) -> None:
        self._in_flight.pop(seq, None)
        if seq == self._config_seq:
            return
        QTimer.singleShot(0, self._flush_if_due)
        stats = self.stats
        stats.applied += 1
        stats.js_ms_last = js_ms
        stats.js_ms_max = max(stats.js_ms_max, js_ms)
        stats.js_ms_total += js_ms
        self.batch_applied.emit(seq, js_ms)

    @Slot(bool)
    def _on_load_finished(self, ok: bool) -> None:
        if not ok:
            log.error("map page failed to load: %s", self.page_path)
