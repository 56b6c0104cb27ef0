"""Per-incident timelines: the hub's history of each incident, said in one dispatcher's line, extended live.

An incident's timeline is its history as the hub keeps it (`history.incident`, picked by
`app.domain.incident_history`), fetched when the console first shows the incident (or again after a snapshot
replaced the picture), then extended by the live events that the same rules count as part of it. So a console
that joins mid-shift shows the same timeline as one connected since the start, drones' part and mutual aid
included. An incident created while the console watches needs no fetch: its history starts live. Where the hub
will not give a history (an incident another agency restricted, seen live by a supervisor), the timeline is what
the console saw live.

No Qt here: the detail panel renders these lines; tests read them directly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from app.domain import events as ev
from app.domain.events import Event
from app.domain.incident_history import IncidentHistory
from app.domain.narrative import describe
from app.domain.narrative import type_label as type_label  # the console's panels import it from here


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an incident's timeline."""

    at: float
    actor: str
    kind: str
    text: str


def entry(event: Event) -> TimelineEntry:
    """The event as a timeline line."""
    return TimelineEntry(event.ts, event.actor, event.kind, describe(event))


@dataclass(slots=True)
class _Timeline:
    about: IncidentHistory
    lines: deque[TimelineEntry]
    last_seq: int = 0
    #: Pages of the hub's history still arriving (None: the timeline is complete, or live only).
    fetched: list[Event] | None = field(default=None)

    def take(self, event: Event) -> bool:
        if event.seq <= self.last_seq or not self.about(event):
            return False
        self.lines.append(entry(event))
        self.last_seq = event.seq
        return True


class Timelines:
    """Timelines of the incidents the console shows (see the module docstring); reset with the picture."""

    MAX_PER_INCIDENT = 500
    #: Live events kept for an incident whose history is on its way (they may be newer than the hub's answer).
    RECENT_KEPT = 5000

    def __init__(self) -> None:
        self._timelines: dict[str, _Timeline] = {}
        self._recent: deque[Event] = deque(maxlen=self.RECENT_KEPT)

    def _new(self, incident: str) -> _Timeline:
        timeline = _Timeline(IncidentHistory(incident), deque(maxlen=self.MAX_PER_INCIDENT))
        self._timelines[incident] = timeline
        return timeline

    def clear(self) -> None:
        """Forget everything (the hub sent a whole new snapshot: live events may have been skipped)."""
        self._timelines.clear()
        self._recent.clear()

    def wanted(self, incident: str) -> bool:
        """Whether the incident's history must be asked of the hub (not held, not on its way)."""
        return incident not in self._timelines

    def fetching(self, incident: str) -> None:
        """The incident's history has been asked for; its pages follow (`page`)."""
        self._new(incident).fetched = []

    def awaiting(self, incident: str) -> bool:
        """Whether pages of the incident's history are still expected."""
        timeline = self._timelines.get(incident)
        return timeline is not None and timeline.fetched is not None

    def page(self, incident: str, events: list[Event], last: bool) -> bool:
        """A page of the incident's history from the hub; on the last, the timeline is its history plus the
        live events since. Returns whether the timeline is complete."""
        timeline = self._timelines.get(incident)
        if timeline is None or timeline.fetched is None:
            return False  # cleared (a snapshot) since it was asked: asked again when shown
        timeline.fetched += events
        if not last:
            return False
        history, timeline.fetched = timeline.fetched, None
        for event in history:
            timeline.about(event)  # the rules' state: which units and drones work it, its aid requests
            timeline.lines.append(entry(event))
        timeline.last_seq = history[-1].seq if history else 0
        for event in self._recent:
            timeline.take(event)
        return True

    def unavailable(self, incident: str) -> None:
        """The hub gives no history of the incident (restricted from this user's review, or offline): the
        timeline is what the console sees live from now on."""
        timeline = self._timelines.get(incident)
        if timeline is not None and timeline.fetched is not None:
            timeline.fetched = None
            timeline.last_seq = self._recent[-1].seq if self._recent else 0
            for event in self._recent:
                if event.seq <= timeline.last_seq:
                    timeline.about(event)  # follow which units and drones work it, without lines

    def add(self, events: list[Event]) -> set[str]:
        """Fold live events in; returns the incidents whose timeline grew."""
        touched: set[str] = set()
        for event in events:
            self._recent.append(event)
            if event.kind == ev.INCIDENT_CREATED and str(event.data.get("id")) not in self._timelines:
                self._new(str(event.data["id"]))  # seen from its start: its history is live
            for incident, timeline in self._timelines.items():
                if timeline.fetched is None and timeline.take(event):
                    touched.add(incident)
        return touched

    def of(self, incident: str) -> list[TimelineEntry]:
        """The incident's timeline, oldest first (at most MAX_PER_INCIDENT lines, the newest)."""
        timeline = self._timelines.get(incident)
        return list(timeline.lines) if timeline is not None and timeline.fetched is None else []
