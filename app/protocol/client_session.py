"""The console's side of the connection, as a state machine with no sockets.

It keeps the picture (a fold of what the hub sent), the last sequence number seen (to resume), and the outbox:
commands not yet answered, resent after a reconnect under the same id so the hub applies each once. With
`hold_outbox` (the dispatcher's console) the resend waits for a person: after a welcome the unanswered commands
are `held` until `release`d (sent under their original ids) or `drop`ped (never sent).
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
    held: list[Outgoing] = field(default_factory=list)


class ClientSession:
    """Protocol state for a console or feed: survives reconnects (one instance per user session)."""

    def __init__(self, user: str, password: str, subscribe: bool = True, client: str = "watchfloor",
                 hold_outbox: bool = False) -> None:
        self.user = user
        self._password = password
        self.want_events = subscribe
        self.client = client
        self.picture = Picture()
        self.viewer: Viewer | None = None
        self.last_seq: int | None = None
        self.outbox: OrderedDict[str, Outgoing] = OrderedDict()
        self.welcome: Welcome | None = None
        self.hold_outbox = hold_outbox
        #: Outbox ids waiting for the dispatcher's word after a reconnect (only with `hold_outbox`).
        self.held: set[str] = set()
        #: Ids the dispatcher confirmed: resent on every later welcome without asking again.
        self._confirmed: set[str] = set()
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

    def release(self, ids: list[str]) -> list[bytes]:
        """The dispatcher confirmed these held commands: the frames to send now, under their original ids."""
        frames = []
        for command_id in ids:
            self.held.discard(command_id)
            outgoing = self.outbox.get(command_id)
            if outgoing is not None:
                self._confirmed.add(command_id)
                frames.append(self.frame_for(outgoing))
        return frames

    def drop(self, ids: list[str]) -> list[Outgoing]:
        """The dispatcher dropped these held commands: out of the outbox, never sent. Returns what was dropped."""
        dropped = []
        for command_id in ids:
            if command_id in self.held:
                self.held.discard(command_id)
                dropped.append(self.outbox.pop(command_id))
        return dropped

    def _answered(self, command_id: str) -> None:
        self.outbox.pop(command_id, None)
        self.held.discard(command_id)
        self._confirmed.discard(command_id)

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
            self._answered(message.id)
            update.acks.append(message)
        elif isinstance(message, Reject):
            if message.id is not None:
                self._answered(message.id)
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
            for outgoing in self.outbox.values():
                if self.hold_outbox and outgoing.id not in self._confirmed:
                    self.held.add(outgoing.id)
                if outgoing.id in self.held:
                    update.held.append(outgoing)
                else:
                    replies.append(self.frame_for(outgoing))
        elif isinstance(message, Error):
            update.errors.append(message)
        elif isinstance(message, Pong):
            update.pong = message
        elif isinstance(message, Result):
            update.results.append(message)
        return update, replies
