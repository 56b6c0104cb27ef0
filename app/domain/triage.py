"""Triage: reports from sensors, smart-camera analytics and the public-safety app become incident candidates.

A report (`report.submit`) is not an incident: it waits in the triage queue as a `Candidate` until a
dispatcher accepts it (a new incident, made by the same rule as `incident.create`), merges it into an open
incident (a note on that incident), or dismisses it with a reason. Many reports are about something the floor
already has, so `report.submit` proposes a merge when an open incident of the same type is close in space and
time (`MERGE_RADIUS_M`, `MERGE_WINDOW_S`).

Candidates are seen by every agency (a report has no owner until someone takes it), except a report submitted
for one agency (`agency`: a resident's report, whose position only the dispatchers who would handle it may
see): it and its decision reach only that agency and supervisors, and to anyone else it does not exist. A
restricted incident is
never named to an agency that cannot see it: the public proposal only considers unrestricted incidents, and a
nearer restricted one is proposed in a separate `candidate.proposed` event scoped to that incident's agencies.
Merging into a restricted incident tells everyone that the candidate was merged, but not where.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.domain import commands as c
from app.domain import events as ev
from app.domain.checks import (
    MAX_SHORT_TEXT,
    MAX_TEXT,
    check_incident_type,
    check_priority,
    check_text,
    check_time,
)
from app.domain.entities import Incident, IncidentStatus
from app.domain.errors import Refusal
from app.domain.events import Draft, Event
from app.domain.geo import check_lat_lon, fast_distance_m

if TYPE_CHECKING:
    from app.domain.decide import _Context
    from app.domain.picture import Picture, Viewer

#: Where reports come from.
SOURCE_KINDS = ("sensor", "camera", "app")
#: A report this close to an open incident of the same type is proposed as a duplicate. A phone's position in
#: a city street is good to tens of metres, a resident reports from where they stand (across the street, the
#: next block), and an analytics camera places what it sees somewhere in its field of view: 300 m takes in
#: those, while two separate incidents of the same type closer than that within the window are rare.
MERGE_RADIUS_M = 300.0
#: ... and reported within this long of the incident being opened (either side: a sensor may fire before the
#: first phone call). Later reports are as likely a new event at the same place and deserve a fresh look.
MERGE_WINDOW_S = 30 * 60.0
MAX_SOURCE_ID = 64
MAX_URL = 500
URL_SCHEMES = ("http://", "https://", "rtsp://")
#: Decided candidates kept in the picture (the oldest go first; the log keeps them all). Sensors can report
#: far more than people do, and every console holds the picture.
DECIDED_KEPT = 1000


class CandidateState(StrEnum):
    """Where a candidate stands in triage."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    MERGED = "merged"
    DISMISSED = "dismissed"


@dataclass(slots=True)
class MergeProposal:
    """An open incident a candidate is likely a duplicate of, and how far apart they are in metres."""

    incident: str
    distance_m: float


@dataclass(slots=True)
class Candidate:
    """A report waiting for a dispatcher's decision, and that decision once made."""

    id: str  # "C-n"
    source: str  # sensor | camera | app
    source_id: str
    type: str
    lat: float
    lon: float
    reported_at: float  # when the source observed it
    received_at: float  # when the hub took it
    received_by: str  # the feed account it came through
    priority: int | None = None
    address: str = ""
    text: str = ""
    media_url: str = ""
    state: CandidateState = CandidateState.PENDING
    proposals: list[MergeProposal] = field(default_factory=list)  # as this picture's viewer may see them
    incident: str | None = None  # the incident it became or was merged into (None if restricted)
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str = ""
    agency: str | None = None  # the only agency that sees it (besides supervisors); None: every agency

    @property
    def audience(self) -> list[str] | None:
        """Who may see the candidate (`Viewer.may_see`)."""
        return None if self.agency is None else [self.agency]

    def proposed_merge(self) -> MergeProposal | None:
        """The nearest incident proposed for merge, or None."""
        return min(self.proposals, key=lambda p: (p.distance_m, p.incident), default=None)


