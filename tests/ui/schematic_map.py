"""A test double for the map in console tests: MapView's API, drawn with QPainter, no Qt WebEngine.

The console tests exercise the console, not the map (tests/ui/test_map_*.py test the real map). Many console
windows each with a real MapView crash the test process at exit now and then ("Release of profile requested
but WebEnginePage still not deleted"), so console tests use this until MapView tears down in a safe order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QFont, QMouseEvent, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QMenu, QWidget

from app.ui.theme import PRIORITY_COLORS, UNIT_STATUS_COLORS


class SchematicMap(QWidget):
    """Draws units, incidents, drones, footprints and look requests on a lat/lon grid; MapView's signals and
    methods."""

    selected = Signal(str, str)
    context_new_incident = Signal(float, float)
    context_look_here = Signal(float, float)
    context_issue_alert = Signal(float, float)
    ready = Signal()

    def __init__(self, center: tuple[float, float] | None = None, parent: QWidget | None = None, **_: Any) -> None:
        super().__init__(parent)
        self.units: dict[str, dict[str, Any]] = {}
        self.incidents: dict[str, dict[str, Any]] = {}
        self.drones: dict[str, dict[str, Any]] = {}
        self.footprints: list[dict[str, Any]] = []
        self.tracks: dict[str, list[list[float]]] = {}
        self.looks: list[dict[str, Any]] = []
        self.cameras: list[dict[str, Any]] = []
        self.in_view: set[tuple[str, str]] = set()
        self._center = center or (60.1715, 24.944)
        self._span = 0.02  # degrees of latitude shown
        self._selected: tuple[str, str | None] = ("", None)
        self.heat: list[list[float]] = []
        self.alerts_offered = False
        self.clock: float | None = None
        self.pinned: tuple[float, float | None, str] | None = None
        self.search_provider: Any = None
        self.place_resolver: Any = None
        self.setMinimumSize(300, 200)

    def upsert_units(self, units: Iterable[Mapping[str, Any]]) -> None:
        for unit in units:
            self.units[str(unit["id"])] = dict(unit)
        self.update()

    def remove_units(self, ids: Iterable[str]) -> None:
        for unit_id in ids:
            self.units.pop(unit_id, None)
        self.update()

    def upsert_incidents(self, incidents: Iterable[Mapping[str, Any]]) -> None:
        for incident in incidents:
            self.incidents[str(incident["id"])] = dict(incident)
        self.update()

    def remove_incidents(self, ids: Iterable[str]) -> None:
        for incident_id in ids:
            self.incidents.pop(incident_id, None)
        self.update()

    def upsert_drones(self, drones: Iterable[Mapping[str, Any]]) -> None:
        for drone in drones:
            self.drones.setdefault(str(drone["id"]), {}).update(drone)
        self.update()

    def remove_drones(self, ids: Iterable[str]) -> None:
        for drone_id in ids:
            self.drones.pop(drone_id, None)
        self.update()

    def set_footprints(self, footprints: Sequence[Mapping[str, Any]]) -> None:
        self.footprints = [dict(f) for f in footprints]
        self.update()

    def set_tracks(self, tracks: Mapping[str, Sequence[Sequence[float]]]) -> None:
        self.tracks = {str(k): [list(p) for p in v] for k, v in tracks.items()}
        self.update()

    def offer_alerts(self, on: bool) -> None:
        self.alerts_offered = on

    def set_looks(self, looks: Sequence[Mapping[str, Any]]) -> None:
        self.looks = [dict(look) for look in looks]
        self.update()

    def set_cameras(self, cameras: Sequence[Mapping[str, Any]]) -> None:
        self.cameras = [dict(camera) for camera in cameras]

    def set_signal_states(self, states: Sequence[Mapping[str, Any]]) -> None:
        self.signal_states = [dict(state) for state in states]

    def set_routes(self, routes: Sequence[Mapping[str, Any]]) -> None:
        self.routes = [dict(route) for route in routes]

    def set_in_view(self, items: Sequence[Mapping[str, str]]) -> None:
        self.in_view = {(item["kind"], item["id"]) for item in items}
        self.update()

    def set_zones(self, zones: Sequence[Mapping[str, Any]]) -> None:
        pass

    def set_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        pass

    def set_heat(self, points: Sequence[Sequence[float]]) -> None:
        self.heat = [list(p) for p in points]
        self.update()

    def set_theme(self, theme: str) -> None:
        self.update()

    def select(self, kind: str, item_id: str | None) -> None:
        self._selected = (kind, item_id)
        self.update()

    def center_on(self, lat: float, lon: float, zoom: float | None = None) -> None:
        self._center = (lat, lon)
        self.update()

    def set_clock(self, now: float) -> None:
        self.clock = now

    def pin(self, lat: float | None, lon: float | None = None, label: str = "") -> None:
        self.pinned = None if lat is None else (lat, lon, label)

    def set_search_provider(self, provider: Any) -> None:
        self.search_provider = provider

    def set_place_resolver(self, resolver: Any) -> None:
        self.place_resolver = resolver

    def focus_search(self) -> None:
        pass

    def _project(self, lat: float, lon: float) -> QPointF:
        scale = self.height() / self._span
        return QPointF(self.width() / 2 + (lon - self._center[1]) * scale * 0.5,
                       self.height() / 2 - (lat - self._center[0]) * scale)

    def _unproject(self, x: float, y: float) -> tuple[float, float]:
        scale = self.height() / self._span
        return self._center[0] - (y - self.height() / 2) / scale, self._center[1] + (x - self.width() / 2) / scale / 0.5

    def paintEvent(self, _event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#0b0e12"))
        painter.setPen(QPen(QColor("#1c232c"), 1))
        for i in range(0, self.width(), 60):
            painter.drawLine(i, 0, i, self.height())
        for i in range(0, self.height(), 60):
            painter.drawLine(0, i, self.width(), i)
        painter.setPen(QColor("#5a6470"))
        painter.drawText(10, 20, "Map module not installed — schematic view")
        font = QFont()
        font.setPointSize(8)
        painter.setFont(font)
        magenta = QColor("#e040fb")
        for footprint in self.footprints:
            painter.setPen(QPen(magenta, 1.5))
            painter.setBrush(QColor(224, 64, 251, 40))
            painter.drawPolygon(QPolygonF([self._project(lat, lon) for lat, lon in footprint["polygon"]]))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for track in self.tracks.values():
            painter.drawPolyline(QPolygonF([self._project(lat, lon) for lat, lon in track]))
        for drone in self.drones.values():
            point = self._project(drone["lat"], drone["lon"])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(magenta if drone.get("link") != "lost" else QColor("#8b949e"))
            painter.drawEllipse(point, 6, 6)
            painter.setPen(QColor("#f3a6ff"))
            painter.drawText(point + QPointF(8, -6), drone.get("callsign", drone["id"]))
        for look in self.looks:
            point = self._project(look["lat"], look["lon"])
            painter.setPen(QPen(QColor("#3fb950" if look["acknowledged"] else "#ffb02e"), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(point, 9, 9)
        for kind, item_id in self.in_view:
            item = (self.incidents if kind == "incident" else self.units).get(item_id)
            if item is not None:
                painter.setPen(QPen(magenta, 2.5))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(self._project(item["lat"], item["lon"]), 12, 12)
        for unit in self.units.values():
            point = self._project(unit["lat"], unit["lon"])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(UNIT_STATUS_COLORS.get(unit["status"], "#8b949e")))
            painter.drawEllipse(point, 5, 5)
            painter.setPen(QColor("#c9d1d9"))
            painter.drawText(point + QPointF(7, 4), unit["callsign"])
        for incident in self.incidents.values():
            point = self._project(incident["lat"], incident["lon"])
            painter.setPen(QPen(QColor("white"), 2 if self._selected == ("incident", incident["id"]) else 1))
            painter.setBrush(QColor(PRIORITY_COLORS.get(incident["priority"], "#8b949e")))
            painter.drawRect(int(point.x()) - 7, int(point.y()) - 7, 14, 14)
            painter.drawText(point + QPointF(10, -8), f"{incident['id']} {incident['type_label']}")
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        for kind, items in (("incident", self.incidents), ("drone", self.drones), ("unit", self.units)):
            for item in items.values():
                point = self._project(item["lat"], item["lon"])
                if abs(point.x() - position.x()) < 9 and abs(point.y() - position.y()) < 9:
                    self.selected.emit(kind, item["id"])
                    return

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        lat, lon = self._unproject(event.pos().x(), event.pos().y())
        menu = QMenu(self)
        action = menu.addAction("New incident here")
        look = menu.addAction("Ask a drone to look here…") if self.drones else None
        alert = menu.addAction("Issue alert here…") if self.alerts_offered else None
        chosen = menu.exec(event.globalPos())
        if chosen is action:
            self.context_new_incident.emit(lat, lon)
        elif alert is not None and chosen is alert:
            self.context_issue_alert.emit(lat, lon)
        elif look is not None and chosen is look:
            self.context_look_here.emit(lat, lon)
