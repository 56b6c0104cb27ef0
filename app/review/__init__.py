"""Supervisor review: replay, timelines, response-time figures, hotspots and reports, built from the log.

Headless, public API (names kept stable for the review windows in `app.ui.review`):

- `app.review.replay`: `Replay(path, viewer=None)` over a log file, read-only (safe beside a live hub) with
  `span()`, `seq_at(ts)`, `picture_at(ts)`, `tracks(t0, t1, units=None)`, `events(t0, t1, kinds=None,
  incident=None)`, `incident_events(incident_id)`, `close()`; `ReviewError` for a log or item that cannot
  be reviewed; `TrackPoint` = (t, lat, lon).
- `app.review.figures`: `response_times(replay, t0=None, t1=None)` (per-incident `IncidentTimes`),
  `figures_by(times, dimension)` with dimension agency | type | priority | hour, `figures_table(figures)`.
- `app.review.export`: `export_csv(replay, out, t0=None, t1=None, incident=None)`,
  `export_geojson(replay, out, t0=None, t1=None, incident=None)`, `geojson_collection(...)` (the dict).
- `app.review.report`: `incident_report_html(replay, incident_id) -> str` (self-contained, offline);
  `app.ui.review.report_pdf.print_pdf(html, path)` prints it to PDF (Qt).
- CLI: `watchfloor review export|report|figures` (`app.review.cli`).
"""
