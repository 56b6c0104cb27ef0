"""CoT out: Watchfloor's units and incidents sent to a TAK server or a multicast group, so TAK users see the
same picture.

``watchfloor hub --cot-out tcp://takserver:8087`` streams CoT XML to a TAK server's streaming input (reconnecting
with backoff); ``--cot-out udp://239.2.3.1:6969`` sends one datagram per event to the SA multicast group (TTL
``--cot-ttl``, default 1: the local network only). The option may be given more than once.

What is sent follows the committed events through an internal public subscriber (`HubWatcher`), so restricted
incidents are never sent, and a unit is never described as working one. Changes only mark a unit or an
incident as due; one sender task turns the due items into CoT from the current picture. So the hub's loop is
never blocked, a slow TAK server gets the newest position of each unit instead of a backlog (older ones are
dropped, unsent), and memory is bounded by the size of the picture. Everything is sent again every `refresh`
seconds (TAK drops items at their stale time) and after each reconnect. Closed incidents and incidents that become
restricted are deleted from TAK maps (``t-x-d-d``).

Each output shows in the hub's feed health as ``cot_out <target>``: every item sent counts as accepted, and an
item that cannot be written as CoT (a value no check foresaw) is skipped, logged and quarantined with the
item's JSON, while everything else goes on being sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec

from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.cot_due import CotDue, all_items, items_changed
from app.feeds.cot_picture import INCIDENT, UNIT, Item, item_cot
from app.hub.watcher import PUBLIC, HubWatcher

log = logging.getLogger("watchfloor.cot_out")

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
#: A TAK server that takes longer than this to accept one round's bytes is treated as gone.
WRITE_TIMEOUT_S = 30.0
#: What goes out to a TAK server: units and incidents (the public's; chat and alerts stay in the control room).
OUT_KINDS = frozenset({UNIT, INCIDENT})


class ItemWriter:
    """Writes items as CoT (`item_cot`); an item that cannot be written (a value no check foresaw) is logged and
    quarantined with its JSON under `feed`, once per state, and treated as nothing to show."""

    def __init__(self, feeds: Any, feed: str, who: str) -> None:
        self.feeds, self.feed, self.who = feeds, feed, who
        self._reported: set[tuple[Item, bytes]] = set()  # items quarantined already, as they were

    def write(self, item: Item, picture: Picture, now: float, stale_s: float) -> bytes | None:
        """`item_cot`'s answer; None too for an item that cannot be written."""
        try:
            return item_cot(item, picture, now, stale_s)
        except Exception as exc:
            raw = msgspec.json.encode(_state(item, picture))
            if (item, raw) not in self._reported:  # the same item again at the next refresh: once is enough
                self._reported.add((item, raw))
                log.exception("%s: %s %s cannot be written as CoT; skipped", self.who, item.kind, item.id)
                self.feeds.quarantine(self.feed, f"{item.kind} {item.id}", "output_failed",
                                      f"{type(exc).__name__}: {exc}", raw)
            return None


def _state(item: Item, picture: Picture) -> Any:
    """The item's entity in the picture (for the quarantine)."""
    if item.kind == "message":
        return next((m for m in picture.messages if m.id == item.id), None)
    return getattr(picture, f"{item.kind}s").get(item.id)


def parse_target(target: str) -> tuple[str, str, int]:
    """``tcp://host:port`` or ``udp://host:port`` -> (scheme, host, port); ValueError otherwise."""
    parts = urlsplit(target)
    if parts.scheme not in ("tcp", "udp") or not parts.hostname or not parts.port:
        raise ValueError(f"{target!r}: expected tcp://HOST:PORT or udp://HOST:PORT")
    return parts.scheme, parts.hostname, parts.port


