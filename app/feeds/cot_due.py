"""What a TAK receiver is due: the picture's items that changed since it was last sent them. Sans-I/O.

A receiver (a TAK server that `--cot-out` feeds, a TAK client on the CoT streaming port) is never sent a backlog
of events: each event only marks items as due (`items_changed`), and the receiver's sender takes the due items
(`CotDue.take`) and writes each from the picture as it stands then (`app.feeds.cot_picture.item_cot`). So a slow
receiver gets the newest state of each item, older positions are dropped unsent, and what a receiver holds is
bounded by the size of the picture (chat lines, which are not states but a stream, by `MESSAGES_DUE`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from app.domain import events as ev
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.cot_picture import ALERT, DRONE, INCIDENT, MESSAGE, UNIT, Item, delete_event, item_uid

#: Every kind of item.
ALL_KINDS = frozenset({UNIT, INCIDENT, DRONE, ALERT, MESSAGE})
#: Chat lines a receiver that is not reading may have waiting; older ones are dropped first (a picture keeps
#: 2,000, `app.domain.picture.MESSAGES_KEPT`).
MESSAGES_DUE = 2000
_UNIT_EVENTS = (ev.UNIT_POSITION, ev.UNIT_STATUS, ev.UNIT_ASSIGNED, ev.UNIT_RETIRED)
_INCIDENT_EVENTS = (ev.INCIDENT_CREATED, ev.INCIDENT_UPDATED, ev.INCIDENT_STATUS)
_DRONE_EVENTS = (ev.DRONE_TELEMETRY, ev.DRONE_LINK, ev.DRONE_ASSIGNED, ev.DRONE_RETIRED)


def items_changed(event: Event, picture: Picture) -> list[Item]:
    """The items `event` changes, given `picture` as it was *before* the event applies (so a unit leaving an
    incident, or an incident taking its units' descriptions with it when it is restricted, marks both)."""
    d, kind = event.data, event.kind
    if kind in _UNIT_EVENTS:
        out = [Item(UNIT, d["unit"])]
        if kind in (ev.UNIT_STATUS, ev.UNIT_ASSIGNED):  # the incidents' unit lists change
            before = picture.units.get(d["unit"])
            out += [Item(INCIDENT, i) for i in {d.get("incident"), before.incident if before else None} if i]
        return out
    if kind == ev.UNIT_REGISTERED:
        return [Item(UNIT, d["id"])]
    if kind in _INCIDENT_EVENTS:
        # Units (and drones) on it describe it in their remarks.
        return [Item(INCIDENT, d["id"]), *(Item(UNIT, u.id) for u in picture.units.values() if u.incident == d["id"]),
                *(Item(DRONE, x.id) for x in picture.drones.values() if x.incident == d["id"])]
    if kind == ev.INCIDENT_SHARED:  # an incident coming into sight, with what names it
        shared = d["incident"]
        return [Item(INCIDENT, shared["id"]), *(Item(UNIT, u) for u in shared.get("units", ())),
                *(Item(DRONE, x) for x in d.get("drones", ())),
                *(Item(MESSAGE, m["id"]) for m in d.get("messages", ()))]
    if kind == ev.DRONE_REGISTERED:
        return [Item(DRONE, d["id"])]
    if kind in _DRONE_EVENTS:
        return [Item(DRONE, d["drone"])]
    if kind in (ev.ALERT_ISSUED, ev.ALERT_CANCELLED):
        return [Item(ALERT, d["id"])]
    if kind == ev.MESSAGE_POSTED:
        return [Item(MESSAGE, d["id"])]
    return []


def all_items(picture: Picture, kinds: Collection[str] = ALL_KINDS, messages: int = 0) -> list[Item]:
    """Every item of `kinds` the picture holds, with its last `messages` chat lines."""
    out = [Item(UNIT, i) for i in picture.units] + [Item(INCIDENT, i) for i in picture.incidents]
    out += [Item(DRONE, i) for i in picture.drones] + [Item(ALERT, i) for i in picture.alerts]
    if messages:
        out += [Item(MESSAGE, m.id) for m in picture.messages[-messages:]]
    return [item for item in out if item.kind in kinds]


class CotDue:
    """One receiver's due items (oldest first) and the items it was shown and not told to delete since."""

    def __init__(self, kinds: Collection[str] = ALL_KINDS, skip: Collection[Item] = ()) -> None:
        self.kinds = frozenset(kinds)
        self.skip = frozenset(skip)  # never sent to this receiver (a device's own units: it is their source)
        self.due: dict[Item, None] = {}
        self.messages: dict[Item, None] = {}
        self.on_map: set[Item] = set()

    def __len__(self) -> int:
        return len(self.due) + len(self.messages)

    def mark(self, items: Iterable[Item]) -> None:
        """Make items due (again)."""
        for item in items:
            if item.kind not in self.kinds or item in self.skip:
                continue
            if item.kind == MESSAGE:
                self.messages[item] = None
                if len(self.messages) > MESSAGES_DUE:
                    del self.messages[next(iter(self.messages))]
            else:
                self.due[item] = None

    def take(self, limit: int) -> list[Item]:
        """Up to `limit` due items, oldest first; they are no longer due."""
        taken: list[Item] = []
        for due in (self.due, self.messages):
            while due and len(taken) < limit:
                item = next(iter(due))
                del due[item]
                taken.append(item)
        return taken

    def shown(self, item: Item, cot: bytes | None, now: float) -> bytes | None:
        """What to send for a taken item written as `cot` (None: nothing to show): the CoT itself, a delete for
        an item the receiver was shown and should no longer see, or None. An item never shown (restricted from
        the start, say) is not named, not even to delete it; chat lines are never deleted."""
        if cot is not None:
            if item.kind != MESSAGE:
                self.on_map.add(item)
            return cot
        if item in self.on_map:
            self.on_map.discard(item)
            return delete_event(item_uid(item), now)
        return None
