"""The log under review and whose eyes it is seen through; opened afresh by each worker thread.

The console reviews the hub's history over its connection (`HubSource`); a log file (`ReviewSource`) is for
offline investigation by whoever holds the file (`watchfloor replay --db`).

SQLite connections are not shared between threads here: every job opens its own read-only `Replay` (cheap:
one file open) so an export running beside a seek never interleaves on one connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.domain.picture import Viewer
from app.review.replay import Replay, ReviewLog

#: The feed gateway's own account (CoT, NMEA, MAVLink inputs), which has no row in the users table.
GATEWAY_ACTOR = "gateway"


class LogSource(Protocol):
    """Where review reads from: a log file (`ReviewSource`) or the hub (`app.ui.review.hub_replay.HubSource`)."""

    @property
    def path(self) -> Path:
        """The log's name in titles (`path.name`)."""
        ...

    @property
    def seen_as(self) -> str:
        """Whose view this is, for window titles and banners."""
        ...

    def open(self) -> ReviewLog:
        """A `ReviewLog` to read (close it when done; may block: call it off the GUI thread)."""
        ...


@dataclass(frozen=True, slots=True)
class ReviewSource:
    """A log file, and the viewer (None: a supervisor, who sees everything)."""

    path: Path
    viewer: Viewer | None = None

    def open(self) -> Replay:
        """A new read-only replay of the log (close it when done)."""
        return Replay(self.path, self.viewer)

    @property
    def seen_as(self) -> str:
        """Whose view this is, for window titles and banners."""
        if self.viewer is None or self.viewer.supervisor:
            return "all agencies"
        return f"{self.viewer.agency.upper()} view"


def feed_accounts(replay: ReviewLog) -> frozenset[str]:
    """The accounts whose events are machine inputs (role `feed`, the gateway, and the registered field devices,
    whose events are by `device:<id>`)."""
    return frozenset({GATEWAY_ACTOR, *replay.feed_accounts()})


def clock(ts: float, with_date: bool = False) -> str:
    """A log time as the control room's wall clock shows it (local time)."""
    return time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S", time.localtime(ts))
