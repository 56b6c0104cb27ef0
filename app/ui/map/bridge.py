"""The QObject the map page talks to over QWebChannel."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

#: Names the place at a point for the right-click menu: {"address": str, "street": str} or None.
PlaceResolver = Callable[[float, float], Mapping[str, Any] | None]


class MapBridge(QObject):
    """Python -> page: ``batch`` (one JSON string per flush). Page -> Python: the ``js*`` slots.

    Only @Slot methods are exposed to the page; the page's calls are re-emitted as Qt signals so the view
    (and tests) connect to signals, never to the channel directly.
    """

    batch = Signal(str)

    hello = Signal()
    page_ready = Signal(bool)
    clicked = Signal(str, str)
    new_incident_at = Signal(float, float)
    look_here_at = Signal(float, float)
    alert_at = Signal(float, float)
    measured = Signal(float)
    batch_applied = Signal(int, float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.place_resolver: PlaceResolver | None = None

    @Slot()
    def jsHello(self) -> None:
        self.hello.emit()

    @Slot(bool)
    def jsReady(self, ok: bool) -> None:
        self.page_ready.emit(bool(ok))

    @Slot(str, str)
    def jsSelected(self, kind: str, item_id: str) -> None:
        self.clicked.emit(kind, item_id)

    @Slot(float, float)
    def jsContextNewIncident(self, lat: float, lon: float) -> None:
        self.new_incident_at.emit(lat, lon)

    @Slot(float, float)
    def jsContextLook(self, lat: float, lon: float) -> None:
        self.look_here_at.emit(lat, lon)

    @Slot(float, float)
    def jsContextAlert(self, lat: float, lon: float) -> None:
        self.alert_at.emit(lat, lon)

    @Slot(float)
    def jsMeasured(self, metres: float) -> None:
        self.measured.emit(metres)

    @Slot(int, float)
    def jsBatchApplied(self, seq: int, js_ms: float) -> None:
        self.batch_applied.emit(seq, js_ms)

    @Slot(float, float, result=str)
    def jsDescribe(self, lat: float, lon: float) -> str:
        """The place at a right-clicked point, as JSON ("" when nothing is known); the page awaits it."""
        if self.place_resolver is None:
            return ""
        try:
            place = self.place_resolver(lat, lon)
        except Exception:  # a geocoder failure must not break the menu: it just shows no address
            log.exception("naming the place at %.5f, %.5f failed", lat, lon)
            return ""
        return json.dumps(dict(place)) if place else ""
