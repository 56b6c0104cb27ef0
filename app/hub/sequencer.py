"""The sequencer: the one place where commands become events.

On the hub's loop it checks a command against the live picture (`decide`), numbers the resulting events,
folds them into the picture at once (so the next command sees them), and queues them for the writer thread.
The writer commits whole batches (group commit); only then are commands acknowledged and events published.
A resent command id returns its original events instead of applying twice; an id used before for a different
command (another name or other arguments) is refused (`id_reused`). The most recent ids are remembered in
memory; older ones are looked up in the log (indexed), so the guarantee holds across restarts in bounded memory.

When the disk refuses a batch (full, read-only, an I/O error) the hub does not die and does not guess: the
batch and everything sequenced after it are refused with `unavailable` (none of it was acknowledged), the
picture is rebuilt from what the log holds, and an alarm is raised (`alarm`: logged, and shown to consoles
in the `feeds` query). New commands are refused with `unavailable` at once while the alarm stands. Every
PROBE_EVERY_S the writer tries to record the outage in the access log; the first write that succeeds clears the
alarm and commands are taken again, with no restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from app.domain.agencies import Actor
from app.domain.decide import decide
from app.domain.errors import Refusal
from app.domain.events import Draft, Event
from app.domain.picture import Picture
from app.store.log import EventLog, LogReader, StoredEvent, encode_picture

log = logging.getLogger("watchfloor.hub")

#: Command ids remembered in memory, least recently used forgotten first (the log remembers them all).
RECENT_COMMANDS = 10_000
#: While the log cannot be written, how often the writer tries again.
PROBE_EVERY_S = 1.0


@dataclass(slots=True)
class Alarm:
    """The event log cannot be written: since when, and the error the disk gave."""

    since: float
    reason: str
    #: The batch may have reached the upstream log although it was not acknowledged (its answer was lost, or
    #: the local copy failed after it): then it is applied once however often it is resent under its id.
    maybe_applied: bool = False

    def refusal(self) -> Refusal:
        """What a command is answered with while the alarm stands."""
        if self.maybe_applied:
            return Refusal("unavailable", f"the hub cannot write its event log ({self.reason}); it may have been "
                                          "applied: send it again under the same id once the alarm clears (it is "
                                          "applied once)")
        return Refusal("unavailable", f"the hub cannot write its event log ({self.reason}); nothing was applied: "
                                      "try again once the alarm clears")

    def wire(self) -> dict[str, Any]:
        """The alarm as the `feeds` query shows it."""
        return {"code": "log_unavailable", "since": self.since, "reason": self.reason}


@dataclass(slots=True)
class Applied:
    """The outcome of an accepted command: its events' sequence numbers; `duplicate` for a resend."""

    seqs: list[int]
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Known:
    """A command applied before: its events, and the digest of its name and arguments (None when the log
    predates digests: then any resend is taken as the same command)."""

    seqs: list[int]
    digest: str | None


def body_digest(name: str, args: Any) -> str:
    """A digest of what a command asks for, stored with its id to tell a resend from a reused id."""
    return hashlib.sha256(name.encode() + b"\0" + msgspec.json.encode(args)).hexdigest()[:32]


class RecentCommands:
    """The command ids seen most recently, at most `capacity`; `lookup` asks the log for any other."""

    def __init__(self, lookup: Callable[[str], Known | None], capacity: int = RECENT_COMMANDS) -> None:
        self.lookup = lookup
        self.capacity = capacity
        self._recent: OrderedDict[str, Known] = OrderedDict()

    def get(self, key: str) -> Known | None:
        """What was applied under `key`, from memory or else from the log (one indexed read)."""
        known = self._recent.get(key)
        if known is None:
            known = self.lookup(key)
            if known is None:
                return None
        self.remember(key, known)
        return known

    def remember(self, key: str, known: Known) -> None:
        """Note a committed command."""
        self._recent[key] = known
        self._recent.move_to_end(key)
        while len(self._recent) > self.capacity:
            self._recent.popitem(last=False)

    def __len__(self) -> int:
        return len(self._recent)


