"""`watchfloor replay --db FILE`: the supervisor review windows, standalone, over a hub's log file.

Opens the replay (map, queue and unit board at any moment, with a Review menu for timelines, response times,
hotspots and exports). `--as-agency X` reviews as a dispatcher of X would see the log (restricted calls of
other agencies left out), as `watchfloor review --as-agency` does; without it, everything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor replay`."""
    parser.add_argument("--db", required=True, type=Path, help="the hub's SQLite database (the event log)")
    parser.add_argument("--as-agency", "--viewer-agency", dest="as_agency", metavar="AGENCY",
                        help="review as a dispatcher of this agency sees it")
    parser.add_argument("--incident", help="also open this incident's timeline")
    parser.add_argument("--theme", choices=["dark", "light"], help="colour theme (default: the last one used)")


def run(args: argparse.Namespace) -> int:
    """Open the replay window (and a timeline) until the last review window closes."""
    from app.domain.picture import Viewer
    from app.review.replay import Replay, ReviewError

    try:  # a clear message on the terminal, before any window, for a missing or foreign file
        Replay(args.db).close()
    except ReviewError as exc:
        print(f"watchfloor replay: {exc}", file=sys.stderr)
        return 2

    from app.ui.console_app import make_app
    from app.ui.review.replay_window import open_replay
    from app.ui.review.source import ReviewSource
    from app.ui.review.timeline_window import open_timeline

    app = make_app(args.theme)
    source = ReviewSource(args.db, Viewer(args.as_agency) if args.as_agency else None)
    open_replay(source)
    if args.incident:
        open_timeline(source, incident=args.incident)
    return app.exec()