def merge_matches(incidents: Iterable[Incident], type_: str, lat: float, lon: float, at: float
                  ) -> list[tuple[MergeProposal, Incident]]:
    """Open incidents of `type_` within MERGE_RADIUS_M and MERGE_WINDOW_S of a report, nearest first."""
    matches = []
    for incident in incidents:
        if incident.type != type_ or incident.status == IncidentStatus.CLOSED:
            continue
        apart = abs(at - incident.created_at)
        if apart > MERGE_WINDOW_S:
            continue
        distance = fast_distance_m((lat, lon), (incident.lat, incident.lon))
        if distance <= MERGE_RADIUS_M:
            matches.append((MergeProposal(incident.id, round(distance, 1)), incident))
    matches.sort(key=lambda m: (m[0].distance_m, _number(m[1].id)))
    return matches


def _number(incident_id: str) -> tuple[int, str]:
    return (int(incident_id), "") if incident_id.isdigit() else (0, incident_id)


# -- rules (registered in app.domain.decide) -----------------------------------------------------------------


def _submit_report(cx: _Context, a: c.SubmitReport) -> list[Draft]:
    if a.source not in SOURCE_KINDS:
        raise Refusal("unknown_source", f"source must be one of {', '.join(SOURCE_KINDS)}, got {a.source!r}")
    source_id = check_text(a.source_id, "source id", MAX_SOURCE_ID)
    type_ = check_incident_type(a.type)
    lat, lon = check_lat_lon(a.lat, a.lon)
    media_url = check_text(a.media_url, "media url", MAX_URL, required=False)
    if media_url and not media_url.lower().startswith(URL_SCHEMES):
        raise Refusal("bad_url", f"media url must start with {', '.join(URL_SCHEMES)}")
    agency = a.agency
    if agency is not None and cx.agencies is not None and agency not in cx.agencies:
        raise Refusal("unknown_agency", f"there is no agency {agency!r} to report to")
    # Without the source's own time the report is as old as the event that carries it (its `ts`).
    reported_at = cx.now if a.t is None else check_time(a.t, cx.now, "report")
    candidate_id = cx.picture.next_id("C")
    matches = merge_matches(cx.picture.incidents.values(), type_, lat, lon, reported_at)
    public = next((p for p, incident in matches if not incident.restricted), None)
    data: dict[str, Any] = {
        "id": candidate_id, "source": a.source, "source_id": source_id, "type": type_,
        "priority": None if a.priority is None else check_priority(a.priority), "lat": lat, "lon": lon,
        "address": check_text(a.address, "address", MAX_SHORT_TEXT, required=False),
        "text": check_text(a.text, "text", required=False), "media_url": media_url,
        "proposed_merge": None if public is None else _proposal_data(public),
    }
    if a.t is not None:
        data["reported_at"] = reported_at
    if agency is not None:
        data["agency"] = agency
    drafts = [Draft(ev.CANDIDATE_CREATED, data, None if agency is None else [agency])]
    if matches and matches[0][1].restricted:
        nearest, incident = matches[0]
        drafts.append(cx.scoped(ev.CANDIDATE_PROPOSED, {"id": candidate_id, **_proposal_data(nearest)},
                                incident.id))
    return drafts


def _proposal_data(proposal: MergeProposal) -> dict[str, Any]:
    return {"incident": proposal.incident, "distance_m": proposal.distance_m}


def _pending(cx: _Context, candidate_id: str) -> Candidate:
    candidate = cx.picture.candidates.get(candidate_id)
    if candidate is None or not cx.viewer.may_see(candidate.audience):  # one for another agency: not there
        raise Refusal("unknown_candidate", f"there is no candidate {candidate_id}")
    if candidate.state != CandidateState.PENDING:
        raise Refusal("already_decided", f"candidate {candidate.id} was already {candidate.state} "
                                         f"by {candidate.decided_by}")
    return candidate


def _summary(candidate: Candidate, lead: str = "Report") -> str:
    text = f"{lead} {candidate.id} from {candidate.source} {candidate.source_id}"
    if candidate.text:
        text += f": {candidate.text}"
    if candidate.media_url:
        text += f" [{candidate.media_url}]"
    return text[:MAX_TEXT]