class Upstream(Protocol):
    """The seam between the sequencer and a log kept elsewhere first (a replicated stream): the writer thread
    appends each batch there before it writes the local SQLite copy, and copies in what others appended.

    Without one, the SQLite log is the log (the embedded default); with one, it is this hub's copy of it."""

    #: The most events one append may carry (whole commands only).
    max_batch: int

    def extend(self, rows: list[StoredEvent], digests: dict[str, str]) -> None:
        """Store `rows` (chained, continuing the upstream's head) before returning; raise if they cannot be: an
        exception with `fenced = True` when none was stored because the head is not theirs (another writer)."""

    def catch_up(self, log_: EventLog) -> int:
        """Copy into `log_` every event upstream after its head; return how many."""


class Sequencer:
    """Decides, numbers, commits and publishes. Call `submit` only from the hub's event loop."""

    def __init__(self, log_: EventLog, picture: Picture, known_commands: RecentCommands,
                 publish: Callable[[list[Event]], None], clock: Callable[[], float],
                 agencies: frozenset[str], snapshot_every: int = 5000, judge_fixes: bool = True,
                 upstream: Upstream | None = None) -> None:
        self.log = log_
        self.upstream = upstream
        self.judge_fixes = judge_fixes  # intrusion detection (off for a sped-up simulation: see decide)
        self.picture = picture
        self.commands = known_commands
        self.publish = publish
        self.clock = clock
        self.agencies = agencies
        self.snapshot_every = snapshot_every
        self.committed_seq = log_.head_seq
        self.next_seq = log_.head_seq + 1
        self.last_snapshot_seq = picture.seq
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="wf-log-writer")
        self.alarm: Alarm | None = None
        self._pending: list[tuple[Event, str | None]] = []
        self._digests: list[tuple[str, str]] = []
        self._waiting: list[tuple[asyncio.Future[Applied], list[int], str | None, str]] = []
        self._inflight: dict[str, tuple[asyncio.Future[Applied], str]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.appended = 0

    def submit(self, actor: Actor, name: str, args: Any, command_key: str | None) -> asyncio.Future[Applied]:
        """Decide and sequence a command now; the future resolves once its events are committed.

        Raises `Refusal` (nothing applied) when the rules say no, when `command_key` was used before for another
        command (`id_reused`), or `unavailable` while the log cannot be written.
        """
        loop = asyncio.get_running_loop()
        if self.alarm is not None:
            raise self.alarm.refusal()
        digest = body_digest(name, args)
        if command_key is not None:
            inflight = self._inflight.get(command_key)
            if inflight is not None:
                _check_same(command_key, inflight[1], digest)
                return _resend_of(inflight[0])
            known = self.commands.get(command_key)
            if known is not None:
                _check_same(command_key, known.digest, digest)
                return self._answered(known)
        now = self.clock()
        try:
            drafts = decide(self.picture, actor, name, args, now, self.agencies, self.judge_fixes)
        except Refusal:
            raise
        except Exception as exc:  # a rule that breaks on some input (a bug): that command only, not the connection
            log.exception("the rule for %s failed; refused as internal", name)
            raise Refusal("internal", f"the hub failed on this {name} (the error is logged); nothing was "
                                      "applied") from exc
        return self._sequence(loop, actor.user, now, drafts, command_key, digest)

    def record(self, actor: str, drafts: list[Draft]) -> asyncio.Future[Applied]:
        """Sequence events the hub itself decided (its signal priority service: `app.domain.signal_priority`
        rules run on this picture, on this loop, just before); no client command can reach this path.
        Raises `unavailable` while the log cannot be written."""
        if self.alarm is not None:
            raise self.alarm.refusal()
        return self._sequence(asyncio.get_running_loop(), actor, self.clock(), drafts, None, "")

    def _sequence(self, loop: asyncio.AbstractEventLoop, user: str, now: float, drafts: list[Draft],
                  command_key: str | None, digest: str) -> asyncio.Future[Applied]:
        seqs = []
        for draft in drafts:
            event = Event(self.next_seq, now, user, draft.kind, draft.data, draft.audience)
            self.next_seq += 1
            self.picture.apply(event)
            self._pending.append((event, command_key))
            seqs.append(event.seq)
        future: asyncio.Future[Applied] = loop.create_future()
        self._waiting.append((future, seqs, command_key, digest))
        if command_key is not None:
            self._inflight[command_key] = (future, digest)
            if seqs:
                self._digests.append((command_key, digest))
        self._idle.clear()
        self._wake.set()
        return future

    async def run(self) -> None:
        """The flusher: commit whatever has accumulated, one transaction at a time, then publish it."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                self._idle.set()
                continue
            batch, waiting, digests = self._take()
            snapshot = None
            if self.picture.seq - self.last_snapshot_seq >= self.snapshot_every:
                # Taken now, when the picture is exactly the fold up to this batch's last event.
                snapshot = encode_picture(self.picture)
                self.last_snapshot_seq = self.picture.seq
            try:
                await loop.run_in_executor(self.writer, self._write, batch, digests, snapshot)
            except Exception as exc:  # the disk refused: refuse what it did not take, and wait for it
                await self._unavailable(exc, waiting)
                continue
            self.committed_seq = batch[-1][0].seq
            self.appended += len(batch)
            self.publish([event for event, _ in batch])
            for future, seqs, key, digest in waiting:
                if key is not None:
                    self.commands.remember(key, Known(seqs, digest))
                    self._inflight.pop(key, None)
                if not future.done():
                    future.set_result(Applied(seqs))
            if self._pending:
                self._wake.set()
            else:
                self._idle.set()

    def _take(self) -> tuple[list[tuple[Event, str | None]],
                             list[tuple[asyncio.Future[Applied], list[int], str | None, str]], list[tuple[str, str]]]:
        """The next batch to commit: everything pending, or (upstream) whole commands up to its largest append."""
        limit = self.upstream.max_batch if self.upstream is not None else None
        if limit is None or len(self._pending) <= limit:
            taken = self._pending, self._waiting, self._digests
            self._pending, self._waiting, self._digests = [], [], []
            return taken
        events = commands = 0
        for _, seqs, _, _ in self._waiting:
            if commands and events + len(seqs) > limit:
                break
            events += len(seqs)
            commands += 1
        keys = {key for _, _, key, _ in self._waiting[:commands]}
        batch, waiting = self._pending[:events], self._waiting[:commands]
        digests = [d for d in self._digests if d[0] in keys]
        self._pending, self._waiting = self._pending[events:], self._waiting[commands:]
        self._digests = [d for d in self._digests if d[0] not in keys]
        return batch, waiting, digests

    def applied_before(self, command_key: str) -> Known | None:
        """What was applied under `command_key`, if anything (committed or on its way to the log)."""
        inflight = self._inflight.get(command_key)
        return Known([], inflight[1]) if inflight is not None else self.commands.get(command_key)

    def resent(self, command_key: str) -> asyncio.Future[Applied]:
        """The answer to a resend of a command applied before under `command_key`, whatever its body."""
        inflight = self._inflight.get(command_key)
        if inflight is not None:
            return _resend_of(inflight[0])
        known = self.commands.get(command_key)
        assert known is not None, "resent() of a command never applied"
        return self._answered(known)

    def _answered(self, known: Known) -> asyncio.Future[Applied]:
        done: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        done.set_result(Applied(known.seqs, duplicate=True))
        return done

    async def _unavailable(self, exc: Exception,
                           waiting: list[tuple[asyncio.Future[Applied], list[int], str | None, str]]) -> None:
        """Refuse the batch the disk refused and all sequenced after it, rebuild the picture from the log, raise
        the alarm, and return once a probe write succeeds."""
        loop = asyncio.get_running_loop()
        # Refused by an upstream's head check, nothing of the batch was stored; any other upstream failure leaves
        # that open (an append whose answer was lost may land, and is found by the next catch-up).
        fenced = getattr(exc, "fenced", False)
        self.alarm = Alarm(self.clock(), f"{type(exc).__name__}: {exc}"[:300], self.upstream is not None and not fenced)
        log.critical("ALARM: the event log cannot be written (%s); commands are refused as unavailable until "
                     "it can; retrying every %.0f s", self.alarm.reason, PROBE_EVERY_S)
        waiting = waiting + self._waiting
        self._pending, self._waiting, self._digests = [], [], []
        refusal = self.alarm.refusal()
        for future, _, key, _ in waiting:
            if key is not None:
                self._inflight.pop(key, None)
            if not future.done():
                future.set_exception(refusal)
        self._idle.set()
        rebuilt = False
        while True:
            try:
                if not rebuilt:  # the picture without what the disk refused
                    self.picture = await loop.run_in_executor(self.writer, self._committed_picture)
                    self.next_seq = self.committed_seq + 1
                    self.last_snapshot_seq = min(self.last_snapshot_seq, self.picture.seq)
                    rebuilt = True
                await asyncio.sleep(PROBE_EVERY_S)
                await loop.run_in_executor(self.writer, self._probe)
                if self.log.head_seq > self.committed_seq:  # what other hubs appended upstream meanwhile
                    await self._caught_up()
            except Exception as again:
                log.debug("event log still not usable: %s", again)
                if not rebuilt:
                    await asyncio.sleep(PROBE_EVERY_S)
                continue
            log.warning("the event log is writable again after %.0f s; the alarm is cleared",
                        self.clock() - self.alarm.since)
            self.alarm = None
            return

    async def _caught_up(self) -> None:
        """After the local copy took events appended upstream by another hub: fold them into the picture and
        publish them, as if this hub had sequenced them."""
        loop = asyncio.get_running_loop()
        before = self.committed_seq
        self.committed_seq = self.log.head_seq
        self.picture = await loop.run_in_executor(self.writer, self._committed_picture)
        self.next_seq = self.committed_seq + 1
        self.publish(await loop.run_in_executor(self.writer, self._events_after, before))

    def _events_after(self, seq: int) -> list[Event]:
        reader = LogReader(self.log.path)
        try:
            return reader.events_since(seq)
        finally:
            reader.close()

    def _committed_picture(self) -> Picture:
        reader = LogReader(self.log.path)
        try:
            return reader.picture_at(seq=self.committed_seq)
        finally:
            reader.close()

    def _probe(self) -> None:
        """A real write: the outage into the access log, so the audit shows it too; with an upstream, the local
        copy brought up to it too (it must answer before commands are taken again)."""
        assert self.alarm is not None
        if self.upstream is not None:
            self.upstream.catch_up(self.log)
        self.log.access(self.alarm.since, "hub", "-", "event_log", "unavailable",
                        f"{self.alarm.reason}; writable again at {self.clock():.0f}")

    def _write(self, batch: list[tuple[Event, str | None]], digests: list[tuple[str, str]],
               snapshot: bytes | None) -> None:
        if self.upstream is None:
            self.log.append(batch, digests)
        else:  # the upstream first: only what it stored may be in the local copy
            rows = self.log.chain(batch)
            self.upstream.extend(rows, dict(digests))
            self.log.append_rows(rows, digests)
        if snapshot is not None:
            try:
                self.log.save_snapshot_blob(batch[-1][0].seq, batch[-1][0].ts, snapshot)
            except Exception as exc:  # the batch is committed; a snapshot is only a shortcut, taken again later
                log.warning("snapshot at %d not stored: %s", batch[-1][0].seq, exc)
                self.last_snapshot_seq = 0

    async def drain(self) -> None:
        """Wait until everything sequenced so far is committed."""
        await self._idle.wait()

    def close(self) -> None:
        """Stop the writer thread (after `drain`)."""
        self.writer.shutdown(wait=True)


def _check_same(command_key: str, applied: str | None, asked: str) -> None:
    if applied is not None and applied != asked:
        command_id = command_key.split("/", 1)[-1]
        raise Refusal("id_reused", f"command id {command_id!r} was used before for a different command; "
                                   "nothing was applied: send a new command under a new id")


def _resend_of(first: asyncio.Future[Applied]) -> asyncio.Future[Applied]:
    """The answer to a resend of a command still on its way to the log: its seqs, once committed."""
    resend: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()

    def relay(f: asyncio.Future[Applied]) -> None:
        failure = f.exception()
        if failure is None:
            resend.set_result(Applied(f.result().seqs, True))
        else:
            resend.set_exception(failure)

    first.add_done_callback(relay)
    return resend
