"""What each query asks, as typed arguments: the hub's own state (`feeds`), the incident search (`search`) and its
history (`history.*`).

A `query` frame names `what` and carries `args` (an object; none for `feeds` and `history.span`). Arguments are
decoded and checked here, in one msgspec pass, before the hub reads anything: an unknown query is refused as
`unknown_query`, wrong arguments (a missing field, an unknown one, a page larger than the hub serves, a window
that ends before it starts or is longer than the hub reads) as `bad_args`. See docs/protocol.md, "History" and
"search".
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from app.protocol.messages import ProtocolError, Query

#: Largest page of events one history answer holds (and the default). The hub also cuts a page when its
#: events reach HISTORY_PAGE_BYTES encoded, so one answer stays well inside a client's frame limit.
HISTORY_PAGE = 2000
HISTORY_PAGE_BYTES = 768 * 1024
#: Most track points one `history.tracks` answer holds (units and drones together; the default): about 1 MiB of
#: JSON, within the frame limit many clients keep (see MAX_EVENTS_FRAME_BYTES).
TRACK_POINTS = 15_000
#: Longest window (seconds) `history.events`, `history.tracks` and `history.response_times` read.
LONGEST_WINDOW = 31 * 24 * 3600.0
#: Most incidents one `history.response_times` answer measures.
RESPONSE_TIMES_CAP = 10_000


class NoArgs(msgspec.Struct, forbid_unknown_fields=True):
    """A query without arguments."""


class IncidentHistoryArgs(msgspec.Struct, forbid_unknown_fields=True):
    """One incident's history, a page of at most `limit` events after sequence number `after`."""

    incident: str
    after: int = 0
    limit: int = HISTORY_PAGE


class EventsArgs(msgspec.Struct, forbid_unknown_fields=True):
    """The events stamped between `t0` and `t1` (every kind but positions, or `kinds`), paged like a history."""

    t0: float
    t1: float
    kinds: list[str] | None = None
    after: int = 0
    limit: int = HISTORY_PAGE


class PictureArgs(msgspec.Struct, forbid_unknown_fields=True):
    """The picture as it stood at time `at`."""

    at: float


class TracksArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Where units and drones moved between `t0` and `t1` (None: all of them; [] none), at most `limit` points."""

    t0: float
    t1: float
    units: list[str] | None = None
    drones: list[str] | None = None
    limit: int = TRACK_POINTS


class WindowArgs(msgspec.Struct, forbid_unknown_fields=True):
    """A window of calls: from `t0` to `t1` (None: the log's first or last event)."""

    t0: float | None = None
    t1: float | None = None


class SearchArgs(msgspec.Struct, forbid_unknown_fields=True):
    """Search every incident in the hub's history (closed ones included), as this user may see them; every given
    criterion must match."""

    number: str = ""  # an incident number
    words: Annotated[str, msgspec.Meta(max_length=200)] = ""  # each word in the address or caller
    incident_type: str = ""  # a type code, or part of its label
    unit: str = ""  # a unit that was ever assigned to it
    since: float | None = None  # created at or after (Unix seconds)
    until: float | None = None  # created at or before
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 50


#: Query `what` -> its arguments. History queries read the log; `feeds` is the hub's own state.
QUERY_ARGS: dict[str, type[msgspec.Struct]] = {
    "feeds": NoArgs,
    "search": SearchArgs,
    "history.span": NoArgs,
    "history.incident": IncidentHistoryArgs,
    "history.events": EventsArgs,
    "history.picture": PictureArgs,
    "history.tracks": TracksArgs,
    "history.response_times": WindowArgs,
}
HISTORY_PREFIX = "history."
_decoders = {what: msgspec.json.Decoder(cls) for what, cls in QUERY_ARGS.items()}


def decode_query_args(query: Query) -> Any:
    """The query's arguments as their struct, checked; ProtocolError (`unknown_query`, `bad_args`) otherwise."""
    decoder = _decoders.get(query.what)
    if decoder is None:
        raise ProtocolError("unknown_query", f"there is no query {query.what!r}; ask for one of "
                                             f"{', '.join(sorted(QUERY_ARGS))}", query.id)
    try:
        args = decoder.decode(query.args)
    except msgspec.ValidationError as exc:
        raise ProtocolError("bad_args", f"{query.what}: {exc}", query.id) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("bad_args", f"{query.what}: arguments are not valid JSON ({exc})", query.id) from None
    _check(query, args)
    return args


def _check(query: Query, args: Any) -> None:
    def bad(why: str) -> ProtocolError:
        return ProtocolError("bad_args", f"{query.what}: {why}", query.id)

    limit = getattr(args, "limit", None)
    cap = TRACK_POINTS if isinstance(args, TracksArgs) else HISTORY_PAGE
    if limit is not None and not 1 <= limit <= cap:
        raise bad(f"limit must be 1 to {cap}, not {limit}")
    if getattr(args, "after", 0) < 0:
        raise bad("after must be a sequence number, 0 or more")
    t0, t1 = getattr(args, "t0", None), getattr(args, "t1", None)
    if t0 is not None and t1 is not None:
        if t1 < t0:
            raise bad(f"the window ends ({t1}) before it starts ({t0})")
        if t1 - t0 > LONGEST_WINDOW:
            raise bad(f"a window is at most {LONGEST_WINDOW / 86400:.0f} days; ask for shorter ones")
    if isinstance(args, IncidentHistoryArgs) and not args.incident:
        raise bad("name the incident")
