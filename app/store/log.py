"""The append-only event log in SQLite: one writer, many readers, a hash chain, snapshots.

The hub owns one `EventLog` and calls `append` from a single writer thread, one transaction per batch (group
commit), before it acknowledges or fans out anything in the batch: what a client has seen acknowledged is on
disk. Readers (resume, replay, review) open their own `LogReader` connections; WAL lets them read while the
writer writes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from app.domain.events import Event
from app.domain.picture import Picture
from app.store.schema import migrate

GENESIS_HASH = "0" * 64
_json = msgspec.json.Encoder()
_data_decoder = msgspec.json.Decoder(dict[str, Any])
_audience_decoder = msgspec.json.Decoder(list[str] | None)
_picture_decoder = msgspec.json.Decoder(Picture)


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with WAL and a busy timeout."""
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def chain_hash(prev_hash: str, seq: int, ts: float, actor: str, kind: str, data: bytes,
               audience: bytes | None) -> str:
    """The hash that links an event to the one before it: editing any field breaks the chain from there."""
    h = hashlib.sha256()
    h.update(f"{prev_hash}|{seq}|{ts!r}|{actor}|{kind}|".encode())
    h.update(data)
    h.update(b"|")
    h.update(audience or b"")
    return h.hexdigest()


def encode_picture(picture: Picture) -> bytes:
    """A compressed snapshot of a picture."""
    return zlib.compress(_json.encode(picture), 3)


def decode_picture(blob: bytes) -> Picture:
    """The picture in a snapshot blob."""
    return _picture_decoder.decode(zlib.decompress(blob))


def row_event(row: tuple[Any, ...]) -> Event:
    """The event in a row of (seq, ts, actor, kind, data, audience, ...)."""
    seq, ts, actor, kind, data, audience = row[:6]
    return Event(seq, ts, actor, kind, _data_decoder.decode(data),
                 _audience_decoder.decode(audience) if audience else None)


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


class EventLog:
    """The writer side of the log. Not thread-safe: call it from one thread (the hub's writer)."""

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.path)
        # FULL: a commit is on disk before the hub acknowledges it, even across a power cut. NORMAL
        # survives a killed process but not a power cut.
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        migrate(self.conn)
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self.head_seq: int = row[0] if row else 0
        self.head_hash: str = row[1] if row else GENESIS_HASH
        self._quarantine_bytes: int | None = None  # counted on the first quarantine write

    def append(self, batch: list[tuple[Event, str | None]]) -> None:
        """Store a batch of sequenced events in one transaction. `command` keys make resends idempotent.

        Events must continue the sequence exactly; anything else is a bug and raises before writing.
        """
        rows = []
        prev = self.head_hash
        expected = self.head_seq + 1
        for event, command in batch:
            if event.seq != expected:
                raise ValueError(f"event seq {event.seq} does not follow {expected - 1}")
            data = _json.encode(event.data)
            audience = _json.encode(event.audience) if event.audience is not None else None
            prev = chain_hash(prev, event.seq, event.ts, event.actor, event.kind, data, audience)
            rows.append((event.seq, event.ts, event.actor, event.kind, data.decode(),
                         audience.decode() if audience else None, command, prev))
            expected += 1
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        if rows:
            self.head_seq, self.head_hash = rows[-1][0], rows[-1][-1]

    def save_snapshot(self, picture: Picture) -> None:
        """Store the picture as of its `seq`, so rebuilding any later moment starts from here."""
        self.conn.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
                          (picture.seq, picture.at, encode_picture(picture)))

    def quarantine(self, rows: list[QuarantineRow], repeats: dict[int, tuple[int, float]],
                   budget_bytes: int) -> QuarantineWrite:
        """Keep refused inputs in one transaction: new `rows` (ids chosen by the caller, raw already cut to a
        prefix), `repeats` (row id -> (more of the same, last time)), then prune the oldest rows until the raw
        bytes kept fit `budget_bytes`. Returns what is kept and how many rows were pruned."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT INTO quarantine(id, at, feed, source, code, reason, raw, size, repeats, last_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(r.id, r.at, r.feed, r.source[:200], r.code[:100], r.reason[:2000], r.raw, r.size, r.repeats,
                  r.last_at) for r in rows])
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
                doomed: list[int] = []
                for row_id, size in self.conn.execute(f"SELECT id, {_ROW_BYTES} FROM quarantine ORDER BY id"):
                    if excess <= 0:
                        break
                    doomed.append(row_id)
                    excess -= size
                    self._quarantine_bytes -= size
                self.conn.executemany("DELETE FROM quarantine WHERE id = ?", [(i,) for i in doomed])
                pruned = len(doomed)
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._quarantine_bytes = None
            raise
        self.conn.execute("COMMIT")
        return QuarantineWrite(self._quarantine_bytes, pruned)

    def access(self, at: float, user: str, peer: str, what: str, outcome: str, detail: str = "") -> None:
        """Record a sign-in, a refusal or a disconnect in the access log (the audit of who tried what)."""
        self.conn.execute("INSERT INTO access_log(at, user, peer, what, outcome, detail) VALUES (?,?,?,?,?,?)",
                          (at, user[:100], peer[:100], what[:100], outcome[:100], detail[:2000]))

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


@dataclass(slots=True)
class ChainBreak:
    """The first event whose hash does not follow from the one before it."""

    seq: int
    reason: str


class LogReader:
    """Read side of the log: resume, replay, review, audit. One per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = connect(self.path, readonly=True)

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

    def latest_snapshot(self, at_or_before_seq: int | None = None,
                        at_or_before_ts: float | None = None) -> Picture | None:
        """The newest snapshot not after the given sequence number or time."""
        sql, params = "SELECT picture FROM snapshots WHERE 1=1", []
        if at_or_before_seq is not None:
            sql += " AND seq <= ?"
            params.append(at_or_before_seq)
        if at_or_before_ts is not None:
            sql += " AND ts <= ?"
            params.append(at_or_before_ts)
        row = self.conn.execute(sql + " ORDER BY seq DESC LIMIT 1", params).fetchone()
        return decode_picture(row[0]) if row else None

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
        """The newest quarantine row's id (0 if none): new rows are numbered on from it."""
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM quarantine").fetchone()[0]

    def access_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest access-log lines, newest first."""
        cols = ("id", "at", "user", "peer", "what", "outcome", "detail")
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM access_log ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def verify_chain(self) -> tuple[int, ChainBreak | None]:
        """Walk the hash chain; returns how many events were checked and the first break, if any."""
        prev, expected, checked = GENESIS_HASH, 1, 0
        rows = self.conn.execute("SELECT seq, ts, actor, kind, data, audience, hash FROM events ORDER BY seq")
        for seq, ts, actor, kind, data, audience, stored in rows:
            if seq != expected:
                return checked, ChainBreak(expected, f"event {expected} is missing (next is {seq})")
            h = chain_hash(prev, seq, ts, actor, kind, data.encode(), audience.encode() if audience else None)
            if h != stored:
                return checked, ChainBreak(seq, f"event {seq} ({kind} by {actor}) does not match its hash: "
                                                "it was altered, or an earlier link was")
            prev, expected, checked = stored, expected + 1, checked + 1
        return checked, None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
