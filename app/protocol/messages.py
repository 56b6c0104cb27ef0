"""Wire messages of protocol version 1: JSON text frames, each an object with a `type`.

See docs/protocol.md for the prose and examples. msgspec decodes and validates each frame in one pass, so
the hub's hot path does not build throw-away dicts.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.domain.commands import COMMANDS
from app.domain.events import Event
from app.domain.picture import Picture

PROTOCOL_VERSION = 1
#: Largest frame the hub accepts; larger ones close the connection with 1009 (message too big).
MAX_FRAME_BYTES = 256 * 1024
#: The hub cuts `events` frames at this many bytes (or EVENTS_PER_FRAME events), so clients with a 1 MiB
#: receive limit (websockets' default, and many others') never get a frame they must refuse.
MAX_EVENTS_FRAME_BYTES = 1024 * 1024 - 1024
EVENTS_PER_FRAME = 2000
#: Longest command or query id the hub accepts: ids are kept (command ids for good, in the log).
MAX_ID_CHARS = 128


class Hello(msgspec.Struct, tag="hello", tag_field="type", forbid_unknown_fields=True):
    """First message from a client: protocol version and credentials."""

    v: int
    user: str
    password: str
    client: str = ""


class Subscribe(msgspec.Struct, tag="subscribe", tag_field="type", forbid_unknown_fields=True):
    """Start receiving events. `since`: the last sequence number this client holds (None: send a snapshot)."""

    since: int | None = None


class Command(msgspec.Struct, tag="command", tag_field="type", forbid_unknown_fields=True):
    """Ask the hub to change the picture. `id`, chosen by the client, makes a resend apply only once;
    without it the command is fire-and-forget (no ack), as position feeds do."""

    name: str
    args: msgspec.Raw
    id: str | None = None


class Ping(msgspec.Struct, tag="ping", tag_field="type", forbid_unknown_fields=True):
    """Keep-alive and round-trip measurement; the hub answers with a pong echoing `t`."""

    t: Any = None


class Query(msgspec.Struct, tag="query", tag_field="type", forbid_unknown_fields=True):
    """Ask the hub about its own state (`what`: "feeds") or its history (`history.*`, `args` as
    `app.protocol.queries` types them); answered by a `result` with the same `id`, or a `reject`."""

    id: str
    what: str
    args: msgspec.Raw = msgspec.Raw(b"{}")


ClientMessage = Hello | Subscribe | Command | Ping | Query
CLIENT_TYPES = frozenset({"hello", "subscribe", "command", "ping", "query"})


class AgencyInfo(msgspec.Struct):
    code: str
    name: str
    color: str


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    """The hub accepted the hello: who you are, and the newest sequence number in the log."""

    v: int
    user: str
    role: str
    agency: str
    head: int
    agencies: list[AgencyInfo]
    server: str = "watchfloor"


class Snapshot(msgspec.Struct, tag="snapshot", tag_field="type"):
    """The whole picture (as this user may see it) at sequence `seq`; events after it follow."""

    seq: int
    picture: Picture


class Events(msgspec.Struct, tag="events", tag_field="type"):
    """One or more events, in sequence order."""

    events: list[Event]


class Ack(msgspec.Struct, tag="ack", tag_field="type"):
    """Command `id` was applied as events `seqs`. `duplicate`: it had been applied before (a resend)."""

    id: str
    seqs: list[int]
    duplicate: bool = False


class Reject(msgspec.Struct, tag="reject", tag_field="type"):
    """Command `id` was refused: stable `code`, human `message`. Nothing was applied."""

    id: str | None
    code: str
    message: str


class Error(msgspec.Struct, tag="error", tag_field="type"):
    """A frame that was not a valid message. `id` is the command's when it could be read."""

    code: str
    message: str
    id: str | None = None


class Pong(msgspec.Struct, tag="pong", tag_field="type"):
    t: Any = None


class Caught(msgspec.Struct, tag="caught_up", tag_field="type"):
    """After a subscribe: everything up to `seq` has been sent; live events follow."""

    seq: int


class Result(msgspec.Struct, tag="result", tag_field="type"):
    """The answer to query `id`: `data` as docs/protocol.md describes it for `what`."""

    id: str
    what: str
    data: Any


