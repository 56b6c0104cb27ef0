"""The incident report: one self-contained HTML document a supervisor can file, mail or print.

Everything is inline (styles, the SVG map drawn from the offline city), so it opens on an air-gapped machine
and makes no request. Every text that came from a person or a feed is escaped. Times are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from app.city.loader import City, load_city
from app.domain import events as ev
from app.domain.agencies import DEFAULT_AGENCIES
from app.domain.entities import Incident
from app.domain.events import Event
from app.domain.narrative import describe, type_label
from app.domain.response_times import MEASURES, IncidentTimes, benchmark_for
from app.review.export import incident_tracks
from app.review.figures import duration, response_times
from app.review.replay import ReviewError, ReviewLog
from app.review.svgmap import AGENCY_INK, OTHER_INK, Pin, Track, svg_map

_MEASURE_LABELS = {"call_processing": ("Call processing", "call created → first unit dispatched"),
                   "turnout": ("Turnout", "first-arriving unit dispatched → en route"),
                   "travel": ("Travel", "first-arriving unit en route → on scene"),
                   "total": ("Total response", "call created → first unit on scene")}
#: The unit statuses shown as columns of the units table, in the order they happen.
_UNIT_STEPS = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital", "released")

_STYLE = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font: 10pt/1.35 "Helvetica Neue", Helvetica, Arial, sans-serif; color: #1c1c1c; margin: 0 auto;
       max-width: 190mm; padding: 6mm 0; }
header.top { display: flex; justify-content: space-between; align-items: flex-end;
             border-bottom: 3px solid #1c2b3a; padding-bottom: 6px; margin-bottom: 10px; }
header.top h1 { font-size: 18pt; margin: 0; color: #1c2b3a; }
header.top .sub { color: #555; font-size: 9pt; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 3px; font-weight: bold; font-size: 9pt;
         color: #fff; background: #455a64; margin-left: 4px; vertical-align: middle; }
.badge.p1 { background: #c62828; } .badge.p2 { background: #ef6c00; } .badge.p3 { background: #f9a825; color: #222; }
.badge.restricted { background: #6a1b9a; }
h2 { font-size: 11.5pt; color: #1c2b3a; border-bottom: 1px solid #c9d1d9; margin: 14px 0 6px; padding-bottom: 2px;
     break-after: avoid; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; vertical-align: top; }
table.grid th { background: #eef2f6; border-bottom: 1px solid #c9d1d9; font-size: 8.5pt; text-transform: uppercase;
                letter-spacing: 0.03em; color: #37474f; }
table.grid td { border-bottom: 1px solid #e6eaee; }
table.grid tr { break-inside: avoid; }
table.facts th { width: 30%; white-space: nowrap; color: #555; font-weight: normal; }
table.facts td { font-weight: 600; }
.cols { display: flex; gap: 14px; } .cols > div { flex: 1; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; color: #37474f; }
.met { color: #2e7d32; font-weight: bold; } .missed { color: #c62828; font-weight: bold; }
.muted { color: #777; }
figure { margin: 6px 0 0; break-inside: avoid; } figure svg { width: 100%; height: auto; border: 1px solid #c9d1d9; }
figcaption { font-size: 8.5pt; color: #555; margin-top: 3px; }
.legend span { display: inline-block; margin-right: 12px; } .legend i { display: inline-block; width: 14px;
  height: 4px; vertical-align: middle; margin-right: 4px; }
footer { margin-top: 16px; border-top: 1px solid #c9d1d9; padding-top: 4px; font-size: 8pt; color: #666; }
"""


def _time(ts: float | None, with_date: bool = False) -> str:
    if ts is None:
        return "—"
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _e(text: object) -> str:
    return escape(str(text))


