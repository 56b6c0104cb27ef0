"""The bridge between the network thread (asyncio, owns the HubClient) and the GUI thread (Qt).

The picture is folded in the network thread and is never touched by the GUI. Instead, at most `rate_hz`
times a second and only when something changed, the network thread copies it into a fresh `Picture` (one
msgpack round trip in C) and emits it with the events seen since the last frame. Signals cross threads as
queued connections, so every slot runs in the GUI thread; the GUI sends commands with
`run_coroutine_threadsafe` and learns their outcome from `command_finished`. The GUI never waits on the
network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from PySide6.QtCore import QObject, Signal

from app.client.connection import CommandDropped, CommandRefused, HubClient
from app.domain import events as ev
from app.domain.events import Event
from app.domain.picture import Picture
from app.protocol.client_session import Update

log = logging.getLogger("watchfloor.console")

#: Events not worth a line in any timeline: positions arrive many times a second and live in the picture.
QUIET_EVENTS = frozenset({ev.UNIT_POSITION, ev.DRONE_TELEMETRY})
#: At most this many events are held for one frame (a resync after a long outage sends a snapshot anyway).
MAX_EVENTS_PER_FRAME = 5000


@dataclass(frozen=True, slots=True)
class Frame:
    """What the GUI gets: a private copy of the picture and the (non-position) events since the last frame.

    `reset` is set when the hub sent a whole snapshot (the picture was replaced, not advanced).
    """

    picture: Picture
    events: list[Event]
    reset: bool


@dataclass(frozen=True, slots=True)
class HeldCommand:
    """A command typed before or during an outage, held after the reconnect until the dispatcher confirms it.

    `token` is the one `HubBridge.send` returned for it; `id` its outbox id (kept if it is sent)."""

    token: int
    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """The connection as the status bar shows it. `retry_at` is on the `time.monotonic` clock."""

    state: str
    detail: str = ""
    retry_at: float | None = None
    queued: int = 0
    user: str = ""
    role: str = ""
    agency: str = ""
    agencies: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (name, colour)
    held: tuple[HeldCommand, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command sent from the GUI ended: accepted, or refused with the hub's code and reason."""

    token: int
    name: str
    args: dict[str, Any]
    ok: bool
    code: str = ""
    message: str = ""
    events: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The hub's answer to a query from the GUI (`data`), or why there is none (`code`, `message`)."""

    what: str
    ok: bool
    data: Any = None
    code: str = ""
    message: str = ""
    args: dict[str, Any] | None = None  # what was asked (a history query's incident and page)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Picture)


def copy_picture(picture: Picture) -> Picture:
    """A deep, independent copy of a picture (fast: C serialisation both ways)."""
    return _decoder.decode(_encoder.encode(picture))


