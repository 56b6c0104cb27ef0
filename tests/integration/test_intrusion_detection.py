"""Intrusion detection against a real hub process: a registered fire modem sends CoT over UDP, a teleport and
an impossible speed raise `security.alert` events that the supervisor's console receives and the fire
dispatcher's does not, and both consoles show the fix as suspect."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.client.connection import CommandRefused, HubClient
from app.feeds.cot import encode_position
from app.feeds.nmea import DeviceMap
from app.hub.server import Hub
from app.sim.field import FeedPorts, avl_device_map
from app.sim.fleet import plan_fleet
from app.sim.map import FallbackMap
from app.sim.runner import run_scenario
from app.sim.scenario import ScenarioConfig
from app.store.log import LogReader
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.test_sim_hub import FEED, PASSWORD, SUPERVISOR, make_db
from tests.integration.waiting import signed_in, until

M_PER_DEG = 111_195.0


class CotHub(HubProcess):
    """A hub with its CoT listeners on."""

    def __init__(self, db: Path) -> None:
        self.cot = free_port()
        super().__init__(db, free_port(), ["--cot-port", str(self.cot)])


@pytest.fixture
def cot_hub(tmp_path: Path) -> Iterator[CotHub]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = CotHub(db)
    process.start()
    yield process
    process.stop()
    process.kill()


class Modem:
    """A fire engine's vehicle modem: CoT positions over UDP from its own port, at fix times it chooses."""

    def __init__(self, port: int) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.source = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.port = port
        self.start = datetime.now(UTC).timestamp() - 60  # the fixes below were taken over the last minute

    def fix(self, at: float, metres_north: float) -> float:
        lat = 60.10 + metres_north / M_PER_DEG
        when = datetime.fromtimestamp(self.start + at, UTC)
        self.socket.sendto(encode_position("MODEM-E11", lat, 24.90, callsign="E11", group="Red", time=when),
                           ("127.0.0.1", self.port))
        return lat


def fix_at(client: HubClient, lat: float) -> bool:
    unit = client.picture.units.get("E11")
    return unit is not None and unit.lat is not None and abs(unit.lat - lat) < 1e-7


def test_a_teleport_and_an_impossible_speed_alert_supervisors_only(cot_hub: CotHub) -> None:
    modem = Modem(cot_hub.cot)

    async def scenario() -> None:
        async with signed_in(cot_hub.url, "super1", "fire1") as (boss, fire):
            await register_device(boss, "MODEM-E11", "fire", ["cot"], "udp", modem.source, units=["E11"])
            start = modem.fix(0, 0)
            await fire.wait_for(lambda: fix_at(fire, start), 10)
            believed = modem.fix(2, 20)
            await fire.wait_for(lambda: fix_at(fire, believed), 10)
            assert fire.picture.units["E11"].suspect == ""

            # A teleport: 5 km in two seconds. Applied, marked suspect, and an alert for the supervisor.
            teleported = modem.fix(4, 5000)
            await boss.wait_for(lambda: any(a.rule == "teleport" for a in boss.picture.security.alerts.values()), 10)
            await fire.wait_for(lambda: fix_at(fire, teleported), 10)
            assert fire.picture.units["E11"].suspect == "teleport"
            assert boss.picture.units["E11"].suspect == "teleport"

            # Driving on from there is believed; 600 m in ten seconds is not, for a fire engine.
            modem.fix(6, 5030)
            speeding = modem.fix(16, 5630)
            await boss.wait_for(lambda: any(a.rule == "speed" for a in boss.picture.security.alerts.values()), 10)
            await fire.wait_for(lambda: fix_at(fire, speeding), 10)
            assert fire.picture.units["E11"].suspect == "speed"
            last = modem.fix(18, 5650)  # sent after both alerts: once the dispatcher has it, it had every event before
            await fire.wait_for(lambda: fix_at(fire, last) and fire.picture.units["E11"].suspect == "", 10)

            alerts = sorted(boss.picture.security.alerts.values(), key=lambda a: a.raised_at)
            assert [(a.rule, a.device, a.unit) for a in alerts] == [
                ("teleport", "device:MODEM-E11", "E11"), ("speed", "device:MODEM-E11", "E11")]
            assert alerts[0].evidence["distance_m"] == pytest.approx(4980, abs=5)
            assert alerts[1].evidence["speed_ms"] == pytest.approx(51.8, abs=0.5)  # (600 - 30) m in (10 + 1) s
            assert fire.picture.security.alerts == {}  # the dispatcher's console never received one

            with pytest.raises(CommandRefused) as refused:
                await fire.call("security.acknowledge", {"alert": alerts[0].id}, 10)
            assert refused.value.code == "forbidden"
            await boss.call("security.acknowledge", {"alert": alerts[0].id, "note": "checked with the crew"}, 10)
            await boss.wait_for(lambda: boss.picture.security.alerts[alerts[0].id].acknowledged_by == "super1", 10)

        # The log holds the findings, for supervisors only.
        reader = LogReader(cot_hub.db)
        try:
            logged = [e for e in reader.iter_events(kinds=("security.alert", "security.acknowledged"))]
        finally:
            reader.close()
        assert [e.kind for e in logged] == ["security.alert", "security.alert", "security.acknowledged"]
        assert all(e.audience == ["security"] for e in logged)

    asyncio.run(scenario())


def test_the_simulators_attack_is_found_over_the_field_transports(tmp_path: Path) -> None:
    """`watchfloor sim --attack` (and the demo): one unit's device sends a spoofed fix; the hub raises one
    teleport alert for it, and the clean traffic around it raises nothing."""
    db = make_db(tmp_path / "sim.db")
    quiet = ScenarioConfig(calls_per_hour=0, first_call_at=None, duplicate_at=None, malformed_at=None,
                           flood_at=None, spoof_at=2.0)

    async def main() -> None:
        hub = Hub(db)
        port = await hub.start()
        ports = await hub.start_feeds(cot_port=0, cot_udp_port=0, nmea_port=0,
                                      device_map=DeviceMap(avl_device_map(plan_fleet(12, FallbackMap()))))
        try:
            stats = await run_scenario(f"ws://127.0.0.1:{port}", FEED, PASSWORD, dispatcher=(SUPERVISOR, PASSWORD),
                                       map_=FallbackMap(), units=12, duration=6, config=quiet,
                                       feeds=FeedPorts.of_gateway("127.0.0.1", ports))
            await until(lambda: hub.feeds.feed("cot").accepted + hub.feeds.feed("nmea").accepted
                        >= stats.sent["unit.position"], timeout=30)
            await hub.feeds.flush()
            assert hub.sequencer is not None
            await hub.sequencer.drain()
        finally:
            await hub.close()

    asyncio.run(main())
    reader = LogReader(db)
    try:
        alerts = list(reader.iter_events(kinds=("security.alert",)))
        suspect = [e for e in reader.iter_events(kinds=("unit.position",)) if e.data.get("suspect")]
    finally:
        reader.close()
    assert [(a.data["rule"], a.data["device"].startswith("device:SIM-")) for a in alerts] == [("teleport", True)]
    assert alerts[0].data["evidence"]["distance_m"] == pytest.approx(5000, abs=20)
    assert suspect[0].data["unit"] == alerts[0].data["unit"]
