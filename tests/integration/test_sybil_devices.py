"""A Sybil attempt through a device that cannot create units, against a real hub process: a registered ambulance
AVL box sends NMEA for many units that do not exist (its registration lists them, as the over-the-wire benchmark's
attack does, and the device map names them). Every fix stays refused and quarantined, nothing reaches the map, and
the supervisors get one `security.alert` (rule `sybil`) naming the device; a fire AVL box naming one ambulance it
does not own again and again raises nothing. The same holds for CoT callsigns and MAVLink drones a device names
but does not own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.client.connection import HubClient
from app.store.log import LogReader
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.test_field_devices import Autopilot, Radio, at, avl_fix, cot_position, feeds
from tests.integration.waiting import signed_in

#: More made-up units than the Sybil rule allows a device in its window (`SYBIL_COUNT` is 10).
FAKES = [f"SYB{k}" for k in range(15)]


class NmeaHub(HubProcess):
    """A hub with its NMEA listener on and a device map naming the ambulance and the fakes' receivers; CoT and
    MAVLink on too."""

    def __init__(self, db: Path) -> None:
        self.nmea = free_port()
        devices = db.parent / "avl.json"
        devices.write_text(json.dumps({"devices": {"AVL-M1": "M1", **{f"GPS-{name}": name for name in FAKES}}}))
        self.cot, self.mavlink = free_port(), free_port()
        super().__init__(db, free_port(), ["--nmea-port", str(self.nmea), "--nmea-devices", str(devices),
                                           "--cot-port", str(self.cot), "--mavlink-port", str(self.mavlink)])


@pytest.fixture
def nmea_hub(tmp_path: Path) -> Iterator[NmeaHub]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = NmeaHub(db)
    process.start()
    yield process
    process.stop()
    process.kill()


def test_a_device_naming_many_units_it_cannot_create_is_one_sybil_finding(nmea_hub: NmeaHub) -> None:
    ambulance, fire_box = Radio(), Radio()

    async def scenario() -> None:
        async with signed_in(nmea_hub.url, "super1") as (boss,):
            await register_device(boss, "AMB-AVL", "medical", ["nmea"], "udp", ambulance.source,
                                  units=["M1", *FAKES])
            await register_device(boss, "FIRE-AVL", "fire", ["nmea"], "udp", fire_box.source, units=["E11"])
            await boss.call("unit.register", {"id": "M1", "agency": "medical", "kind": "ambulance"})

            # The fire box names one ambulance that is not its own, five times: refused, and no alarm.
            for k in range(5):
                fire_box.send(nmea_hub.nmea, avl_fix("AVL-M1", 60.30 + k / 1000, 24.30, time.time() - 5 + k))
            # The ambulance's box invents fifteen units, each twice.
            for round_ in range(2):
                for k, name in enumerate(FAKES):
                    ambulance.send(nmea_hub.nmea, avl_fix(f"GPS-{name}", 60.20 + k / 1000, 24.20,
                                                          time.time() - 3 + round_))
            # Its own ambulance still moves: once it has, every datagram before it was handled.
            ambulance.send(nmea_hub.nmea, avl_fix("AVL-M1", 60.17, 24.94, time.time()))
            await boss.wait_for(lambda: at(boss, "M1", 60.17), 10)
            await boss.wait_for(lambda: any(a.rule == "sybil" for a in boss.picture.security.alerts.values()), 10)

            alerts = list(boss.picture.security.alerts.values())
            assert [(a.rule, a.device) for a in alerts] == [("sybil", "device:AMB-AVL")]
            evidence = alerts[0].evidence
            assert evidence["unknown_ids"] == 11 and evidence["window_s"] == 600.0 and evidence["limit"] == 10
            assert len(evidence["examples"]) == 3 and set(evidence["examples"]) <= set(FAKES)
            assert not set(FAKES) & set(boss.picture.units)  # no made-up unit reaches the map
            # The input stays refused and quarantined: the fire box's five, the ambulance box's thirty.
            nmea = (await feeds(boss))["by_name"]["nmea"]
            assert nmea["quarantined"] == 5 + 2 * len(FAKES) and nmea["accepted"] == 1
            assert {item["code"] for item in nmea["recent"]} == {"unknown_unit"}

    try:
        asyncio.run(scenario())
    finally:
        ambulance.close()
        fire_box.close()
    nmea_hub.stop()
    reader = LogReader(nmea_hub.db)
    try:
        logged = [e for e in reader.iter_events(kinds=("security.alert",))]
        registered = {e.data["id"] for e in reader.iter_events(kinds=("unit.registered",))}
    finally:
        reader.close()
    assert [(e.data["rule"], e.data["device"], e.actor) for e in logged] == [
        ("sybil", "device:AMB-AVL", "device:AMB-AVL")]
    assert registered == {"M1"}


def flown(client: HubClient, drone: str, lat: float) -> bool:
    d = client.picture.drones.get(drone)
    return d is not None and d.lat is not None and abs(d.lat - lat) < 1e-6


def sybil_alerts(db: Path) -> list[tuple[str, str]]:
    reader = LogReader(db)
    try:
        return [(e.data["device"], e.data["rule"]) for e in reader.iter_events(kinds=("security.alert",))]
    finally:
        reader.close()


def test_cot_callsigns_and_drones_a_device_does_not_own_are_one_finding_each(nmea_hub: NmeaHub) -> None:
    modem, uas = Radio(), Radio()

    async def scenario() -> None:
        async with signed_in(nmea_hub.url, "super1") as (boss,):
            await register_device(boss, "FIRE-MODEM", "fire", ["cot"], "udp", modem.source, units=["E11"])
            await register_device(boss, "UAS-1", "police", ["mavlink"], "udp", uas.source, drones=["UAV1"])
            # A fire modem speaks for twelve callsigns that are not its own, twice each; an autopilot link for
            # twelve drones that are not its own.
            for _ in range(2):
                modem.send(nmea_hub.cot, *(cot_position(f"X{k}", 60.1 + k / 1000, 24.9) for k in range(12)))
                for k in range(2, 14):
                    pilot = Autopilot(k)
                    uas.send(nmea_hub.mavlink, pilot.heartbeat(), pilot.position(60.2 + k / 1000, 24.8))
            # Their own still move: once they have, every datagram before was handled.
            modem.send(nmea_hub.cot, cot_position("E11", 60.15, 24.95))
            own = Autopilot(1)
            uas.send(nmea_hub.mavlink, own.heartbeat(), own.position(60.25, 24.85))
            await boss.wait_for(lambda: at(boss, "E11", 60.15) and flown(boss, "UAV1", 60.25), 10)
            await boss.wait_for(lambda: len(boss.picture.security.alerts) >= 2, 10)
            assert set(boss.picture.units) == {"E11"} and set(boss.picture.drones) == {"UAV1"}

    try:
        asyncio.run(scenario())
    finally:
        modem.close()
        uas.close()
    nmea_hub.stop()
    assert sorted(sybil_alerts(nmea_hub.db)) == [("device:FIRE-MODEM", "sybil"), ("device:UAS-1", "sybil")]
