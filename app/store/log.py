"""The append-only event log in SQLite: one writer, many readers, a hash chain, snapshots.

The hub owns one `EventLog` and calls `append` from a single writer thread, one transaction per batch (group
commit), before it acknowledges or fans out anything in the batch: what a client has seen acknowledged is on
disk. Readers (resume, replay, review) open their own `LogReader` connections; WAL lets them read while the
writer writes.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from app.domain.events import Event
from app.domain.picture import FOLD_VERSION, Picture
from app.store.at_rest import create_private_file, make_private_dir, open_database, tighten
from app.store.chain import (
    ACCESS,
    EVENTS,
    GENESIS_HASH,
    QUARANTINE,
    SNAPSHOTS,
    Chain,
    ChainBreak,
    blob_digest,
    chain_hash,
    head,
    record_chain_start,
    row_hash,
    snapshot_fields,
    walk,
)
from app.store.schema import migrate

_json = msgspec.json.Encoder()
_data_decoder = msgspec.json.Decoder(dict[str, Any])
_audience_decoder = msgspec.json.Decoder(list[str] | None)
_picture_decoder = msgspec.json.Decoder(Picture)
#: Called with a snapshot's sequence number and why it is not served (its stored picture was altered).
ForgedSnapshot = Callable[[int, str], None]


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with WAL and a busy timeout.

    Through SQLCipher when this process has a database key (`app.store.at_rest`); `LogLockedError` (a
    `sqlite3.DatabaseError`) when the file cannot be read with the key it was given, or without one.
    """
    path = Path(path)
    if not readonly:
        make_private_dir(path.parent)
        if path.exists():
            tighten(path)
        else:
            create_private_file(path)  # SQLite gives the -wal and -shm files this file's mode
    conn = open_database(path, readonly)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class StaleSnapshot(ValueError):
    """A snapshot made by another version of the fold: never used."""


def fold_mark(version: int = FOLD_VERSION) -> bytes:
    """The bytes a snapshot blob of fold `version` starts with. Inside the blob, so the snapshots' hash chain
    (which covers the blob's digest) covers the version too."""
    return b"fold:%d\n" % version


def encode_picture(picture: Picture) -> bytes:
    """A snapshot of a picture: the fold's version, then the compressed picture."""
    return fold_mark() + zlib.compress(_json.encode(picture), 3)


def decode_picture(blob: bytes) -> Picture:
    """The picture in a snapshot blob of this fold's version; StaleSnapshot for any other (older snapshots
    carry no version at all)."""
    mark = fold_mark()
    if not blob.startswith(mark):
        raise StaleSnapshot(f"the snapshot was made by another version of the fold (this is {FOLD_VERSION})")
    return _picture_decoder.decode(zlib.decompress(blob[len(mark):]))



def row_event(row: tuple[Any, ...]) -> Event:
    """The event in a row of (seq, ts, actor, kind, data, audience, ...)."""
    seq, ts, actor, kind, data, audience = row[:6]
    return Event(seq, ts, actor, kind, _data_decoder.decode(data),
                 _audience_decoder.decode(audience) if audience else None)


