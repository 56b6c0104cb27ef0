"""The hub's answers to history queries (`history.*`): read from its log, as the asking user may see it.

Runs on the hub's history threads, each with its own read-only connection (`LogReader`, WAL), never on the
loop. Every answer is bounded and says so: pages of events (`next`: ask again with `after` set to it), a cap on
track points and on measured incidents (`truncated`), windows no longer than `LONGEST_WINDOW`; the arguments were
checked when the frame was decoded (`app.protocol.queries`). What the user may see is decided by the one rule
(`app.domain.visibility.seen_by`, `Picture.visible_to`) for the user's `history_viewer`: a restricted incident
the viewer may not see is answered as if it did not exist, and no event about it is in any answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from app.domain import events as ev
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.incident_history import seen_history
from app.domain.picture import Viewer
from app.domain.response_times import RESPONSE_TAIL, TIMING_KINDS, times_in_window
from app.domain.visibility import seen_by
from app.protocol.messages import encode_event
from app.protocol.queries import (
    HISTORY_PAGE_BYTES,
    LONGEST_WINDOW,
    RESPONSE_TIMES_CAP,
    EventsArgs,
    IncidentHistoryArgs,
    PictureArgs,
    TracksArgs,
    WindowArgs,
)
from app.store.history import LogHistory, Tracks
from app.store.log import LogReader


def answer(reader: LogReader, viewer: Viewer, what: str, args: Any) -> dict[str, Any]:
    """The `data` of the answer to history query `what` for `viewer`; Refusal when there is nothing to answer
    (`unknown_incident`, `empty_log`)."""
    history = LogHistory(reader)
    if what == "history.span":
        return _span(reader, history)
    if what == "history.incident":
        return _incident(history, viewer, args)
    if what == "history.events":
        return _events(history, viewer, args)
    if what == "history.picture":
        return _picture(reader, viewer, args)
    if what == "history.tracks":
        return _tracks(history, args)
    if what == "history.response_times":
        return _response_times(history, viewer, args)
    raise Refusal("unknown_query", f"there is no query {what!r}")


def _span(reader: LogReader, history: LogHistory) -> dict[str, Any]:
    span = history.span()
    first, last = span if span is not None else (None, None)
    return {"first": first, "last": last, "head": reader.head(), "feeds": sorted(history.feed_accounts())}


def _page(events: Iterable[Event], viewer: Viewer, limit: int) -> dict[str, Any]:
    """A page of what the viewer may see of `events`: at most `limit` events and HISTORY_PAGE_BYTES encoded;
    `next` is where the next page starts (None: this was the last)."""
    page: list[Event] = []
    size = 0
    for event in events:
        seen = seen_by(viewer, event)
        if seen is None:
            continue
        if len(page) == limit or (page and size >= HISTORY_PAGE_BYTES):
            return {"events": page, "next": page[-1].seq, "limit": limit}
        page.append(seen)
        size += len(encode_event(seen))
    return {"events": page, "next": None, "limit": limit}


def _incident(history: LogHistory, viewer: Viewer, args: IncidentHistoryArgs) -> dict[str, Any]:
    created = history.incident_created(args.incident)
    shown = seen_history(args.incident, history.events_from(created), viewer) if created is not None else iter(())
    first = next(shown, None)
    if first is None:
        # As the hub does everywhere, an incident the viewer was never shown is not admitted to exist.
        raise Refusal("unknown_incident", f"there is no incident {args.incident}")
    events = (e for e in itertools.chain([first], shown) if e.seq > args.after)
    return {"incident": args.incident, **_page(events, viewer, args.limit)}


def _events(history: LogHistory, viewer: Viewer, args: EventsArgs) -> dict[str, Any]:
    events = history.events_between(args.t0, args.t1, args.kinds, after_seq=args.after)
    return {"t0": args.t0, "t1": args.t1, **_page(events, viewer, args.limit)}


def _picture(reader: LogReader, viewer: Viewer, args: PictureArgs) -> dict[str, Any]:
    # The newest stored snapshot of this fold at or before the moment, plus a fold of at most one snapshot
    # interval of events (app/store/log.py).
    picture = reader.picture_at(seq=reader.seq_at(args.at))
    picture.at = args.at
    return {"at": args.at, "seq": picture.seq, "picture": picture.visible_to(viewer)}


def _tracks(history: LogHistory, args: TracksArgs) -> dict[str, Any]:
    # Every unit's and drone's position is public (docs/security.md), so tracks are the same for every viewer.
    units = history.tracks(ev.UNIT_POSITION, args.t0, args.t1, args.units, args.limit)
    left = args.limit - sum(len(points) for points in units.points.values())
    drones = Tracks(truncated=args.drones != [])
    if left > 0:
        drones = history.tracks(ev.DRONE_TELEMETRY, args.t0, args.t1, args.drones, left)
    # Where the rest of a cut window starts, for a query of one kind (`units: []` or `drones: []`): ask again
    # with it as `t0` (the fixes stamped at that instant come again).
    one_kind = drones if args.units == [] else units if args.drones == [] else None
    return {"t0": args.t0, "t1": args.t1, "units": units.points, "drones": drones.points,
            "reporters": units.reporters, "truncated": units.truncated or drones.truncated,
            "until": one_kind.until if one_kind is not None else None, "limit": args.limit}


def _response_times(history: LogHistory, viewer: Viewer, args: WindowArgs) -> dict[str, Any]:
    span = history.span()
    if span is None:
        return {"t0": args.t0, "t1": args.t1, "times": [], "truncated": False}
    start = span[0] if args.t0 is None else args.t0
    end = span[1] if args.t1 is None else args.t1
    if end - start > LONGEST_WINDOW:
        raise Refusal("bad_args", f"history.response_times: a window is at most {LONGEST_WINDOW / 86400:.0f} "
                                  "days (this log is longer: give t0 and t1)")
    seen = (seen_by(viewer, e) for e in history.events_between(start, end + RESPONSE_TAIL, TIMING_KINDS))
    times = times_in_window((e for e in seen if e is not None), start, end)
    return {"t0": start, "t1": end, "times": times[:RESPONSE_TIMES_CAP], "truncated": len(times) > RESPONSE_TIMES_CAP}
