"""The feed gateway: CoT (TCP and UDP), NMEA 0183 (UDP) and MAVLink (UDP) listeners inside the hub's loop.

Every record a feed sends is parsed by the sans-I/O parsers in `app.feeds` and becomes a command submitted
through `hub.sequencer.submit`, exactly as if a feed account had sent it over the websocket. Whatever a feed
sends that cannot be parsed (`FeedError`) or that the rules refuse (`Refusal`) is quarantined with its raw
bytes, source address, feed name, code and reason, and counted in `stats[feed]`. Nothing a feed sends may
crash a listener or the hub: every handler catches everything and quarantines it as "internal".

Mapping (see docs/feeds.md):

* CoT `a-f-G-*` -> a unit named after its callsign (else its uid), sanitised to 16 characters of [A-Za-z0-9_-];
  unknown units are registered first, agency from the `<__group name>` colour (Red fire, Blue police,
  White/Green medical, anything else police), kind engine/patrol/ambulance accordingly.
* CoT drones (`a-*-A-M-H-Q`, `a-*-A-M-F-Q`, or an air track with a sensor) -> kind "drone" (police).
* CoT positions carry t = the event's `time`; track course/speed become heading/speed when in range.
* CoT GeoChat (`b-t-f`) -> `message.send` on "all"; CoT 911 (`b-a-o-tbl`) -> a message on "all"
  "EMERGENCY 911 from <callsign>" (a feed may not create incidents: a dispatcher opens one from it).
* NMEA: one `NmeaSession` per sender (ip, port), its device id starts as the sender's IP (a `$PWFID` sentence
  renames it); the device map gives the unit. Units are not registered from NMEA (no kind is known).
* MAVLink: GLOBAL_POSITION_INT of system id N moves unit "UAV<N>" (registered as a police drone if unknown).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import OrderedDict
from typing import Any

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal
from app.feeds.cot import CotEvent, parse_cot
from app.feeds.cot_picture import UID_PREFIX as OWN_UID_PREFIX
from app.feeds.errors import FeedError
from app.feeds.framing import CotStreamSplitter
from app.feeds.mavlink import DroneUpdate, MavlinkDecoder
from app.feeds.nmea import DeviceMap, NmeaSession
from app.hub.ledger import FeedLedger

log = logging.getLogger("watchfloor.gateway")

DEFAULT_ACTOR = Actor("gateway", Role.FEED, "*")
#: `<__group name>` colour -> agency.
GROUP_AGENCY = {"red": "fire", "blue": "police", "white": "medical", "green": "medical"}
AGENCY_KIND = {"fire": "engine", "police": "patrol", "medical": "ambulance"}
DRONE_AGENCY = "police"
#: Per-sender parser state kept for at most this many senders (oldest dropped first).
MAX_SOURCES = 1024
MAX_TCP_CLIENTS = 256
READ_CHUNK = 65536
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def unit_id_for(name: str) -> str:
    """A unit id from a callsign or uid: letters, digits, - and _; at most 16 characters."""
    return _NOT_ID.sub("-", name.strip()).strip("-")[:16] or "UNNAMED"


def agency_for_group(group: str | None) -> str:
    return GROUP_AGENCY.get((group or "").strip().lower(), "police")


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
                 device_map: DeviceMap | None = None, host: str = "127.0.0.1") -> None:
        self.hub = hub
        self.actor = actor
        self.device_map = device_map or DeviceMap()
        self.host = host
        self.ports: dict[str, int] = {}
        self.ledger: FeedLedger = hub.ledger
        self.stats = self.ledger.stats  # per feed: received, applied, quarantined, ignored, last_error
        self._transports: list[asyncio.BaseTransport] = []
        self._servers: list[asyncio.Server] = []
        self._clients: set[asyncio.Task[None]] = set()
        self._nmea: OrderedDict[Any, NmeaSession] = OrderedDict()
        self._mavlink: OrderedDict[Any, MavlinkDecoder] = OrderedDict()

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, cot_port: int | None = None, cot_udp_port: int | None = None,
                    nmea_port: int | None = None, mavlink_port: int | None = None) -> dict[str, int]:
        """Listen on the given ports (None: that listener is off; 0: any free port); returns the bound ports."""
        loop = asyncio.get_running_loop()
        if cot_port is not None:
            server = await asyncio.start_server(self._cot_client, self.host, cot_port)
            self._servers.append(server)
            self.ports["cot_tcp"] = server.sockets[0].getsockname()[1]
        for name, port, handle in (("cot_udp", cot_udp_port, self._cot_datagram),
                                   ("nmea", nmea_port, self._nmea_datagram),
                                   ("mavlink", mavlink_port, self._mavlink_datagram)):
            if port is None:
                continue
            transport, _ = await loop.create_datagram_endpoint(lambda h=handle: _Datagrams(h),
                                                               local_addr=(self.host, port))
            self._transports.append(transport)
            self.ports[name] = transport.get_extra_info("sockname")[1]
        for feed in ("cot", "nmea", "mavlink"):
            self._stats(feed)
        log.info("feed gateway listening: %s", self.ports)
        return dict(self.ports)

    async def close(self) -> None:
        """Stop listening, drop TCP clients and wait for pending quarantine writes."""
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        await self.flush()

    async def flush(self) -> None:
        """Wait until every quarantine record submitted so far is written."""
        await self.ledger.flush()

    # -- bookkeeping -----------------------------------------------------------------------------------

    def _stats(self, feed: str) -> dict[str, Any]:
        return self.ledger.feed(feed)

    def quarantine(self, feed: str, source: str, code: str, reason: str, raw: bytes) -> None:
        """Record a refused input in the hub's feed ledger (quarantine table) and count it."""
        self.ledger.quarantine(feed, source, code, reason, raw)

    def _submit(self, feed: str, source: str, raw: bytes, name: str, args: Any) -> bool:
        """Submit one command as the gateway's feed account; a refusal is quarantined. True when applied."""
        try:
            self.hub.sequencer.submit(self.actor, name, args, None)
        except Refusal as refusal:
            self.quarantine(feed, source, refusal.code, f"{name}: {refusal.reason}", raw)
            return False
        self._stats(feed)["applied"] += 1
        return True

    def _guard(self, feed: str, source: str, raw: bytes, work: Any, *args: Any) -> None:
        self._stats(feed)["received"] += 1
        try:
            work(source, raw, *args)
        except FeedError as error:
            self.quarantine(feed, source, error.code, error.reason, raw)
        except Exception as exc:  # nothing a feed sends may take the listener down
            log.exception("feed %s input from %s failed", feed, source)
            self.quarantine(feed, source, "internal", f"{type(exc).__name__}: {exc}", raw)

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
            self.quarantine("cot", source, "too_many_clients", f"over {MAX_TCP_CLIENTS} CoT TCP clients", b"")
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
                        self._stats("cot")["received"] += 1
                        self.quarantine("cot", source, frame.code, frame.reason, chunk[:4096])
                    else:
                        self._guard("cot", source, frame, self._cot_record)
            leftover = splitter.unfinished()
            if leftover:
                self._stats("cot")["received"] += 1
                self.quarantine("cot", source, "truncated", f"stream ended inside an event ({len(leftover)} bytes)",
                                leftover)
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
        event = parse_cot(raw)
        if event.uid.startswith(OWN_UID_PREFIX):  # our own output (cot_out) echoed by a TAK server
            self._stats("cot")["ignored"] += 1
        elif event.is_chat:
            assert event.chat is not None
            sender = event.chat.sender_callsign or event.callsign or event.uid
            self._submit("cot", source, raw, "message.send",
                         c.SendMessage(channel="all", text=f"{sender}: {event.chat.message}"[:2000]))
        elif event.is_911:
            who = (event.callsign or event.uid).removesuffix("-Alert")  # ATAK sends "<callsign>-Alert"
            self._submit("cot", source, raw, "message.send",
                         c.SendMessage(channel="all", text=f"EMERGENCY 911 from {who}"))
        elif event.is_drone or event.is_friendly_ground:
            self._cot_position(source, raw, event)
        else:
            self._stats("cot")["ignored"] += 1

    def _cot_position(self, source: str, raw: bytes, event: CotEvent) -> None:
        unit = unit_id_for(event.callsign or event.uid)
        if event.is_drone:
            agency, kind = DRONE_AGENCY, "drone"
        else:
            agency = agency_for_group(event.group_name)
            kind = AGENCY_KIND.get(agency, "patrol")
        if not self._ensure_unit("cot", source, raw, unit, agency, kind):
            return
        track = event.track
        self._position("cot", source, raw, unit, event.lat, event.lon, track.course if track else None,
                       track.speed if track else None, event.time.timestamp())

    # -- NMEA ------------------------------------------------------------------------------------------

    def _nmea_datagram(self, data: bytes, addr: Any) -> None:
        source = "udp:{}:{}".format(*addr[:2])
        session = self._nmea.get(addr)
        if session is None:
            session = self._nmea[addr] = NmeaSession(str(addr[0]), self.device_map)
            if len(self._nmea) > MAX_SOURCES:
                self._nmea.popitem(last=False)
        else:
            self._nmea.move_to_end(addr)
        for line in data.split(b"\n"):
            line = line.rstrip(b"\r")
            if line.strip():
                self._guard("nmea", source, line, self._nmea_line, session)

    def _nmea_line(self, source: str, raw: bytes, session: NmeaSession) -> None:
        position = session.feed(raw)
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
        self._guard("mavlink", source, data, self._mavlink_datagram_records, decoder)

    def _mavlink_datagram_records(self, source: str, raw: bytes, decoder: MavlinkDecoder) -> None:
        for item in decoder.feed(raw):
            if isinstance(item, FeedError):
                self.quarantine("mavlink", source, item.code, item.reason, raw)
            elif isinstance(item, DroneUpdate) and item.message == "GLOBAL_POSITION_INT":
                self._drone_position(source, raw, decoder, item.system_id)

    def _drone_position(self, source: str, raw: bytes, decoder: MavlinkDecoder, system_id: int) -> None:
        drone = decoder.drones[system_id]
        if drone.latitude is None or drone.longitude is None:
            return
        unit = f"UAV{system_id}"
        if not self._ensure_unit("mavlink", source, raw, unit, DRONE_AGENCY, "drone"):
            return
        speed = None
        if drone.velocity_north is not None and drone.velocity_east is not None:
            speed = math.hypot(drone.velocity_north, drone.velocity_east)
        self._position("mavlink", source, raw, unit, drone.latitude, drone.longitude, drone.heading, speed, None)
