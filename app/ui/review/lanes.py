"""Swimlanes of an incident (or of a time window) from the log: status spans, markers and timed intervals.

No Qt here: the timeline window draws these; tests read them directly. Lanes, top to bottom: each incident's
status, each unit's status while committed (one lane per unit), then notes, messages, mutual aid and triage
reports, the drones' part (assigned, released, look requests, snapshots attached), feed inputs, and public
alerts as markers. Intervals are the response steps a supervisor looks for: call
processing (created -> first dispatch) on the incident lane, turnout (dispatched -> en route) and travel
(en route -> on scene) on each unit's lane, each judged against its NFPA benchmark when one applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.domain import events as ev
from app.domain.entities import COMMITTED, IncidentStatus
from app.domain.events import Event
from app.domain.narrative import describe, incident_of
from app.domain.picture import Picture
from app.domain.response_times import Benchmark, benchmark_for

#: Marker lanes, in the order drawn under the incident and unit lanes.
NOTES, MESSAGES, DRONES, FEED, ALERTS = "notes", "messages", "drones", "feed", "alerts"
MARKER_LANES = {NOTES: "Notes", MESSAGES: "Messages · aid · reports", DRONES: "Drones · snapshots",
                FEED: "Feed inputs", ALERTS: "Alerts"}

_MESSAGE_KINDS = (ev.MESSAGE_POSTED, ev.AID_REQUESTED, ev.AID_ANSWERED, ev.CANDIDATE_PROPOSED,
                  ev.CANDIDATE_ACCEPTED, ev.CANDIDATE_MERGED)
_DRONE_KINDS = (ev.DRONE_ASSIGNED, ev.DRONE_LOOK_REQUESTED, ev.DRONE_LOOK_ACKNOWLEDGED, ev.INCIDENT_ATTACHED)

#: How each response measure is called on screen.
MEASURE_LABELS = {"call_processing": "Call processing", "turnout": "Turnout", "travel": "Travel",
                  "total": "Total response"}

#: Unit statuses after which the unit no longer works the incident.
_RELEASED = ("available", "out_of_service")


@dataclass(slots=True)
class Lane:
    """One horizontal row: an incident (`incident:1042`), a unit (`unit:E12`) or a marker lane (`notes`)."""

    key: str
    title: str


@dataclass(slots=True)
class Span:
    """A status held from `start` to `end` (the incident's, or a unit's while committed to `incident`)."""

    lane: str
    start: float
    end: float
    status: str
    incident: str
    event: Event | None  # the event that set the status (None when it was already so at the window's start)


@dataclass(slots=True)
class Marker:
    """A point event: a note, a chat line, an aid request, a feed input, an alert."""

    lane: str
    ts: float
    text: str
    event: Event


@dataclass(slots=True)
class Interval:
    """A response step: `measure` (call_processing, turnout, travel) from `start` to `end`."""

    lane: str
    measure: str
    start: float
    end: float
    incident: str
    unit: str | None
    benchmark: Benchmark | None

    @property
    def seconds(self) -> float:
        """How long the step took."""
        return self.end - self.start

    @property
    def over(self) -> bool | None:
        """Whether the step took longer than its benchmark (None when no benchmark applies)."""
        return None if self.benchmark is None else self.seconds > self.benchmark.seconds


@dataclass(slots=True)
class Swimlanes:
    """Everything the timeline draws, between `t0` and `t1`."""

    t0: float
    t1: float
    lanes: list[Lane] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)

    def lane_index(self, key: str) -> int:
        """The row of a lane (0 at the top)."""
        return next(i for i, lane in enumerate(self.lanes) if lane.key == key)

    def spans_of(self, key: str) -> list[Span]:
        """The spans drawn on one lane, oldest first."""
        return [s for s in self.spans if s.lane == key]

    def markers_of(self, key: str) -> list[Marker]:
        """The markers drawn on one lane, oldest first."""
        return [m for m in self.markers if m.lane == key]


def incident_lane(incident_id: str) -> str:
    """The lane key of an incident."""
    return f"incident:{incident_id}"


def unit_lane(unit_id: str) -> str:
    """The lane key of a unit."""
    return f"unit:{unit_id}"


@dataclass(slots=True)
class _Open:
    start: float
    status: str
    incident: str
    event: Event | None


@dataclass(slots=True)
class _Steps:
    """Per incident, the moments the response intervals are measured between."""

    created: float
    owner: str
    first_dispatch: float | None = None
    assigned: dict[str, float] = field(default_factory=dict)
    en_route: dict[str, float] = field(default_factory=dict)


class _Builder:
    def __init__(self, t0: float, t1: float, scope: set[str] | None, feed_actors: frozenset[str]) -> None:
        self.out = Swimlanes(t0, t1)
        self.scope = scope
        self.feed_actors = feed_actors
        self.incident_spans: dict[str, _Open] = {}
        self.unit_spans: dict[str, _Open] = {}
        self.unit_agency: dict[str, str] = {}
        self.steps: dict[str, _Steps] = {}
        self.aid_incident: dict[str, str] = {}
        self.drone_incident: dict[str, str] = {}  # drone -> the incident it works now
        self.incident_order: list[str] = []
        self.unit_order: list[str] = []

    def wanted(self, incident: str | None) -> bool:
        return incident is not None and (self.scope is None or incident in self.scope)

    def start_from(self, picture: Picture) -> None:
        """What was already under way when the window opens."""
        t0 = self.out.t0
        for unit in picture.units.values():
            self.unit_agency[unit.id] = unit.agency
        for incident in picture.incidents.values():
            if incident.status == IncidentStatus.CLOSED or not self.wanted(incident.id):
                continue
            self._see_incident(incident.id)
            self.incident_spans[incident.id] = _Open(t0, incident.status.value, incident.id, None)
        for unit in picture.units.values():
            if unit.status in COMMITTED and self.wanted(unit.incident):
                self._see_unit(unit.id)
                self.unit_spans[unit.id] = _Open(t0, unit.status.value, str(unit.incident), None)

    def _see_incident(self, incident: str) -> None:
        if incident not in self.incident_order:
            self.incident_order.append(incident)

    def _see_unit(self, unit: str) -> None:
        if unit not in self.unit_order:
            self.unit_order.append(unit)

    def _close_incident_span(self, incident: str, at: float) -> None:
        span = self.incident_spans.pop(incident, None)
        if span is not None:
            self.out.spans.append(Span(incident_lane(incident), span.start, at, span.status, incident, span.event))

    def _close_unit_span(self, unit: str, at: float) -> None:
        span = self.unit_spans.pop(unit, None)
        if span is not None:
            self.out.spans.append(Span(unit_lane(unit), span.start, at, span.status, span.incident, span.event))

    def _interval(self, lane: str, measure: str, start: float, end: float, incident: str, unit: str | None,
                  agency: str) -> None:
        self.out.intervals.append(Interval(lane, measure, start, end, incident, unit, benchmark_for(measure, agency)))

    def add(self, e: Event) -> None:
        d = e.data
        kind = e.kind
        if kind == ev.UNIT_REGISTERED:
            self.unit_agency[d["id"]] = d["agency"]
            return
        incident = incident_of(e)
        if kind == ev.AID_REQUESTED and incident:
            self.aid_incident[str(d["id"])] = incident
        elif kind == ev.AID_ANSWERED:
            incident = self.aid_incident.get(str(d["id"]))
        elif kind == ev.DRONE_ASSIGNED:  # a release names no incident: it is the one the drone worked
            incident = d.get("incident") or self.drone_incident.pop(d["drone"], None)
            if d.get("incident"):
                self.drone_incident[d["drone"]] = d["incident"]
        elif kind in (ev.DRONE_LOOK_REQUESTED, ev.DRONE_LOOK_ACKNOWLEDGED):
            incident = self.drone_incident.get(d["drone"])
        if kind in (ev.ALERT_ISSUED, ev.ALERT_CANCELLED):
            self.out.markers.append(Marker(ALERTS, e.ts, _alert_text(e), e))
            return
        if not self.wanted(incident):
            return
        assert incident is not None
        if e.actor in self.feed_actors:
            self.out.markers.append(Marker(FEED, e.ts, f"{e.actor}: {describe(e)}", e))
        if kind == ev.INCIDENT_CREATED:
            self._see_incident(incident)
            self.steps[incident] = _Steps(e.ts, d["owner"])
            self.incident_spans[incident] = _Open(e.ts, IncidentStatus.NEW.value, incident, e)
            if d.get("notes"):
                self.out.markers.append(Marker(NOTES, e.ts, f"Call notes: {d['notes']}", e))
        elif kind == ev.INCIDENT_STATUS:
            self._see_incident(incident)
            self._close_incident_span(incident, e.ts)
            if d["status"] != IncidentStatus.CLOSED:
                self.incident_spans[incident] = _Open(e.ts, d["status"], incident, e)
            else:
                self.out.markers.append(Marker(incident_lane(incident), e.ts, describe(e), e))
        elif kind == ev.INCIDENT_UPDATED:
            self.out.markers.append(Marker(incident_lane(incident), e.ts, describe(e), e))
        elif kind == ev.INCIDENT_NOTE:
            self.out.markers.append(Marker(NOTES, e.ts, describe(e), e))
        elif kind in _MESSAGE_KINDS:
            self.out.markers.append(Marker(MESSAGES, e.ts, describe(e), e))
        elif kind in _DRONE_KINDS:
            self.out.markers.append(Marker(DRONES, e.ts, describe(e), e))
        elif kind == ev.UNIT_ASSIGNED:
            self._assigned(e, incident)
        elif kind == ev.UNIT_STATUS:
            self._unit_status(e, incident)

    def _assigned(self, e: Event, incident: str) -> None:
        unit = e.data["unit"]
        self._see_unit(unit)
        self._close_unit_span(unit, e.ts)
        self.unit_spans[unit] = _Open(e.ts, "dispatched", incident, e)
        steps = self.steps.get(incident)
        if steps is None:
            return
        if steps.first_dispatch is None:
            steps.first_dispatch = e.ts
            self._interval(incident_lane(incident), "call_processing", steps.created, e.ts, incident, None,
                           steps.owner)
        steps.assigned[unit] = e.ts
        steps.en_route.pop(unit, None)

    def _unit_status(self, e: Event, incident: str) -> None:
        unit, status = e.data["unit"], e.data["status"]
        self._see_unit(unit)
        self._close_unit_span(unit, e.ts)
        if status not in _RELEASED:
            self.unit_spans[unit] = _Open(e.ts, status, incident, e)
        steps = self.steps.get(incident)
        if steps is None:
            return
        agency = self.unit_agency.get(unit, "")
        assigned = steps.assigned.get(unit)
        if status == "en_route" and assigned is not None:
            steps.en_route[unit] = e.ts
            self._interval(unit_lane(unit), "turnout", assigned, e.ts, incident, unit, agency)
        elif status == "on_scene" and unit in steps.en_route:
            self._interval(unit_lane(unit), "travel", steps.en_route.pop(unit), e.ts, incident, unit, agency)
        if status in _RELEASED:
            steps.assigned.pop(unit, None)
            steps.en_route.pop(unit, None)

    def finish(self) -> Swimlanes:
        t1 = self.out.t1
        for incident in list(self.incident_spans):
            self._close_incident_span(incident, t1)
        for unit in list(self.unit_spans):
            self._close_unit_span(unit, t1)
        out = self.out
        out.lanes = ([Lane(incident_lane(i), f"Incident {i}") for i in self.incident_order]
                     + [Lane(unit_lane(u), u) for u in self.unit_order]
                     + [Lane(key, title) for key, title in MARKER_LANES.items()])
        out.spans.sort(key=lambda s: (s.lane, s.start))
        out.markers.sort(key=lambda m: m.ts)
        return out


def _alert_text(e: Event) -> str:
    if e.kind == ev.ALERT_ISSUED:
        return f"Alert {e.data['id']}: {e.data.get('headline', '')} ({e.data.get('severity', '')})"
    return f"Alert {e.data['id']} cancelled" + (f": {e.data['reason']}" if e.data.get("reason") else "")


def build_swimlanes(events: Iterable[Event], t0: float, t1: float, *, incidents: set[str] | None = None,
                    start: Picture | None = None, feed_actors: Iterable[str] = (),
                    unit_agencies: Mapping[str, str] | None = None) -> Swimlanes:
    """Swimlanes for `events` (in sequence order) between `t0` and `t1`.

    `incidents` limits the incident-bound lanes to those incidents (None: every incident in the events);
    `start` is the picture at `t0`, so statuses already held when the window opens are drawn from its edge;
    `feed_actors` are the accounts whose inputs get a marker on the feed lane; `unit_agencies` (unit ->
    agency) picks each unit's benchmarks when the events do not include the unit's registration.
    """
    builder = _Builder(t0, t1, incidents, frozenset(feed_actors))
    builder.unit_agency.update(unit_agencies or {})
    if start is not None:
        builder.start_from(start)
    for event in events:
        if event.kind != ev.UNIT_POSITION:
            builder.add(event)
    return builder.finish()
