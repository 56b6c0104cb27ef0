"""KLV from the drones' own video: the hub reads the ST 0601 metadata inside a drone's MPEG-TS stream.

Real drones carry their metadata (MISB ST 0601, in MPEG-TS as ST 1402 describes) inside the video they publish,
not on a separate UDP port. So for every drone whose video link (`drone.video`) is an MPEG-TS stream the hub can
open, one task reads the stream, demuxes the KLV (`app.feeds.klv_ts.KlvTsDemuxer`), and submits the sensor
position, angles, field of view and the four corner points as the drone's `drone.telemetry`: its footprint.

Who the telemetry is from (the trust rule)
    A drone's video link can only be set by someone the rules let speak for that drone: the device that owns
    it (or another feed of its agency), its operator, a supervisor (`app.domain.drone_rules`; dispatchers may
    not). The stream that link names is therefore that drone's, and the KLV inside it describes that drone and
    no other: the platform names inside the KLV (tail number, mission id) are not used to pick a drone, so a
    stream can never move another drone, however it labels itself. The telemetry is submitted as
    ``video:<drone>``, a feed actor of the drone's agency, so the log says where it came from; the rules check
    it like any other telemetry (position on Earth, ranges, newer than the last fix).

Bounds
    Only http://, https:// and udp:// links are read (never file:// or anything else), and only to public
    addresses unless the operator names the network with ``--klv-video-allow`` (checked after DNS on the address
    actually connected to, as the CAP fetch does: `app.hub.cap_fetch.FetchLimits`), so a video link cannot
    send the hub to its own network. HTTP redirects are not followed. Each reader takes at most
    `MAX_BYTES_PER_S` (beyond it TCP pushes back; UDP datagrams are dropped and counted), keeps at most one
    read chunk and one PES in memory, submits at most one fix per `TELEMETRY_INTERVAL_S`, and reconnects with
    backoff (`BACKOFF_MIN_S` doubling to `BACKOFF_MAX_S`) when the stream fails or falls silent for
    `SILENCE_S`. A reader stops when its drone's video link changes (the new link gets a new reader) or the
    drone is retired. Bad TS or KLV inside a stream is quarantined once per read chunk (its first error and
    how many there were) under the ``klv_video`` feed, and the reader goes on with the next bytes.

A UDP link ``udp://HOST:PORT`` is read by listening on HOST:PORT: a multicast group is joined (every player on
the network can receive it too); a unicast HOST must be one of the hub machine's own addresses, allowed with
``--klv-video-allow``, and nobody else on that machine may be listening on the port.

``watchfloor hub --no-klv-video`` turns the readers off. Health shows in the feeds report as ``klv_video``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.domain import events as ev
from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.errors import FeedError
from app.feeds.klv_ts import KlvSample, KlvTsDemuxer
from app.hub.cap_fetch import FetchLimits, FetchRefused, Network
from app.hub.drone_gateway import DatagramErrors, klv_telemetry
from app.hub.watcher import HubWatcher

log = logging.getLogger("watchfloor.klv_video")

FEED = "klv_video"
FEED_LABEL = "KLV in drone video"
#: Bytes read at a time (about 350 TS packets).
READ_CHUNK = 64 * 1024
#: The most one stream may deliver per second: 32 Mbit/s, well above a drone's video.
MAX_BYTES_PER_S = 4 * 1024 * 1024
#: The longest status line and headers an HTTP video server may send.
MAX_HEADER_BYTES = 16 * 1024
CONNECT_TIMEOUT_S = 10.0
#: A stream that sends nothing for this long is dropped and opened again.
SILENCE_S = 15.0
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0
#: At most one fix per this many seconds per drone (encoders send KLV with every frame, up to 30 a second).
TELEMETRY_INTERVAL_S = 0.2
SCHEMES = ("http", "https", "udp")


class StreamFailed(OSError):
    """The video server answered, but not with a stream we can read (an HTTP error, a redirect)."""


@dataclass(frozen=True, slots=True)
class VideoSource:
    """Where a drone's MPEG-TS stream is read from."""

    scheme: str
    host: str
    port: int
    path: str


def video_source(url: str) -> VideoSource | None:
    """The stream a video link names, or None when it is nothing this reader opens (rtsp://, file://, ...)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        return None
    if port is None:
        if scheme == "udp":
            return None
        port = 443 if scheme == "https" else 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return VideoSource(scheme, parts.hostname, port, path)


def video_actor(drone: str, agency: str) -> Actor:
    """Who telemetry read from a drone's own video is from, in the log."""
    return Actor(f"video:{drone}", Role.FEED, agency)


