"""Per-incident timelines: each event that concerns an incident, said in one dispatcher's line.

No Qt here: the detail panel renders these lines; tests read them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import events as ev
from app.domain.events import Event
from app.domain.narrative import describe, incident_of
from app.domain.narrative import type_label as type_label  # the console's panels import it from here


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an incident's timeline."""

    at: float
    actor: str
    kind: str
    text: str


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
            elif event.kind in (ev.AID_ANSWERED, ev.AID_CANCELLED):
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
