"""The feed gateway: CoT (TCP, TLS, UDP), NMEA 0183 (UDP, TCP), MAVLink and KLV (UDP) listeners inside the hub's loop.

Only registered field devices are heard (`app.domain.devices`, registered with `device.register`). Each input
is matched to an active device by format, transport and source address (and, on TCP, the token on the
stream's first line; over TLS, the client certificate's SHA-256 alone); input from anyone else is never
parsed: it is counted and listed as an unknown device (`FeedRegistry.unknown_device`), within a token bucket
per address (`app.hub.intake`). A matched input takes a token from the device's bucket, is parsed by the
sans-I/O parsers in `app.feeds`, and becomes commands submitted through `hub.sequencer.submit` as the device
(actor `device:<id>`, its agency, role feed). A device reports only for the units and drones registered to
it: a callsign that names anyone else's is refused
(`not_owned`), and so are GeoChat and 911 events from callsigns that are not its own. A device that names many
distinct units or drones it is refused for (not its own, or unknown and not its to create) is making up
identities: `named_stranger` raises one Sybil finding per device per window for the supervisors. Whatever cannot be
parsed (`FeedError`) or is refused (`Refusal`) is quarantined (bounded, see `app.hub.feed_status`) and
counted in the hub's feed registry (`hub.feeds`, shown in the console's Feeds panel). Valid input the hub does
not use (`FeedIgnored`: a GSV sentence, a fix sent before the device has one, a fixed camera) is only counted
as ignored, by kind: it is not a problem. Nothing a feed sends may
crash a listener or the hub: every handler catches everything and quarantines it as "internal".

CoT over TLS (TAK's streaming port, 8089) demands a client certificate signed by the control room's CA
(`watchfloor device enroll`); the handshake is ours (`start_tls` inside the connection, so a refused one is
counted like any unknown sender), then the certificate's fingerprint finds the device and the stream is read
exactly like a CoT TCP stream. A stream, TCP or TLS, whose device is revoked is closed at once, idle or not.
While a device's stream (TCP or TLS) is open, the device is also sent the picture its agency may see, as a TAK
server would (`app.hub.tak_clients`; a TAK protocol request or keep-alive on the stream goes there).

Mapping (see docs/feeds.md):

* CoT: what an event means is decided by `app.feeds.cot_meaning.interpret` (units, drones, video links of
  known drones, GeoChat and every emergency as messages on "all"); this module holds it to the device (a unit
  or drone it owns, a message from one of its callsigns; an emergency's text names the device) and submits
  it. Units and drones are registered for the device's agency (team colours are not trusted).
* NMEA: one `NmeaSession` per UDP sender (ip, port) or TCP connection, its device id starts as the transport
  tag `udp:<ip>:<port>` (matching device-map keys `udp:<ip>:<port>`, `udp:<ip>` or `<ip>`; a `$PWFID` sentence
  renames it); the device map gives the unit, else the registered device's only unit. Units are not
  registered from NMEA (no kind is known).
* MAVLink (system id N is drone "UAV<N>") and MISB ST 0601 KLV -> drone registration, telemetry and link state:
  see `app.hub.drone_gateway`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.devices import Device, DeviceRegistry
from app.domain.errors import Refusal
from app.domain.plausibility import Strangers, named_stranger
from app.feeds.cot import parse_cot
from app.feeds.cot_meaning import (
    AGENCY_KIND,
    Broadcast,
    CameraFix,
    CotSenders,
    DroneFix,
    VideoLink,
    interpret,
    unit_id_for,
)
from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.framing import CotStreamSplitter, LineSplitter
from app.feeds.mavlink import MavlinkDecoder, signing_state
from app.feeds.nmea import DeviceMap, NmeaSession
from app.hub.camera_feed import cot_camera
from app.hub.datagrams import DatagramListener
from app.hub.drone_gateway import LINK_TIMEOUT_S, DroneFeeds
from app.hub.intake import UNKNOWN_SOURCE_RATE, Buckets
from app.hub.signing_keys import drone_key
from app.hub.tak_clients import TakClient, TakClients

log = logging.getLogger("watchfloor.gateway")

DEFAULT_ACTOR = Actor("gateway", Role.FEED, "*")
#: Per-sender parser state kept for at most this many senders (oldest dropped first).
MAX_SOURCES = 1024
MAX_TCP_CLIENTS = 256
READ_CHUNK = 65536
#: The gateway's feeds as the Feeds panel names them.
FEED_LABELS = {"cot": "CoT (TAK)", "nmea": "NMEA GPS", "mavlink": "MAVLink drones", "klv": "KLV drone metadata"}
#: The first line a TCP device with a token credential sends: `WATCHFLOOR-TOKEN <token>\n`.
TOKEN_PREFIX = b"WATCHFLOOR-TOKEN "
MAX_TOKEN_LINE = 256
#: Seconds a TLS client has to finish its handshake: a silent or slow one holds a client slot only this long.
TLS_HANDSHAKE_S = 10.0
#: Seconds between checks of an idle stream's device: a revoked device's open stream is closed within this.
REVOCATION_CHECK_S = 1.0


@dataclass(frozen=True, slots=True)
class CotTls:
    """The CoT-over-TLS listener: where it binds, and the server context that demands a client certificate
    signed by the control room's CA (`verify_mode` CERT_REQUIRED)."""

    host: str
    port: int
    context: ssl.SSLContext


