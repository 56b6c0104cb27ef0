"""Response-time figures from the event log, against the usual standards (NFPA 1221 / 1710).

Per incident, measured on its first-arriving unit:
- call processing: incident created -> first unit dispatched (assigned);
- turnout: that unit dispatched -> en route;
- travel: that unit en route -> on scene;
- total response: incident created -> first unit on scene.
A unit cancelled and replaced does not reset call processing (the first dispatch counts). An incident nobody
reached has no travel or total; one never dispatched has none of them. Mutual-aid units count like any other.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.domain import events as ev
from app.domain.events import Event

MEASURES = ("call_processing", "turnout", "travel", "total")


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A 90th-percentile target in seconds for one measure, with where it comes from."""

    measure: str
    seconds: float
    source: str
    agency: str | None = None  # None: every agency


BENCHMARKS = (
    Benchmark("call_processing", 60, "NFPA 1221: 90% of calls processed within 60 s"),
    Benchmark("turnout", 60, "NFPA 1710: EMS turnout within 60 s (90th percentile)", "medical"),
    Benchmark("turnout", 80, "NFPA 1710: fire turnout within 80 s (90th percentile)", "fire"),
    Benchmark("travel", 240, "NFPA 1710: first engine travel within 240 s (90th percentile)", "fire"),
)


@dataclass(slots=True)
class IncidentTimes:
    """The measured intervals of one incident, in seconds (None when the step never happened)."""

    incident: str
    agency: str
    type: str
    priority: int
    created: float
    first_unit: str | None = None
    call_processing: float | None = None
    turnout: float | None = None
    travel: float | None = None
    total: float | None = None

    @property
    def hour(self) -> int:
        """Hour of day (UTC) the call came in."""
        return int(self.created // 3600 % 24)


@dataclass(slots=True)
class _Track:
    created: float
    agency: str
    type: str
    priority: int
    first_dispatch: float | None = None
    assigned: dict[str, float] = field(default_factory=dict)  # unit -> latest assignment here
    en_route: dict[str, float] = field(default_factory=dict)
    arrival: tuple[float, str] | None = None


def incident_times(events: Iterable[Event]) -> list[IncidentTimes]:
    """Measure every incident created in `events` (events in sequence order)."""
    tracks: dict[str, _Track] = {}
    unit_incident: dict[str, str] = {}
    for e in events:
        d = e.data
        if e.kind == ev.INCIDENT_CREATED:
            tracks[d["id"]] = _Track(e.ts, d["owner"], d["type"], d["priority"])
        elif e.kind == ev.INCIDENT_UPDATED and d["id"] in tracks:
            track = tracks[d["id"]]
            track.type = d.get("type", track.type)
            track.priority = d.get("priority", track.priority)
        elif e.kind == ev.UNIT_ASSIGNED and d["incident"] in tracks:
            track = tracks[d["incident"]]
            if track.first_dispatch is None:
                track.first_dispatch = e.ts
            track.assigned[d["unit"]] = e.ts
            track.en_route.pop(d["unit"], None)
            unit_incident[d["unit"]] = d["incident"]
        elif e.kind == ev.UNIT_STATUS and d["unit"] in unit_incident:
            track = tracks[unit_incident[d["unit"]]]
            if d["status"] == "en_route":
                track.en_route[d["unit"]] = e.ts
            elif d["status"] == "on_scene" and track.arrival is None:
                track.arrival = (e.ts, d["unit"])
            elif d["status"] in ("available", "out_of_service"):
                unit_incident.pop(d["unit"], None)
    result = []
    for incident_id, t in tracks.items():
        times = IncidentTimes(incident_id, t.agency, t.type, t.priority, t.created)
        if t.first_dispatch is not None:
            times.call_processing = t.first_dispatch - t.created
        if t.arrival is not None:
            arrived, unit = t.arrival
            times.first_unit = unit
            times.total = arrived - t.created
            assigned, en_route = t.assigned.get(unit), t.en_route.get(unit)
            if assigned is not None and en_route is not None:
                times.turnout = en_route - assigned
                times.travel = arrived - en_route
        elif t.en_route:  # nobody arrived: turnout of the first unit that set off
            unit, en_route = min(t.en_route.items(), key=lambda kv: kv[1])
            times.first_unit = unit
            times.turnout = en_route - t.assigned[unit]
        result.append(times)
    return result


#: How long after a window's last call its units' dispatches and arrivals are still read: a call taken at 23:59
#: is still measured, and measuring a window never reads the rest of a long log.
RESPONSE_TAIL = 24 * 3600.0
#: The event kinds the measures are folded from.
TIMING_KINDS = (ev.INCIDENT_CREATED, ev.INCIDENT_UPDATED, ev.UNIT_ASSIGNED, ev.UNIT_STATUS)


def times_in_window(events: Iterable[Event], start: float, end: float) -> list[IncidentTimes]:
    """The measures of the calls that came in between `start` and `end`, from `events` (TIMING_KINDS, in
    sequence order, from `start` to RESPONSE_TAIL after `end`), oldest call first."""
    return [t for t in incident_times(events) if start <= t.created <= end]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (the value at or below which p% of the values fall)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measure for one group: how many, median, 90th percentile, and compliance with its benchmark."""

    group: str
    measure: str
    count: int
    median: float
    p90: float
    benchmark: Benchmark | None
    within: float | None  # share of incidents at or under the benchmark

    @property
    def compliant(self) -> bool | None:
        """Whether the 90th percentile meets the benchmark (None when there is none)."""
        return None if self.benchmark is None else self.p90 <= self.benchmark.seconds


def benchmark_for(measure: str, agency: str | None) -> Benchmark | None:
    """The benchmark that applies to a measure for an agency."""
    for b in BENCHMARKS:
        if b.measure == measure and (b.agency is None or b.agency == agency):
            return b
    return None


def figures(times: list[IncidentTimes], by: Callable[[IncidentTimes], str] = lambda t: t.agency) -> list[Figure]:
    """Medians, 90th percentiles and compliance per group (by agency by default; or type, priority, hour)."""
    groups: dict[str, list[IncidentTimes]] = {}
    for t in times:
        groups.setdefault(str(by(t)), []).append(t)
    out = []
    for group, members in sorted(groups.items()):
        agencies = {m.agency for m in members}
        agency = next(iter(agencies)) if len(agencies) == 1 else None
        for measure in MEASURES:
            values = [v for m in members if (v := getattr(m, measure)) is not None]
            if not values:
                continue
            bench = benchmark_for(measure, agency)
            within = sum(v <= bench.seconds for v in values) / len(values) if bench else None
            out.append(Figure(group, measure, len(values), statistics.median(values), percentile(values, 90),
                              bench, within))
    return out