def _unit_steps(events: list[Event], incident: str) -> dict[str, dict[str, float]]:
    """Per unit, when it reached each step on this incident (the first time)."""
    steps: dict[str, dict[str, float]] = {}
    committed: set[str] = set()
    for e in events:
        if e.kind == ev.UNIT_ASSIGNED and e.data["incident"] == incident:
            committed.add(e.data["unit"])
            steps.setdefault(e.data["unit"], {}).setdefault("dispatched", e.ts)
        elif e.kind == ev.UNIT_STATUS and e.data["unit"] in committed:
            status = e.data["status"]
            if status in ("available", "out_of_service"):
                committed.discard(e.data["unit"])
                status = "released"
            steps[e.data["unit"]].setdefault(status, e.ts)
    return steps


def _header(incident: Incident) -> str:
    agencies = ", ".join(DEFAULT_AGENCIES[a].name if a in DEFAULT_AGENCIES else a for a in incident.agencies)
    owner = DEFAULT_AGENCIES[incident.owner].name if incident.owner in DEFAULT_AGENCIES else incident.owner
    rows = [("Type", type_label(incident.type)), ("Address", incident.address or "map point"),
            ("Position", f"{incident.lat:.5f}, {incident.lon:.5f}"), ("Owner", owner), ("Agencies", agencies),
            ("Caller", incident.caller or "—"), ("Call taken by", incident.created_by),
            ("Created", _time(incident.created_at, True)), ("Closed", _time(incident.closed_at, True)),
            ("Status", str(incident.status).replace("_", " ")), ("Disposition", incident.disposition or "—")]
    half = (len(rows) + 1) // 2
    tables = ["<table class='facts'>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in part)
              + "</table>" for part in (rows[:half], rows[half:])]
    return f"<div class='cols'><div>{tables[0]}</div><div>{tables[1]}</div></div>"


def _figures(times: IncidentTimes | None) -> str:
    if times is None:
        return "<p class='muted'>No response-time figures: the call was not visible in this log.</p>"
    rows = []
    for measure in MEASURES:
        value = getattr(times, measure)
        label, meaning = _MEASURE_LABELS[measure]
        bench = benchmark_for(measure, times.agency)
        target = f"{bench.seconds:.0f} s" if bench else "—"
        if bench is None or value is None:
            verdict = "<span class='muted'>—</span>"
        else:
            verdict = "<span class='met'>met</span>" if value <= bench.seconds else "<span class='missed'>missed</span>"
        source = _e(bench.source) if bench else ""
        rows.append(f"<tr><td><b>{label}</b><br><span class='muted'>{meaning}</span></td>"
                    f"<td class='num'>{_e(duration(value))}</td><td class='num'>{target}</td><td>{verdict}</td>"
                    f"<td class='muted'>{source}</td></tr>")
    first = f"First unit on scene: <b>{_e(times.first_unit)}</b>." if times.first_unit and times.total \
        is not None else "No unit reached the scene."
    return ("<table class='grid'><tr><th>Measure</th><th class='num'>Time</th><th class='num'>Target (90th pct)</th>"
            f"<th>This call</th><th>Standard</th></tr>{''.join(rows)}</table><p>{first}</p>")


def _units(incident: Incident, steps: dict[str, dict[str, float]], agencies: dict[str, str]) -> str:
    if not steps:
        return "<p class='muted'>No unit was assigned.</p>"
    head = "".join(f"<th class='num'>{s.replace('_', ' ')}</th>" for s in _UNIT_STEPS)
    rows = []
    for unit in incident.history_units or list(steps):
        if unit not in steps:
            continue
        cells = "".join(f"<td class='num time'>{_time(steps[unit].get(s))}</td>" for s in _UNIT_STEPS)
        rows.append(f"<tr><td><b>{_e(unit)}</b></td><td>{_e(agencies.get(unit, ''))}</td>{cells}</tr>")
    return f"<table class='grid'><tr><th>Unit</th><th>Agency</th>{head}</tr>{''.join(rows)}</table>"


def _timeline(events: list[Event]) -> str:
    rows = "".join(f"<tr><td class='time'>{_time(e.ts)}</td><td>{_e(e.actor)}</td><td>{_e(describe(e))}</td></tr>"
                   for e in events)
    return f"<table class='grid'><tr><th>Time</th><th>By</th><th>What</th></tr>{rows}</table>"


