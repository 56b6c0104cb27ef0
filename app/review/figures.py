"""Response-time figures for a stretch of a stored log (glue between `Replay` and `app.domain.response_times`).

An incident counts in a window when its call came in during the window; its dispatches and arrivals are read
up to a day after the window, so a call taken at 23:59 is still measured. The measures and the NFPA benchmarks
are `app.domain.response_times`'s; benchmarks follow the incident's owning agency (a medical call reached
first by a mutual-aid fire engine is measured, and judged, as a medical call).
"""

from __future__ import annotations

from collections.abc import Callable

from app.domain.response_times import Figure, IncidentTimes, figures
from app.review.replay import ReviewError, ReviewLog

#: How figures can be grouped: dimension -> the group an incident falls in (sortable as text).
DIMENSIONS: dict[str, Callable[[IncidentTimes], str]] = {
    "agency": lambda t: t.agency,
    "type": lambda t: t.type,
    "priority": lambda t: f"P{t.priority}",
    "hour": lambda t: f"{t.hour:02d}h",
}

_MEASURE_NAMES = {"call_processing": "call processing", "turnout": "turnout", "travel": "travel",
                  "total": "total response"}


def response_times(replay: ReviewLog, t0: float | None = None, t1: float | None = None) -> list[IncidentTimes]:
    """The measured intervals of every incident whose call came in between `t0` and `t1` (default: all),
    as the replay's viewer may see them, oldest call first (a log file's `Replay`, or the hub's answer)."""
    return replay.response_times(t0, t1)


def figures_by(times: list[IncidentTimes], dimension: str = "agency") -> list[Figure]:
    """Median, 90th percentile and compliance per group of `dimension` (agency, type, priority, hour)."""
    key = DIMENSIONS.get(dimension)
    if key is None:
        raise ReviewError(f"figures can be grouped by {', '.join(DIMENSIONS)}, not {dimension!r}")
    return figures(times, by=key)


def figures_table(rows: list[Figure]) -> str:
    """The figures as a plain-text table (for the terminal and the report)."""
    header = ("group", "measure", "n", "median", "90th pct", "target", "within", "meets")
    lines = [header]
    for f in rows:
        target = f"{f.benchmark.seconds:.0f} s" if f.benchmark else "-"
        within = f"{f.within:.0%}" if f.within is not None else "-"
        meets = {True: "yes", False: "NO", None: "-"}[f.compliant]
        lines.append((f.group, _MEASURE_NAMES[f.measure], str(f.count), duration(f.median), duration(f.p90),
                      target, within, meets))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                 strict=True)))
            for row in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in text)


def duration(seconds: float | None) -> str:
    """A duration as m:ss (or "-" when the step never happened)."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{'-' if whole < 0 else ''}{abs(whole) // 60}:{abs(whole) % 60:02d}"
