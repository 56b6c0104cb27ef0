"""The things in the common operating picture: incidents, units, aid requests, messages, zones, alerts.

Plain dataclasses: the picture is a fold of events over them (`app.domain.picture`), and the wire and the
store serialise them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.drones import Attachment


class IncidentStatus(StrEnum):
    """An incident's lifecycle. `new` waits for units; `under_control` is on scene but winding down."""

    NEW = "new"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    UNDER_CONTROL = "under_control"
    CLOSED = "closed"


class UnitStatus(StrEnum):
    """A unit's status, as a status board shows it (each maps to the NENA EIDO registry: see eido.py)."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    OUT_OF_SERVICE = "out_of_service"


#: Statuses in which a unit is committed to an incident.
COMMITTED = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE,
                       UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL})


@dataclass(slots=True)
class Note:
    """A line in an incident's narrative."""

    at: float
    author: str
    text: str


@dataclass(slots=True)
class Incident:
    """A call for service and everything decided about it."""

    id: str
    type: str
    priority: int
    lat: float
    lon: float
    address: str
    status: IncidentStatus
    created_at: float
    created_by: str
    owner: str  # the agency that took the call
    agencies: list[str]
    caller: str = ""
    restricted: bool = False
    units: list[str] = field(default_factory=list)  # currently committed units
    history_units: list[str] = field(default_factory=list)  # every unit ever assigned, in order
    notes: list[Note] = field(default_factory=list)
    disposition: str = ""
    status_at: float = 0.0
    closed_at: float | None = None
    attachments: list[Attachment] = field(default_factory=list)  # snapshots, e.g. from a drone's video
    location_precision: str = ""  # app.domain.location.PRECISIONS; "" for incidents from before it was kept
    held: bool = False  # a pending call held back from dispatch (until a unit is sent or the hold is released)
    hold_reason: str = ""


def incident_from_wire(d: dict[str, Any]) -> Incident:
    """An incident from its JSON form (as `dataclasses.asdict` wrote it into an `incident.shared` event)."""
    fields = {**d, "status": IncidentStatus(d["status"]), "agencies": list(d["agencies"]),
              "units": list(d.get("units", ())), "history_units": list(d.get("history_units", ())),
              "notes": [Note(**n) for n in d.get("notes", ())],
              "attachments": [Attachment(**a) for a in d.get("attachments", ())]}
    return Incident(**fields)


@dataclass(slots=True)
class Unit:
    """A resource that can be sent: engine, patrol car, ambulance, drone..."""

    id: str  # the callsign, e.g. "E12"
    agency: str
    kind: str
    station: str
    status: UnitStatus
    status_at: float
    incident: str | None = None
    lat: float | None = None
    lon: float | None = None
    heading: float | None = None
    speed: float | None = None
    position_at: float | None = None
    suspect: str = ""  # the intrusion-detection rule that doubts the current position ("" when believed)
    next_incident: str | None = None  # a stacked assignment, taking effect when the unit becomes available
    checked_at: float | None = None  # when a dispatcher last checked on it (restarts its status timer)


@dataclass(slots=True)
class AidRequest:
    """Mutual aid: one agency asks another for help with an incident."""

    id: str
    incident: str
    from_agency: str
    to_agency: str
    note: str
    requested_at: float
    requested_by: str
    state: str = "pending"  # pending | accepted | declined | cancelled (withdrawn, or its incident closed)
    answered_at: float | None = None
    answered_by: str | None = None
    answer_note: str = ""


@dataclass(slots=True)
class Message:
    """A chat line. Channels: "all", "agency:<code>", "incident:<id>"."""

    id: str
    channel: str
    sender: str
    agency: str
    text: str
    at: float


@dataclass(slots=True)
class Zone:
    """A named area drawn on the map: a cordon, a staging area, a sector."""

    id: str
    name: str
    kind: str
    polygon: list[tuple[float, float]]
    created_at: float
    created_by: str
    agency: str = ""  # whose dispatchers may remove it ("" for zones drawn before zones had an agency)


@dataclass(slots=True)
class AlertArea:
    """One area of an alert: a polygon of (lat, lon), a circle, or neither: a named area (CAP areaDesc/geocodes)
    that the desc names and the map cannot draw."""

    polygon: list[tuple[float, float]] | None = None
    circle: tuple[float, float, float] | None = None  # lat, lon, radius in metres
    desc: str = ""


#: The CAP 1.2 value lists an alert's fields keep to, so every alert can be published as valid CAP.
ALERT_VALUES: dict[str, tuple[str, ...]] = {
    "severity": ("Extreme", "Severe", "Moderate", "Minor", "Unknown"),
    "urgency": ("Immediate", "Expected", "Future", "Past", "Unknown"),
    "certainty": ("Observed", "Likely", "Possible", "Unlikely", "Unknown"),
    "category": ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                 "CBRNE", "Other"),
}


@dataclass(slots=True)
class Alert:
    """A warning to the public or responders over an area, with an expiry (e.g. a CAP flood warning)."""

    id: str
    headline: str
    event: str
    severity: str
    urgency: str
    areas: list[AlertArea]
    issued_at: float
    issued_by: str
    expires: float | None = None
    description: str = ""
    instruction: str = ""
    source: str = "watchfloor"
    cancelled: bool = False
    certainty: str = "Unknown"
    category: str = "Safety"

    def active(self, now: float) -> bool:
        """Whether the alert is in force at `now`."""
        return not self.cancelled and (self.expires is None or now < self.expires)
