"""Signal priority for responding units: which traffic lights to ask, when, and the rules that keep crossings safe.

A unit en route to a qualifying call (`PriorityPolicy.qualifies`: its agency's incident types and priorities)
asks each signalised intersection on its route for priority on its approach, in an ETA window. The hub sends
the requests to the traffic controllers (SREM) and logs their answers (SSEM) as events; the picture holds one
`SignalPriority` per intersection: requested, granted, rejected or served.

The rules (pure: time is passed in, routes are passed in as `SignalPass` lists):
- at most one active request per intersection; a more important one (fire and EMS over police, configurable)
  takes it over, the other ends `preempted`; of equal importance the first keeps it;
- a request is only `granted` when the controller says so: unanswered it stays `requested`, and ends
  `timed_out` after `answer_timeout_s` (shown `unanswered`, not asked again on this run); a grant whose window
  has passed ends `timed_out` too;
- a re-send (`update`) when the ETA drifts by more than `drift_s`, which again waits for the controller;
- cancelled when the unit has passed (`passed`, shown as `served`), takes another way (`diverted`) or stops
  responding (`stood_down`);
- nothing asked, and whatever is held ended (`suspended`), inside an area where a supervisor suspended signal
  priority (`signal.suspend`: roadworks, a police operation, a controller fault).
Without a priority service nothing is requested and nothing assumed: units drive as they always did.

Events (docs/protocol.md): `signal.requested`, `signal.answered`, `signal.ended`, `signal.suspended`,
`signal.resumed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import shapely

from app.domain import events as ev
from app.domain.entities import Incident, Unit, UnitStatus
from app.domain.errors import Refusal
from app.domain.events import Draft, Event
from app.domain.signals import SignalPass

if TYPE_CHECKING:
    from app.domain.picture import Picture

#: SignalPriority.state: waiting for the controller, confirmed, refused, never answered, passed under priority
STATES = ("requested", "granted", "rejected", "unanswered", "served")
ACTIVE = frozenset({"requested", "granted"})
#: signal.ended reasons
END_REASONS = ("passed", "diverted", "stood_down", "timed_out", "preempted", "suspended")
#: what the controllers' answers (J2735 PrioritizationResponseStatus) mean for the picture
ANSWER_STATE = {"granted": "granted", "rejected": "rejected", "maxPresence": "rejected",
                "reserviceLocked": "rejected", "unknown": "requested", "requested": "requested",
                "processing": "requested", "watchOtherTraffic": "requested"}

#: unit kind -> the vehicle role a controller sees (J2735 BasicVehicleRole)
DEFAULT_ROLES = {"engine": "fire", "ladder": "fire", "tanker": "fire", "rescue": "fire", "hazmat": "fire",
                 "command": "fire", "ambulance": "ambulance", "medic": "ambulance", "patrol": "police",
                 "k9": "police"}
#: role -> J2735 RequestImportanceLevel (1..14, 14 the most important): fire and EMS over police
DEFAULT_IMPORTANCE = {"fire": 14, "ambulance": 14, "police": 10}


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """Who may ask for green, and how requests are timed. One per hub (configurable per agency).

    `max_priority`: agency -> the least urgent incident priority that qualifies (1 is the most urgent); an
    agency not named never asks. `types`: agency -> the incident types that qualify (absent: any type).
    """

    max_priority: dict[str, int] = field(default_factory=lambda: {"fire": 2, "medical": 1, "police": 1})
    types: dict[str, frozenset[str]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ROLES))
    importance: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_IMPORTANCE))
    lead_s: float = 8.0  # the window opens this long before the ETA (green must be up when the unit arrives)
    hold_s: float = 12.0  # and closes this long after it
    drift_s: float = 6.0  # re-send when the ETA moves by more than this
    answer_timeout_s: float = 10.0  # unanswered this long: the request ends, nothing assumed
    horizon_s: float = 300.0  # intersections further ahead than this are asked later, as the unit nears

    def role_of(self, unit: Unit) -> str | None:
        """The vehicle role of a unit, or None when its kind never asks (a boat, a command car)."""
        return self.roles.get(unit.kind)

    def qualifies(self, unit: Unit, incident: Incident) -> bool:
        """Whether `unit` on `incident` asks for priority: its agency's rule admits the incident, and its kind
        has a role."""
        worst = self.max_priority.get(unit.agency)
        allowed = self.types.get(unit.agency)
        return (worst is not None and incident.priority <= worst and self.role_of(unit) is not None
                and (allowed is None or incident.type in allowed))


@dataclass(slots=True)
class SignalPriority:
    """A unit's priority at one signalised intersection, as the picture holds it (one per intersection)."""

    intersection: int
    unit: str
    incident: str
    request: int  # the request id the controller knows it by (0..255)
    approach: int
    role: str
    importance: int
    eta_from: float  # Unix seconds: the window asked for
    eta_to: float
    state: str  # one of STATES
    requested_at: float
    answered_at: float | None = None