class KlvVideoReaders:
    """One reader task per drone with a readable video link. `await start()`, then `await close()`."""

    def __init__(self, hub: Any, allow: tuple[Network, ...] = ()) -> None:
        self.hub = hub
        self.limits = FetchLimits(allow=allow, allow_option="--klv-video-allow")
        self.health = hub.feeds.feed(FEED, FEED_LABEL)
        self.readers: dict[str, tuple[str, asyncio.Task[None]]] = {}  # drone -> (url, task)
        self._watcher = HubWatcher(hub, self._started, self._events)

    async def start(self) -> None:
        """Follow the drones' video links."""
        await self._watcher.start()

    async def close(self) -> None:
        """Stop every reader."""
        await self._watcher.close()
        tasks = [task for _, task in self.readers.values()]
        self.readers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _started(self, picture: Picture, _extra: Any) -> None:
        for gone in [d for d in self.readers if d not in picture.drones]:
            self._stop(gone)
        for drone in picture.drones.values():
            self._follow(drone.id, drone.video_url)

    def _events(self, events: list[Event]) -> None:
        for event in events:
            if event.kind == ev.DRONE_VIDEO:
                self._follow(event.data["drone"], event.data["url"])
            elif event.kind == ev.DRONE_RETIRED:
                self._stop(event.data["drone"])

    def _follow(self, drone: str, url: str) -> None:
        current = self.readers.get(drone)
        if current is not None and current[0] == url:
            return
        self._stop(drone)
        source = video_source(url)
        if source is None:
            return
        reader = _Reader(self, drone, url, source)
        self.readers[drone] = (url, asyncio.get_running_loop().create_task(reader.run()))
        self.health.listening = sorted(f"{d} {u}" for d, (u, _) in self.readers.items())

    def _stop(self, drone: str) -> None:
        current = self.readers.pop(drone, None)
        if current is not None:
            current[1].cancel()
            self.health.listening = sorted(f"{d} {u}" for d, (u, _) in self.readers.items())


