"""UDP feed listeners that read datagrams in batches.

asyncio's datagram transport reads one datagram per wake-up of the loop: a field load of thousands of CoT
datagrams a second pays a loop iteration (an epoll call, the ready queue) for each: 8-31 µs of the loop's CPU per
datagram against ~5 µs when up to `BATCH` are read per wake-up (measured on this 2-core machine with 450-byte
datagrams, docs/architecture.md). A wake-up reads at most `BATCH`, so a flood still lets the loop's other work
run.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger("watchfloor.hub")

#: Datagrams read per wake-up of the loop at most: the rest wait for the next one, behind the loop's other work.
BATCH = 32
#: Bytes a UDP datagram can hold (IPv4 and IPv6 without jumbograms): a datagram is never cut short.
MAX_DATAGRAM = 65535
#: UDP receive buffer asked for (the kernel caps it at net.core.rmem_max): a fleet's reports arrive in bursts,
#: and what overflows the default ~208 KiB is lost without a trace.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


class DatagramListener:
    """A bound UDP socket whose datagrams go to ``handle(data, addr)``, read in batches on the running loop."""

    def __init__(self, sock: socket.socket, handle: Callable[[bytes, Any], None]) -> None:
        self.sock = sock
        self.handle = handle
        self.port: int = sock.getsockname()[1]
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read)

    @classmethod
    def open(cls, host: str, port: int, handle: Callable[[bytes, Any], None]) -> DatagramListener:
        """Bind ``host:port`` (port 0: any free one) and start reading; call on the loop that will read."""
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
            except OSError as exc:  # keep the default: the listener works, bursts may overflow sooner
                log.warning("cannot widen the UDP receive buffer: %s", exc)
            sock.bind(address)
            return cls(sock, handle)
        except BaseException:
            sock.close()
            raise

    def _read(self) -> None:
        for _ in range(BATCH):
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error reported on the socket: the listener keeps going
                log.warning("udp listener error: %s", exc)
                return
            self.handle(data, addr)

    def close(self) -> None:
        """Stop reading and close the socket."""
        if self.sock.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
