"""A console that stops reading is dropped without slowing the others, and resumes later without loss."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from app.client.connection import HubClient
from app.hub.server import Hub
from app.protocol import codes
from tests.integration.conftest import PASSWORD, make_accounts

#: Far more than the stalled console's socket buffers hold, so the hub really sees a backlog.
MESSAGES = 6_000


class RawConsole:
    """A console over a raw stream with websockets' sans-I/O protocol. It reads only when asked, so it can
    stall for real (the websockets client keeps reading into its own buffers behind the caller's back)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer = reader, writer
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}"), max_size=None)
        self.pending: list[dict] = []
        self.handshake_done = False
        self.close_code: int | None = None

    @classmethod
    async def open(cls, port: int) -> RawConsole:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=64 * 1024)
        console = cls(reader, writer, port)
        console.protocol.send_request(console.protocol.connect())
        await console._flush()
        while not console.handshake_done:
            assert await console._absorb(), "the hub closed during the handshake"
        return console

    async def send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        await self._flush()

    async def next_message(self) -> dict | None:
        """The next text message, or None once the hub has closed the connection (close code kept)."""
        while not self.pending:
            if self.close_code is not None or not await self._absorb():
                return None
        return self.pending.pop(0)

    async def _absorb(self) -> bool:
        """Read once from the socket and take in what arrived; False at end of stream."""
        data = await asyncio.wait_for(self.reader.read(1 << 20), 30)
        if not data:
            return False
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.handshake_done = True
            elif event.opcode == Opcode.TEXT:
                self.pending.append(json.loads(event.data))
            elif event.opcode == Opcode.CLOSE:
                self.close_code = Close.parse(event.data).code
        await self._flush()
        return True

    async def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)
        await self.writer.drain()


def test_a_stalled_console_is_dropped_and_resumes_without_loss(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = tmp_path / "hub.db"
        make_accounts(db)
        hub = Hub(db, max_queue=500)
        port = await hub.start()
        url = f"ws://127.0.0.1:{port}"
        calm = HubClient(url, "police1", PASSWORD)
        feed = HubClient(url, "feed1", PASSWORD, subscribe=False)
        for client in (calm, feed):
            client.start()
            await client.wait_for(lambda c=client: c.state == "connected")
        # The stalled console signs in, subscribes, reads its catch-up, then stops reading: its socket
        # buffers fill and the hub's queue for it grows past the bound (a frozen machine, a dead link).
        stalled = await RawConsole.open(port)
        await stalled.send({"type": "hello", "v": 1, "user": "fire1", "password": PASSWORD})
        assert (await stalled.next_message())["type"] == "welcome"
        await stalled.send({"type": "subscribe", "since": None})
        assert (await stalled.next_message())["type"] == "snapshot"
        assert (await stalled.next_message())["type"] == "caught_up"
        for i in range(MESSAGES):
            feed.report("message.send", {"channel": "all", "text": f"field report {i:05d} " + "x" * 3500})
            if i % 500 == 0:
                await asyncio.sleep(0)
        # A backlog is judged when the next batch arrives: one more report after the burst.
        feed.report("message.send", {"channel": "all", "text": "end of burst"})
        head = MESSAGES + 1
        # The calm console got everything, not held back by the stalled one.
        await calm.wait_for(lambda: calm.picture.seq >= head, 60)
        assert hub.sequencer.committed_seq == head
        assert hub.counters.get("dropped_slow") == 1  # the stalled one only
        # Thawed, it reads what was buffered, then the close: too slow, resume later.
        last_seq = 0
        while (message := await stalled.next_message()) is not None:
            if message["type"] == "events":
                last_seq = message["events"][-1]["seq"]
        assert stalled.close_code == codes.CLOSE_TOO_SLOW and last_seq < head
        # It resumes from the last sequence number it holds and gets exactly the rest.
        resumed = await connect(url, max_size=None)
        await resumed.send(json.dumps({"type": "hello", "v": 1, "user": "fire1", "password": PASSWORD}))
        await resumed.recv()
        await resumed.send(json.dumps({"type": "subscribe", "since": last_seq}))
        seqs: list[int] = []
        while True:
            message = json.loads(await asyncio.wait_for(resumed.recv(), 30))
            if message["type"] == "caught_up":
                break
            assert message["type"] == "events"
            seqs += [e["seq"] for e in message["events"]]
        assert seqs == list(range(last_seq + 1, head + 1))
        await resumed.close()
        for client in (calm, feed):
            await client.close()
        await hub.close()

    asyncio.run(scenario())
