"""Registering field devices the way a supervisor does: a `device.register` command over the websocket."""

from __future__ import annotations

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
