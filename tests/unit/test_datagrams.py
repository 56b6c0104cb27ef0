"""UDP feed listeners reading in batches: real sockets on 127.0.0.1, a real asyncio loop."""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import Any

from app.hub.datagrams import BATCH, DatagramListener


def test_a_burst_larger_than_a_batch_arrives_whole_and_in_order_and_other_work_runs_between_batches() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        received: list[tuple[bytes, Any]] = []
        between: list[int] = []  # how many datagrams had arrived each time the loop ran other work

        def handle(data: bytes, addr: Any) -> None:
            received.append((data, addr))

        def other_work() -> None:
            between.append(len(received))
            if len(received) < 5 * BATCH:
                loop.call_soon(other_work)

        listener = DatagramListener.open("127.0.0.1", 0, handle)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        payloads = [f"datagram {i:04d}".encode() * (1 + i % 7) for i in range(5 * BATCH)]
        payloads.append(b"x" * 65507)  # the largest IPv4 UDP payload: never cut short
        for payload in payloads:  # all queued in the socket before the loop reads any
            sender.sendto(payload, ("127.0.0.1", listener.port))
        loop.call_soon(other_work)
        async with asyncio.timeout(10):
            while len(received) < len(payloads):
                await asyncio.sleep(0.001)
        assert [data for data, _ in received] == payloads
        assert {addr for _, addr in received} == {sender.getsockname()}
        # Read in batches (not one datagram per wake-up), and never more than BATCH before other work runs.
        steps = [b - a for a, b in itertools.pairwise(between) if b > a]
        assert steps and max(steps) <= BATCH and max(steps) > 1
        listener.close()
        sender.close()

    asyncio.run(scenario())


def test_closing_frees_the_port() -> None:
    async def scenario() -> None:
        listener = DatagramListener.open("127.0.0.1", 0, lambda data, addr: None)
        port = listener.port
        listener.close()
        listener.close()  # twice is harmless
        again = DatagramListener.open("127.0.0.1", port, lambda data, addr: None)
        assert again.port == port
        again.close()

    asyncio.run(scenario())
