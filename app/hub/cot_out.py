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

from app.domain import events as ev
from app.domain.entities import IncidentStatus
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.cot_picture import delete_event, incident_event, incident_uid, unit_event
from app.hub.watcher import PUBLIC, HubWatcher

log = logging.getLogger("watchfloor.cot_out")

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
#: A TAK server that takes longer than this to accept one round's bytes is treated as gone.
WRITE_TIMEOUT_S = 30.0


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
        self.due_units: set[str] = set()
        self.due_incidents: set[str] = set()
        self.on_map: set[str] = set()  # incidents sent and not deleted since
        self.sent = 0
        self.connected = False
        self.connects = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watcher = HubWatcher(hub, self._started, self._events)
        self.health = hub.feeds.feed(f"cot_out {target}", f"CoT out to {target}")
        self._reported: set[tuple[str, bytes]] = set()  # items quarantined already, as they were

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
        self.due_units = set(self.picture.units)
        self.due_incidents = set(self.picture.incidents)
        self._wake.set()

    def _events(self, events: list[Event]) -> None:
        for event in events:
            self.picture.apply(event, PUBLIC)
            d = event.data
            if event.kind in (ev.UNIT_POSITION, ev.UNIT_STATUS, ev.UNIT_ASSIGNED):
                self.due_units.add(d["unit"])
                if event.kind != ev.UNIT_POSITION:  # the incident's unit list changed
                    self.due_incidents.update(i for i in (d.get("incident"),) if i)
            elif event.kind == ev.UNIT_REGISTERED:
                self.due_units.add(d["id"])
            elif event.kind in (ev.INCIDENT_CREATED, ev.INCIDENT_UPDATED, ev.INCIDENT_STATUS):
                self.due_incidents.add(d["id"])
                # Units on an incident that changed (or was restricted) describe it in their remarks.
                self.due_units.update(u.id for u in self.picture.units.values() if u.incident == d["id"])
        self._wake.set()

    def _messages(self, now: float) -> list[bytes]:
        """CoT for everything due, from the current picture; clears what is due. An item that cannot be written
        is skipped and quarantined, never allowed to stop the rest."""
        out = []
        for unit_id in sorted(self.due_units):
            unit = self.picture.units.get(unit_id)
            if unit is None or unit.lat is None or unit.lon is None:
                continue
            incident = self.picture.incidents.get(unit.incident) if unit.incident else None
            try:
                out.append(unit_event(unit, incident, now, self.stale_s))
            except Exception as exc:
                self._failed(f"unit {unit_id}", exc, unit)
        for incident_id in sorted(self.due_incidents):
            incident = self.picture.incidents.get(incident_id)
            if incident is None or incident.status == IncidentStatus.CLOSED:
                # Closed, or restricted (the public fold dropped it): off the map, if we ever put it there.
                # An incident we never sent (restricted from the start) is not named, not even to delete it.
                if incident_id in self.on_map:
                    self.on_map.discard(incident_id)
                    out.append(delete_event(incident_uid(incident_id), now))
                continue
            try:
                out.append(incident_event(incident, now, self.stale_s))
            except Exception as exc:
                self._failed(f"incident {incident_id}", exc, incident)
                continue
            self.on_map.add(incident_id)
        self.due_units, self.due_incidents = set(), set()
        return out

    def _failed(self, what: str, exc: Exception, item: Any) -> None:
        raw = msgspec.json.encode(item)
        if (what, raw) in self._reported:  # the same item again at the next refresh: once is enough
            return
        self._reported.add((what, raw))
        log.exception("CoT out %s: %s cannot be written as CoT; skipped", self.target, what)
        self.hub.feeds.quarantine(self.health.name, what, "output_failed", f"{type(exc).__name__}: {exc}", raw)

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
