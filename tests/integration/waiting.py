"""Signing consoles in and waiting on them or on the hub: one copy for every integration test file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from app.client.connection import HubClient
from tests.integration.conftest import PASSWORD


@asynccontextmanager
async def signed_in(url: str, *users: str, timeout: float = 30.0) -> AsyncIterator[list[HubClient]]:
    """Connected clients for `users` (accounts named feed* only command, they do not subscribe); closed after."""
    clients = [HubClient(url, user, PASSWORD, subscribe=not user.startswith("feed")) for user in users]
    for client in clients:
        client.start()
    try:
        for client in clients:
            await client.wait_for(lambda c=client: c.state == "connected", timeout)
        yield clients
    finally:
        for client in clients:
            await client.close()


async def everywhere(clients: list[HubClient], condition: Callable[[HubClient], bool], timeout: float = 20.0) -> None:
    """Wait until `condition` holds on every client (woken by each client's updates)."""
    for client in clients:
        await client.wait_for(lambda c=client: condition(c), timeout)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for something no client update signals (the hub's feed counters, a file, the log): poll it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)
