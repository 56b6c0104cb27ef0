"""TAK clients served, end to end against a real hub process: the CoT streaming ports send each connected device
the picture its agency may see.

pytak, configured from nothing but the police phone's data package, connects over TLS and receives the units,
incidents and chat police may see (its own restricted incident too), and NOT fire's restricted incident, nor the
name of it on the fire engine working it, nor fire's chat; live changes follow, and an incident restricted away
from police is deleted from its map. A device on the plain TCP port that asks for TAK protocol version 1 is
answered and then sent only protobuf stream frames, which decode to what the XML client is sent. A device that
never reads holds up neither the others nor the hub, and when it reads again it gets each item's newest state.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from app.client.connection import HubClient
from app.feeds.cot import (
    PROTOCOL_OFFER,
    PROTOCOL_RESPONSE,
    CotEvent,
    encode_ping,
    encode_position,
    encode_protocol_request,
    is_takproto,
    parse_cot,
)
from app.feeds.cot_proto import stream_frame
from app.feeds.errors import FeedError
from app.feeds.framing import CotStreamSplitter
from app.hub.gateway import token_sha256
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device, send_stream
from tests.integration.test_field_devices import positions
from tests.integration.test_tak_tls import enroll, tak_client
from tests.integration.test_tls import watchfloor
from tests.integration.waiting import signed_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak  # noqa: F401  (test_tak_tls's client is pytak's)

LAT, LON = 60.17, 24.94


class TakStream:
    """What a TAK client reads from the hub: every event, in order, and the form each came in."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.splitter = CotStreamSplitter()
        self.events: list[CotEvent] = []
        self.protobuf: list[bool] = []  # per event: came as a TAK protocol frame

    def uids(self) -> set[str]:
        return {e.uid for e in self.events}

    def last(self, uid: str) -> CotEvent | None:
        return next((e for e in reversed(self.events) if e.uid == uid), None)

    def chat(self) -> list[str]:
        return [e.chat.message for e in self.events if e.chat is not None]

    async def until(self, condition: object, timeout: float = 30.0) -> None:
        """Read until `condition()` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():  # type: ignore[operator]
            data = await asyncio.wait_for(self.reader.read(1 << 16), max(0.1, deadline - loop.time()))
            assert data, "the hub closed the stream"
            for frame in self.splitter.feed(data):
                assert not isinstance(frame, FeedError), frame
                self.events.append(parse_cot(frame))
                self.protobuf.append(is_takproto(frame))


def deleted(stream: TakStream, uid: str) -> bool:
    return any(e.type == "t-x-d-d" and any(link.uid == uid for link in e.links) for e in stream.events)


async def token_client(port: int, token: str, receive_buffer: int | None = None
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TAK device on the plain CoT TCP port, with its token line first."""
    sock = socket.socket()
    if receive_buffer is not None:  # a device that will not read: the hub, not its buffers, must hold the rest
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"WATCHFLOOR-TOKEN {token}\n".encode())
    await writer.drain()
    return reader, writer


def test_tak_clients_receive_what_their_agency_may_see(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    for args in (["ca", "--dir", str(tls)], ["hub", "--dir", str(tls), "--ip", "127.0.0.1"]):
        made = watchfloor("cert", *args)
        assert made.returncode == 0, made.stderr
    db, tls_port, tcp_port = tmp_path / "hub.db", free_port(), free_port()
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cot-tls-port", str(tls_port), "--ca-dir", str(tls),
                                       "--cot-port", str(tcp_port)])
    hub.start()
    try:
        phone = tmp_path / "PHONE-P1.zip"
        enroll(hub, tls, "PHONE-P1", "P1", tls_port, phone)
        asyncio.run(_scenario(hub, phone, tcp_port))
        asyncio.run(_send_without_reading(hub, tcp_port, db))
    finally:
        hub.stop()
        hub.kill()