class _Reader:
    """One drone's stream: open, read, demux, submit; reconnect with backoff."""

    def __init__(self, owner: KlvVideoReaders, drone: str, url: str, source: VideoSource) -> None:
        self.owner = owner
        self.hub = owner.hub
        self.health = owner.health
        self.drone = drone
        self.url = url
        self.source = source
        self.demuxer = KlvTsDemuxer()
        self.bytes = 0
        self._budget = (0, 0)  # (loop second, bytes taken in it)
        self._last_fix = float("-inf")

    async def run(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            before = self.bytes
            try:
                if self.source.scheme == "udp":
                    await self._read_udp()
                else:
                    await self._read_http()
                problem = "the stream ended"
            except FetchRefused as refused:
                problem = refused.reason
                backoff = BACKOFF_MAX_S  # the address will not change by itself soon
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ssl.SSLError) as exc:
                problem = str(exc) or type(exc).__name__
            except Exception as exc:  # a bug must not end this drone's reader for good
                log.exception("KLV video reader for %s failed", self.drone)
                problem = f"{type(exc).__name__}: {exc}"
            if self.bytes > before:
                backoff = min(backoff, BACKOFF_MIN_S)
            self.health.unreachable(f"{self.drone} {self.url}: {problem}"[:300])
            log.info("KLV video %s (%s): %s; again in %.0f s", self.drone, self.url, problem, backoff)
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)
            self.demuxer = KlvTsDemuxer()  # a new connection starts a new transport stream

    # -- transports ------------------------------------------------------------------------------------

    async def _read_http(self) -> None:
        s = self.source
        loop = asyncio.get_running_loop()
        infos = await asyncio.wait_for(loop.getaddrinfo(s.host, s.port, type=socket.SOCK_STREAM), CONNECT_TIMEOUT_S)
        address = str(infos[0][4][0])
        self.owner.limits.check(s.host, s.port, address)  # on the address we connect to, after DNS
        context = ssl.create_default_context() if s.scheme == "https" else None
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            address, s.port, ssl=context, server_hostname=s.host if context else None, limit=READ_CHUNK),
            CONNECT_TIMEOUT_S)
        try:
            host = s.host if s.port in (80, 443) else f"{s.host}:{s.port}"
            writer.write(f"GET {s.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: watchfloor-hub\r\n"
                         "Accept: */*\r\nConnection: close\r\n\r\n".encode("latin-1"))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT_S)
            if len(head) > MAX_HEADER_BYTES:
                raise StreamFailed(f"HTTP headers longer than {MAX_HEADER_BYTES} bytes")
            status, headers = _http_head(head)
            if status != 200:
                raise StreamFailed(f"HTTP {status} (redirects are not followed)")
            if "chunked" in headers.get("transfer-encoding", "").lower():
                await self._read_chunked(reader)
            else:
                while data := await asyncio.wait_for(reader.read(READ_CHUNK), SILENCE_S):
                    await self._take(data)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _read_chunked(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await asyncio.wait_for(reader.readuntil(b"\r\n"), SILENCE_S)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise StreamFailed("a bad HTTP chunk size") from None
            if size == 0:
                return
            while size:
                data = await asyncio.wait_for(reader.read(min(size, READ_CHUNK)), SILENCE_S)
                if not data:
                    return
                size -= len(data)
                await self._take(data)
            await asyncio.wait_for(reader.readexactly(2), SILENCE_S)

    async def _read_udp(self) -> None:
        s = self.source
        address = str(ipaddress.ip_address(s.host))  # a name is no address to listen on: ValueError
        multicast = ipaddress.ip_address(address).is_multicast
        if not multicast:
            self.owner.limits.check(s.host, s.port, address)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if multicast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("", s.port))
                group = socket.inet_aton(address) + socket.inet_aton("0.0.0.0")
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
            else:
                sock.bind((address, s.port))
            transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(queue, self.health), sock=sock)
        except BaseException:
            sock.close()
            raise
        try:
            while True:
                await self._take(await asyncio.wait_for(queue.get(), SILENCE_S))
        finally:
            transport.close()

    # -- the stream's bytes ----------------------------------------------------------------------------

    async def _take(self, data: bytes) -> None:
        """Rate-limit, demux and submit one chunk."""
        loop = asyncio.get_running_loop()
        second, taken = self._budget
        now = int(loop.time())
        if now != second:
            second, taken = now, 0
        if taken >= MAX_BYTES_PER_S:  # wait for the next second: TCP pushes back on the sender meanwhile
            await asyncio.sleep(second + 1 - loop.time())
            second, taken = int(loop.time()), 0
        self._budget = (second, taken + len(data))
        self.bytes += len(data)
        errors = DatagramErrors()
        for item in self.demuxer.feed(data):
            if isinstance(item, FeedError):
                errors.add(item.code, item.reason)
            else:
                self._sample(item, errors)
        self._quarantine(errors, data)

    def _quarantine(self, errors: DatagramErrors, data: bytes) -> None:
        if errors.first is not None:
            code, reason = errors.first
            more = f" (and {errors.count - 1} more in this chunk)" if errors.count > 1 else ""
            self.hub.feeds.quarantine(FEED, f"{self.drone} {self.url}"[:200], code, reason + more, data)

    def _sample(self, sample: KlvSample, errors: DatagramErrors) -> None:
        self.health.input(self.drone)
        drone = self.hub.sequencer.picture.drones.get(self.drone)
        if drone is None:
            self.health.ignore("unknown_drone")
            return
        now = asyncio.get_running_loop().time()
        if now - self._last_fix < TELEMETRY_INTERVAL_S:
            self.health.ignore("interval")
            return
        try:
            args = klv_telemetry(self.drone, sample.packet)
        except FeedError as error:
            errors.add(error.code, error.reason)
            return
        try:
            self.hub.sequencer.submit(video_actor(self.drone, drone.agency), "drone.telemetry", args, None)
        except Refusal as refusal:
            if refusal.code == "stale_position":  # another source (MAVLink) had a newer fix: not bad input
                self.health.ignore("older_fix")
            else:
                errors.add(refusal.code, f"drone.telemetry: {refusal.reason}")
            return
        self._last_fix = now
        self.health.accept()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes], health: Any) -> None:
        self.queue = queue
        self.health = health

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:  # over the read rate: dropped, as the network would
            self.health.throttled += 1


def _http_head(head: bytes) -> tuple[int, dict[str, str]]:
    """(status, headers with lower-case names) of an HTTP/1.x response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise StreamFailed(f"not an HTTP response: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers
