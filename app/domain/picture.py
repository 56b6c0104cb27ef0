"""The common operating picture, and the fold that builds it from events.

The same fold runs in the hub (the authoritative picture), in every console (its own view), in replay and
in the audit. It never consults the clock and never refuses: rules live in `app.domain.decide`, before an
event exists. Given the same events, every fold reaches the same picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from app.domain import events as ev
from app.domain import triage
from app.domain.agencies import Actor, Role
from app.domain.authority import ALL_AGENCIES
from app.domain.cameras import CAMERA_HANDLERS, Camera
from app.domain.devices import DEVICE_HANDLERS, Device
from app.domain.drones import DRONE_HANDLERS, Drone
from app.domain.entities import (
    AidRequest,
    Alert,
    AlertArea,
    Incident,
    IncidentStatus,
    Message,
    Note,
    Unit,
    UnitStatus,
    Zone,
    incident_from_wire,
)
from app.domain.events import Event
from app.domain.plausibility import Fix, Registrar, Track, advance, is_device, registered
from app.domain.security_alerts import SECURITY_HANDLERS, SecurityLog
from app.domain.signal_priority import SIGNAL_HANDLERS, SignalPriority, SignalSuspension, release

T = TypeVar("T")
K = TypeVar("K")

#: How many chat lines a picture keeps; older lines stay in the log.
MESSAGES_KEPT = 2000


@dataclass(slots=True)
class Viewer:
    """Whose picture this is: restricted incidents outside the viewer's agencies are left out."""

    agency: str
    supervisor: bool = False

    def may_see(self, audience: list[str] | None) -> bool:
        """Whether an event or item with this audience is visible to the viewer."""
        return audience is None or self.supervisor or self.agency in audience


def viewer_of(actor: Actor) -> Viewer:
    """The viewer a signed-in user is: supervisors and all-agency feeds see every agency's restricted calls."""
    return Viewer(actor.agency, supervisor=actor.role == Role.SUPERVISOR or actor.agency == ALL_AGENCIES)


#: The version of the fold (`Picture.apply` and the picture's shape). Raise it with any change to how events fold
#: or to what a picture holds: a stored snapshot made by another version is never used (the picture is folded
#: from an older snapshot of this version, or from the start), so a changed fold never starts from a stale one.
FOLD_VERSION = 1