async def _scenario(hub: HubProcess, phone: Path, tcp_port: int) -> None:
    async with signed_in(hub.url, "super1", "fire1", "police1", "feed1") as (boss, fire, police, feed):
        await register_device(boss, "TAK-P3", "police", ["cot"], "tcp", units=["P3"], token="p3-secret")
        for unit, agency, kind in (("E1", "fire", "engine"), ("E2", "fire", "engine"), ("P1", "police", "patrol"),
                                   ("P2", "police", "patrol")):
            await boss.call("unit.register", {"id": unit, "agency": agency, "kind": kind, "lat": LAT, "lon": LON})
        hidden = await incident(fire, "structure_fire", "1 Secret Street", restricted=True)
        shown = await incident(fire, "structure_fire", "2 Open Street", restricted=False)
        own = await incident(police, "burglary", "3 Police Street", restricted=True)
        await fire.call("unit.assign", {"unit": "E1", "incident": hidden})
        await fire.call("message.send", {"channel": "agency:fire", "text": "fire only: ladder 2 to Secret St"})
        await police.call("message.send", {"channel": "agency:police", "text": "police only: cordon"})
        await boss.call("message.send", {"channel": "all", "text": "marker 1"})

        reader, writer = await tak_client(phone)
        xml = TakStream(reader)
        await xml.until(lambda: "marker 1" in xml.chat())
        uids = xml.uids()
        assert {"watchfloor.unit.E1", "watchfloor.unit.E2", "watchfloor.unit.P2", f"watchfloor.incident.{shown}",
                f"watchfloor.incident.{own}"} <= uids
        assert f"watchfloor.incident.{hidden}" not in uids  # fire's restricted incident...
        engine = xml.last("watchfloor.unit.E1")
        assert engine is not None and hidden not in (engine.remarks or "") and "Secret" not in (engine.remarks or "")
        assert "watchfloor.unit.P1" not in uids  # the phone is P1's source: not sent its own unit back
        assert "police only: cordon" in xml.chat() and not [t for t in xml.chat() if "fire only" in t]
        assert not any(e.type == "t-x-d-d" for e in xml.events)  # nothing deleted it was never shown
        assert xml.events[0].type == PROTOCOL_OFFER and not any(xml.protobuf)

        # Live: a fire engine sent to the restricted call stays nameless; the open call, restricted, is deleted.
        await fire.call("unit.assign", {"unit": "E2", "incident": hidden})
        await fire.call("incident.update", {"incident": shown, "restricted": True})
        await boss.call("unit.register", {"id": "P2B", "agency": "police", "kind": "patrol", "lat": LAT + 0.01,
                                          "lon": LON})
        await boss.call("message.send", {"channel": "all", "text": "marker 2"})
        await xml.until(lambda: "marker 2" in xml.chat())
        assert deleted(xml, f"watchfloor.incident.{shown}") and "watchfloor.unit.P2B" in xml.uids()
        e2 = xml.last("watchfloor.unit.E2")
        assert e2 is not None and "dispatched" in (e2.remarks or "") and hidden not in (e2.remarks or "")
        assert f"watchfloor.incident.{hidden}" not in xml.uids()

        await _protocol_one(boss, tcp_port, xml)
        await _slow_client_holds_up_nobody(boss, feed, police, tcp_port, xml)
        writer.close()


async def incident(dispatcher: HubClient, kind: str, address: str, restricted: bool) -> str:
    answer = await dispatcher.call("incident.create", {"type": kind, "lat": LAT, "lon": LON, "address": address,
                                                       "restricted": restricted})
    await dispatcher.wait_for(lambda: answer.seqs[0] <= dispatcher.picture.seq)
    return next(i.id for i in dispatcher.picture.incidents.values() if i.address == address)


async def _protocol_one(boss: HubClient, port: int, xml: TakStream) -> None:
    """A device that asks for TAK protocol 1 is answered, then sent only protobuf frames with the same items."""
    reader, writer = await token_client(port, "p3-secret")
    proto = TakStream(reader)
    await proto.until(lambda: bool(proto.events))
    offer = proto.events[0]
    assert offer.type == PROTOCOL_OFFER and 'TakProtocolSupport version="1"' in offer.detail_xml
    # The whole picture comes at once, without waiting for a change (police's picture was followed already).
    await proto.until(lambda: {"watchfloor.unit.E1", "watchfloor.unit.P1"} <= proto.uids())
    writer.write(encode_protocol_request(offer.uid))
    await writer.drain()
    await proto.until(lambda: any(e.type == PROTOCOL_RESPONSE for e in proto.events))
    switch = next(i for i, e in enumerate(proto.events) if e.type == PROTOCOL_RESPONSE)
    assert proto.events[switch].uid == offer.uid and 'status="true"' in proto.events[switch].detail_xml
    writer.write(stream_frame(encode_ping()))  # the client speaks TAK protocol too now; a keep-alive is answered
    await writer.drain()
    await boss.call("unit.position", {"unit": "P2", "lat": LAT + 0.02, "lon": LON + 0.02})
    await boss.call("message.send", {"channel": "all", "text": "marker 3"})
    await proto.until(lambda: "marker 3" in proto.chat())
    await xml.until(lambda: "marker 3" in xml.chat())
    after = proto.events[switch + 1:]
    assert after and all(proto.protobuf[switch + 1:])  # nothing but TAK protocol frames after the answer
    await proto.until(lambda: any(e.type == "t-x-c-t-r" for e in proto.events))
    moved, same = proto.last("watchfloor.unit.P2"), xml.last("watchfloor.unit.P2")
    assert moved is not None and moved in after and same is not None

    def seen(e: CotEvent) -> tuple[object, ...]:
        return e.lat, e.lon, e.callsign, e.type, e.remarks, e.group_name, e.track

    assert seen(moved) == seen(same)
    assert (moved.lat, moved.lon) == (LAT + 0.02, LON + 0.02)
    writer.close()


