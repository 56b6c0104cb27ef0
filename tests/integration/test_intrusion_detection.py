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
from app.store.log import LogReader
from tests.integration.conftest import HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.waiting import signed_in

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
            assert alerts[1].evidence["speed_ms"] == pytest.approx(57.0, abs=0.5)
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
