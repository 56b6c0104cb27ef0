"""The dispatch rules: given the picture and a command, the events it produces or a refusal with a reason.

`decide` is pure: the hub supplies the time, and nothing here touches the picture; the hub applies the
returned drafts through the fold once they are sequenced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from dataclasses import asdict
from typing import Any

from app.domain import commands as c
from app.domain import events as ev
from app.domain import signal_priority, triage
from app.domain.agencies import UNIT_KINDS, Actor, Role
from app.domain.authority import acts_for, check_acts_for, check_role
from app.domain.checks import MAX_SHORT_TEXT, check_expires, check_time
from app.domain.checks import check_incident_type as _incident_type
from app.domain.checks import check_priority as _priority
from app.domain.checks import check_text as _text
from app.domain.entities import ALERT_VALUES, AidRequest, Incident, IncidentStatus, Unit, UnitStatus
from app.domain.errors import Refusal
from app.domain.events import Draft
from app.domain.geo import check_lat_lon, check_polygon, fast_distance_m
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.lifecycle import (
    INCIDENT_MANUAL,
    INCIDENT_PROGRESS,
    UNIT_DRIVES_INCIDENT,
    UNIT_TRANSITIONS,
)
from app.domain.location import PRECISIONS
from app.domain.picture import Picture, viewer_of
from app.domain.plausibility import GNSS_WARNINGS, Finding, Fix, check, is_device, is_replay, is_sybil, limits_of
from app.domain.security_alerts import alert_drafts
from app.domain.visibility import RESTRICTED_TO


def decide(picture: Picture, actor: Actor, name: str, args: Any, now: float,
           agencies: frozenset[str] | None = None, judge_fixes: bool = True) -> list[Draft]:
    """Check `args` of command `name` against the picture and the actor's rights; return the events.

    `agencies` are the agency codes the hub knows (to refuse aid requests to nobody). Without `judge_fixes`
    intrusion detection raises nothing (a sped-up simulation, whose units outrun their fix times).
    Raises `Refusal`.
    """
    check_role(actor, name)
    handler = _RULES[name]
    return handler(_Context(picture, actor, now, agencies, judge_fixes), args)


class _Context:
    __slots__ = ("actor", "agencies", "judge_fixes", "judged", "now", "picture", "viewer")

    def __init__(self, picture: Picture, actor: Actor, now: float, agencies: frozenset[str] | None,
                 judge_fixes: bool = True) -> None:
        self.picture = picture
        self.actor = actor
        self.now = now
        self.agencies = agencies
        self.viewer = viewer_of(actor)
        #: Whether intrusion detection runs (the hub may turn it off), and judges this actor's fixes (a device's).
        self.judge_fixes = judge_fixes
        self.judged = judge_fixes and is_device(actor.user)

    def incident(self, incident_id: str) -> Incident:
        incident = self.picture.incidents.get(str(incident_id))
        # A restricted incident the actor may not see is reported as unknown: its existence is not leaked.
        if incident is None or not self.viewer.may_see(self.picture.incident_audience(incident.id)):
            raise Refusal("unknown_incident", f"there is no incident {incident_id}")
        return incident

    def open_incident(self, incident_id: str) -> Incident:
        incident = self.incident(incident_id)
        if incident.status == IncidentStatus.CLOSED:
            raise Refusal("incident_closed", f"incident {incident.id} is closed")
        return incident

    def involved(self, incident: Incident) -> None:
        if not any(acts_for(self.actor, a) for a in incident.agencies):
            raise Refusal("forbidden", f"{self.actor.agency} is not involved in incident {incident.id}; "
                                       "ask for mutual aid to be requested")

    def unit(self, unit_id: str) -> Unit:
        unit = self.picture.units.get(unit_id)
        if unit is None:
            raise Refusal("unknown_unit", f"there is no unit {unit_id}")
        return unit

    def own_unit(self, unit_id: str) -> Unit:
        unit = self.unit(unit_id)
        check_acts_for(self.actor, f"unit {unit.id}", unit.agency)
        return unit

    def may_release(self, unit: Unit) -> bool:
        """Whether the actor may release `unit` from its incident: its own agency's dispatchers, the agency that
        owns the incident (it decides when its call is over), supervisors and all-agency feeds."""
        incident = self.picture.incidents.get(unit.incident) if unit.incident else None
        return acts_for(self.actor, unit.agency) or (incident is not None and acts_for(self.actor, incident.owner))

    def new_callsign(self, what: str, raw: str, taken: Container[str], agency: str) -> str:
        """Check a callsign being registered (a unit's, a drone's) for `agency`: well formed, new, and the
        actor's to register. Returns it cleaned."""
        callsign = _text(raw, f"{what} id", 16)
        if not callsign.replace("-", "").replace("_", "").isalnum():
            raise Refusal("bad_id", f"{what} id {callsign!r} may hold only letters, digits, - and _")
        if callsign in taken:
            raise Refusal("duplicate", f"{what} {callsign} already exists")
        if self.agencies is not None and agency not in self.agencies:
            raise Refusal("unknown_agency", f"there is no agency {agency!r}")
        if not acts_for(self.actor, agency):
            raise Refusal("forbidden", f"{self.actor.agency} may not register {what}s for {agency}")
        return callsign

    def scoped(self, kind: str, data: dict[str, Any], incident_id: str) -> Draft:
        return Draft(kind, data, self.picture.incident_audience(incident_id))

    def naming(self, data: dict[str, Any], incident: Incident | None, joining: str | None = None
               ) -> dict[str, Any]:
        """`data` of an event everyone receives that names `incident`: a restricted incident is marked with the
        agencies that may see it (with `joining`, an agency the event adds), so the others get it redacted
        (`app.domain.visibility`)."""
        if incident is None or not incident.restricted:
            return data
        return {**data, RESTRICTED_TO: sorted({*incident.agencies, *([joining] if joining else [])})}

    def fix_drafts(self, draft: Draft, key: str, kind: str, reported_speed: float | None, unit: str | None = None,
                   drone: str | None = None, gnss: str | None = None) -> list[Draft]:
        """A position's event (`draft`, with lat, lon, t) after intrusion detection: marked `suspect` with the
        rule it breaks, followed by a `security.alert` (see `app.domain.plausibility`). `gnss`: the device's own
        warning about its fix (a key of `GNSS_WARNINGS`; anything else is refused as `bad_gnss`)."""
        if gnss is not None and gnss not in GNSS_WARNINGS:
            raise Refusal("bad_gnss", f"gnss must be one of {', '.join(sorted(GNSS_WARNINGS))}, got {gnss[:20]!r}")
        if not self.judged:
            return [draft]  # people and signed-in feeds are trusted accounts; their times are often the hub's
        d = draft.data
        fix = Fix(d["lat"], d["lon"], d["t"], self.actor.user, self.now, reported_speed, gnss)
        finding = check(self.picture.tracks.get(key), fix, limits_of(kind))
        if finding is None:
            return [draft]
        d["suspect"] = finding.rule
        return [draft, *self.security_alert(finding, d, unit=unit, drone=drone)]

    def replayed(self, key: str, lat: float, lon: float, t: float, unit: str | None = None,
                 drone: str | None = None) -> list[Draft]:
        """The alert for a fix older than the track's last by more than a datagram's delay (none if the
        track raised it lately): the fix is not applied, whatever comes back."""
        finding = is_replay(self.picture.tracks.get(key), t)
        if finding is None or not self.judged:
            return []
        return self.security_alert(finding, {"lat": lat, "lon": lon, "t": t}, unit=unit, drone=drone)

    def security_alert(self, finding: Finding, fix: dict[str, Any], unit: str | None = None,
                       drone: str | None = None, device: str | None = None) -> list[Draft]:
        """A `security.alert` for `finding` about a fix sent by `device` (default: this actor; see
        `alert_drafts`)."""
        evidence = {**finding.evidence, "lat": fix["lat"], "lon": fix["lon"]}
        return alert_drafts(self.picture, Finding(finding.rule, evidence), device=device or self.actor.user,
                            at=fix["t"], now=self.now, unit=unit, drone=drone)

    def rule(self, name: str, args: Any) -> list[Draft]:
        """Another command's rule, in this context: for commands built on others (candidate.accept)."""
        return _RULES[name](self, args)