def record_access(conn: sqlite3.Connection, at: float, user: str, peer: str, what: str, outcome: str,
                  detail: str = "") -> tuple[int, str]:
    """One line of the access log, each field cut to a bounded length, chained after the newest row; returns
    the chain's new head.

    The hub and `watchfloor user` (another process) both write here, so the newest row is read from the table
    in the same write transaction, never from a head cached in memory: neither can fork the chain or take the
    other's row id.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        row_id, prev = head(conn, ACCESS)
        row = (row_id + 1, at, user[:100], peer[:100], what[:100], outcome[:100], detail[:2000])
        link = ACCESS.link(prev, row)
        conn.execute("INSERT INTO access_log(id, at, user, peer, what, outcome, detail, hash) "
                     "VALUES (?,?,?,?,?,?,?,?)", (*row, link))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk may fail the COMMIT itself
            conn.execute("ROLLBACK")
        raise
    return row[0], link


#: The `meta` row that marks a log as made by `watchfloor demo` (which adds accounts with a published password).
DEMO_MARK = "demo_log"


def claim_demo_log(path: str | Path, own: bool = False) -> None:
    """Make `path` the demo's log: a new (or empty) file is created and marked as the demo's; an existing log
    must carry the mark, unless it is the demo's `own` default file. Raises ValueError otherwise."""
    path = Path(path)
    fresh = not path.exists() or path.stat().st_size == 0
    if not fresh and not own:
        try:
            conn = connect(path, readonly=True)  # an unreadable file is refused here (LogLockedError)
            try:
                has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
                marked = has_meta and conn.execute("SELECT 1 FROM meta WHERE key = ?", (DEMO_MARK,)).fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{path} is not a Watchfloor log ({exc})") from None
        if not marked:
            raise ValueError(f"{path} is not a demo log: the demo adds accounts with a published password, so it "
                             "runs only on a log of its own; leave out --db, or give a file that does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        migrate(conn)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (DEMO_MARK,))
    finally:
        conn.close()


#: What one quarantine row costs, counted against the quarantine's budget (raw prefix, reason, the rest).
_ROW_OVERHEAD = 100
_ROW_BYTES = f"length(raw) + length(reason) + {_ROW_OVERHEAD}"


@dataclass(slots=True)
class QuarantineRow:
    """One refused datagram or frame: a prefix of its bytes (`raw`), its full `size`, and its repeats."""

    id: int
    at: float
    feed: str
    source: str
    code: str
    reason: str
    raw: bytes
    size: int
    repeats: int = 1
    last_at: float | None = None


@dataclass(slots=True)
class QuarantineWrite:
    """After a quarantine write: the bytes the table holds (as the budget counts them), rows pruned now."""

    kept_bytes: int
    pruned: int


class StoredEvent(NamedTuple):
    """One event as the log stores it: its fields (data and audience as the JSON text the hash covers), the
    command that produced it (`user/id`), and its link in the hash chain."""

    seq: int
    ts: float
    actor: str
    kind: str
    data: str
    audience: str | None
    command: str | None
    hash: str


class EventLog:
    """The writer side of the log. Not thread-safe: call it from one thread (the hub's writer)."""

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        # FULL: a commit is on disk before the hub acknowledges it, even across a power cut. NORMAL
        # survives a killed process but not a power cut.
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        migrate(self.conn)
        self.head_seq, self.head_hash = head(self.conn, EVENTS)
        #: The newest key and hash of each side chain (snapshots, access log, quarantine).
        self.heads: dict[str, tuple[int, str]] = {c.name: self._seal_legacy(c) for c in (SNAPSHOTS, ACCESS,
                                                                                          QUARANTINE)}
        #: seq -> picture digest of the snapshots this log may serve: those its hub wrote, and the one a signed
        #: checkpoint vouches for (added by the hub's audit check). Read by reader threads.
        self.trusted_snapshots: dict[int, str] = {}
        self._quarantine_bytes: int | None = None  # counted on the first quarantine write

    def _seal_legacy(self, chain: Chain) -> tuple[int, str]:
        """The chain's head; a table from before schema 3 (no row has a hash yet) is sealed into its chain first."""
        if self.conn.execute(f"SELECT 1 FROM {chain.table} WHERE hash IS NOT NULL LIMIT 1").fetchone() is None:
            prev = GENESIS_HASH
            self.conn.execute("BEGIN IMMEDIATE")
            for row in self.conn.execute(f"SELECT {chain.columns} FROM {chain.table} ORDER BY {chain.key}"
                                         ).fetchall():
                prev = chain.link(prev, tuple(row))
                self.conn.execute(f"UPDATE {chain.table} SET hash = ? WHERE {chain.key} = ?", (prev, row[0]))
            self.conn.execute("COMMIT")
        return head(self.conn, chain)

    def append(self, batch: list[tuple[Event, str | None]], digests: list[tuple[str, str]] | None = None) -> None:
        """Store a batch of sequenced events in one transaction. `command` keys make resends idempotent;
        `digests` (command key, digest of its name and arguments) let a reused key be told from a resend.

        Events must continue the sequence exactly; anything else is a bug and raises before writing.
        """
        self.append_rows(self.chain(batch), digests)

    def chain(self, batch: list[tuple[Event, str | None]]) -> list[StoredEvent]:
        """The batch as stored rows, each linked to the one before it, continuing this log's head (not written).

        Raises ValueError when the events do not continue the sequence exactly (a bug)."""
        rows = []
        prev = self.head_hash
        expected = self.head_seq + 1
        for event, command in batch:
            if event.seq != expected:
                raise ValueError(f"event seq {event.seq} does not follow {expected - 1}")
            data = _json.encode(event.data)
            audience = _json.encode(event.audience) if event.audience is not None else None
            prev = chain_hash(prev, event.seq, event.ts, event.actor, event.kind, data, audience)
            rows.append(StoredEvent(event.seq, event.ts, event.actor, event.kind, data.decode(),
                                    audience.decode() if audience else None, command, prev))
            expected += 1
        return rows

    def append_rows(self, rows: list[StoredEvent], digests: list[tuple[str, str]] | None = None) -> None:
        """Store rows made by `chain` (here or by another hub: a replicated log's copy) in one transaction.

        Each row must continue this log's head and carry the hash that follows from it; a row that does not is
        refused (ChainBreak-worthy ValueError) before anything is written, so a copy never forks its chain."""
        prev, expected = self.head_hash, self.head_seq + 1
        for row in rows:
            link = chain_hash(prev, row.seq, row.ts, row.actor, row.kind, row.data.encode(),
                              row.audience.encode() if row.audience is not None else None)
            if row.seq != expected or row.hash != link:
                raise ValueError(f"event {row.seq} does not continue this log at {expected - 1} with its hash")
            prev, expected = link, expected + 1
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if digests:
                self.conn.executemany("INSERT OR IGNORE INTO command_digests(command, digest) VALUES (?, ?)",
                                      digests)
            self.conn.execute("COMMIT")
        except BaseException:
            # A full disk may fail the COMMIT itself, and SQLite may or may not have rolled back already.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if rows:
            self.head_seq, self.head_hash = rows[-1].seq, rows[-1].hash

    def save_snapshot(self, picture: Picture) -> None:
        """Store the picture as of its `seq`, so rebuilding any later moment starts from here."""
        self.save_snapshot_blob(picture.seq, picture.at, encode_picture(picture))

    def save_snapshot_blob(self, seq: int, ts: float, blob: bytes) -> None:
        """Store an encoded picture as of `seq`, chained after the newest snapshot (one at or before it is kept)."""
        last, prev = self.heads[SNAPSHOTS.name]
        if seq <= last:
            return  # a picture is a fold of the events up to its seq: the stored one is the same picture
        link = row_hash(prev, snapshot_fields(seq, ts, blob))
        self.conn.execute("INSERT INTO snapshots(seq, ts, picture, hash) VALUES (?, ?, ?, ?)", (seq, ts, blob, link))
        self.heads[SNAPSHOTS.name] = (seq, link)
        self.trusted_snapshots[seq] = blob_digest(blob)

    def quarantine(self, rows: list[QuarantineRow], repeats: dict[int, tuple[int, float]],
                   budget_bytes: int) -> QuarantineWrite:
        """Keep refused inputs in one transaction: new `rows` (ids chosen by the caller, raw already cut to a
        prefix), chained after the newest row; `repeats` (row id -> (more of the same, last time)); then prune the
        oldest rows until the raw bytes kept fit `budget_bytes`. Returns what is kept and how many rows were pruned.

        A row's link covers what it was (its fields and the digest of its kept bytes), not its repeat counter,
        which grows later. Pruning takes rows from the chain's start and records, in the same transaction, the
        newest pruned row's key and hash as where the chain now begins (`chain_start`), so an audit still checks
        every row that is kept, and a row removed any other way is still a break.
        """
        last_key, prev = self.heads[QUARANTINE.name]
        values = []
        for r in rows:
            fields = (r.id, r.at, r.feed, r.source[:200], r.code[:100], r.reason[:2000], bytes(r.raw))
            prev = QUARANTINE.link(prev, fields)
            values.append((*fields, r.size, r.repeats, r.last_at, prev))
            last_key = r.id
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT INTO quarantine(id, at, feed, source, code, reason, raw, size, repeats, last_at, hash) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)
            self.conn.executemany("UPDATE quarantine SET repeats = repeats + ?, last_at = ? WHERE id = ?",
                                  [(n, last, row_id) for row_id, (n, last) in repeats.items()])
            if self._quarantine_bytes is None:
                self._quarantine_bytes = self.conn.execute(
                    f"SELECT COALESCE(SUM({_ROW_BYTES}), 0) FROM quarantine").fetchone()[0]
            else:
                self._quarantine_bytes += sum(len(r.raw) + len(r.reason) + _ROW_OVERHEAD for r in rows)
            pruned = 0
            if self._quarantine_bytes > budget_bytes:
                # Oldest first, down to 90% of the budget so that pruning does not run on every batch.
                excess = self._quarantine_bytes - budget_bytes * 9 // 10
                doomed: list[tuple[int, str]] = []
                for row_id, size, link in self.conn.execute(
                        f"SELECT id, {_ROW_BYTES}, hash FROM quarantine ORDER BY id"):
                    if excess <= 0:
                        break
                    doomed.append((row_id, link))
                    excess -= size
                    self._quarantine_bytes -= size
                if doomed:
                    self.conn.executemany("DELETE FROM quarantine WHERE id = ?", [(i,) for i, _ in doomed])
                    record_chain_start(self.conn, QUARANTINE, *doomed[-1])
                pruned = len(doomed)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._quarantine_bytes = None
            raise
        if values:
            self.heads[QUARANTINE.name] = (last_key, prev)
        return QuarantineWrite(self._quarantine_bytes, pruned)

    def access(self, at: float, user: str, peer: str, what: str, outcome: str, detail: str = "") -> None:
        """Record a sign-in, a refusal or a disconnect in the access log (the audit of who tried what)."""
        self.heads[ACCESS.name] = record_access(self.conn, at, user, peer, what, outcome, detail)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class LogReader:
    """Read side of the log: resume, replay, review, audit. One per thread."""

    def __init__(self, path: str | Path, trusted_snapshots: dict[int, str] | None = None,
                 forged: ForgedSnapshot | None = None) -> None:
        """With `trusted_snapshots` (seq -> picture digest), only those snapshots are served, and only while
        their picture still has that digest; `forged` hears of any that does not (a hub raises its alarm)."""
        self.path = Path(path)
        self.conn = connect(self.path, readonly=True)
        self.trusted_snapshots = trusted_snapshots
        self.forged = forged

    def head(self) -> int:
        """The newest sequence number (0 for an empty log)."""
        row = self.conn.execute("SELECT MAX(seq) FROM events").fetchone()
        return row[0] or 0

    def events_since(self, seq: int, limit: int | None = None) -> list[Event]:
        """Events with sequence number greater than `seq`, oldest first."""
        sql = "SELECT seq, ts, actor, kind, data, audience FROM events WHERE seq > ? ORDER BY seq"
        params: tuple[Any, ...] = (seq,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (seq, limit)
        return [row_event(r) for r in self.conn.execute(sql, params)]

    def stored_events(self, after_seq: int, limit: int) -> list[tuple[StoredEvent, str | None]]:
        """Up to `limit` events after `after_seq` as stored (with command and hash), each with its command's
        digest (None without one): what a copy of the log needs to carry on the same chain."""
        rows = self.conn.execute(
            "SELECT e.seq, e.ts, e.actor, e.kind, e.data, e.audience, e.command, e.hash, d.digest FROM events e "
            "LEFT JOIN command_digests d ON d.command = e.command WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            (after_seq, limit)).fetchall()
        return [(StoredEvent(*row[:8]), row[8]) for row in rows]

    def iter_events(self, after_seq: int = 0, until_seq: int | None = None, until_ts: float | None = None,
                    kinds: tuple[str, ...] | None = None) -> Iterator[Event]:
        """Stream events in order, optionally bounded by sequence or time and filtered by kind."""
        sql = "SELECT seq, ts, actor, kind, data, audience FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if until_seq is not None:
            sql += " AND seq <= ?"
            params.append(until_seq)
        if until_ts is not None:
            sql += " AND ts <= ?"
            params.append(until_ts)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        for row in self.conn.execute(sql + " ORDER BY seq", params):
            yield row_event(row)

    def command_seqs(self, command: str) -> list[int]:
        """The events a command produced, if it was applied already (the resend check)."""
        return [r[0] for r in self.conn.execute("SELECT seq FROM events WHERE command = ? ORDER BY seq",
                                                (command,))]

    def command_record(self, command: str) -> tuple[list[int], str | None] | None:
        """The events a command produced and the digest of its body (None in logs older than digests), or
        None when no command was applied under this key."""
        seqs = self.command_seqs(command)
        if not seqs:
            return None
        row = self.conn.execute("SELECT digest FROM command_digests WHERE command = ?", (command,)).fetchone()
        return seqs, row[0] if row else None

    def latest_snapshot(self, at_or_before_seq: int | None = None,
                        at_or_before_ts: float | None = None) -> Picture | None:
        """The newest snapshot of this fold's version not after the given sequence number or time (among the
        trusted ones, if given). Snapshots of another version are passed over, unread."""
        mark = fold_mark()
        if self.trusted_snapshots is None:
            sql = "SELECT picture FROM snapshots WHERE substr(picture, 1, ?) = ?"
            params: list[Any] = [len(mark), mark]
            if at_or_before_seq is not None:
                sql += " AND seq <= ?"
                params.append(at_or_before_seq)
            if at_or_before_ts is not None:
                sql += " AND ts <= ?"
                params.append(at_or_before_ts)
            row = self.conn.execute(sql + " ORDER BY seq DESC LIMIT 1", params).fetchone()
            return decode_picture(row[0]) if row else None
        trusted = self.trusted_snapshots.copy()  # the writer thread adds to it
        for seq in sorted(trusted, reverse=True):
            if at_or_before_seq is not None and seq > at_or_before_seq:
                continue
            row = self.conn.execute("SELECT ts, picture FROM snapshots WHERE seq = ? AND substr(picture, 1, ?) = ?",
                                    (seq, len(mark), mark)).fetchone()
            if row is None and self.conn.execute("SELECT 1 FROM snapshots WHERE seq = ?", (seq,)).fetchone():
                continue  # of another fold's version: vouched for, but not this hub's to use
            if row is None:
                self._refuse(seq, "it was removed from the log")
            elif blob_digest(row[1]) != trusted[seq]:
                self._refuse(seq, "its stored picture was altered")
            elif at_or_before_ts is None or row[0] <= at_or_before_ts:
                return decode_picture(row[1])
        return None

    def _refuse(self, seq: int, why: str) -> None:
        assert self.trusted_snapshots is not None
        self.trusted_snapshots.pop(seq, None)  # once: the picture is folded from events from now on
        if self.forged is not None:
            self.forged(seq, why)

    def seq_at(self, ts: float) -> int:
        """The newest event at or before time `ts` (0 if none): one step down the time index.

        The hub stamps events in sequence order, so "up to this time" is "up to this sequence number"; a
        bound on seq lets a fold stop at once instead of filtering the rest of the log by time.
        """
        row = self.conn.execute("SELECT seq FROM events WHERE ts <= ? ORDER BY ts DESC, seq DESC LIMIT 1",
                                (ts,)).fetchone()
        return row[0] if row else 0

    def picture_at(self, seq: int | None = None, ts: float | None = None) -> Picture:
        """The full picture as it was after event `seq`, or at time `ts` (the earlier of both limits)."""
        if ts is not None:
            seq = self.seq_at(ts) if seq is None else min(seq, self.seq_at(ts))
        picture = self.latest_snapshot(seq) or Picture()
        return picture.apply_all(self.iter_events(picture.seq, until_seq=seq))

    def quarantined(self, feed: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest quarantined inputs, newest first."""
        cols = ("id", "at", "feed", "source", "code", "reason", "raw", "size", "repeats", "last_at")
        sql = f"SELECT {', '.join(cols)} FROM quarantine"
        params: list[Any] = []
        if feed:
            sql += " WHERE feed = ?"
            params.append(feed)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def quarantine_counts(self) -> dict[str, int]:
        """How many inputs each feed has had quarantined (repeats included) among the rows kept."""
        return dict(self.conn.execute("SELECT feed, SUM(repeats) FROM quarantine GROUP BY feed").fetchall())

    def quarantine_last_id(self) -> int:
        """The newest quarantine row's id (or, once every row was pruned, the last pruned one's; 0 if none): new
        rows are numbered on from it."""
        return head(self.conn, QUARANTINE)[0]

    def access_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest access-log lines, newest first."""
        cols = ("id", "at", "user", "peer", "what", "outcome", "detail")
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM access_log ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def meta(self, key: str) -> str | None:
        """A value the log keeps about itself (schema version, the audit key), or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def verify_chain(self) -> tuple[int, ChainBreak | None]:
        """Walk the events' hash chain; returns how many events were checked and the first break, if any.

        This shows edits inside the chain; `app.store.checkpoints.audit_log` also checks the other tables and the
        signed checkpoints that catch a removed tail or a chain recomputed from an edit on.
        """
        result = walk(self.conn, EVENTS)
        return result.checked, result.broken

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
