"""Feeds the map from picture snapshots: sends only what changed since the last frame, in one batch per call.

The map widget (`app.ui.map.MapView`) stages changes and pushes them to its page at its own steady rate;
this module decides what changed so that an idle picture costs nothing.
"""

from __future__ import annotations

from typing import Any

from app.domain.entities import IncidentStatus
from app.domain.picture import Picture
from app.ui.timeline import type_label


def unit_dicts(picture: Picture) -> dict[str, dict[str, Any]]:
    """Units with a position, as the map takes them."""
    return {u.id: {"id": u.id, "callsign": u.id, "agency": u.agency, "kind": u.kind, "status": u.status.value,
                   "lat": u.lat, "lon": u.lon, "heading": u.heading, "speed": u.speed, "incident": u.incident}
            for u in picture.units.values() if u.lat is not None and u.lon is not None}


def incident_dicts(picture: Picture) -> dict[str, dict[str, Any]]:
    """Open incidents, as the map takes them."""
    return {i.id: {"id": i.id, "type": i.type, "type_label": type_label(i.type), "priority": i.priority,
                   "status": i.status.value, "lat": i.lat, "lon": i.lon, "address": i.address,
                   "restricted": i.restricted, "agency": i.owner}
            for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED}


def zone_dicts(picture: Picture) -> list[dict[str, Any]]:
    """Zones, as the map takes them."""
    return [{"id": z.id, "name": z.name, "kind": z.kind, "polygon": [list(p) for p in z.polygon]}
            for z in picture.zones.values()]


def alert_dicts(picture: Picture, now: float) -> list[dict[str, Any]]:
    """Alerts in force, as the map takes them."""
    return [{"id": a.id, "headline": a.headline, "severity": a.severity,
             "areas": [{"polygon": [list(p) for p in area.polygon]} if area.polygon else {"circle": list(area.circle)}
                       for area in a.areas if area.polygon or area.circle]}
            for a in picture.alerts.values() if a.active(now)]


class MapFeed:
    """Remembers what the map shows and sends it the differences."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self._units: dict[str, dict[str, Any]] = {}
        self._incidents: dict[str, dict[str, Any]] = {}
        self._zones: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []

    def update(self, picture: Picture, now: float) -> None:
        """Send the map what changed in `picture`."""
        self._units = self._diff(unit_dicts(picture), self._units, self.view.upsert_units, self.view.remove_units)
        self._incidents = self._diff(incident_dicts(picture), self._incidents, self.view.upsert_incidents,
                                     self.view.remove_incidents)
        zones = zone_dicts(picture)
        if zones != self._zones:
            self._zones = zones
            self.view.set_zones(zones)
        alerts = alert_dicts(picture, now)
        if alerts != self._alerts:
            self._alerts = alerts
            self.view.set_alerts(alerts)

    @staticmethod
    def _diff(new: dict[str, dict[str, Any]], old: dict[str, dict[str, Any]], upsert: Any, remove: Any
              ) -> dict[str, dict[str, Any]]:
        changed = [item for key, item in new.items() if old.get(key) != item]
        gone = [key for key in old if key not in new]
        if changed:
            upsert(changed)
        if gone:
            remove(gone)
        return new
