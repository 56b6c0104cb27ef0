"""Log reads off the GUI thread: one-shot jobs (exports, charts) and a latest-only worker (seeking).

A review window never reads the log on the GUI thread: a seek over a long shift folds thousands of events, an
export writes a file. Results come back as queued signals, so the slots run on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("watchfloor.review")


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported to the window, which says what went wrong
            log.exception("review job failed")
            self.relay.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.relay.done.emit(result)


class Jobs(QObject):
    """Runs functions on a private thread pool and hands their results to callbacks on the GUI thread."""

    def __init__(self, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._relays: set[_Relay] = set()

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
            on_error: Callable[[str], None] | None = None) -> None:
        """Run `fn()` off the GUI thread; `on_done(result)` or `on_error(message)` is called on the GUI thread."""
        relay = _Relay(self)
        self._relays.add(relay)  # kept alive until it has delivered

        def finished(callback: Callable[[Any], None] | None, value: Any) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            if callback is not None:
                callback(value)

        relay.done.connect(lambda value: finished(on_done, value))
        relay.failed.connect(lambda message: finished(on_error, message))
        self.pool.start(_Job(fn, relay))

    @property
    def busy(self) -> bool:
        """Whether a job is still running or waiting."""
        return bool(self._relays)

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Wait for running jobs (call when the window closes, before what they read goes away)."""
        self.pool.clear()
        self.pool.waitForDone(timeout_ms)


class LatestOnly(QObject):
    """Computes `fn(request)` one at a time off the GUI thread; requests made meanwhile collapse to the newest.

    A slider dragged across an hour asks for hundreds of moments; only the last one still matters when the
    worker is free again, so the GUI never queues work it will throw away.
    """

    result = Signal(object, object)  # request, result
    failed = Signal(object, str)  # request, message

    def __init__(self, fn: Callable[[Any], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.jobs = Jobs(1, self)
        # Touched only on the GUI thread (requests, and results delivered as queued signals): no lock.
        self._pending: Any = None
        self._has_pending = False
        self._running = False
        self.computed = 0  # how many requests were really computed (the rest were coalesced)

    def request(self, value: Any) -> None:
        """Ask for `fn(value)`; supersedes any request not yet started."""
        self._pending, self._has_pending = value, True
        self._start_next()

    @property
    def idle(self) -> bool:
        """Nothing running and nothing waiting."""
        return not self._running and not self._has_pending

    def _start_next(self) -> None:
        if self._running or not self._has_pending:
            return
        value, self._has_pending = self._pending, False
        self._running = True
        self.jobs.run(lambda: self.fn(value), lambda out: self._finish(value, out, None),
                      lambda message: self._finish(value, None, message))

    def _finish(self, value: Any, out: Any, error: str | None) -> None:
        self._running = False
        self.computed += 1
        if error is None:
            self.result.emit(value, out)
        else:
            self.failed.emit(value, error)
        self._start_next()

    def shutdown(self) -> None:
        """Drop waiting requests and wait for the running one."""
        self._has_pending = False
        self.jobs.shutdown()
