"""The hub: one websocket endpoint for every console and feed of every agency.

Each connection runs the protocol's `ServerSession`; this module carries out what it asks: checks passwords
(in a thread: Argon2 is slow on purpose), hands commands to the `Sequencer`, and serves subscriptions from
the log (snapshot, then the tail) before switching them to live fan-out. Nothing here blocks the loop on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.domain.agencies import DEFAULT_AGENCIES, Actor, Agency, Role
from app.domain.authority import ALL_AGENCIES, check_query
from app.domain.errors import Refusal
from app.domain.incident_search import Search, search, summary
from app.domain.picture import Picture, Viewer, viewer_of
from app.domain.sign_in import ThrottlePolicy
from app.domain.visibility import history_viewer, seen_by
from app.hub import history
from app.hub.anchor import CHECKPOINT_EVERY, Anchor
from app.hub.cap_feed import CapIntake
from app.hub.fanout import FanOut, Subscriber
from app.hub.feed_status import QUARANTINE_BUDGET, RECENT_KEPT, FeedRegistry
from app.hub.sequencer import Known, RecentCommands, Sequencer
from app.hub.sign_ins import SignIns
from app.protocol import codes
from app.protocol.messages import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Ack,
    AgencyInfo,
    Caught,
    Query,
    Reject,
    Result,
    Snapshot,
    Welcome,
    encode,
    encode_event,
    events_frames,
)
from app.protocol.queries import HISTORY_PREFIX, SearchArgs
from app.protocol.server_session import (
    FEED_LIMIT,
    HUMAN_LIMIT,
    Answer,
    Authenticate,
    Close,
    Execute,
    Send,
    ServerSession,
    StartSubscription,
)
from app.store.chain import SNAPSHOTS
from app.store.checkpoints import vouch_for_earlier_snapshots
from app.store.log import EventLog, LogReader, QuarantineRow

log = logging.getLogger("watchfloor.hub")

#: A console further behind than this many events gets a snapshot instead of the tail.
TAIL_LIMIT = 20_000
#: History queries one connection may have waiting or running at once; more are refused as `busy`.
HISTORY_IN_FLIGHT = 4
#: The feeds of the websocket endpoint: what feed accounts send, and reports (from anyone who may submit them).
WEBSOCKET_FEED, REPORTS_FEED = "websocket", "reports"
REPORT_COMMAND = "report.submit"


def tls_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """A server TLS context (wss://) from a PEM certificate chain and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


class Hub:
    """A running hub over one SQLite event log. `await start()`, then `await close()`."""

    def __init__(self, db_path: str | Path, agencies: dict[str, Agency] | None = None,
                 clock: Callable[[], float] = time.time, snapshot_every: int = 5000,
                 max_queue: int = 50_000, hello_timeout: float = 10.0,
                 checkpoint_every: float = CHECKPOINT_EVERY, sign_in: ThrottlePolicy | None = None,
                 quarantine_budget: int = QUARANTINE_BUDGET, judge_fixes: bool = True,
                 log_url: str | None = None) -> None:
        self.db_path = Path(db_path)
        #: `nats://...`: the log is a JetStream stream and `db_path` this hub's copy of it (docs/deploy.md).
        self.log_url = log_url
        self.stream: Any = None  # an EventStream once started with `log_url`
        #: Intrusion detection on field devices' fixes (docs/security.md); off only for a sped-up simulation.
        self.judge_fixes = judge_fixes
        self.snapshot_every = snapshot_every
        self.agencies = dict(agencies or DEFAULT_AGENCIES)
        self.clock = clock
        self.max_queue = max_queue
        self.hello_timeout = hello_timeout
        self.log = EventLog(self.db_path)
        self.anchor = Anchor(self.log, clock, self._audit_alarm)  # signed checkpoints; alarms (app/hub/anchor.py)
        self.checkpoint_every = checkpoint_every
        self._readers = threading.local()
        self.read_pool = ThreadPoolExecutor(2, thread_name_prefix="wf-log-reader")
        # History queries (review, incident timelines) on threads of their own, so a long review never delays a
        # console's catch-up; two, so one long review does not hold up every console's incident timeline.
        self.history_pool = ThreadPoolExecutor(2, thread_name_prefix="wf-history")
        self._earlier_snapshots: dict[int, str] | None = None  # vouched on a history thread (`_history_snapshots`)
        # Argon2 (64 MiB, slow on purpose) on a fixed pool of threads (sign_ins.PASSWORD_CHECKS): bounded memory.
        self.sign_ins = SignIns(self.db_path, clock, self._audit, sign_in)
        self.fanout = FanOut(self._drop_slow)
        self.sequencer: Sequencer | None = None
        self.server: Server | None = None
        self.counters: dict[str, int] = {}
        self.connections: set[ServerConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.gateway: Any = None  # a FeedGateway when feeds are on (`start_feeds`)
        self.feeds = FeedRegistry(clock, self._store_quarantine, quarantine_budget)
        self.feeds.feed(WEBSOCKET_FEED, "Feed accounts")
        self.feeds.feed(REPORTS_FEED, "Reports")
        self.cap = CapIntake(self)  # CAP documents into alerts (alert.cap, polling, file drop)
        self.services: list[Any] = []  # feed I/O started by `start_feed_io`, closed with the hub

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> int:
        """Rebuild the picture from the log, start the flusher and listen; returns the bound port."""
        loop = asyncio.get_running_loop()
        upstream = await self._open_stream() if self.log_url else None
        picture, quarantined = await loop.run_in_executor(self.read_pool, self._recover)
        self.feeds.seed(*quarantined)
        # Command ids not in memory are looked up on the loop (one indexed read, only for an id not seen
        # lately: a new command or a resend after a restart) through a connection of the loop's own.
        self._commands_reader = LogReader(self.db_path)
        known = RecentCommands(self._command_record)
        self.sequencer = Sequencer(self.log, picture, known, self.fanout.publish, self.clock,
                                   frozenset(self.agencies), snapshot_every=self.snapshot_every,
                                   judge_fixes=self.judge_fixes, upstream=upstream)
        self._spawn(self.sequencer.run())
        for problem in self.anchor.alarms:  # raised by the check in `_recover`, before there was a writer
            self._audit("hub", "-", "audit", "alarm", problem)
        self._spawn(self.anchor.run(self.sequencer.writer, self.checkpoint_every))
        await self.sign_ins.start()
        self._spawn(self.sign_ins.watch())
        self.server = await serve(self._handle, host, port, ssl=ssl_context, max_size=MAX_FRAME_BYTES,
                                  ping_interval=20, ping_timeout=30, close_timeout=2)
        self.port = next(iter(self.server.sockets)).getsockname()[1]
        scheme = "wss" if ssl_context else "ws"
        for name in (WEBSOCKET_FEED, REPORTS_FEED):
            self.feeds.feed(name).listening = [f"{scheme}://{host}:{self.port}"]
        log.info("hub listening on %s:%s (%s events in log)", host, self.port, picture.seq)
        return self.port

    async def start_feeds(self, host: str = "127.0.0.1", cot_port: int | None = None,
                          cot_udp_port: int | None = None, nmea_port: int | None = None,
                          mavlink_port: int | None = None, device_map: Any = None,
                          klv_port: int | None = None, nmea_tcp_port: int | None = None,
                          cot_tls: Any = None, mavlink_secret: bytes | None = None) -> dict[str, int]:
        """After `start`: listen for CoT/NMEA/MAVLink/KLV feeds (None: that listener is off) and CoT over TLS
        (`cot_tls`, an `app.hub.gateway.CotTls`); `mavlink_secret` derives signing drones' keys
        (`app.hub.signing_keys`). Returns bound ports."""
        from app.hub.gateway import FeedGateway

        self.gateway = FeedGateway(self, device_map=device_map, host=host, signing_secret=mavlink_secret)
        return await self.gateway.start(cot_port, cot_udp_port, nmea_port, mavlink_port, klv_port, nmea_tcp_port,
                                        cot_tls)

    async def _open_stream(self) -> Any:
        """Connect to the clustered log, bring the local copy up to it, and return the sequencer's upstream."""
        from app.hub.stream_log import StreamUpstream
        from app.store.jetstream import EventStream, copy_stream, parse_log_url

        assert self.log_url is not None
        self.stream = EventStream(parse_log_url(self.log_url))
        await self.stream.open()
        copied = await copy_stream(self.stream, self.log)
        log.info("event log on %s (stream %s); %d events copied into %s", self.log_url, self.stream.stream, copied,
                 self.db_path)
        return StreamUpstream(self.stream, asyncio.get_running_loop())

    def _recover(self) -> tuple[Picture, tuple[dict[str, int], list[dict[str, Any]], int]]:
        reader = self._reader()
        self.anchor.check(reader)
        picture = reader.picture_at()
        counts = reader.quarantine_counts()
        newest = [row for feed in counts for row in reader.quarantined(feed, RECENT_KEPT)]
        return picture, (counts, newest, reader.quarantine_last_id())

    def _command_record(self, key: str) -> Known | None:
        record = self._commands_reader.command_record(key)
        return Known(*record) if record is not None else None

    async def close(self) -> None:
        """Stop accepting, commit what is pending, close every connection and the log."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self.gateway is not None:
            await self.gateway.close()
        for service in reversed(self.services):
            await service.close()
        if self.sequencer is not None:
            await self.feeds.flush()  # quarantine rows still waiting for their batch
            await self.sequencer.drain()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.sequencer.close()
            self.anchor.sign()  # the writer has stopped: the log is at rest as signed
            self._commands_reader.close()
        self.read_pool.shutdown(wait=True)
        self.history_pool.shutdown(wait=True, cancel_futures=True)
        self.sign_ins.close()
        self.log.close()
        if self.stream is not None:
            await self.stream.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _reader(self) -> LogReader:
        reader = getattr(self._readers, "reader", None)
        if reader is None:
            reader = self._readers.reader = self.open_reader()
        return reader

    def open_reader(self) -> LogReader:
        """A new reader of the log that serves only snapshots the audit trail vouches for."""
        return LogReader(self.db_path, self.log.trusted_snapshots, self.anchor.forged_snapshot)

    def count(self, what: str, n: int = 1) -> None:
        """Bump a hub-wide counter (shown by `stats()` and logged)."""
        self.counters[what] = self.counters.get(what, 0) + n

    def stats(self) -> dict[str, Any]:
        """Counters, connections and log position, for operators and benchmarks."""
        assert self.sequencer is not None
        return {"connections": len(self.connections), "subscribers": len(self.fanout.subscribers),
                "committed_seq": self.sequencer.committed_seq, **self.counters}

    def health(self, viewer: Viewer | None = None) -> dict[str, Any]:
        """The `feeds` query's answer for `viewer` (None: everything): every feed's health, and the hub's alarms
        (the log cannot be written)."""
        assert self.sequencer is not None
        alarm = self.sequencer.alarm
        return {**self.feeds.report(viewer=viewer), "alarms": [] if alarm is None else [alarm.wire()]}

    def _store_quarantine(self, rows: list[QuarantineRow], repeats: dict[int, tuple[int, float]], budget: int
                          ) -> Any:
        """Write a batch of dead-letter rows on the log's writer thread (None once the hub is stopping)."""
        if self.sequencer is None:
            return None
        try:
            return self.sequencer.writer.submit(self.log.quarantine, rows, repeats, budget)
        except RuntimeError:  # the writer is shut down
            return None

    def _audit(self, user: str, peer: str, what: str, outcome: str, detail: str = "") -> None:
        assert self.sequencer is not None
        self.sequencer.writer.submit(self.log.access, self.clock(), user, peer, what, outcome, detail)

    def _audit_alarm(self, problem: str) -> None:
        """The audit trail's alarm (any thread): counted, and in the access log once the writer runs."""
        self.count("audit_alarm")
        if self.sequencer is not None:
            with contextlib.suppress(RuntimeError):  # the writer is shut down: the log line remains
                self._audit("hub", "-", "audit", "alarm", problem)

    # -- connections -----------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        peer = Peer(ws, "{}:{}".format(*ws.remote_address[:2]) if ws.remote_address else "?")
        self.connections.add(ws)
        self.count("connections_opened")
        try:
            try:
                first = await asyncio.wait_for(ws.recv(), self.hello_timeout)
            except TimeoutError:
                self.count("hello_timeout")
                await ws.close(codes.CLOSE_HELLO_TIMEOUT, "hello_timeout: send hello within "
                                                          f"{self.hello_timeout:.0f} s")
                return
            await self._run_actions(peer, peer.session.receive(first, self.clock()), first)
            async for frame in ws:
                self.count("frames_in")
                await self._run_actions(peer, peer.session.receive(frame, self.clock()), frame)
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == codes.CLOSE_TOO_BIG:
                self.count("too_big")
                self._audit(peer.name, peer.address, "frame", "too_big", f"frame over {MAX_FRAME_BYTES} bytes")
        finally:
            self.connections.discard(ws)
            for what, n in peer.session.counters.items():
                self.count(what, n)
            if peer.subscriber is not None:
                self.fanout.subscribers.discard(peer.subscriber)
            if peer.pump is not None:
                peer.pump.cancel()
            if peer.actor is not None:
                self._audit(peer.name, peer.address, "disconnect", "ok")

    async def _run_actions(self, peer: Peer, actions: list[Any], frame: bytes | str = b"") -> None:
        for action in actions:
            if isinstance(action, Send):
                if action.refused is not None and peer.is_feed:
                    # A machine's bad frame has nobody to read the error: keep it where people will.
                    self.feeds.feed(WEBSOCKET_FEED).input(peer.source)
                    self.feeds.quarantine(WEBSOCKET_FEED, peer.source, action.refused, action.reason,
                                          redacted(_raw(frame)),
                                          peer.actor.agency if peer.actor is not None else ALL_AGENCIES)
                await peer.ws.send(action.frame, text=True)
            elif isinstance(action, Execute):
                self._execute(peer, action, frame)
            elif isinstance(action, Answer):
                await self._answer(peer, action.query, action.args)
            elif isinstance(action, StartSubscription):
                await self._subscribe(peer, action.since)
            elif isinstance(action, Authenticate):
                await self._authenticate(peer, action)
            elif isinstance(action, Close):
                log.info("closing %s: %s", peer.address, action.reason)
                await peer.ws.close(action.code, action.reason)

    async def _authenticate(self, peer: Peer, action: Authenticate) -> None:
        hello = action.hello
        verdict = await self.sign_ins.check(hello.user, hello.password, peer.host, peer.ws)
        user = verdict.user
        if user is None:
            if verdict.outcome != "busy":  # turned away before any check: counted, not logged row by row
                self._audit(hello.user, peer.address, "sign_in", verdict.outcome, verdict.reason)
            refusal = (peer.session.authenticated(False) if verdict.close_code == codes.CLOSE_UNAUTHORIZED
                       else peer.session.refused(verdict.close_code, verdict.reason))
            await self._run_actions(peer, refusal)
            return
        limit = FEED_LIMIT if user.role == Role.FEED else HUMAN_LIMIT
        peer.session.authenticated(True, limit)
        peer.actor = Actor(user.name, user.role, user.agency)
        self.sign_ins.opened(peer.ws, user.name, verdict.stamp)
        self._audit(user.name, peer.address, "sign_in", "ok", hello.client[:100])
        assert self.sequencer is not None
        welcome = Welcome(v=PROTOCOL_VERSION, user=user.name, role=user.role.value, agency=user.agency,
                          head=self.sequencer.committed_seq,
                          agencies=[AgencyInfo(a.code, a.name, a.color) for a in self.agencies.values()])
        await peer.ws.send(encode(welcome), text=True)

    def _execute(self, peer: Peer, action: Execute, frame: bytes | str = b"") -> None:
        assert self.sequencer is not None and peer.actor is not None
        command, actor = action.command, peer.actor
        key = f"{actor.user}/{command.id}" if command.id is not None else None
        # CAP over the websocket keeps its books on the "cap" feed (CapIntake: input, applied, ignored, quarantined);
        # booking it here too would store each refusal twice and quarantine what CAP merely ignores.
        feed = (None if command.name == "alert.cap" else REPORTS_FEED if command.name == REPORT_COMMAND
                else WEBSOCKET_FEED if peer.is_feed else None)
        if feed is not None:
            self.feeds.feed(feed).input(peer.source)
        try:
            if command.name == "alert.cap":  # CAP XML: parsed here, applied as alert.issue / alert.cancel
                future = self.cap.submit(actor, action.args.xml.encode(), f"ws:{actor.user}@{peer.address}")
            else:
                future = self.sequencer.submit(actor, command.name, action.args, key)
        except Refusal as refusal:
            self.count(f"refused.{refusal.code}")
            if feed is not None:
                self.feeds.quarantine(feed, peer.source, refusal.code, f"{command.name}: {refusal.reason}",
                                      redacted(_raw(frame)), actor.agency)
            if refusal.code == "forbidden":
                self._audit(actor.user, peer.address, command.name, "forbidden", refusal.reason)
            self._spawn(self._send_quietly(peer.ws, encode(Reject(id=command.id, code=refusal.code,
                                                                  message=refusal.reason))))
            return
        self.count("commands_applied")
        if feed is not None:
            self.feeds.feed(feed).accept()

        def answered(f: asyncio.Future[Any]) -> None:
            failure = f.exception()
            if failure is not None:  # the log could not be written: `unavailable`, nothing was applied
                refusal = failure if isinstance(failure, Refusal) else Refusal("internal", "the hub could not "
                                                                                            "store this")
                self.count(f"refused.{refusal.code}")
            elif f.result().duplicate:
                self.count("commands_duplicate")
            if command.id is None:
                return
            if failure is not None:
                frame = encode(Reject(id=command.id, code=refusal.code, message=refusal.reason))
            else:
                applied = f.result()
                frame = encode(Ack(id=command.id, seqs=applied.seqs, duplicate=applied.duplicate))
            if peer.subscriber is not None:
                peer.subscriber.reply(frame)  # behind the events it produced
            else:
                self._spawn(self._send_quietly(peer.ws, frame))

        future.add_done_callback(answered)

    async def _answer(self, peer: Peer, query: Query, args: Any = None) -> None:
        """Answer a query: "feeds" from the hub's own state, a search from the hub's picture (the fold of the
        whole log), `history.*` from the log on a history thread (in a task of its own, so the connection's
        commands are not held up behind a long read)."""
        assert peer.actor is not None
        try:
            check_query(peer.actor, query.what)
        except Refusal as refusal:
            self._audit(peer.actor.user, peer.address, f"query {query.what}", "forbidden", refusal.reason)
            await self._send_quietly(peer.ws, encode(Reject(id=query.id, code=refusal.code, message=refusal.reason)))
            return
        if not query.what.startswith(HISTORY_PREFIX):
            data = self._search(peer.actor, args) if query.what == "search" else self.health(viewer_of(peer.actor))
            reply = encode(Result(id=query.id, what=query.what, data=data))
            await self._send_quietly(peer.ws, reply)
            return
        if peer.history_in_flight >= HISTORY_IN_FLIGHT:
            self.count("history_busy")
            await self._send_quietly(peer.ws, encode(Reject(
                id=query.id, code="busy", message=f"at most {HISTORY_IN_FLIGHT} history queries at a time on one "
                                                  "connection; ask again when one is answered")))
            return
        peer.history_in_flight += 1
        self._spawn(self._answer_history(peer, query, args))

    async def _answer_history(self, peer: Peer, query: Query, args: Any) -> None:
        assert peer.actor is not None
        viewer = history_viewer(peer.actor)
        self.count(f"history.{query.what.removeprefix(HISTORY_PREFIX)}")
        try:
            frame = await asyncio.get_running_loop().run_in_executor(
                self.history_pool, self._history_frame, query, args, viewer)
        finally:
            peer.history_in_flight -= 1
        await self._send_quietly(peer.ws, frame)

    def _history_frame(self, query: Query, args: Any, viewer: Viewer) -> bytes:
        """The answer's frame, read and encoded on a history thread (a picture's encoding is not the loop's)."""
        try:
            reader = self._reader()
            if query.what == "history.picture":
                reader.trusted_snapshots = self._history_snapshots(reader)
            data = history.answer(reader, viewer, query.what, args)
        except Refusal as refusal:
            return encode(Reject(id=query.id, code=refusal.code, message=refusal.reason))
        except Exception:  # a read that failed (the disk, a damaged page): the asker hears of it, the hub goes on
            log.exception("history query %s failed", query.what)
            return encode(Reject(id=query.id, code="internal", message="the hub could not read its history"))
        return encode(Result(id=query.id, what=query.what, data=data))

    def _search(self, actor: Actor, args: SearchArgs) -> dict[str, Any]:
        """The incidents `actor` may see in the history that match `args`, newest first: the search reads the
        whole history, so it sees as the history queries do (`history_viewer`), not as the live view does."""
        assert self.sequencer is not None
        wanted = Search(number=args.number.strip(), words=tuple(args.words.lower().split()),
                        type=args.incident_type.strip().lower(), unit=args.unit.strip().upper(),
                        since=args.since, until=args.until)
        found = search(self.sequencer.picture, wanted, args.limit, history_viewer(actor))
        return {"incidents": [summary(i) for i in found]}

    def _history_snapshots(self, reader: LogReader) -> dict[int, str]:
        """The snapshots a picture of any moment may start from (on a history thread): those the hub trusts,
        and, once vouched for (the first time a picture is asked), every earlier one on the snapshots' chain up
        to the head the hub vouches for. Without that, a hub restarted on a long log would fold a moment of the
        morning from the log's start. None are added while the audit alarm stands."""
        if self._earlier_snapshots is None and not self.anchor.alarms:
            seq, link = self.log.heads[SNAPSHOTS.name]
            vouched = vouch_for_earlier_snapshots(reader.conn, seq, link)
            if vouched is None:
                self.anchor.raise_alarm("snapshots: the chain of stored snapshots does not reach the head the "
                                        "hub vouches for; pictures of past moments are folded from the log's start")
            self._earlier_snapshots = vouched or {}
        return {**(self._earlier_snapshots or {}), **self.log.trusted_snapshots}

    async def _send_quietly(self, ws: ServerConnection, frame: bytes) -> None:
        # The client went away; it resends the commands it has no answer for.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame, text=True)

    async def _subscribe(self, peer: Peer, since: int | None) -> None:
        assert self.sequencer is not None and peer.actor is not None
        actor, ws = peer.actor, peer.ws
        viewer = viewer_of(actor)

        async def send(frame: bytes) -> None:
            await ws.send(frame, text=True)

        head = self.sequencer.committed_seq
        peer.subscriber = Subscriber(viewer, send, ws.close, head, self.max_queue)
        self.fanout.subscribers.add(peer.subscriber)
        peer.pump = self._spawn(self._pump(peer.subscriber))
        loop = asyncio.get_running_loop()
        frames = await loop.run_in_executor(self.read_pool, self._catch_up, since, head, viewer)
        for frame in frames:
            await ws.send(frame, text=True)
        await ws.send(encode(Caught(seq=head)), text=True)
        peer.subscriber.go_live()

    async def _pump(self, subscriber: Subscriber) -> None:
        with contextlib.suppress(ConnectionClosed):
            await subscriber.pump()

    def _catch_up(self, since: int | None, head: int, viewer: Viewer) -> list[bytes]:
        reader = self._reader()
        if since is None or since > head or head - since > TAIL_LIMIT:
            self.count("catch_up_snapshot")
            picture = reader.picture_at(seq=head).visible_to(viewer)
            return [encode(Snapshot(seq=head, picture=picture))]
        self.count("catch_up_tail")
        seen = (seen_by(viewer, e) for e in reader.iter_events(since, until_seq=head))
        events = [e for e in seen if e is not None]
        return events_frames([encode_event(e) for e in events])

    def _drop_slow(self, subscriber: Subscriber) -> None:
        self.count("dropped_slow")
        log.warning("dropping a console that fell %d events behind", len(subscriber.queue))
        self._spawn(subscriber.close(codes.CLOSE_TOO_SLOW, "too_slow: resume from your last sequence number"))


@dataclass(slots=True)
class Peer:
    """One websocket connection: its protocol session and, once signed in, who it is and its subscription."""

    ws: ServerConnection
    address: str
    session: ServerSession = field(default_factory=lambda: ServerSession(HUMAN_LIMIT))
    actor: Actor | None = None
    subscriber: Subscriber | None = None
    pump: asyncio.Task[Any] | None = None
    history_in_flight: int = 0  # history queries waiting or running for this connection

    @property
    def host(self) -> str:
        """The address the connection comes from, without its port (what sign-ins are throttled by)."""
        return str(self.ws.remote_address[0]) if self.ws.remote_address else "?"

    @property
    def name(self) -> str:
        """The signed-in user's name, or "?" before sign-in (for the access log)."""
        return self.actor.user if self.actor is not None else "?"

    @property
    def is_feed(self) -> bool:
        """Whether a feed account (a machine) is signed in on this connection."""
        return self.actor is not None and self.actor.role == Role.FEED

    @property
    def source(self) -> str:
        """Where input on this connection comes from, as the Feeds panel names it."""
        return f"ws:{self.name}@{self.address}"


def _raw(frame: bytes | str) -> bytes:
    return frame.encode("utf-8", "replace") if isinstance(frame, str) else bytes(frame)


#: A JSON "password" member's value, also in a frame cut short or otherwise not valid JSON.
_PASSWORD = re.compile(rb'("password"\s*:\s*)"(?:[^"\\]|\\.)*("|$)', re.DOTALL)


def redacted(raw: bytes) -> bytes:
    """A frame fit to keep and show: any password in it replaced (a feed that repeats its hello, say)."""
    return _PASSWORD.sub(rb'\1"[redacted]"', raw)


async def run_hub(db_path: str | Path, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                  ready: Callable[[int], None] | None = None, stop: asyncio.Event | None = None,
                  feeds: dict[str, Any] | None = None, feed_io: dict[str, Any] | None = None,
                  checkpoint_every: float = CHECKPOINT_EVERY, sign_in: ThrottlePolicy | None = None,
                  quarantine_budget: int = QUARANTINE_BUDGET, log_url: str | None = None,
                  residents: dict[str, Any] | None = None) -> None:
    """Run a hub until `stop` is set (or forever); `feeds` are `Hub.start_feeds` arguments (None: no feeds),
    `feed_io` those of `app.hub.feed_io.start_feed_io` (CAP fetch and outbox, CoT out), `checkpoint_every` the
    seconds between signed audit checkpoints, `sign_in` the sign-in throttle (None: the defaults),
    `quarantine_budget` the bytes the quarantine table may hold, `log_url` a NATS JetStream cluster keeping the
    log (None: the SQLite file is the log), `residents` the residents' endpoint's `port` and `public_url` (None:
    not served; `app.hub.residents`)."""
    hub = Hub(db_path, checkpoint_every=checkpoint_every, sign_in=sign_in, quarantine_budget=quarantine_budget,
              log_url=log_url)
    bound = await hub.start(host, port, ssl_context)
    if feeds:
        log.info("feed gateway ports: %s", await hub.start_feeds(**feeds))
    if feed_io:
        from app.hub.feed_io import start_feed_io

        log.info("feed I/O: %s", [type(s).__name__ for s in await start_feed_io(hub, **feed_io)])
    if residents is not None:
        from app.city.loader import load_city
        from app.hub.residents import ResidentDesk

        # A shipped city is built on first use (seconds): not on the loop, which already serves consoles.
        city = await asyncio.get_running_loop().run_in_executor(None, load_city)
        desk = ResidentDesk(hub, city, host, residents["port"], ssl_context, residents.get("public_url"),
                            residents.get("push_allow", ()))
        await desk.start()
        hub.services.append(desk)
        print(f"watchfloor residents' app on {desk.public_url}", flush=True)
    if ready is not None:
        ready(bound)
    try:
        await (stop.wait() if stop is not None else asyncio.Future())
    finally:
        await hub.close()
