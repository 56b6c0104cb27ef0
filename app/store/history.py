"""The log's history, read for review: time span, windows of events, one incident's events, fixes for tracks.

Shared by the hub's history queries (on its own reader threads) and the offline `Replay` of a log file. Reads
that leave positions out use the index that leaves them out (schema version 2), so a busy day's millions of
fixes are never scanned for a timeline; track reads touch only the fix rows of their window and kind. What a
viewer may see of the rows is decided above this layer (`app.domain.visibility`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from app.domain import events as ev
from app.domain.events import Event
from app.store.log import LogReader, row_event

_COLUMNS = "seq, ts, actor, kind, data, audience"
_NOT_POSITION = f"kind != '{ev.UNIT_POSITION}'"  # spelled as the partial index's WHERE, so SQLite uses it

#: One point of a unit's or drone's track: (time of the fix, lat, lon).
TrackPoint = tuple[float, float, float]


class _UnitFix(msgspec.Struct):
    """The part of a position's data a track needs (msgspec skips the rest without building it)."""

    id: str = msgspec.field(name="unit")
    lat: float
    lon: float
    t: float | None = None


class _DroneFix(msgspec.Struct):
    """The part of a drone's telemetry a track needs."""

    id: str = msgspec.field(name="drone")
    lat: float
    lon: float
    t: float | None = None


@dataclass(slots=True)
class Tracks:
    """Fixes of a window: mover id -> its points in time order, and who reported them; `truncated` when a
    limit cut the window short."""

    points: dict[str, list[TrackPoint]] = field(default_factory=dict)
    reporters: dict[str, list[str]] = field(default_factory=dict)
    truncated: bool = False
    #: When cut short: the time stamp of the last event taken (the rest of the window starts there).
    until: float | None = None


#: Kind of fix -> the data field naming what moved.
_MOVER = {ev.UNIT_POSITION: "unit", ev.DRONE_TELEMETRY: "drone"}
_FIX_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    ev.UNIT_POSITION: msgspec.json.Decoder(_UnitFix), ev.DRONE_TELEMETRY: msgspec.json.Decoder(_DroneFix)}


class LogHistory:
    """History reads over one `LogReader`'s connection (so, one thread's)."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader
        self.conn: sqlite3.Connection = reader.conn
        has_index = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_ts_not_position'").fetchone()
        # Named, not left to the planner: without statistics it may prefer walking the whole table in seq
        # order to sorting a few thousand rows. A log no hub has opened since version 2 lacks the index.
        self._not_positions = "events INDEXED BY events_ts_not_position" if has_index else "events"

    def span(self) -> tuple[float, float] | None:
        """The times of the first and the last event (None for an empty log)."""
        first = self.conn.execute("SELECT ts FROM events ORDER BY ts LIMIT 1").fetchone()
        last = self.conn.execute("SELECT ts FROM events ORDER BY ts DESC LIMIT 1").fetchone()
        return None if first is None else (first[0], last[0])

    def events_between(self, t0: float, t1: float, kinds: Iterable[str] | None = None,
                       after_seq: int = 0) -> Iterator[Event]:
        """Events stamped between `t0` and `t1` (inclusive) after sequence number `after_seq`, in sequence
        order. `kinds=None`: every kind but `unit.position` (name the kind to get positions)."""
        wanted = None if kinds is None else sorted(set(kinds))
        if wanted is not None and ev.UNIT_POSITION in wanted:
            sql = f"SELECT {_COLUMNS} FROM events WHERE ts >= ? AND ts <= ? AND seq > ?"
        else:
            sql = (f"SELECT {_COLUMNS} FROM {self._not_positions} WHERE {_NOT_POSITION} AND ts >= ? AND ts <= ?"
                   " AND seq > ?")
        params: list[Any] = [t0, t1, after_seq]
        if wanted is not None:
            sql += f" AND kind IN ({','.join('?' * len(wanted))})"
            params += wanted
        return (row_event(r) for r in self.conn.execute(sql + " ORDER BY seq", params))

    def incident_created(self, incident_id: str) -> Event | None:
        """The event that created incident `incident_id` (None: the log holds no such incident)."""
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM {self._not_positions} WHERE {_NOT_POSITION} AND kind = ?"
            " AND json_extract(data, '$.id') = ? ORDER BY seq LIMIT 1", (ev.INCIDENT_CREATED, incident_id)).fetchone()
        return None if row is None else row_event(row)

    def events_from(self, created: Event) -> Iterator[Event]:
        """Every event but positions from `created` on, in sequence order: what an incident's history is
        picked from (`app.domain.incident_history`)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM {self._not_positions} WHERE {_NOT_POSITION} AND ts >= ? ORDER BY seq",
            (created.ts,))
        return (e for e in (row_event(r) for r in rows) if e.seq >= created.seq)

    def tracks(self, kind: str, t0: float, t1: float, movers: Iterable[str] | None = None,
               limit: int | None = None) -> Tracks:
        """Where units (`kind` unit.position) or drones (drone.telemetry) moved between `t0` and `t1`, from at
        most `limit` fixes in all.

        Reads only the fix rows of the window and decodes just mover, time and place from each."""
        mover = _MOVER[kind]
        sql = "SELECT ts, actor, data FROM events WHERE ts >= ? AND ts <= ? AND kind = ?"
        params: list[Any] = [t0, t1, kind]
        if movers is not None:
            wanted = sorted(set(movers))
            if not wanted:
                return Tracks()
            sql += f" AND json_extract(data, '$.{mover}') IN ({','.join('?' * len(wanted))})"
            params += wanted
        sql += " ORDER BY ts, seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit + 1)
        decoder = _FIX_DECODERS[kind]
        out = Tracks()
        reporters: dict[str, set[str]] = {}
        for taken, (ts, actor, data) in enumerate(self.conn.execute(sql, params)):
            if limit is not None and taken == limit:
                out.truncated = True
                break
            out.until = ts
            fix = decoder.decode(data)
            out.points.setdefault(fix.id, []).append((ts if fix.t is None else fix.t, fix.lat, fix.lon))
            reporters.setdefault(fix.id, set()).add(actor)
        out.reporters = {mover: sorted(actors) for mover, actors in reporters.items()}
        if not out.truncated:
            out.until = None
        return out

    def feed_accounts(self) -> frozenset[str]:
        """The accounts whose events are machine inputs: role `feed` in the users table (a log copied without
        it has none) and the registered field devices (their events are by `device:<id>`)."""
        try:
            rows = self.conn.execute("SELECT name FROM users WHERE role = 'feed'").fetchall()
        except sqlite3.DatabaseError:
            rows = []
        devices = self.conn.execute("SELECT 'device:' || json_extract(data, '$.id') FROM events "
                                    "WHERE kind = ?", (ev.DEVICE_REGISTERED,)).fetchall()
        return frozenset({*(r[0] for r in rows), *(r[0] for r in devices)})

    def reporters(self, t0: float, t1: float) -> dict[str, list[str]]:
        """Who reported each unit's positions between `t0` and `t1` (the actors behind the tracks)."""
        rows = self.conn.execute(
            "SELECT DISTINCT json_extract(data, '$.unit'), actor FROM events WHERE ts >= ? AND ts <= ? AND kind = ?",
            (t0, t1, ev.UNIT_POSITION))
        out: dict[str, list[str]] = {}
        for unit, actor in rows:
            out.setdefault(unit, []).append(actor)
        return {unit: sorted(actors) for unit, actors in out.items()}
