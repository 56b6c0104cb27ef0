"""The hub's side of the anchored audit trail: check the log at start, sign checkpoints, raise the alarm.

At start the hub checks the log incrementally against its last signed checkpoint (each chain's signed head still
stands, and what was written after it links up) instead of walking the whole log every time; `watchfloor audit
verify` is the full walk. If the check fails the hub still starts, because a control room needs its picture,
but with the alarm raised: logged at CRITICAL, written to the access log, counted (`audit_alarm` in the hub's
stats), and no checkpoint is signed while it stands, so a forgery is never anchored. A snapshot is served only
if a signed checkpoint vouches for it or this hub wrote it, and only while its picture is unchanged; otherwise
the picture is folded from the events, and the alarm raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from app.store.chain import SNAPSHOTS
from app.store.checkpoints import (
    META_KEY,
    Audit,
    Notary,
    audit_dir,
    audit_log,
    audit_since,
    read_checkpoints,
    vouch_for_snapshot,
)
from app.store.log import EventLog, LogReader

log = logging.getLogger("watchfloor.hub")

#: Seconds between checkpoints while events keep coming (one more is signed when the hub stops).
CHECKPOINT_EVERY = 60.0


class Anchor:
    """Signs checkpoints of one `EventLog` and keeps the audit alarms. Checks run on a reader thread; signing
    runs on the log's writer thread (or after it stopped)."""

    def __init__(self, log_: EventLog, clock: Callable[[], float], alarm: Callable[[str], None]) -> None:
        self.log = log_
        self.clock = clock
        self.notary = Notary(audit_dir(log_.path))
        self._alarm = alarm
        self.alarms: list[str] = []
        self._signed: dict[str, tuple[int, str]] = {}  # the heads of the last checkpoint this hub signed

    def check(self, reader: LogReader) -> Audit:
        """Check the log against the last signed checkpoint (on a reader thread, before the hub serves)."""
        recorded = reader.meta(META_KEY)
        signed = read_checkpoints(self.notary.checkpoints, recorded or self.notary.public_key)
        if recorded is not None and recorded != self.notary.public_key:
            self.raise_alarm(f"the audit key in {self.notary.folder} is not the one that anchors this log")
        for problem in signed.problems:
            self.raise_alarm(problem)
        newest = signed.newest()
        if newest is not None:
            audit = audit_since(reader.conn, newest)
        else:
            if reader.head() > 0 and recorded is not None:
                self.raise_alarm(f"the checkpoints of this log are gone from {self.notary.checkpoints}")
            elif reader.head() > 0:
                log.warning("the log has no signed checkpoint yet: checking it whole, then anchoring it")
            audit = audit_log(reader.conn, [])
            snapshot = audit.heads[SNAPSHOTS.name]
            if not audit.problems and snapshot[0]:  # checked whole just now: its newest snapshot may serve
                audit.anchored_snapshot = vouch_for_snapshot(reader.conn, *snapshot)
        for problem in audit.problems:
            self.raise_alarm(problem)
        if audit.anchored_snapshot is not None and not self.alarms:
            seq, digest = audit.anchored_snapshot
            self.log.trusted_snapshots[seq] = digest
        return audit

    def raise_alarm(self, problem: str) -> None:
        """Sound the audit alarm (from any thread): the log was tampered with, or cannot be vouched for."""
        self.alarms.append(problem)
        log.critical("AUDIT ALARM: %s", problem)
        self._alarm(problem)

    def forged_snapshot(self, seq: int, why: str) -> None:
        """A reader refused a snapshot (see `LogReader`): the picture is folded from events instead."""
        self.raise_alarm(f"the snapshot at event {seq} is not served: {why}")

    def sign(self) -> None:
        """Sign the log's current heads, unless nothing changed or an alarm stands (call on the writer thread)."""
        if self.alarms:
            return
        heads = {"events": (self.log.head_seq, self.log.head_hash), **self.log.heads}
        if heads == self._signed:
            return
        if not self._signed:  # this run's first checkpoint: the log remembers which key anchors it
            self.log.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                  (META_KEY, self.notary.public_key))
        self.notary.sign(heads, self.clock())
        self._signed = heads

    async def run(self, writer: Any, every: float = CHECKPOINT_EVERY) -> None:
        """Sign a checkpoint now, then every `every` seconds, on the writer thread (`writer`: its executor)."""
        loop = asyncio.get_running_loop()
        while True:
            await loop.run_in_executor(writer, self.sign)
            await asyncio.sleep(every)
