"""KLV read from inside a drone's own MPEG-TS video by a real hub with no KLV UDP port: a live ffmpeg stream served
over HTTP or sent over UDP puts the drone's footprint corners on the consoles; bad TS and KLV inside a stream are
quarantined and the reader goes on; a video link on an internal address is not read unless its network is allowed."""

from __future__ import annotations

import asyncio
import math
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.client.connection import HubClient
from app.domain.footprint import metres_per_degree
from app.feeds.klv import encode_uas_ls
from app.feeds.klv_ts import KlvInjector
from app.sim.drone_video import DroneVideoSource, OrbitTrack, ffmpeg_command
from app.store.log import LogReader
from app.store.users import UserStore
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.waiting import signed_in, until

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

CENTRE = (47.1410, 9.5209)


def start_hub(tmp_path: Path, *extra: str) -> HubProcess:
    db = tmp_path / "hub.db"
    make_accounts(db)
    users = UserStore(db)
    users.add("pilot1", PASSWORD, "drone_operator", "police")
    users.close()
    process = HubProcess(db, free_port(), list(extra))  # no --klv-port, no feed ports at all
    process.start()
    return process


@pytest.fixture
def allowing_hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = start_hub(tmp_path, "--klv-video-allow", "127.0.0.1")
    yield process
    process.stop()
    process.kill()


async def fly(client: HubClient, drone: str, url: str) -> None:
    """The pilot registers the drone and publishes its video link, as a pilot's console does."""
    await client.call("drone.register", {"id": drone, "agency": "police"})
    await client.call("drone.video", {"drone": drone, "url": url})


async def klv_video_feed(client: HubClient) -> dict[str, Any]:
    return next(f for f in (await client.query("feeds"))["feeds"] if f["name"] == "klv_video")


def expected_corners(track: OrbitTrack, lat: float, lon: float) -> list[tuple[float, float]]:
    """The corners the simulator's KLV gives when its drone is at (lat, lon) on its orbit."""
    per_lat, per_lon = metres_per_degree(track.centre[0])
    east, north = (lon - track.centre[1]) * per_lon, (lat - track.centre[0]) * per_lat
    angle = math.atan2(east, north) % (2 * math.pi)
    fields = track.klv_fields(angle * track.radius_m / track.speed_mps, 0)
    return [(fields[f"corner_latitude_{i}"], fields[f"corner_longitude_{i}"]) for i in range(1, 5)]


@pytest.mark.parametrize("transport", ["http", "udp"])
def test_footprint_comes_from_the_klv_inside_the_drones_video(allowing_hub: HubProcess, transport: str) -> None:
    # The KLV calls the platform something else: the stream speaks for the drone whose video it is, never for
    # the platform it names.
    track = OrbitTrack(centre=CENTRE, callsign="OTHER-9")
    source = DroneVideoSource(transport, track=track, size="320x180")
    source.start()

    async def scenario() -> None:
        async with signed_in(allowing_hub.url, "pilot1", "police1", "super1") as (pilot, police, boss):
            await fly(pilot, "UAV7", source.url)

            def klv_footprint() -> bool:
                drone = police.picture.drones.get("UAV7")
                return drone is not None and drone.footprint_given and drone.footprint is not None

            await police.wait_for(klv_footprint, 60)
            drone = police.picture.drones["UAV7"]
            assert drone.lat is not None and drone.lon is not None and drone.footprint is not None
            for (lat, lon), (want_lat, want_lon) in zip(drone.footprint, expected_corners(track, drone.lat, drone.lon),
                                                        strict=True):
                assert lat == pytest.approx(want_lat, abs=2e-4) and lon == pytest.approx(want_lon, abs=2e-4)
            assert drone.hfov == pytest.approx(60.0, abs=0.01) and drone.vfov == pytest.approx(34.0, abs=0.01)
            assert drone.agl_m == pytest.approx(120.0, abs=1.0)
            assert set(police.picture.drones) == {"UAV7"}  # no "OTHER-9"
            status = await klv_video_feed(boss)
            assert status["accepted"] >= 1 and status["quarantined"] == 0
            assert any(source.url in where for where in status["listening"])

            # A new link stops the reader of the old one.
            await pilot.call("drone.video", {"drone": "UAV7", "url": "rtsp://127.0.0.1:8554/uav7"})
            await until(lambda: not source_read(source), 30)

    try:
        asyncio.run(scenario())
    finally:
        source.stop()
    allowing_hub.stop()
    reader = LogReader(allowing_hub.db)
    try:
        actors = {e.actor for e in reader.iter_events() if e.kind == "drone.telemetry"}
    finally:
        reader.close()
    assert actors == {"video:UAV7"}


def source_read(source: DroneVideoSource) -> bool:
    """Whether someone reads the stream: an HTTP client connected, or the UDP port bound."""
    if source.transport == "http":
        return source._http is not None and bool(source._http._clients)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((source.host, source.port))
        except OSError:
            return True
    return False


class LoopingServer:
    """Serves one MPEG-TS loop over HTTP again and again, one loop at a time, to each client that GETs; `chunked`:
    in HTTP/1.1 chunks, as servers that do not know the length do; `status`: answer with that status instead."""

    def __init__(self, loop_bytes: bytes, chunked: bool = False, status: str = "200 OK") -> None:
        self.loop_bytes = loop_bytes
        self.chunked = chunked
        self.status = status
        self.loops_sent = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/live.ts"
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(1024)
                if not chunk:
                    return
                request += chunk
            try:
                if not self.status.startswith("200"):
                    client.sendall(f"HTTP/1.1 {self.status}\r\nLocation: http://169.254.169.254/\r\n"
                                   "Content-Length: 0\r\n\r\n".encode())
                    return
                encoding = b"Transfer-Encoding: chunked\r\n" if self.chunked else b""
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n" + encoding + b"\r\n")
                body = (f"{len(self.loop_bytes):x}\r\n".encode() + self.loop_bytes + b"\r\n" if self.chunked
                        else self.loop_bytes)
                while not self._stop.wait(0.2):  # a live source's pace, not a wait for the system under test
                    client.sendall(body)
                    self.loops_sent += 1
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._server.close()


def corrupted_loop(track: OrbitTrack, corrupt: bool = True) -> tuple[bytes, int]:
    """Two seconds of tiny H.264 in MPEG-TS whose KLV alternates good and corrupted packets, with junk between
    TS packets (unless not `corrupt`); returns the bytes and how many bad KLV packets they carry."""
    video = subprocess.run([*ffmpeg_command(size="160x90")[:-1], "-t", "2", "pipe:1"], capture_output=True,
                           check=True, timeout=60).stdout
    frames = 0
    bad = 0

    def klv_for_frame(pts: int) -> bytes | None:
        nonlocal frames, bad
        frames += 1
        if frames % 3:
            return None
        packet = encode_uas_ls(track.klv_fields(frames / 30, 0))
        if corrupt and frames % 6 == 0:  # every other KLV packet has a byte flipped: its checksum fails
            bad += 1
            return packet[:40] + bytes([packet[40] ^ 0xFF]) + packet[41:]
        return packet

    muxed = KlvInjector(klv_for_frame).feed(video)
    if not corrupt:
        return muxed, 0
    middle = len(muxed) // 188 // 2 * 188
    return muxed[:middle] + b"\x00junk, not a TS packet\x00" + muxed[middle:], bad


def test_a_chunked_http_stream_is_read_whole(allowing_hub: HubProcess) -> None:
    server = LoopingServer(corrupted_loop(OrbitTrack(centre=CENTRE), corrupt=False)[0], chunked=True)

    async def scenario() -> None:
        async with signed_in(allowing_hub.url, "pilot1", "police1", "super1") as (pilot, police, boss):
            await fly(pilot, "UAV2", server.url)
            await police.wait_for(lambda: police.picture.drones["UAV2"].footprint_given, 60)
            loops = server.loops_sent

            async def several_loops() -> bool:
                return server.loops_sent > loops + 3

            await wait_async(several_loops)
            status = await klv_video_feed(boss)
            assert status["quarantined"] == 0 and status["accepted"] >= 2, status  # no chunk framing in the TS

    try:
        asyncio.run(scenario())
    finally:
        server.close()


def test_bad_ts_and_klv_in_the_stream_are_quarantined_and_the_reader_goes_on(allowing_hub: HubProcess) -> None:
    track = OrbitTrack(centre=CENTRE)
    loop_bytes, bad_per_loop = corrupted_loop(track)
    assert bad_per_loop >= 5
    server = LoopingServer(loop_bytes)
    redirect = LoopingServer(b"", status="302 Found")

    async def scenario() -> None:
        async with signed_in(allowing_hub.url, "pilot1", "police1", "super1") as (pilot, police, boss):
            await fly(pilot, "UAV3", server.url)
            await police.wait_for(lambda: police.picture.drones["UAV3"].footprint_given, 60)
            first: dict[str, Any] = {}

            async def quarantined() -> bool:
                first.update(await klv_video_feed(boss))
                return first["quarantined"] >= 1

            await wait_async(quarantined)
            codes = {item["code"] for item in first["recent"]}
            assert codes <= {"bad_checksum", "bad_sync", "bad_key", "bad_length"} and codes, codes
            assert first["last_error"]["source"].startswith("UAV3 ")
            # The reader keeps going after the bad bytes: more loops, more fixes.
            seen = first["accepted"]
            loops = server.loops_sent

            async def more() -> bool:
                status = await klv_video_feed(boss)
                first.update(status)
                return status["accepted"] > seen + 3 and server.loops_sent > loops + 2

            await wait_async(more)
            # Quarantined once per read chunk (a loop is one or two), not once per bad packet (more than 5 a loop).
            assert first["quarantined"] <= 3 * server.loops_sent

            # A video server that redirects (here towards cloud metadata) is not followed.
            await fly(pilot, "UAV4", redirect.url)

            async def redirected() -> bool:
                first.update(await klv_video_feed(boss))
                return "UAV4" in ((first["problem"] or {}).get("reason") or "")

            await wait_async(redirected)
            assert "HTTP 302 (redirects are not followed)" in first["problem"]["reason"]
            assert police.picture.drones["UAV4"].lat is None

    try:
        asyncio.run(scenario())
    finally:
        server.close()
        redirect.close()


async def wait_async(condition: Any, timeout: float = 60.0) -> None:
    """Poll an async condition (the hub's feed counters, which no client update signals)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.1)


def test_a_video_link_on_an_internal_address_is_not_read_unless_allowed(tmp_path: Path) -> None:
    hub = start_hub(tmp_path)
    source = DroneVideoSource("http", track=OrbitTrack(centre=CENTRE), size="160x90")
    source.start()

    async def scenario() -> None:
        async with signed_in(hub.url, "pilot1", "super1") as (pilot, boss):
            await fly(pilot, "UAV5", source.url)
            status: dict[str, Any] = {}

            async def refused() -> bool:
                status.update(await klv_video_feed(boss))
                return status["health"] == "unreachable"

            await wait_async(refused)
            assert "--klv-video-allow" in status["problem"]["reason"]
            assert status["accepted"] == 0 and not source_read(source)
            assert pilot.picture.drones["UAV5"].footprint is None

    try:
        asyncio.run(scenario())
    finally:
        source.stop()
        hub.stop()
        hub.kill()
