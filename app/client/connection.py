"""The asyncio client: keeps one connection to the hub alive and the picture current.

Used by the console (in its network thread), the simulator, feeds, benchmarks and tests. Commands go into the
session's outbox first and are sent when connected; after a reconnect the outbox is resent under the same
ids, so nothing typed offline is lost and nothing is applied twice. With `hold_outbox_on_reconnect` that resend
waits for `release_outbox` (sent under the original ids) or `drop_outbox` (never sent, the future raises
CommandDropped): a dispatcher decides whether what was typed during an outage still stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from app.domain.picture import Picture
from app.protocol import codes
from app.protocol.client_session import ClientSession, Update
from app.protocol.messages import Ack, Reject, command_frame, encode

log = logging.getLogger("watchfloor.client")

#: Close codes after which retrying cannot help: a person has to fix the credentials or the software.
FATAL_CLOSES = {codes.CLOSE_UNAUTHORIZED: "wrong user name or password, or the account is disabled",
                codes.CLOSE_UNSUPPORTED_VERSION: "this console speaks another protocol version than the hub",
                codes.CLOSE_DISABLED: "the account was disabled",
                codes.CLOSE_PASSWORD_CHANGED: "the account's password was changed; sign in with the new one",
                codes.CLOSE_LOCKED_OUT: "the account is locked after too many failed sign-ins; "
                                        "a supervisor must unlock it"}


def client_tls_context(url: str, ca_file: str | Path | None = None) -> ssl.SSLContext | None:
    """How every client secures its connection to the hub at `url`.

    None for ws://. For wss:// a context that verifies the hub's certificate chain and host name: against the
    control room's CA in `ca_file` (`watchfloor cert ca`, given as `--ca FILE`) when there is one, else against
    the system's trust store. Verification is never turned off. Raises ValueError when `ca_file` cannot be
    loaded, or is given for a ws:// URL (the operator asked for TLS, and the URL would send the password in
    clear).
    """
    if urlsplit(url).scheme != "wss":
        if ca_file is not None:
            raise ValueError(f"a CA ({ca_file}) is for wss:// URLs, and {url} is not one")
        return None
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the CA certificate {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _untrusted_detail(error: ssl.SSLCertVerificationError) -> str:
    """What an operator reads when the hub's certificate fails verification, with what to do about it."""
    reason = error.verify_message or str(error)
    if "mismatch" in reason:
        return (f"the hub's certificate is not for this address: {reason} (connect with a name or address the "
                "certificate holds: watchfloor cert hub --name/--ip)")
    return f"the hub's certificate is not trusted: {reason} (use --ca FILE with the control room's CA)"


class SignInFailed(ConnectionError):
    """`HubClient.sign_in` could not sign in: the hub did not answer in time, or refused (the message says why)."""