HubMessage = Welcome | Snapshot | Events | Ack | Reject | Error | Pong | Caught | Result


class ProtocolError(Exception):
    """A frame that is not a valid message of this protocol: `code` and human `message`."""

    def __init__(self, code: str, message: str, command_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.command_id = command_id


_client_decoder = msgspec.json.Decoder(ClientMessage)
_hub_decoder = msgspec.json.Decoder(HubMessage)
_type_only = msgspec.json.Decoder(dict[str, Any])
_args_decoders: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(cls) for name, cls in COMMANDS.items()}
_arg_names = {name: set(cls.__dataclass_fields__) for name, cls in COMMANDS.items()}
encoder = msgspec.json.Encoder()


#: JSON nested deeper than this is refused (`too_deep`). msgspec counts its nesting against the interpreter's
#: recursion limit (1,000 frames) and raises RecursionError there, before the C stack is at risk, at no cost
#: to frames of normal depth; the few levels the hub's own call stack takes leave ~950 for the frame.
MAX_JSON_DEPTH = 900
_TOO_DEEP = f"JSON nested deeper than about {MAX_JSON_DEPTH} levels"


def decode_client(frame: bytes | str) -> ClientMessage:
    """Decode a client frame or raise ProtocolError with code bad_json / too_deep / unknown_type / bad_message."""
    try:
        return _client_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise _classify(frame, exc) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("too_deep", f"frame is {_TOO_DEEP}") from None


def _classify(frame: bytes | str, exc: msgspec.ValidationError) -> ProtocolError:
    try:
        obj = _type_only.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ProtocolError("bad_message", "a message must be a JSON object with a \"type\"")
    except RecursionError:
        return ProtocolError("too_deep", f"frame is {_TOO_DEEP}")
    kind = obj.get("type")
    command_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    if kind not in CLIENT_TYPES:
        return ProtocolError("unknown_type", f"unknown message type {kind!r}", command_id)
    return ProtocolError("bad_message", f"invalid {kind} message: {exc}", command_id)


def decode_args(command: Command) -> Any:
    """Decode a command's arguments into the domain's dataclass, or raise ProtocolError."""
    decoder = _args_decoders.get(command.name)
    if decoder is None:
        raise ProtocolError("unknown_command", f"unknown command {command.name!r}", command.id)
    try:
        args = decoder.decode(command.args)
        given = _type_only.decode(command.args)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProtocolError("bad_args", f"{command.name}: {exc}", command.id) from None
    except RecursionError:
        raise ProtocolError("too_deep", f"{command.name}: arguments are {_TOO_DEEP}", command.id) from None
    unknown = set(given) - _arg_names[command.name]
    if unknown:
        raise ProtocolError("bad_args", f"{command.name}: unknown argument(s) {', '.join(sorted(unknown))}",
                            command.id)
    return args


def decode_hub(frame: bytes | str) -> HubMessage:
    """Decode a frame from the hub (the client side)."""
    return _hub_decoder.decode(frame)


def encode(message: msgspec.Struct | dict[str, Any]) -> bytes:
    """Encode any message to JSON bytes."""
    return encoder.encode(message)


def encode_event(event: Event) -> bytes:
    """Encode one event once; the hub splices these bytes into `events` frames for every receiver."""
    return encoder.encode(event)


def events_frames(encoded_events: list[bytes]) -> list[bytes]:
    """`events` frames for already-encoded events, in order, each within the count and byte limits.

    A single event larger than the byte limit still goes alone in its own frame.
    """
    frames: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for encoded in encoded_events:
        if chunk and (len(chunk) >= EVENTS_PER_FRAME or size + len(encoded) + 1 > MAX_EVENTS_FRAME_BYTES - 64):
            frames.append(events_frame(chunk))
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        frames.append(events_frame(chunk))
    return frames


def events_frame(encoded_events: list[bytes]) -> bytes:
    """An `events` frame from already-encoded events, without re-encoding them."""
    return b'{"type":"events","events":[' + b",".join(encoded_events) + b"]}"


def command_frame(name: str, args: dict[str, Any], command_id: str | None) -> bytes:
    """A command frame as a client sends it."""
    body: dict[str, Any] = {"type": "command", "name": name, "args": args}
    if command_id is not None:
        body["id"] = command_id
    return encoder.encode(body)
