"""Field devices in tests: registered the way a supervisor does (a `device.register` command over the websocket),
and streaming CoT over TCP the way a TAK device does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from app.client.connection import HubClient
from app.hub.gateway import token_sha256


async def register_device(supervisor: HubClient, device: str, agency: str, formats: Iterable[str], transport: str,
                          source: str = "127.0.0.1", units: Iterable[str] = (), drones: Iterable[str] = (),
                          token: str | None = None, rate: float | None = None) -> None:
    """Register a device through a signed-in supervisor (`token`: credential "token", sent first on TCP)."""
    args = {"id": device, "agency": agency, "formats": list(formats), "transport": transport, "source": source,
            "units": list(units), "drones": list(drones)}
    if token is not None:
        args.update(credential="token", token_sha256=token_sha256(token))
    if rate is not None:
        args["rate"] = rate
    await supervisor.call("device.register", args, 10)


async def send_stream(port: int, data: bytes, token: str | None = None, timeout: float = 20.0) -> None:
    """Stream `data` to a CoT TCP port as a device (its `token` line first) and end the stream the way a TAK client
    must when its server talks back (the hub serves each device the picture): shut its side, read what the hub
    sent until the hub closes. A client that closes with unread data resets the connection, and TCP then drops
    whatever of its own it had not delivered yet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if token is not None:
        writer.write(f"WATCHFLOOR-TOKEN {token}\n".encode())
    writer.write(data)
    await writer.drain()
    writer.write_eof()
    async with asyncio.timeout(timeout):
        while await reader.read(1 << 16):
            pass
    writer.close()
    await writer.wait_closed()
