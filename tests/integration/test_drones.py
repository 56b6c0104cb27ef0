"""Drones through a real hub process: MAVLink and KLV over UDP put the same drone, footprint and link state on
every agency's console; operators publish video, dispatchers ask drones to look, snapshots are attached to
incidents; bad frames are quarantined and the hub keeps serving."""

from __future__ import annotations

import asyncio
import base64
import math
import socket
from collections.abc import Iterator
from pathlib import Path

import klvdata
import pytest
from klvdata.common import packet_checksum
from pymavlink.dialects.v20 import common as mavlink2

from app.client.connection import CommandRefused, HubClient
from app.domain.drone_rules import MAX_ATTACHMENT_BYTES
from app.domain.footprint import camera_footprint
from app.feeds.klv import encode_uas_ls
from app.store.log import LogReader
from app.store.users import UserStore
from tests.images import jpeg_bytes
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.waiting import everywhere

LAT, LON = 60.1700, 24.9450
CORNERS = [(60.1712, 24.9431), (60.1712, 24.9469), (60.1688, 24.9469), (60.1688, 24.9431)]


class DroneHub(HubProcess):
    """A hub with its MAVLink and KLV listeners on."""

    def __init__(self, db: Path) -> None:
        self.mavlink_port, self.klv_port = free_port(), free_port()
        super().__init__(db, free_port(), ["--mavlink-port", str(self.mavlink_port), "--klv-port", str(self.klv_port)])


@pytest.fixture
def drone_hub(tmp_path: Path) -> Iterator[DroneHub]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    users = UserStore(db)
    users.add("pilot1", PASSWORD, "drone_operator", "police")
    users.add("fpilot1", PASSWORD, "drone_operator", "fire")
    users.close()
    process = DroneHub(db)
    process.start()
    yield process
    process.stop()
    process.kill()


def udp_send(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))


class Autopilot:
    """MAVLink messages of one drone, as an autopilot sends them (from one socket), made with pymavlink."""

    def __init__(self, system_id: int, port: int = 0) -> None:
        self.mav = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=1)
        self.port = port
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, *datagrams: bytes) -> None:
        for datagram in datagrams:
            self.socket.sendto(datagram, ("127.0.0.1", self.port))

    def pack(self, msg: mavlink2.MAVLink_message) -> bytes:
        return bytes(msg.pack(self.mav))

    def heartbeat(self) -> bytes:
        return self.pack(self.mav.heartbeat_encode(mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_PX4,
                                                   mavlink2.MAV_MODE_FLAG_SAFETY_ARMED, 0, mavlink2.MAV_STATE_ACTIVE))

    def position(self, lat: float, lon: float, agl: float = 120.0, heading: float = 90.0) -> bytes:
        return self.pack(self.mav.global_position_int_encode(
            1000, round(lat * 1e7), round(lon * 1e7), round((agl + 15) * 1000), round(agl * 1000), 300, 400, 0,
            round(heading * 100)))

    def telemetry(self) -> list[bytes]:
        """Attitude, battery, a gimbal 60° down, the camera's field of view."""
        pitch = math.radians(-60) / 2
        return [
            self.pack(self.mav.attitude_encode(1000, 0.05, -0.02, math.radians(90), 0, 0, 0)),
            self.pack(self.mav.battery_status_encode(0, 0, 0, 2500, [11100] + [65535] * 9, -1, -1, -1, 77)),
            self.pack(self.mav.gimbal_device_attitude_status_encode(
                0, 0, 1000, 0, [math.cos(pitch), 0, math.sin(pitch), 0], math.nan, math.nan, math.nan, 0)),
            self.pack(self.mav.camera_fov_status_encode(1000, 0, 0, 0, 0, 0, 0, [1, 0, 0, 0], 60.0, 40.0)),
        ]


