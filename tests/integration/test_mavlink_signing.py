"""MAVLink 2 signing against a real hub process: a drone registered with `--credential mavlink_signing` is
heard only in frames pymavlink signed with the key `watchfloor device add` printed; its unsigned frames, frames
signed with another key, and replayed frames (a timestamp not newer than its stream's) are refused as
`bad_signature` and move nothing, while an unsigned drone registered as unsigned still flies."""

from __future__ import annotations

import asyncio
import re
import stat
import time
from pathlib import Path

from app.feeds.mavlink import SIGNING_EPOCH
from tests.integration.conftest import PASSWORD
from tests.integration.devices import register_device
from tests.integration.test_field_devices import Autopilot, Radio, reported, start_field_hub
from tests.integration.test_tls import watchfloor
from tests.integration.waiting import signed_in


def signed(system_id: int, key: bytes) -> Autopilot:
    """pymavlink signing as a ground link does it: the key, a link id, a timestamp from the clock."""
    pilot = Autopilot(system_id)
    pilot.mav.signing.secret_key = key
    pilot.mav.signing.link_id = 1
    pilot.mav.signing.timestamp = int((time.time() - SIGNING_EPOCH) * 100_000)
    pilot.mav.signing.sign_outgoing = True
    return pilot


def drone_lat(client, drone: str) -> float | None:  # type: ignore[no-untyped-def]
    found = client.picture.drones.get(drone)
    return None if found is None else found.lat


def test_a_signing_drone_is_heard_only_in_its_own_fresh_signatures(tmp_path: Path) -> None:
    secret = tmp_path / "mavlink.secret"
    hub = start_field_hub(tmp_path, ["--mavlink-secret", str(secret)])
    uas, open_uas = Radio(), Radio()
    try:
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600  # the hub made it
        password = tmp_path / "pw"
        password.write_text(PASSWORD + "\n")
        added = watchfloor("device", "add", "UAS-7", "--agency", "police", "--formats", "mavlink", "--source",
                           uas.source, "--drones", "UAV7", "--credential", "mavlink_signing", "--mavlink-secret",
                           str(secret), "--hub", hub.url, "--user", "super1", "--password-file", str(password))
        assert added.returncode == 0, added.stderr
        found = re.search(r"signing key .*: ([0-9a-f]{64})", added.stdout)
        assert found, added.stdout
        key = bytes.fromhex(found.group(1))
        assert found.group(1) not in hub.db.read_bytes().hex() and found.group(1).encode() not in hub.db.read_bytes()

        async def scenario() -> None:
            async with signed_in(hub.url, "super1", "police1") as (boss, police):
                await register_device(boss, "UAS-OPEN", "police", ["mavlink"], "udp", open_uas.source,
                                      drones=["UAV8"])  # registered as unsigned: still heard unsigned
                pilot = signed(7, key)
                uas.send(hub.mavlink, pilot.heartbeat(), pilot.position(47.10, 9.50))
                open_pilot = Autopilot(8)
                open_uas.send(hub.mavlink, open_pilot.heartbeat(), open_pilot.position(47.20, 9.60))
                await police.wait_for(lambda: drone_lat(police, "UAV7") == 47.10
                                      and drone_lat(police, "UAV8") == 47.20, 20)

                recorded = pilot.position(47.11, 9.51)
                uas.send(hub.mavlink, recorded)
                await police.wait_for(lambda: drone_lat(police, "UAV7") == 47.11, 20)
                uas.send(hub.mavlink, recorded)  # replayed: its timestamp is its stream's last
                uas.send(hub.mavlink, Autopilot(7).position(46.0, 8.0))  # unsigned, from the drone's own address
                uas.send(hub.mavlink, signed(7, b"\x07" * 32).position(46.1, 8.1))  # another key
                report = await reported(boss, lambda r: r["by_name"]["mavlink"]["quarantined"] >= 3)
                codes = [i["code"] for i in report["by_name"]["mavlink"]["recent"]]
                assert codes.count("bad_signature") == 3, codes

                uas.send(hub.mavlink, pilot.position(47.12, 9.52))  # the real drone goes on (a barrier, too)
                await police.wait_for(lambda: drone_lat(police, "UAV7") == 47.12, 20)
                track = [round(lat, 5) for _, lat, _ in police.picture.drones["UAV7"].track]
                assert track == [47.10, 47.11, 47.12]

        asyncio.run(scenario())
    finally:
        uas.close()
        open_uas.close()
        hub.stop()
        hub.kill()


def test_the_hub_refuses_a_signing_secret_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.secret"
    bad.write_text("not hex\n")
    started = watchfloor("hub", "--db", str(tmp_path / "hub.db"), "--port", "0", "--mavlink-port", "0",
                         "--mavlink-secret", str(bad))
    assert started.returncode != 0 and "--mavlink-secret" in started.stderr