class CotOut:
    """Sends the public picture as CoT to one target. `await start()`, then `await close()`."""

    def __init__(self, hub: Any, target: str, ttl: int = 1, refresh: float = 60.0) -> None:
        self.hub = hub
        self.target = target
        self.scheme, self.host, self.port = parse_target(target)
        self.ttl = ttl
        self.refresh = refresh
        self.stale_s = 2 * refresh + 30  # an item outlives one missed refresh
        self.picture = Picture()
        self.due = CotDue(OUT_KINDS)
        self.sent = 0
        self.connected = False
        self.connects = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watcher = HubWatcher(hub, self._started, self._events)
        self.health = hub.feeds.feed(f"cot_out {target}", f"CoT out to {target}")
        self.writer = ItemWriter(hub.feeds, self.health.name, f"CoT out {target}")

    async def start(self) -> None:
        """Follow the picture and start sending."""
        await self._watcher.start()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop sending and close the connection."""
        await self._watcher.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- what is due -------------------------------------------------------------------------------------

    def _started(self, picture: Picture, _extra: Any) -> None:
        self.picture = picture
        self._all_due()

    def _all_due(self) -> None:
        self.due.mark(all_items(self.picture, OUT_KINDS))
        self._wake.set()

    def _events(self, events: list[Event]) -> None:
        for event in events:
            self.due.mark(items_changed(event, self.picture))
            self.picture.apply(event, PUBLIC)
        self._wake.set()

    def _messages(self, now: float) -> list[bytes]:
        """CoT for everything due, from the current picture; clears what is due. An item that cannot be written
        is skipped and quarantined, never allowed to stop the rest."""
        out = []
        for item in sorted(self.due.take(len(self.due))):
            message = self.due.shown(item, self.writer.write(item, self.picture, now, self.stale_s), now)
            if message is not None:
                out.append(message)
        return out

    # -- sending -----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            try:
                if self.scheme == "udp":
                    await self._serve_udp()
                else:
                    await self._serve_tcp()
                    backoff = BACKOFF_MIN_S
            except (OSError, TimeoutError) as exc:
                log.warning("CoT out %s: %s; retrying in %.1f s", self.target, exc, backoff)
                self.health.unreachable(f"{self.target}: {exc}"[:300])
            except Exception:  # a bug must not end the output for good: log it and start over
                log.exception("CoT out %s failed; restarting in %.1f s", self.target, backoff)
            self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _rounds(self, send: Any) -> None:
        """Send what is due whenever something changes, and everything every `refresh` seconds."""
        self._all_due()
        next_refresh = time.monotonic() + self.refresh
        while True:
            timeout = max(0.0, next_refresh - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            if time.monotonic() >= next_refresh:
                self._all_due()
                self._wake.clear()
                next_refresh = time.monotonic() + self.refresh
            messages = self._messages(time.time())
            if messages:
                await send(messages)
                self.sent += len(messages)
                for _ in messages:
                    self.health.input(self.target)
                    self.health.accept()

    async def _serve_tcp(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        self.connected, self.connects = True, self.connects + 1
        log.info("CoT out connected to %s", self.target)

        async def send(messages: list[bytes]) -> None:
            writer.write(b"".join(messages))
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)

        async def discard_input() -> None:
            # A TAK server sends pings and other clients' CoT; reading keeps its side from filling up.
            while await reader.read(65536):
                pass

        sending = asyncio.get_running_loop().create_task(self._rounds(send))
        listening = asyncio.get_running_loop().create_task(discard_input())
        try:
            done, _ = await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a send error surfaces here
            raise ConnectionError("the TAK server closed the connection")
        finally:
            for task in (sending, listening):
                task.cancel()
            await asyncio.gather(sending, listening, return_exceptions=True)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve_udp(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
        sock.setblocking(False)
        sock.connect((self.host, self.port))
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, sock=sock)
        self.connected, self.connects = True, self.connects + 1

        async def send(messages: list[bytes]) -> None:
            for message in messages:  # one event per datagram, as TAK's SA multicast carries them
                transport.sendto(message)

        try:
            await self._rounds(send)
        finally:
            transport.close()
