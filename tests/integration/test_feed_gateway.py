"""The feed gateway over real sockets: registered devices' CoT (TCP, UDP) and NMEA move units and MAVLink a drone
on a console; hostile input is quarantined with the right code and the hub keeps serving."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymavlink.dialects.v20 import common as mavlink2

from app.client.connection import HubClient
from app.domain.commands import RegisterUnit
from app.feeds.cot import encode_chat
from app.feeds.nmea import DeviceMap, with_checksum
from app.hub.gateway import FeedGateway
from app.hub.server import Hub
from app.store.log import LogReader
from app.store.users import UserStore
from tests.integration.devices import register_device, send_stream
from tests.integration.waiting import until

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak

PASSWORD = "correct horse battery"


def udp_send(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))


FIRE_TOKEN = "fire-tak-secret"


def cot(uid: str, lat: float, lon: float, callsign: str | None = None, group: str | None = None) -> bytes:
    data = pytak.gen_cot(lat=lat, lon=lon, uid=uid, cot_type="a-f-G-U-C", callsign=callsign)
    assert data is not None
    if group:
        data = data.replace(b"<detail>", f'<detail><__group name="{group}" role="Team Member" />'.encode())
    return data


def rmc(lat: float, lon: float, when: float) -> bytes:
    t = time.gmtime(when)
    lat_s = f"{int(lat):02d}{(lat % 1) * 60:07.4f},N"
    lon_s = f"{int(lon):03d}{(lon % 1) * 60:07.4f},E"
    body = f"GPRMC,{time.strftime('%H%M%S', t)}.00,A,{lat_s},{lon_s},010.0,090.0,{time.strftime('%d%m%y', t)},,"
    return with_checksum(body).encode() + b"\r\n"


def wrong_checksum(sentence: bytes) -> bytes:
    """The sentence with a checksum that is there and wrong (one with none at all is valid NMEA)."""
    body, given = sentence.rstrip(b"\r\n").rsplit(b"*", 1)
    return body + b"*" + (b"00" if given != b"00" else b"11") + b"\r\n"


def heartbeat(system_id: int, vehicle_type: int = mavlink2.MAV_TYPE_QUADROTOR) -> bytes:
    mav = mavlink2.MAVLink(None, srcSystem=system_id)
    msg = mav.heartbeat_encode(vehicle_type, mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA, 0, 0, 0)
    return bytes(msg.pack(mav))


def global_position(system_id: int, lat: float, lon: float) -> bytes:
    mav = mavlink2.MAVLink(None, srcSystem=system_id)
    msg = mav.global_position_int_encode(1000, int(lat * 1e7), int(lon * 1e7), 100_000, 50_000, 300, 400, 0, 9000)
    return bytes(msg.pack(mav))


Scenario = Callable[[Hub, FeedGateway, HubClient, Path], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> None:
    db = tmp_path / "hub.db"
    users = UserStore(db)
    users.add("observer", PASSWORD, "supervisor", "fire")
    users.close()

    async def main() -> None:
        hub = Hub(db)
        port = await hub.start()
        gateway = FeedGateway(hub, device_map=DeviceMap({"127.0.0.1": "E11"}))
        await gateway.start(cot_port=0, cot_udp_port=0, nmea_port=0, mavlink_port=0)
        console = HubClient(f"ws://127.0.0.1:{port}", "observer", PASSWORD)
        console.start()
        try:
            await console.wait_for(lambda: console.state == "connected", 10)
            await scenario(hub, gateway, console, db)
        finally:
            await console.close()
            await gateway.close()
            await hub.close()

    asyncio.run(main())


def at(console: HubClient, unit: str, lat: float, lon: float) -> Callable[[], bool]:
    def check() -> bool:
        u = console.picture.units.get(unit)
        return u is not None and u.lat is not None and abs(u.lat - lat) < 1e-5 and abs(u.lon - lon) < 1e-5
    return check


def drone_at(console: HubClient, drone: str, lat: float, lon: float) -> Callable[[], bool]:
    def check() -> bool:
        d = console.picture.drones.get(drone)
        return d is not None and d.lat is not None and abs(d.lat - lat) < 1e-5 and abs(d.lon - lon) < 1e-5  # type: ignore[operator]
    return check


def test_cot_nmea_and_mavlink_move_units(tmp_path: Path) -> None:
    async def scenario(hub: Hub, gateway: FeedGateway, console: HubClient, db: Path) -> None:
        # Two TAK devices on one address over TCP, told apart by the fire one's token; a fire modem over UDP.
        await register_device(console, "FIRE-TAK", "fire", ["cot"], "tcp", units=["Engine-7"], token=FIRE_TOKEN)
        await register_device(console, "POLICE-TAK", "police", ["cot"], "tcp", units=["P-9"])
        await register_device(console, "FIRE-MODEM", "fire", ["cot"], "udp", units=["Engine-7"])
        # CoT over TCP registers the device's unit that does not exist yet (a fire engine) and moves it.
        await send_stream(gateway.ports["cot_tcp"], cot("ANDROID-1", 60.1700, 24.9400, "Engine 7", "Red"), FIRE_TOKEN)
        await console.wait_for(at(console, "Engine-7", 60.17, 24.94), 10)
        unit = console.picture.units["Engine-7"]
        assert (unit.agency, unit.kind) == ("fire", "engine")
        # Two events back to back in one TCP stream, then UDP.
        await send_stream(gateway.ports["cot_tcp"], cot("ANDROID-1", 60.1705, 24.9405, "Engine 7", "Red")
                       + cot("ANDROID-1", 60.1710, 24.9410, "Engine 7", "Red"), FIRE_TOKEN)
        await send_stream(gateway.ports["cot_tcp"], cot("ANDROID-2", 60.1, 24.9, "P 9", "Blue"))
        await console.wait_for(at(console, "P-9", 60.1, 24.9), 10)
        await console.wait_for(at(console, "Engine-7", 60.171, 24.941), 10)
        assert console.picture.units["P-9"].kind == "patrol"
        udp_send(gateway.ports["cot_udp"], cot("ANDROID-1", 60.1720, 24.9420, "Engine 7", "Red"))
        await console.wait_for(at(console, "Engine-7", 60.172, 24.942), 10)

        # NMEA: the device map sends 127.0.0.1 to E11, which a feed registered and the AVL box reports for.
        await register_device(console, "AVL-E11", "fire", ["nmea"], "udp", units=["E11"])
        hub.sequencer.submit(gateway.actor, "unit.register", RegisterUnit(id="E11", agency="fire", kind="engine"),
                             None)
        udp_send(gateway.ports["nmea"], rmc(60.25, 24.5, time.time() - 5))
        await console.wait_for(at(console, "E11", 60.25, 24.5), 10)
        assert console.picture.units["E11"].speed is not None

        # MAVLink: system 7 becomes drone UAV7 of the device registered (unsigned) for it (its heartbeat says
        # what airframe it is).
        await register_device(console, "UAS-7", "police", ["mavlink"], "udp", drones=["UAV7"])
        udp_send(gateway.ports["mavlink"], heartbeat(7) + global_position(7, 60.3, 24.7))
        await console.wait_for(drone_at(console, "UAV7", 60.3, 24.7), 10)
        assert console.picture.drones["UAV7"].agency == "police"

        # GeoChat and 911 from a device's own callsigns become messages on "all", from the device's agency.
        udp_send(gateway.ports["cot_udp"], encode_chat("ANDROID-1", "Engine 7", "hello from the field"))
        await send_stream(gateway.ports["cot_tcp"], emergency_911("ANDROID-2", "P 9"))
        await console.wait_for(lambda: len(console.picture.messages) >= 2, 10)
        texts = {m.text: m.agency for m in console.picture.messages}
        assert texts["Engine 7: hello from the field"] == "fire"
        assert any(t.startswith("EMERGENCY 911 from P 9 at ") and t.endswith("(device POLICE-TAK)")
                   and agency == "police" for t, agency in texts.items()), texts
        assert gateway.feeds.feed("cot").quarantined == 0, gateway.feeds.report()
        assert gateway.feeds.feed("mavlink").accepted == 2

    run(tmp_path, scenario)


def emergency_911(uid: str, callsign: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    return (f'<event version="2.0" uid="{uid}-9-1-1" type="b-a-o-tbl" how="m-g" time="{now}" start="{now}" '
            f'stale="{stale}"><point lat="60.1" lon="24.9" hae="0" ce="9999999" le="9999999"/>'
            f'<detail><contact callsign="{callsign}-Alert"/><link uid="{uid}" type="a-f-G-U-C" relation="p-p"/>'
            f'<emergency type="911 Alert">{callsign}</emergency></detail></event>').encode()


def test_hostile_input_is_quarantined_and_the_hub_keeps_serving(tmp_path: Path) -> None:
    async def scenario(hub: Hub, gateway: FeedGateway, console: HubClient, db: Path) -> None:
        await register_device(console, "MEDIC-MODEM", "medical", ["cot", "nmea"], "udp", units=["Medic-5", "M1"])
        await register_device(console, "MEDIC-TAK", "medical", ["cot"], "tcp", units=["Medic-5"])
        await register_device(console, "UAS-9", "police", ["mavlink"], "udp", drones=["UAV9"])
        lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
               b'<event version="2.0" uid="x" type="a-f-G" time="2024-01-01T00:00:00Z" start="2024-01-01T00:00:00Z"'
               b' stale="2024-01-01T00:01:00Z"><point lat="1" lon="1"/><detail>&lol2;</detail></event>')
        good = cot("ANDROID-5", 60.2, 24.8, "Medic 5", "White")
        cases = [
            ("cot", lambda: udp_send(gateway.ports["cot_udp"], lol), "entity_expansion"),
            ("cot", lambda: udp_send(gateway.ports["cot_udp"], good[: len(good) // 2]), "truncated"),
            ("cot", lambda: udp_send(gateway.ports["cot_udp"], cot("X-1", 91.0, 24.0, "X 1")), "out_of_range"),
            ("cot", lambda: udp_send(gateway.ports["cot_udp"], b"\x00\x13garbage\xff" * 10), "malformed_xml"),
            ("nmea", lambda: udp_send(gateway.ports["nmea"], wrong_checksum(rmc(60.0, 24.0, time.time()))),
             "bad_checksum"),
            ("mavlink", lambda: udp_send(gateway.ports["mavlink"], corrupt(global_position(9, 60.0, 24.0))),
             "bad_crc"),
        ]
        for n, (feed, send, code) in enumerate(cases, 1):
            before = sum(s.quarantined for s in gateway.feeds.feeds.values())
            send()
            await until(lambda b=before: sum(s.quarantined for s in gateway.feeds.feeds.values()) > b)
            await gateway.feeds.flush()
            newest = LogReader(db).quarantined(limit=1)[0]
            assert (newest["feed"], newest["code"]) == (feed, code), (n, newest)
            assert newest["source"].startswith("udp:127.0.0.1:") and newest["raw"]

        # Garbage and a truncated event on the TCP stream.
        await send_stream(gateway.ports["cot_tcp"], b"garbage garbage " * 20 + good[:100])
        await until(lambda: gateway.feeds.feed("cot").quarantined >= 6)
        await gateway.feeds.flush()
        codes = {q["code"] for q in LogReader(db).quarantined("cot")}
        assert {"garbage", "truncated"} <= codes

        # A stale position (older than the one the unit has) is refused by the rules and quarantined.
        udp_send(gateway.ports["cot_udp"], good)
        await console.wait_for(at(console, "Medic-5", 60.2, 24.8), 10)
        assert console.picture.units["Medic-5"].agency == "medical"
        udp_send(gateway.ports["cot_udp"], good)
        await until(lambda: gateway.feeds.feed("cot").last_error is not None
                    and gateway.feeds.feed("cot").last_error.code == "stale_position")

        # After all that the hub still serves valid positions.
        udp_send(gateway.ports["cot_udp"], cot("ANDROID-5", 60.21, 24.81, "Medic 5", "White"))
        await console.wait_for(at(console, "Medic-5", 60.21, 24.81), 10)
        for feed in ("cot", "nmea", "mavlink"):
            assert gateway.feeds.feed(feed).received >= 1

    run(tmp_path, scenario)


def corrupt(frame: bytes) -> bytes:
    data = bytearray(frame)
    data[15] ^= 0xFF  # a payload byte: the CRC no longer matches
    return bytes(data)


def test_watchfloor_hub_cli_starts_the_gateway(tmp_path: Path) -> None:
    from tests.integration.conftest import PASSWORD as ACCOUNT_PASSWORD
    from tests.integration.conftest import ROOT, HubProcess, free_port, make_accounts

    db = tmp_path / "hub.db"
    make_accounts(db)
    cot_port, mavlink_port = free_port(), free_port()
    process = HubProcess(db, free_port(), ["--cot-port", str(cot_port), "--mavlink-port", str(mavlink_port)])
    process.start()
    password_file = tmp_path / "password"
    password_file.write_text(ACCOUNT_PASSWORD + "\n")
    login = ["--hub", process.url, "--user", "super1", "--password-file", str(password_file)]
    for device in (["MEDIC-8", "--agency", "medical", "--formats", "cot", "--transport", "tcp", "--units", "Unit-8"],
                   ["MEDIC-8U", "--agency", "medical", "--formats", "cot", "--units", "Unit-8"],
                   ["UAS-3", "--agency", "police", "--formats", "mavlink", "--drones", "UAV3"]):
        done = subprocess.run([sys.executable, "-m", "app.cli", "device", "add", *device, "--source", "127.0.0.1",
                               *login], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"device {device[0]} registered" in done.stdout
    listed = subprocess.run([sys.executable, "-m", "app.cli", "device", "list", "--db", str(db)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60).stdout
    assert "MEDIC-8 " in listed and "UAV3" in listed and listed.count("active") == 3, listed

    async def scenario() -> None:
        console = HubClient(process.url, "super1", ACCOUNT_PASSWORD)
        console.start()
        try:
            await console.wait_for(lambda: console.state == "connected", 10)
            await send_stream(cot_port, cot("ANDROID-8", 60.15, 24.95, "Unit 8", "Green"))
            await console.wait_for(at(console, "Unit-8", 60.15, 24.95), 10)
            udp_send(cot_port, cot("ANDROID-8", 60.16, 24.96, "Unit 8", "Green"))
            await console.wait_for(at(console, "Unit-8", 60.16, 24.96), 10)
            udp_send(mavlink_port, heartbeat(3) + global_position(3, 60.4, 24.6))
            await console.wait_for(drone_at(console, "UAV3", 60.4, 24.6), 10)
        finally:
            await console.close()

    async def after_restart() -> None:
        # The registry is in the log: a restarted hub still hears MEDIC-8U and not the revoked UAS-3.
        console = HubClient(process.url, "super1", ACCOUNT_PASSWORD)
        console.start()
        try:
            await console.wait_for(lambda: console.state == "connected", 10)
            udp_send(mavlink_port, global_position(3, 60.5, 24.5))
            udp_send(cot_port, cot("ANDROID-8", 60.17, 24.97, "Unit 8", "Green"))
            await console.wait_for(at(console, "Unit-8", 60.17, 24.97), 10)
            for _ in range(100):  # the MAVLink datagram came to another socket: it may be taken after the CoT
                mavlink = next(f for f in (await console.query("feeds"))["feeds"] if f["name"] == "mavlink")
                if mavlink["unknown"]:
                    break
                await asyncio.sleep(0.05)
            assert mavlink["unknown"] == 1 and mavlink["accepted"] == 0
            assert drone_at(console, "UAV3", 60.4, 24.6)() and not console.picture.devices["UAS-3"].active
        finally:
            await console.close()

    try:
        asyncio.run(scenario())
        done = subprocess.run([sys.executable, "-m", "app.cli", "device", "revoke", "UAS-3", "--reason", "lost",
                               *login], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "device UAS-3 revoked" in done.stdout, done.stderr
        again = subprocess.run([sys.executable, "-m", "app.cli", "device", "revoke", "UAS-3", *login], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "already_revoked" in again.stderr
        process.stop()
        process.start()
        asyncio.run(after_restart())
    finally:
        process.stop()
        process.kill()
