"""A simulated drone camera: live H.264 in MPEG-TS with MISB ST 0601 KLV, over UDP or HTTP.

ffmpeg encodes a moving test pattern (``testsrc2``, short GOP, ``-tune zerolatency``) to MPEG-TS on
its stdout; a pump thread passes the bytes through :class:`app.feeds.klv_ts.KlvInjector`, which
adds one KLV packet per ``klv_interval`` of video (stamped with the frame's PTS) describing a
drone orbiting ``centre`` with its camera on the centre, and sends the result:

- ``udp``: 7 TS packets (1316 bytes) per datagram to ``host:port``;
- ``http``: a small server on ``host:port`` that streams to every client that GETs any path, so
  a player can reconnect at will (ffmpeg's own ``-listen 1`` serves one client and exits).

Run standalone (the integration tests kill this process to simulate a crash)::

    python -m app.sim.drone_video --transport http --port 8554
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.footprint import camera_footprint, offset_latlon
from app.feeds.klv import encode_uas_ls
from app.feeds.klv_ts import TS_PACKET, KlvInjector

UDP_DATAGRAM = 7 * TS_PACKET
PTS_HZ = 90_000


@dataclass
class OrbitTrack:
    """A drone circling ``centre`` at ``radius_m`` and ``altitude_agl`` m, camera on the centre."""

    centre: tuple[float, float] = (60.1699, 24.9384)
    radius_m: float = 300.0
    altitude_agl: float = 120.0
    ground_elevation: float = 10.0
    speed_mps: float = 15.0
    hfov: float = 60.0
    vfov: float = 34.0
    callsign: str = "DRONE-1"

    def klv_fields(self, t: float, timestamp_us: int) -> dict[str, Any]:
        """ST 0601 fields (names as in :class:`app.feeds.klv.KlvPacket`) at ``t`` seconds."""
        angle = (t * self.speed_mps / self.radius_m) % (2 * math.pi)  # clockwise from north
        lat, lon = offset_latlon(*self.centre, self.radius_m * math.sin(angle),
                                 self.radius_m * math.cos(angle))
        heading = (math.degrees(angle) + 90.0) % 360.0  # flying clockwise, tangent to the circle
        look = (math.degrees(angle) + 180.0) % 360.0  # towards the centre
        relative_azimuth = (look - heading) % 360.0
        depression = math.degrees(math.atan2(self.altitude_agl, self.radius_m))
        footprint = camera_footprint(lat, lon, self.altitude_agl, heading, -depression, self.hfov,
                                     self.vfov, yaw=relative_azimuth)
        fields: dict[str, Any] = {
            "timestamp_us": timestamp_us,
            "mission_id": "WATCHFLOOR-SIM",
            "platform_tail_number": self.callsign,
            "platform_designation": "Quadcopter",
            "platform_heading": heading,
            "platform_pitch": 0.0,
            "platform_roll": 0.0,
            "sensor_latitude": lat,
            "sensor_longitude": lon,
            "sensor_altitude": self.altitude_agl + self.ground_elevation,
            "sensor_hfov": self.hfov,
            "sensor_vfov": self.vfov,
            "sensor_relative_azimuth": relative_azimuth,
            "sensor_relative_elevation": -depression,
            "sensor_relative_roll": 0.0,
            "slant_range": math.hypot(self.altitude_agl, self.radius_m),
            "frame_center_elevation": self.ground_elevation,
            "ls_version": 17,
        }
        if footprint.center is not None:
            fields["frame_center_latitude"], fields["frame_center_longitude"] = footprint.center
        for i, (corner_lat, corner_lon) in enumerate(footprint.corners, start=1):
            fields[f"corner_latitude_{i}"] = corner_lat
            fields[f"corner_longitude_{i}"] = corner_lon
        return fields


def ffmpeg_command(size: str = "640x360", rate: int = 30, gop: int = 30, ffmpeg: str = "ffmpeg") -> list[str]:
    """ffmpeg writing a paced live H.264 MPEG-TS test pattern to stdout."""
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
        "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-g", str(gop), "-keyint_min", str(gop), "-pix_fmt", "yuv420p", "-an",
        "-f", "mpegts", "-muxdelay", "0", "-flush_packets", "1", "pipe:1",
    ]


class _HttpFanout:
    """Accepts HTTP clients on a listening socket and streams the same bytes to each."""

    def __init__(self, host: str, port: int) -> None:
        self._server = socket.create_server((host, port), reuse_port=False)
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="drone-video-http", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._greet, args=(client,), daemon=True).start()

    def _greet(self, client: socket.socket) -> None:
        client.settimeout(5.0)
        request = b""
        try:
            while b"\r\n\r\n" not in request and len(request) < 8192:
                chunk = client.recv(1024)
                if not chunk:
                    raise OSError("client left")
                request += chunk
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-cache\r\n"
                           b"Connection: close\r\n\r\n")
        except OSError:
            client.close()
            return
        with self._lock:
            self._clients.append(client)

    def send(self, data: bytes) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.sendall(data)
            except OSError:
                client.close()
                with self._lock:
                    self._clients.remove(client)

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
                client.close()
            self._clients.clear()


class DroneVideoSource:
    """A live drone video stream; ``start()``, ``stop()``, ``url`` (what a player opens).

    ``port=0`` picks a free port. ``klv=False`` sends the bare H.264 stream. ``klv_packets``
    counts the KLV packets sent so far.
    """

    def __init__(
        self,
        transport: str = "udp",
        port: int = 0,
        host: str = "127.0.0.1",
        klv: bool = True,
        track: OrbitTrack | None = None,
        size: str = "640x360",
        rate: int = 30,
        gop: int = 30,
        klv_interval: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if transport not in ("udp", "http"):
            raise ValueError(f"transport is udp or http, not {transport!r}")
        self.transport = transport
        self.host = host
        self.port = port or _free_port(host, socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM)
        self.klv = klv
        self.track = track or OrbitTrack()
        self._command = ffmpeg_command(size, rate, gop)
        self._klv_step = round(klv_interval * PTS_HZ)
        self._clock = clock
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._http: _HttpFanout | None = None
        self._injector: KlvInjector | None = None
        self._next_klv_pts = 0
        self._first_pts: int | None = None
        #: Wall-clock time of the first video frame: the track's time zero (a MAVLink twin flies on it too).
        self.first_frame_at: float | None = None

    @property
    def url(self) -> str:
        """The URL a player opens to receive this stream."""
        if self.transport == "udp":
            return f"udp://{self.host}:{self.port}"
        return f"http://{self.host}:{self.port}/drone.ts"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def klv_packets(self) -> int:
        return self._injector.klv_packets if self._injector else 0

    def start(self) -> None:
        """Start ffmpeg and the pump (and the HTTP server); returns at once."""
        if self.running:
            return
        if self.transport == "http":
            self._http = _HttpFanout(self.host, self.port)
        self._injector = KlvInjector(self.klv_for_frame) if self.klv else None
        self._next_klv_pts = 0
        self._first_pts = None
        self.first_frame_at = None
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._pump = threading.Thread(target=self._run_pump, name="drone-video-pump", daemon=True)
        self._pump.start()

    def stop(self) -> None:
        """Stop ffmpeg, the pump and the server; the port can be reused by a new start()."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            if process.stdout:
                process.stdout.close()
        if self._pump is not None:
            self._pump.join(timeout=5)
            self._pump = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def klv_for_frame(self, pts: int) -> bytes | None:
        """The KLV packet for the video frame with this PTS, or None between KLV intervals."""
        if self._first_pts is None:
            self._first_pts = pts
            self.first_frame_at = self._clock()
        if pts < self._next_klv_pts:
            return None
        self._next_klv_pts = pts + self._klv_step
        elapsed = (pts - self._first_pts) / PTS_HZ
        return encode_uas_ls(self.track.klv_fields(elapsed, round(self._clock() * 1e6)))

    def _run_pump(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        fd = process.stdout.fileno()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if self.transport == "udp" else None
        pending = bytearray()
        try:
            while True:
                try:
                    chunk = os.read(fd, 65_536)
                except OSError:
                    break
                if not chunk:
                    break
                pending += self._injector.feed(chunk) if self._injector else chunk
                self._send(pending, udp)
        finally:
            if udp is not None:
                udp.close()

    def _send(self, pending: bytearray, udp: socket.socket | None) -> None:
        if udp is not None:
            while len(pending) >= UDP_DATAGRAM:
                with contextlib.suppress(OSError):  # nobody listening yet: UDP drops, so do we
                    udp.sendto(bytes(pending[:UDP_DATAGRAM]), (self.host, self.port))
                del pending[:UDP_DATAGRAM]
            return
        whole = len(pending) - len(pending) % TS_PACKET
        if whole and self._http is not None:
            self._http.send(bytes(pending[:whole]))
        del pending[:whole]


def _free_port(host: str, kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    """Serve one simulated drone stream until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("udp", "http"), default="udp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-klv", action="store_true")
    parser.add_argument("--callsign", default="DRONE-1")
    args = parser.parse_args(argv)
    source = DroneVideoSource(args.transport, args.port, args.host, klv=not args.no_klv,
                              track=OrbitTrack(callsign=args.callsign))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    source.start()
    print(source.url, flush=True)
    try:
        while not stop.wait(0.5) and source.running:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
