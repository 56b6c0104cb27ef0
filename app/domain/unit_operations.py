"""The dispatcher's unit operations and call lifecycle beyond dispatch and close: divert a committed unit, stack
its next assignment, release every unit and close in one step, check on a unit (its timer), hold a pending call,
withdraw an aid request. Registered into `decide`'s table when imported (decide imports it last).

Who may release units of other agencies: a unit's own agency, the agency that owns the incident it is
committed to (the owner decides when its call is over), and supervisors (`_Context.may_release`).
"""

from __future__ import annotations

from app.domain import commands as c
from app.domain import events as ev
from app.domain.agencies import Role
from app.domain.authority import acts_for
from app.domain.decide import (
    _RULES,
    MAX_SHORT_TEXT,
    _Context,
    _text,
    aid_cancelled,
    assignment_drafts,
    check_may_join,
    closing_drafts,
    release_drafts,
    requeue_drafts,
)
from app.domain.entities import COMMITTED, IncidentStatus, UnitStatus
from app.domain.errors import Refusal
from app.domain.events import Draft


def _divert(cx: _Context, a: c.DivertUnit) -> list[Draft]:
    unit = cx.own_unit(a.unit)
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT)
    target = cx.open_incident(a.incident)
    if unit.status not in COMMITTED or unit.incident is None:
        raise Refusal("unit_not_committed", f"unit {unit.id} is {unit.status}, not committed: dispatch it with "
                                            f"D {unit.id} {target.id}")
    if unit.incident == target.id:
        raise Refusal("no_change", f"unit {unit.id} is already on incident {target.id}")
    if unit.status in (UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL):
        raise Refusal("unit_busy", f"unit {unit.id} is {unit.status}: it cannot leave its patient")
    current = cx.picture.incidents.get(unit.incident)
    # A diversion takes a unit from a call that needed it: only for a more urgent one, unless a supervisor says so.
    if current is not None and target.priority >= current.priority and cx.actor.role != Role.SUPERVISOR:
        raise Refusal("not_more_urgent", f"incident {target.id} (P{target.priority}) is not more urgent than "
                                         f"incident {current.id} (P{current.priority}); a supervisor may divert "
                                         "anyway")
    check_may_join(cx, unit, target)
    drafts = assignment_drafts(cx, unit, target)
    if current is not None:
        drafts += requeue_drafts(cx, current, frozenset({unit.id}))
        drafts.append(cx.scoped(ev.INCIDENT_NOTE, {"id": current.id, "text": f"{unit.id} diverted to incident "
                                                   f"{target.id}: {reason}"}, current.id))
    origin = f" from incident {current.id}" if current is not None else ""
    drafts.append(cx.scoped(ev.INCIDENT_NOTE, {"id": target.id, "text": f"{unit.id} diverted{origin}: {reason}"},
                            target.id))
    return drafts


def _stack(cx: _Context, a: c.StackAssignment) -> list[Draft]:
    unit = cx.own_unit(a.unit)
    if a.incident is None:
        if unit.next_incident is None:
            raise Refusal("no_change", f"unit {unit.id} has no next assignment")
        return [Draft(ev.UNIT_STACKED, {"unit": unit.id, "incident": None},
                      cx.picture.incident_audience(unit.next_incident))]
    incident = cx.open_incident(a.incident)
    if unit.status == UnitStatus.AVAILABLE:
        raise Refusal("unit_available", f"unit {unit.id} is available: dispatch it with D {unit.id} {incident.id}")
    if unit.status not in COMMITTED:
        raise Refusal("unit_out_of_service", f"unit {unit.id} is {unit.status}")
    if unit.incident == incident.id:
        raise Refusal("no_change", f"unit {unit.id} is already on incident {incident.id}")
    if unit.next_incident == incident.id:
        raise Refusal("no_change", f"incident {incident.id} is already unit {unit.id}'s next assignment")
    check_may_join(cx, unit, incident)
    return [Draft(ev.UNIT_STACKED, {"unit": unit.id, "incident": incident.id},
                  cx.picture.incident_audience(incident.id))]


def _clear(cx: _Context, a: c.ClearIncident) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    cx.involved(incident)
    disposition = _text(a.disposition, "disposition", MAX_SHORT_TEXT)
    units = [cx.picture.units[u] for u in incident.units]
    others = [u for u in units if not cx.may_release(u)]
    if others:
        names = ", ".join(f"{u.id} ({u.agency})" for u in others)
        raise Refusal("forbidden", f"{cx.actor.agency} may not release {names} from incident {incident.id}: only "
                                   f"their agencies, the incident's owner ({incident.owner}) or a supervisor may")
    leaving = frozenset(incident.units)
    drafts = [d for u in units for d in release_drafts(cx, u, leaving, requeue=False)]
    return drafts + closing_drafts(cx, incident, disposition)


def _check_unit(cx: _Context, a: c.CheckUnit) -> list[Draft]:
    unit = cx.unit(a.unit)
    if not (acts_for(cx.actor, unit.agency) or cx.may_release(unit)):
        raise Refusal("forbidden", f"unit {unit.id} belongs to {unit.agency}: {cx.actor.agency} may not check it")
    note = _text(a.note, "note", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.UNIT_CHECKED, {"unit": unit.id, "status": unit.status.value, "note": note})]


def _hold(cx: _Context, a: c.HoldIncident) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    cx.involved(incident)
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT, required=False)
    if a.held and incident.status != IncidentStatus.NEW:
        raise Refusal("bad_transition", f"incident {incident.id} is {incident.status}: only a call not yet "
                                        "dispatched can be held")
    if a.held == incident.held:
        raise Refusal("no_change", f"incident {incident.id} is {'already' if a.held else 'not'} held")
    return [cx.scoped(ev.INCIDENT_HELD, {"id": incident.id, "held": a.held, "reason": reason}, incident.id)]


def _cancel_aid(cx: _Context, a: c.CancelAid) -> list[Draft]:
    request = cx.picture.aid_requests.get(a.request)
    if request is None or not (acts_for(cx.actor, request.from_agency) or acts_for(cx.actor, request.to_agency)):
        raise Refusal("unknown_request", f"there is no aid request {a.request}")
    if not acts_for(cx.actor, request.from_agency):
        raise Refusal("forbidden", f"request {request.id} is {request.from_agency}'s to withdraw; decline it "
                                   f"with DEC {request.id}")
    if request.state != "pending":
        raise Refusal("already_answered", f"request {request.id} was already {request.state}")
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT, required=False)
    return [aid_cancelled(cx, request, reason or "withdrawn")]


_RULES.update({
    "unit.divert": _divert,
    "unit.stack": _stack,
    "unit.check": _check_unit,
    "incident.clear": _clear,
    "incident.hold": _hold,
    "aid.cancel": _cancel_aid,
})
