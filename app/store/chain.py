"""The hash chains over the log's tables: events, snapshots, the access log and the quarantine.

Each row stores a SHA-256 over the hash of the row before it and its own fields, so editing, inserting or
removing a row inside a chain breaks it from there. A chain alone cannot show that its newest rows were removed,
or that every hash after an edit was recomputed: signed checkpoints (`app.store.checkpoints`) anchor the heads.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

GENESIS_HASH = "0" * 64
#: `meta` key prefix (+ chain name) of where a chain begins once rows were pruned from its start by policy.
START_KEY = "chain_start:"
_json = msgspec.json.Encoder()


def chain_hash(prev_hash: str, seq: int, ts: float, actor: str, kind: str, data: bytes,
               audience: bytes | None) -> str:
    """The hash that links an event to the one before it: editing any field breaks the chain from there."""
    h = hashlib.sha256()
    h.update(f"{prev_hash}|{seq}|{ts!r}|{actor}|{kind}|".encode())
    h.update(data)
    h.update(b"|")
    h.update(audience or b"")
    return h.hexdigest()


def blob_digest(blob: bytes) -> str:
    """The SHA-256 of a stored blob (a snapshot's picture, a quarantined input's raw bytes)."""
    return hashlib.sha256(blob).hexdigest()


def row_hash(prev_hash: str, fields: list[Any]) -> str:
    """The link of a snapshot, access-log or quarantine row: its fields as JSON (unambiguous) after `prev`."""
    return hashlib.sha256(prev_hash.encode() + b"|" + _json.encode(fields)).hexdigest()


def snapshot_fields(seq: int, ts: float, picture: bytes) -> list[Any]:
    """What a snapshot's link covers: where it stands and its picture's digest."""
    return [seq, ts, blob_digest(picture)]


def quarantine_fields(row_id: int, at: float, feed: str, source: str, code: str, reason: str,
                      raw: bytes) -> list[Any]:
    """What a quarantine row's link covers: every column, the raw input by its digest."""
    return [row_id, at, feed, source, code, reason, blob_digest(bytes(raw))]


@dataclass(frozen=True, slots=True)
class Chain:
    """One chained table: how to read its rows in order, and how a row's hash follows from the one before."""

    name: str
    table: str
    key: str
    columns: str  # selected in this order, then `hash`
    link: Callable[[str, tuple[Any, ...]], str]
    describe: Callable[[tuple[Any, ...]], str]
    consecutive: bool = False  # events are numbered 1, 2, 3...; other tables only increase


def _event_link(prev: str, r: tuple[Any, ...]) -> str:
    seq, ts, actor, kind, data, audience = r
    return chain_hash(prev, seq, ts, actor, kind, data.encode(), audience.encode() if audience else None)


EVENTS = Chain("events", "events", "seq", "seq, ts, actor, kind, data, audience", _event_link,
               lambda r: f"event {r[0]} ({r[3]} by {r[2]})", consecutive=True)
SNAPSHOTS = Chain("snapshots", "snapshots", "seq", "seq, ts, picture",
                  lambda prev, r: row_hash(prev, snapshot_fields(*r)), lambda r: f"snapshot at event {r[0]}")
ACCESS = Chain("access", "access_log", "id", "id, at, user, peer, what, outcome, detail",
               lambda prev, r: row_hash(prev, list(r)), lambda r: f"access-log row {r[0]} ({r[4]} by {r[2]})")
QUARANTINE = Chain("quarantine", "quarantine", "id", "id, at, feed, source, code, reason, raw",
                   lambda prev, r: row_hash(prev, quarantine_fields(*r)),
                   lambda r: f"quarantine row {r[0]} ({r[2]}: {r[4]})")
#: Every chain, in the order checkpoints list them.
CHAINS: tuple[Chain, ...] = (EVENTS, SNAPSHOTS, ACCESS, QUARANTINE)


@dataclass(slots=True)
class ChainBreak:
    """The first row whose hash does not follow from the one before it (`seq`: its key)."""

    seq: int
    reason: str


@dataclass(slots=True)
class Walk:
    """What walking a chain found: rows checked, the last good link, asked-for stored hashes, the first break."""

    checked: int
    last_key: int
    last_hash: str
    stored: dict[int, str] = field(default_factory=dict)
    broken: ChainBreak | None = None


def chain_start(conn: sqlite3.Connection, chain: Chain) -> tuple[int, str]:
    """Where a chain begins: (0, genesis), or the key and hash of the newest row pruned from its start by policy
    (the quarantine kept under its budget), which the pruning records in `meta` in the same transaction."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (START_KEY + chain.name,)).fetchone()
    except sqlite3.OperationalError:  # no meta table: a log nothing was ever pruned from
        row = None
    if row is None:
        return 0, GENESIS_HASH
    key, link = row[0].split(" ", 1)
    return int(key), link


def record_chain_start(conn: sqlite3.Connection, chain: Chain, key: int, link: str) -> None:
    """Note that the chain now begins after row `key` (hash `link`): call in the transaction that prunes it."""
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (START_KEY + chain.name, f"{key} {link}"))


def walk(conn: sqlite3.Connection, chain: Chain, after_key: int | None = None, after_hash: str = GENESIS_HASH,
         want: frozenset[int] = frozenset()) -> Walk:
    """Recompute the chain's rows after `after_key` (whose hash is `after_hash`; by default from the chain's
    start), keeping the hashes in `want`."""
    if after_key is None:
        after_key, after_hash = chain_start(conn, chain)
    result = Walk(0, after_key, after_hash)
    rows = conn.execute(f"SELECT {chain.columns}, hash FROM {chain.table} WHERE {chain.key} > ? "
                        f"ORDER BY {chain.key}", (after_key,))
    for row in rows:
        key, stored, fields = row[0], row[-1], tuple(row[:-1])
        if chain.consecutive and key != result.last_key + 1:
            result.broken = ChainBreak(result.last_key + 1, f"event {result.last_key + 1} is missing (next is {key})")
            return result
        if stored != chain.link(result.last_hash, fields):
            what = chain.describe(fields)
            why = "does not match its hash: it was altered, or an earlier link was" if stored else \
                "is not sealed into the chain (it has no hash)"
            result.broken = ChainBreak(key, f"{what} {why}")
            return result
        if key in want:
            result.stored[key] = stored
        result.checked += 1
        result.last_key, result.last_hash = key, stored
    return result


def head(conn: sqlite3.Connection, chain: Chain) -> tuple[int, str]:
    """The newest row's key and stored hash (the chain's start for an empty table)."""
    row = conn.execute(f"SELECT {chain.key}, hash FROM {chain.table} ORDER BY {chain.key} DESC LIMIT 1").fetchone()
    return (row[0], row[1] or GENESIS_HASH) if row else chain_start(conn, chain)


def link_before(conn: sqlite3.Connection, chain: Chain, key: int) -> tuple[int, str]:
    """The key and stored hash of the row just before `key` (the chain's start when there is none)."""
    row = conn.execute(f"SELECT {chain.key}, hash FROM {chain.table} WHERE {chain.key} < ? "
                       f"ORDER BY {chain.key} DESC LIMIT 1", (key,)).fetchone()
    return (row[0], row[1] or GENESIS_HASH) if row else chain_start(conn, chain)
