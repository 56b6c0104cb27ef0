"""The feed gateway: CoT (TCP and UDP), NMEA 0183 (UDP and TCP), MAVLink and KLV (UDP) listeners inside the hub's loop.

Every record a feed sends is parsed by the sans-I/O parsers in `app.feeds` and becomes a command submitted
through `hub.sequencer.submit`, exactly as if a feed account had sent it over the websocket. Whatever a feed
sends that cannot be parsed (`FeedError`) or that the rules refuse (`Refusal`) is quarantined with its raw
bytes, source address, feed name, code and reason, and counted in the hub's feed registry (`hub.feeds`, shown
in the console's Feeds panel). Valid input the hub does not use (`FeedIgnored`: a GSV sentence, a fix sent
before the device has one, a fixed camera) is only counted as ignored, by kind: it is not a problem.
Nothing a feed sends may crash a listener or the hub: every handler catches everything and quarantines it as
"internal".

Mapping (see docs/feeds.md):

* CoT: what an event means is decided by `app.feeds.cot_meaning.interpret` (units, drones, video links of
  known drones, GeoChat and every emergency as messages on "all"); this module submits it.
* NMEA: one `NmeaSession` per UDP sender (ip, port) or TCP connection, its device id starts as the transport
  tag `udp:<ip>:<port>` (matching device-map keys `udp:<ip>:<port>`, `udp:<ip>` or `<ip>`; a `$PWFID` sentence
  renames it); the device map gives the unit. Units are not registered from NMEA (no kind is known).
* MAVLink (system id N is drone "UAV<N>") and MISB ST 0601 KLV -> drone registration, telemetry and link state:
  see `app.hub.drone_gateway`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal
from app.feeds.cot import parse_cot
from app.feeds.cot_meaning import Broadcast, CotSenders, DroneFix, UnitFix, VideoLink, interpret
from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.framing import CotStreamSplitter, LineSplitter
from app.feeds.mavlink import MavlinkDecoder
from app.feeds.nmea import DeviceMap, NmeaSession
from app.hub.drone_gateway import LINK_TIMEOUT_S, DroneFeeds

log = logging.getLogger("watchfloor.gateway")

DEFAULT_ACTOR = Actor("gateway", Role.FEED, "*")
#: Per-sender parser state kept for at most this many senders (oldest dropped first).
MAX_SOURCES = 1024
MAX_TCP_CLIENTS = 256
READ_CHUNK = 65536
#: The gateway's feeds as the Feeds panel names them.
FEED_LABELS = {"cot": "CoT (TAK)", "nmea": "NMEA GPS", "mavlink": "MAVLink drones", "klv": "KLV drone metadata"}
#: UDP receive buffer asked for (the kernel caps it at net.core.rmem_max): a fleet's reports arrive in bursts,
#: and what overflows the default ~208 KiB is lost without a trace.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


def _widen_receive_buffer(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
    except OSError as exc:  # keep the default: the listener works, bursts may overflow sooner
        log.warning("cannot widen the UDP receive buffer: %s", exc)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.handle(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.warning("udp listener error: %s", exc)


class FeedGateway:
    """Feed listeners for a started `Hub`. `await start(...)`, then `await close()`."""

    def __init__(self, hub: Any, actor: Actor = DEFAULT_ACTOR,
                 device_map: DeviceMap | None = None, host: str = "127.0.0.1",
                 link_timeout: float = LINK_TIMEOUT_S) -> None:
        self.hub = hub
        self.actor = actor
        self.device_map = device_map or DeviceMap()
        self.host = host
        self.ports: dict[str, int] = {}
        self.feeds = hub.feeds
        self._transports: list[asyncio.BaseTransport] = []
        self._servers: list[asyncio.Server] = []
        self._clients: set[asyncio.Task[None]] = set()
        self._nmea: OrderedDict[Any, NmeaSession] = OrderedDict()
        self._mavlink: OrderedDict[Any, MavlinkDecoder] = OrderedDict()
        self._cot_senders = CotSenders()
        self.drones = DroneFeeds(self, link_timeout)

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, cot_port: int | None = None, cot_udp_port: int | None = None,
                    nmea_port: int | None = None, mavlink_port: int | None = None,
                    klv_port: int | None = None, nmea_tcp_port: int | None = None) -> dict[str, int]:
        """Listen on the given ports (None: that listener is off; 0: any free port); returns the bound ports."""
        loop = asyncio.get_running_loop()
        for name, port, client in (("cot_tcp", cot_port, self._cot_client),
                                   ("nmea_tcp", nmea_tcp_port, self._nmea_client)):
            if port is None:
                continue
            server = await asyncio.start_server(client, self.host, port)
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
            self._listening(name.removesuffix("_tcp"), f"tcp {self.host}:{self.ports[name]}")
        for name, port, handle in (("cot_udp", cot_udp_port, self._cot_datagram),
                                   ("nmea", nmea_port, self._nmea_datagram),
                                   ("mavlink", mavlink_port, self._mavlink_datagram),
                                   ("klv", klv_port, self._klv_datagram)):
            if port is None:
                continue
            transport, _ = await loop.create_datagram_endpoint(lambda h=handle: _Datagrams(h),
                                                               local_addr=(self.host, port))
            _widen_receive_buffer(transport)
            self._transports.append(transport)
            self.ports[name] = transport.get_extra_info("sockname")[1]
            self._listening(name.removesuffix("_udp"), f"udp {self.host}:{self.ports[name]}")
        if mavlink_port is not None or klv_port is not None:
            self.drones.start()
        log.info("feed gateway listening: %s", self.ports)
        return dict(self.ports)

    async def close(self) -> None:
        """Stop listening, drop TCP clients and wait for pending quarantine writes."""
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        await self.drones.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        await self.feeds.flush()

    # -- bookkeeping -----------------------------------------------------------------------------------

    def _listening(self, feed: str, where: str) -> None:
        self.feeds.feed(feed, FEED_LABELS[feed]).listening.append(where)

    def _submit(self, feed: str, source: str, raw: bytes, name: str, args: Any) -> bool:
        """Submit one command as the gateway's feed account; a refusal is quarantined. True when applied."""
        try:
            self.hub.sequencer.submit(self.actor, name, args, None)
        except Refusal as refusal:
            self.feeds.quarantine(feed, source, refusal.code, f"{name}: {refusal.reason}", raw)
            return False
        self.feeds.feed(feed).accept()
        return True

    def _guard(self, feed: str, source: str, raw: bytes, work: Any, *args: Any) -> None:
        self.feeds.feed(feed).input(source)
        try:
            work(source, raw, *args)
        except FeedError as error:
            self.feeds.quarantine(feed, source, error.code, error.reason, raw)
        except FeedIgnored as ignored:  # valid, but nothing the hub uses: counted, never quarantined
            self.feeds.feed(feed).ignore(ignored.kind)
        except Exception as exc:  # nothing a feed sends may take the listener down
            log.exception("feed %s input from %s failed", feed, source)
            self.feeds.quarantine(feed, source, "internal", f"{type(exc).__name__}: {exc}", raw)

    def _ensure_unit(self, feed: str, source: str, raw: bytes, unit: str, agency: str, kind: str) -> bool:
        if unit in self.hub.sequencer.picture.units:
            return True
        return self._submit(feed, source, raw, "unit.register", c.RegisterUnit(id=unit, agency=agency, kind=kind))

    def _position(self, feed: str, source: str, raw: bytes, unit: str, lat: float, lon: float,
                  heading: float | None, speed: float | None, t: float | None) -> None:
        if heading is not None and not (math.isfinite(heading) and 0 <= heading <= 360):
            heading = None
        if speed is not None and not (math.isfinite(speed) and 0 <= speed < 400):
            speed = None
        self._submit(feed, source, raw, "unit.position",
                     c.ReportPosition(unit=unit, lat=lat, lon=lon, heading=heading, speed=speed, t=t))

    # -- CoT -------------------------------------------------------------------------------------------

    async def _cot_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = "tcp:{}:{}".format(*peer[:2]) if peer else "tcp:?"
        task = asyncio.current_task()
        if len(self._clients) >= MAX_TCP_CLIENTS:
            self.feeds.quarantine("cot", source, "too_many_clients", f"over {MAX_TCP_CLIENTS} CoT TCP clients", b"")
            writer.close()
            return
        if task is not None:
            self._clients.add(task)
        splitter = CotStreamSplitter()
        try:
            while True:
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    break
                for frame in splitter.feed(chunk):
                    if isinstance(frame, FeedError):
                        self.feeds.feed("cot").input(source)
                        self.feeds.quarantine("cot", source, frame.code, frame.reason, chunk[:4096])
                    else:
                        self._guard("cot", source, frame, self._cot_record)
            leftover = splitter.unfinished()
            if leftover:
                self.feeds.feed("cot").input(source)
                self.feeds.quarantine("cot", source, "truncated",
                                      f"stream ended inside an event ({len(leftover)} bytes)", leftover)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # never let one client's stream hurt the others
            log.exception("CoT TCP client %s failed", source)
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()

    def _cot_datagram(self, data: bytes, addr: Any) -> None:
        self._guard("cot", "udp:{}:{}".format(*addr[:2]), data, self._cot_record)

    def _cot_record(self, source: str, raw: bytes) -> None:
        meaning = interpret(parse_cot(raw), self._cot_senders, self.hub.sequencer.picture.drones)
        if isinstance(meaning, Broadcast):
            self._submit("cot", source, raw, "message.send", c.SendMessage(channel="all", text=meaning.text))
        elif isinstance(meaning, DroneFix):
            self.drones.cot_drone(source, raw, meaning.event, meaning.drone, meaning.agency)
        elif isinstance(meaning, VideoLink):
            self.drones.cot_video(source, raw, meaning.drone, meaning.video)
        elif isinstance(meaning, UnitFix) and self._ensure_unit("cot", source, raw, meaning.unit, meaning.agency,
                                                                meaning.kind):
            self._position("cot", source, raw, meaning.unit, meaning.lat, meaning.lon, meaning.heading,
                           meaning.speed, meaning.t)

    # -- NMEA ------------------------------------------------------------------------------------------

    def _nmea_datagram(self, data: bytes, addr: Any) -> None:
        source = "udp:{}:{}".format(*addr[:2])
        session = self._nmea.get(addr)
        if session is None:
            session = self._nmea[addr] = NmeaSession(source, self.device_map)
            if len(self._nmea) > MAX_SOURCES:
                self._nmea.popitem(last=False)
        else:
            self._nmea.move_to_end(addr)
        for line in data.split(b"\n"):
            line = line.rstrip(b"\r")
            if line.strip():
                self._guard("nmea", source, line, self._nmea_line, session)

    async def _nmea_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """NMEA over TCP (receivers and gpsd-style relays that serve a stream): one session per connection."""
        peer = writer.get_extra_info("peername")
        source = "tcp:{}:{}".format(*peer[:2]) if peer else "tcp:?"
        task = asyncio.current_task()
        if len(self._clients) >= MAX_TCP_CLIENTS:
            self.feeds.quarantine("nmea", source, "too_many_clients", f"over {MAX_TCP_CLIENTS} TCP clients", b"")
            writer.close()
            return
        if task is not None:
            self._clients.add(task)
        session, lines = NmeaSession(source, self.device_map), LineSplitter()
        try:
            while chunk := await reader.read(READ_CHUNK):
                for line in lines.feed(chunk):
                    if isinstance(line, FeedError):
                        self.feeds.feed("nmea").input(source)
                        self.feeds.quarantine("nmea", source, line.code, line.reason, chunk[:4096])
                    else:
                        self._guard("nmea", source, line, self._nmea_line, session)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # never let one client's stream hurt the others
            log.exception("NMEA TCP client %s failed", source)
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()

    def _nmea_line(self, source: str, raw: bytes, session: NmeaSession) -> None:
        position = session.feed(raw, datetime.fromtimestamp(self.hub.clock(), UTC))
        if position is None:
            return
        if position.callsign is None:
            raise FeedError("unmapped_device", f"device {position.device!r} is not in the device map")
        self._position("nmea", source, raw, position.callsign, position.lat, position.lon, position.course_deg,
                       position.speed_mps, position.epoch)

    # -- MAVLink ---------------------------------------------------------------------------------------

    def _mavlink_datagram(self, data: bytes, addr: Any) -> None:
        source = "udp:{}:{}".format(*addr[:2])
        decoder = self._mavlink.get(addr)
        if decoder is None:
            decoder = self._mavlink[addr] = MavlinkDecoder()
            if len(self._mavlink) > MAX_SOURCES:
                self._mavlink.popitem(last=False)
        else:
            self._mavlink.move_to_end(addr)
        self._guard("mavlink", source, data, self.drones.mavlink, decoder)

    # -- KLV -------------------------------------------------------------------------------------------

    def _klv_datagram(self, data: bytes, addr: Any) -> None:
        self._guard("klv", "udp:{}:{}".format(*addr[:2]), data, self.drones.klv)