@dataclass(slots=True)
class Picture:
    """Everything known now: the fold of events up to `seq`."""

    seq: int = 0
    at: float = 0.0
    incidents: dict[str, Incident] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    aid_requests: dict[str, AidRequest] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    zones: dict[str, Zone] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    drones: dict[str, Drone] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)
    next_incident_number: int = 1001
    #: How many of each numbered item were ever made, so new ids never repeat (see `next_id`).
    counters: dict[str, int] = field(default_factory=dict)
    candidates: dict[str, triage.Candidate] = field(default_factory=dict)  # reports in triage (app.domain.triage)
    #: Registered field devices, revoked ones included (app.domain.devices).
    devices: dict[str, Device] = field(default_factory=dict)
    #: Each unit's ("E1") and drone's ("drone:UAV1") last fix, for intrusion detection (app.domain.plausibility).
    tracks: dict[str, Track] = field(default_factory=dict)
    #: Units each field device registered lately (the Sybil rule, app.domain.plausibility).
    registrars: dict[str, Registrar] = field(default_factory=dict)
    #: Security alerts (supervisors' pictures only).
    security: SecurityLog = field(default_factory=SecurityLog)
    #: Signal priority for responding units, one per signalised intersection (app.domain.signal_priority).
    signals: dict[int, SignalPriority] = field(default_factory=dict)
    #: Areas where a supervisor suspended signal priority.
    signal_suspensions: dict[str, SignalSuspension] = field(default_factory=dict)

    def next_id(self, prefix: str) -> str:
        """The id the next item with this prefix gets, e.g. "AR-3" (counted by the fold)."""
        return f"{prefix}-{self.counters.get(prefix, 0) + 1}"

    def _count(self, item_id: str) -> None:
        prefix, _, number = item_id.rpartition("-")
        if prefix and number.isdigit():
            self.counters[prefix] = max(self.counters.get(prefix, 0), int(number))

    def apply(self, event: Event, viewer: Viewer | None = None) -> None:
        """Fold one event into the picture.

        With a `viewer`, an incident that becomes restricted to other agencies is dropped from this picture
        with everything that names it (exactly what `visible_to` leaves out), as the hub no longer sends its
        events to this viewer.
        """
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)
        self.seq = event.seq
        self.at = event.ts
        if viewer is not None and event.kind == ev.INCIDENT_UPDATED and event.data.get("restricted"):
            incident = self.incidents.get(event.data["id"])
            if incident is not None and not viewer.may_see(incident.agencies):
                self._keep_visible(viewer)

    def apply_all(self, events: Iterable[Event], viewer: Viewer | None = None) -> Picture:
        """Fold many events; returns self for chaining."""
        for event in events:
            self.apply(event, viewer)
        return self

    def incident_audience(self, incident_id: str) -> list[str] | None:
        """Who may see events about this incident: None for everyone, else its agencies."""
        incident = self.incidents.get(incident_id)
        if incident is None or not incident.restricted:
            return None
        return sorted(incident.agencies)

    def visible_to(self, viewer: Viewer) -> Picture:
        """A copy of the picture as `viewer` may see it (for snapshots sent to a console)."""
        copy = Picture(
            seq=self.seq,
            at=self.at,
            incidents={k: v for k, v in self.incidents.items() if viewer.may_see(self.incident_audience(k))},
            units={k: self._unit_as_seen(u, viewer) for k, u in self.units.items()},
            aid_requests={
                k: a for k, a in self.aid_requests.items()
                if viewer.may_see(self.incident_audience(a.incident)) or viewer.agency == a.to_agency
            },
            messages=[m for m in self.messages if viewer.may_see(self.channel_audience(m.channel))],
            zones=dict(self.zones),
            alerts=dict(self.alerts),
            drones={k: d if d.incident is None or viewer.may_see(self.incident_audience(d.incident))
                    else replace(d, incident=None)  # a restricted incident is not named to outsiders
                    for k, d in self.drones.items()},
            cameras=dict(self.cameras),
            next_incident_number=self.next_incident_number,
            counters=dict(self.counters),
            candidates=triage.visible_candidates(self, viewer),
            devices={k: d for k, d in self.devices.items() if viewer.may_see([d.agency])},
            tracks=dict(self.tracks),
            registrars=dict(self.registrars),
            security=self.security if viewer.supervisor else SecurityLog(),
            # scoped like their incident's events, which name the unit's call
            signals={k: s for k, s in self.signals.items() if viewer.may_see(self.incident_audience(s.incident))},
            signal_suspensions=dict(self.signal_suspensions),
        )
        return copy

    def _unit_as_seen(self, unit: Unit, viewer: Viewer) -> Unit:
        """A restricted incident (committed to, or stacked next) is not named to outsiders."""
        hidden = {key: None for key in ("incident", "next_incident")
                  if getattr(unit, key) is not None and not viewer.may_see(self.incident_audience(getattr(unit, key)))}
        return replace(unit, **hidden) if hidden else unit  # type: ignore[arg-type]

    def _keep_visible(self, viewer: Viewer) -> None:
        """Leave out what `viewer` may not see (after an incident was restricted away from it), in place: the
        console's views hold on to the picture's containers and entities."""
        seen = self.visible_to(viewer)
        _narrow(self.incidents, seen.incidents)
        _narrow(self.aid_requests, seen.aid_requests)
        _narrow(self.candidates, seen.candidates)
        _narrow(self.signals, seen.signals)
        self.messages[:] = seen.messages
        for unit_id, unit in seen.units.items():
            self.units[unit_id].incident = unit.incident
            self.units[unit_id].next_incident = unit.next_incident
        for drone_id, drone in seen.drones.items():
            self.drones[drone_id].incident = drone.incident

    def channel_audience(self, channel: str) -> list[str] | None:
        """Who may read a chat channel."""
        scope, _, name = channel.partition(":")
        if scope == "agency":
            return [name]
        if scope == "incident":
            return self.incident_audience(name)
        return None


