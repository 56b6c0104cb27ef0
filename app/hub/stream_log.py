"""The clustered log as the sequencer's upstream (`watchfloor hub --log nats://...`).

The JetStream client runs on the hub's event loop; the sequencer's writer thread calls `extend` and `catch_up`,
which hand the work to that loop and wait for it, so the writer's one-batch-at-a-time order (group commit, ack
after commit) is kept: a batch is acknowledged only after the stream's quorum and then the local copy stored it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.store.jetstream import MAX_BATCH, EventStream, copy_stream
from app.store.log import EventLog, StoredEvent

T = TypeVar("T")


class StreamUpstream:
    """An `Upstream` (app.hub.sequencer) over an open `EventStream` whose client runs on `loop`."""

    max_batch = MAX_BATCH

    def __init__(self, stream: EventStream, loop: asyncio.AbstractEventLoop) -> None:
        self.stream = stream
        self.loop = loop

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def extend(self, rows: list[StoredEvent], digests: dict[str, str]) -> None:
        """Append one batch to the stream (see `EventStream.extend`); blocks this (the writer) thread."""
        self._call(self.stream.extend(rows, digests))

    def catch_up(self, log_: EventLog) -> int:
        """Copy the stream's events after `log_`'s head into it, each checked against the chain."""
        return self._call(copy_stream(self.stream, log_))
