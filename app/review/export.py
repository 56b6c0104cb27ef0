"""Exports of a stored log for other tools: events as CSV, the map as GeoJSON; for a time window or an incident.

Every row and feature says who did it (the event's actor, the incident's call taker, the zone's author, the
feed that reported a track), so an export is still an audit record once it leaves Watchfloor. What a viewer
may not see stays out: exports read through the viewer's `Replay`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from app.domain import events as ev
from app.domain.entities import Alert, Incident, Zone
from app.domain.events import Event
from app.domain.geo import EARTH_RADIUS_M
from app.domain.narrative import describe, incident_of, type_label
from app.domain.picture import Picture
from app.review.replay import ReviewError, ReviewLog, TrackPoint

CSV_COLUMNS = ("seq", "time", "actor", "kind", "incident", "unit", "summary", "data")
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such cells get a '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso(ts: float | None) -> str:
    """A Unix time as ISO 8601 UTC with milliseconds ("" for none)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def _text_out(out: str | Path | TextIO) -> Iterator[TextIO]:
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8", newline="") as f:
            yield f
    else:
        yield out


# -- what an export covers ----------------------------------------------------------------------------------


def _window(replay: ReviewLog, t0: float | None, t1: float | None) -> tuple[float, float]:
    first, last = replay.span()
    return (first if t0 is None else t0), (last if t1 is None else t1)


def export_events(replay: ReviewLog, t0: float | None = None, t1: float | None = None, incident: str | None = None,
                  positions: bool = False) -> list[Event]:
    """The events an export holds: those of the window, or everything about one incident (in the window
    when one is given). Positions only when asked for: a busy day holds millions."""
    if incident is not None:
        events = replay.incident_events(incident)
        return [e for e in events if (t0 is None or e.ts >= t0) and (t1 is None or e.ts <= t1)]
    start, end = _window(replay, t0, t1)
    events = replay.events(start, end)
    if positions:
        events = sorted(events + replay.events(start, end, kinds=[ev.UNIT_POSITION]), key=lambda e: e.seq)
    return events


def unit_spans(events: list[Event], incident: str, end: float) -> dict[str, list[tuple[float, float]]]:
    """When each unit was committed to `incident` (assigned until released, or `end`), from its events."""
    spans: dict[str, list[tuple[float, float]]] = {}
    started: dict[str, float] = {}
    for e in events:
        if e.kind == ev.UNIT_ASSIGNED and e.data["incident"] == incident:
            started[e.data["unit"]] = e.ts
        elif e.kind == ev.UNIT_STATUS and e.data["status"] in ("available", "out_of_service"):
            begun = started.pop(e.data["unit"], None)
            if begun is not None:
                spans.setdefault(e.data["unit"], []).append((begun, e.ts))
    for unit, begun in started.items():
        spans.setdefault(unit, []).append((begun, end))
    return spans


def incident_tracks(replay: ReviewLog, incident: str, events: list[Event] | None = None) -> dict[str, list[TrackPoint]]:
    """Where each unit drove while it was committed to `incident`."""
    events = replay.incident_events(incident) if events is None else events
    end = replay.span()[1]
    tracks: dict[str, list[TrackPoint]] = {}
    for unit, spans in unit_spans(events, incident, end).items():
        for begun, ended in spans:
            tracks.setdefault(unit, []).extend(replay.tracks(begun, ended, units=[unit]).get(unit, []))
    return tracks


# -- CSV ------------------------------------------------------------------------------------------------------


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_csv(replay: ReviewLog, out: str | Path | TextIO, t0: float | None = None, t1: float | None = None,
               incident: str | None = None, positions: bool = False) -> int:
    """Write events as CSV (one row per event, `CSV_COLUMNS`, times ISO 8601 UTC); returns the row count."""
    events = export_events(replay, t0, t1, incident, positions)
    aid_incident = {r.id: r.incident for r in replay.picture_at(events[-1].ts).aid_requests.values()} \
        if events else {}
    with _text_out(out) as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for e in events:
            about = aid_incident.get(e.data.get("id", "")) if e.kind == ev.AID_ANSWERED else incident_of(e)
            unit = e.data.get("unit") or (e.data.get("id") if e.kind == ev.UNIT_REGISTERED else "")
            writer.writerow((e.seq, iso(e.ts), _cell(e.actor), e.kind, _cell(about or ""), _cell(unit or ""),
                             _cell(describe(e)), json.dumps(e.data, ensure_ascii=False, sort_keys=True)))
    return len(events)


# -- GeoJSON --------------------------------------------------------------------------------------------------


