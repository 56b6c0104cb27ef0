"""The console's side of the connection, as a state machine with no sockets.

It keeps the picture (a fold of what the hub sent), the last sequence number seen (to resume), and the outbox:
commands not yet answered, resent after a reconnect under the same id so the hub applies each once.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.protocol.messages import (
    PROTOCOL_VERSION,
    Ack,
    Caught,
    Error,
    Events,
    Pong,
    Reject,
    Result,
    Snapshot,
    Welcome,
    command_frame,
    decode_hub,
    encode,
)


@dataclass(slots=True)
class Outgoing:
    """A command waiting for its ack or rejection."""

    id: str
    name: str
    args: dict[str, Any]


@dataclass(slots=True)
class Update:
    """What one frame from the hub changed, for the application to react to."""

    welcome: Welcome | None = None
    snapshot: bool = False
    events: list[Event] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)
    caught_up: bool = False
    pong: Pong | None = None
    results: list[Result] = field(default_factory=list)


class ClientSession:
    """Protocol state for a console or feed: survives reconnects (one instance per user session)."""

    def __init__(self, user: str, password: str, subscribe: bool = True, client: str = "watchfloor") -> None:
        self.user = user
        self._password = password
        self.want_events = subscribe
        self.client = client
        self.picture = Picture()
        self.viewer: Viewer | None = None
        self.last_seq: int | None = None
        self.outbox: OrderedDict[str, Outgoing] = OrderedDict()
        self.welcome: Welcome | None = None
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:12]

    def hello(self) -> bytes:
        """The first frame on a new connection."""
        return encode({"type": "hello", "v": PROTOCOL_VERSION, "user": self.user, "password": self._password,
                       "client": self.client})

    def new_command(self, name: str, args: dict[str, Any]) -> Outgoing:
        """Queue a command in the outbox with a fresh id; send `frame_for(it)` when connected."""
        outgoing = Outgoing(f"{self._prefix}-{next(self._ids)}", name, args)
        self.outbox[outgoing.id] = outgoing
        return outgoing

    @staticmethod
    def frame_for(outgoing: Outgoing) -> bytes:
        """The command frame for an outbox entry (the same bytes on every resend)."""
        return command_frame(outgoing.name, outgoing.args, outgoing.id)

    def receive(self, frame: bytes | str) -> tuple[Update, list[bytes]]:
        """Fold one frame from the hub; returns what changed and the frames to send in reply."""
        message = decode_hub(frame)
        update = Update()
        replies: list[bytes] = []
        if isinstance(message, Events):
            for event in message.events:
                if event.seq <= self.picture.seq:
                    continue  # already folded (a resend overlapping what we had)
                self.picture.apply(event, self.viewer)
                update.events.append(event)
            self.last_seq = self.picture.seq
        elif isinstance(message, Ack):
            self.outbox.pop(message.id, None)
            update.acks.append(message)
        elif isinstance(message, Reject):
            if message.id is not None:
                self.outbox.pop(message.id, None)
            update.rejects.append(message)
        elif isinstance(message, Snapshot):
            self.picture = message.picture
            self.last_seq = message.seq
            update.snapshot = True
        elif isinstance(message, Caught):
            update.caught_up = True
        elif isinstance(message, Welcome):
            self.welcome = message
            self.viewer = Viewer(message.agency, supervisor=message.role == "supervisor" or message.agency == "*")
            update.welcome = message
            if self.want_events:
                replies.append(encode({"type": "subscribe", "since": self.last_seq}))
            replies.extend(self.frame_for(o) for o in self.outbox.values())
        elif isinstance(message, Error):
            update.errors.append(message)
        elif isinstance(message, Pong):
            update.pong = message
        elif isinstance(message, Result):
            update.results.append(message)
        return update, replies
