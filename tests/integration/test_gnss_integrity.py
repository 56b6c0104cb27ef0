"""GNSS jamming and spoofing, as the field's own formats report them, through a real hub: an autopilot's MAVLink
GNSS_INTEGRITY (built with pymavlink) and a receiver's NMEA 4.10 navigational status (a real gpsd log line, its
status set to U). The fix is applied, marked suspect on every console, and raises a `security.alert` that only
supervisors receive; the next fix without a warning is believed again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymavlink.dialects.v20 import development as mavlink2

from app.client.connection import HubClient
from app.feeds.nmea import with_checksum
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.test_field_devices import Radio
from tests.integration.waiting import signed_in

#: gpsd's navika-100-fix.log, a real NMEA 4.10 RMC (San Rafael, CA): mode A, navigational status V (not given).
NAVIKA_RMC = "GPRMC,223251.00,A,3757.92653,N,12231.94543,W,0.068,338.51,210416,0.00,E,A,V"
NAVIKA_LAT = 37 + 57.92653 / 60


class GnssHub(HubProcess):
    """A hub with its NMEA and MAVLink listeners on."""

    def __init__(self, db: Path) -> None:
        self.nmea, self.mavlink = free_port(), free_port()
        super().__init__(db, free_port(), ["--nmea-port", str(self.nmea), "--mavlink-port", str(self.mavlink)])


@pytest.fixture
def gnss_hub(tmp_path: Path) -> Iterator[GnssHub]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = GnssHub(db)
    process.start()
    yield process
    process.stop()
    process.kill()


def rmc_now(status: str, seconds_ago: float) -> bytes:
    """The real RMC replayed at the current time (its time and date now, less `seconds_ago`), with `status`."""
    when = datetime.fromtimestamp(time.time() - seconds_ago, UTC)
    fields = NAVIKA_RMC.split(",")
    fields[1], fields[9], fields[-1] = f"{when:%H%M%S}.{when.microsecond // 10000:02d}", f"{when:%d%m%y}", status
    return (with_checksum(",".join(fields)) + "\r\n").encode()


class Autopilot:
    """A drone's autopilot: pymavlink's development dialect, which has GNSS_INTEGRITY."""

    def __init__(self, system_id: int) -> None:
        self.mav = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=1)
        self.fix_ms = 0

    def pack(self, msg: mavlink2.MAVLink_message) -> bytes:
        return bytes(msg.pack(self.mav))

    def heartbeat(self) -> bytes:
        return self.pack(self.mav.heartbeat_encode(mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_PX4,
                                                   mavlink2.MAV_MODE_FLAG_SAFETY_ARMED, 0, mavlink2.MAV_STATE_ACTIVE))

    def position(self, lat: float, lon: float) -> bytes:
        self.fix_ms += 1000
        return self.pack(self.mav.global_position_int_encode(self.fix_ms, round(lat * 1e7), round(lon * 1e7),
                                                             135_000, 120_000, 0, 0, 0, 9000))

    def integrity(self, jamming: int, spoofing: int) -> bytes:
        return self.pack(self.mav.gnss_integrity_encode(0, 0, 0, jamming, spoofing, 0, 0, 0, 255, 0, 255, 255))


def alerted(client: HubClient, rule: str) -> bool:
    return any(a.rule == rule for a in client.picture.security.alerts.values())


def test_receivers_and_autopilots_that_report_jamming_or_spoofing_raise_security_alerts(gnss_hub: GnssHub) -> None:
    gps, uas = Radio(), Radio()
    autopilot = Autopilot(7)

    async def scenario() -> None:
        async with signed_in(gnss_hub.url, "super1", "fire1", "police1") as (boss, fire, police):
            await register_device(boss, "AVL-E12", "fire", ["nmea"], "udp", gps.source, units=["E12"])
            await register_device(boss, "UAS-7", "police", ["mavlink"], "udp", uas.source, drones=["UAV7"])
            await boss.call("unit.register", {"id": "E12", "agency": "fire", "kind": "engine"})

            # The receiver's fix with status V (not given) is believed; the next, with U (unsafe), is applied and
            # marked; the one after, S (safe), clears the mark.
            gps.send(gnss_hub.nmea, rmc_now("V", 4))
            await fire.wait_for(lambda: fire.picture.units["E12"].lat is not None, 10)
            assert fire.picture.units["E12"].lat == pytest.approx(NAVIKA_LAT)
            assert fire.picture.units["E12"].suspect == ""
            gps.send(gnss_hub.nmea, rmc_now("U", 3))
            await boss.wait_for(lambda: alerted(boss, "gnss_unsafe"), 10)
            await fire.wait_for(lambda: fire.picture.units["E12"].suspect == "gnss_unsafe", 10)
            gps.send(gnss_hub.nmea, rmc_now("S", 2))
            await fire.wait_for(lambda: fire.picture.units["E12"].suspect == "", 10)

            # The autopilot: a believed fix, then jamming detected (in the same datagram as the next fix), then
            # spoofing, then "mitigated": believed again.
            uas.send(gnss_hub.mavlink, autopilot.heartbeat() + autopilot.position(60.17, 24.94))
            await police.wait_for(lambda: "UAV7" in police.picture.drones
                                  and police.picture.drones["UAV7"].lat is not None, 10)
            assert police.picture.drones["UAV7"].suspect == ""
            jammed = autopilot.integrity(mavlink2.GPS_JAMMING_STATE_DETECTED, mavlink2.GPS_SPOOFING_STATE_NOT_SPOOFED)
            uas.send(gnss_hub.mavlink, jammed + autopilot.position(60.1701, 24.94))
            await boss.wait_for(lambda: alerted(boss, "gnss_jamming"), 10)
            await police.wait_for(lambda: police.picture.drones["UAV7"].suspect == "gnss_jamming", 10)
            spoofed = autopilot.integrity(mavlink2.GPS_JAMMING_STATE_DETECTED, mavlink2.GPS_SPOOFING_STATE_DETECTED)
            uas.send(gnss_hub.mavlink, spoofed + autopilot.position(60.1702, 24.94))
            await boss.wait_for(lambda: alerted(boss, "gnss_spoofing"), 10)
            mitigated = autopilot.integrity(mavlink2.GPS_JAMMING_STATE_MITIGATED, mavlink2.GPS_SPOOFING_STATE_MITIGATED)
            uas.send(gnss_hub.mavlink, mitigated + autopilot.position(60.1703, 24.94))
            await police.wait_for(lambda: police.picture.drones["UAV7"].suspect == "", 10)

            alerts = sorted(boss.picture.security.alerts.values(), key=lambda a: a.raised_at)
            assert [(a.rule, a.device, a.unit, a.drone, a.evidence["gnss"]) for a in alerts] == [
                ("gnss_unsafe", "device:AVL-E12", "E12", None, "unsafe"),
                ("gnss_jamming", "device:UAS-7", None, "UAV7", "jamming"),
                ("gnss_spoofing", "device:UAS-7", None, "UAV7", "spoofing")]
            assert fire.picture.security.alerts == {} and police.picture.security.alerts == {}  # supervisors only

    try:
        asyncio.run(scenario())
    finally:
        gps.close()
        uas.close()
