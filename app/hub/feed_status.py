"""Feed health, for the console's Feeds panel: per feed what came in, what was taken, what was quarantined.

Every way input reaches the hub registers a `FeedStatus` by name in the hub's `FeedRegistry` (`hub.feeds`):
the gateway's CoT/NMEA/MAVLink listeners, feed accounts on the websocket, reports, and whatever comes later
(CAP, EIDO, ...): `hub.feeds.feed("cap", "CAP alerts (HTTP)")`, then `input(source)` for each record,
`accept()` when it was applied, `ignore(kind)` when it was valid but of no use, and `hub.feeds.quarantine(...)`
when it was refused. Quarantine keeps a prefix of the raw bytes (`RAW_KEPT`), the full size, source, code and
reason in the log's dead-letter table (`quarantine`), counts it, and remembers the newest few for the panel.

Quarantine is bounded, because refused input is what an attacker controls: one row per refused datagram or
frame, and more of the same (same feed, source and code within `REPEAT_WINDOW_S`) only bump that row's repeat
counter; at most `NEW_ROWS_PER_S` new rows a second (the rest are counted, not stored); rows are written in
batches off the loop, in one transaction each, so that a flood never turns into one fsync per datagram ahead
of the commands in the writer's queue; and the table is kept under `budget_bytes`, oldest rows pruned first,
with an alarm (`quarantine.alarm` in the report, a warning in the hub's log) once pruning starts.

Input from sources that are not registered devices is not parsed at all: it is counted per feed (`unknown`)
and per source in `unknown_devices` (the supervisor's triage of devices to register or to chase), and
quarantined as `unknown_device` under the same bounds.

This is the hub's own state, not part of the common picture: consoles ask for it with a `query` ("feeds"),
and nothing here goes into the event log. Quarantined input is raw field data that may carry any agency's
restricted calls, so each item keeps the agency it came from (a feed account's; `*` for the hub's own
listeners, CAP and items read back from the table after a restart): a dispatcher's answer holds every feed's
counters and health but only its own agency's items; a supervisor's holds them all (docs/security.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.domain.authority import ALL_AGENCIES
from app.domain.picture import Viewer
from app.store.log import QuarantineRow, QuarantineWrite

log = logging.getLogger("watchfloor.feeds")

#: The accepted rate is over the last minute, counted per second.
RATE_WINDOW_S = 60
#: A feed with no input for this long is "stale": devices report at least every minute or two when working.
STALE_AFTER_S = 300.0
#: A feed that quarantined something this recently is flagged "errors".
ERRORS_RECENT_S = 60.0
#: Quarantined items remembered per feed for the panel (all of them are in the dead-letter table).
RECENT_KEPT = 20
#: Bytes of each quarantined input shown in the panel (the table keeps them all).
RAW_SHOWN = 512
#: Distinct senders remembered per feed (a UDP feed may see many).
SOURCES_KEPT = 256
#: Distinct kinds of ignored input counted per feed; later kinds are counted under "other".
IGNORED_KINDS_KEPT = 64
#: Bytes of each quarantined input the table keeps (enough to see what it was; a datagram may be 64 KiB).
RAW_KEPT = 4096
#: More of the same (feed, source, code) within this long of a row's first input only count on that row.
REPEAT_WINDOW_S = 60.0
#: New quarantine rows a second, all feeds together; beyond it inputs are counted but not stored.
NEW_ROWS_PER_S = 20
#: Default size of the quarantine table (raw prefixes, reasons and row overhead), oldest rows pruned beyond it.
QUARANTINE_BUDGET = 64 * 1024 * 1024
#: Seconds between quarantine batch writes.
WRITE_EVERY_S = 0.25
#: Unknown sources listed in the report (the oldest heard of go first).
UNKNOWN_KEPT = 100

#: Writes a batch of quarantine rows and repeat counts, prunes to a budget: (rows, repeats, budget) ->
#: a future of the `QuarantineWrite`, or None once the hub is stopping.
Store = Callable[[list[QuarantineRow], dict[int, tuple[int, float]], int],
                 "concurrent.futures.Future[QuarantineWrite] | None"]


@dataclass(slots=True)
class UnknownSource:
    """A sender that is no registered device, as the supervisor's triage lists it."""

    feed: str
    source: str
    first_at: float
    last_at: float
    count: int
    sample: bytes

    def wire(self) -> dict[str, Any]:
        """The source in a `feeds` result (`unknown_devices`)."""
        return {"feed": self.feed, "source": self.source, "first_at": self.first_at, "last_at": self.last_at,
                "count": self.count, "sample_hex": self.sample.hex()}