def klv_packet(tail: str, lat: float, lon: float, corners: list[tuple[float, float]] = CORNERS) -> bytes:
    fields: dict[str, object] = {
        "timestamp_us": 1_795_240_000_000_000, "platform_tail_number": tail, "platform_heading": 90.0,
        "sensor_latitude": lat, "sensor_longitude": lon, "sensor_altitude": 135.0, "sensor_hfov": 60.0,
        "sensor_vfov": 40.0, "sensor_relative_azimuth": 0.0, "sensor_relative_elevation": -60.0,
        "frame_center_elevation": 15.0, "ls_version": 17,
    }
    for i, (la, lo) in enumerate(corners, 1):
        fields[f"corner_latitude_{i}"], fields[f"corner_longitude_{i}"] = la, lo
    return encode_uas_ls(fields)


async def consoles(hub: HubProcess, *users: str) -> list[HubClient]:
    clients = [HubClient(hub.url, user, PASSWORD) for user in users]
    for client in clients:
        client.start()
    for client in clients:
        await client.wait_for(lambda c=client: c.state == "connected", 30)
    return clients


def near(a: float | None, b: float, tolerance: float = 1e-6) -> bool:
    return a is not None and abs(a - b) <= tolerance


def same_ring(a: list[tuple[float, float]] | None, b: list[tuple[float, float]], tolerance: float = 1e-6) -> bool:
    """Two polygons with the same corners, to `tolerance` degrees (KLV stores corners as 32-bit integers)."""
    return a is not None and len(a) == len(b) and all(
        near(p[0], q[0], tolerance) and near(p[1], q[1], tolerance) for p, q in zip(a, b, strict=True))


def test_mavlink_moves_the_drone_on_every_console_and_the_link_follows_the_heartbeat(drone_hub: DroneHub) -> None:
    async def scenario() -> None:
        fire, police, medical = clients = await consoles(drone_hub, "fire1", "police1", "medical1")
        (supervisor,) = await consoles(drone_hub, "super1")
        await register_device(supervisor, "UAS-4", "police", ["mavlink"], "udp", drones=["UAV4"])
        await supervisor.close()
        uav = Autopilot(4, drone_hub.mavlink_port)
        try:
            uav.send(uav.heartbeat(), *uav.telemetry(), uav.position(LAT, LON))
            await everywhere(clients, lambda c: "UAV4" in c.picture.drones
                             and near(c.picture.drones["UAV4"].lat, LAT) and c.picture.drones["UAV4"].vfov == 40.0)
            # The datagrams may arrive in any order: move once more so the fix carries all of them.
            uav.send(uav.position(LAT + 0.001, LON + 0.002))
            await everywhere(clients, lambda c: near(c.picture.drones["UAV4"].lat, LAT + 0.001)
                             and near(c.picture.drones["UAV4"].lon, LON + 0.002))
            for client in clients:
                drone = client.picture.drones["UAV4"]
                assert (drone.agency, drone.link, drone.battery, drone.heading, drone.agl_m) == (
                    "police", "up", 77.0, 90.0, 120.0)
                assert drone.gimbal_pitch == pytest.approx(-60.0) and (drone.hfov, drone.vfov) == (60.0, 40.0)
                assert drone.speed == pytest.approx(5.0)  # vx 3 m/s north, vy 4 m/s east
                expected = camera_footprint(LAT + 0.001, LON + 0.002, 120.0, 90.0, -60.0, 60.0, 40.0)
                assert same_ring(drone.footprint, expected.corners)
            assert fire.picture.drones["UAV4"] == police.picture.drones["UAV4"] == medical.picture.drones["UAV4"]

            # Heartbeats stop: after 5 s every console shows the link lost; the next heartbeat brings it back.
            await everywhere(clients, lambda c: c.picture.drones["UAV4"].link == "lost", 30)
            uav.send(uav.heartbeat())
            await everywhere(clients, lambda c: c.picture.drones["UAV4"].link == "up")
        finally:
            uav.socket.close()
            for client in clients:
                await client.close()

    asyncio.run(scenario())