def _narrow(part: dict[K, T], kept: dict[K, T]) -> None:
    """Make `part` hold just what `kept` holds, in place."""
    for key in [k for k in part if k not in kept]:
        del part[key]
    part.update(kept)


def _unit_registered(p: Picture, e: Event) -> None:
    d = e.data
    p.units[d["id"]] = Unit(
        id=d["id"], agency=d["agency"], kind=d["kind"], station=d.get("station", ""),
        status=UnitStatus(d.get("status", UnitStatus.AVAILABLE)), status_at=e.ts,
        lat=d.get("lat"), lon=d.get("lon"), position_at=e.ts if d.get("lat") is not None else None,
        suspect=d.get("suspect", ""),
    )
    if is_device(e.actor):
        p.registrars[e.actor] = registered(p.registrars.get(e.actor), e.ts)


def _unit_retired(p: Picture, e: Event) -> None:
    p.units.pop(e.data["unit"], None)
    p.tracks.pop(e.data["unit"], None)
    release(p, e.data["unit"])


def _unit_position(p: Picture, e: Event) -> None:
    d = e.data
    unit = p.units.get(d["unit"])
    if unit is None:
        return
    unit.lat, unit.lon = d["lat"], d["lon"]
    unit.heading, unit.speed = d.get("heading"), d.get("speed")
    unit.position_at = d.get("t", e.ts)
    unit.suspect = d.get("suspect", "")
    fix = Fix(unit.lat, unit.lon, unit.position_at, e.actor, e.ts, unit.speed)
    p.tracks[unit.id] = advance(p.tracks.get(unit.id), fix, bool(unit.suspect))


def _unit_status(p: Picture, e: Event) -> None:
    d = e.data
    unit = p.units[d["unit"]]
    unit.status = UnitStatus(d["status"])
    unit.status_at = e.ts
    unit.checked_at = None
    if unit.status != UnitStatus.EN_ROUTE:
        release(p, unit.id)
    if unit.status in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE):
        _leave_incident(p, unit)


def _unit_assigned(p: Picture, e: Event) -> None:
    d = e.data
    unit = p.units[d["unit"]]
    incident = p.incidents.get(d["incident"])
    _leave_incident(p, unit)  # a diverted unit leaves the incident it was committed to
    unit.status = UnitStatus.DISPATCHED
    unit.status_at = e.ts
    unit.checked_at = None
    unit.incident = d["incident"]
    if unit.next_incident is not None and unit.next_incident == unit.incident:
        unit.next_incident = None  # its stacked assignment took effect
    if incident is not None:
        incident.units.append(unit.id)
        incident.history_units.append(unit.id)
        incident.held = False  # a held call that gets a unit is no longer waiting
        incident.hold_reason = ""
        if unit.agency not in incident.agencies:
            incident.agencies.append(unit.agency)


def _leave_incident(p: Picture, unit: Unit) -> None:
    if unit.incident is None:
        return
    incident = p.incidents.get(unit.incident)
    if incident is not None and unit.id in incident.units:
        incident.units.remove(unit.id)
    unit.incident = None


def _unit_stacked(p: Picture, e: Event) -> None:
    unit = p.units.get(e.data["unit"])
    if unit is not None:
        unit.next_incident = e.data.get("incident")


def _unit_checked(p: Picture, e: Event) -> None:
    unit = p.units.get(e.data["unit"])
    if unit is not None:
        unit.checked_at = e.ts


