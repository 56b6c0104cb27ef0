"""`watchfloor review`: response-time figures, exports and incident reports from a stored log.

Reads the log read-only (safe beside a running hub). `--as-agency X` reviews as a dispatcher of X would see
it (restricted calls of other agencies left out); without it, everything (a supervisor's view).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.review.replay import Replay


def moment(text: str) -> float:
    """A time on the command line: ISO 8601 (UTC unless it says otherwise) or Unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: use ISO 8601 (2024-05-01T08:00:00Z) "
                                         "or Unix seconds") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor review`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", required=True, type=Path, help="the hub's SQLite database (the event log)")
    common.add_argument("--as-agency", metavar="AGENCY", help="review as a dispatcher of this agency sees it")
    window = argparse.ArgumentParser(add_help=False)
    window.add_argument("--from", dest="t0", type=moment, metavar="TIME",
                        help="start: ISO 8601 or Unix seconds (default: log start)")
    window.add_argument("--to", dest="t1", type=moment, metavar="TIME",
                        help="end: ISO 8601 or Unix seconds (default: log end)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    export = sub.add_parser("export", parents=[common, window], help="events as CSV or the map as GeoJSON")
    export.add_argument("--format", choices=("csv", "geojson"), default="csv")
    export.add_argument("--incident", help="only what concerns this incident")
    export.add_argument("--positions", action="store_true", help="CSV: include every position fix")
    export.add_argument("-o", "--output", required=True, type=Path)

    report = sub.add_parser("report", parents=[common], help="an incident report as offline HTML (and PDF)")
    report.add_argument("--incident", required=True)
    report.add_argument("-o", "--output", required=True, type=Path, help="the HTML file to write")
    report.add_argument("--pdf", type=Path, help="also print it to this PDF file (needs Qt WebEngine)")

    figures = sub.add_parser("figures", parents=[common, window], help="the response-time table (NFPA 1221/1710)")
    figures.add_argument("--by", choices=("agency", "type", "priority", "hour"), default="agency")


def run(args: argparse.Namespace) -> int:
    """Run one review action; exit 1 with a message on a log or an item that cannot be reviewed."""
    from app.domain.picture import Viewer
    from app.review.replay import Replay, ReviewError

    viewer = Viewer(args.as_agency) if args.as_agency else None
    try:
        with Replay(args.db, viewer=viewer) as replay:
            return _ACTIONS[args.action](replay, args)
    except (ReviewError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _export(replay: Replay, args: argparse.Namespace) -> int:
    from app.review.export import export_csv, export_geojson

    if args.format == "csv":
        count = export_csv(replay, args.output, args.t0, args.t1, args.incident, positions=args.positions)
    else:
        count = export_geojson(replay, args.output, args.t0, args.t1, args.incident)
    print(f"wrote {count} {'rows' if args.format == 'csv' else 'features'} to {args.output}")
    return 0


def _report(replay: Replay, args: argparse.Namespace) -> int:
    from app.review.report import incident_report_html

    html = incident_report_html(replay, args.incident)
    args.output.write_text(html, encoding="utf-8")
    print(f"wrote {args.output}")
    if args.pdf is None:
        return 0
    return print_pdf_in_child(args.output, args.pdf)


def print_pdf_in_child(html: Path, pdf: Path) -> int:
    """Print with Qt in a child process, so this package (and a server running it) never loads Qt."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([sys.executable, "-m", "app.ui.review.report_pdf", str(html.resolve()),
                               str(pdf.resolve())], cwd=scratch, env=env, capture_output=True, text=True)
    problems = [line for line in done.stderr.splitlines() if line.startswith(("error:", "warning:"))]
    for line in problems:
        print(line, file=sys.stderr)
    if done.returncode != 0:
        if not problems:
            print(f"error: printing the PDF failed (exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
        return 1
    print(f"wrote {pdf}")
    return 0


def _figures(replay: Replay, args: argparse.Namespace) -> int:
    from app.review.figures import figures_by, figures_table, response_times

    times = response_times(replay, args.t0, args.t1)
    measured = sum(t.call_processing is not None for t in times)
    print(f"{len(times)} calls, {measured} dispatched; 90th percentiles against NFPA 1221/1710 targets\n")
    print(figures_table(figures_by(times, args.by)))
    return 0


_ACTIONS = {"export": _export, "report": _report, "figures": _figures}
