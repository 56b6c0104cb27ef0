"""Cameras through a real hub process: a registered TAK device's camera points (a real ATAK camera, a bare `b-i-v`)
become cameras on every console with their view, video link and stale time; a resent point is ignored, another
device naming the same camera is refused, and a camera gateway's feed account reports and retires its own."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.client.connection import CommandRefused
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.waiting import everywhere, signed_in, until

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "cot"


class Radio:
    """A UDP socket of its own, so a device can be registered by its exact source address."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.source = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def send(self, port: int, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))


@pytest.fixture
def cot_hub(tmp_path: Path) -> Iterator[HubProcess]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = HubProcess(db, free_port(), ["--cot-port", str(cot_port := free_port())])
    process.cot_port = cot_port  # type: ignore[attr-defined]
    process.start()
    yield process
    process.stop()
    process.kill()


def stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"


def real_camera_now(name: str, when: float, stale_s: float) -> bytes:
    """A captured ATAK camera point, sent as it would be today (its own 2023 time is beyond what the hub takes)."""
    data = (REAL / name).read_bytes()
    data = re.sub(rb"time='[^']*'", f"time='{stamp(when)}'".encode(), data)
    data = re.sub(rb"start='[^']*'", f"start='{stamp(when)}'".encode(), data)
    return re.sub(rb"stale='[^']*'", f"stale='{stamp(when + stale_s)}'".encode(), data)


def biv(uid: str, when: float, url: str) -> bytes:
    return (f'<event version="2.0" uid="{uid}" type="b-i-v" how="m-g" time="{stamp(when)}" start="{stamp(when)}" '
            f'stale="{stamp(when + 600)}"><point lat="47.1410" lon="9.5209" hae="0" ce="10" le="10"/><detail>'
            f'<__video url="{url}"/><sensor azimuth="135" fov="70" range="150"/></detail></event>').encode()


def test_tak_camera_points_become_cameras_owned_by_their_device(cot_hub: HubProcess) -> None:
    port: int = cot_hub.cot_port  # type: ignore[attr-defined]
    tak, other = Radio(), Radio()

    async def scenario() -> None:
        async with signed_in(cot_hub.url, "super1", "fire1", "police1") as (boss, fire, police):
            await register_device(boss, "POLICE-TAK", "police", ["cot"], "udp", tak.source, units=["P1"])
            await register_device(boss, "OTHER-TAK", "police", ["cot"], "udp", other.source, units=["P2"])
            now = time.time()
            tak.send(port, real_camera_now("camera-i25.xml", now, 3600))
            tak.send(port, biv("CAM-TOWNHALL", now, "rtsp://203.0.113.5:8554/townhall"))
            consoles = [fire, police]
            await everywhere(consoles, lambda c: {"I-25-8-mi-S-CO-4", "CAM-TOWNHALL"} <= set(c.picture.cameras))
            for console in consoles:
                i25 = console.picture.cameras["I-25-8-mi-S-CO-4"]
                assert (i25.agency, i25.kind, i25.owner) == ("police", "fixed", "device:POLICE-TAK")
                assert (i25.lat, i25.lon) == (38.2089117, -104.6282182)
                assert (i25.azimuth, i25.hfov, i25.range_m) == (270.0, 45.0, 100.0)
                assert i25.video_url == "https://publicstreamer3.cotrip.org/rtplive/123/playlist.m3u8"
                assert i25.reported_at == pytest.approx(now, abs=0.002)
                assert i25.stale_at == pytest.approx(now + 3600, abs=0.002)  # the event's stale time
                assert not i25.stale(now + 3599) and i25.stale(now + 3600)
                townhall = console.picture.cameras["CAM-TOWNHALL"]
                assert (townhall.azimuth, townhall.video_url) == (135.0, "rtsp://203.0.113.5:8554/townhall")

            # TAK servers send their cameras again: the same point is counted, not logged twice.
            tak.send(port, biv("CAM-TOWNHALL", now, "rtsp://203.0.113.5:8554/townhall"))
            await until_feed(boss, lambda cot: cot["ignored_kinds"].get("same_camera", 0) >= 1)
            # Another device of the same agency may not move or retarget a camera that is not its own.
            other.send(port, biv("CAM-TOWNHALL", now + 5, "rtsp://198.51.100.66/evil"))
            cot = await until_feed(boss, lambda cot: cot["quarantined"] >= 1)
            assert cot["last_error"]["code"] == "not_owned", cot["last_error"]
            # The owner moves it on.
            tak.send(port, biv("CAM-TOWNHALL", now + 10, "rtsp://203.0.113.5:8554/townhall2"))
            await everywhere(consoles, lambda c: c.picture.cameras["CAM-TOWNHALL"].video_url.endswith("townhall2"))

    asyncio.run(scenario())


async def until_feed(client: Any, condition: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(next(f for f in (await client.query("feeds"))["feeds"] if f["name"] == "cot"))
        return bool(condition(found))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"cot feed: {found}")
        await asyncio.sleep(0.1)
    return found


def test_a_camera_gateway_account_reports_and_retires_its_cameras(cot_hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(cot_hub.url, "feed1", "super1", "medical1") as (feed, boss, medical):
            await feed.call("camera.register", {"id": "BODYCAM-7", "agency": "police", "kind": "mobile"})
            await feed.call("camera.report", {"camera": "BODYCAM-7", "lat": 47.14, "lon": 9.52, "azimuth": 10,
                                              "url": "http://203.0.113.9/bodycam7.ts", "stale_s": 30})
            await medical.wait_for(lambda: "BODYCAM-7" in medical.picture.cameras)
            camera = medical.picture.cameras["BODYCAM-7"]
            assert (camera.kind, camera.owner, camera.video_url) == ("mobile", "feed1", "http://203.0.113.9/bodycam7.ts")
            with pytest.raises(CommandRefused) as refused:
                await feed.call("camera.report", {"camera": "BODYCAM-7", "lat": 47.14, "lon": 9.52,
                                                  "url": "file:///etc/passwd"})
            assert refused.value.code == "bad_url"
            with pytest.raises(CommandRefused) as refused:
                await medical.call("camera.retire", {"camera": "BODYCAM-7"})
            assert refused.value.code == "forbidden"  # a dispatcher's role may not
            await feed.call("camera.retire", {"camera": "BODYCAM-7", "reason": "shift over"})
            await until(lambda: "BODYCAM-7" not in medical.picture.cameras)
            assert "BODYCAM-7" not in boss.picture.cameras

    asyncio.run(scenario())
