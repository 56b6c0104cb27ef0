"""TAK clients served: every device connected to a CoT streaming port is sent the picture its agency may see.

A TAK device (ATAK, WinTAK, iTAK, pytak) that streams CoT to the hub over TCP (with its token) or TLS (with its
client certificate) is, for as long as its stream is open, also sent the common picture as CoT, as a TAK server
does: units and drones as tracks, open incidents and active alerts as map points, chat lines as GeoChat; first
everything (with the last `CHAT_ON_CONNECT` chat lines), then what changes, and ``t-x-d-d`` deletes for what it
was shown and may no longer see (an incident closed or restricted away from its agency, a unit retired, an alert
cancelled or expired). Nothing is sent back to the device that it is the source of (its own units and drones,
its own chat lines).

Who sees what is the hub's one rule: each agency's devices share an `AgencyPicture`, an internal subscriber of
the fan-out with that agency's viewer (`Viewer(agency)`, what a dispatcher of the agency sees; never a
supervisor's), so a restricted incident of another agency, and anything naming it, never reaches the picture
they are sent from.

Backpressure as for consoles, without a backlog: an event only marks items due in each client's `CotDue`; each
client has its own sender task that writes due items from the picture as it stands then, one batch at a time,
waiting for the connection to take each batch. A client that reads slowly or not at all gets the newest state of
each item when it reads again (older positions are dropped unsent), costs at most its due set (bounded by the
picture) and never holds up the hub's loop or any other client. Each item's CoT is written once per agency and
shared by its clients until the item changes (and once more as a TAK protocol frame for clients that asked).

TAK protocol: each connection is first offered version 1 (``t-x-takp-v``); a client that requests it
(``t-x-takp-q``) is answered ``t-x-takp-r`` (status true) and from then on sent only TAK protocol stream frames
(``app.feeds.cot_proto.stream_frame``); it may send either. Keep-alives (``t-x-c-t``) are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from app.domain.agencies import Actor
from app.domain.devices import Device
from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.feeds.cot import (
    TAK_PROTOCOL_VERSION,
    encode_pong,
    encode_protocol_offer,
    encode_protocol_response,
    stream_control,
)
from app.feeds.cot_due import CotDue, all_items, items_changed
from app.feeds.cot_picture import DRONE, MESSAGE, UNIT, Item
from app.feeds.cot_proto import stream_frame
from app.feeds.errors import FeedError, FeedIgnored
from app.hub.cot_out import ItemWriter
from app.hub.watcher import HubWatcher

log = logging.getLogger("watchfloor.tak_clients")

#: Everything is sent again this often (TAK drops an item at its stale time), and the written CoT renewed.
REFRESH_S = 60.0
#: An item outlives one missed refresh.
STALE_S = 2 * REFRESH_S + 30
#: Items written to a client at a time; the next batch waits until the connection has taken this one.
BATCH = 256
#: Chat lines a client is sent when it connects (later lines as they are posted).
CHAT_ON_CONNECT = 50
#: Items' written CoT kept per agency at most (then all forgotten and written again as needed).
MAX_WRITTEN = 20_000


class AgencyPicture:
    """The picture one agency's devices may see, folded from the fan-out with the agency's viewer, and the CoT of
    its items, written once for all the agency's clients until an item changes."""

    def __init__(self, hub: Any, viewer: Viewer, writer: ItemWriter) -> None:
        self.clock = hub.clock
        self.viewer = viewer
        self.writer = writer
        self.picture = Picture()
        self.clients: set[TakClient] = set()
        self.ready = asyncio.Event()
        self._cot: dict[Item, bytes | None] = {}
        self._frames: dict[Item, bytes] = {}
        self._watcher = HubWatcher(hub, self._started, self._events, viewer=viewer)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the picture (from the log, then live) and renew everything every `REFRESH_S` seconds."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._watcher.close()

    async def _run(self) -> None:
        await self._watcher.start()
        while True:
            await asyncio.sleep(REFRESH_S)
            self._forget()
            for client in self.clients:
                client.changed(all_items(self.picture))

    def _started(self, picture: Picture, _extra: Any) -> None:
        self.picture = picture  # first, or again after the subscriber fell behind: everything is due
        self._forget()
        self.ready.set()
        for client in self.clients:
            client.changed(all_items(picture))

    def _events(self, events: list[Event]) -> None:
        changed: list[Item] = []
        for event in events:
            items = items_changed(event, self.picture)
            self.picture.apply(event, self.viewer)
            for item in items:
                self._cot.pop(item, None)
                self._frames.pop(item, None)
            changed += items
        if changed:
            for client in self.clients:
                client.changed(changed)

    def _forget(self) -> None:
        self._cot.clear()
        self._frames.clear()

    def cot(self, item: Item, now: float) -> bytes | None:
        """The item as CoT XML (None: nothing to show), written once until it changes."""
        if len(self._cot) > MAX_WRITTEN:  # chat lines never change: without this they would pile up to the refresh
            self._forget()
        if item not in self._cot:
            self._cot[item] = self.writer.write(item, self.picture, now, STALE_S)
        return self._cot[item]

    def frame(self, item: Item, cot: bytes) -> bytes:
        """The item's CoT as a TAK protocol stream frame, made once until it changes."""
        frame = self._frames.get(item)
        if frame is None:
            frame = self._frames[item] = stream_frame(cot)
        return frame

    def sender(self, message_id: str) -> str:
        """Who posted a chat line ("" when the picture no longer holds it)."""
        return next((m.sender for m in reversed(self.picture.messages) if m.id == message_id), "")