def _create_incident(cx: _Context, a: c.CreateIncident) -> list[Draft]:
    itype = INCIDENT_TYPES.get(_incident_type(a.type))
    assert itype is not None
    lat, lon = check_lat_lon(a.lat, a.lon)
    owner = cx.actor.agency
    if a.owner is not None and a.owner != owner:
        if not acts_for(cx.actor, a.owner):
            raise Refusal("forbidden", f"a {cx.actor.role} of {owner} may not open calls for {a.owner}")
        owner = a.owner
    if owner == "*":
        owner = itype.agency
    incident_id = str(cx.picture.next_incident_number)
    data = {
        "id": incident_id, "type": itype.code,
        "priority": _priority(a.priority if a.priority is not None else itype.priority),
        "lat": lat, "lon": lon, "address": _text(a.address, "address", MAX_SHORT_TEXT, required=False),
        "caller": _text(a.caller, "caller", MAX_SHORT_TEXT, required=False),
        "notes": _text(a.notes, "notes", required=False), "owner": owner, "agencies": [owner],
        "restricted": a.restricted, "location_precision": _precision(a.location_precision),
    }
    return [Draft(ev.INCIDENT_CREATED, data, [owner] if a.restricted else None)]


def _precision(value: str) -> str:
    if value not in PRECISIONS:
        raise Refusal("bad_precision", f"location_precision must be one of {', '.join(PRECISIONS)}")
    return value


