"""Feeds the map from picture snapshots: sends only what changed since the last frame, in one batch per call.

The map widget (`app.ui.map.MapView`) stages changes and pushes them to its page at its own steady rate;
this module decides what changed so that an idle picture costs nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from app.domain.cameras import Camera
from app.domain.drones import Drone, inside_footprint
from app.domain.entities import IncidentStatus
from app.domain.footprint import offset_latlon
from app.domain.picture import Picture
from app.domain.timers import Limits, limits_for
from app.ui.timeline import type_label

#: Telemetry older than this draws the drone and its footprint greyed out (as the drone board colours it red).
DRONE_STALE_S = 10.0
#: An acknowledged "look here" stays on the map this long, in green, so the dispatcher sees it was taken up.
LOOK_KEPT_AFTER_ACK_S = 600.0
#: The map's clock is re-sent when the console's time drifts this far from where the page's clock has run.
CLOCK_SLACK_S = 1.0


def unit_dicts(picture: Picture, limits: dict[str, Limits] | None = None) -> dict[str, dict[str, Any]]:
    """Units with a position, as the map takes them; the map draws a fix older than `fix_every` (the agency's
    stale limit, app.domain.timers) as stale, with its age."""
    return {u.id: {"id": u.id, "callsign": u.id, "agency": u.agency, "kind": u.kind, "status": u.status.value,
                   "lat": u.lat, "lon": u.lon, "heading": u.heading, "speed": u.speed, "incident": u.incident,
                   "fix_at": u.position_at, "fix_every": limits_for(u.agency, limits).stale_s, "suspect": u.suspect}
            for u in picture.units.values() if u.lat is not None and u.lon is not None}


def incident_dicts(picture: Picture) -> dict[str, dict[str, Any]]:
    """Open incidents, as the map takes them."""
    return {i.id: {"id": i.id, "type": i.type, "type_label": type_label(i.type), "priority": i.priority,
                   "status": i.status.value, "lat": i.lat, "lon": i.lon, "address": i.address,
                   "restricted": i.restricted, "agency": i.owner}
            for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED}


def drone_link(drone: Drone, now: float) -> str:
    """"up", "lost" (the link is down) or "stale" (no telemetry for DRONE_STALE_S)."""
    if drone.link == "lost":
        return "lost"
    if drone.telemetry_at is None or now - drone.telemetry_at > DRONE_STALE_S:
        return "stale"
    return "up"


def drone_dicts(picture: Picture, now: float) -> dict[str, dict[str, Any]]:
    """Drones with a position, as the map takes them."""
    return {d.id: {"id": d.id, "callsign": d.id, "agency": d.agency, "lat": d.lat, "lon": d.lon,
                   "heading": d.heading, "alt": d.alt_m, "agl": d.agl_m, "battery": d.battery,
                   "link": drone_link(d, now)}
            for d in picture.drones.values() if d.lat is not None and d.lon is not None}


def footprint_dicts(picture: Picture, now: float) -> list[dict[str, Any]]:
    """Camera footprints, greyed (`lost`) when the drone's link is down or its telemetry stale."""
    return [{"id": d.id, "drone": d.id, "polygon": [list(p) for p in d.footprint],
             "lost": drone_link(d, now) != "up"}
            for d in sorted(picture.drones.values(), key=lambda d: d.id) if d.footprint]


def drone_tracks(picture: Picture) -> dict[str, list[list[float]]]:
    """Where each drone has flown (the picture keeps its last points)."""
    return {d.id: [[lat, lon] for _t, lat, lon in d.track] for d in picture.drones.values() if len(d.track) > 1}


def look_dicts(picture: Picture, now: float) -> list[dict[str, Any]]:
    """Open "look here" requests, and acknowledged ones for LOOK_KEPT_AFTER_ACK_S."""
    looks = []
    for drone in sorted(picture.drones.values(), key=lambda d: d.id):
        look = drone.look
        if look is None or (look.acknowledged_at is not None and now - look.acknowledged_at > LOOK_KEPT_AFTER_ACK_S):
            continue
        looks.append({"id": look.id, "drone": drone.id, "lat": look.lat, "lon": look.lon, "note": look.note,
                      "acknowledged": look.acknowledged_by is not None})
    return looks


def in_view_items(picture: Picture) -> list[dict[str, str]]:
    """Incidents and units on the ground some drone's camera sees now (live links only)."""
    incidents: set[str] = set()
    units: set[str] = set()
    for drone in picture.drones.values():
        if drone.link == "lost":
            continue
        seen_incidents, seen_units = inside_footprint(drone, picture)
        incidents.update(seen_incidents)
        units.update(seen_units)
    return ([{"kind": "incident", "id": i} for i in sorted(incidents)]
            + [{"kind": "unit", "id": u} for u in sorted(units)])


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


#: Arc points of a camera's view wedge (more for a wide view).
WEDGE_STEPS = 12


