"""The clustered log as the sequencer's upstream (`watchfloor hub --log nats://...`).

The JetStream client runs on the hub's event loop; the sequencer's writer thread calls `extend` and `catch_up`,
which hand the work to that loop and wait for it, so the writer's one-batch-at-a-time order (group commit, ack
after commit) is kept: a batch is acknowledged only after the stream's quorum and then the local copy stored it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.store.jetstream import MAX_BATCH, EventStream
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


async def copy_stream(stream: EventStream, log_: EventLog) -> int:
    """Copy every event of `stream` after `log_`'s head into `log_`; returns how many. The SQLite writes run on
    the loop, in chunks: call it only while nothing else writes `log_` (the writer thread is waiting on it).

    Each event must continue the local chain with the link the stream carries (ValueError otherwise): a copy
    that disagrees with the stream is never extended."""
    head = await stream.last_seq()
    copied = 0
    while log_.head_seq < head:
        chunk = await stream.fetch(log_.head_seq, head)
        digests = [(row.command, digest) for row, digest in chunk if row.command and digest]
        log_.append_rows([row for row, _ in chunk], digests)
        copied += len(chunk)
    return copied
