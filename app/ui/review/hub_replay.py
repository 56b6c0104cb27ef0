"""Review through the hub: the `ReviewLog` the review windows, figures and reports read, answered by the hub's
history queries over the console's own connection (`wss://` from any workstation), not from the log file.

Every call blocks until the hub answers, so it is made on a review worker thread (`Jobs`), never on the GUI
thread. What comes back is already what the signed-in user may see (the hub filters it: docs/security.md,
"Review through the hub"); paged answers are followed to their end and windows longer than the hub reads
(`LONGEST_WINDOW`) are asked for in parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from app.client.connection import CommandRefused
from app.domain.events import Event
from app.domain.picture import Picture
from app.domain.response_times import IncidentTimes
from app.protocol.queries import LONGEST_WINDOW
from app.review.replay import ReviewError, TrackPoint

#: Asks the hub one query (what, args) and returns the result's data; raises CommandRefused or ConnectionError.
Ask = Callable[[str, dict[str, Any]], Any]


def _windows(t0: float, t1: float) -> Iterator[tuple[float, float]]:
    """`t0`..`t1` in parts the hub reads (at most LONGEST_WINDOW each)."""
    start = t0
    while True:
        end = min(t1, start + LONGEST_WINDOW)
        yield start, end
        if end >= t1:
            return
        start = end


def _merge(answers: Iterable[dict[str, list[list[float]]]]) -> dict[str, list[TrackPoint]]:
    """Tracks from answers in time order, each fix once (windows that meet share their edge's fixes)."""
    out: dict[str, list[TrackPoint]] = {}
    for raw in answers:
        for mover, points in raw.items():
            track = out.setdefault(mover, [])
            for p in points:
                point = (p[0], p[1], p[2])
                if not track or point[0] > track[-1][0] or point not in track[-8:]:
                    track.append(point)
    return out


class HubReplay:
    """The hub's history as a `ReviewLog` (see the module docstring)."""

    def __init__(self, ask: Ask, name: str, track_limit: int | None = None) -> None:
        """`track_limit`: fixes per `history.tracks` answer (None: the hub's default and cap)."""
        self._ask = ask
        self.path = Path(name)
        self._span: dict[str, Any] | None = None
        self._track_limit = track_limit

    def _query(self, what: str, args: dict[str, Any] | None = None) -> Any:
        try:
            return self._ask(what, args or {})
        except CommandRefused as refused:
            raise ReviewError(refused.message if refused.code != "unknown_incident" else
                              f"there is no incident {(args or {}).get('incident')}") from None
        except (ConnectionError, TimeoutError) as exc:
            raise ReviewError(f"the hub did not answer ({exc or 'timed out'}); try again once connected") from None

    def close(self) -> None:
        """Nothing to close: the console's connection stays."""

    def __enter__(self) -> HubReplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _span_answer(self) -> dict[str, Any]:
        self._span = self._query("history.span")
        return self._span

    def span(self) -> tuple[float, float]:
        """The times of the first and the last event in the hub's log (asked afresh: the log grows)."""
        answer = self._span_answer()
        if answer["first"] is None:
            raise ReviewError("the hub's log holds no events yet")
        return answer["first"], answer["last"]

    def feed_accounts(self) -> frozenset[str]:
        """The accounts whose events are machine inputs, as the hub names them."""
        answer = self._span if self._span is not None else self._span_answer()
        return frozenset(answer["feeds"])

    def picture_at(self, ts: float) -> Picture:
        """The picture as it stood at `ts`, as this user may see it."""
        return msgspec.convert(self._query("history.picture", {"at": ts})["picture"], Picture)

    def _tracks_answer(self, t0: float, t1: float, units: Iterable[str] | None,
                       drones: Iterable[str] | None) -> Iterator[dict[str, Any]]:
        for start, end in _windows(t0, t1):
            yield from self._whole_tracks(start, end, None if units is None else sorted(set(units)),
                                          None if drones is None else sorted(set(drones)))

    def _whole_tracks(self, t0: float, t1: float, units: list[str] | None, drones: list[str] | None
                      ) -> Iterator[dict[str, Any]]:
        """Answers that together hold every fix of the window (one kind at a time): an answer the hub cut at its
        cap says where the rest starts (`until`), and the rest is asked for from there (the fixes stamped at
        that instant come twice; `_merge` keeps them once)."""
        while True:
            args: dict[str, Any] = {"t0": t0, "t1": t1, "units": units, "drones": drones}
            if self._track_limit is not None:
                args["limit"] = self._track_limit
            answer = self._query("history.tracks", args)
            yield answer
            until = answer.get("until")
            if not answer["truncated"] or until is None or until <= t0:
                return  # whole, or more fixes stamped in one instant than one answer holds
            t0 = until

    def tracks(self, t0: float, t1: float, units: Iterable[str] | None = None) -> dict[str, list[TrackPoint]]:
        """Where units drove between `t0` and `t1` (every fix: a window the hub cuts at its cap is asked on)."""
        return _merge(answer["units"] for answer in self._tracks_answer(t0, t1, units, []))

    def drone_tracks(self, t0: float, t1: float, drones: Iterable[str] | None = None) -> dict[str, list[TrackPoint]]:
        """Where drones flew between `t0` and `t1`."""
        return _merge(answer["drones"] for answer in self._tracks_answer(t0, t1, [], drones))

    def reporters(self, t0: float, t1: float) -> dict[str, list[str]]:
        """Who reported each unit's positions between `t0` and `t1`."""
        out: dict[str, set[str]] = {}
        for answer in self._tracks_answer(t0, t1, None, []):
            for unit, actors in answer["reporters"].items():
                out.setdefault(unit, set()).update(actors)
        return {unit: sorted(actors) for unit, actors in out.items()}

    def _pages(self, what: str, args: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        after = 0
        while True:
            page = self._query(what, {**args, "after": after})
            events += msgspec.convert(page["events"], list[Event])
            if page["next"] is None:
                return events
            after = page["next"]

    def events(self, t0: float, t1: float, kinds: Iterable[str] | None = None,
               incident: str | None = None) -> list[Event]:
        """Events stamped between `t0` and `t1`, oldest first (every kind but positions, or `kinds`)."""
        wanted = None if kinds is None else sorted(set(kinds))
        if incident is not None:
            return [e for e in self.incident_events(incident)
                    if t0 <= e.ts <= t1 and (wanted is None or e.kind in wanted)]
        events: list[Event] = []
        for start, end in _windows(t0, t1):
            after = events[-1].seq if events else 0
            events += [e for e in self._pages("history.events", {"t0": start, "t1": end, "kinds": wanted})
                       if e.seq > after]
        return events

    def incident_events(self, incident_id: str) -> list[Event]:
        """One incident's history, oldest first (ReviewError when this user may not see it or it is unknown)."""
        return self._pages("history.incident", {"incident": str(incident_id)})

    def response_times(self, t0: float | None = None, t1: float | None = None) -> list[IncidentTimes]:
        """The measured intervals of the calls that came in between `t0` and `t1` (default: the whole log)."""
        first, last = self.span()
        start, end = first if t0 is None else t0, last if t1 is None else t1
        times: dict[str, IncidentTimes] = {}
        for a, b in _windows(start, end):
            answer = self._query("history.response_times", {"t0": a, "t1": b})
            for t in msgspec.convert(answer["times"], list[IncidentTimes]):
                times.setdefault(t.incident, t)
        return sorted(times.values(), key=lambda t: t.created)


@dataclass(frozen=True, slots=True)
class HubSource:
    """The hub's log under review, over the console's connection: `seen_as` names whose view it is."""

    ask: Ask
    url: str
    seen_as: str

    @property
    def path(self) -> Path:
        """A name for the hub's log in titles and reports (the hub's address)."""
        return Path(f"hub {self.url.split('//', 1)[-1]}")

    def open(self) -> HubReplay:
        """The hub's history as a `ReviewLog` (nothing to close; blocking: call it on a worker thread)."""
        return HubReplay(self.ask, str(self.path))