def camera_wedge(camera: Camera) -> list[list[float]] | None:
    """The ground a camera looks over: its position and an arc at `range_m` across its field of view around its
    azimuth (a full circle for 360°), or None while any of the three is unknown."""
    if camera.lat is None or camera.lon is None or camera.azimuth is None or camera.hfov is None \
            or camera.range_m is None:
        return None
    start = camera.azimuth - camera.hfov / 2
    arc = []
    for step in range(WEDGE_STEPS + 1):
        bearing = math.radians(start + camera.hfov * step / WEDGE_STEPS)
        lat, lon = offset_latlon(camera.lat, camera.lon, camera.range_m * math.sin(bearing),
                                 camera.range_m * math.cos(bearing))
        arc.append([lat, lon])
    return arc if camera.hfov >= 360 else [[camera.lat, camera.lon], *arc]


def camera_dicts(picture: Picture, now: float) -> list[dict[str, Any]]:
    """Placed cameras as the map takes them, greyed (`stale`) once their report has run out."""
    return [{"id": c.id, "label": c.label, "lat": c.lat, "lon": c.lon, "wedge": camera_wedge(c),
             "stale": c.stale(now)}
            for c in sorted(picture.cameras.values(), key=lambda c: c.id) if c.lat is not None and c.lon is not None]


def signal_dicts(picture: Picture) -> list[dict[str, Any]]:
    """The traffic lights responding units asked for priority at, with their state, as the map takes them."""
    return [{"id": s.intersection, "state": s.state, "unit": s.unit}
            for s in sorted(picture.signals.values(), key=lambda s: s.intersection)]


#: a road router: the fastest polyline from one (lat, lon) to another ([] when unreachable)
Router = Callable[[tuple[float, float], tuple[float, float]], list[tuple[float, float]]]


def route_dicts(picture: Picture, router: Router | None,
                cache: dict[str, tuple[tuple[float, float, str], list[list[float]]]]) -> list[dict[str, Any]]:
    """The way ahead of each unit that holds signal priority, as the map takes it; `cache` keeps each unit's line
    until it moves or is sent elsewhere (a route costs a graph search)."""
    if router is None:
        return []
    routes = []
    for unit_id in sorted({s.unit for s in picture.signals.values()}):
        unit = picture.units.get(unit_id)
        incident = picture.incidents.get(unit.incident or "") if unit is not None else None
        if unit is None or incident is None or unit.lat is None or unit.lon is None:
            continue
        key = (unit.lat, unit.lon, incident.id)
        if unit_id not in cache or cache[unit_id][0] != key:
            cache[unit_id] = (key, [[lat, lon] for lat, lon in router((unit.lat, unit.lon),
                                                                       (incident.lat, incident.lon))])
        if cache[unit_id][1]:
            routes.append({"id": unit_id, "points": cache[unit_id][1]})
    for gone in set(cache) - {r["id"] for r in routes}:
        del cache[gone]
    return routes


class MapFeed:
    """Remembers what the map shows and sends it the differences."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.limits: dict[str, Limits] | None = None  # per-agency stale limits (None: the defaults)
        self._units: dict[str, dict[str, Any]] = {}
        self._incidents: dict[str, dict[str, Any]] = {}
        self._zones: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []
        self._drones: dict[str, dict[str, Any]] = {}
        self._replaced: dict[str, Any] = {}
        self._clock: tuple[float, float] | None = None  # (console time sent, monotonic time it was sent)
        #: the city's router once it is loaded (`RoadNetwork.route`): draws the way ahead of units under priority
        self.router: Router | None = None
        self._routes: dict[str, tuple[tuple[float, float, str], list[list[float]]]] = {}

    def update(self, picture: Picture, now: float) -> None:
        """Send the map what changed in `picture`."""
        self._send_clock(now)
        self._units = self._diff(unit_dicts(picture, self.limits), self._units, self.view.upsert_units,
                                 self.view.remove_units)
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
        self._drones = self._diff(drone_dicts(picture, now), self._drones, self.view.upsert_drones,
                                  self.view.remove_drones)
        for name, value, send in (("footprints", footprint_dicts(picture, now), self.view.set_footprints),
                                  ("tracks", drone_tracks(picture), self.view.set_tracks),
                                  ("looks", look_dicts(picture, now), self.view.set_looks),
                                  ("in_view", in_view_items(picture), self.view.set_in_view),
                                  ("cameras", camera_dicts(picture, now), self.view.set_cameras),
                                  ("signals", signal_dicts(picture), self.view.set_signal_states),
                                  ("routes", route_dicts(picture, self.router, self._routes), self.view.set_routes)):
            if value != self._replaced.get(name, [] if name != "tracks" else {}):
                self._replaced[name] = value
                send(value)

    def _send_clock(self, now: float) -> None:
        """Keep the page's clock on the console's (a replay runs in the past), sending it only on a jump."""
        tick = time.monotonic()
        if self._clock is None or abs(now - (self._clock[0] + tick - self._clock[1])) > CLOCK_SLACK_S:
            self._clock = (now, tick)
            self.view.set_clock(now)

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