def _incident_created(p: Picture, e: Event) -> None:
    d = e.data
    p.incidents[d["id"]] = Incident(
        id=d["id"], type=d["type"], priority=d["priority"], lat=d["lat"], lon=d["lon"],
        address=d.get("address", ""), status=IncidentStatus.NEW, created_at=e.ts, created_by=e.actor,
        owner=d["owner"], agencies=list(d.get("agencies") or [d["owner"]]), caller=d.get("caller", ""),
        restricted=bool(d.get("restricted", False)), status_at=e.ts,
        notes=[Note(e.ts, e.actor, d["notes"])] if d.get("notes") else [],
        location_precision=d.get("location_precision", ""),
    )
    p.next_incident_number = max(p.next_incident_number, int(d["id"]) + 1)


def _incident_updated(p: Picture, e: Event) -> None:
    incident = p.incidents.get(e.data["id"])
    if incident is None:
        return
    for key in ("type", "priority", "lat", "lon", "address", "caller", "restricted", "location_precision"):
        if key in e.data:
            setattr(incident, key, e.data[key])


def _incident_status(p: Picture, e: Event) -> None:
    incident = p.incidents.get(e.data["id"])
    if incident is None:
        return
    incident.status = IncidentStatus(e.data["status"])
    incident.status_at = e.ts
    if incident.status == IncidentStatus.CLOSED:
        incident.disposition = e.data.get("disposition", "")
        incident.closed_at = e.ts
    else:
        incident.closed_at = None


def _incident_note(p: Picture, e: Event) -> None:
    incident = p.incidents.get(e.data["id"])
    if incident is not None:
        incident.notes.append(Note(e.ts, e.actor, e.data["text"]))


def _incident_shared(p: Picture, e: Event) -> None:
    # Only a picture that lacks the incident takes it: everyone else already folded every step of it. With
    # the incident come the things that name it, which such a picture was never sent or had redacted.
    incident = incident_from_wire(e.data["incident"])
    if incident.id in p.incidents:
        return
    p.incidents[incident.id] = incident
    for unit_id in incident.units:
        unit = p.units.get(unit_id)
        if unit is not None:
            unit.incident = incident.id
    for drone_id in e.data.get("drones", ()):
        drone = p.drones.get(drone_id)
        if drone is not None:
            drone.incident = incident.id
    for request in e.data.get("aid_requests", ()):
        p.aid_requests.setdefault(request["id"], AidRequest(**request))
    known = {m.id for m in p.messages}
    shared = [Message(**m) for m in e.data.get("messages", ()) if m["id"] not in known]
    if shared:
        p.messages[:] = sorted([*p.messages, *shared], key=lambda m: _number(m.id))[-MESSAGES_KEPT:]
    for proposal in e.data.get("proposals", ()):
        candidate = p.candidates.get(proposal["candidate"])
        if candidate is not None and all(m.incident != incident.id for m in candidate.proposals):
            candidate.proposals.append(triage.MergeProposal(incident.id, proposal["distance_m"]))


def _number(item_id: str) -> int:
    """The counter of a numbered id ("MSG-12" -> 12), which orders items as they were made."""
    number = item_id.rpartition("-")[2]
    return int(number) if number.isdigit() else 0