@dataclass(slots=True)
class QuarantinedItem:
    """One refused input, as the panel shows it: the first RAW_SHOWN bytes and the full size."""

    at: float
    source: str
    code: str
    reason: str
    raw: bytes
    size: int
    agency: str = ALL_AGENCIES  # whose input it was: a feed account's agency, `*` for system feeds

    def visible_to(self, viewer: Viewer | None) -> bool:
        """Whether `viewer` may read this input (None: the hub itself)."""
        return viewer is None or viewer.supervisor or self.agency == viewer.agency

    def wire(self) -> dict[str, Any]:
        """The item in a `feeds` result: raw bytes as hex."""
        return {"at": self.at, "source": self.source, "code": self.code, "reason": self.reason,
                "size": self.size, "raw_hex": self.raw.hex()}


class FeedStatus:
    """One feed's counters and health. Call from the hub's loop only."""

    def __init__(self, name: str, label: str, clock: Callable[[], float]) -> None:
        self.name = name
        self.label = label or name
        self.clock = clock
        self.listening: list[str] = []
        self.received = 0
        self.accepted = 0
        self.ignored = 0
        #: Ignored input by kind ("GSV", "no_fix", "camera", ...): valid, but nothing the hub uses.
        self.ignored_kinds: dict[str, int] = {}
        self.quarantined = 0
        #: Inputs from senders that are no registered device, and inputs dropped by a rate limit.
        self.unknown = 0
        self.throttled = 0
        self.last_input_at: float | None = None
        #: The last time the feed could not be reached at all (a polled URL that failed), why, and the health it
        #: gives: "unreachable", or "stalled" (it answered too slowly to finish within the fetch deadline).
        self.problem: tuple[float, str, str] | None = None
        self.recent: deque[QuarantinedItem] = deque(maxlen=RECENT_KEPT)
        self.sources: OrderedDict[str, float] = OrderedDict()
        self._per_second: deque[list[int]] = deque(maxlen=RATE_WINDOW_S)  # [second, accepted in it]

    def input(self, source: str) -> None:
        """One record came in from `source` (counted whatever becomes of it)."""
        now = self.clock()
        self.received += 1
        self.last_input_at = now
        self.sources[source] = now
        self.sources.move_to_end(source)
        if len(self.sources) > SOURCES_KEPT:
            self.sources.popitem(last=False)

    def accept(self) -> None:
        """The record was applied."""
        self.accepted += 1
        second = int(self.clock())
        if self._per_second and self._per_second[-1][0] == second:
            self._per_second[-1][1] += 1
        else:
            self._per_second.append([second, 1])

    def unreachable(self, reason: str, health: str = "unreachable") -> None:
        """The feed's source could not be reached, or `health="stalled"`: it did not finish answering in time
        (nothing usable came in, so nothing is quarantined)."""
        self.problem = (self.clock(), reason, health)

    def ignore(self, kind: str) -> None:
        """The record was valid but carried nothing the hub uses (a GSV sentence, a CoT type it does not map,
        a fix sent before the receiver has one); `kind` says which, for the per-kind counts."""
        self.ignored += 1
        if kind not in self.ignored_kinds and len(self.ignored_kinds) >= IGNORED_KINDS_KEPT:
            kind = "other"
        self.ignored_kinds[kind] = self.ignored_kinds.get(kind, 0) + 1

    @property
    def last_error(self) -> QuarantinedItem | None:
        """The newest quarantined input."""
        return self.recent[-1] if self.recent else None

    def _recent_for(self, viewer: Viewer | None) -> list[QuarantinedItem]:
        """The remembered quarantined inputs `viewer` may read, newest first."""
        return [item for item in reversed(self.recent) if item.visible_to(viewer)]

    def rate_per_min(self, now: float) -> float:
        """Records accepted in the last minute."""
        since = int(now) - RATE_WINDOW_S
        return float(sum(n for second, n in self._per_second if second > since))

    def health(self, now: float) -> str:
        """errors (something quarantined in the last minute), unreachable or stalled (its source failed or
        stalled in the last minute), idle (nothing ever came), stale, or ok."""
        error = self.last_error
        if error is not None and now - error.at <= ERRORS_RECENT_S:
            return "errors"
        if self.problem is not None and now - self.problem[0] <= ERRORS_RECENT_S:
            return self.problem[2]
        if self.last_input_at is None:
            return "idle"
        if now - self.last_input_at > STALE_AFTER_S:
            return "stale"
        return "ok"

    def wire(self, now: float, items: int, viewer: Viewer | None = None) -> dict[str, Any]:
        """This feed in a `feeds` result, with its newest `items` quarantined inputs (newest first) that
        `viewer` may read; the counters and health are everyone's."""
        shown = self._recent_for(viewer)
        error = shown[0] if shown else None
        return {
            "name": self.name, "label": self.label, "listening": list(self.listening), "health": self.health(now),
            "sources": len(self.sources), "last_input_at": self.last_input_at, "received": self.received,
            "accepted": self.accepted, "ignored": self.ignored,
            "ignored_kinds": dict(self.ignored_kinds), "quarantined": self.quarantined,
            "unknown": self.unknown, "throttled": self.throttled,
            "rate_per_min": self.rate_per_min(now),
            "last_error": None if error is None else {"at": error.at, "source": error.source, "code": error.code,
                                                      "reason": error.reason},
            "problem": None if self.problem is None else {"at": self.problem[0], "reason": self.problem[1]},
            "recent": [item.wire() for item in shown[:items]],
        }


