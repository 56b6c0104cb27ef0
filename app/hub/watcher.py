"""An internal subscriber: the hub's own outputs (CAP outbox, CoT out, TAK clients) follow committed events like a
console.

It registers a `Subscriber` with the fan-out exactly as a console's connection does, with a viewer: the public's
(no agency, not a supervisor) for outputs to the outside world, so restricted incidents and their events never
reach them, or an agency's for the TAK clients of its devices, by the same rule that keeps restricted incidents
from other agencies' consoles. The starting picture is read from the log in a reader
thread; after that, events arrive in order through the subscriber's queue (positions coalesced per unit) and
the consumer's callback must only note what changed: anything slow belongs in the consumer's own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.hub.fanout import Subscriber
from app.protocol.messages import Events, decode_hub
from app.store.log import LogReader

log = logging.getLogger("watchfloor.hub")

#: Who outputs to the outside world are: nobody's agency, so only unrestricted things pass.
PUBLIC = Viewer("", supervisor=False)
MAX_QUEUE = 200_000


class HubWatcher:
    """Calls `on_start(picture, extra)` once (again after an overflow), then `on_events(events)` as they commit.

    `prepare(reader, head)`, if given, runs in the reader thread next to the snapshot; its result is `extra`.
    `viewer` is whose picture it follows: the public's, unless the consumer tells the public only what pure
    rules derive from more (the residents' desk follows reports scoped to one agency).
    """

    def __init__(self, hub: Any, on_start: Callable[[Picture, Any], None], on_events: Callable[[list[Event]], None],
                 prepare: Callable[[LogReader, int], Any] | None = None, viewer: Viewer = PUBLIC) -> None:
        self.hub = hub
        self.viewer = viewer
        self.on_start = on_start
        self.on_events = on_events
        self.prepare = prepare
        self.subscriber: Subscriber | None = None
        self._pump: asyncio.Task[None] | None = None
        self.restarts = 0

    async def start(self) -> None:
        """Subscribe from the committed head: snapshot in a reader thread, then live events."""
        head = self.hub.sequencer.committed_seq
        self.subscriber = Subscriber(self.viewer, self._receive, self._overflowed, head, MAX_QUEUE)
        self.hub.fanout.subscribers.add(self.subscriber)
        self._pump = asyncio.get_running_loop().create_task(self.subscriber.pump())
        picture, extra = await asyncio.get_running_loop().run_in_executor(self.hub.read_pool, self._snapshot, head)
        self.on_start(picture, extra)
        self.subscriber.go_live()

    def _snapshot(self, head: int) -> tuple[Picture, Any]:
        reader = self.hub.open_reader()
        try:
            picture = reader.picture_at(seq=head).visible_to(self.viewer)
            return picture, self.prepare(reader, head) if self.prepare is not None else None
        finally:
            reader.close()

    async def _receive(self, frame: bytes) -> None:
        message = decode_hub(frame)
        if isinstance(message, Events):
            self.on_events(message.events)

    async def _overflowed(self, code: int, reason: str) -> None:
        # Our consumers only note changes, so this means the loop itself was starved; start over from the log.
        log.warning("internal subscriber fell behind (%s); restarting from the log", reason)
        self.restarts += 1
        await self.close()
        await self.start()

    async def close(self) -> None:
        """Unsubscribe."""
        if self.subscriber is not None:
            self.hub.fanout.subscribers.discard(self.subscriber)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