class CommandRefused(Exception):
    """The hub rejected a command; `code` and `message` say why."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(f"{reject.code}: {reject.message}")
        self.code = reject.code
        self.message = reject.message


class CommandDropped(Exception):
    """A command held after a reconnect was dropped by its sender: it was never sent to the hub."""


class HubClient:
    """A self-healing connection to a hub.

    `state` is one of: offline (not started or stopped), connecting, connected (caught up and live),
    reconnecting (waiting `retry_at` for the next attempt), refused (credentials, version or an untrusted
    certificate: no retry, `detail` says what a person has to fix).

    A wss:// URL without `ssl_context` verifies the hub against the system's trust store
    (`client_tls_context`); a ws:// URL takes no context.
    """

    def __init__(self, url: str, user: str, password: str, subscribe: bool = True,
                 ssl_context: ssl.SSLContext | None = None, client: str = "watchfloor",
                 on_update: Callable[[Update], None] | None = None,
                 on_state: Callable[[str, str], None] | None = None,
                 backoff_base: float = 0.5, backoff_max: float = 15.0,
                 hold_outbox_on_reconnect: bool = False) -> None:
        if ssl_context is not None and urlsplit(url).scheme != "wss":
            raise ValueError(f"a TLS context is for wss:// URLs, and {url} is not one")
        self.url = url
        self.ssl_context = ssl_context if ssl_context is not None else client_tls_context(url)
        self.session = ClientSession(user, password, subscribe=subscribe, client=client,
                                     hold_outbox=hold_outbox_on_reconnect)
        self.on_update = on_update
        self.on_state = on_state
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.state = "offline"
        self.detail = ""
        self.retry_at: float | None = None
        self.attempts = 0
        self._ws: ClientConnection | None = None
        self._futures: dict[str, asyncio.Future[Ack]] = {}
        self._queries: dict[str, asyncio.Future[Any]] = {}
        self._query_ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.caught_up = False

    @property
    def picture(self) -> Picture:
        """The picture as this client knows it."""
        return self.session.picture

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        if self.on_state is not None:
            self.on_state(state, detail)
        self._changed.set()

    # -- running ---------------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start connecting (in the background) and keep the connection up until `close`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    async def sign_in(self, timeout: float) -> None:
        """Start, and wait until signed in and caught up; `SignInFailed` if the hub does not answer within
        `timeout` seconds or refuses (a command-line tool's way in: it has nobody to wait for a retry)."""
        self.start()
        try:
            await self.wait_for(lambda: self.state in ("connected", "refused"), timeout)
        except TimeoutError:
            raise SignInFailed(f"the hub at {self.url} did not answer: {self.detail}") from None
        if self.state == "refused":
            raise SignInFailed(f"cannot sign in as {self.session.user} at {self.url}: {self.detail}")

    async def close(self) -> None:
        """Disconnect and stop reconnecting. Unanswered commands stay in the outbox."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set_state("offline", "closed")

    async def _run(self) -> None:
        while True:
            self._set_state("connecting" if self.attempts == 0 else "reconnecting", self.detail)
            try:
                async with connect(self.url, ssl=self.ssl_context, max_size=None, open_timeout=10,
                                   ping_interval=20, ping_timeout=30, close_timeout=2) as ws:
                    self._ws = ws
                    await self._serve(ws)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                reason = exc.rcvd.reason if exc.rcvd is not None else "connection lost"
                if code in FATAL_CLOSES:
                    self._ws = None
                    self._set_state("refused", f"{FATAL_CLOSES[code]} ({reason})")
                    return
                self.detail = reason or f"closed ({code})"
            except ssl.SSLCertVerificationError as exc:
                # Retrying cannot make the certificate trusted: a person has to give the right CA or address.
                self._ws = None
                self._set_state("refused", _untrusted_detail(exc))
                return
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self.detail = f"cannot reach the hub: {exc}"
            finally:
                self._ws = None
                self.caught_up = False
            # Jittered exponential backoff, one attempt at a time: a hub restarting under dozens of
            # consoles is not hit by all of them in the same instant.
            delay = min(self.backoff_max, self.backoff_base * 2 ** min(self.attempts, 10))
            delay *= random.uniform(0.5, 1.0)
            self.attempts += 1
            self.retry_at = time.monotonic() + delay
            self._set_state("reconnecting", self.detail)
            await asyncio.sleep(delay)
            self.retry_at = None

    async def _serve(self, ws: ClientConnection) -> None:
        await ws.send(self.session.hello().decode())
        async for frame in ws:
            update, replies = self.session.receive(frame)
            for reply in replies:
                await ws.send(reply.decode())
            if update.welcome is not None and not self.session.want_events:
                self._connected()
            if update.caught_up:
                self.caught_up = True
                self._connected()
            for ack in update.acks:
                future = self._futures.pop(ack.id, None)
                if future is not None and not future.done():
                    future.set_result(ack)
            for reject in update.rejects:
                future = (self._futures.pop(reject.id, None) or self._queries.pop(reject.id, None)) \
                    if reject.id else None
                if future is not None and not future.done():
                    future.set_exception(CommandRefused(reject))
            for result in update.results:
                answered = self._queries.pop(result.id, None)
                if answered is not None and not answered.done():
                    answered.set_result(result.data)
            if self.on_update is not None:
                self.on_update(update)
            self._changed.set()

    def _connected(self) -> None:
        self.attempts = 0
        self._set_state("connected", "")

    # -- commands --------------------------------------------------------------------------------------

    def command(self, name: str, args: dict[str, Any]) -> asyncio.Future[Ack]:
        """Queue a command; the future resolves with its Ack or raises CommandRefused.

        Sent now if connected, else when the connection comes back (resent under the same id).
        """
        return self.submit(name, args)[1]

    def submit(self, name: str, args: dict[str, Any]) -> tuple[str, asyncio.Future[Ack]]:
        """`command`, also returning the command's outbox id (what `release_outbox` / `drop_outbox` take)."""
        outgoing = self.session.new_command(name, args)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._futures[outgoing.id] = future
        if self._ws is not None and self.session.welcome is not None:
            self._send_soon(self.session.frame_for(outgoing))
        return outgoing.id, future

    def release_outbox(self, ids: list[str]) -> None:
        """Send held commands now, under their original ids (the hub applies each once)."""
        frames = self.session.release(ids)
        if self._ws is not None and self.session.welcome is not None:
            for frame in frames:
                self._send_soon(frame)
        # Not connected: they stay in the outbox, confirmed, and go with the next welcome.
        self._changed.set()

    def drop_outbox(self, ids: list[str]) -> None:
        """Forget held commands: never sent; their futures raise CommandDropped."""
        for outgoing in self.session.drop(ids):
            future = self._futures.pop(outgoing.id, None)
            if future is not None and not future.done():
                future.set_exception(CommandDropped(f"{outgoing.name} was dropped and never sent"))
        self._changed.set()

    async def call(self, name: str, args: dict[str, Any], timeout: float = 30.0) -> Ack:
        """Send a command and wait for its answer."""
        return await asyncio.wait_for(self.command(name, args), timeout)

    def report(self, name: str, args: dict[str, Any]) -> bool:
        """Fire-and-forget (no id, no ack): for position fixes, which are worthless once stale.

        Returns False, and drops the report, when not connected.
        """
        if self._ws is None or self.session.welcome is None:
            return False
        self._send_soon(command_frame(name, args, None))
        return True

    async def query(self, what: str, timeout: float = 10.0, args: dict[str, Any] | None = None) -> Any:
        """Ask the hub about its own state (e.g. "feeds"), for an incident search ("search") or its history
        (`history.*`), with `args`; returns the result's data or raises CommandRefused.

        Queries are not queued while offline: they raise ConnectionError.
        """
        if self._ws is None or self.session.welcome is None:
            raise ConnectionError("not connected to the hub")
        query_id = f"q-{next(self._query_ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queries[query_id] = future
        body: dict[str, Any] = {"type": "query", "id": query_id, "what": what}
        if args is not None:
            body["args"] = args
        self._send_soon(encode(body))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._queries.pop(query_id, None)

    async def search(self, criteria: dict[str, Any], timeout: float = 10.0) -> Any:
        """Search every incident in the hub's history (`criteria`: number, words, incident_type, unit, since,
        until, limit: docs/protocol.md, "search"); returns {"incidents": [...]} or raises as `query` does."""
        return await self.query("search", timeout, criteria)

    def send_raw(self, frame: bytes | str) -> None:
        """Send a frame as it is (tests of the hub's handling of bad input)."""
        if self._ws is not None:
            self._send_soon(frame if isinstance(frame, bytes) else frame.encode())

    def _send_soon(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None:
            return

        async def send() -> None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame.decode())

        asyncio.get_running_loop().create_task(send())

    async def ping(self) -> None:
        """Send an application-level ping (answered by a pong update)."""
        if self._ws is not None:
            await self._ws.send(encode({"type": "ping", "t": time.time()}).decode())

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until `condition()` holds, re-checking after every frame or state change."""
        async def waiter() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(waiter(), timeout)