async def _slow_client_holds_up_nobody(boss: HubClient, feed: HubClient, police: HubClient, port: int,
                                       calm: TakStream) -> None:
    """A device that never reads: the calm client and the consoles get everything meanwhile; when it reads again
    it gets the newest position of a unit that moved many times while it was not reading, not each move."""
    await register_device(boss, "TAK-SLOW", "police", ["cot"], "tcp", units=["P9"], token="slow-secret")
    reader, writer = await token_client(port, "slow-secret", receive_buffer=4096)
    slow = TakStream(reader)
    await slow.until(lambda: bool(slow.events))  # connected and served; from here it does not read
    lines = 3000  # about 7 MB of GeoChat: far more than the socket buffers between the hub and the device hold
    for i in range(lines):
        feed.report("message.send", {"channel": "all", "text": f"flood {i:04d} " + "x" * 1900})
        if i % 200 == 0:
            await asyncio.sleep(0)
    moves = 40
    for i in range(moves):
        await boss.call("unit.position", {"unit": "P2", "lat": LAT + 0.001 * i, "lon": LON})
    await boss.call("message.send", {"channel": "all", "text": "end of flood"})
    await calm.until(lambda: "end of flood" in calm.chat(), 120)
    await police.wait_for(lambda: any(m.text == "end of flood" for m in police.picture.messages), 60)
    # Thawed: it reads what waited, the newest position first, and nothing is lost at the end.
    await slow.until(lambda: "end of flood" in slow.chat(), 120)
    fixes = [e for e in slow.events if e.uid == "watchfloor.unit.P2"]
    assert fixes[-1].lat == LAT + 0.001 * (moves - 1)
    assert len(fixes) < moves, f"{len(fixes)} positions of P2: older ones should have been dropped unsent"
    writer.close()


def fixes(first: int, count: int) -> list[bytes]:
    """P7's positions number `first` to `first + count - 1`, one second apart, a metre or so apart."""
    start = time.time() - 3000
    return [encode_position("ANDROID-P7", LAT + 1e-5 * i, LON, callsign="P7",
                            time=datetime.fromtimestamp(start + i, UTC)) for i in range(first, first + count)]


async def _send_without_reading(hub: HubProcess, port: int, db: Path) -> None:
    """The hub writes the picture to every device; a device that does not read it loses none of its reports:
    one that streams far more than the socket buffers hold and then ends its stream as TCP has it (shuts its
    side, reads until the hub closes), and one that closes at once without reading (a reset), whose reports the
    hub had received but, throttled, not read yet."""
    async with signed_in(hub.url, "super1", "police1") as (boss, police):
        def at_fix(n: int) -> bool:
            unit = police.picture.units.get("P7")
            return unit is not None and unit.lat is not None and abs(unit.lat - (LAT + 1e-5 * n)) < 1e-9

        await register_device(boss, "SCRIPT", "police", ["cot"], "tcp", units=["P7"], token="script", rate=5000)
        await boss.call("message.send", {"channel": "all", "text": "something to serve"})
        await send_stream(port, b"".join(fixes(0, 2000)), "script")  # about 800 KB, nothing read until the end
        await police.wait_for(lambda: at_fix(1999), 60)
        assert len(positions(db, "P7")) == 2000

        await boss.call("device.register", {"id": "SLOW-SCRIPT", "agency": "police", "formats": ["cot"],
                                            "transport": "tcp", "source": "127.0.0.1", "units": ["P8"],
                                            "credential": "token", "token_sha256": token_sha256("slow"),
                                            "rate": 50})
        _, writer = await token_client(port, "slow")
        writer.write(b"".join(fix.replace(b'"P7"', b'"P8"').replace(b"ANDROID-P7", b"ANDROID-P8")
                              for fix in fixes(0, 200)))  # 80 KB: in the hub at once, read at 50/s
        await writer.drain()
        await police.wait_for(lambda: "P8" in police.picture.units, 30)  # the hub is reading it
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()  # a reset, whatever is unread
        await police.wait_for(lambda: police.picture.units["P8"].lat == LAT + 1e-5 * 199, 60)
    assert len(positions(db, "P8")) == 200
