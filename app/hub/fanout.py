"""Fan-out: every committed event to every console allowed to see it, without letting one slow console
slow the others.

Each subscriber has its own queue and sender task. What each console may see of an event is decided by the
one visibility rule (`app.domain.visibility`); an event is encoded once per form it takes (once for all in the
common case of an event everyone sees whole) and the same bytes go to every queue that gets that form.
Positions are coalesced per unit (and drone telemetry per drone): a newer fix replaces a queued older one, so
a console that falls behind gets the latest picture rather than a backlog. A queue that still overflows marks
its console hopeless; the hub closes it, and the console resumes from its last sequence number later, losing
nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

from app.domain.events import DRONE_TELEMETRY, UNIT_POSITION, Event
from app.domain.picture import Viewer
from app.domain.visibility import Sight, partial, seen_by_everyone, sight
from app.protocol.messages import EVENTS_PER_FRAME, encode_event, events_frames

#: Event kind -> the data field naming what it moves. A unit position replaces the unit's whole fix, so a
#: newer one always supersedes an older; drone telemetry keeps values a fix leaves out, so a newer fix
#: supersedes an older one only if it carries every field the older did (see `_supersedes`).
COALESCED = {UNIT_POSITION: "unit", DRONE_TELEMETRY: "drone"}


def _supersedes(kind: str, older: frozenset[str], newer: frozenset[str]) -> bool:
    return kind == UNIT_POSITION or older <= newer


class Subscriber:
    """One console's outgoing queue. `send` writes a text frame to its websocket; `close` closes it."""

    def __init__(self, viewer: Viewer, send: Callable[[bytes], Awaitable[None]],
                 close: Callable[[int, str], Awaitable[None]], after_seq: int, max_queue: int) -> None:
        self.viewer = viewer
        self._send = send
        self.close = close  # closes the console's connection (used when it is dropped as hopeless)
        self.after_seq = after_seq
        self.max_queue = max_queue
        self.queue: dict[object, bytes] = {}  # event seq -> encoded event; ("reply", n) -> whole frame
        self.positions: dict[tuple[str, str], int] = {}  # (kind, unit or drone) -> seq of its queued fix
        self.ready = asyncio.Event()
        self.live = False
        self.overflowed = False
        self.coalesced = 0
        self.delivered = 0
        self._replies = itertools.count()
        self._position_units: dict[int, tuple[str, str]] = {}  # seq of a queued fix -> (kind, unit or drone)
        self._fields: dict[int, frozenset[str]] = {}  # seq of a queued drone fix -> its data's fields

    def offer(self, event: Event, encoded: bytes) -> None:
        """Queue an event, in the form this console may see it (`FanOut.publish` decides), unless it has it."""
        if event.seq <= self.after_seq:
            return
        moves = COALESCED.get(event.kind)
        if moves is not None:
            mover = (event.kind, event.data[moves])
            fields = frozenset(event.data)
            older = self.positions.get(mover)
            if older is not None and _supersedes(event.kind, self._fields.get(older, fields), fields):
                del self.queue[older]
                del self._position_units[older]
                self._fields.pop(older, None)
                self.coalesced += 1
            elif older is not None:  # the older fix says something this one does not: it stays queued
                del self._position_units[older]
                self._fields.pop(older, None)
            self.positions[mover] = event.seq
            self._position_units[event.seq] = mover
            if event.kind != UNIT_POSITION:
                self._fields[event.seq] = fields
        self.queue[event.seq] = encoded
        self.ready.set()

    def reply(self, frame: bytes) -> None:
        """Queue a whole frame (an ack) behind the events already queued, so it never overtakes them."""
        self.queue[("reply", next(self._replies))] = frame
        self.ready.set()

    def go_live(self) -> None:
        """Catch-up is done: start sending what queued meanwhile."""
        self.live = True
        self.ready.set()

    async def pump(self) -> None:
        """Send queued items until cancelled."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            if not self.live:
                continue
            while self.queue:
                # One frame's worth at a time: the rest stays in the queue, where newer positions still
                # replace older ones and the fan-out can see how far behind this console is.
                batch: list[bytes] = []
                for key, data in self._take(EVENTS_PER_FRAME):
                    if isinstance(key, int):
                        batch.append(data)
                    else:
                        await self._flush(batch)
                        batch = []
                        await self._send(data)
                await self._flush(batch)

    def _take(self, limit: int) -> list[tuple[object, bytes]]:
        taken = list(itertools.islice(self.queue.items(), limit))
        for key, _ in taken:
            del self.queue[key]
            if not isinstance(key, int):
                continue  # a reply: no fix to forget
            mover = self._position_units.pop(key, None)
            if mover is not None:
                del self.positions[mover]
                self._fields.pop(key, None)
        return taken

    async def _flush(self, batch: list[bytes]) -> None:
        for frame in events_frames(batch):
            await self._send(frame)
        self.delivered += len(batch)


class FanOut:
    """The set of live subscribers."""

    def __init__(self, on_overflow: Callable[[Subscriber], None]) -> None:
        self.subscribers: set[Subscriber] = set()
        self.on_overflow = on_overflow

    def publish(self, events: list[Event]) -> None:
        """Offer committed events to every subscriber (called by the sequencer after each commit)."""
        if not self.subscribers:
            return
        # Hopeless is a backlog the console has not taken since earlier batches, not one large batch: a
        # healthy sender empties its queue at every wake-up, whatever a single group commit holds.
        for subscriber in self.subscribers:
            if len(subscriber.queue) > subscriber.max_queue:
                subscriber.overflowed = True
        for event in events:
            if seen_by_everyone(event):
                encoded = encode_event(event)
                for subscriber in self.subscribers:
                    subscriber.offer(event, encoded)
                continue
            forms: dict[Sight, tuple[Event, bytes]] = {}
            for subscriber in self.subscribers:
                how = sight(subscriber.viewer, event)
                if how is Sight.NONE:
                    continue
                form = forms.get(how)
                if form is None:
                    shown = event if how is Sight.WHOLE else partial(event)
                    form = forms[how] = (shown, encode_event(shown))
                subscriber.offer(*form)
        for subscriber in [s for s in self.subscribers if s.overflowed]:
            self.subscribers.discard(subscriber)
            self.on_overflow(subscriber)
