"""The hub's side of one connection, as a state machine with no sockets.

`receive(frame, now)` takes a text frame and returns actions for the hub's adapter to carry out: send a
reply, authenticate, subscribe, execute a command, close. Tests drive it with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.protocol import codes
from app.protocol.messages import (
    MAX_ID_CHARS,
    PROTOCOL_VERSION,
    Command,
    Error,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    Query,
    Reject,
    Subscribe,
    decode_args,
    decode_client,
    encode,
)
from app.protocol.queries import decode_query_args


@dataclass(slots=True)
class Send:
    frame: bytes
    refused: str | None = None  # the error code, when this frame refuses what the client sent
    reason: str = ""


@dataclass(slots=True)
class Authenticate:
    hello: Hello


@dataclass(slots=True)
class StartSubscription:
    since: int | None


@dataclass(slots=True)
class Execute:
    command: Command
    args: Any


@dataclass(slots=True)
class Answer:
    query: Query
    args: Any = None


@dataclass(slots=True)
class Close:
    code: int
    reason: str


Action = Send | Authenticate | StartSubscription | Execute | Answer | Close


@dataclass(slots=True)
class RateLimit:
    """A token bucket: `rate` messages a second on average, bursts up to `burst`."""

    rate: float
    burst: float


HUMAN_LIMIT = RateLimit(rate=50.0, burst=200.0)
FEED_LIMIT = RateLimit(rate=20_000.0, burst=40_000.0)
#: Refused messages a client may pile up before the hub gives up on it and closes it (4008). The pile drains at
#: the client's own rate limit, so a client a little over its limit is only refused, one far over it (a loop
#: sending as fast as it can) is closed within seconds.
FLOOD_CLOSE_AFTER = 2000


class ServerSession:
    """One connection's protocol state: awaiting hello -> authenticating -> ready -> closed."""

    def __init__(self, limit: RateLimit = HUMAN_LIMIT) -> None:
        self.state = "hello"
        self.limit = limit
        self.tokens = limit.burst
        self.refilled_at: float | None = None
        self.refused_pile = 0.0
        self.counters: dict[str, int] = {}
        self.subscribed = False

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1

    def _error(self, code: str, message: str, command_id: str | None = None) -> Send:
        self._count(code)
        if command_id is not None:
            return Send(encode(Reject(id=command_id, code=code, message=message)), code, message)
        return Send(encode(Error(code=code, message=message)), code, message)

    def _take_token(self, now: float) -> bool:
        if self.refilled_at is not None:
            drained = (now - self.refilled_at) * self.limit.rate
            self.tokens = min(self.limit.burst, self.tokens + drained)
            self.refused_pile = max(0.0, self.refused_pile - drained)
        self.refilled_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def receive(self, frame: bytes | str, now: float) -> list[Action]:
        """Handle one text frame from the client."""
        if self.state == "closed":
            return []
        if self.state == "authenticating":
            return [self._error("busy", "wait for the answer to your hello")]
        try:
            message = decode_client(frame)
        except ProtocolError as exc:
            if self.state == "hello":
                self.state = "closed"
                self._count(exc.code)
                return [Close(codes.CLOSE_PROTOCOL, f"{exc.code}: {exc.message}"[:120])]
            return [self._error(exc.code, exc.message, exc.command_id)]
        if self.state == "hello":
            return self._on_hello(message)
        if not self._take_token(now):
            self.refused_pile += 1.0
            if self.refused_pile >= FLOOD_CLOSE_AFTER:
                self.state = "closed"
                self._count("flood_closed")
                return [Close(codes.CLOSE_FLOOD, "flood: too many messages; slow down and reconnect")]
            command_id = message.id if isinstance(message, Command | Query) else None
            return [self._error("rate_limited", f"more than {self.limit.rate:.0f} messages/s; "
                                                "this one was not applied", command_id)]
        if isinstance(message, Command | Query) and message.id is not None \
                and len(message.id) > MAX_ID_CHARS:
            return [self._error("bad_id", f"an id has at most {MAX_ID_CHARS} characters, not {len(message.id)}; "
                                          "this one was not applied", message.id)]
        if isinstance(message, Command):
            try:
                args = decode_args(message)
            except ProtocolError as exc:
                return [self._error(exc.code, exc.message, exc.command_id)]
            return [Execute(message, args)]
        if isinstance(message, Subscribe):
            if self.subscribed:
                return [self._error("already_subscribed", "this connection is already subscribed")]
            self.subscribed = True
            return [StartSubscription(message.since)]
        if isinstance(message, Ping):
            return [Send(encode(Pong(t=message.t)))]
        if isinstance(message, Query):
            try:
                return [Answer(message, decode_query_args(message))]
            except ProtocolError as exc:
                return [self._error(exc.code, exc.message, exc.command_id)]
        return [self._error("unexpected", "hello was already accepted on this connection")]

    def _on_hello(self, message: object) -> list[Action]:
        if not isinstance(message, Hello):
            self.state = "closed"
            self._count("not_authenticated")
            return [Close(codes.CLOSE_UNAUTHORIZED, "not_authenticated: send hello first")]
        if message.v != PROTOCOL_VERSION:
            self.state = "closed"
            self._count("unsupported_version")
            return [Close(codes.CLOSE_UNSUPPORTED_VERSION,
                          f"unsupported_version: this hub speaks protocol {PROTOCOL_VERSION}, not {message.v}")]
        self.state = "authenticating"
        return [Authenticate(message)]

    def authenticated(self, ok: bool, limit: RateLimit | None = None) -> list[Action]:
        """The hub's verdict on the hello; on success the session is ready for commands."""
        if not ok:
            self.state = "closed"
            self._count("bad_credentials")
            return [Close(codes.CLOSE_UNAUTHORIZED, "bad_credentials: wrong user name or password, "
                                                    "or the account is disabled")]
        self.state = "ready"
        if limit is not None:
            self.limit = limit
            self.tokens = limit.burst
        return []

    def refused(self, code: int, reason: str) -> list[Action]:
        """The hub refused the hello for a reason other than the credentials (a locked account, too many
        sign-ins waiting): close with that code and reason."""
        self.state = "closed"
        self._count(reason.split(":", 1)[0])
        return [Close(code, reason)]