def test_klv_gives_the_footprint_and_bad_frames_are_quarantined(drone_hub: DroneHub) -> None:
    async def scenario() -> None:
        clients = await consoles(drone_hub, "fire1", "police1", "medical1")
        (supervisor,) = await consoles(drone_hub, "super1")
        await register_device(supervisor, "EAGLE-GCS", "police", ["klv"], "udp", drones=["EAGLE-7"])
        await register_device(supervisor, "UAS-5", "police", ["mavlink"], "udp", drones=["UAV5"])
        await supervisor.close()
        packet = klv_packet("EAGLE-7", LAT, LON)
        # The packet is a valid ST 0601 packet by klvdata's reading too, checksum included.
        (parsed,) = list(klvdata.StreamParser(packet))
        values = {item.TAG: item.value for item in parsed.items.values()}
        assert str(values[4]) == "EAGLE-7" and packet_checksum(packet) == packet[-2:]
        assert float(values[82].value) == pytest.approx(CORNERS[0][0], abs=1e-7)
        try:
            udp_send(drone_hub.klv_port, packet)
            await everywhere(clients, lambda c: "EAGLE-7" in c.picture.drones
                             and c.picture.drones["EAGLE-7"].footprint is not None)
            for client in clients:
                drone = client.picture.drones["EAGLE-7"]
                assert same_ring(drone.footprint, CORNERS) and drone.footprint_given
                assert (near(drone.lat, LAT), drone.agl_m, drone.hfov) == (True, pytest.approx(120.0, abs=0.5),
                                                                           pytest.approx(60.0, abs=0.01))

            corrupt_klv = packet[:-1] + bytes([packet[-1] ^ 0x5A])
            udp_send(drone_hub.klv_port, corrupt_klv)
            udp_send(drone_hub.klv_port, packet[:40])
            garbage = Autopilot(5).position(LAT, LON)
            udp_send(drone_hub.mavlink_port, garbage[:14] + bytes([garbage[14] ^ 0xFF]) + garbage[15:])
            udp_send(drone_hub.mavlink_port, b"\x00not mavlink at all\xff" * 4)
            reader = LogReader(drone_hub.db)
            for _ in range(200):
                codes = {(q["feed"], q["code"]) for q in reader.quarantined()}
                if len(codes) >= 4:
                    break
                await asyncio.sleep(0.05)
            quarantined = reader.quarantined()
            assert {(q["feed"], q["code"]) for q in quarantined} == {
                ("klv", "bad_checksum"), ("klv", "truncated"), ("mavlink", "bad_crc"), ("mavlink", "garbage")}
            assert all(q["reason"] and q["raw"] and q["source"].startswith("udp:127.0.0.1:") for q in quarantined)

            # The hub keeps serving: the next good packet moves the drone everywhere.
            moved = [(la + 0.001, lo) for la, lo in CORNERS]
            udp_send(drone_hub.klv_port, klv_packet("EAGLE-7", LAT + 0.001, LON, moved))
            await everywhere(clients, lambda c: same_ring(c.picture.drones["EAGLE-7"].footprint, moved))
            assert "UAV5" not in clients[0].picture.drones
        finally:
            for client in clients:
                await client.close()

    asyncio.run(scenario())