def _point(lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _ring(points: list[tuple[float, float]]) -> list[list[float]]:
    ring = [[lon, lat] for lat, lon in points]
    return [*ring, ring[0]] if ring and ring[0] != ring[-1] else ring


def circle_ring(lat: float, lon: float, radius_m: float, sides: int = 48) -> list[tuple[float, float]]:
    """A circle as a polygon of (lat, lon) points (GeoJSON has no circles)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return [(lat + dlat * math.sin(2 * math.pi * i / sides), lon + dlon * math.cos(2 * math.pi * i / sides))
            for i in range(sides)]


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def incident_feature(incident: Incident) -> dict[str, Any]:
    """An incident as a GeoJSON point with its header as properties."""
    return _feature(_point(incident.lat, incident.lon), layer="incident", id=incident.id, type=incident.type,
                    type_label=type_label(incident.type), priority=incident.priority,
                    status=str(incident.status), address=incident.address, owner=incident.owner,
                    agencies=list(incident.agencies), restricted=incident.restricted,
                    units=list(incident.history_units), created=iso(incident.created_at),
                    actor=incident.created_by, closed=iso(incident.closed_at), disposition=incident.disposition)


def track_feature(unit: str, points: list[TrackPoint], reporters: list[str], agency: str = "") -> dict[str, Any]:
    """A unit's track as a LineString (one point is a Point)."""
    coords = [[lon, lat] for _t, lat, lon in points]
    geometry = {"type": "LineString", "coordinates": coords} if len(coords) > 1 else \
        {"type": "Point", "coordinates": coords[0]}
    return _feature(geometry, layer="track", unit=unit, agency=agency, start=iso(points[0][0]),
                    end=iso(points[-1][0]), fixes=len(points), times=[iso(t) for t, _, _ in points],
                    actor=", ".join(reporters))


def zone_feature(zone: Zone, removed: float | None = None) -> dict[str, Any]:
    """A zone as a GeoJSON polygon."""
    return _feature({"type": "Polygon", "coordinates": [_ring(zone.polygon)]}, layer="zone", id=zone.id,
                    name=zone.name, kind=zone.kind, created=iso(zone.created_at), actor=zone.created_by,
                    removed=iso(removed))


def alert_feature(alert: Alert) -> dict[str, Any]:
    """An alert's areas as one GeoJSON (multi)polygon; circles become 48-sided polygons."""
    rings = [_ring(area.polygon) if area.polygon else _ring(circle_ring(*area.circle))  # type: ignore[misc]
             for area in alert.areas if area.polygon or area.circle]
    return _feature({"type": "MultiPolygon", "coordinates": [[ring] for ring in rings]}, layer="alert",
                    id=alert.id, headline=alert.headline, event=alert.event, severity=alert.severity,
                    urgency=alert.urgency, issued=iso(alert.issued_at), expires=iso(alert.expires),
                    cancelled=alert.cancelled, source=alert.source, actor=alert.issued_by)


def geojson_collection(replay: ReviewLog, t0: float | None = None, t1: float | None = None,
                       incident: str | None = None) -> dict[str, Any]:
    """The map of a window (or of one incident) as a GeoJSON FeatureCollection: incidents as points, unit
    tracks as LineStrings, zones and alert areas as polygons; each feature carries its actor."""
    drawn = Picture()  # zones and alerts of the window: those standing at its start, then those made in it
    if incident is not None:
        events = export_events(replay, t0, t1, incident)
        if not events:
            raise ReviewError(f"incident {incident} has no events between {iso(t0)} and {iso(t1)}")
        picture = replay.picture_at(events[-1].ts)
        incidents = [picture.incidents[incident]] if incident in picture.incidents else []
        tracks = incident_tracks(replay, incident, events)
        times = [events[0].ts, events[-1].ts, *(p[0] for points in tracks.values() for p in points)]
        start, end = min(times), max(times)
    else:
        start, end = _window(replay, t0, t1)
        events = replay.events(start, end, kinds=[ev.ZONE_CREATED, ev.ZONE_REMOVED, ev.ALERT_ISSUED,
                                                  ev.ALERT_CANCELLED])
        picture = replay.picture_at(end)
        incidents = [i for i in picture.incidents.values() if i.closed_at is None or i.closed_at >= start]
        tracks = replay.tracks(start, end)
        before = replay.picture_at(start)
        drawn.zones, drawn.alerts = before.zones, before.alerts
    removed = {e.data["id"]: e.ts for e in events if e.kind == ev.ZONE_REMOVED}
    drawn.apply_all(e for e in events if e.kind in (ev.ZONE_CREATED, ev.ALERT_ISSUED, ev.ALERT_CANCELLED))
    reporters = replay.reporters(start, end)
    features = [incident_feature(i) for i in incidents]
    features += [track_feature(unit, points, reporters.get(unit, []),
                               picture.units[unit].agency if unit in picture.units else "")
                 for unit, points in sorted(tracks.items()) if points]
    features += [zone_feature(z, removed.get(z.id)) for z in drawn.zones.values()]
    features += [alert_feature(a) for a in drawn.alerts.values()]
    return {"type": "FeatureCollection", "features": features,
            "properties": {"from": iso(start), "to": iso(end), "incident": incident, "source": replay.path.name}}


def export_geojson(replay: ReviewLog, out: str | Path | TextIO, t0: float | None = None, t1: float | None = None,
                   incident: str | None = None) -> int:
    """Write `geojson_collection` as a file; returns the number of features."""
    collection = geojson_collection(replay, t0, t1, incident)
    with _text_out(out) as f:
        json.dump(collection, f, ensure_ascii=False)
    return len(collection["features"])