class TakClient:
    """One connected device's outgoing stream: its due items, the TAK protocol it asked for, its sender task."""

    def __init__(self, view: AgencyPicture, device: Device, actor: Actor, writer: asyncio.StreamWriter) -> None:
        self.view = view
        self.device = device
        self.actor = actor.user
        self.writer = writer
        self.due = CotDue(skip=[*(Item(UNIT, u) for u in device.units), *(Item(DRONE, d) for d in device.drones)])
        self.protocol = 0  # 0: CoT XML; 1: TAK protocol stream frames (after the client asked)
        self.negotiation = f"watchfloor-takp-{uuid.uuid4()}"
        self._requested: str | None = None
        self._pongs = 0
        self._wake = asyncio.Event()

    def changed(self, items: list[Item]) -> None:
        """Items changed in the agency's picture: due to this client."""
        self.due.mark(items)
        self._wake.set()

    def control(self, frame: bytes) -> bool:
        """Read a frame the device sent for what it says about the connection; True when it was a protocol
        request (answered by the sender task, and not to be read as a report). A keep-alive is answered and
        still read as one (it is counted as ignored input)."""
        try:
            said = stream_control(frame)
        except (FeedError, FeedIgnored):
            return False  # the reader quarantines or counts it like any frame
        if said is None:
            return False
        if said.kind == "ping":
            self._pongs += 1
            self._wake.set()
            return False
        self._requested = said.version
        self._wake.set()
        return True

    async def run(self) -> None:
        """Offer TAK protocol 1, send the whole picture once it is known, then what changes; until cancelled."""
        await self._write([encode_protocol_offer(self.negotiation, time=self._time())])
        await self.view.ready.wait()
        self.changed(all_items(self.view.picture, messages=CHAT_ON_CONNECT))
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._answer()
            while len(self.due):
                await self._write(self._batch(self.view.clock()))
                await self._answer()

    async def _answer(self) -> None:
        """Answer a protocol request and keep-alives, in the protocol in force when each is sent."""
        if self._requested is not None:
            accepted = self.protocol == 0 and self._requested == TAK_PROTOCOL_VERSION
            requested, self._requested = self._requested, None
            # In XML when it switches; a repeated request after the switch is refused in TAK protocol frames.
            await self._write([self._form(None, encode_protocol_response(self.negotiation, accepted,
                                                                         time=self._time()))])
            if accepted:
                self.protocol = 1  # nothing more in XML from here on
                log.info("TAK client %s speaks TAK protocol %s", self.device.id, requested)
        if self._pongs:
            self._pongs = 0
            await self._write([self._form(None, encode_pong(time=self._time()))])

    def _batch(self, now: float) -> list[bytes]:
        out = []
        for item in self.due.take(BATCH):
            if item.kind == MESSAGE and self.view.sender(item.id) == self.actor:
                continue  # the device's own chat line: it has it
            written = self.view.cot(item, now)
            message = self.due.shown(item, written, now)
            if message is not None:  # the item as written, or a delete
                out.append(self._form(item if written is not None else None, message))
        return out

    def _form(self, item: Item | None, cot: bytes) -> bytes:
        """`cot` as this client takes it; an item's TAK protocol frame is shared by the agency's clients."""
        if self.protocol == 0:
            return cot
        return self.view.frame(item, cot) if item is not None else stream_frame(cot)

    def _time(self) -> datetime:
        return datetime.fromtimestamp(self.view.clock(), UTC)

    async def _write(self, messages: list[bytes]) -> None:
        if not messages:
            return
        sock = self.writer.get_extra_info("socket")
        if sock is not None and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            # The device reset the connection (it closed without reading): stop here. A write now would fail,
            # and asyncio would then stop reading too, losing reports the device sent before it closed.
            raise ConnectionResetError(f"device {self.device.id} reset the connection")
        self.writer.write(b"".join(messages))
        await self.writer.drain()  # only this client's task waits for a slow reader


class TakClients:
    """The TAK clients of one gateway, and the agency pictures they are sent from (one per agency, started with
    its first client and kept while the gateway runs)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.views: dict[str, AgencyPicture] = {}  # by agency
        self.writer = ItemWriter(hub.feeds, "cot", "TAK clients")

    @contextlib.asynccontextmanager
    async def serving(self, device: Device, actor: Actor, writer: asyncio.StreamWriter) -> AsyncIterator[TakClient]:
        """Serve `device` (whose commands are `actor`'s) on `writer` while the context lasts (while its stream is
        being read)."""
        # What a dispatcher of its agency sees: a phone in the field never sees as a supervisor or an all-agency
        # feed does, whatever agency it was registered for.
        view = self.views.get(actor.agency)
        if view is None:
            view = self.views[actor.agency] = AgencyPicture(self.hub, Viewer(actor.agency), self.writer)
            view.start()
        client = TakClient(view, device, actor, writer)
        view.clients.add(client)
        task = asyncio.get_running_loop().create_task(self._serve(client))
        try:
            yield client
        finally:
            view.clients.discard(client)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _serve(self, client: TakClient) -> None:
        try:
            await client.run()
        except (ConnectionError, OSError):
            pass  # the device went away; its reader notices and closes the stream
        except Exception:  # a bug must not take the device's stream (its reports) down with it
            log.exception("serving TAK client %s failed", client.device.id)

    async def close(self) -> None:
        """Stop following the picture."""
        for view in self.views.values():
            await view.close()
