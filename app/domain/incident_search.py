"""Finding incidents: the pending-call queue and a search over every incident a picture holds (closed ones
included: the picture is the fold of the whole log). Pure; the time is passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.entities import Incident, IncidentStatus
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.picture import Picture, Viewer

#: "2h", "30m", "2d", "90s" -> seconds.
_SPAN = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SearchError(ValueError):
    """A search the dispatcher must correct; the message says how."""


@dataclass(frozen=True, slots=True)
class Search:
    """What to look for; every given part must match."""

    number: str = ""
    words: tuple[str, ...] = ()  # each must appear in the address (or caller), case-insensitively
    type: str = ""  # a type code, or part of a type's label
    unit: str = ""  # a unit that was ever assigned
    since: float | None = None  # created at or after (Unix seconds)
    until: float | None = None  # created at or before


def _span(value: str, key: str) -> float:
    match = _SPAN.match(value.lower())
    if match is None:
        raise SearchError(f"{key}:{value} is not a time span; write e.g. {key}:2h, {key}:30m or {key}:3d")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def parse_search(text: str, now: float) -> Search:
    """`1042`, `mannerheimintie 5 type:structure_fire unit:E12 since:2h until:30m` (times are ago from `now`)."""
    words: list[str] = []
    found: dict[str, str] = {}
    number = ""
    for token in text.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and key in ("type", "unit", "since", "until"):
            if not value:
                raise SearchError(f"{key}: needs a value")
            found[key] = value
        elif token.isdigit() and len(token) >= 4 and not number and not words:
            number = token
        else:
            words.append(token.lower())
    if not (number or words or found):
        raise SearchError("search for an incident number, address words, type:, unit:, since: or until:")
    return Search(number=number, words=tuple(words), type=found.get("type", "").lower(),
                  unit=found.get("unit", "").upper(),
                  since=now - _span(found["since"], "since") if "since" in found else None,
                  until=now - _span(found["until"], "until") if "until" in found else None)


def matches(incident: Incident, search: Search) -> bool:
    """Whether `incident` fits every part of `search`."""
    if search.number and incident.id != search.number:
        return False
    text = f"{incident.address} {incident.caller}".lower()
    if any(word not in text for word in search.words):
        return False
    if search.type:
        itype = INCIDENT_TYPES.get(incident.type)
        label = itype.label.lower() if itype else ""
        if search.type != incident.type and search.type not in label:
            return False
    if search.unit and search.unit not in incident.history_units:
        return False
    if search.since is not None and incident.created_at < search.since:
        return False
    return search.until is None or incident.created_at <= search.until


def search(picture: Picture, wanted: Search, limit: int = 50, viewer: Viewer | None = None) -> list[Incident]:
    """The matching incidents (those `viewer` may see, if given), newest first, at most `limit`."""
    found = [i for i in picture.incidents.values() if matches(i, wanted)
             and (viewer is None or viewer.may_see(picture.incident_audience(i.id)))]
    return sorted(found, key=lambda i: (-i.created_at, -int(i.id) if i.id.isdigit() else 0))[:limit]


#: The fields of an incident a search answer carries (not its notes or attachments: open it for those).
SUMMARY_FIELDS = ("id", "type", "priority", "address", "status", "owner", "agencies", "created_at", "closed_at",
                  "disposition", "history_units", "held", "hold_reason", "location_precision", "lat", "lon")


def summary(incident: Incident) -> dict[str, object]:
    """An incident as a search answer lists it."""
    return {name: getattr(incident, name) for name in SUMMARY_FIELDS}


def pending_calls(picture: Picture) -> list[Incident]:
    """Calls not yet dispatched, in the order to work them: most urgent first, oldest first; held calls last."""
    waiting = [i for i in picture.incidents.values() if i.status == IncidentStatus.NEW]
    return sorted(waiting, key=lambda i: (i.held, i.priority, i.created_at))
