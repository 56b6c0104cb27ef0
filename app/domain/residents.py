"""Residents: what the public-safety web app may send, what it is told back, and which alerts concern it.

A resident's report becomes a triage candidate (`report.submit`, source ``app``), never an incident: a
dispatcher accepts, merges or dismisses it like any other report (`app.domain.triage`). The resident follows
their request only through `request_state`, which says "received", "help is on the way" or "closed" and nothing
else of the incident (no units, no notes, no type the dispatcher chose). Alerts shown to residents are the public
ones in force whose area takes in the resident's position (`alerts_at`), and only their public fields
(`public_alert`). Pure: time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import shapely

from app.domain.alert_area import alert_shape, named_only
from app.domain.checks import check_text
from app.domain.entities import Alert, Incident, IncidentStatus
from app.domain.errors import Refusal
from app.domain.geo import check_lat_lon, fast_distance_m
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.triage import Candidate, CandidateState

#: What a resident can report, and the incident type the candidate proposes (a dispatcher may choose another
#: when accepting it). "Crime in progress" is taken as the urgent police call; "hazard" (a fallen tree, a smell
#: of gas, a broken barrier) as a public service call whose text says what it is.
CATEGORIES: dict[str, str] = {
    "fire": "structure_fire",
    "medical": "medical_emergency",
    "crime": "robbery",
    "suspicious": "disturbance",
    "hazard": "public_service",
    "other": "public_service",
}
#: The non-emergency categories offered to Open311 GeoReport v2 clients: code -> (name, description).
OPEN311_SERVICES: dict[str, tuple[str, str]] = {
    "hazard": ("Hazard", "Something dangerous in a public place: a fallen tree, a broken barrier, a smell of gas"),
    "suspicious": ("Suspicious activity", "Something the police should look at that is not a crime in progress"),
    "other": ("Other", "Anything else the control room should know that is not an emergency"),
}
#: The candidate's source kind: the public-safety app (`app.domain.triage.SOURCE_KINDS`).
SOURCE = "app"
#: The start of every resident candidate's source id, so dispatchers see where a report came from.
SOURCE_PREFIX = "resident-app"
MAX_REPORT_TEXT = 1000
#: Reports this far outside the jurisdiction's bounding box are refused: a phone's fix at its edge, or a
#: resident just across the border reporting what they see inside, still pass.
JURISDICTION_MARGIN_M = 5000.0

LatLon = tuple[float, float]


class RequestState(StrEnum):
    """All a resident is told about their request."""

    RECEIVED = "received"
    HELP_ON_THE_WAY = "help_on_the_way"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ResidentReport:
    """A resident's report, checked: the category, the incident type it proposes, where, and the text."""

    category: str
    type: str
    lat: float
    lon: float
    text: str


def check_report(category: Any, lat: Any, lon: Any, text: Any,
                 bounds: tuple[LatLon, LatLon]) -> ResidentReport:
    """A resident's report from the page's fields, or Refusal with a message the page can show."""
    if not isinstance(category, str) or category not in CATEGORIES:
        raise Refusal("bad_category", f"choose what happened: one of {', '.join(CATEGORIES)}")
    if lat is None or lon is None or isinstance(lat, bool) or isinstance(lon, bool):
        raise Refusal("missing_location", "say where it is: share your location or pick the place on the map")
    lat_f, lon_f = check_lat_lon(lat, lon)
    if not isinstance(text, str):
        raise Refusal("bad_text", "the description must be text")
    text = check_text(text, "the description", MAX_REPORT_TEXT, required=False)
    outside = distance_outside(bounds, (lat_f, lon_f))
    if outside > JURISDICTION_MARGIN_M:
        raise Refusal("outside_jurisdiction", f"this place is {outside / 1000:.0f} km outside the area this "
                                              "service covers; call your local emergency number (112)")
    return ResidentReport(category, CATEGORIES[category], lat_f, lon_f, text)


def distance_outside(bounds: tuple[LatLon, LatLon], point: LatLon) -> float:
    """Metres from `point` to the box ((south, west), (north, east)); 0 inside it."""
    (south, west), (north, east) = bounds
    nearest = (min(max(point[0], south), north), min(max(point[1], west), east))
    return 0.0 if nearest == point else fast_distance_m(point, nearest)


def source_id(device: str, report: str) -> str:
    """The candidate's source id: the app, the reporting device's public id and the report's reference."""
    return f"{SOURCE_PREFIX} {device} {report}"


def handling_agency(type_: str, agencies: Iterable[str]) -> str | None:
    """The agency whose dispatchers handle a report of `type_` (the type's own agency), who alone (with
    supervisors) see the resident's report and position in triage; None when the hub has no such agency: then
    every agency sees it, as any report."""
    agency = INCIDENT_TYPES[type_].agency
    return agency if agency in set(agencies) else None


def report_text(report: ResidentReport, has_photo: bool) -> str:
    """The candidate's text: the resident's category (the type alone hides "hazard" in "public service")."""
    label = report.category.replace("_", " ")
    photo = " (photo attached)" if has_photo else ""
    return f"[{label}{photo}] {report.text}".strip()


def request_state(candidate: Candidate | None, incidents: dict[str, Incident]) -> RequestState:
    """What the resident is told: received until a dispatcher takes the report on, help is on the way while the
    incident it became (or joined) is open, closed once that incident is closed or the report was dismissed.

    `candidate` None is a report the hub no longer holds (decided long ago): closed. A report merged into an
    incident the public may not see (restricted) has no incident to follow: help is on the way stands.
    """
    if candidate is None or candidate.state == CandidateState.DISMISSED:
        return RequestState.CLOSED
    if candidate.state == CandidateState.PENDING:
        return RequestState.RECEIVED
    incident = incidents.get(candidate.incident) if candidate.incident else None
    if incident is not None and incident.status == IncidentStatus.CLOSED:
        return RequestState.CLOSED
    return RequestState.HELP_ON_THE_WAY


def open311_status(state: RequestState) -> str:
    """GeoReport v2's status of a request: "open" until it is closed."""
    return "closed" if state == RequestState.CLOSED else "open"


def alerts_at(alerts: Iterable[Alert], point: LatLon | None, now: float) -> list[Alert]:
    """The alerts in force that concern a resident at `point` (None: position unknown, every alert in force),
    newest first. An alert whose area is only named (no shape) may concern anyone: it is included."""
    out = []
    for alert in alerts:
        if not alert.active(now):
            continue
        if point is None or named_only(alert) or _covers(alert, point):
            out.append(alert)
    out.sort(key=lambda a: (-a.issued_at, a.id))
    return out


def _covers(alert: Alert, point: LatLon) -> bool:
    shape = alert_shape(alert)
    return not shape.is_empty and bool(shapely.intersects_xy(shape, point[1], point[0]))


def public_alert(alert: Alert) -> dict[str, Any]:
    """What a resident is shown of an alert: its public CAP fields, not who issued it."""
    return {"id": alert.id, "headline": alert.headline, "event": alert.event, "severity": alert.severity,
            "urgency": alert.urgency, "description": alert.description, "instruction": alert.instruction,
            "issued_at": alert.issued_at, "expires": alert.expires,
            "areas": [a.desc for a in alert.areas if a.desc]}
