"""Replay: the picture at any moment of a stored log, the tracks units drove, and the events of a window.

A `Replay` reads a log file through its own read-only connection (WAL lets it read while a live hub writes,
and it never takes a write lock), so a supervisor can review the shift that is still running. Seeking is
fast because nothing is folded from the start: the hub stores a snapshot every 5,000 events, so the picture
at time T is the newest snapshot at or before T plus a fold of at most 5,000 events, bounded by sequence
number (one step down the time index finds it). Tracks read only position rows of the window and decode
just unit, time and place from each (never a whole event); timelines and incident histories read the
 that leaves positions out (schema version 2), so a busy day's millions of fixes are never scanned.

With a `viewer`, everything is what that viewer may see: the picture through `Picture.visible_to` (exactly
what a console of that agency receives when it connects at T) and events through the visibility rule
(`app.domain.visibility.seen_by`: left out, or redacted, as the hub's fan-out sent them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from app.domain import events as ev
from app.domain.events import Event
from app.domain.incident_history import seen_history
from app.domain.picture import Picture, Viewer
from app.domain.response_times import RESPONSE_TAIL, TIMING_KINDS, IncidentTimes, times_in_window
from app.domain.visibility import seen_by
from app.store.history import LogHistory, TrackPoint
from app.store.log import LogReader

__all__ = ["Replay", "ReviewError", "ReviewLog", "TrackPoint"]


class ReviewError(Exception):
    """A log that cannot be reviewed (missing, not a Watchfloor log) or an item it does not hold."""


class ReviewLog(Protocol):
    """What review reads from a log, whether a file (`Replay`) or the hub's history over a console's connection
    (`app.ui.review.hub_replay.HubReplay`): the figures, exports, reports and review windows take either."""

    @property
    def path(self) -> Path:
        """Where the log is (its `name` is shown in titles and reports)."""
        ...

    def span(self) -> tuple[float, float]: ...
    def picture_at(self, ts: float) -> Picture: ...
    def tracks(self, t0: float, t1: float, units: Iterable[str] | None = None) -> dict[str, list[TrackPoint]]: ...
    def drone_tracks(self, t0: float, t1: float, drones: Iterable[str] | None = None
                     ) -> dict[str, list[TrackPoint]]: ...
    def events(self, t0: float, t1: float, kinds: Iterable[str] | None = None,
               incident: str | None = None) -> list[Event]: ...
    def incident_events(self, incident_id: str) -> list[Event]: ...
    def response_times(self, t0: float | None = None, t1: float | None = None) -> list[IncidentTimes]: ...
    def feed_accounts(self) -> frozenset[str]: ...
    def reporters(self, t0: float, t1: float) -> dict[str, list[str]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> ReviewLog: ...
    def __exit__(self, *exc: object) -> None: ...


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
            self._history = LogHistory(self._reader)
        except sqlite3.DatabaseError as exc:  # not SQLite at all, or SQLite without an event log
            raise ReviewError(f"{self.path} is not a Watchfloor log ({exc})") from None

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
        span = self._history.span()
        if span is None:
            raise ReviewError(f"{self.path} holds no events yet")
        return span

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
        return self._history.tracks(ev.UNIT_POSITION, t0, t1, units).points

    def drone_tracks(self, t0: float, t1: float, drones: Iterable[str] | None = None) -> dict[str, list[TrackPoint]]:
        """Where drones flew between `t0` and `t1`: drone id -> its fixes in time order (public, as tracks)."""
        return self._history.tracks(ev.DRONE_TELEMETRY, t0, t1, drones).points

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
        return self._visible(self._history.events_between(t0, t1, wanted))

    def incident_events(self, incident_id: str) -> list[Event]:
        """Everything about one incident, oldest first, as `app.domain.incident_history` picks it (its own
        events, its units' and drones' part, chat, mutual aid, triage reports, alerts while it was open).

        With a viewer, the history as that viewer received it (`app.domain.incident_history.seen_history`).
        Raises `ReviewError` when the log holds no such incident or the viewer was shown none of it (as the hub
        does, a restricted incident of another agency is not admitted to exist).
        """
        incident_id = str(incident_id)
        created = self._history.incident_created(incident_id)
        history = [] if created is None else list(seen_history(incident_id, self._history.events_from(created),
                                                               self.viewer))
        if not history:
            raise ReviewError(f"there is no incident {incident_id}")
        return history

    def response_times(self, t0: float | None = None, t1: float | None = None) -> list[IncidentTimes]:
        """The measured intervals of every call that came in between `t0` and `t1` (default: the whole log), as
        the viewer may see them, oldest call first; dispatches and arrivals are read up to a day after `t1`."""
        first, last = self.span()
        start = first if t0 is None else t0
        end = last if t1 is None else t1
        return times_in_window(self.events(start, end + RESPONSE_TAIL, kinds=TIMING_KINDS), start, end)

    def feed_accounts(self) -> frozenset[str]:
        """The accounts whose events are machine inputs (feed accounts and registered field devices)."""
        return self._history.feed_accounts()

    def reporters(self, t0: float, t1: float) -> dict[str, list[str]]:
        """Who reported each unit's positions between `t0` and `t1` (the actors behind the tracks)."""
        return self._history.reporters(t0, t1)

    def _visible(self, events: Iterable[Event]) -> list[Event]:
        if self.viewer is None:
            return list(events)
        seen = (seen_by(self.viewer, e) for e in events)
        return [e for e in seen if e is not None]
