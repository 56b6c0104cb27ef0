"""UDP reads: asyncio's datagram transport (one datagram per wake-up of the loop, as before) beside
`app.hub.datagrams.DatagramListener` (up to BATCH per wake-up), in one run. Prints; asserts nothing.

    python tests/bench/bench_udp_reads.py [--datagrams 50000]

A sender process sends 450-byte datagrams (a CoT event's size) to 127.0.0.1 in bursts of 50. Printed for each:
the datagrams received, and the reading process's CPU time (``time.process_time``, until the sender is done and
nothing more arrives: other load on the machine counts less than in wall time) per datagram received, with the
load average.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.hub.datagrams import UDP_RECEIVE_BUFFER, DatagramListener

PAYLOAD = b"x" * 450


def send(port: int, count: int) -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        sender.sendto(PAYLOAD, ("127.0.0.1", port))
        if i % 50 == 49:
            time.sleep(0.001)


async def measure(kind: str, count: int) -> str:
    loop = asyncio.get_running_loop()
    received = 0

    def handle(data: bytes, addr: Any) -> None:
        nonlocal received
        received += 1

    if kind == "transport":
        class Datagrams(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                handle(data, addr)

        transport, _ = await loop.create_datagram_endpoint(Datagrams, local_addr=("127.0.0.1", 0))
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        port, close = transport.get_extra_info("sockname")[1], transport.close
    else:
        listener = DatagramListener.open("127.0.0.1", 0, handle)
        port, close = listener.port, listener.close
    sender = mp.get_context("fork").Process(target=send, args=(port, count))
    sender.start()
    cpu = time.process_time()
    seen, quiet_since = -1, time.monotonic()
    while sender.is_alive() or time.monotonic() - quiet_since < 0.3:  # until sent and nothing more arrives
        if received != seen:
            seen, quiet_since = received, time.monotonic()
        await asyncio.sleep(0.02)
    cpu = time.process_time() - cpu
    sender.join()
    close()
    return (f"{kind:26s} {received:7d} of {count} received   {cpu / max(received, 1) * 1e6:6.2f} µs loop CPU per "
            f"datagram   load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datagrams", type=int, default=50000)
    args = parser.parse_args()
    for kind in ("transport", "batched (DatagramListener)", "transport", "batched (DatagramListener)"):
        print(asyncio.run(measure(kind.split()[0], args.datagrams)), flush=True)


if __name__ == "__main__":
    main()
