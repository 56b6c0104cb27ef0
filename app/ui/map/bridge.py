"""The QObject the map page talks to over QWebChannel."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot


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
