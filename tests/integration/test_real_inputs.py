"""The real-world corpus (tests/data/real) through the real transports into a real hub process, as a console sees
it: positions where the devices were (never 0,0), emergencies on the console, what nothing uses counted as
ignored by kind and not quarantined, feed health not "errors".

The captures are replayed at the current time, as a replay tool feeds a live system (tests/replay_now.py): the
hub takes observed times only from the last 7 days to 30 s ahead of its clock, so a capture as recorded is
refused as `bad_time` (shown with one CoT event). MAVLink and KLV fixes take the hub's receive time: their
captures go as they are."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pynmea2
import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import common as mavlink2
from takproto import xml2proto
from takproto.constants import TAKProtoVer

from app.client.connection import HubClient
from app.domain.devices import MAX_RATE
from app.feeds.klv import decode_uas_ls, encode_uas_ls
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device, send_stream
from tests.integration.waiting import signed_in
from tests.replay_now import cot_at, nmea_at

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
#: NMEA logs sent over UDP, each from its own port, and the unit the device map gives it.
NMEA_UDP = {"bu353-glonass.log": "E11", "beidou-gb.log": "E13", "bt451.log": "E14", "ch-4711.log": "E15"}
#: bt451.log joins three recordings ("# No fix, indoors", "# Stationary" at 15:25, "# Moving in car" at 14:33):
#: one device going back in time would be refused as stale, rightly. We send the first and the last.
SKIPPED = {"bt451.log": "# Stationary"}


def sentences(name: str) -> list[str]:
    """The sentences of a log as recorded (see `nmea_at` for the ones sent)."""
    kept, skipping = [], False
    for line in (REAL / "nmea" / name).read_text().splitlines():
        if line.startswith("# "):
            skipping = line.strip() == SKIPPED.get(name)
        elif line.startswith(("$", "!")) and not skipping:
            kept.append(line)
    return kept


def last_fix(lines: list[str], kind: str) -> tuple[float, float]:
    """The last valid fix of a log as pynmea2 (an independent parser) reads it."""
    fixes = [pynmea2.parse(line) for line in lines if line[3:6] == kind]
    valid = [f for f in fixes if f.status == "A"]
    return valid[-1].latitude, valid[-1].longitude


class Sender:
    """A UDP socket bound to a port of its own, so the device map can name it ``udp:127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def send(self, port: int, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def senders() -> Iterator[dict[str, Sender]]:
    made = {name: Sender() for name in [*NMEA_UDP, "garmin", "klv", "mavlink", "cot"]}
    yield made
    for sender in made.values():
        sender.close()


async def feeds_until(console: HubClient, condition: Callable[[dict[str, Any]], bool],
                      timeout: float = 30.0) -> dict[str, Any]:
    """The hub's `feeds` report (by feed name) once `condition` holds on it: counters change without events."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        report = {f["name"]: f for f in (await console.query("feeds"))["feeds"]}
        if condition(report):
            return report
        if loop.time() > deadline:
            raise TimeoutError(json.dumps(report, indent=1)[:4000])
        await asyncio.sleep(0.1)


async def seen(console: HubClient, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for the console to see `condition`; on timeout say what was missing and how the feeds stand."""
    try:
        await console.wait_for(condition, timeout)
    except TimeoutError:
        report = {f["name"]: {k: f[k] for k in ("received", "accepted", "ignored_kinds", "quarantined", "recent")}
                  for f in (await console.query("feeds"))["feeds"]}
        raise AssertionError(f"{what} not seen; feeds: {json.dumps(report)[:3000]}") from None


def near(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) < 1e-5


def unit_at(console: HubClient, unit: str, where: tuple[float, float]) -> Callable[[], bool]:
    def check() -> bool:
        u = console.picture.units.get(unit)
        return u is not None and near(u.lat, where[0]) and near(u.lon, where[1])
    return check


def drone_at(console: HubClient, drone: str, where: tuple[float, float]) -> Callable[[], bool]:
    def check() -> bool:
        d = console.picture.drones.get(drone)
        return d is not None and near(d.lat, where[0]) and near(d.lon, where[1])
    return check


def mavlink(system_id: int, *messages: str) -> list[bytes]:
    """Datagrams as an autopilot sends them: "hb-fixed", "hb-quad", "nofix" (0,0 before GPS lock), "fix"."""
    mav = mavlink2.MAVLink(None, srcSystem=system_id)
    out = []
    for n, what in enumerate(messages):
        if what.startswith("hb-"):
            airframe = mavlink2.MAV_TYPE_FIXED_WING if what == "hb-fixed" else mavlink2.MAV_TYPE_QUADROTOR
            msg = mav.heartbeat_encode(airframe, mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA, 0, 0, 4)
        else:
            lat, lon = (0, 0) if what == "nofix" else (round(47.3977 * 1e7) + n, round(8.5456 * 1e7))
            msg = mav.global_position_int_encode(1000 * (n + 1), lat, lon, 488_000, 120_000, 0, 0, 0, 65535)
        out.append(bytes(msg.pack(mav)))
    return out


def test_the_real_corpus_through_real_transports(tmp_path: Path, senders: dict[str, Sender]) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    ports = {name: free_port() for name in ("cot", "nmea", "nmea_tcp", "mavlink", "klv")}
    devices = {f"udp:127.0.0.1:{senders[log].port}": unit for log, unit in NMEA_UDP.items()}
    devices["tcp:127.0.0.1"] = "E12"  # a TCP client's port changes with every connection: its host names it
    device_map = tmp_path / "devices.json"
    device_map.write_text(json.dumps({"devices": devices}))
    hub = HubProcess(db, free_port(), ["--cot-port", str(ports["cot"]), "--nmea-port", str(ports["nmea"]),
                                       "--nmea-tcp-port", str(ports["nmea_tcp"]),
                                       "--mavlink-port", str(ports["mavlink"]), "--klv-port", str(ports["klv"]),
                                       "--nmea-devices", str(device_map)])
    hub.start()
    try:
        asyncio.run(scenario(hub, ports, senders))
    finally:
        hub.stop()
        hub.kill()


async def scenario(hub: HubProcess, ports: dict[str, int], senders: dict[str, Sender]) -> None:
    async with signed_in(hub.url, "super1") as (console,):
        await register_the_senders(console)
        await cot(console, ports["cot"], senders["cot"])
        await nmea(console, ports, senders)
        await drones(console, ports, senders)


async def register_the_senders(supervisor: HubClient) -> None:
    """Only registered devices are heard: each transport's senders (all on 127.0.0.1), for what they report.
    The rates are a replayed capture's, not a live device's: the tests send logs in bursts."""
    await register_device(supervisor, "REAL-TAK-TCP", "police", ["cot"], "tcp", units=["DFPC-iSchmidt"],
                          drones=["2983J8B001V013"], rate=MAX_RATE)
    await register_device(supervisor, "REAL-TAK-UDP", "police", ["cot"], "udp", units=["SP-Dev"],
                          drones=["UAS-Phoenix-2"], rate=MAX_RATE)
    await register_device(supervisor, "REAL-GPS-UDP", "fire", ["nmea"], "udp", units=list(NMEA_UDP.values()),
                          rate=MAX_RATE)
    await register_device(supervisor, "REAL-GPS-TCP", "fire", ["nmea"], "tcp", units=["E12"], rate=MAX_RATE)
    await register_device(supervisor, "REAL-UAS", "police", ["mavlink"], "udp", drones=["UAV1", "UAV5", "UAV6"],
                          rate=MAX_RATE)
    await register_device(supervisor, "REAL-KLV", "police", ["klv"], "udp", drones=["MISB-1"], rate=MAX_RATE)


async def cot(console: HubClient, port: int, sender: Sender) -> None:
    cot_dir = REAL / "cot"

    def replayed(name: str) -> bytes:
        return cot_at((cot_dir / name).read_bytes(), time.time())

    # TCP, as iTAK streams XML: the event, a newline, the connection closes.
    await send_stream(port, replayed("itak-pli.xml").strip() + b"\n")
    await seen(console, unit_at(console, "DFPC-iSchmidt", (41.52309645, -107.72376567)), "the iTAK unit")
    # TAK protocol v1, the default of current clients: the watch's emergency as a mesh datagram (UDP), the
    # drone as stream frames (TCP), encoded by takproto from the replayed XML.
    sender.send(port, bytes(xml2proto(replayed("wearos-emergency-b-a-o.xml"), TAKProtoVer.MESH)))
    await send_stream(port, bytes(xml2proto(replayed("uastool-dji.xml"), TAKProtoVer.STREAM)))
    # XML over UDP: a drone before its fix, cameras, things nothing here uses.
    for name in ("uastool-dji-m30t-nofix.xml", "camera-i25.xml", "camera-lake-city.cot", "file-transfer-ack-nan.xml",
                 "spotted-b-m-p-s-m.xml", "chat-delivered-b-t-f-d.xml"):
        sender.send(port, replayed(name))
    await seen(console, lambda: any(m.text.startswith("EMERGENCY Manual Alert: Gunshot from SP-Dev at 41.88384")
                                    for m in console.picture.messages), "the WearOS emergency")
    await seen(console, drone_at(console, "2983J8B001V013", (39.1, -108.6)), "the DJI drone")
    # The two traffic cameras (points with a video link naming no drone) become cameras of the device.
    await seen(console, lambda: {(round(c.lat or 0, 5), round(c.lon or 0, 5)) for c in console.picture.cameras.values()}
               == {(38.20891, -104.62822), (38.03518, -107.31286)}, "the two traffic cameras")
    report = await feeds_until(console, lambda r: r["cot"]["received"] >= 9 and r["cot"]["ignored"] >= 4)
    status = report["cot"]
    assert status["quarantined"] == 0 and status["health"] == "ok", status
    assert status["ignored_kinds"] == {"no_fix": 1, "b-f-t-a": 1, "b-m-p-s-m": 1, "b-t-f-d": 1}
    assert "UAS-Phoenix-2" not in console.picture.drones  # never drawn at 0,0
    assert all((u.lat, u.lon) != (0.0, 0.0) for u in console.picture.units.values())

    # The iTAK report as recorded in 2023, not replayed at the current time: refused for its time, the unit
    # stays where its replay put it. (Last, as a quarantine shows the feed's health as "errors" for a minute.)
    where = console.picture.units["DFPC-iSchmidt"].position_at
    await send_stream(port, (cot_dir / "itak-pli.xml").read_bytes().strip() + b"\n")
    report = await feeds_until(console, lambda r: r["cot"]["quarantined"] >= 1)
    assert report["cot"]["quarantined"] == 1 and report["cot"]["last_error"]["code"] == "bad_time", report["cot"]
    assert "position of DFPC-iSchmidt" in report["cot"]["last_error"]["reason"]
    assert console.picture.units["DFPC-iSchmidt"].position_at == where


async def nmea(console: HubClient, ports: dict[str, int], senders: dict[str, Sender]) -> None:
    for unit in (*NMEA_UDP.values(), "E12"):
        await console.call("unit.register", {"id": unit, "agency": "fire", "kind": "engine"})
    # Each log replayed at the current time: its last date and time is now, its other times shifted alike.
    logs = {log: nmea_at(sentences(log), time.time()) for log in NMEA_UDP}
    for log, lines in logs.items():  # one datagram per sentence, as NMEA-over-UDP relays send them
        for line in lines:
            senders[log].send(ports["nmea"], line.encode() + b"\r\n")
    # A GLL-only receiver over TCP: the GLL sentences of the GR601-W log (replayed by its RMC dates), nothing
    # else. Without a date, the hub dates their times of day from its own clock.
    gll = [line for line in nmea_at(sentences("gr601-w.log"), time.time()) if line[3:6] == "GLL"]
    await send_stream(ports["nmea_tcp"], "".join(f"{line}\r\n" for line in gll).encode())
    for log, unit in NMEA_UDP.items():
        await seen(console, unit_at(console, unit, last_fix(logs[log], "RMC")), f"{unit} at the end of {log}")
    await seen(console, unit_at(console, "E12", last_fix(gll, "GLL")), "E12 at its last GLL fix")
    total = sum(len(lines) for lines in logs.values()) + len(gll)
    report = await feeds_until(console, lambda r: r["nmea"]["received"] >= total)
    status = report["nmea"]
    assert status["quarantined"] == 0 and status["health"] == "ok", status
    assert {"GSV", "GSA", "TXT", "proprietary", "no_fix"} <= set(status["ignored_kinds"])
    assert status["accepted"] >= 30  # real fixes; most sentences of a receiver carry none

    # A Garmin in simulator mode with one line cut on the wire: only that line is quarantined.
    garmin = nmea_at(sentences("garmin-geko201.log"), time.time())
    for line in garmin:
        senders["garmin"].send(ports["nmea"], line.encode() + b"\r\n")
    report = await feeds_until(console, lambda r: r["nmea"]["received"] >= total + len(garmin))
    assert report["nmea"]["quarantined"] == 1 and report["nmea"]["last_error"]["code"] == "bad_checksum"


def tlog_datagrams(path: Path, size: int = 1400) -> tuple[list[bytes], tuple[float, float]]:
    """The MAVLink frames of a telemetry log (pymavlink splits it: each has an 8-byte time stamp before it), packed
    into datagrams as a serial-to-UDP bridge sends them, and the autopilot's last GLOBAL_POSITION_INT."""
    log = mavutil.mavlink_connection(str(path), dialect="ardupilotmega")
    datagrams, current, last = [], b"", (0.0, 0.0)
    while (msg := log.recv_match()) is not None:
        frame = bytes(msg.get_msgbuf())
        if len(current) + len(frame) > size:
            datagrams.append(current)
            current = b""
        current += frame
        if msg.get_type() == "GLOBAL_POSITION_INT" and msg.get_srcSystem() == 1:
            last = (msg.lat / 1e7, msg.lon / 1e7)
    log.close()
    return [*datagrams, current], last


async def drones(console: HubClient, ports: dict[str, int], senders: dict[str, Sender]) -> None:
    # A real ArduCopter flight (Mission Planner's tlog: the copter, its radio, the ground station's requests), as
    # recorded: the hub times MAVLink fixes by when it receives them (time_boot_ms counts from the autopilot's boot).
    datagrams, last = tlog_datagrams(REAL / "mavlink" / "2013-10-13 18-31-24.tlog")
    for n in range(0, len(datagrams), 100):  # paced by what the hub has taken: no fixed sleeps, no lost bursts
        batch = datagrams[n:n + 100]
        for datagram in batch:
            senders["mavlink"].send(ports["mavlink"], datagram)
        sent = n + len(batch)
        await feeds_until(console, lambda r, sent=sent: r["mavlink"]["received"] >= sent)
    await seen(console, drone_at(console, "UAV1", last), "the ArduCopter at its last fix")
    assert console.picture.drones["UAV1"].kind == "multirotor"
    report = await feeds_until(console, lambda r: r["mavlink"]["received"] >= len(datagrams))
    assert report["mavlink"]["quarantined"] == 0 and report["mavlink"]["health"] == "ok", report["mavlink"]
    assert not {"UAV51", "UAV255"} & set(console.picture.drones)  # not its radio, not the ground station

    # MAVLink: a fixed wing sends a no-lock fix and a fix before its first heartbeat; a quad a no-lock fix.
    for datagram in mavlink(5, "nofix", "fix", "hb-fixed", "fix") + mavlink(6, "hb-quad", "nofix"):
        senders["mavlink"].send(ports["mavlink"], datagram)
    await console.wait_for(lambda: "UAV5" in console.picture.drones and console.picture.drones["UAV5"].lat, 15)
    assert console.picture.drones["UAV5"].kind == "fixed_wing"
    assert near(console.picture.drones["UAV5"].lat, 47.3977 + 3e-7)
    report = await feeds_until(console, lambda r: r["mavlink"]["ignored_kinds"].get("before_heartbeat", 0) >= 2
                               and r["mavlink"]["ignored_kinds"].get("no_fix", 0) >= 1)
    kinds = report["mavlink"]["ignored_kinds"]
    assert kinds.pop("unused_message") > 0  # the tlog's PARAM_VALUE, RADIO... frames
    assert kinds == {"before_heartbeat": 2, "no_fix": 1}, report["mavlink"]
    assert console.picture.drones["UAV6"].lat is None  # registered, never drawn at 0,0

    # KLV: the sample with a wrong checksum is refused; a packet naming the platform, then the real packet
    # that carries only changing values, from the same sender: it is that platform's. As recorded: the hub times
    # KLV fixes by when it receives them, not by the packet's precision time stamp (tag 2).
    real = (REAL / "klv" / "DynamicOnlyMISMMSPacketData.bin").read_bytes()
    values = decode_uas_ls(real)
    assert values.sensor_latitude is not None and values.sensor_longitude is not None
    named = encode_uas_ls({"platform_tail_number": "MISB-1", "sensor_latitude": values.sensor_latitude + 0.01,
                           "sensor_longitude": values.sensor_longitude})
    for datagram in ((REAL / "klv" / "DynamicConstantMISMMSPacketData.bin").read_bytes(), named, real):
        senders["klv"].send(ports["klv"], datagram)
    await console.wait_for(drone_at(console, "MISB-1", (values.sensor_latitude, values.sensor_longitude)), 15)
    assert near(console.picture.drones["MISB-1"].heading, values.platform_heading or -1)
    report = await feeds_until(console, lambda r: r["klv"]["received"] >= 3)
    assert report["klv"]["quarantined"] == 1 and report["klv"]["last_error"]["code"] == "bad_checksum"
