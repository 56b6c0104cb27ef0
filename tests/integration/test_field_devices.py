"""Field feeds from known devices only, against a real hub process with every plaintext listener on.

Each attack of issue 11 is replayed with real sockets (pytak's CoT, pymavlink's MAVLink, our own KLV and NMEA
encoders) and must be refused or contained, counted, and visible in the `feeds` report, while the hub keeps
acknowledging consoles' commands. The amplification cases print what one hostile datagram costs in rows and
bytes of the database (run with -s to see the figures).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import common as mavlink2

from app.client.connection import HubClient
from app.feeds.cot import encode_chat
from app.feeds.klv import encode_uas_ls
from app.feeds.nmea import encode_device_id, encode_rmc
from app.hub.feed_status import RAW_KEPT
from app.store.log import LogReader
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.waiting import signed_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak

TAK_TOKEN = "police-tak-token-7f3a"


class FieldHub(HubProcess):
    """A hub with CoT (TCP+UDP), NMEA, MAVLink and KLV listeners and an NMEA device map."""

    def __init__(self, db: Path, extra: list[str] | None = None) -> None:
        self.cot, self.nmea, self.mavlink, self.klv = free_port(), free_port(), free_port(), free_port()
        devices = db.parent / "avl.json"
        devices.write_text(json.dumps({"devices": {"AVL-E11": "E11", "AVL-M1": "M1"}}))
        super().__init__(db, free_port(), ["--cot-port", str(self.cot), "--nmea-port", str(self.nmea),
                                           "--mavlink-port", str(self.mavlink), "--klv-port", str(self.klv),
                                           "--nmea-devices", str(devices), *(extra or [])])


def start_field_hub(tmp_path: Path, extra: list[str] | None = None) -> FieldHub:
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = FieldHub(db, extra)
    process.start()
    return process


@pytest.fixture
def field_hub(tmp_path: Path) -> Iterator[FieldHub]:
    process = start_field_hub(tmp_path)
    yield process
    process.stop()
    process.kill()


class Radio:
    """A UDP sender on its own fixed port (so a device can be registered as 127.0.0.1:<port>)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.source = f"127.0.0.1:{self.port}"

    def send(self, port: int, *datagrams: bytes) -> None:
        for datagram in datagrams:
            self.socket.sendto(datagram, ("127.0.0.1", port))

    def close(self) -> None:
        self.socket.close()


def cot_position(callsign: str, lat: float, lon: float) -> bytes:
    data = pytak.gen_cot(lat=lat, lon=lon, uid=f"ANDROID-{callsign}", cot_type="a-f-G-U-C", callsign=callsign)
    assert data is not None
    return data


