"""Per-incident timelines: each event that concerns an incident, said in one dispatcher's line.

No Qt here: the detail panel renders these lines; tests read them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import events as ev
from app.domain.events import Event
from app.domain.incident_types import INCIDENT_TYPES


def type_label(code: str) -> str:
    """The incident type's label, or its code if unknown."""
    itype = INCIDENT_TYPES.get(code)
    return itype.label if itype else code


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an incident's timeline."""

    at: float
    actor: str
    kind: str
    text: str


def incident_of(event: Event) -> str | None:
    """The incident an event is about, if any."""
    d = event.data
    if event.kind in (ev.INCIDENT_CREATED, ev.INCIDENT_UPDATED, ev.INCIDENT_STATUS, ev.INCIDENT_NOTE):
        return str(d.get("id"))
    if event.kind in (ev.UNIT_ASSIGNED, ev.UNIT_STATUS, ev.AID_REQUESTED, ev.DRONE_ASSIGNED, ev.INCIDENT_ATTACHED):
        value = d.get("incident")
        return str(value) if value else None
    if event.kind == ev.MESSAGE_POSTED and str(d.get("channel", "")).startswith("incident:"):
        return str(d["channel"]).partition(":")[2]
    return None


def describe(event: Event) -> str:
    """The event in a few words."""
    d = event.data
    kind = event.kind
    if kind == ev.INCIDENT_CREATED:
        return f"Created: {type_label(d['type'])} P{d['priority']} at {d.get('address') or 'map point'}" + (
            f" — {d['notes']}" if d.get("notes") else "")
    if kind == ev.INCIDENT_UPDATED:
        changes = ", ".join(f"{k} → {v}" for k, v in d.items() if k != "id")
        return f"Updated: {changes}"
    if kind == ev.INCIDENT_STATUS:
        status = str(d["status"]).replace("_", " ").upper()
        return f"Status {status}" + (f" ({d['disposition']})" if d.get("disposition") else "")
    if kind == ev.INCIDENT_NOTE:
        return f"Note: {d['text']}"
    if kind == ev.UNIT_ASSIGNED:
        return f"{d['unit']} dispatched"
    if kind == ev.UNIT_STATUS:
        return f"{d['unit']} {str(d['status']).replace('_', ' ')}"
    if kind == ev.AID_REQUESTED:
        return f"Mutual aid {d['id']} requested from {d['to_agency']}" + (f": {d['note']}" if d.get("note") else "")
    if kind == ev.AID_ANSWERED:
        verdict = "ACCEPTED" if d["accepted"] else "DECLINED"
        return f"Mutual aid {d['id']} {verdict}" + (f": {d['note']}" if d.get("note") else "")
    if kind == ev.DRONE_ASSIGNED:
        return f"Drone {d['drone']} assigned"
    if kind == ev.INCIDENT_ATTACHED:
        return f"Snapshot {d['id']} attached" + (f": {d['caption']}" if d.get("caption") else "")
    if kind == ev.MESSAGE_POSTED:
        return f"[{d.get('agency', '')}] {d['text']}"
    return kind


class Timelines:
    """Timelines of every incident seen, built from the event stream (and reset with the picture)."""

    MAX_PER_INCIDENT = 500

    def __init__(self) -> None:
        self._lines: dict[str, list[TimelineEntry]] = {}
        self._aid_incident: dict[str, str] = {}

    def clear(self) -> None:
        """Forget everything (the hub sent a whole new snapshot)."""
        self._lines.clear()
        self._aid_incident.clear()

    def add(self, events: list[Event]) -> set[str]:
        """Fold events in; returns the incidents whose timeline grew."""
        touched: set[str] = set()
        for event in events:
            incident = incident_of(event)
            if event.kind == ev.AID_REQUESTED and incident:
                self._aid_incident[str(event.data["id"])] = incident
            elif event.kind == ev.AID_ANSWERED:
                incident = self._aid_incident.get(str(event.data["id"]))
            if not incident:
                continue
            lines = self._lines.setdefault(incident, [])
            lines.append(TimelineEntry(event.ts, event.actor, event.kind, describe(event)))
            if len(lines) > self.MAX_PER_INCIDENT:
                del lines[0]
            touched.add(incident)
        return touched

    def of(self, incident: str) -> list[TimelineEntry]:
        """The incident's timeline, oldest first."""
        return list(self._lines.get(incident, ()))
