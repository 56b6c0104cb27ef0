"""Map throughput and GUI-thread latency under load. Prints figures; asserts nothing about time.

    QT_QPA_PLATFORM=offscreen QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu" \
        python tests/bench/bench_map.py [--seconds 10] [--basemap PATH]

Scenario A: 5,000 units all moving, every unit reporting 10 times a second (50,000 reports/s into the
view); reports how many batches the page applied per second and the page's JS time per batch (parse and
apply, measured with performance.now() inside the page) and its canvas paint time.
Scenario B: 2,000 units each reporting once a second, spread evenly; reports the GUI thread's stalls, measured
as the lateness of a 5 ms QTimer.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.ui.map import MapView  # before the QApplication: registers the wf:// scheme
from tests.bench.scene import basemap_path, make_units, move, road_points


class GcWatch:
    """Longest garbage-collector pause, to tell GC stalls from the map's own."""

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - self._start) * 1000)


class StallProbe:
    """A 5 ms timer; how late it fires is how long the GUI thread was busy with something else."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval = interval_ms
        self.lateness: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lateness.clear()
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.lateness.append(max(0.0, (now - self._last) / 1e6 - self.interval))
        self._last = now

    def summary(self) -> str:
        late = sorted(self.lateness)
        p99 = late[int(len(late) * 0.99) - 1] if late else 0.0
        return f"worst stall {late[-1]:.1f} ms, p99 {p99:.1f} ms, median {statistics.median(late):.2f} ms"


def spin(app: QApplication, seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def js(view: MapView, script: str):
    box: list = []
    view.run_js(script, box.append)
    deadline = time.monotonic() + 10
    while not box and time.monotonic() < deadline:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return json.loads(box[0]) if box and box[0] else None


def run_scenario(app, view, units, *, reports_per_s: float, tick_ms: int, seconds: float, probe: StallProbe):
    """Move every unit ``reports_per_s`` times a second, spread over ticks of ``tick_ms``."""
    per_tick = max(1, round(len(units) * reports_per_s * tick_ms / 1000))
    cursor = [0]

    def drive() -> None:
        batch = []
        for _ in range(per_tick):
            batch.append(move(units[cursor[0]], 1.0 / reports_per_s))
            cursor[0] = (cursor[0] + 1) % len(units)
        view.upsert_units(batch)

    driver = QTimer()
    driver.setTimerType(Qt.TimerType.PreciseTimer)
    driver.timeout.connect(drive)
    spin(app, 1.0)  # let the previous scenario's last batch land
    before_applied, before_ms = view.stats.applied, view.stats.js_ms_total
    js_before = js(view, "wf.stats()")
    samples: list[float] = []
    view.batch_applied.connect(lambda _seq, ms: samples.append(ms))
    started = time.monotonic()
    driver.start(tick_ms)
    probe.start()
    spin(app, seconds)
    probe.stop()
    driver.stop()
    elapsed = time.monotonic() - started
    view.batch_applied.disconnect()
    js_after = js(view, "wf.stats()")
    applied = view.stats.applied - before_applied
    draws = js_after["draws"] - js_before["draws"]
    draw_ms = (js_after["drawMsTotal"] - js_before["drawMsTotal"]) / max(1, draws)
    samples.sort()
    return {
        "reports_per_s": per_tick * 1000 / tick_ms,
        "batches_per_s": applied / elapsed,
        "js_ms_mean": (view.stats.js_ms_total - before_ms) / max(1, applied),
        "js_ms_p95": samples[int(len(samples) * 0.95) - 1] if samples else 0.0,
        "js_ms_max": samples[-1] if samples else 0.0,
        "paints_per_s": draws / elapsed,
        "paint_ms_mean": draw_ms,
        "paint_ms_max": js_after["drawMsMax"],
        "stall": probe.summary(),
    }


def report(title: str, r: dict) -> None:
    print(f"\n{title}")
    print(f"  position reports into the view: {r['reports_per_s']:,.0f}/s")
    print(f"  map batches applied:            {r['batches_per_s']:.1f}/s")
    print(f"  JS apply time per batch:        mean {r['js_ms_mean']:.1f} ms, p95 {r['js_ms_p95']:.1f} ms, "
          f"max {r['js_ms_max']:.1f} ms")
    print(f"  canvas paints:                  {r['paints_per_s']:.1f}/s, mean {r['paint_ms_mean']:.1f} ms "
          f"(all layers; max since start {r['paint_ms_max']:.1f} ms)")
    print(f"  GUI thread (5 ms probe):        {r['stall']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--basemap")
    parser.add_argument("--rate", type=float, default=10.0, help="map flush rate, Hz")
    parser.add_argument("--zoom", type=float, default=None,
                        help="zoom in on the city's centre (default: the whole city, where units are dots); from "
                             "zoom 13 units are drawn as symbols, from 15 with labels")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() after start-up, so full collections skip the long-lived Qt objects")
    args = parser.parse_args()

    app = QApplication(sys.argv)
    basemap = basemap_path(args.basemap)
    points = road_points(basemap)
    rng = random.Random(1)
    view = MapView(basemap, rate_hz=args.rate)
    view.resize(1600, 1000)
    view.show()
    ready = QEventLoop()
    view.ready.connect(ready.quit)
    ready.exec()
    if args.zoom is not None:
        view.run_js(f"map_wf.setZoom({args.zoom}, {{animate: false}}); 1")
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    print(f"basemap: {basemap} | zoom {args.zoom or 'whole city'} | flush rate {args.rate:g} Hz | "
          f"platform {app.platformName()} | "
          f"gc.freeze: {args.gc_freeze}")
    probe = StallProbe()
    gc_watch = GcWatch()

    units = make_units(5000, points, rng)
    view.upsert_units(units)
    report("A: 5,000 units, each reporting 10/s",
           run_scenario(app, view, units, reports_per_s=10, tick_ms=20, seconds=args.seconds, probe=probe))

    view.remove_units([u["id"] for u in units[2000:]])
    units = units[:2000]
    report("B: 2,000 units, each reporting 1/s",
           run_scenario(app, view, units, reports_per_s=1, tick_ms=20, seconds=args.seconds, probe=probe))

    print(f"\nworst garbage-collector pause: {gc_watch.worst_ms:.1f} ms")
    print(f"external requests blocked: {view.external_requests_blocked}; "
          f"batches sent {view.stats.sent}, {view.stats.bytes_sent / 1e6:.1f} MB of JSON, "
          f"worst GUI-thread time to encode+send one batch {view.stats.send_ms_max:.1f} ms")
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