def _aid_requested(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    d = e.data
    p.aid_requests[d["id"]] = AidRequest(
        id=d["id"], incident=d["incident"], from_agency=d["from_agency"], to_agency=d["to_agency"],
        note=d.get("note", ""), requested_at=e.ts, requested_by=e.actor,
    )


def _aid_answered(p: Picture, e: Event) -> None:
    request = p.aid_requests.get(e.data["id"])
    if request is None:
        return
    request.state = "accepted" if e.data["accepted"] else "declined"
    request.answered_at = e.ts
    request.answered_by = e.actor
    request.answer_note = e.data.get("note", "")
    incident = p.incidents.get(request.incident)
    if e.data["accepted"] and incident is not None and request.to_agency not in incident.agencies:
        incident.agencies.append(request.to_agency)


def _aid_cancelled(p: Picture, e: Event) -> None:
    request = p.aid_requests.get(e.data["id"])
    if request is None:
        return
    request.state = "cancelled"
    request.answered_at = e.ts
    request.answered_by = e.actor
    request.answer_note = e.data.get("reason", "")


def _incident_held(p: Picture, e: Event) -> None:
    incident = p.incidents.get(e.data["id"])
    if incident is not None:
        incident.held = bool(e.data["held"])
        incident.hold_reason = e.data.get("reason", "") if incident.held else ""


def _message_posted(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    d = e.data
    p.messages.append(Message(id=d["id"], channel=d["channel"], sender=e.actor, agency=d["agency"],
                              text=d["text"], at=e.ts))
    if len(p.messages) > MESSAGES_KEPT:
        del p.messages[: len(p.messages) - MESSAGES_KEPT]


def _zone_created(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    d = e.data
    p.zones[d["id"]] = Zone(id=d["id"], name=d["name"], kind=d.get("kind", "zone"),
                            polygon=[(pt[0], pt[1]) for pt in d["polygon"]], created_at=e.ts,
                            created_by=e.actor, agency=d.get("agency", ""))


def _zone_removed(p: Picture, e: Event) -> None:
    p.zones.pop(e.data["id"], None)


def _alert_issued(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    d = e.data
    areas = [
        AlertArea(polygon=[(pt[0], pt[1]) for pt in a["polygon"]] if a.get("polygon") else None,
                  circle=tuple(a["circle"]) if a.get("circle") else None,
                  desc=a.get("desc", ""))
        for a in d["areas"]
    ]
    p.alerts[d["id"]] = Alert(
        id=d["id"], headline=d["headline"], event=d.get("event", ""), severity=d.get("severity", "Unknown"),
        urgency=d.get("urgency", "Unknown"), areas=areas, issued_at=e.ts, issued_by=e.actor,
        expires=d.get("expires"), description=d.get("description", ""), instruction=d.get("instruction", ""),
        source=d.get("source", "watchfloor"), certainty=d.get("certainty", "Unknown"),
        category=d.get("category", "Safety"),
    )


def _alert_cancelled(p: Picture, e: Event) -> None:
    alert = p.alerts.get(e.data["id"])
    if alert is not None:
        alert.cancelled = True


_HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.UNIT_REGISTERED: _unit_registered,
    ev.UNIT_POSITION: _unit_position,
    ev.UNIT_RETIRED: _unit_retired,
    ev.UNIT_STATUS: _unit_status,
    ev.UNIT_ASSIGNED: _unit_assigned,
    ev.UNIT_STACKED: _unit_stacked,
    ev.UNIT_CHECKED: _unit_checked,
    ev.AID_CANCELLED: _aid_cancelled,
    ev.INCIDENT_HELD: _incident_held,
    ev.INCIDENT_CREATED: _incident_created,
    ev.INCIDENT_UPDATED: _incident_updated,
    ev.INCIDENT_STATUS: _incident_status,
    ev.INCIDENT_NOTE: _incident_note,
    ev.INCIDENT_SHARED: _incident_shared,
    ev.AID_REQUESTED: _aid_requested,
    ev.AID_ANSWERED: _aid_answered,
    ev.MESSAGE_POSTED: _message_posted,
    ev.ZONE_CREATED: _zone_created,
    ev.ZONE_REMOVED: _zone_removed,
    ev.ALERT_ISSUED: _alert_issued,
    ev.ALERT_CANCELLED: _alert_cancelled,
    **triage.HANDLERS,
}
_HANDLERS.update(DRONE_HANDLERS)
_HANDLERS.update(CAMERA_HANDLERS)
_HANDLERS.update(DEVICE_HANDLERS)
_HANDLERS.update(SECURITY_HANDLERS)
_HANDLERS.update(SIGNAL_HANDLERS)