class HubBridge(QObject):
    """Runs a HubClient in its own thread and hands its picture to the GUI thread by signal."""

    frame = Signal(object)  # Frame
    status_changed = Signal(object)  # ConnectionStatus
    command_finished = Signal(object)  # CommandResult
    query_finished = Signal(object)  # QueryResult

    def __init__(self, url: str, user: str, password: str, rate_hz: float = 8.0,
                 parent: QObject | None = None, backoff_max: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None, hold_outbox: bool = True) -> None:
        super().__init__(parent)
        self.url = url
        self._ssl_context = ssl_context
        self.user = user
        self._password = password
        self._period = 1.0 / rate_hz
        self._backoff_max = backoff_max
        self._hold_outbox = hold_outbox
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: HubClient | None = None
        self._started = threading.Event()
        self._tokens = itertools.count(1)
        # Written and read only in the network thread.
        self._pending: list[Event] = []
        self._dirty = False
        self._reset = False
        self._last_status: ConnectionStatus | None = None
        self._tokens_by_id: dict[str, int] = {}

    # -- GUI-thread API --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread; it connects and keeps reconnecting until `stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="wf-console-net", daemon=True)
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and end the network thread (called once, when the console closes)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        thread.join(timeout)
        self._thread = None

    def send(self, name: str, args: dict[str, Any]) -> int:
        """Queue a hub command; returns a token that `command_finished` will carry. Never blocks."""
        token = next(self._tokens)
        if self._loop is None:
            self.command_finished.emit(CommandResult(token, name, args, False, "offline", "not started"))
            return token
        asyncio.run_coroutine_threadsafe(self._command(token, name, args), self._loop)
        return token

    def release(self, ids: list[str]) -> None:
        """Send held commands (see `ConnectionStatus.held`) under their original ids. Never blocks."""
        self._call_soon(lambda client: client.release_outbox(ids))

    def drop(self, ids: list[str]) -> None:
        """Never send these held commands; each ends with a `command_finished` coded "dropped". Never blocks."""
        self._call_soon(lambda client: client.drop_outbox(ids))

    def _call_soon(self, action: Any) -> None:
        loop = self._loop
        if loop is None:
            return

        def run() -> None:
            if self._client is not None:
                action(self._client)
                self._emit_status()

        loop.call_soon_threadsafe(run)

    def query(self, what: str, args: dict[str, Any] | None = None) -> None:
        """Ask the hub about its own state (e.g. "feeds"), for an incident search ("search") or its history
        (`history.incident`), with `args`; the answer comes by `query_finished`. Never blocks."""
        if self._loop is None:
            self.query_finished.emit(QueryResult(what, False, code="offline", message="not started", args=args))
            return
        asyncio.run_coroutine_threadsafe(self._query(what, args), self._loop)

    def ask(self, what: str, args: dict[str, Any], timeout: float = 30.0) -> Any:
        """Ask the hub a query and wait for its data (raises CommandRefused, ConnectionError, TimeoutError).

        Blocks: for review worker threads (`app.ui.review.hub_replay`), never the GUI or the network thread.
        """
        loop, client = self._loop, self._client
        if loop is None or client is None:
            raise ConnectionError("not connected to the hub")
        if threading.current_thread() in (self._thread, threading.main_thread()):
            raise RuntimeError("HubBridge.ask blocks: call it from a worker thread")
        future = asyncio.run_coroutine_threadsafe(client.query(what, timeout, args), loop)
        try:
            return future.result(timeout + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the hub did not answer {what} within {timeout:.0f} s") from None

    # -- network thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._client = HubClient(self.url, self.user, self._password, client="watchfloor-console",
                                 on_update=self._on_update, on_state=self._on_state,
                                 backoff_max=self._backoff_max, ssl_context=self._ssl_context,
                                 hold_outbox_on_reconnect=self._hold_outbox)
        self._password = ""
        try:
            loop.run_until_complete(self._main())
            # Commands still waiting for a hub that never answered: end them quietly.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            loop.close()

    async def _main(self) -> None:
        assert self._client is not None
        self._stop = asyncio.Event()
        self._client.start()
        self._started.set()
        pump = asyncio.get_running_loop().create_task(self._pump())
        await self._stop.wait()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await self._client.close()

    async def _shutdown(self) -> None:
        self._stop.set()

    def _on_update(self, update: Update) -> None:
        if update.snapshot:
            self._pending.clear()
            self._reset = True
        if update.events or update.snapshot:
            self._dirty = True
            self._pending.extend(e for e in update.events if e.kind not in QUIET_EVENTS)
            if len(self._pending) > MAX_EVENTS_PER_FRAME:
                del self._pending[: len(self._pending) - MAX_EVENTS_PER_FRAME]

    def _on_state(self, state: str, detail: str) -> None:
        self._emit_status()

    def _emit_status(self) -> None:
        client = self._client
        if client is None:
            return
        welcome = client.session.welcome
        status = ConnectionStatus(
            state=client.state, detail=client.detail, retry_at=client.retry_at, queued=len(client.session.outbox),
            user=welcome.user if welcome else self.user, role=welcome.role if welcome else "",
            agency=welcome.agency if welcome else "",
            agencies={a.code: (a.name, a.color) for a in welcome.agencies} if welcome else {},
            held=tuple(HeldCommand(self._tokens_by_id.get(o.id, 0), o.id, o.name, o.args)
                       for o in client.session.outbox.values() if o.id in client.session.held),
        )
        if status != self._last_status:
            self._last_status = status
            self.status_changed.emit(status)

    async def _pump(self) -> None:
        """Coalesce: one frame per period at most, and only when the picture moved."""
        assert self._client is not None
        while True:
            await asyncio.sleep(self._period)
            self._emit_status()
            if not self._dirty:
                continue
            started = time.perf_counter()
            frame = Frame(copy_picture(self._client.picture), self._pending, self._reset)
            self._pending, self._dirty, self._reset = [], False, False
            self.frame.emit(frame)
            log.debug("frame at seq %s in %.1f ms", frame.picture.seq, (time.perf_counter() - started) * 1000)

    async def _command(self, token: int, name: str, args: dict[str, Any]) -> None:
        assert self._client is not None
        command_id, future = self._client.submit(name, args)
        self._tokens_by_id[command_id] = token
        self._emit_status()  # the queued count may have grown (offline)
        try:
            ack = await future
        except CommandRefused as refused:
            result = CommandResult(token, name, args, False, refused.code, refused.message)
        except CommandDropped as dropped:
            result = CommandResult(token, name, args, False, "dropped", str(dropped))
        except Exception as exc:  # a bug or a closed client must still answer the GUI
            result = CommandResult(token, name, args, False, "error", str(exc))
        else:
            result = CommandResult(token, name, args, True, events=list(ack.seqs))
        finally:
            self._tokens_by_id.pop(command_id, None)
        self.command_finished.emit(result)
        self._emit_status()

    async def _query(self, what: str, args: dict[str, Any] | None) -> None:
        assert self._client is not None
        try:
            data = await self._client.query(what, args=args)
        except CommandRefused as refused:
            result = QueryResult(what, False, code=refused.code, message=refused.message, args=args)
        except (ConnectionError, TimeoutError) as exc:
            result = QueryResult(what, False, code="offline", message=str(exc) or "the hub did not answer", args=args)
        else:
            result = QueryResult(what, True, data, args=args)
        self.query_finished.emit(result)