def _update_incident(cx: _Context, a: c.UpdateIncident) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    cx.involved(incident)
    changes: dict[str, Any] = {}
    if a.type is not None:
        changes["type"] = _incident_type(a.type)
    if a.priority is not None:
        changes["priority"] = _priority(a.priority)
    if (a.lat is None) != (a.lon is None):
        raise Refusal("bad_coordinates", "lat and lon must be changed together")
    if a.lat is not None and a.lon is not None:
        changes["lat"], changes["lon"] = check_lat_lon(a.lat, a.lon)
    if a.address is not None:
        changes["address"] = _text(a.address, "address", MAX_SHORT_TEXT, required=False)
    if a.caller is not None:
        changes["caller"] = _text(a.caller, "caller", MAX_SHORT_TEXT, required=False)
    if a.restricted is not None and a.restricted != incident.restricted:
        changes["restricted"] = a.restricted
    if a.location_precision is not None:
        changes["location_precision"] = _precision(a.location_precision)
    elif "address" in changes or "lat" in changes:
        # A new address or point that nobody verified: the old precision no longer describes it.
        changes["location_precision"] = "unverified"
    changes = {k: v for k, v in changes.items() if getattr(incident, k) != v}
    if not changes:
        raise Refusal("no_change", f"incident {incident.id} already has those values")
    data = {"id": incident.id, **changes}
    if changes.get("restricted"):
        # Restricting is announced to everyone who could see it, so their pictures drop it; the agencies
        # losing sight get only that (the other changes in the same command are not theirs to see).
        return [Draft(ev.INCIDENT_UPDATED, {**data, RESTRICTED_TO: sorted(incident.agencies)})]
    if "restricted" in changes:
        # Made public: the other agencies never had it, so they get it whole.
        return [Draft(ev.INCIDENT_UPDATED, data), Draft(ev.INCIDENT_SHARED, _shared(cx.picture, incident, changes))]
    return [Draft(ev.INCIDENT_UPDATED, data, cx.picture.incident_audience(incident.id))]


def _shared(picture: Picture, incident: Incident, changes: dict[str, Any]) -> dict[str, Any]:
    """The data of an `incident.shared` event: the incident as it will be once `changes` apply, and what
    names it that an agency without sight of it was never sent (aid requests, chat on its channel) or was
    sent without the incident (its units' and drones' assignment, triage proposals)."""
    whole = asdict(incident)
    whole.update(changes)
    channel = f"incident:{incident.id}"
    return {
        "incident": whole,
        "aid_requests": [asdict(r) for r in picture.aid_requests.values() if r.incident == incident.id],
        "messages": [asdict(m) for m in picture.messages if m.channel == channel],
        "drones": sorted(d.id for d in picture.drones.values() if d.incident == incident.id),
        "proposals": [{"candidate": k.id, "distance_m": m.distance_m} for k in picture.candidates.values()
                      for m in k.proposals if m.incident == incident.id],
    }


def _set_incident_status(cx: _Context, a: c.SetIncidentStatus) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    cx.involved(incident)
    try:
        status = IncidentStatus(a.status)
    except ValueError:
        raise Refusal("bad_status", f"{a.status!r} is not an incident status") from None
    if status == IncidentStatus.CLOSED:
        raise Refusal("bad_status", "use incident.close, with a disposition, to close an incident")
    if status not in INCIDENT_MANUAL[incident.status]:
        raise Refusal("bad_transition",
                      f"incident {incident.id} cannot go from {incident.status} to {status}")
    return [cx.scoped(ev.INCIDENT_STATUS, {"id": incident.id, "status": status.value}, incident.id)]