def _accept(cx: _Context, a: c.AcceptCandidate) -> list[Draft]:
    candidate = _pending(cx, a.candidate)
    drafts = cx.rule("incident.create", c.CreateIncident(
        type=a.type or candidate.type, lat=candidate.lat, lon=candidate.lon,
        priority=a.priority if a.priority is not None else candidate.priority, address=candidate.address,
        caller=f"{candidate.source} {candidate.source_id}", notes=_summary(candidate)))
    incident_id = drafts[0].data["id"]
    return [*drafts, Draft(ev.CANDIDATE_ACCEPTED, {"id": candidate.id, "incident": incident_id},
                           candidate.audience)]


def _merge(cx: _Context, a: c.MergeCandidate) -> list[Draft]:
    candidate = _pending(cx, a.candidate)
    incident = cx.open_incident(a.incident)
    drafts = cx.rule("incident.note", c.AddNote(incident.id, _summary(candidate, "Merged report")))
    # Everyone sees the candidate leave the queue; only those who may see the incident learn which one.
    link = None if incident.restricted else incident.id
    return [*drafts, Draft(ev.CANDIDATE_MERGED, {"id": candidate.id, "incident": link}, candidate.audience)]


def _dismiss(cx: _Context, a: c.DismissCandidate) -> list[Draft]:
    candidate = _pending(cx, a.candidate)
    reason = check_text(a.reason, "reason", MAX_SHORT_TEXT)
    return [Draft(ev.CANDIDATE_DISMISSED, {"id": candidate.id, "reason": reason}, candidate.audience)]


RULES: dict[str, Callable[[Any, Any], list[Draft]]] = {
    "report.submit": _submit_report,
    "candidate.accept": _accept,
    "candidate.merge": _merge,
    "candidate.dismiss": _dismiss,
}


# -- the fold (registered in app.domain.picture) -------------------------------------------------------------


def _created(p: Picture, e: Event) -> None:
    d = e.data
    p._count(d["id"])
    proposal = d.get("proposed_merge")
    p.candidates[d["id"]] = Candidate(
        id=d["id"], source=d["source"], source_id=d["source_id"], type=d["type"], lat=d["lat"], lon=d["lon"],
        reported_at=d.get("reported_at", e.ts), received_at=e.ts, received_by=e.actor, priority=d.get("priority"),
        address=d.get("address", ""), text=d.get("text", ""), media_url=d.get("media_url", ""),
        proposals=[MergeProposal(**proposal)] if proposal else [], agency=d.get("agency"),
    )


def _proposed(p: Picture, e: Event) -> None:
    candidate = p.candidates.get(e.data["id"])
    if candidate is not None:
        candidate.proposals.append(MergeProposal(e.data["incident"], e.data["distance_m"]))


def _decided(state: CandidateState) -> Callable[[Picture, Event], None]:
    def fold(p: Picture, e: Event) -> None:
        candidate = p.candidates.get(e.data["id"])
        if candidate is None:
            return
        candidate.state = state
        candidate.incident = e.data.get("incident")
        candidate.reason = e.data.get("reason", "")
        candidate.decided_by, candidate.decided_at = e.actor, e.ts
        decided = [k for k, v in p.candidates.items() if v.state != CandidateState.PENDING]
        for key in decided[: max(0, len(decided) - DECIDED_KEPT)]:
            del p.candidates[key]

    return fold


HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.CANDIDATE_CREATED: _created,
    ev.CANDIDATE_PROPOSED: _proposed,
    ev.CANDIDATE_ACCEPTED: _decided(CandidateState.ACCEPTED),
    ev.CANDIDATE_MERGED: _decided(CandidateState.MERGED),
    ev.CANDIDATE_DISMISSED: _decided(CandidateState.DISMISSED),
}


def visible_candidates(picture: Picture, viewer: Viewer) -> dict[str, Candidate]:
    """The candidates as `viewer` may see them: those for other agencies and proposals of incidents hidden from
    the viewer left out."""
    out = {}
    for key, candidate in picture.candidates.items():
        if not viewer.may_see(candidate.audience):
            continue
        shown = [p for p in candidate.proposals if viewer.may_see(picture.incident_audience(p.incident))]
        out[key] = candidate if len(shown) == len(candidate.proposals) else replace(candidate, proposals=shown)
    return out
