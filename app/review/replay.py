"""Replay: the picture at any moment of a stored log, the tracks units drove, and the events of a window.

A `Replay` reads a log file through its own read-only connection (WAL lets it read while a live hub writes,
and it never takes a write lock), so a supervisor can review the shift that is still running. Seeking is
fast because nothing is folded from the start: the hub stores a snapshot every 5,000 events, so the picture
at time T is the newest snapshot at or before T plus a fold of at most 5,000 events, bounded by sequence
number (one step down the time index finds it). Tracks read only position rows of the window and decode
just unit, time and place from each (never a whole event); timelines and incident histories read the
index that leaves positions out (schema version 2), so a busy day's millions of fixes are never scanned.

With a `viewer`, everything is what that viewer may see: the picture through `Picture.visible_to` (exactly
what a console of that agency receives when it connects at T) and events through the visibility rule
(`app.domain.visibility.seen_by`: left out, or redacted, as the hub's fan-out sent them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from app.domain import events as ev
from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.domain.visibility import seen_by
from app.store.log import LogReader, row_event

#: One point of a unit's track: (time of the fix, lat, lon).
TrackPoint = tuple[float, float, float]

_COLUMNS = "seq, ts, actor, kind, data, audience"
_NOT_POSITION = f"kind != '{ev.UNIT_POSITION}'"  # spelled as the partial index's WHERE, so SQLite uses it
_RELEASED = ("available", "out_of_service")  # unit statuses that free a unit from its incident


class _Fix(msgspec.Struct):
    """The part of a position's data a track needs (msgspec skips the rest without building it)."""

    unit: str
    lat: float
    lon: float
    t: float | None = None


_fix_decoder = msgspec.json.Decoder(_Fix)


class ReviewError(Exception):
    """A log that cannot be reviewed (missing, not a Watchfloor log) or an item it does not hold."""