def _close_incident(cx: _Context, a: c.CloseIncident) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    cx.involved(incident)
    disposition = _text(a.disposition, "disposition", MAX_SHORT_TEXT)
    if incident.units:
        busy = ", ".join(f"{u} ({cx.picture.units[u].status})" for u in incident.units)
        raise Refusal("units_committed", f"incident {incident.id} still has units committed: {busy}; "
                                         f"clear them first (CLA {incident.id} <disposition> releases them all)")
    return closing_drafts(cx, incident, disposition)


def closing_drafts(cx: _Context, incident: Incident, disposition: str) -> list[Draft]:
    """The incident's close, and the end of its pending aid requests: nobody may accept help for a call that
    is over (one was accepted 14 minutes after its incident closed)."""
    data = {"id": incident.id, "status": IncidentStatus.CLOSED.value, "disposition": disposition}
    drafts = [cx.scoped(ev.INCIDENT_STATUS, data, incident.id)]
    for request in cx.picture.aid_requests.values():
        if request.incident == incident.id and request.state == "pending":
            drafts.append(aid_cancelled(cx, request, f"incident {incident.id} closed"))
    return drafts


def aid_cancelled(cx: _Context, request: AidRequest, reason: str) -> Draft:
    """The `aid.cancelled` event for `request`, for the same audience as its request."""
    audience = cx.picture.incident_audience(request.incident)
    return Draft(ev.AID_CANCELLED, {"id": request.id, "reason": reason},
                 sorted({*audience, request.to_agency}) if audience else None)


def _reopen_incident(cx: _Context, a: c.ReopenIncident) -> list[Draft]:
    incident = cx.incident(a.incident)
    cx.involved(incident)
    if incident.status != IncidentStatus.CLOSED:
        raise Refusal("bad_transition", f"incident {incident.id} is not closed")
    drafts = [cx.scoped(ev.INCIDENT_STATUS, {"id": incident.id, "status": IncidentStatus.NEW.value},
                        incident.id)]
    if a.reason.strip():
        drafts.append(cx.scoped(ev.INCIDENT_NOTE, {"id": incident.id, "text": "Reopened: " + _text(
            a.reason, "reason")}, incident.id))
    return drafts


def _add_note(cx: _Context, a: c.AddNote) -> list[Draft]:
    incident = cx.incident(a.incident)
    cx.involved(incident)
    return [cx.scoped(ev.INCIDENT_NOTE, {"id": incident.id, "text": _text(a.text, "note")}, incident.id)]


def _register_unit(cx: _Context, a: c.RegisterUnit) -> list[Draft]:
    unit_id = cx.new_callsign("unit", a.id, cx.picture.units, a.agency)
    if a.kind not in UNIT_KINDS:
        raise Refusal("unknown_kind", f"{a.kind!r} is not a unit kind")
    data: dict[str, Any] = {"id": unit_id, "agency": a.agency, "kind": a.kind,
                            "station": _text(a.station, "station", MAX_SHORT_TEXT, required=False)}
    if a.lat is not None or a.lon is not None:
        data["lat"], data["lon"] = check_lat_lon(a.lat, a.lon)  # type: ignore[arg-type]
    sybil = is_sybil(cx.picture.registrars.get(cx.actor.user), cx.now) if cx.judged else None
    if sybil is None:
        return [Draft(ev.UNIT_REGISTERED, data)]
    data["suspect"] = sybil.rule
    return [Draft(ev.UNIT_REGISTERED, data), *cx.security_alert(sybil, {"lat": a.lat, "lon": a.lon, "t": cx.now},
                                                                unit=unit_id)]


def _retire_unit(cx: _Context, a: c.RetireUnit) -> list[Draft]:
    unit = cx.unit(a.unit)
    if unit.incident is not None:
        raise Refusal("unit_busy", f"unit {unit.id} is committed to incident {unit.incident}: clear it first")
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.UNIT_RETIRED, {"unit": unit.id, "reason": reason})]


def _drive_incident(cx: _Context, incident: Incident, unit_status: UnitStatus) -> list[Draft]:
    """The incident status a unit's progress implies, if it moves the incident forward."""
    target = UNIT_DRIVES_INCIDENT.get(unit_status)
    if target is None or incident.status == IncidentStatus.CLOSED:
        return []
    if INCIDENT_PROGRESS.index(target) <= INCIDENT_PROGRESS.index(incident.status):
        return []
    return [cx.scoped(ev.INCIDENT_STATUS, {"id": incident.id, "status": target.value}, incident.id)]