@dataclass(slots=True)
class SignalSuspension:
    """An area where a supervisor turned signal priority off (until resumed)."""

    id: str  # "SP-n"
    polygon: list[tuple[float, float]]  # [(lat, lon), ...]
    note: str
    by: str
    at: float

    def covers(self, lat: float, lon: float) -> bool:
        """Whether (lat, lon) lies inside (or on the edge of) the area."""
        return bool(shapely.Polygon([(x, y) for y, x in self.polygon]).covers(shapely.Point(lon, lat)))


def _suspended(p: Picture, e: Event) -> None:
    p._count(e.data["id"])
    p.signal_suspensions[e.data["id"]] = SignalSuspension(
        e.data["id"], [(pt[0], pt[1]) for pt in e.data["polygon"]], e.data.get("note", ""), e.actor, e.ts)


def _resumed(p: Picture, e: Event) -> None:
    p.signal_suspensions.pop(e.data["id"], None)


def _requested(p: Picture, e: Event) -> None:
    d = e.data
    p.signals[d["intersection"]] = SignalPriority(
        d["intersection"], d["unit"], d["incident"], d["request"], d["approach"], d["role"], d["importance"],
        d["eta_from"], d["eta_to"], "requested", e.ts,
    )


def _answered(p: Picture, e: Event) -> None:
    d = e.data
    held = p.signals.get(d["intersection"])
    if held is None or held.unit != d["unit"] or held.request != d["request"] or held.state not in ACTIVE:
        return  # an answer to a request already ended or taken over: the log keeps it, the picture does not
    held.state = ANSWER_STATE.get(d["status"], "requested")
    held.answered_at = e.ts


def _ended(p: Picture, e: Event) -> None:
    d = e.data
    held = p.signals.get(d["intersection"])
    if held is None or held.unit != d["unit"] or held.request != d["request"]:
        return
    if d["reason"] == "passed" and held.state == "granted":
        held.state = "served"
    elif d["reason"] == "timed_out" and held.state == "requested":
        held.state = "unanswered"  # kept (and not asked again on this run): the service is down or deaf
    else:
        del p.signals[d["intersection"]]


def release(p: Picture, unit: str) -> None:
    """Fold: a unit no longer en route (or retired) leaves nothing behind, its served and rejected crossings
    included (the log keeps them)."""
    for intersection in [i for i, s in p.signals.items() if s.unit == unit]:
        del p.signals[intersection]


SIGNAL_HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.SIGNAL_REQUESTED: _requested,
    ev.SIGNAL_ANSWERED: _answered,
    ev.SIGNAL_ENDED: _ended,
    ev.SIGNAL_SUSPENDED: _suspended,
    ev.SIGNAL_RESUMED: _resumed,
}


def held_by(picture: Picture, unit: str) -> dict[int, SignalPriority]:
    """The active priorities `unit` holds, by intersection."""
    return {i: s for i, s in picture.signals.items() if s.unit == unit and s.state in ACTIVE}


def _next_request_id(picture: Picture, unit: str, intersection: int) -> int:
    """A request id the intersection's controller has not seen lately from this unit (0..255, wrapping)."""
    held = picture.signals.get(intersection)
    return (held.request + 1) % 256 if held is not None and held.unit == unit else intersection % 256


def _ended_draft(s: SignalPriority, reason: str, audience: list[str] | None) -> Draft:
    assert reason in END_REASONS, reason
    return Draft(ev.SIGNAL_ENDED, {"intersection": s.intersection, "unit": s.unit, "request": s.request,
                                   "reason": reason}, audience)


