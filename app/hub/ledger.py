"""The feeds' ledger: per-feed counters and the quarantine of refused input, shared by every feed the hub runs
(CoT, NMEA, MAVLink listeners; CAP fetch, file drop and websocket submissions).

A refused input is written to the event log's `quarantine` table with its raw bytes, source, feed, code and
reason, on the log's writer thread (the hub's loop never waits on the disk), and counted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

log = logging.getLogger("watchfloor.feeds")


class FeedLedger:
    """`stats[feed]` counts received, applied, quarantined, ignored (and duplicate) and holds last_error."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.stats: dict[str, dict[str, Any]] = {}
        self._writes: set[concurrent.futures.Future[Any]] = set()

    def feed(self, name: str) -> dict[str, Any]:
        """The counters of one feed (created at zero on first use)."""
        stats = self.stats.get(name)
        if stats is None:
            stats = self.stats[name] = {"received": 0, "applied": 0, "quarantined": 0, "ignored": 0,
                                        "duplicate": 0, "last_error": None}
        return stats

    def quarantine(self, feed: str, source: str, code: str, reason: str, raw: bytes) -> None:
        """Record a refused input (on the log's writer thread) and count it."""
        stats = self.feed(feed)
        stats["quarantined"] += 1
        stats["last_error"] = f"{code}: {reason}"[:300]
        log.info("quarantined %s input from %s: %s: %s", feed, source, code, reason[:200])
        try:
            future = self.hub.sequencer.writer.submit(self.hub.log.quarantine, self.hub.clock(), feed, source, code,
                                                      reason, bytes(raw))
        except RuntimeError:  # the writer is shut down: the hub is stopping
            return
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait until every quarantine record submitted so far is written."""
        pending = [asyncio.wrap_future(f) for f in list(self._writes)]
        await asyncio.gather(*pending, return_exceptions=True)