def _assign_unit(cx: _Context, a: c.AssignUnit) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    unit = cx.own_unit(a.unit)
    if unit.status == UnitStatus.OUT_OF_SERVICE:
        raise Refusal("unit_out_of_service", f"unit {unit.id} is out of service")
    if unit.status != UnitStatus.AVAILABLE:
        where = f" on incident {unit.incident}" if unit.incident else ""
        raise Refusal("unit_busy", f"unit {unit.id} is {unit.status}{where} (DIV diverts it, STK stacks its "
                                   "next assignment)")
    check_may_join(cx, unit, incident)
    return assignment_drafts(cx, unit, incident)


def check_may_join(cx: _Context, unit: Unit, incident: Incident) -> None:
    """Refuse sending `unit` to `incident` when its agency is not working it (supervisors may)."""
    if unit.agency not in incident.agencies and cx.actor.role != Role.SUPERVISOR:
        raise Refusal("aid_required", f"{unit.agency} is not involved in incident {incident.id}: "
                                      f"request mutual aid from {unit.agency} first")


def assignment_drafts(cx: _Context, unit: Unit, incident: Incident) -> list[Draft]:
    """The events of `unit` being dispatched to `incident` (checked by the caller: divert and stacking use it)."""
    joining = unit.agency not in incident.agencies
    data = cx.naming({"unit": unit.id, "incident": incident.id}, incident, unit.agency)
    drafts = [Draft(ev.UNIT_ASSIGNED, data), *_drive_incident(cx, incident, UnitStatus.DISPATCHED)]
    if joining and incident.restricted:
        # A supervisor sent another agency's unit to a restricted call: that agency now works it, and its
        # consoles never had it, so they get it whole, as it is once these events apply.
        changes: dict[str, Any] = {"units": [*incident.units, unit.id],
                                   "history_units": [*incident.history_units, unit.id],
                                   "agencies": [*incident.agencies, unit.agency]}
        if len(drafts) > 1:
            changes.update(status=drafts[1].data["status"], status_at=cx.now)
        drafts.append(Draft(ev.INCIDENT_SHARED, _shared(cx.picture, incident, changes), [unit.agency]))
    return drafts


def _set_unit_status(cx: _Context, a: c.SetUnitStatus) -> list[Draft]:
    unit = cx.unit(a.unit)
    try:
        status = UnitStatus(a.status)
    except ValueError:
        raise Refusal("bad_status", f"{a.status!r} is not a unit status") from None
    # Releasing a unit from an incident is also the incident owner's call; every other change is the unit's own.
    if not (acts_for(cx.actor, unit.agency) or (status == UnitStatus.AVAILABLE and cx.may_release(unit))):
        owner = cx.picture.incidents[unit.incident].owner if unit.incident in cx.picture.incidents else None
        also = f" (or the owner of incident {unit.incident}, {owner}, to release it)" if owner else ""
        raise Refusal("forbidden", f"unit {unit.id} belongs to {unit.agency}, not {cx.actor.agency}: only "
                                   f"{unit.agency}{also} or a supervisor may change it")
    if status == unit.status:
        raise Refusal("no_change", f"unit {unit.id} is already {status}")
    if status == UnitStatus.DISPATCHED:
        raise Refusal("bad_transition", f"assign unit {unit.id} to an incident to dispatch it")
    if status not in UNIT_TRANSITIONS[unit.status]:
        raise Refusal("bad_transition", f"unit {unit.id} cannot go from {unit.status} to {status}")
    incident = cx.picture.incidents.get(unit.incident) if unit.incident else None
    if status == UnitStatus.AVAILABLE:
        return release_drafts(cx, unit, frozenset({unit.id}))
    data = {"unit": unit.id, "status": status.value, "previous": unit.status.value, "incident": unit.incident}
    drafts = [Draft(ev.UNIT_STATUS, cx.naming(data, incident)), *_on_scene_far(cx, unit, status, incident)]
    if incident is not None:
        drafts += _drive_incident(cx, incident, status)
    return drafts


def release_drafts(cx: _Context, unit: Unit, leaving: frozenset[str], requeue: bool = True) -> list[Draft]:
    """`unit` made available and released from its incident, then sent on to its stacked next assignment if it
    has one. `leaving`: every unit this command releases from the same incident; with `requeue`, the last of
    them cancelled before anyone arrived puts the call back in the queue as new."""
    incident = cx.picture.incidents.get(unit.incident) if unit.incident else None
    data = {"unit": unit.id, "status": UnitStatus.AVAILABLE.value, "previous": unit.status.value,
            "incident": unit.incident}
    drafts = [Draft(ev.UNIT_STATUS, cx.naming(data, incident))]
    if incident is not None and requeue:
        drafts += requeue_drafts(cx, incident, leaving)
    return drafts + stacked_drafts(cx, unit)