class FeedRegistry:
    """The hub's feeds by name. `quarantine` stores refused input through `store` (the log's writer thread)."""

    def __init__(self, clock: Callable[[], float], store: Store | None = None,
                 budget_bytes: int = QUARANTINE_BUDGET) -> None:
        self.clock = clock
        self.store = store
        self.budget_bytes = budget_bytes
        self.feeds: dict[str, FeedStatus] = {}
        self.unknown_sources: OrderedDict[tuple[str, str], UnknownSource] = OrderedDict()
        self._writes: set[concurrent.futures.Future[Any]] = set()
        self._last_id = 0
        #: (feed, source, code) -> (row id, when the row was opened) of the row repeats are counted on.
        self._open: dict[tuple[str, str, str], tuple[int, float]] = {}
        self._new_rows: list[QuarantineRow] = []
        self._repeats: dict[int, tuple[int, float]] = {}
        self._second = (0, 0)  # (second, new rows in it)
        self._write_handle: asyncio.TimerHandle | None = None
        self.not_stored = 0
        self.kept_bytes = 0
        self.pruned = 0
        self.pruning_since: float | None = None

    def feed(self, name: str, label: str = "") -> FeedStatus:
        """The feed called `name`, registered on first use (a later `label` replaces the first)."""
        status = self.feeds.get(name)
        if status is None:
            status = self.feeds[name] = FeedStatus(name, label, self.clock)
        elif label:
            status.label = label
        return status

    def quarantine(self, feed: str, source: str, code: str, reason: str, raw: bytes,
                   agency: str = ALL_AGENCIES) -> None:
        """Keep a refused input: counted, remembered for the panel, and stored (bounded: see the module).
        `agency`: whose input it was (a feed account's agency), which decides who may read it."""
        at = self.clock()
        status = self.feed(feed)
        status.quarantined += 1
        reason = reason[:500]
        status.recent.append(QuarantinedItem(at, source, code, reason, bytes(raw[:RAW_SHOWN]), len(raw), agency))
        log.debug("quarantined %s input from %s: %s: %s", feed, source, code, reason[:200])
        key = (feed, source, code)
        opened = self._open.get(key)
        if opened is not None and at - opened[1] <= REPEAT_WINDOW_S:
            pending = next((r for r in reversed(self._new_rows) if r.id == opened[0]), None)
            if pending is not None:
                pending.repeats += 1
                pending.last_at = at
            else:
                n, _ = self._repeats.get(opened[0], (0, at))
                self._repeats[opened[0]] = (n + 1, at)
        else:
            second, made = self._second
            if int(at) != second:
                second, made = int(at), 0
            if made >= NEW_ROWS_PER_S:
                self.not_stored += 1
                return
            self._second = (second, made + 1)
            self._last_id += 1
            self._new_rows.append(QuarantineRow(self._last_id, at, feed, source, code, reason, bytes(raw[:RAW_KEPT]),
                                                len(raw), 1, at))
            self._open[key] = (self._last_id, at)
            if len(self._open) > 4 * SOURCES_KEPT:  # forget the oldest open rows (their repeats are written)
                for old in list(self._open)[: SOURCES_KEPT]:
                    del self._open[old]
        self._schedule_write()

    def unknown_device(self, feed: str, source: str, raw: bytes) -> None:
        """Input from a sender that is no registered device (`source` without its port for UDP: one entry per
        host): counted, listed for triage, quarantined as `unknown_device`; never parsed."""
        at = self.clock()
        self.feed(feed).unknown += 1
        key = (feed, source)
        entry = self.unknown_sources.get(key)
        if entry is None:
            entry = self.unknown_sources[key] = UnknownSource(feed, source, at, at, 0, bytes(raw[:RAW_SHOWN]))
            if len(self.unknown_sources) > UNKNOWN_KEPT:
                self.unknown_sources.popitem(last=False)
        else:
            self.unknown_sources.move_to_end(key)
        entry.count += 1
        entry.last_at = at
        self.quarantine(feed, source, "unknown_device", f"{source} is not a registered {feed} device", raw)

    def _schedule_write(self) -> None:
        if self.store is None or self._write_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write()
            return
        self._write_handle = loop.call_later(WRITE_EVERY_S, self._write)

    def _write(self) -> None:
        self._write_handle = None
        rows, repeats = self._new_rows, self._repeats
        self._new_rows, self._repeats = [], {}
        if self.store is None or not (rows or repeats):
            return
        future = self.store(rows, repeats, self.budget_bytes)
        if future is not None:
            self._writes.add(future)
            future.add_done_callback(self._written)

    def _written(self, future: concurrent.futures.Future[QuarantineWrite]) -> None:
        # On the writer thread: plain attribute updates only.
        self._writes.discard(future)
        if future.cancelled() or future.exception() is not None:
            log.error("quarantine write failed: %s", future.exception())
            return
        result = future.result()
        self.kept_bytes = result.kept_bytes
        if result.pruned:
            if self.pruning_since is None:
                self.pruning_since = self.clock()
                log.warning("quarantine over its budget of %d bytes: pruning the oldest rows", self.budget_bytes)
            self.pruned += result.pruned

    async def flush(self) -> None:
        """Write what is pending and wait until every quarantine record submitted so far is written."""
        if self._write_handle is not None:
            self._write_handle.cancel()
        self._write()
        pending = [asyncio.wrap_future(f) for f in list(self._writes)]
        await asyncio.gather(*pending, return_exceptions=True)

    def seed(self, counts: dict[str, int], newest: Iterable[dict[str, Any]], last_id: int = 0) -> None:
        """Counts and newest items from the dead-letter table, so a restarted hub still shows them."""
        self._last_id = last_id
        for name, count in counts.items():
            self.feed(name).quarantined += count
        for row in sorted(newest, key=lambda r: r["id"]):
            raw = bytes(row["raw"])
            self.feed(row["feed"]).recent.append(QuarantinedItem(row["at"], row["source"], row["code"],
                                                                 row["reason"][:500], raw[:RAW_SHOWN],
                                                                 row.get("size") or len(raw)))

    def report(self, items: int = 10, viewer: Viewer | None = None) -> dict[str, Any]:
        """Every feed, unknown sources (newest first), and the quarantine's bounds, as the `feeds` query answers
        `viewer` (None: everything, for the hub itself)."""
        now = self.clock()
        alarm = None
        if self.pruning_since is not None:
            alarm = (f"quarantine over its budget ({self.budget_bytes} bytes) since {self.pruning_since:.0f}: "
                     f"{self.pruned} oldest rows pruned")
        return {"at": now, "feeds": [status.wire(now, items, viewer) for status in self.feeds.values()],
                # Raw samples of the hub's own listeners: supervisors only, as their quarantined items.
                "unknown_devices": [u.wire() for u in reversed(self.unknown_sources.values())]
                if viewer is None or viewer.supervisor else [],
                "quarantine": {"budget_bytes": self.budget_bytes, "kept_bytes": self.kept_bytes,
                               "pruned_rows": self.pruned, "not_stored": self.not_stored, "alarm": alarm}}
