"""Who may see what: the one rule that decides how each event looks to each viewer.

Every path by which the picture leaves the hub goes through `seen_by` (or, for a whole picture,
`Picture.visible_to`, which agrees with it): live fan-out, resume tails, snapshots, review replays and the
hub's own outputs (CoT out, CAP out follow the public's viewer). See docs/security.md, "Who may see what".

An event reaches a viewer in one of three ways (`Sight`):

* not at all: its `audience` leaves the viewer out (a restricted incident's own events, a chat line on
  another agency's channel);
* whole: the usual case;
* in part: the event is about something everyone sees (a unit, a drone, an incident that is being
  restricted) but names a restricted incident. Such an event carries, under `RESTRICTED_TO`, the agencies
  that may see that incident once the event applies; a viewer outside them gets the event with the
  incident taken out (`unit.assigned`/`unit.status`/`drone.assigned`: `incident` null; `incident.updated`
  that restricts: only `id` and `restricted`, so that picture drops the incident and learns nothing new).

Pure: no I/O, and the answer depends only on the viewer and the event, so a tail read from the log years
later is redacted exactly as the live event was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from typing import Any

from app.domain import events as ev
from app.domain.agencies import Actor
from app.domain.authority import ALL_AGENCIES
from app.domain.events import Event
from app.domain.picture import Viewer

#: The data field of an event that names a restricted incident while going to a wider audience: the agencies
#: that may see that incident (supervisors see it too).
RESTRICTED_TO = "restricted_to"


class Sight(Enum):
    """How much of an event a viewer may see."""

    NONE = "none"
    PARTIAL = "partial"
    WHOLE = "whole"


def _without_incident(data: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in data.items() if k != RESTRICTED_TO}, "incident": None}


def _restriction_only(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": data["id"], "restricted": True}


#: Event kind -> its partial form, for kinds that may carry `RESTRICTED_TO`.
_PARTIAL: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    ev.UNIT_ASSIGNED: _without_incident,
    ev.UNIT_STATUS: _without_incident,
    ev.DRONE_ASSIGNED: _without_incident,
    ev.INCIDENT_UPDATED: _restriction_only,
}


def history_viewer(actor: Actor) -> Viewer:
    """The viewer a user reviews the log's history as (the hub's `history.*` queries): their own agency.

    Live, a supervisor watches every agency's restricted calls as they happen (`viewer_of`); the history holds
    every restricted call's whole past (callers, notes, chat), readable from any workstation, so it is read on a
    need-to-know basis: an agency's supervisor reviews the calls their agency may see (its own, those it
    worked through mutual aid or a supervisor's dispatch, and every public one). Only a control-room account
    of every agency (`*`) reviews everything. See docs/security.md, "Review through the hub".
    """
    return Viewer(actor.agency, supervisor=actor.agency == ALL_AGENCIES)


def sight(viewer: Viewer, event: Event) -> Sight:
    """How much of `event` the viewer may see."""
    if not viewer.may_see(event.audience):
        return Sight.NONE
    restricted_to = event.data.get(RESTRICTED_TO)
    if restricted_to is None or viewer.may_see(restricted_to):
        return Sight.WHOLE
    # A kind with no partial form is kept from the viewer whole rather than shown with what it hides.
    return Sight.PARTIAL if event.kind in _PARTIAL else Sight.NONE


def seen_by_everyone(event: Event) -> bool:
    """Whether every viewer sees the event whole (the common case: the fan-out encodes it once for all)."""
    return event.audience is None and event.data.get(RESTRICTED_TO) is None


def partial(event: Event) -> Event:
    """The event as viewers outside its `RESTRICTED_TO` see it."""
    return replace(event, data=_PARTIAL[event.kind](event.data))


def seen_by(viewer: Viewer, event: Event) -> Event | None:
    """The event as `viewer` may see it, or None when it may not see it at all."""
    how = sight(viewer, event)
    if how is Sight.NONE:
        return None
    return event if how is Sight.WHOLE else partial(event)