def requeue_drafts(cx: _Context, incident: Incident, leaving: frozenset[str]) -> list[Draft]:
    """The call back in the queue as new when the last of its units (`leaving` now) goes before anyone arrived."""
    if [u for u in incident.units if u not in leaving] or incident.status not in (
            IncidentStatus.DISPATCHED, IncidentStatus.EN_ROUTE):
        return []
    return [cx.scoped(ev.INCIDENT_STATUS, {"id": incident.id, "status": "new"}, incident.id)]


def stacked_drafts(cx: _Context, unit: Unit) -> list[Draft]:
    """A unit becoming available goes on to its stacked assignment; a stack whose incident closed meanwhile is
    withdrawn."""
    if unit.next_incident is None:
        return []
    following = cx.picture.incidents.get(unit.next_incident)
    if following is not None and following.status != IncidentStatus.CLOSED:
        return assignment_drafts(cx, unit, following)
    return [Draft(ev.UNIT_STACKED, {"unit": unit.id, "incident": None},
                  cx.picture.incident_audience(unit.next_incident))]


#: A unit said to be on scene whose recent fix is further than this from the incident: CAD and GPS disagree.
ON_SCENE_FAR_M = 1000.0
#: A fix older than this says nothing about where the unit is now.
ON_SCENE_FIX_AGE_S = 300.0


def _on_scene_far(cx: _Context, unit: Unit, status: UnitStatus, incident: Incident | None) -> list[Draft]:
    """Cross-source disagreement: CAD puts the unit on scene, its own recent fix puts it far away."""
    if not cx.judge_fixes:
        return []
    track = cx.picture.tracks.get(unit.id)
    if status != UnitStatus.ON_SCENE or incident is None or track is None \
            or cx.now - track.received > ON_SCENE_FIX_AGE_S:
        return []
    distance = fast_distance_m((track.lat, track.lon), (incident.lat, incident.lon))
    if distance <= ON_SCENE_FAR_M:
        return []
    finding = Finding("on_scene_far", {"incident": incident.id, "distance_m": round(distance),
                                       "limit_m": ON_SCENE_FAR_M, "on_scene_by": cx.actor.user})
    return cx.security_alert(finding, {"lat": track.lat, "lon": track.lon, "t": track.t}, unit=unit.id,
                             device=track.source)


def _report_position(cx: _Context, a: c.ReportPosition) -> list[Draft]:
    unit = cx.own_unit(a.unit)
    lat, lon = check_lat_lon(a.lat, a.lon)
    t = cx.now if a.t is None else check_time(a.t, cx.now, f"position of {unit.id}")
    if unit.position_at is not None and t <= unit.position_at:
        replay = cx.replayed(unit.id, lat, lon, t, unit=unit.id)
        if replay:
            return replay
        raise Refusal("stale_position", f"position of {unit.id} at {t} is not newer than {unit.position_at}")
    data: dict[str, Any] = {"unit": unit.id, "lat": lat, "lon": lon, "t": t}
    if a.heading is not None:
        if not (math.isfinite(a.heading) and 0 <= a.heading <= 360):
            raise Refusal("bad_heading", f"heading must be 0..360 degrees, got {a.heading}")
        data["heading"] = float(a.heading)
    if a.speed is not None:
        if not (math.isfinite(a.speed) and 0 <= a.speed < 400):
            raise Refusal("bad_speed", f"speed must be 0..400 m/s, got {a.speed}")
        data["speed"] = float(a.speed)
    return cx.fix_drafts(Draft(ev.UNIT_POSITION, data), unit.id, unit.kind, data.get("speed"), unit=unit.id,
                         gnss=a.gnss)


def _request_aid(cx: _Context, a: c.RequestAid) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    cx.involved(incident)
    if cx.agencies is not None and a.agency not in cx.agencies:
        raise Refusal("unknown_agency", f"there is no agency {a.agency!r}")
    if a.agency in incident.agencies:
        raise Refusal("already_involved", f"{a.agency} is already working incident {incident.id}")
    if any(r.incident == incident.id and r.to_agency == a.agency and r.state == "pending"
           for r in cx.picture.aid_requests.values()):
        raise Refusal("duplicate", f"a request to {a.agency} for incident {incident.id} is already pending")
    from_agency = incident.owner if cx.actor.agency == "*" or cx.actor.role == Role.SUPERVISOR \
        else cx.actor.agency
    data = {"id": cx.picture.next_id("AR"), "incident": incident.id, "from_agency": from_agency,
            "to_agency": a.agency, "note": _text(a.note, "note", required=False)}
    audience = cx.picture.incident_audience(incident.id)
    return [Draft(ev.AID_REQUESTED, data, sorted({*audience, a.agency}) if audience else None)]


