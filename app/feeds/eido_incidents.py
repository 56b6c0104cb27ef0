"""NENA EIDO <-> Watchfloor incidents. Sans-I/O: a parsed `EidoIncident` and the picture in, the commands that
import it out; an incident of the picture in, an EIDO document out.

Import (`import_plan`): the incident type is the document's ``incidentTypeInternalCode`` or
``incidentTypeCommonRegistryText`` when it is a code of Watchfloor's list (as our own exports write it), else
the caller must name one; the location must have coordinates (gml:pos); the address is the civic address's
street and number (else the location description). The first note says which EIDO the incident came from
("Imported from EIDO <incidentTrackingIdentifier>"), so importing the same document again finds the incident
instead of opening a second one. Each EIDO unit the hub knows is assigned (when its status commits it) and
brought to its status; units the hub does not know are reported and skipped.

Export (`incident_eido`): the incident with its notes and committed units, statuses in the (provisional) NENA
registry values of `app.feeds.eido` and in Watchfloor's own words in the *Internal* fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.entities import COMMITTED, Incident, UnitStatus
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.lifecycle import UNIT_TRANSITIONS
from app.domain.picture import Picture
from app.feeds.eido import UNIT_STATUS_WATCHFLOOR, EidoIncident, EidoUnit, export_eido
from app.feeds.errors import FeedError

MARKER = "Imported from EIDO "
_STREET_NUMBER = re.compile(r"^(?P<street>.*\D)\s+(?P<number>\d+\s?[A-Za-z]?)$")


@dataclass(frozen=True, slots=True)
class Step:
    """One command of an import, with what it is about (for the report)."""

    subject: str
    name: str
    args: dict[str, Any]


@dataclass(slots=True)
class ImportPlan:
    """`create` (None when the incident was imported before: `existing`), then `steps`; `skipped` says why not."""

    create: dict[str, Any] | None
    existing: str | None
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def find_imported(picture: Picture, tracking_id: str) -> str | None:
    """The incident an earlier import of this EIDO opened, if any."""
    marker = MARKER + tracking_id
    for incident in picture.incidents.values():
        if any(note.text.startswith(marker) for note in incident.notes[:1]):
            return incident.id
    return None


def _type(doc: EidoIncident, override: str | None) -> str:
    for code in (override, doc.type_internal_code, doc.type_code):
        if code in INCIDENT_TYPES:
            return code  # type: ignore[return-value]
    if override is not None:
        raise FeedError("unknown_type", f"{override!r} is not a Watchfloor incident type")
    raise FeedError("unknown_type", f"EIDO incident type {doc.type_code!r} (internal {doc.type_internal_code!r}: "
                                    f"{doc.type_internal_text!r}) is not a Watchfloor type; name one "
                                    f"(e.g. {', '.join(sorted(INCIDENT_TYPES)[:4])}, ...)")


def _address(doc: EidoIncident) -> str:
    location = doc.location
    if location is None:
        return ""
    civic = dict(location.civic)
    street = " ".join(v for v in (civic.get("RD", ""), civic.get("STS", "")) if v)
    if street:
        return f"{street} {civic.get('HNO', '')}".strip()[:200]
    return (location.description or "")[:200]


def _unit_status(unit: EidoUnit) -> UnitStatus | None:
    for value in (UNIT_STATUS_WATCHFLOOR.get(unit.status or ""), *unit.status_internal):
        if value in UnitStatus.__members__.values():
            return UnitStatus(value)
    return None


def import_plan(doc: EidoIncident, picture: Picture, incident_type: str | None = None) -> ImportPlan:
    """What importing `doc` into a hub whose picture is `picture` takes. Raises FeedError when it cannot."""
    existing = find_imported(picture, doc.id)
    create = None
    if existing is None:
        location = doc.location
        if location is None or location.lat is None or location.lon is None:
            raise FeedError("missing_field", "the EIDO's incident location has no coordinates (gml:pos); "
                                             "Watchfloor places incidents on the map")
        notes = MARKER + doc.id + (f" ({doc.type_internal_text})" if doc.type_internal_text else "")
        create = {"type": _type(doc, incident_type), "lat": location.lat, "lon": location.lon,
                  "address": _address(doc), "notes": notes}
        if doc.priority is not None and 1 <= doc.priority <= 5:
            create["priority"] = doc.priority
    plan = ImportPlan(create, existing)
    incident_notes = set() if existing is None else {n.text for n in picture.incidents[existing].notes}
    plan.steps += [Step("note", "incident.note", {"text": text[:4000]})
                   for text in doc.notes if text.strip() and text[:4000] not in incident_notes]
    for unit in doc.units:
        known = picture.units.get(unit.id)
        status = _unit_status(unit)
        if known is None:
            plan.skipped.append(f"{unit.id}: not a unit of this hub")
            continue
        if status is None:
            plan.skipped.append(f"{unit.id}: status {unit.status!r} is not one Watchfloor knows")
            continue
        on_it = existing is not None and known.incident == existing
        start = known.status if on_it else UnitStatus.DISPATCHED
        if status in COMMITTED and not on_it:
            plan.steps.append(Step(unit.id, "unit.assign", {"unit": unit.id}))
        elif not on_it:
            start = known.status
        plan.steps += [Step(unit.id, "unit.status", {"unit": unit.id, "status": s.value})
                       for s in status_path(start, status)]
    return plan


def status_path(start: UnitStatus, target: UnitStatus) -> list[UnitStatus]:
    """The statuses a unit passes through from `start` to `target` by the lifecycle's allowed steps, shortest
    first (dispatched -> transporting is via on_scene); [] when already there, [target] when there is no path
    (the hub then refuses it with its reason)."""
    paths: dict[UnitStatus, list[UnitStatus]] = {start: []}
    frontier = [start]
    while frontier and target not in paths:
        step = []
        for status in frontier:
            for following in sorted(UNIT_TRANSITIONS[status]):
                if following not in paths:
                    paths[following] = [*paths[status], following]
                    step.append(following)
        frontier = step
    return paths.get(target, [target])


def _civic(address: str) -> dict[str, str] | None:
    match = _STREET_NUMBER.match(address.strip())
    if match:
        return {"RD": match["street"].strip(), "HNO": match["number"].replace(" ", "")}
    return {"NAM": address.strip()} if address.strip() else None


def incident_eido(incident: Incident, picture: Picture, at: float | None = None) -> dict[str, Any]:
    """An EIDO document for an incident of the picture (its committed units with their statuses)."""
    itype = INCIDENT_TYPES.get(incident.type)
    units = [{"id": u, "agency": picture.units[u].agency, "status": picture.units[u].status.value}
             for u in incident.units if u in picture.units]
    return export_eido({
        "id": incident.id, "type_code": incident.type, "type_text": itype.label if itype else incident.type,
        "status": incident.status.value, "priority": incident.priority, "lat": incident.lat, "lon": incident.lon,
        "agency": incident.owner, "updated": datetime.fromtimestamp(at or incident.status_at or picture.at, UTC),
        "address": _civic(incident.address), "notes": [n.text for n in incident.notes], "units": units,
    })
