"""The simulator's drone against a real hub: MAVLink in through the gateway, a live H.264 stream whose KLV
matches what every console sees, and an assignment to the scenario's first call."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest
from shapely.geometry import Point, Polygon

from app.client.connection import HubClient
from app.domain.geo import distance_m
from app.feeds.klv_ts import KlvSample, KlvTsDemuxer
from app.hub.server import Hub
from app.sim.drone_flight import DroneFlightConfig
from app.sim.map import FallbackMap
from app.sim.runner import run_scenario
from app.sim.scenario import ScenarioConfig
from tests.integration.test_sim_hub import FEED, PASSWORD, SUPERVISOR, make_db

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def test_the_simulated_drone_flies_streams_and_works_the_first_call(tmp_path: Path) -> None:
    db = make_db(tmp_path / "hub.db")

    async def main() -> None:
        hub = Hub(db)
        port = await hub.start()
        feeds = await hub.start_feeds(mavlink_port=0)
        url = f"ws://127.0.0.1:{port}"
        stop = asyncio.Event()
        config = ScenarioConfig(first_call_at=2.0, calls_per_hour=1, malformed_at=None, flood_at=None,
                                duplicate_at=None)
        scenario = asyncio.get_running_loop().create_task(run_scenario(
            url, FEED, PASSWORD, dispatcher=(SUPERVISOR, PASSWORD), map_=FallbackMap(), config=config, speed=5,
            stop=stop, drone=DroneFlightConfig(mavlink_port=feeds["mavlink"], operator="pilot1")))
        console = HubClient(url, SUPERVISOR, PASSWORD)
        console.start()
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            def flying() -> bool:
                drone = console.picture.drones.get("UAV1")
                return (drone is not None and drone.footprint is not None and drone.video_url != ""
                        and drone.incident is not None and len(drone.track) >= 8)

            await console.wait_for(flying, 60)
            drone = console.picture.drones["UAV1"]
            incident = console.picture.incidents[drone.incident]  # type: ignore[index]
            assert (drone.agency, drone.operator, drone.link) == ("police", "pilot1", "up")
            assert drone.battery is not None and 0 < drone.battery <= 100
            assert drone.agl_m == pytest.approx(120.0) and drone.hfov == pytest.approx(60.0)
            assert drone.video_url.startswith("udp://127.0.0.1:")

            # The video stream carries KLV describing the same drone the hub shows.
            receiver.bind(("127.0.0.1", int(drone.video_url.rsplit(":", 1)[1])))
            receiver.setblocking(False)
            demuxer = KlvTsDemuxer()
            samples: list[KlvSample] = []
            loop = asyncio.get_running_loop()
            while len(samples) < 20:
                datagram = await asyncio.wait_for(loop.sock_recv(receiver, 65_536), 30)
                samples.extend(s for s in demuxer.feed(datagram) if isinstance(s, KlvSample))
            assert demuxer.errors == 0
            packet = samples[-1].packet
            assert packet.platform_tail_number == "UAV1"
            track = console.picture.drones["UAV1"].track
            klv_time = packet.timestamp_us / 1e6  # type: ignore[operator]
            t, lat, lon = min(track, key=lambda point: abs(point[0] - klv_time))
            # 15 m/s on the orbit, fixes at 4 Hz: the nearest fix is within a few metres of the KLV position.
            assert abs(t - klv_time) < 1.0
            assert distance_m((lat, lon), (packet.sensor_latitude, packet.sensor_longitude)) < 30  # type: ignore[arg-type]
            footprint = Polygon([(lo, la) for la, lo in console.picture.drones["UAV1"].footprint])  # type: ignore[union-attr]
            assert footprint.buffer(0.0005).covers(Point(packet.frame_center_longitude, packet.frame_center_latitude))
            print(f"drone on incident {incident.id}: KLV fix vs hub fix {abs(t - klv_time):.2f} s apart, "
                  f"{distance_m((lat, lon), (packet.sensor_latitude, packet.sensor_longitude)):.1f} m")  # type: ignore[arg-type]
        finally:
            receiver.close()
            stop.set()
            await scenario
            await console.close()
            await hub.close()

    asyncio.run(main())