def _answer_aid(cx: _Context, a: c.AnswerAid) -> list[Draft]:
    request = cx.picture.aid_requests.get(a.request)
    if request is None:
        raise Refusal("unknown_request", f"there is no aid request {a.request}")
    if not acts_for(cx.actor, request.to_agency):
        raise Refusal("forbidden", f"request {request.id} is for {request.to_agency} to answer")
    if request.state != "pending":
        raise Refusal("already_answered", f"request {request.id} was already {request.state}")
    incident = cx.picture.incidents.get(request.incident)
    if incident is None or incident.status == IncidentStatus.CLOSED:
        raise Refusal("incident_closed", f"incident {request.incident} is closed: request {request.id} ended "
                                         "with it")
    data = {"id": request.id, "accepted": a.accept, "note": _text(a.note, "note", required=False)}
    audience = cx.picture.incident_audience(request.incident)
    drafts = [Draft(ev.AID_ANSWERED, data, sorted({*audience, request.to_agency}) if audience else None)]
    if a.accept and audience and request.to_agency not in audience:
        # Aid accepted on a restricted incident: the aiding agency saw none of it until now.
        agencies = [*incident.agencies, request.to_agency]
        drafts.append(Draft(ev.INCIDENT_SHARED, _shared(cx.picture, incident, {"agencies": agencies}),
                            [request.to_agency]))
    return drafts


def _send_message(cx: _Context, a: c.SendMessage) -> list[Draft]:
    scope, _, name = a.channel.partition(":")
    if scope == "agency":
        if not acts_for(cx.actor, name):
            raise Refusal("forbidden", f"{cx.actor.agency} may not post on {a.channel}")
    elif scope == "incident":
        cx.incident(name)
    elif a.channel != "all":
        raise Refusal("unknown_channel", f"{a.channel!r} is not a channel (all, agency:X, incident:N)")
    data = {"id": cx.picture.next_id("MSG"), "channel": a.channel, "agency": cx.actor.agency,
            "text": _text(a.text, "message")}
    return [Draft(ev.MESSAGE_POSTED, data, cx.picture.channel_audience(a.channel))]


def _create_zone(cx: _Context, a: c.CreateZone) -> list[Draft]:
    data = {"id": cx.picture.next_id("Z"), "name": _text(a.name, "zone name", MAX_SHORT_TEXT),
            "kind": _text(a.kind, "zone kind", 40), "polygon": [list(p) for p in check_polygon(a.polygon)],
            "agency": cx.actor.agency}
    return [Draft(ev.ZONE_CREATED, data)]


def _suspend_signal_priority(cx: _Context, a: c.SuspendSignalPriority) -> list[Draft]:
    return signal_priority.suspend(cx.picture, check_polygon(a.polygon), _text(a.note, "note", MAX_SHORT_TEXT))


def _resume_signal_priority(cx: _Context, a: c.ResumeSignalPriority) -> list[Draft]:
    return signal_priority.resume(cx.picture, a.suspension)


def _remove_zone(cx: _Context, a: c.RemoveZone) -> list[Draft]:
    zone = cx.picture.zones.get(a.zone)
    if zone is None:
        raise Refusal("unknown_zone", f"there is no zone {a.zone}")
    # A dispatcher removes its own agency's zones; another agency's cordon is not theirs to lift.
    if not acts_for(cx.actor, zone.agency or "-"):
        raise Refusal("forbidden", f"zone {zone.id} was drawn by {zone.agency or 'an earlier version'}; "
                                   f"a {cx.actor.role} of {cx.actor.agency} may not remove it")
    return [Draft(ev.ZONE_REMOVED, {"id": zone.id})]


