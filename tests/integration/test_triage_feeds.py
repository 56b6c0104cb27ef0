"""Reports and feed health against a real hub process: a feed account's reports become candidates every console
sees, one near an open call is proposed for merge, dispatchers accept/merge/dismiss them; hostile reports are
refused with clear codes and quarantined; garbage sent to the CoT and NMEA listeners shows up, with its raw
bytes, in the feeds query, also after a restart."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.client.connection import CommandRefused, HubClient
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.waiting import signed_in, until

LAT, LON = 60.1685, 24.9440
NEAR_LAT = LAT + 40 / 111_195  # 40 m north


def report(**kw: Any) -> dict[str, Any]:
    return {"source": "app", "source_id": "resident-4411", "type": "structure_fire", "lat": LAT, "lon": LON,
            "text": "smoke from the roof", **kw}


async def refused(client: HubClient, name: str, args: dict[str, Any]) -> str:
    with pytest.raises(CommandRefused) as info:
        await client.call(name, args, timeout=10)
    return info.value.code


def test_reports_become_candidates_that_dispatchers_accept_merge_and_dismiss(hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(hub.url, "feed1", "fire1", "police1", "medical1", "super1") as (
                feed, fire, police, medical, boss):
            consoles = (fire, police, medical)
            await fire.call("incident.create", {"type": "structure_fire", "lat": LAT, "lon": LON,
                                                "address": "Aleksanterinkatu 15"})
            secret = (await police.call("incident.create", {"type": "assault", "lat": LAT, "lon": LON,
                                                            "restricted": True})).seqs

            # Three reports: one 40 m from the open fire, one far away, one of an assault near the secret call.
            await feed.call("report.submit", report(lat=NEAR_LAT, address="Aleksanterinkatu 13",
                                                    media_url="https://app.example/p/88.jpg"))
            await feed.call("report.submit", report(source="sensor", source_id="smoke-7F", type="fire_alarm",
                                                    lat=60.1750, lon=24.9300, text="detector loop 3"))
            await feed.call("report.submit", report(source="camera", source_id="cam-12", type="assault",
                                                    lat=NEAR_LAT, text="fight detected"))
            for console in consoles:
                await console.wait_for(lambda c=console: len(c.picture.candidates) == 3, 10)
            for console in consoles:
                near = console.picture.candidates["C-1"]
                assert near.state == "pending" and near.proposed_merge() is not None
                assert near.proposed_merge().incident == "1001" and 35 < near.proposed_merge().distance_m < 45
                assert console.picture.candidates["C-2"].proposed_merge() is None
            # The restricted assault is proposed to police only; fire and medical never hear of it.
            await police.wait_for(lambda: police.picture.candidates["C-3"].proposed_merge() is not None, 10)
            assert police.picture.candidates["C-3"].proposed_merge().incident == "1002"
            assert fire.picture.candidates["C-3"].proposed_merge() is None
            assert medical.picture.candidates["C-3"].proposed_merge() is None
            assert secret and "1002" not in fire.picture.incidents

            # Merge the duplicate into the open call: a note on it, the candidate leaves the queue everywhere.
            await fire.call("candidate.merge", {"candidate": "C-1", "incident": "1001"})
            # Accept the sensor report: a new incident by the incident.create rules.
            accepted = await fire.call("candidate.accept", {"candidate": "C-2", "priority": 2})
            # Police dismiss the camera's report.
            await police.call("candidate.dismiss", {"candidate": "C-3", "reason": "camera false positive"})
            for console in consoles:
                await console.wait_for(lambda c=console: all(x.state != "pending"
                                                             for x in c.picture.candidates.values()), 10)
                assert [console.picture.candidates[k].state for k in ("C-1", "C-2", "C-3")] == [
                    "merged", "accepted", "dismissed"]
            notes = [n.text for n in fire.picture.incidents["1001"].notes]
            assert notes[-1] == ("Merged report C-1 from app resident-4411: smoke from the roof "
                                 "[https://app.example/p/88.jpg]")
            new_id = fire.picture.candidates["C-2"].incident
            assert new_id == "1003" and len(accepted.seqs) == 2
            for console in consoles:
                await console.wait_for(lambda c=console: new_id in c.picture.incidents, 10)
                incident = console.picture.incidents[new_id]
                assert (incident.type, incident.priority, incident.owner) == ("fire_alarm", 2, "fire")
            assert medical.picture.candidates["C-3"].reason == "camera false positive"
            assert await refused(medical, "candidate.accept", {"candidate": "C-2"}) == "already_decided"

            # Hostile reports: refused with a clear code, nothing created, each one quarantined.
            hostile = [(report(type="alien_landing"), "unknown_type"), (report(lat=123.4), "bad_coordinates"),
                       (report(text="x" * 5000), "too_long"), (report(source="rumour"), "unknown_source"),
                       (report(media_url="javascript:alert(1)"), "bad_url")]
            for args, code in hostile:
                assert await refused(feed, "report.submit", args) == code
            assert await refused(feed, "report.submit", report(lat="north")) == "bad_args"
            assert await refused(fire, "report.submit", report()) == "forbidden"
            await boss.call("report.submit", report(source="sensor", source_id="test-1", type="fire_alarm"))
            await fire.wait_for(lambda: "C-4" in fire.picture.candidates, 10)
            assert len(fire.picture.candidates) == 4

            status = {f["name"]: f for f in (await boss.query("feeds"))["feeds"]}
            reports = status["reports"]
            assert reports["accepted"] == 4 and reports["quarantined"] == len(hostile) + 1
            assert reports["last_error"]["code"] == "forbidden"
            assert {item["code"] for item in reports["recent"]} == {code for _, code in hostile} | {"forbidden"}
            oversize = next(i for i in reports["recent"] if i["code"] == "too_long")
            assert oversize["size"] > 5000 and bytes.fromhex(oversize["raw_hex"]).startswith(b'{"type":"command"')
            websocket = status["websocket"]  # a frame the protocol refused, from a feed account
            assert websocket["quarantined"] == 1 and websocket["last_error"]["code"] == "bad_args"
            assert "report.submit" in websocket["last_error"]["reason"]
            assert websocket["recent"][0]["source"].startswith("ws:feed1@127.0.0.1:")
        reader = LogReader(hub.db)
        await until(lambda: len(reader.quarantined()) >= len(hostile) + 2)  # written in batches, off the loop
        assert {row["feed"] for row in reader.quarantined()} == {"reports", "websocket"}
        assert len(reader.quarantined("reports")) == len(hostile) + 1
        reader.close()

    asyncio.run(scenario())


@pytest.fixture
def feed_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, int, int]]:
    """A hub process with CoT (TCP and UDP) and NMEA listeners."""
    db = tmp_path / "hub.db"
    make_accounts(db)
    cot, nmea = free_port(), free_port()
    process = HubProcess(db, free_port(), ["--cot-port", str(cot), "--nmea-port", str(nmea)])
    process.start()
    yield process, cot, nmea
    process.stop()
    process.kill()


def udp_send(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))


def test_feeds_query_shows_quarantined_garbage_and_who_may_ask(feed_hub: tuple[HubProcess, int, int]) -> None:
    hub, cot_port, nmea_port = feed_hub
    garbage = b"\x00\x13garbage\xff" * 3
    bad_nmea = b"$GPRMC,120000.00,A,6010.0000,N,02456.0000,E,010.0,090.0,010125,,*00\r\n"

    async def feeds(client: HubClient) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in (await client.query("feeds"))["feeds"]}

    async def scenario() -> None:
        async with signed_in(hub.url, "super1", "fire1", "observer1", "feed1") as (boss, fire, observer, feed):
            for device, formats, transport in (("MODEM", ["cot", "nmea"], "udp"), ("TAK", ["cot"], "tcp")):
                await register_device(boss, device, "fire", formats, transport, units=["E1"])
            before = await feeds(fire)
            assert before["cot"]["health"] == "idle" and before["cot"]["quarantined"] == 0
            assert before["cot"]["listening"] == [f"tcp 127.0.0.1:{cot_port}", f"udp 127.0.0.1:{cot_port}"]
            udp_send(cot_port, garbage)
            _, writer = await asyncio.open_connection("127.0.0.1", cot_port)
            writer.write(b"<event version='2.0' uid='x' type='a-f-G-U-C'")  # and the stream ends
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            udp_send(nmea_port, bad_nmea)

            deadline = time.monotonic() + 10
            while True:
                status = await feeds(boss)
                if status["cot"]["quarantined"] >= 2 and status["nmea"]["quarantined"] >= 1:
                    break
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.1)
            cot, nmea = status["cot"], status["nmea"]
            assert cot["health"] == "errors" and cot["received"] == 2 and cot["accepted"] == 0
            assert {i["code"] for i in cot["recent"]} == {"malformed_xml", "truncated"}
            udp_item = next(i for i in cot["recent"] if i["code"] == "malformed_xml")
            assert bytes.fromhex(udp_item["raw_hex"]) == garbage and udp_item["source"].startswith("udp:127.0.0.1:")
            assert nmea["last_error"]["code"] == "bad_checksum"
            assert bytes.fromhex(nmea["recent"][0]["raw_hex"]) == bad_nmea.rstrip(b"\r\n")

            # Dispatchers and supervisors may read feed health; observers and feeds may not.
            assert await refused_query(observer, "feeds") == "forbidden"
            assert await refused_query(feed, "feeds") == "forbidden"
            assert await refused_query(fire, "weather") == "unknown_query"

        # A restarted hub still counts and shows what it quarantined.
        hub.stop()
        hub.start()
        async with signed_in(hub.url, "super1") as (boss,):
            status = await feeds(boss)
            assert status["cot"]["quarantined"] == 2 and status["nmea"]["quarantined"] == 1
            assert {i["code"] for i in status["cot"]["recent"]} == {"malformed_xml", "truncated"}

    asyncio.run(scenario())


async def refused_query(client: HubClient, what: str) -> str:
    with pytest.raises(CommandRefused) as info:
        await client.query(what)
    return info.value.code


def test_a_raw_query_frame_gets_a_result_or_a_reject(hub: HubProcess) -> None:
    """The wire form, without the client library: ids come back as sent."""
    from websockets.asyncio.client import connect

    async def scenario() -> None:
        async with connect(hub.url) as ws:
            await ws.send(json.dumps({"type": "hello", "v": 1, "user": "observer1", "password": PASSWORD}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(json.dumps({"type": "query", "id": "q-9", "what": "feeds"}))
            assert json.loads(await ws.recv()) == {"type": "reject", "id": "q-9", "code": "forbidden",
                                                   "message": "a observer may not query feeds"}
            await ws.send(json.dumps({"type": "query", "id": "q-10"}))
            answer = json.loads(await ws.recv())
            assert answer["code"] == "bad_message" and answer["id"] == "q-10"

    asyncio.run(scenario())
