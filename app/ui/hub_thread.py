"""A hub running in a background thread with its own asyncio loop: for `watchfloor demo` and the UI tests.

In production the hub is its own process (`watchfloor hub`); embedding it keeps the demo one command and lets
tests stop and restart it (same database, same port) to exercise the console's reconnect.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from app.hub.server import Hub
from app.store.users import UserStore

T = TypeVar("T")


class HubThread:
    """Start, stop and restart a hub on 127.0.0.1 (or `host`) in a daemon thread."""

    def __init__(self, db_path: str | Path, host: str = "127.0.0.1", port: int = 0, judge_fixes: bool = True) -> None:
        self.db_path = Path(db_path)
        self.judge_fixes = judge_fixes
        self.host = host
        self.port = port
        self.hub: Hub | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="wf-embedded-hub", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The websocket URL consoles connect to."""
        return f"ws://{self.host}:{self.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the hub's loop and wait for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> int:
        """Open the log and listen; returns the port (kept for restarts)."""
        async def start() -> int:
            self.hub = Hub(self.db_path, judge_fixes=self.judge_fixes)
            return await self.hub.start(self.host, self.port)

        self.port = self.run(start())
        return self.port

    def start_feeds(self, **options: Any) -> dict[str, int]:
        """After `start`: open the feed gateway on this host (`Hub.start_feeds` options); returns its ports."""
        assert self.hub is not None, "start the hub first"
        return self.run(self.hub.start_feeds(self.host, **options))

    def stop(self) -> None:
        """Close the hub (connections drop; consoles start reconnecting)."""
        hub, self.hub = self.hub, None
        if hub is not None:
            self.run(hub.close())

    def shutdown(self) -> None:
        """Stop the hub and end the thread."""
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def ensure_user(self, name: str, password: str, role: str, agency: str) -> None:
        """Create an account unless it exists (the database may be reused across runs)."""
        users = UserStore(self.db_path)
        try:
            if users.get(name) is None:
                users.add(name, password, role, agency)
        finally:
            users.close()