def follow_route(picture: Picture, unit: Unit, passes: Iterable[SignalPass], now: float,
                 policy: PriorityPolicy) -> list[Draft]:
    """What to request, re-send and cancel for `unit` with the route ahead of it now (`passes`: the lights from
    its position to the incident, ETAs in seconds from now). Call it when the unit goes en route and on each
    new fix; an empty list of passes means it has arrived or no route is known.

    A unit not en route on a qualifying incident asks for nothing and gives up what it holds (`stood_down`).
    """
    incident = picture.incidents.get(unit.incident or "")
    held = held_by(picture, unit.id)
    audience = picture.incident_audience(incident.id) if incident is not None else None
    role = policy.role_of(unit)
    if (incident is None or role is None or unit.status != UnitStatus.EN_ROUTE
            or not policy.qualifies(unit, incident)):
        return [_ended_draft(s, "stood_down", audience) for s in held.values()]
    importance = policy.importance.get(role, 1)
    drafts: list[Draft] = []
    ahead: dict[int, SignalPass] = {}
    suspended: set[int] = set()
    for signal_pass in passes:
        if any(area.covers(signal_pass.lat, signal_pass.lon) for area in picture.signal_suspensions.values()):
            suspended.add(signal_pass.intersection)
        elif signal_pass.eta_s <= policy.horizon_s:
            ahead.setdefault(signal_pass.intersection, signal_pass)
    for intersection in sorted(suspended & held.keys()):
        drafts.append(_ended_draft(held.pop(intersection), "suspended", audience))
    # A light no longer ahead was passed when it came before one still ahead (the unit is further along the same
    # way, however fast it drove); with none still ahead, when it was due about now. Otherwise: diverted.
    still_ahead = [s.eta_from for i, s in held.items() if i in ahead]
    for intersection, s in held.items():
        if intersection in ahead:
            continue
        due = s.eta_from + policy.lead_s <= now + policy.drift_s
        passed = s.eta_from < min(still_ahead) if still_ahead else due
        drafts.append(_ended_draft(s, "passed" if passed else "diverted", audience))
    for intersection, signal_pass in ahead.items():
        eta = now + signal_pass.eta_s
        mine = held.get(intersection)
        if mine is not None:
            if abs((mine.eta_from + policy.lead_s) - eta) <= policy.drift_s and mine.approach == signal_pass.approach:
                continue
            drafts.append(_request_draft(mine.request, "update", unit, incident, signal_pass, eta, role,
                                         importance, policy, audience))
            continue
        other = picture.signals.get(intersection)
        if other is not None and other.unit == unit.id:
            continue  # rejected or unanswered (asked once, not again on every fix), or served
        if other is not None and other.state in ACTIVE:
            if other.importance >= importance:
                continue  # equal or more important traffic holds this crossing: drive through without priority
            drafts.append(_ended_draft(other, "preempted", picture.incident_audience(other.incident)))
        drafts.append(_request_draft(_next_request_id(picture, unit.id, intersection), "request", unit, incident,
                                     signal_pass, eta, role, importance, policy, audience))
    return drafts


def _request_draft(request: int, kind: str, unit: Unit, incident: Incident, signal_pass: SignalPass, eta: float,
                   role: str, importance: int, policy: PriorityPolicy, audience: list[str] | None) -> Draft:
    return Draft(ev.SIGNAL_REQUESTED, {
        "intersection": signal_pass.intersection, "unit": unit.id, "incident": incident.id, "request": request,
        "kind": kind, "approach": signal_pass.approach, "role": role, "importance": importance,
        "eta_from": round(eta - policy.lead_s, 1), "eta_to": round(eta + policy.hold_s, 1),
    }, audience)


def expire(picture: Picture, now: float, policy: PriorityPolicy) -> list[Draft]:
    """Requests the controller never answered within `answer_timeout_s` of their (re-)sending, and grants whose
    window is over: both end `timed_out`, so nothing stands on a green nobody confirmed or uses."""
    drafts = []
    for s in picture.signals.values():
        unanswered = s.state == "requested" and now - s.requested_at > policy.answer_timeout_s
        outlived = s.state == "granted" and now > s.eta_to
        if unanswered or outlived:
            drafts.append(_ended_draft(s, "timed_out", picture.incident_audience(s.incident)))
    return drafts


def answer(picture: Picture, intersection: int, unit: str, request: int, status: str) -> list[Draft]:
    """The `signal.answered` event for a controller's status of a request the picture holds; none for an answer
    to nothing we asked (a stale, forged or misrouted status changes nothing)."""
    held = picture.signals.get(intersection)
    if (held is None or held.unit != unit or held.request != request or held.state not in ACTIVE
            or status not in ANSWER_STATE):
        return []
    return [Draft(ev.SIGNAL_ANSWERED, {"intersection": intersection, "unit": unit, "request": request,
                                       "status": status}, picture.incident_audience(held.incident))]


def suspend(picture: Picture, polygon: list[tuple[float, float]], note: str) -> list[Draft]:
    """A supervisor turns signal priority off inside `polygon` (already checked: 3+ corners on Earth)."""
    return [Draft(ev.SIGNAL_SUSPENDED, {"id": picture.next_id("SP"), "polygon": [list(p) for p in polygon],
                                        "note": note})]


def resume(picture: Picture, suspension: str) -> list[Draft]:
    """A supervisor turns it on again; None when there is no such suspension."""
    if suspension not in picture.signal_suspensions:
        raise Refusal("unknown_suspension", f"there is no signal priority suspension {suspension}")
    return [Draft(ev.SIGNAL_RESUMED, {"id": suspension})]
