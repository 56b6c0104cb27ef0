"""Screenshots of the supervisor review windows over a demo-like shift: timeline, replay, response times, hotspots.

    Xvfb :102 -screen 0 1600x1000x24 -nolisten tcp &
    DISPLAY=:102 python packaging/screenshot_review.py --out /tmp/review-shots

Plays two hours of the simulator's shift on the shipped city through the hub's rules into a fresh log (see
tests/ui/shift_log.py), then opens each window on it and saves a PNG of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/review-shots"))
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--theme", default="dark", choices=["dark", "light"])
    args = parser.parse_args()
    if os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

    import app.ui.map  # noqa: F401  (the map's URL scheme precedes the QApplication)
    from PySide6.QtCore import QTimer

    from app.domain.response_times import incident_times
    from app.sim.map import load_map
    from app.ui.console_app import make_app
    from app.ui.review.hotspots_window import HotspotsWindow
    from app.ui.review.replay_window import ReplayWindow
    from app.ui.review.response_window import ResponseTimesWindow
    from app.ui.review.source import ReviewSource
    from app.ui.review.timeline_window import TimelineWindow
    from tests.ui.shift_log import write_shift_log

    app = make_app(args.theme)
    args.out.mkdir(parents=True, exist_ok=True)
    shift = write_shift_log(Path(tempfile.mkdtemp()) / "hub.db", units=40, calls_per_hour=30,
                            duration=args.hours * 3600, map_=load_map())
    source = ReviewSource(shift.path)
    end = shift.picture_at(shift.t1)
    # The timeline worth looking at: a call several units worked, with a step over its benchmark.
    times = {t.incident: t for t in incident_times(shift.events)}
    busy = sorted(end.incidents.values(), key=lambda i: (len(set(i.history_units)),
                                                         (times[i.id].call_processing or 0) > 60), reverse=True)
    incident = busy[0].id

    timeline = TimelineWindow(source, incident=incident)
    timeline.resize(1560, 900)
    replay = ReplayWindow(source)
    replay.resize(1600, 1000)
    response = ResponseTimesWindow(source)
    response.resize(1600, 900)
    hotspots = HotspotsWindow(source)
    hotspots.resize(1300, 900)
    shots = [(timeline, "timeline.png"), (replay, "replay.png"), (response, "response-times.png"),
             (hotspots, "hotspots.png")]
    for window, _name in shots:
        window.show()

    def shoot() -> None:
        for window, name in shots:
            window.raise_()
            window.grab().save(str(args.out / name))
            print(f"saved {args.out / name}")
        app.quit()

    # Replay a moment an hour in, when calls are open and units are on the move.
    QTimer.singleShot(4000, lambda: replay.seek(shift.t0 + min(3600.0, (shift.t1 - shift.t0) * 0.6)))
    QTimer.singleShot(9000, shoot)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
