"""NENA EIDO <-> Watchfloor incidents. Sans-I/O: a parsed `EidoIncident` and the picture in, the commands that
import it out; an incident of the picture in, an EIDO document out.

Import (`import_plan`): the incident type is the document's ``incidentTypeInternalCode`` or
``incidentTypeCommonRegistryText`` when it is a code of Watchfloor's list (as our own exports write it), else the
Watchfloor type NENA's registry code stands for (``FSTRU`` -> structure fire), else the caller must name one; the
address is the civic address's street and number (else the location description). The first note says which EIDO
the incident came from ("Imported from EIDO <Incident Tracking Identifier>"), so importing the same document again
finds the incident instead of opening a second one. Each EIDO unit the hub knows is assigned (when its status
commits it) and brought to its status; units the hub does not know are reported and skipped.

An EIDO that cannot be put on the map (a call transfer, which has a call but no incident yet; a location with no
coordinates, only a civic address, a by-reference URL that is never fetched, or a PIDF-LO that cannot be read) is
not refused and not guessed onto the map: it becomes one message for triage (`triage_text`) with everything a
dispatcher needs to call back and open the incident by hand: the call, callback numbers, each location as given,
the type and notes.

Export (`incident_eido`): the incident with its notes and committed units, statuses and types in NENA's registry
values (`app.feeds.eido`) and in Watchfloor's own words in the *Internal* fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.checks import MAX_TEXT
from app.domain.entities import COMMITTED, Incident, UnitStatus
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.lifecycle import UNIT_TRANSITIONS
from app.domain.picture import Picture
from app.feeds.eido import (
    INCIDENT_TYPE_WATCHFLOOR,
    EidoIncident,
    EidoLocation,
    EidoUnit,
    export_eido,
    unit_status_watchfloor,
)
from app.feeds.errors import FeedError

MARKER = "Imported from EIDO "
TRIAGE_MARKER = "EIDO for triage "
#: civicAddress elements (RFC 4776/5139) in the order a street address is written, then the wider areas.
_CIVIC_STREET = ("HNO", "HNS", "PRD", "RD", "STS", "POD", "LOC", "FLR", "NAM")
_CIVIC_AREA = ("A6", "A5", "A4", "A3", "A2", "A1", "PC", "country")
_STREET_NUMBER = re.compile(r"^(?P<street>.*\D)\s+(?P<number>\d+\s?[A-Za-z]?)$")


@dataclass(frozen=True, slots=True)
class Step:
    """One command of an import, with what it is about (for the report)."""

    subject: str
    name: str
    args: dict[str, Any]


@dataclass(slots=True)
class ImportPlan:
    """`create` (None when the incident was imported before: `existing`), then `steps`; `skipped` says why not.

    `triage` is the message to post instead when the EIDO cannot be put on the map (`posted`: the same text is in
    the picture already)."""

    create: dict[str, Any] | None
    existing: str | None
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    triage: str | None = None
    posted: bool = False


def find_imported(picture: Picture, tracking_id: str) -> str | None:
    """The incident an earlier import of this EIDO opened, if any."""
    marker = MARKER + tracking_id
    for incident in picture.incidents.values():
        if any(note.text.startswith(marker) for note in incident.notes[:1]):
            return incident.id
    return None


def _type(doc: EidoIncident, override: str | None) -> str:
    for code in (override, doc.type_internal_code, doc.type_code, INCIDENT_TYPE_WATCHFLOOR.get(doc.type_code or "")):
        if code in INCIDENT_TYPES:
            return code
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
    for value in (unit_status_watchfloor(unit.status, unit.secondary), *unit.status_internal):
        if value is not None and value in UnitStatus.__members__.values():
            return UnitStatus(value)
    return None


def import_plan(doc: EidoIncident, picture: Picture, incident_type: str | None = None) -> ImportPlan:
    """What importing `doc` into a hub whose picture is `picture` takes. Raises FeedError when it cannot."""
    existing = find_imported(picture, doc.id)
    create = None
    if existing is None:
        why = unplaceable(doc)
        if why is not None:
            text = triage_text(doc, why)
            return ImportPlan(None, None, triage=text, posted=any(m.text == text for m in picture.messages))
        location = doc.location
        assert location is not None and location.lat is not None and location.lon is not None
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


def unplaceable(doc: EidoIncident) -> str | None:
    """Why the EIDO cannot be opened as an incident on the map, or None when it can."""
    if doc.type_code is None:
        return "a call without an incident (a call transfer)"
    location = doc.location
    if location is None:
        return "an incident without a location"
    if location.lat is None:
        return "an incident whose location has no coordinates"
    return None


def civic_text(civic: tuple[tuple[str, str], ...]) -> str:
    """A civic address as people write it: "42 W Cellular Street, Wilmington, DE, US"."""
    fields = dict(civic)
    street = " ".join(fields[k] for k in _CIVIC_STREET if fields.get(k))
    return ", ".join([p for p in (street, *(fields.get(k, "") for k in _CIVIC_AREA)) if p])


def _describe(location: EidoLocation) -> str:
    parts = []
    if location.lat is not None:
        parts.append(f"{location.lat:.6f}, {location.lon:.6f}")
    if location.civic:
        parts.append(civic_text(location.civic))
    if location.description:
        parts.append(location.description)
    if location.reference_url:
        parts.append(f"by reference {location.reference_url} (not fetched)")
    if location.problem:
        parts.append(f"unreadable: {location.problem}")
    return "; ".join(parts) or "nothing usable"


def triage_text(doc: EidoIncident, why: str) -> str:
    """The message a dispatcher gets for an EIDO that cannot be put on the map: all of it that helps."""
    lines = [f"{TRIAGE_MARKER}{doc.id}: {why}. Nothing was opened on the map: confirm the location with the "
             f"caller and open the incident."]
    if doc.type_code is not None:
        internal = " ".join(t for t in (doc.type_internal_code, doc.type_internal_text) if t)
        priority = f", priority {doc.priority}" if doc.priority is not None else ""
        lines.append(f"Incident type {doc.type_code}{f' ({internal})' if internal else ''}{priority}")
    for call in doc.calls:
        what = ", ".join(v for v in (call.call_type, call.direction, call.state) if v)
        lines.append(f"Call {call.id}: {what}" + (f", queue {call.queue}" if call.queue else "")
                     + (f", started {call.started}" if call.started else ""))
        if call.callback:
            lines.append("Call back: " + ", ".join(call.callback))
    lines += [f"Location ({loc.kind or 'unspecified'}): {_describe(loc)}" for loc in doc.locations]
    lines += [f"Note: {note}" for note in doc.notes]
    lines.append(f"Issued by {doc.issuer or 'an unnamed element'}, last updated {doc.updated:%Y-%m-%d %H:%M} UTC")
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


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
    units = [{"id": u, "agency": picture.units[u].agency, "status": picture.units[u].status.value,
              "kind": picture.units[u].kind} for u in incident.units if u in picture.units]
    return export_eido({
        "id": incident.id, "type_code": incident.type, "type_text": itype.label if itype else incident.type,
        "status": incident.status.value, "priority": incident.priority, "lat": incident.lat, "lon": incident.lon,
        "agency": incident.owner, "updated": datetime.fromtimestamp(at or incident.status_at or picture.at, UTC),
        "address": _civic(incident.address), "notes": [n.text for n in incident.notes], "units": units,
    })