def cot_911(callsign: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    return (f'<event version="2.0" uid="{callsign}-9-1-1" type="b-a-o-tbl" how="m-g" time="{now}" start="{now}" '
            f'stale="{stale}"><point lat="60.1" lon="24.9" hae="0" ce="9999999" le="9999999"/>'
            f'<detail><contact callsign="{callsign}-Alert"/><emergency type="911 Alert">{callsign}</emergency>'
            f'</detail></event>').encode()


def cot_video(drone: str, url: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    return (f'<event version="2.0" uid="video-{drone}" type="b-i-v" how="m-g" time="{now}" start="{now}" '
            f'stale="{stale}"><point lat="60.1" lon="24.9" hae="0" ce="9999999" le="9999999"/><detail>'
            f'<__video url="{url}"><ConnectionEntry alias="{drone}"/></__video></detail></event>').encode()


def avl_fix(device: str, lat: float, lon: float, when: float) -> bytes:
    fix = datetime.fromtimestamp(when, UTC)
    return f"{encode_device_id(device)}\r\n{encode_rmc(fix, lat, lon)}\r\n".encode()


class Autopilot:
    """One drone's MAVLink, packed by pymavlink."""

    def __init__(self, system_id: int) -> None:
        self.mav = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=1)

    def heartbeat(self) -> bytes:
        return bytes(self.mav.heartbeat_encode(mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_PX4,
                                               mavlink2.MAV_MODE_FLAG_SAFETY_ARMED, 0,
                                               mavlink2.MAV_STATE_ACTIVE).pack(self.mav))

    def position(self, lat: float, lon: float) -> bytes:
        return bytes(self.mav.global_position_int_encode(1000, round(lat * 1e7), round(lon * 1e7), 135_000, 120_000,
                                                         0, 0, 0, 9000).pack(self.mav))


def klv(tail: str, lat: float, lon: float) -> bytes:
    return encode_uas_ls({"timestamp_us": 1_795_240_000_000_000, "platform_tail_number": tail,
                          "sensor_latitude": lat, "sensor_longitude": lon, "ls_version": 17})


async def feeds(client: HubClient) -> dict[str, Any]:
    report = await client.query("feeds")
    return {"by_name": {f["name"]: f for f in report["feeds"]}, **report}


async def reported(client: HubClient, condition: Callable[[dict[str, Any]], bool], timeout: float = 20.0
                   ) -> dict[str, Any]:
    """Ask for the `feeds` report until `condition` holds on it (the hub's counters signal nothing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        report = await feeds(client)
        if condition(report):
            return report
        assert loop.time() < deadline, report
        await asyncio.sleep(0.05)


def positions(db: Path, unit: str) -> list[tuple[float, float]]:
    reader = LogReader(db)
    try:
        return [(round(e.data["lat"], 5), round(e.data["lon"], 5))
                for e in reader.iter_events(kinds=("unit.position",)) if e.data["unit"] == unit]
    finally:
        reader.close()


def at(client: HubClient, unit: str, lat: float) -> bool:
    u = client.picture.units.get(unit)
    return u is not None and u.lat is not None and abs(u.lat - lat) < 1e-6


def test_spoofed_and_foreign_input_never_moves_or_speaks_for_anyone(field_hub: FieldHub) -> None:
    fire_modem, avl_e11, avl_m1, uas, gcs, attacker = (Radio() for _ in range(6))

    async def scenario() -> None:
        async with signed_in(field_hub.url, "super1", "fire1") as (boss, fire):
            await register_device(boss, "FIRE-MODEM", "fire", ["cot"], "udp", fire_modem.source, units=["E11"])
            await register_device(boss, "POLICE-TAK", "police", ["cot"], "tcp", units=["P1"], token=TAK_TOKEN)
            await register_device(boss, "AVL-E11", "fire", ["nmea"], "udp", avl_e11.source, units=["E11"])
            await register_device(boss, "AVL-M1", "medical", ["nmea"], "udp", avl_m1.source, units=["M1"])
            await register_device(boss, "UAS-1", "police", ["mavlink"], "udp", uas.source, drones=["UAV1"])
            await register_device(boss, "POLICE-GCS", "police", ["cot"], "udp", gcs.source, drones=["UAV1"])
            await boss.call("unit.register", {"id": "M1", "agency": "medical", "kind": "ambulance"})
            tak_reader, tak = await asyncio.open_connection("127.0.0.1", field_hub.cot)
            tak.write(f"WATCHFLOOR-TOKEN {TAK_TOKEN}\n".encode())

            # The fire modem's own unit moves (and is registered by it, for fire).
            fire_modem.send(field_hub.cot, cot_position("E11", 60.10, 24.90))
            await fire.wait_for(lambda: at(fire, "E11", 60.10), 10)
            assert fire.picture.units["E11"].agency == "fire"

            # 1. `<contact callsign="E11"/>` from nobody, and from the police TAK server: E11 stays put.
            attacker.send(field_hub.cot, cot_position("E11", 60.66, 24.66))
            tak.write(cot_position("E11", 60.77, 24.77))
            await tak.drain()
            # 2. A 911 and 3. GeoChat as SUPERVISOR, from nobody and from devices for callsigns not theirs.
            attacker.send(field_hub.cot, cot_911("E11"), encode_chat("ANDROID-X", "SUPERVISOR", "evacuate now"))
            fire_modem.send(field_hub.cot, encode_chat("ANDROID-E11", "SUPERVISOR", "evacuate now"),
                            cot_911("P1"))
            tak.write(cot_911("E11"))
            # 5. `$PWFID,AVL-E11` from nobody, and from the ambulance's own AVL box.
            attacker.send(field_hub.nmea, avl_fix("AVL-E11", 60.55, 24.55, time.time() - 3))
            avl_m1.send(field_hub.nmea, avl_fix("AVL-E11", 60.44, 24.44, time.time() - 2))
            # 4. A police drone: its autopilot flies it; someone else's MAVLink tries to, and to set its video.
            pilot = Autopilot(1)
            uas.send(field_hub.mavlink, pilot.heartbeat(), pilot.position(60.20, 24.80))
            await fire.wait_for(lambda: "UAV1" in fire.picture.drones, 10)
            attacker.send(field_hub.mavlink, pilot.heartbeat(), Autopilot(1).position(60.99, 24.99))
            attacker.send(field_hub.cot, cot_video("UAV1", "file:///etc/passwd"))
            gcs.send(field_hub.cot, cot_video("UAV1", "file:///etc/passwd"))

            # What the devices may do still works, after all of that (each is also a barrier for the above).
            fire_modem.send(field_hub.cot, encode_chat("ANDROID-E11", "E11", "on scene"))
            tak.write(cot_911("P1"))
            await tak.drain()
            avl_e11.send(field_hub.nmea, avl_fix("AVL-E11", 60.11, 24.91, time.time() + 1))
            gcs.send(field_hub.cot, cot_video("UAV1", "rtsp://10.0.0.5/uav1"))
            await fire.wait_for(lambda: at(fire, "E11", 60.11) and len(fire.picture.messages) >= 2
                                and fire.picture.drones["UAV1"].video_url.startswith("rtsp://"), 10)
            uas.send(field_hub.mavlink, pilot.position(60.21, 24.81))
            await fire.wait_for(lambda: abs((fire.picture.drones["UAV1"].lat or 0) - 60.21) < 1e-6, 10)

            texts = {m.text: m.agency for m in fire.picture.messages}
            assert texts == {"E11: on scene": "fire",
                             "EMERGENCY 911 from P1 at 60.10000, 24.90000 (device POLICE-TAK)": "police"}
            assert positions(field_hub.db, "E11") == [(60.10, 24.90), (60.11, 24.91)]
            drone = fire.picture.drones["UAV1"]
            assert drone.agency == "police" and drone.video_url == "rtsp://10.0.0.5/uav1"
            assert [(round(la, 5), round(lo, 5)) for _, la, lo in drone.track] == [(60.2, 24.8), (60.21, 24.81)]

            # Counted and visible: unknown senders per feed, refusals by code, newest items with their bytes.
            report = await feeds(boss)
            by_name = report["by_name"]
            assert by_name["cot"]["unknown"] == 4 and by_name["nmea"]["unknown"] == 1
            assert by_name["mavlink"]["unknown"] == 2
            unknown = {(u["feed"], u["source"]): u["count"] for u in report["unknown_devices"]}
            assert unknown == {("cot", "udp:127.0.0.1"): 4, ("nmea", "udp:127.0.0.1"): 1,
                               ("mavlink", "udp:127.0.0.1"): 2}
            cot_codes = [item["code"] for item in by_name["cot"]["recent"]]
            assert cot_codes.count("not_owned") == 4 and "bad_url" in cot_codes and "unknown_device" in cot_codes
            assert {item["code"] for item in by_name["nmea"]["recent"]} == {"unknown_device", "not_owned"}
            not_owned = [i["reason"] for i in by_name["cot"]["recent"] if i["code"] == "not_owned"]
            assert "device POLICE-TAK does not report for unit E11" in not_owned
            assert "device FIRE-MODEM does not report for unit SUPERVISOR" in not_owned

            # Revoking cuts a device off at once: its next datagram is an unknown device's; its open stream closes.
            await boss.call("device.revoke", {"id": "FIRE-MODEM", "reason": "modem stolen"})
            fire_modem.send(field_hub.cot, cot_position("E11", 60.33, 24.33))
            await boss.call("device.revoke", {"id": "POLICE-TAK", "reason": "server compromised"})
            tak.write(cot_position("P1", 60.34, 24.34))
            await asyncio.wait_for(tak_reader.read(), 10)  # what it was served, then the end: the hub closed it
            assert tak_reader.at_eof()
            tak.close()
            await reported(boss, lambda r: r["by_name"]["cot"]["unknown"] == 5)
            assert "P1" not in fire.picture.units and positions(field_hub.db, "E11")[-1] == (60.11, 24.91)
            assert [(d.id, d.revoke_reason) for d in boss.picture.devices.values() if not d.active] == [
                ("FIRE-MODEM", "modem stolen"), ("POLICE-TAK", "server compromised")]
            # What a device put on the map, a supervisor can take off it.
            await boss.call("unit.retire", {"unit": "E11", "reason": "its modem was stolen"})
            await boss.call("drone.retire", {"drone": "UAV1"})
            await fire.wait_for(lambda: "E11" not in fire.picture.units and "UAV1" not in fire.picture.drones, 10)

    try:
        asyncio.run(scenario())
    finally:
        for radio in (fire_modem, avl_e11, avl_m1, uas, gcs, attacker):
            radio.close()


def db_bytes(db: Path) -> int:
    """The database as it stands on disk: the file and its write-ahead log."""
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def quarantine_rows(db: Path, feed: str) -> list[dict[str, Any]]:
    reader = LogReader(db)
    try:
        return reader.quarantined(feed, limit=10_000)
    finally:
        reader.close()


class Flood(threading.Thread):
    """Send `datagram` to a port as fast as one thread can, from one socket, until `stop` is set."""

    def __init__(self, radio: Radio, port: int, datagram: bytes, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.radio, self.port, self.datagram, self.stop = radio, port, datagram, stop
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.radio.send(self.port, self.datagram)
            except OSError:  # the kernel's buffer is full: the datagram is lost, as on a real network
                continue
            self.sent += 1


def test_hostile_datagrams_cost_a_bounded_amount_and_acks_keep_flowing(field_hub: FieldHub) -> None:
    gcs, uas, modem, attacker = Radio(), Radio(), Radio(), Radio()
    figures: list[str] = []

    async def scenario() -> None:
        async with signed_in(field_hub.url, "super1", "fire1") as (boss, fire):
            await register_device(boss, "EAGLE-GCS", "police", ["klv"], "udp", gcs.source, drones=["EAGLE-1"])
            await register_device(boss, "UAS-9", "police", ["mavlink"], "udp", uas.source, drones=["UAV9"])
            await register_device(boss, "MODEM", "fire", ["cot"], "udp", modem.source, units=["E1"])

            # A 47 KB KLV datagram naming 1,200 drones, from the registered ground station: none is created.
            packets = b"".join(encode_uas_ls({"platform_tail_number": f"F{n}", "sensor_latitude": 60.1 + n * 1e-5,
                                              "sensor_longitude": 24.9}) for n in range(1200))
            assert 40_000 < len(packets) < 65_000
            before = db_bytes(field_hub.db)
            for _ in range(10):
                gcs.send(field_hub.klv, packets)
            gcs.send(field_hub.klv, klv("EAGLE-1", 60.2, 24.8))  # its own drone still flies
            await fire.wait_for(lambda: "EAGLE-1" in fire.picture.drones, 10)
            await reported(boss, lambda r: r["by_name"]["klv"]["quarantined"] == 10)  # once per datagram
            rows = await settled_rows(field_hub.db, "klv")
            assert list(fire.picture.drones) == ["EAGLE-1"]
            assert len(rows) == 1 and rows[0]["code"] == "not_owned" and rows[0]["repeats"] == 10
            assert rows[0]["reason"] == "device EAGLE-GCS does not report for drone F0 (and 1199 more in this datagram)"
            assert len(rows[0]["raw"]) == RAW_KEPT and rows[0]["size"] == len(packets)
            figures.append(f"KLV: 10 datagrams of {len(packets)} B naming 1,200 drones each: 0 drones created, "
                           f"{len(rows)} quarantine row (repeats {rows[0]['repeats']}), "
                           f"database +{db_bytes(field_hub.db) - before} B")

            # A 32 KB MAVLink datagram of bad frames: one row per datagram at most, a 4 KiB prefix, repeats.
            frame = bytearray(Autopilot(9).position(60.3, 24.7))
            frame[-1] ^= 0xFF  # the CRC no longer matches
            junk = bytes(frame) * (32_768 // len(frame))
            before = db_bytes(field_hub.db)
            for _ in range(20):
                uas.send(field_hub.mavlink, junk)
            await reported(boss, lambda r: r["by_name"]["mavlink"]["quarantined"] == 20)
            rows = await settled_rows(field_hub.db, "mavlink")
            assert len(rows) == 1 and rows[0]["code"] == "bad_crc" and rows[0]["repeats"] == 20
            assert f"and {32_768 // len(frame) - 1} more in this datagram" in rows[0]["reason"]
            assert len(rows[0]["raw"]) == RAW_KEPT
            figures.append(f"MAVLink: 20 datagrams of {len(junk)} B ({32_768 // len(frame)} bad frames each): "
                           f"{len(rows)} quarantine row, database +{db_bytes(field_hub.db) - before} B")

            # 60 KB junk over CoT UDP, from the registered modem and from an unknown sender at once: first alone
            # (what it costs the database), then while a dispatcher keeps working (every command acknowledged).
            datagram = b"\x00junk" * 12_000
            before = db_bytes(field_hub.db)
            stop = threading.Event()
            floods = [Flood(modem, field_hub.cot, datagram, stop), Flood(attacker, field_hub.cot, datagram, stop)]
            for flood in floods:
                flood.start()
            try:
                await reported(boss, lambda r: r["by_name"]["cot"]["received"] >= 2000)
            finally:
                stop.set()
                for flood in floods:
                    flood.join()
            alone = (await reported(boss, lambda r: True))["by_name"]["cot"]["received"]
            await settled_rows(field_hub.db, "cot")
            grown_alone = db_bytes(field_hub.db) - before
            figures.append(f"CoT UDP junk alone: {alone} datagrams of {len(datagram)} B reached the hub "
                           f"({alone * len(datagram) / 2**20:.0f} MiB): database +{grown_alone} B "
                           f"({grown_alone / alone:.1f} B per datagram)")
            before = db_bytes(field_hub.db)
            stop = threading.Event()
            floods = [Flood(modem, field_hub.cot, datagram, stop), Flood(attacker, field_hub.cot, datagram, stop)]
            for flood in floods:
                flood.start()
            round_trips = []
            loop = asyncio.get_running_loop()
            n = 0
            try:
                await reported(boss, lambda r: r["by_name"]["cot"]["received"] >= 100)  # the flood is on
                for n in range(1, 51):
                    started = loop.time()
                    await fire.call("message.send", {"channel": "agency:fire", "text": f"during the flood {n}"})
                    round_trips.append(loop.time() - started)
            finally:
                stop.set()
                for flood in floods:
                    flood.join()
            report = await reported(boss, lambda r: r["by_name"]["cot"]["received"] > 0)
            await fire.wait_for(lambda: sum(m.text.startswith("during the flood") for m in fire.picture.messages)
                                == n, 10)
            cot = report["by_name"]["cot"]
            rows = await settled_rows(field_hub.db, "cot")
            grown = db_bytes(field_hub.db) - before
            assert len(rows) <= 3 and all(len(r["raw"]) <= RAW_KEPT for r in rows)
            assert {r["code"] for r in rows} <= {"unknown_device", "malformed_xml", "too_large", "garbage"}
            assert cot["unknown"] + cot["throttled"] + cot["quarantined"] >= cot["received"] > 0
            received = cot["received"] - alone
            figures.append(
                f"CoT UDP junk with a dispatcher at work: {sum(f.sent for f in floods)} datagrams of "
                f"{len(datagram)} B sent ({sum(f.sent for f in floods) * len(datagram) / 2**20:.0f} MiB), "
                f"{received} reached the hub (both floods: {cot['unknown']} unknown device, "
                f"{cot['throttled']} throttled, {cot['quarantined']} quarantined): "
                f"{len(rows)} quarantine rows in all, database +{grown} B with the 50 messages' events; "
                f"{n} command acks during the flood, round trip median "
                f"{sorted(round_trips)[len(round_trips) // 2] * 1000:.0f} ms, max {max(round_trips) * 1000:.0f} ms")

    try:
        asyncio.run(scenario())
    finally:
        for radio in (gcs, uas, modem, attacker):
            radio.close()
    print("\n" + "\n".join(figures))


async def settled_rows(db: Path, feed: str) -> list[dict[str, Any]]:
    """The feed's quarantine rows once the hub's batch writes have caught up with its counters."""
    previous: list[dict[str, Any]] | None = None
    while True:  # rows are written in batches a quarter of a second apart: wait for two equal readings
        rows = quarantine_rows(db, feed)
        if rows and rows == previous:
            return rows
        previous = rows
        await asyncio.sleep(0.6)


def test_the_quarantine_keeps_to_its_budget_oldest_first_and_raises_the_alarm(tmp_path: Path) -> None:
    budget = 20 * 1024
    hub = start_field_hub(tmp_path, ["--quarantine-mib", f"{budget / 2**20}"])
    radios = [Radio() for _ in range(15)]

    async def scenario() -> None:
        async with signed_in(hub.url, "super1") as (boss,):
            await register_device(boss, "MODEMS", "fire", ["cot"], "udp", units=["E1"])  # any port of 127.0.0.1
            report = await feeds(boss)
            assert report["quarantine"]["alarm"] is None and report["quarantine"]["budget_bytes"] == budget
            for n, radio in enumerate(radios):  # each sender its own row: 4 KiB of its junk and the reason
                radio.send(hub.cot, b"\x00junk %d " % n * 2000)
            report = await reported(boss, lambda r: r["quarantine"]["pruned_rows"] > 0
                                    and r["by_name"]["cot"]["quarantined"] == len(radios))
            assert report["quarantine"]["alarm"].startswith(f"quarantine over its budget ({budget} bytes)")
            rows = await settled_rows(hub.db, "cot")
            kept = sum(len(r["raw"]) + len(r["reason"]) + 100 for r in rows)
            assert kept <= budget and 0 < len(rows) < len(radios)
            assert [r["source"] for r in rows] == [f"udp:{radio.source}" for radio in radios][::-1][:len(rows)]
            print(f"\nquarantine budget {budget} B: {len(radios)} rows offered, {len(rows)} kept ({kept} B), "
                  f"{report['quarantine']['pruned_rows']} pruned oldest first")

    try:
        asyncio.run(scenario())
    finally:
        for radio in radios:
            radio.close()
        hub.stop()
        hub.kill()
    assert any("pruning the oldest rows" in line for line in hub.output)