def test_operators_dispatchers_and_every_console_work_one_drone(drone_hub: DroneHub) -> None:
    async def scenario() -> None:
        pilot, fpilot, fire, police, medical = await consoles(
            drone_hub, "pilot1", "fpilot1", "fire1", "police1", "medical1")
        clients = [fire, police, medical]
        try:
            await pilot.call("drone.register", {"id": "UAV1", "agency": "police"})
            assert pilot.report("drone.telemetry", {"drone": "UAV1", "lat": LAT, "lon": LON, "agl_m": 80.0,
                                                    "heading": 0.0, "gimbal_pitch": -90.0, "hfov": 70.0,
                                                    "vfov": 50.0, "battery": 64.0})
            await everywhere(clients, lambda c: "UAV1" in c.picture.drones
                             and c.picture.drones["UAV1"].footprint is not None)
            assert fire.picture.drones["UAV1"].operator == "pilot1"

            # Authority: a dispatcher neither publishes video nor flies; another agency's operator may not either.
            for client, name, args in [
                    (police, "drone.video", {"drone": "UAV1", "url": "udp://127.0.0.1:5000"}),
                    (police, "drone.telemetry", {"drone": "UAV1", "lat": LAT, "lon": LON}),
                    (fpilot, "drone.video", {"drone": "UAV1", "url": "udp://127.0.0.1:5000"}),
                    (fire, "drone.look_ack", {"drone": "UAV1", "request": "LK-1"})]:
                with pytest.raises(CommandRefused) as refused:
                    await client.call(name, args)
                assert refused.value.code == "forbidden", (client.session.user, name)
            with pytest.raises(CommandRefused) as refused:
                await pilot.call("drone.video", {"drone": "UAV1", "url": "javascript:alert(1)"})
            assert refused.value.code == "bad_url"

            url = "udp://127.0.0.1:5600"
            await pilot.call("drone.video", {"drone": "UAV1", "url": url})
            await everywhere(clients, lambda c: c.picture.drones["UAV1"].video_url == url)

            # A fire call; police assign their drone to it; fire asks it to look, police acknowledge.
            ack = await fire.call("incident.create", {"type": "structure_fire", "lat": LAT, "lon": LON})
            await fire.wait_for(lambda: bool(fire.picture.incidents))
            incident = next(iter(fire.picture.incidents))
            assert ack.seqs
            await police.call("drone.assign", {"drone": "UAV1", "incident": incident})
            await everywhere(clients, lambda c: c.picture.drones["UAV1"].incident == incident)
            await fire.call("drone.look", {"drone": "UAV1", "lat": LAT + 0.0005, "lon": LON, "note": "the roof?"})
            await everywhere([*clients, pilot], lambda c: c.picture.drones["UAV1"].look is not None)
            look = pilot.picture.drones["UAV1"].look
            assert look is not None and (look.requested_by, look.note) == ("fire1", "the roof?")
            await pilot.call("drone.look_ack", {"drone": "UAV1", "request": look.id})
            await everywhere(clients, lambda c: c.picture.drones["UAV1"].look.acknowledged_by == "pilot1")  # type: ignore[union-attr]

            # The pilot attaches a real JPEG to the fire call: every agency sees it.
            jpeg = jpeg_bytes(320, 180)
            await pilot.call("incident.attach", {"incident": incident, "mime": "image/jpeg", "caption": "roof",
                                                 "source": "UAV1", "data_b64": base64.b64encode(jpeg).decode()})
            await everywhere(clients, lambda c: len(c.picture.incidents[incident].attachments) == 1)
            for client in clients:
                attachment = client.picture.incidents[incident].attachments[0]
                assert base64.b64decode(attachment.data_b64) == jpeg
                assert (attachment.added_by, attachment.caption, attachment.source) == ("pilot1", "roof", "UAV1")
            # Too large (yet inside the frame limit) and not an image: refused with clear codes, nothing stored.
            big = base64.b64encode(jpeg[:3] + bytes(MAX_ATTACHMENT_BYTES + 512)).decode()
            for data, code in [(big, "too_large"), (base64.b64encode(b"MZ\x90\x00 not a picture").decode(),
                                                    "bad_attachment")]:
                with pytest.raises(CommandRefused) as refused:
                    await fire.call("incident.attach", {"incident": incident, "mime": "image/jpeg", "data_b64": data})
                assert refused.value.code == code
            await fire.call("incident.note", {"incident": incident, "text": "after the refusals"})
            await fire.wait_for(lambda: len(fire.picture.incidents[incident].notes) == 1)
            assert len(fire.picture.incidents[incident].attachments) == 1
        finally:
            for client in (pilot, fpilot, *clients):
                await client.close()

    asyncio.run(scenario())
