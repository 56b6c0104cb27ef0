"""A traffic-signal controller simulator: answers signal priority requests (SREM) with status (SSEM) over UDP.

`watchfloor signals sim --port 4210` stands in for a traffic management centre's priority server, for tests and
the demo: every intersection of the city is one controller with the usual priority policy, which is

- grant a request when nothing holds the intersection, when its own requestor holds it (an update extends the
  green to the new window), or when it is more important than the holder (whose request is then rejected);
- reject it when an equally or more important vehicle holds the intersection;
- drop a holding on a cancel from its requestor, or when its window has passed.

`SignalControllers` is the policy, sans-I/O (bytes in, bytes out, time passed in); `serve` is the UDP transport.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import cast

from app.feeds.errors import FeedError
from app.feeds.signal_priority import (
    PriorityStatus,
    SignalRequest,
    SignalStatus,
    decode_srem,
    encode_ssem,
    from_its_time,
    its_time,
)

log = logging.getLogger("watchfloor.signals")


@dataclass(slots=True)
class Holding:
    """Who has priority at one intersection, until when."""

    station: int
    request_id: int
    sequence: int
    role: str
    importance: int
    approach: int
    until: float  # Unix seconds: the end of the window granted


@dataclass
class SignalControllers:
    """Every intersection's controller: `receive(srem, now)` gives the SSEM answer (or None)."""

    station: int = 65000  # the priority server's own station id
    held: dict[int, Holding] = field(default_factory=dict)
    received: list[SignalRequest] = field(default_factory=list)  # what came in, for tests and the demo
    refused: int = 0  # datagrams that were not an SREM
    sequence: int = 0

    def receive(self, data: bytes, now: float) -> bytes | None:
        """Apply one SREM; the SSEM that answers it, or None (a cancel is not answered). Bad bytes are counted
        and dropped."""
        try:
            request = decode_srem(data)
        except FeedError as exc:
            self.refused += 1
            log.warning("refused a datagram: %s", exc)
            return None
        self.received.append(request)
        statuses: list[PriorityStatus] = []
        for r in request.requests:
            held = self.held.get(r.intersection)
            if held is not None and held.until < now:
                del self.held[r.intersection]
                held = None
            mine = held is not None and (held.station, held.request_id) == (request.station, r.request_id)
            if r.kind == "cancel":
                if mine:
                    del self.held[r.intersection]
                continue
            status = "granted"
            if held is not None and not mine and held.station != request.station:
                if request.importance > held.importance:
                    statuses.append(PriorityStatus(r.intersection, held.station, held.request_id, held.sequence,
                                                   held.role, held.approach, "rejected"))
                else:
                    status = "rejected"
            if status == "granted":
                until = from_its_time(r.minute, r.millisecond, now) + r.duration_ms / 1000
                self.held[r.intersection] = Holding(request.station, r.request_id, request.sequence, request.role,
                                                    request.importance, r.approach, until)
            statuses.append(PriorityStatus(r.intersection, request.station, r.request_id, request.sequence,
                                           request.role, r.approach, status, r.minute, r.millisecond,
                                           r.duration_ms))
        if not statuses:
            return None
        self.sequence = (self.sequence + 1) % 128
        minute, millisecond = its_time(now)
        return encode_ssem(SignalStatus(self.station, minute, millisecond, self.sequence, tuple(statuses[:32])))


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, controllers: SignalControllers) -> None:
        self.controllers = controllers
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # the selector's datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self.controllers.receive(data, time.time())
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


async def serve(controllers: SignalControllers, host: str, port: int) -> asyncio.DatagramTransport:
    """Listen for SREM on (host, port) and answer each with SSEM; close the returned transport to stop."""
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Endpoint(controllers), local_addr=(host, port))
    return transport


class SimulatedControllers:
    """The simulator as one of a hub's services (the demo): `await start()` listens on a free local UDP port."""

    def __init__(self) -> None:
        self.controllers = SignalControllers()
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a port the system picks (`port`)."""
        self._transport = await serve(self.controllers, "127.0.0.1", 0)
        self.port = int(self._transport.get_extra_info("sockname")[1])

    async def close(self) -> None:
        """Stop listening."""
        if self._transport is not None:
            self._transport.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`watchfloor signals sim` arguments."""
    sub = parser.add_subparsers(dest="action", required=True)
    sim = sub.add_parser("sim", help="a traffic controller simulator: answers SREM priority requests with SSEM")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    sim.add_argument("--port", type=int, default=4210, help="UDP port to listen on (4210)")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        transport = await serve(SignalControllers(), args.host, args.port)
        port = transport.get_extra_info("sockname")[1]  # the one the system chose for --port 0
        print(f"watchfloor signal controllers listening on udp://{args.host}:{port}", flush=True)
        try:
            await stop.wait()
        finally:
            transport.close()

    asyncio.run(main())
    return 0
