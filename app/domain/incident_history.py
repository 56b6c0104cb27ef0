"""Which events make up one incident's history, decided event by event in sequence order.

Shared by the hub's `history.incident` query and the offline `Replay`, so an incident's history reads the same
from any console and from the file: its own events (created, updated, status, held, notes, snapshots attached,
shared), the assignments, status changes, checks, stacked next assignments and signal priority of its units while
they work it (and a divert away from it), its drones' part (assigned, released, look requests and their
acknowledgements while on it), its chat channel, its mutual-aid requests, answers and cancellations, the triage
reports proposed for, accepted as or merged into it, and the alerts issued or cancelled while it was open.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.domain import events as ev
from app.domain.events import Event
from app.domain.narrative import incident_of
from app.domain.picture import Viewer
from app.domain.visibility import seen_by

#: Unit statuses that free a unit from its incident.
RELEASED = ("available", "out_of_service")

_CANDIDATE_LINKS = (ev.CANDIDATE_PROPOSED, ev.CANDIDATE_ACCEPTED, ev.CANDIDATE_MERGED)
_DRONE_LOOKS = (ev.DRONE_LOOK_REQUESTED, ev.DRONE_LOOK_ACKNOWLEDGED)
#: What happens to a unit while it works an incident: checks on it, its green lights on the way.
_UNIT_WORK = (ev.UNIT_CHECKED, ev.SIGNAL_REQUESTED, ev.SIGNAL_ANSWERED, ev.SIGNAL_ENDED)


class IncidentHistory:
    """Called with each event in sequence order (from the incident's creation on): whether it belongs to the
    history of incident `incident_id`."""

    def __init__(self, incident_id: str) -> None:
        self.id = incident_id
        self.units: set[str] = set()  # units assigned to it now
        self.drones: set[str] = set()  # drones assigned to it now
        self.aid: set[str] = set()  # its aid request ids
        self.closed_at: float | None = None  # when it was closed (None while open): alerts after do not count

    def __call__(self, e: Event) -> bool:
        d = e.data
        kind = e.kind
        if kind.startswith("incident."):
            if incident_of(e) != self.id:
                return False
            if kind == ev.INCIDENT_STATUS:
                self.closed_at = e.ts if d.get("status") == "closed" else None
            return True
        if kind == ev.UNIT_ASSIGNED:
            was_ours = d["unit"] in self.units
            # A unit diverted away from this incident is part of its history too.
            return _follow(self.units, d["unit"], d.get("incident") == self.id) or was_ours
        if kind == ev.UNIT_STATUS:
            if d["unit"] not in self.units:
                return False
            if d["status"] in RELEASED:
                self.units.discard(d["unit"])
            return True
        if kind == ev.UNIT_STACKED:
            return d.get("incident") == self.id
        if kind in _UNIT_WORK:
            return d["unit"] in self.units
        if kind == ev.DRONE_ASSIGNED:
            ours = d.get("incident") == self.id
            was_ours = d["drone"] in self.drones
            _follow(self.drones, d["drone"], ours)
            # A release (no incident) of a drone that was on this incident is part of its history.
            return ours or (was_ours and not d.get("incident"))
        if kind in _DRONE_LOOKS:
            return d["drone"] in self.drones
        if kind == ev.AID_REQUESTED:
            if d["incident"] == self.id:
                self.aid.add(d["id"])
                return True
            return False
        if kind in (ev.AID_ANSWERED, ev.AID_CANCELLED):
            return d["id"] in self.aid
        if kind == ev.MESSAGE_POSTED:
            return d["channel"] == f"incident:{self.id}"
        if kind in _CANDIDATE_LINKS:
            return d.get("incident") == self.id
        if kind in (ev.ALERT_ISSUED, ev.ALERT_CANCELLED):
            return self.closed_at is None
        return False


def _follow(working: set[str], who: str, ours: bool) -> bool:
    """Note whether a unit or drone now works this incident; returns `ours`."""
    if ours:
        working.add(who)
    else:
        working.discard(who)
    return ours


def seen_history(incident_id: str, events: Iterable[Event], viewer: Viewer | None) -> Iterator[Event]:
    """The history of incident `incident_id` in `events` (in sequence order, from its creation on) as `viewer`
    received it (None: everything, as stored): each event in the form the one visibility rule gives the viewer,
    picked by the rules above applied to those forms. That is the timeline a console of that viewer connected
    throughout built live, so a late joiner gets the same, and the history never ties to the incident an event
    the viewer was sent without it (a unit sent to the call before the viewer's agency could see it). Nothing
    is yielded unless the viewer was shown an event naming the incident (public alerts alone do not make an
    incident the viewer may not see exist for it).
    """
    about = IncidentHistory(incident_id)
    held: list[Event] | None = []  # what comes before the first event naming the incident (None: it came)
    for event in events:
        seen = event if viewer is None else seen_by(viewer, event)
        if seen is None or not about(seen):
            continue
        if held is not None:
            if incident_of(seen) != incident_id:
                held.append(seen)
                continue
            yield from held
            held = None
        yield seen