def _messages(events: list[Event], incident: Incident) -> str:
    posted = [e for e in events if e.kind == ev.MESSAGE_POSTED]
    notes = incident.notes
    parts = []
    if notes:
        parts.append("<table class='grid'><tr><th>Time</th><th>By</th><th>Note</th></tr>" + "".join(
            f"<tr><td class='time'>{_time(n.at)}</td><td>{_e(n.author)}</td><td>{_e(n.text)}</td></tr>"
            for n in notes) + "</table>")
    else:
        parts.append("<p class='muted'>No notes.</p>")
    if posted:
        parts.append("<table class='grid'><tr><th>Time</th><th>From</th><th>Message</th></tr>" + "".join(
            f"<tr><td class='time'>{_time(e.ts)}</td><td>{_e(e.actor)} ({_e(e.data.get('agency', ''))})</td>"
            f"<td>{_e(e.data['text'])}</td></tr>" for e in posted) + "</table>")
    else:
        parts.append("<p class='muted'>No messages on the incident channel.</p>")
    return f"<h2>Notes</h2>{parts[0]}<h2>Messages (incident:{_e(incident.id)})</h2>{parts[1]}"


def _map(city: City, incident: Incident, tracks: list[Track]) -> str:
    svg = svg_map(city, [Pin(incident.id, incident.lat, incident.lon)], tracks)
    seen = sorted({t.agency for t in tracks})
    legend = "".join(f"<span><i style='background:{AGENCY_INK.get(a, OTHER_INK)}'></i>{_e(a)}</span>" for a in seen)
    return (f"<figure>{svg}<figcaption class='legend'>Tracks of the units while committed to the call "
            f"(labelled where each set off; filled dot: last fix). {legend}</figcaption></figure>")


def incident_report_html(replay: ReviewLog, incident_id: str, city: City | None = None) -> str:
    """The report on one incident as a self-contained, offline HTML document (see the module docstring).

    Raises `ReviewError` if the log holds no such incident for the replay's viewer.
    """
    incident_id = str(incident_id)
    city = city or load_city()
    events = replay.incident_events(incident_id)
    picture = replay.picture_at(events[-1].ts)
    incident = picture.incidents.get(incident_id)
    if incident is None:  # restricted since: the viewer's picture no longer holds it
        raise ReviewError(f"there is no incident {incident_id}")
    times = next((t for t in response_times(replay, incident.created_at, incident.created_at)
                  if t.incident == incident_id), None)
    agencies = {u.id: u.agency for u in picture.units.values()}
    tracks = [Track(unit, agencies.get(unit, ""), [(lat, lon) for _t, lat, lon in points])
              for unit, points in incident_tracks(replay, incident_id, events).items() if points]
    badges = f"<span class='badge p{incident.priority}'>P{incident.priority}</span>"
    if incident.restricted:
        badges += "<span class='badge restricted'>RESTRICTED</span>"
    first_seq, last_seq = events[0].seq, events[-1].seq
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Incident {_e(incident.id)} — {_e(type_label(incident.type))}</title>
<style>{_STYLE}</style></head>
<body>
<header class="top"><div><h1>Incident {_e(incident.id)} — {_e(type_label(incident.type))} {badges}</h1>
<div class="sub">{_e(incident.address or 'map point')} · {_time(incident.created_at, True)} UTC</div></div>
<div class="sub">Watchfloor incident report</div></header>
{_header(incident)}
<h2>Response times</h2>
{_figures(times)}
<h2>Units</h2>
{_units(incident, _unit_steps(events, incident_id), agencies)}
<h2>Map</h2>
{_map(city, incident, tracks)}
<h2>Timeline (UTC)</h2>
{_timeline(events)}
{_messages(events, incident)}
<footer>Built from the event log {_e(replay.path.name)}, events {first_seq}–{last_seq}; every line is an event
as the hub sequenced it, with its actor. Generated {generated}. Map data {_e(city.attribution)}.
</footer>
</body></html>
"""