def _issue_alert(cx: _Context, a: c.IssueAlert) -> list[Draft]:
    if not a.areas:
        raise Refusal("missing_field", "an alert needs at least one area")
    areas: list[dict[str, Any]] = []
    for area in a.areas:
        if area.polygon:
            shape: dict[str, Any] = {"polygon": [list(p) for p in check_polygon(area.polygon)]}
        elif area.circle and len(area.circle) == 3:
            lat, lon = check_lat_lon(area.circle[0], area.circle[1])
            # Radius 0 is a point (CAP publishers use it for "at this address"), so 0 is allowed as the text says.
            if not (math.isfinite(area.circle[2]) and 0 <= area.circle[2] <= 1_000_000):
                raise Refusal("bad_geometry", "circle radius must be 0..1,000 km")
            shape = {"circle": [lat, lon, float(area.circle[2])]}
        elif area.polygon is None and area.circle is None and area.desc.strip():
            shape = {}  # a named area only (CAP: areaDesc and geocodes, no shape): listed, not drawn
        else:
            raise Refusal("bad_geometry", "an area is a polygon, a circle [lat, lon, radius_m], or a named area "
                                          "(desc only)")
        if area.desc.strip():
            shape["desc"] = _text(area.desc, "area description", MAX_SHORT_TEXT)
        areas.append(shape)
    alert_id = _text(a.id, "alert id", MAX_SHORT_TEXT) if a.id is not None else cx.picture.next_id("AL")
    existing = cx.picture.alerts.get(alert_id)
    if existing is not None and existing.cancelled:
        raise Refusal("alert_cancelled", f"alert {alert_id} was cancelled and cannot be updated")
    if existing is not None:
        _may_change_alert(cx, existing.id, existing.issued_by, "update")
    for field_name, allowed in ALERT_VALUES.items():
        if getattr(a, field_name) not in allowed:
            raise Refusal("bad_value", f"{field_name} must be one of {', '.join(allowed)} (CAP 1.2), "
                                       f"got {getattr(a, field_name)!r}")
    data = {"id": alert_id, "headline": _text(a.headline, "headline", MAX_SHORT_TEXT),
            "event": _text(a.event, "event", MAX_SHORT_TEXT, required=False), "severity": a.severity,
            "urgency": a.urgency, "certainty": a.certainty, "category": a.category, "areas": areas,
            "expires": None if a.expires is None else check_expires(a.expires, cx.now),
            "description": _text(a.description, "description", required=False),
            "instruction": _text(a.instruction, "instruction", required=False),
            "source": _text(a.source, "source", MAX_SHORT_TEXT, required=False)}
    return [Draft(ev.ALERT_ISSUED, data)]


def _cancel_alert(cx: _Context, a: c.CancelAlert) -> list[Draft]:
    alert = cx.picture.alerts.get(a.alert)
    if alert is None:
        raise Refusal("unknown_alert", f"there is no alert {a.alert}")
    if alert.cancelled:
        raise Refusal("already_cancelled", f"alert {a.alert} is already cancelled")
    _may_change_alert(cx, alert.id, alert.issued_by, "cancel")
    return [Draft(ev.ALERT_CANCELLED, {"id": alert.id, "reason": a.reason})]


def _may_change_alert(cx: _Context, alert_id: str, issued_by: str, what: str) -> None:
    """A feed updates and cancels only the alerts it issued (a CAP Update or Cancel through the same feed
    account); an alert a supervisor issued is changed only by supervisors."""
    if cx.actor.role == Role.FEED and issued_by != cx.actor.user:
        raise Refusal("forbidden", f"alert {alert_id} was issued by {issued_by}; a feed may {what} only "
                                   "the alerts it issued")


_RULES: dict[str, Callable[[_Context, Any], list[Draft]]] = {
    "incident.create": _create_incident,
    "incident.update": _update_incident,
    "incident.status": _set_incident_status,
    "incident.close": _close_incident,
    "incident.reopen": _reopen_incident,
    "incident.note": _add_note,
    "unit.register": _register_unit,
    "unit.assign": _assign_unit,
    "unit.status": _set_unit_status,
    "unit.position": _report_position,
    "unit.retire": _retire_unit,
    "aid.request": _request_aid,
    "aid.answer": _answer_aid,
    "message.send": _send_message,
    "zone.create": _create_zone,
    "signal.suspend": _suspend_signal_priority,
    "signal.resume": _resume_signal_priority,
    "zone.remove": _remove_zone,
    "alert.issue": _issue_alert,
    "alert.cancel": _cancel_alert,
    **triage.RULES,
}

# The camera, drone and device commands' rules live in their own modules, which add them to _RULES when imported.
from app.domain import camera_rules as _camera_rules  # noqa: E402,F401
from app.domain import device_rules as _device_rules  # noqa: E402,F401
from app.domain import drone_rules as _drone_rules  # noqa: E402,F401
from app.domain import security_rules as _security_rules  # noqa: E402,F401
from app.domain import unit_operations as _unit_operations  # noqa: E402,F401
