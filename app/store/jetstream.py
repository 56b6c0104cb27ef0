"""The event log on a NATS JetStream cluster: one replicated stream, sequenced by the stream itself.

`watchfloor hub --log nats://h1:4222,h2:4222,h3:4222` keeps the log in the stream `WATCHFLOOR_EVENTS` (three
replicas, file storage). An event's sequence number is the stream's sequence number, and every stored message
carries the event as the embedded log stores it, hash-chain link included, so the stream alone is a complete,
verifiable log (`watchfloor log export` writes it back into a SQLite file).

One group-commit batch is one JetStream *atomic batch* (all of it is stored or none), whose first message carries
`Nats-Expected-Last-Sequence`: a writer whose head is stale (another hub extended the stream) is refused and
stores nothing, so two hubs can never both extend the log from the same head. Each message carries `Nats-Msg-Id`
(the command's key and the event's place in it, or the event's chain link when no command produced it), so an
append repeated after a lost acknowledgement is not stored twice. While the stream has no leader (a node died
and the others elect one) an append is retried, with the same ids and the same expected head, until it lands or
a deadline passes; whether a batch landed is decided by reading it back, never guessed.

Each hub still keeps a SQLite copy of the log (`--db`): every event the stream holds is written there (after
the stream, checked link by link against the chain), so resume, replay, review and audit read it unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from app.store.log import EventLog, StoredEvent

log = logging.getLogger("watchfloor.log")

STREAM = "WATCHFLOOR_EVENTS"
SUBJECT = "watchfloor.events"
#: The server's ceiling on one atomic batch (its `jetstream.limits.batch.max_msgs`, 1000 by default).
MAX_BATCH = 1000
#: How long an append is retried while the stream has no leader or no quorum before the hub gives up on it.
APPEND_DEADLINE_S = 30.0
#: How long a hub waits at start for any of the servers to answer.
CONNECT_DEADLINE_S = 15.0
#: How long an append waits for the stream's acknowledgement in one attempt.
ATTEMPT_TIMEOUT_S = 5.0
#: Duplicate tracking by `Nats-Msg-Id`, in seconds (the stream's duplicate window).
DUPLICATE_WINDOW_S = 120.0
#: JetStream's answers to a publish that is refused outright (wrong last sequence; an id seen before).
_WRONG_LAST_SEQUENCE, _DUPLICATE_IN_BATCH = 10071, 10201


class StreamFenced(Exception):
    """The stream refused an append: another writer extended it from this hub's head (or it was changed).
    Nothing of the append was stored."""

    fenced = True  # what the sequencer's alarm reads: nothing of the batch was applied


class StreamUnavailable(Exception):
    """The stream did not take an append before the deadline (no leader, no quorum, no server reachable)."""


class _Message(msgspec.Struct, frozen=True):
    """One event as a stream message (the data and audience as the JSON text its link covers)."""

    seq: int
    ts: float
    actor: str
    kind: str
    data: str
    audience: str | None
    command: str | None
    hash: str
    digest: str | None = None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Message).decode


def parse_log_url(url: str) -> list[str]:
    """The server URLs in `nats://h1:p1,h2:p2,...` (a host without a port gets NATS's 4222).

    Raises ValueError for anything else, with a sentence that says what is expected."""
    if not url.startswith("nats://") or url == "nats://":
        raise ValueError(f"--log {url!r}: expected nats://HOST:PORT[,HOST:PORT...]")
    servers = []
    for part in url.removeprefix("nats://").split(","):
        part = part.strip().removeprefix("nats://")
        if not part:
            raise ValueError(f"--log {url!r}: an empty server in the list")
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "4222")
        if not host or not port.isdigit():
            raise ValueError(f"--log {url!r}: {part!r} is not HOST:PORT")
        servers.append(f"nats://{host}:{port}")
    return servers


def to_stored(message: bytes) -> tuple[StoredEvent, str | None]:
    """A stream message's event as the log stores it, and its command's digest."""
    m = _decode(message)
    return StoredEvent(m.seq, m.ts, m.actor, m.kind, m.data, m.audience, m.command, m.hash), m.digest


@dataclass(slots=True)
class StreamState:
    """Where the stream stands: its last sequence, its leader and replicas as the cluster reports them."""

    last_seq: int
    leader: str | None
    replicas: list[tuple[str, bool, bool]]  # name, current, offline


class EventStream:
    """A connection to the log's stream. Use from one event loop; `open` before anything else."""

    def __init__(self, servers: list[str], replicas: int = 3, deadline: float = APPEND_DEADLINE_S,
                 stream: str = STREAM) -> None:
        self.servers = servers
        self.replicas = replicas
        self.deadline = deadline
        self.stream = stream
        self.subject = SUBJECT if stream == STREAM else f"{SUBJECT}.{stream}"
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    async def open(self, create: bool = True) -> None:
        """Connect (to any of the servers; the client moves to another when one dies) and make sure the stream
        exists (made here with `replicas` replicas on file storage, when `create`)."""
        where = ",".join(self.servers)
        try:
            self._nc = await asyncio.wait_for(nats.connect(
                servers=self.servers, connect_timeout=2, reconnect_time_wait=0.2, max_reconnect_attempts=-1,
                allow_reconnect=True, name="watchfloor", error_cb=_connection_trouble), CONNECT_DEADLINE_S)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            raise StreamUnavailable(f"cannot reach a NATS server at {where} within {CONNECT_DEADLINE_S:.0f} s "
                                    f"({type(exc).__name__}: {exc})") from None
        self._js = self._nc.jetstream(timeout=ATTEMPT_TIMEOUT_S)
        try:
            await self._retrying(lambda: self.js.stream_info(self.stream))
        except nats.js.errors.NotFoundError:
            if not create:
                raise StreamUnavailable(f"there is no stream {self.stream} on {where}") from None
            await self._create()

    async def _create(self) -> None:
        """Make the stream (the same request again is answered as done, so a retry after a lost answer is safe);
        right after a cluster starts its JetStream may not answer yet, which is retried like an append."""
        config = StreamConfig(name=self.stream, subjects=[self.subject], storage=StorageType.FILE,
                              num_replicas=self.replicas, allow_atomic=True, duplicate_window=DUPLICATE_WINDOW_S,
                              max_msgs_per_subject=-1, deny_delete=True, deny_purge=True)
        try:
            await self._retrying(lambda: self.js.add_stream(config))
        except StreamUnavailable as exc:  # e.g. fewer nodes than replicas
            raise StreamUnavailable(f"cannot make the stream {self.stream} with {self.replicas} replicas: "
                                    f"{exc}") from None

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context (after `open`)."""
        assert self._js is not None, "EventStream.open() first"
        return self._js

    async def state(self) -> StreamState:
        """The stream's last sequence, leader and replicas."""
        info = await self._retrying(lambda: self.js.stream_info(self.stream))
        cluster = info.cluster
        replicas = [(str(p.name), bool(p.current), bool(p.offline)) for p in (cluster.replicas or [])] \
            if cluster is not None else []
        return StreamState(info.state.last_seq, cluster.leader if cluster is not None else None, replicas)

    async def last_seq(self) -> int:
        """The stream's last sequence number (0 when empty), retried like an append while it has no leader."""
        return await self._retrying(self._last_seq)

    async def _last_seq(self) -> int:
        return int((await self.js.stream_info(self.stream)).state.last_seq)

    async def extend(self, rows: list[StoredEvent], digests: dict[str, str]) -> None:
        """Append `rows` (consecutive, chained, continuing the stream's last sequence) as one atomic batch.

        Returns once the stream has stored them (acknowledged by a quorum of its replicas). Raises StreamFenced
        when the stream's head is not the one the rows continue (nothing stored), StreamUnavailable when no
        attempt landed before the deadline (then none did: a late one is found by the next append's check)."""
        if not rows:
            return
        if len(rows) > MAX_BATCH:
            raise ValueError(f"{len(rows)} events in one append; at most {MAX_BATCH}")
        await self._retrying(lambda: self._attempt(rows, digests))

    async def _retrying(self, attempt: Any) -> Any:
        """Run `attempt` until it returns, retrying transient failures (no leader, lost connection, time-outs)
        with a growing pause until the deadline."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.deadline
        pause = 0.05
        while True:
            try:
                return await attempt()
            except (StreamFenced, ValueError, nats.js.errors.NotFoundError):
                raise
            except (TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                if loop.time() + pause > give_up:
                    raise StreamUnavailable(f"the stream {self.stream} did not answer within {self.deadline:.0f} s "
                                            f"({type(exc).__name__}: {exc})") from exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def _attempt(self, rows: list[StoredEvent], digests: dict[str, str]) -> None:
        assert self._nc is not None
        batch_id = secrets.token_hex(16)  # a fresh one per attempt: a stray earlier attempt cannot mix in
        nth: dict[str, int] = {}
        reply: Any = None
        for i, row in enumerate(rows, 1):
            headers = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(i), "Nats-Msg-Id": _msg_id(row, nth)}
            if i == 1:
                headers["Nats-Expected-Last-Sequence"] = str(row.seq - 1)
            payload = _encode(_Message(*row, digest=digests.get(row.command) if row.command else None))
            if i < len(rows):
                await self._nc.publish(self.subject, payload, headers=headers)
            else:
                headers["Nats-Batch-Commit"] = "1"
                reply = await self._nc.request(self.subject, payload, timeout=ATTEMPT_TIMEOUT_S, headers=headers)
        answer = msgspec.json.decode(reply.data)
        error = answer.get("error")
        if error is None:
            if answer.get("seq") != rows[-1].seq:
                raise StreamFenced(f"the stream stored the batch at {answer.get('seq')}, not {rows[-1].seq}")
            return
        if error.get("err_code") in (_WRONG_LAST_SEQUENCE, _DUPLICATE_IN_BATCH):
            if await self._landed(rows[-1]):
                return  # an earlier attempt whose acknowledgement was lost
            raise StreamFenced(f"the stream refused events {rows[0].seq}-{rows[-1].seq}: {error.get('description')} "
                               "(another hub extended the log)")
        raise nats.js.errors.APIError.from_error(error)  # e.g. no leader yet: retried

    async def _landed(self, row: StoredEvent) -> bool:
        """Whether the stream holds exactly this event (by its chain link) at its sequence number."""
        try:
            message = await self.js.get_msg(self.stream, row.seq)
        except nats.js.errors.NotFoundError:
            return False
        return message.data is not None and to_stored(message.data)[0].hash == row.hash

    async def fetch(self, after_seq: int, until_seq: int, limit: int = 500) -> list[tuple[StoredEvent, str | None]]:
        """Up to `limit` events after `after_seq` and up to `until_seq`, in order, with their digests (retried
        like an append while the stream has no leader)."""
        result: list[tuple[StoredEvent, str | None]] = await self._retrying(
            lambda: self._fetch(after_seq, until_seq, limit))
        return result

    async def _fetch(self, after_seq: int, until_seq: int, limit: int) -> list[tuple[StoredEvent, str | None]]:
        want = min(limit, until_seq - after_seq)
        if want <= 0:
            return []
        sub = await self.js.pull_subscribe(self.subject, durable=None, stream=self.stream, config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1, ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0, mem_storage=True, num_replicas=1))
        try:
            chunk: list[tuple[StoredEvent, str | None]] = []
            while len(chunk) < want:
                messages = await sub.fetch(want - len(chunk), timeout=ATTEMPT_TIMEOUT_S)
                chunk.extend(to_stored(m.data) for m in messages)
            return chunk[:want]
        finally:
            await sub.unsubscribe()

    async def close(self) -> None:
        """Send what is buffered and disconnect."""
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()


async def _connection_trouble(exc: Exception) -> None:
    """The client's reports of a lost or refused connection: logged, not printed (it reconnects by itself, and
    an append that fails meanwhile is retried or refused as `unavailable`)."""
    log.info("NATS connection: %s: %s", type(exc).__name__, exc)


def _msg_id(row: StoredEvent, nth: dict[str, int]) -> str:
    """The duplicate-tracking id of an event: its command's key and its place among that command's events, or
    (an event no command produced) its chain link, which names its place and content."""
    if row.command is None:
        return row.hash
    n = nth.get(row.command, 0)
    nth[row.command] = n + 1
    return f"{row.command}#{n}"


async def copy_stream(stream: EventStream, log_: EventLog) -> int:
    """Copy every event of `stream` after `log_`'s head into `log_`; returns how many. The SQLite writes run on
    the loop, in chunks: call it only while nothing else writes `log_` (the writer thread is waiting on it).

    Each event must continue the local chain with the link the stream carries (ValueError otherwise): a copy
    that disagrees with the stream is never extended."""
    head = await stream.last_seq()
    if log_.head_seq > head:
        raise StreamUnavailable(f"this hub's copy {log_.path} holds {log_.head_seq} events and the stream "
                                f"{stream.stream} only {head}: it is another log's copy, or the stream lost events; "
                                "import the copy into an empty stream (watchfloor log import) or start with a new --db")
    if log_.head_seq > 0:  # the copy's newest event must be the stream's event at that place, link for link
        theirs = await stream.fetch(log_.head_seq - 1, log_.head_seq)
        if not theirs or theirs[0][0].hash != log_.head_hash:
            raise StreamUnavailable(f"this hub's copy {log_.path} is not a copy of the stream {stream.stream}: their "
                                    f"event {log_.head_seq} differs; start with a new --db")
    copied = 0
    while log_.head_seq < head:
        chunk = await stream.fetch(log_.head_seq, head)
        digests = [(row.command, digest) for row, digest in chunk if row.command is not None and digest is not None]
        log_.append_rows([row for row, _ in chunk], digests)
        copied += len(chunk)
    return copied


def whole_commands(rows: list[StoredEvent], limit: int = MAX_BATCH) -> int:
    """How many of `rows` (at most `limit`, at least one) to append together without splitting the events of one
    command between two appends (their duplicate-tracking ids count a command's events from its first)."""
    if len(rows) <= limit:
        return len(rows)
    cut = limit
    while cut > 1 and rows[cut].command is not None and rows[cut].command == rows[cut - 1].command:
        cut -= 1
    return cut