class Replay:
    """Read-only review of one log file, optionally as one viewer (agency) sees it."""

    def __init__(self, path: str | Path, viewer: Viewer | None = None) -> None:
        self.path = Path(path)
        self.viewer = viewer
        if not self.path.is_file():
            raise ReviewError(f"there is no log file {self.path}")
        try:
            self._reader = LogReader(self.path)
            self._reader.conn.execute("SELECT seq FROM events LIMIT 1").fetchall()
            has_index = self._reader.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_ts_not_position'").fetchone()
        except sqlite3.DatabaseError as exc:  # not SQLite at all, or SQLite without an event log
            raise ReviewError(f"{self.path} is not a Watchfloor log ({exc})") from None
        # Named, not left to the planner: without statistics it may prefer walking the whole table in seq
        # order to sorting a few thousand rows. A log no hub has opened since version 2 lacks the index.
        self._not_positions = "events INDEXED BY events_ts_not_position" if has_index else "events"

    @property
    def conn(self) -> sqlite3.Connection:
        """The read-only connection (for the figures and exports built on top of the replay)."""
        return self._reader.conn

    def close(self) -> None:
        """Close the read connection."""
        self._reader.close()

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time ------------------------------------------------------------------------------------------

    def span(self) -> tuple[float, float]:
        """The times of the first and the last event in the log (it may still be growing)."""
        first = self.conn.execute("SELECT ts FROM events ORDER BY ts LIMIT 1").fetchone()
        last = self.conn.execute("SELECT ts FROM events ORDER BY ts DESC LIMIT 1").fetchone()
        if first is None:
            raise ReviewError(f"{self.path} holds no events yet")
        return first[0], last[0]

    def seq_at(self, ts: float) -> int:
        """The sequence number of the newest event at or before `ts` (0 before the first event)."""
        return self._reader.seq_at(ts)

    # -- the picture -----------------------------------------------------------------------------------

    def picture_at(self, ts: float) -> Picture:
        """The picture as it stood at time `ts`: after every event stamped at or before it (its `at` is `ts`)."""
        picture = self._reader.picture_at(seq=self.seq_at(ts))
        picture.at = ts
        return picture.visible_to(self.viewer) if self.viewer is not None else picture

    def tracks(self, t0: float, t1: float, units: Iterable[str] | None = None) -> dict[str, list[TrackPoint]]:
        """Where units drove between `t0` and `t1`: unit id -> its fixes in time order (for trails on a map).

        Every unit's position is public, so tracks are the same for every viewer.
        """
        sql = "SELECT ts, data FROM events WHERE ts >= ? AND ts <= ? AND kind = ?"
        params: list[Any] = [t0, t1, ev.UNIT_POSITION]
        if units is not None:
            wanted = sorted(set(units))
            if not wanted:
                return {}
            sql += f" AND json_extract(data, '$.unit') IN ({','.join('?' * len(wanted))})"
            params += wanted
        out: dict[str, list[TrackPoint]] = {}
        for ts, data in self.conn.execute(sql + " ORDER BY ts, seq", params):
            fix = _fix_decoder.decode(data)
            out.setdefault(fix.unit, []).append((ts if fix.t is None else fix.t, fix.lat, fix.lon))
        return out

    # -- events ----------------------------------------------------------------------------------------

    def events(self, t0: float, t1: float, kinds: Iterable[str] | None = None,
               incident: str | None = None) -> list[Event]:
        """Events stamped between `t0` and `t1` (inclusive), oldest first, that the viewer may see.

        `kinds=None` means every kind except `unit.position` (positions are read as `tracks`; name the kind to
        get them as events). `incident` keeps only what `incident_events` counts as about that incident.
        """
        wanted = None if kinds is None else set(kinds)
        if incident is not None:
            return [e for e in self.incident_events(incident)
                    if t0 <= e.ts <= t1 and (wanted is None or e.kind in wanted)]
        if wanted is not None and ev.UNIT_POSITION in wanted:
            sql = f"SELECT {_COLUMNS} FROM events WHERE ts >= ? AND ts <= ?"
        else:
            sql = f"SELECT {_COLUMNS} FROM {self._not_positions} WHERE {_NOT_POSITION} AND ts >= ? AND ts <= ?"
        params: list[Any] = [t0, t1]
        if wanted is not None:
            sql += f" AND kind IN ({','.join('?' * len(wanted))})"
            params += sorted(wanted)
        return self._visible(row_event(r) for r in self.conn.execute(sql + " ORDER BY seq", params))

    def incident_events(self, incident_id: str) -> list[Event]:
        """Everything about one incident, oldest first: its own events, the assignments and the status
        changes of its units while they were assigned to it, its chat channel, its mutual-aid requests and
        answers, and the alerts issued or cancelled while it was open.

        Raises `ReviewError` when the log holds no such incident or the viewer may not see it (as the hub
        does, a restricted incident of another agency is not admitted to exist).
        """
        incident_id = str(incident_id)
        created = self.conn.execute(
            f"SELECT {_COLUMNS} FROM {self._not_positions} WHERE {_NOT_POSITION} AND kind = ?"
            " AND json_extract(data, '$.id') = ? ORDER BY seq LIMIT 1", (ev.INCIDENT_CREATED, incident_id)).fetchone()
        if created is None or not self._may_see(row_event(created)):
            raise ReviewError(f"there is no incident {incident_id}")
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM {self._not_positions} WHERE {_NOT_POSITION} AND ts >= ? ORDER BY seq",
            (created[1],))
        about = _IncidentFilter(incident_id)
        return self._visible(e for e in (row_event(r) for r in rows) if e.seq >= created[0] and about(e))

    def _may_see(self, event: Event) -> bool:
        return self.viewer is None or self.viewer.may_see(event.audience)

    def _visible(self, events: Iterable[Event]) -> list[Event]:
        if self.viewer is None:
            return list(events)
        seen = (seen_by(self.viewer, e) for e in events)
        return [e for e in seen if e is not None]


class _IncidentFilter:
    """Decides, event by event in sequence order, whether an event is about one incident."""

    def __init__(self, incident_id: str) -> None:
        self.id = incident_id
        self.units: set[str] = set()  # units assigned to it now
        self.aid: set[str] = set()  # its aid request ids
        self.closed_at: float | None = None  # when it was closed (None while open): alerts after do not count

    def __call__(self, e: Event) -> bool:
        d = e.data
        if e.kind.startswith("incident."):
            if d.get("id") != self.id:
                return False
            if e.kind == ev.INCIDENT_STATUS:
                self.closed_at = e.ts if d.get("status") == "closed" else None
            return True
        if e.kind == ev.UNIT_ASSIGNED:
            if d["incident"] == self.id:
                self.units.add(d["unit"])
                return True
            self.units.discard(d["unit"])
            return False
        if e.kind == ev.UNIT_STATUS:
            if d["unit"] not in self.units:
                return False
            if d["status"] in _RELEASED:
                self.units.discard(d["unit"])
            return True
        if e.kind == ev.AID_REQUESTED:
            if d["incident"] == self.id:
                self.aid.add(d["id"])
                return True
            return False
        if e.kind == ev.AID_ANSWERED:
            return d["id"] in self.aid
        if e.kind == ev.MESSAGE_POSTED:
            return d["channel"] == f"incident:{self.id}"
        if e.kind in (ev.ALERT_ISSUED, ev.ALERT_CANCELLED):
            return self.closed_at is None
        return False