def token_sha256(token: str) -> str:
    """What the registry keeps of a device's token: its SHA-256, hex."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def device_actor(device: Device) -> Actor:
    """Who a device's commands are from, in the log: `device:<id>`, a feed of the device's agency."""
    return Actor(f"device:{device.id}", Role.FEED, device.agency)



class _KeepWhatArrived(asyncio.StreamReader):
    """A device's stream that ends in a reset still yields every byte that arrived before it. A device that sends
    and closes without reading what it was served (the picture, `app.hub.tak_clients`) resets the connection, and
    asyncio's reader would otherwise raise at once and drop what it holds unread."""

    def set_exception(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionError):
            self.feed_eof()
        else:
            super().set_exception(exc)


async def _stream_server(client: Any, host: str, port: int) -> asyncio.Server:
    """`asyncio.start_server` with `_KeepWhatArrived` readers."""
    loop = asyncio.get_running_loop()

    def protocol() -> asyncio.StreamReaderProtocol:
        return asyncio.StreamReaderProtocol(_KeepWhatArrived(loop=loop), client, loop=loop)

    return await loop.create_server(protocol, host, port)


class FeedGateway:
    """Feed listeners for a started `Hub`. `await start(...)`, then `await close()`."""

    def __init__(self, hub: Any, actor: Actor = DEFAULT_ACTOR,
                 device_map: DeviceMap | None = None, host: str = "127.0.0.1",
                 link_timeout: float = LINK_TIMEOUT_S, signing_secret: bytes | None = None) -> None:
        self.hub = hub
        self.signing_secret = signing_secret  # MAVLink signing keys are derived from it (app.hub.signing_keys)
        self.actor = actor  # the gateway's own commands (a drone's link lost by silence)
        self.device_map = device_map or DeviceMap()
        self.host = host
        self.ports: dict[str, int] = {}
        self.feeds = hub.feeds
        self.buckets = Buckets(time.monotonic)
        self._listeners: list[DatagramListener] = []
        self._servers: list[asyncio.Server] = []
        self._clients: set[asyncio.Task[None]] = set()
        self._nmea: OrderedDict[Any, NmeaSession] = OrderedDict()
        self._mavlink: OrderedDict[Any, MavlinkDecoder] = OrderedDict()
        self._signing: dict[str, Any] = {}  # device id -> its MAVLink signing state, shared by its decoders
        self._strangers: OrderedDict[str, Strangers] = OrderedDict()  # device id -> ids it was refused for lately
        self._cot_senders = CotSenders()
        self._cot_tls: CotTls | None = None
        self._registry = DeviceRegistry([])
        self._registry_of: dict[str, Device] | None = None
        self.drones = DroneFeeds(self, link_timeout)
        self.tak_clients = TakClients(hub)  # the picture sent back down CoT streams

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, cot_port: int | None = None, cot_udp_port: int | None = None,
                    nmea_port: int | None = None, mavlink_port: int | None = None,
                    klv_port: int | None = None, nmea_tcp_port: int | None = None,
                    cot_tls: CotTls | None = None) -> dict[str, int]:
        """Listen on the given ports (None: that listener is off; 0: any free port); returns the bound ports."""
        if cot_tls is not None:
            self._cot_tls = cot_tls
            server = await _stream_server(self._cot_tls_client, cot_tls.host, cot_tls.port)
            self._servers.append(server)
            self.ports["cot_tls"] = server.sockets[0].getsockname()[1]
            self._listening("cot", f"tls {cot_tls.host}:{self.ports['cot_tls']}")
        for name, port, client in (("cot_tcp", cot_port, self._cot_client),
                                   ("nmea_tcp", nmea_tcp_port, self._nmea_client)):
            if port is None:
                continue
            server = await _stream_server(client, self.host, port)
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
            self._listening(name.removesuffix("_tcp"), f"tcp {self.host}:{self.ports[name]}")
        for name, port, handle in (("cot_udp", cot_udp_port, self._cot_datagram),
                                   ("nmea", nmea_port, self._nmea_datagram),
                                   ("mavlink", mavlink_port, self._mavlink_datagram),
                                   ("klv", klv_port, self._klv_datagram)):
            if port is None:
                continue
            listener = DatagramListener.open(self.host, port, handle)  # read in batches: one wake-up, many
            self._listeners.append(listener)
            self.ports[name] = listener.port
            self._listening(name.removesuffix("_udp"), f"udp {self.host}:{self.ports[name]}")
        if mavlink_port is not None or klv_port is not None:
            self.drones.start()
        log.info("feed gateway listening: %s", self.ports)
        return dict(self.ports)

    async def close(self) -> None:
        """Stop listening, drop TCP clients and wait for pending quarantine writes."""
        for server in self._servers:
            server.close()
        for listener in self._listeners:
            listener.close()
        await self.drones.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        await self.tak_clients.close()
        await self.feeds.flush()

    # -- devices and intake ----------------------------------------------------------------------------

    def registry(self) -> DeviceRegistry:
        """The active devices, rebuilt when one is registered or revoked (so revoking cuts a device off at
        its next input)."""
        devices = self.hub.sequencer.picture.devices
        if devices is not self._registry_of:  # the fold replaces the dict on every change (app.domain.devices)
            self._registry, self._registry_of = DeviceRegistry(devices.values()), devices
        return self._registry

    def _admit(self, feed: str, transport: str, addr: Any, raw: bytes, token: str | None = None,
               certificate: str | None = None) -> Device | None:
        """One input's way in: its device and the device's bucket. None: not to be parsed (throttled, or from no
        registered device: then counted, listed and quarantined as unknown_device, within its address's bucket).
        Over TLS the device is the one holding the `certificate` (SHA-256 hex) the peer presented."""
        ip, port = str(addr[0]), int(addr[1])
        status = self.feeds.feed(feed)
        if transport == "tls":
            device = self.registry().match_certificate(feed, certificate or "", ip, port)
        else:
            device = self.registry().match(feed, transport, ip, port, token)
        if device is None or transport == "udp":  # a known stream counts its events one by one
            status.input(f"{transport}:{ip}:{port}")
        if device is None:
            if self.buckets.take(f"unknown:{ip}", UNKNOWN_SOURCE_RATE):
                self.feeds.unknown_device(feed, f"{transport}:{ip}", raw)
            else:
                status.throttled += 1
            return None
        if not self.buckets.take(f"device:{device.id}", device.rate):
            status.throttled += 1
            return None
        return device

    def _listening(self, feed: str, where: str) -> None:
        self.feeds.feed(feed, FEED_LABELS[feed]).listening.append(where)

    def _submit(self, feed: str, source: str, raw: bytes, name: str, args: Any, device: Device | None = None
                ) -> bool:
        """Submit one command as `device` (else the gateway); a refusal is quarantined. True when applied."""
        actor = device_actor(device) if device is not None else self.actor
        try:
            self.hub.sequencer.submit(actor, name, args, None)
        except Refusal as refusal:
            self.feeds.quarantine(feed, source, refusal.code, f"{name}: {refusal.reason}", raw)
            return False
        self.feeds.feed(feed).accept()
        return True

    def refuse_not_owned(self, feed: str, source: str, raw: bytes, device: Device, what: str, name: str) -> None:
        """Quarantine input about a unit or drone that is not the device's (and count it for the Sybil rule)."""
        self.named_stranger(device, name)
        self.feeds.quarantine(feed, source, "not_owned", f"device {device.id} does not report for {what} {name}",
                              raw)

    def named_stranger(self, device: Device, name: str) -> None:
        """The device named a unit or drone it may not report for, or one that does not exist and it cannot
        create: many such within the Sybil window is a device making up identities, raised once per window as a
        `security.alert` (rule `sybil`) for the supervisors. The input itself is refused as before."""
        seen, finding = named_stranger(self._strangers.get(device.id), name, self.hub.clock())
        self._strangers[device.id] = seen
        self._strangers.move_to_end(device.id)
        if len(self._strangers) > MAX_SOURCES:
            self._strangers.popitem(last=False)
        if finding is None:
            return
        try:
            self.hub.sequencer.submit(device_actor(device), "security.sybil",
                                      c.ReportSybil(finding.evidence["unknown_ids"], finding.evidence["examples"]),
                                      None)
        except Refusal as refusal:  # the log cannot be written: the refusals themselves are still quarantined
            log.warning("Sybil finding on device %s not logged: %s", device.id, refusal.reason)

    def _guard(self, feed: str, source: str, raw: bytes, work: Any, *args: Any) -> None:
        try:
            work(source, raw, *args)
        except FeedError as error:
            self.feeds.quarantine(feed, source, error.code, error.reason, raw)
        except FeedIgnored as ignored:  # valid, but nothing the hub uses: counted, never quarantined
            self.feeds.feed(feed).ignore(ignored.kind)
        except Exception as exc:  # nothing a feed sends may take the listener down
            log.exception("feed %s input from %s failed", feed, source)
            self.feeds.quarantine(feed, source, "internal", f"{type(exc).__name__}: {exc}", raw)

    def _ensure_unit(self, feed: str, source: str, raw: bytes, unit: str, device: Device) -> bool:
        if unit in self.hub.sequencer.picture.units:
            return True
        if self._submit(feed, source, raw, "unit.register",
                        c.RegisterUnit(id=unit, agency=device.agency, kind=AGENCY_KIND.get(device.agency, "patrol")),
                        device):
            return True
        self.named_stranger(device, unit)  # a unit it may not create (over its cap, another agency's callsign)
        return False

    def _position(self, feed: str, source: str, raw: bytes, device: Device, unit: str, lat: float, lon: float,
                  heading: float | None, speed: float | None, t: float | None, gnss: str | None = None) -> None:
        if heading is not None and not (math.isfinite(heading) and 0 <= heading <= 360):
            heading = None
        if speed is not None and not (math.isfinite(speed) and 0 <= speed < 400):
            speed = None
        self._submit(feed, source, raw, "unit.position",
                     c.ReportPosition(unit=unit, lat=lat, lon=lon, heading=heading, speed=speed, t=t, gnss=gnss),
                     device)

    # -- CoT -------------------------------------------------------------------------------------------

    async def _cot_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        source = "tcp:{}:{}".format(*peer[:2])
        if not self._enter("cot", source, writer):
            return
        try:
            chunk = await reader.read(READ_CHUNK)
            token = None
            if chunk.startswith(TOKEN_PREFIX):
                while b"\n" not in chunk and len(chunk) <= MAX_TOKEN_LINE:
                    more = await reader.read(READ_CHUNK)
                    if not more:
                        break
                    chunk += more
                line, newline, chunk = chunk.partition(b"\n")
                if not newline or len(line) > MAX_TOKEN_LINE:
                    self.feeds.quarantine("cot", source, "bad_token", "the token line is unfinished or too long",
                                          line)
                    return
                token = token_sha256(line[len(TOKEN_PREFIX):].decode("utf-8", "replace"))
            elif not chunk:
                return
            device = self._admit("cot", "tcp", peer, chunk, token)
            if device is None:
                return  # throttled or unknown: counted; the stream is closed, not read
            async with self.tak_clients.serving(device, device_actor(device), writer) as client:
                await self._cot_stream(reader, source, device, chunk, client)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # never let one client's stream hurt the others
            log.exception("CoT TCP client %s failed", source)
        finally:
            self._leave(writer)

    async def _cot_tls_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """CoT over TLS: the handshake demands a certificate signed by the control room's CA; the certificate's
        SHA-256 must be an active device's (else the stream is closed, counted as an unknown device)."""
        assert self._cot_tls is not None
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        source = "tls:{}:{}".format(*peer[:2])
        if not self._enter("cot", source, writer):
            return
        try:
            try:
                await writer.start_tls(self._cot_tls.context, ssl_handshake_timeout=TLS_HANDSHAKE_S)
            except OSError as exc:  # no certificate, another CA's, expired, not TLS at all, too slow
                self._tls_refused(peer, getattr(exc, "reason", None) or type(exc).__name__)
                return
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            fingerprint = hashlib.sha256(der).hexdigest()
            device = self._admit("cot", "tls", peer, f"client certificate SHA-256 {fingerprint}".encode(),
                                 certificate=fingerprint)
            if device is None:
                return  # a certificate of our CA that no active device holds (never registered, or revoked)
            async with self.tak_clients.serving(device, device_actor(device), writer) as client:
                await self._cot_stream(reader, source, device, b"", client)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception:  # never let one client's stream hurt the others
            log.exception("CoT TLS client %s failed", source)
        finally:
            self._leave(writer)

    async def _cot_stream(self, reader: asyncio.StreamReader, source: str, device: Device, chunk: bytes,
                          client: TakClient) -> None:
        """Read a device's CoT stream (after its first `chunk`) until it ends or the device is revoked; what it
        says about the connection itself goes to the `client` it is served as."""
        splitter = CotStreamSplitter()
        while True:
            for frame in splitter.feed(chunk):
                if not self._still_active(device):
                    self.feeds.quarantine("cot", source, "revoked", f"device {device.id} was revoked", b"")
                    return
                await self._tcp_token("cot", device)  # control frames too: no way around the device's bucket
                if not isinstance(frame, FeedError) and client.control(frame):
                    continue  # a TAK protocol request: answered, not a report
                self.feeds.feed("cot").input(source)
                if isinstance(frame, FeedError):
                    self.feeds.quarantine("cot", source, frame.code, frame.reason, chunk)
                else:
                    self._guard("cot", source, frame, self._cot_record, device)
            read = await self._read_while_active(reader, device)
            if read is None:
                self.feeds.quarantine("cot", source, "revoked", f"device {device.id} was revoked", b"")
                return
            if not read:
                break
            chunk = read
        leftover = splitter.unfinished()
        if leftover:
            self.feeds.feed("cot").input(source)
            self.feeds.quarantine("cot", source, "truncated",
                                  f"stream ended inside an event ({len(leftover)} bytes)", leftover)

    async def _read_while_active(self, reader: asyncio.StreamReader, device: Device) -> bytes | None:
        """The stream's next bytes (b"": it ended); None as soon as the device is revoked, even while it is
        silent (a revoked phone must not keep its connection)."""
        while True:
            try:
                # A read cancelled by the timeout loses nothing: its bytes stay in the reader's buffer.
                return await asyncio.wait_for(reader.read(READ_CHUNK), REVOCATION_CHECK_S)
            except TimeoutError:
                if not self._still_active(device):
                    return None

    def _enter(self, feed: str, source: str, writer: asyncio.StreamWriter) -> bool:
        """Take one of the MAX_TCP_CLIENTS stream slots for the current task; False (closed) when none is left."""
        if len(self._clients) >= MAX_TCP_CLIENTS:
            self.feeds.quarantine(feed, source, "too_many_clients", f"over {MAX_TCP_CLIENTS} TCP clients", b"")
            writer.close()
            return False
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        return True

    def _leave(self, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.discard(task)
        writer.close()

    def _tls_refused(self, peer: Any, reason: str) -> None:
        """A TLS handshake that failed: counted and quarantined like an unknown sender, within its address's
        bucket (no certificate is no identity)."""
        ip = str(peer[0])
        status = self.feeds.feed("cot")
        status.input("tls:{}:{}".format(*peer[:2]))
        if self.buckets.take(f"unknown:{ip}", UNKNOWN_SOURCE_RATE):
            status.unknown += 1
            self.feeds.quarantine("cot", f"tls:{ip}", "tls_refused", f"TLS handshake refused: {reason}", b"")
        else:
            status.throttled += 1

    def _still_active(self, device: Device) -> bool:
        current = self.hub.sequencer.picture.devices.get(device.id)
        return current is not None and current.active

    async def _tcp_token(self, feed: str, device: Device) -> None:
        """Wait for a token of the device's bucket: a TCP stream is slowed down, not dropped."""
        bucket = self.buckets.bucket(f"device:{device.id}", device.rate)
        while not bucket.take(time.monotonic()):
            self.feeds.feed(feed).throttled += 1
            await asyncio.sleep(bucket.wait_s())

    def _cot_datagram(self, data: bytes, addr: Any) -> None:
        device = self._admit("cot", "udp", addr, data)
        if device is not None:
            self._guard("cot", "udp:{}:{}".format(*addr[:2]), data, self._cot_record, device)

    def _owned_callsign(self, source: str, raw: bytes, device: Device, callsign: str) -> str | None:
        unit = unit_id_for(callsign)
        if device.owns_unit(unit):
            return unit
        self.refuse_not_owned("cot", source, raw, device, "unit", unit)
        return None

    def _cot_record(self, source: str, raw: bytes, device: Device) -> None:
        meaning = interpret(parse_cot(raw), self._cot_senders, self.hub.sequencer.picture.drones)
        if isinstance(meaning, Broadcast):
            if self._owned_callsign(source, raw, device, meaning.speaker) is not None:
                text = f"{meaning.text} (device {device.id})" if meaning.emergency else meaning.text
                self._submit("cot", source, raw, "message.send", c.SendMessage(channel="all", text=text[:2000]),
                             device)
        elif isinstance(meaning, DroneFix):
            self.drones.cot_drone(source, raw, meaning.event, meaning.drone, device)
        elif isinstance(meaning, VideoLink):
            self.drones.cot_video(source, raw, meaning.drone, meaning.video, device)
        elif isinstance(meaning, CameraFix):
            cot_camera(self, source, raw, meaning, device)
        else:
            unit = self._owned_callsign(source, raw, device, meaning.unit)
            if unit is not None and self._ensure_unit("cot", source, raw, unit, device):
                self._position("cot", source, raw, device, unit, meaning.lat, meaning.lon, meaning.heading,
                               meaning.speed, meaning.t)

    # -- NMEA ------------------------------------------------------------------------------------------

    def _nmea_datagram(self, data: bytes, addr: Any) -> None:
        device = self._admit("nmea", "udp", addr, data)
        if device is None:
            return
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
                self._guard("nmea", source, line, self._nmea_line, session, device)

    async def _nmea_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """NMEA over TCP (receivers and gpsd-style relays that serve a stream): one session per connection."""
        peer = writer.get_extra_info("peername")
        source = "tcp:{}:{}".format(*peer[:2]) if peer else "tcp:?"
        if not self._enter("nmea", source, writer):
            return
        session, lines = NmeaSession(source, self.device_map), LineSplitter()
        try:
            chunk = await reader.read(READ_CHUNK)
            device = self._admit("nmea", "tcp", peer or ("0.0.0.0", 0), chunk) if chunk else None
            if device is None:
                return  # throttled or unknown: counted; the stream is closed, not read
            while chunk:
                for line in lines.feed(chunk):
                    if isinstance(line, FeedError):
                        self.feeds.feed("nmea").input(source)
                        self.feeds.quarantine("nmea", source, line.code, line.reason, chunk[:4096])
                    elif self._still_active(device):
                        await self._tcp_token("nmea", device)
                        self.feeds.feed("nmea").input(source)  # a known TCP stream counts its lines one by one
                        self._guard("nmea", source, line, self._nmea_line, session, device)
                    else:
                        self.feeds.quarantine("nmea", source, "revoked", f"device {device.id} was revoked", b"")
                        return
                chunk = await reader.read(READ_CHUNK)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # never let one client's stream hurt the others
            log.exception("NMEA TCP client %s failed", source)
        finally:
            self._leave(writer)

    def _nmea_line(self, source: str, raw: bytes, session: NmeaSession, device: Device) -> None:
        position = session.feed(raw, datetime.fromtimestamp(self.hub.clock(), UTC))
        if position is None:
            return
        unit = position.callsign
        if unit is None and len(device.units) == 1:
            unit = device.units[0]  # an AVL box registered for one unit needs no device map
        if unit is None:
            raise FeedError("unmapped_device", f"device {position.device!r} is not in the device map")
        if not device.owns_unit(unit):
            self.refuse_not_owned("nmea", source, raw, device, "unit", unit)
            return
        if unit not in self.hub.sequencer.picture.units:
            self.named_stranger(device, unit)  # NMEA cannot create units: the fix is refused as unknown_unit
        self._position("nmea", source, raw, device, unit, position.lat, position.lon, position.course_deg,
                       position.speed_mps, position.epoch, position.gnss)

    # -- MAVLink ---------------------------------------------------------------------------------------

    def _mavlink_datagram(self, data: bytes, addr: Any) -> None:
        device = self._admit("mavlink", "udp", addr, data)
        if device is None:
            return
        source = "udp:{}:{}".format(*addr[:2])
        key = (addr, device.id)  # a re-registered address starts afresh, with its new device's credential
        decoder = self._mavlink.get(key)
        if decoder is None:
            signing = None
            if device.credential == "mavlink_signing":
                signing = self._signing_of(device)
                if signing is None:
                    self.feeds.quarantine("mavlink", source, "bad_signature",
                                          f"device {device.id} signs, and the hub has no --mavlink-secret", data)
                    return
            decoder = self._mavlink[key] = MavlinkDecoder(signing)
            if len(self._mavlink) > MAX_SOURCES:
                self._mavlink.popitem(last=False)
        else:
            self._mavlink.move_to_end(key)
        self._guard("mavlink", source, data, self.drones.mavlink, decoder, device)

    def _signing_of(self, device: Device) -> Any:
        """The device's signing state, one per device whatever its decoders (the replay defence's timestamps
        must not be forgotten when a decoder is); None when the hub has no secret to derive its key from."""
        if self.signing_secret is None:
            return None
        state = self._signing.get(device.id)
        if state is None:
            state = self._signing[device.id] = signing_state(drone_key(self.signing_secret, device.id),
                                                             self.hub.clock())
        return state

    # -- KLV -------------------------------------------------------------------------------------------

    def _klv_datagram(self, data: bytes, addr: Any) -> None:
        device = self._admit("klv", "udp", addr, data)
        if device is not None:
            self._guard("klv", "udp:{}:{}".format(*addr[:2]), data, self.drones.klv, device)
