"""Three agencies on one hub: one common operating picture, through a hub crash (SIGKILL) and restart."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import msgspec

from app.client.connection import HubClient
from app.domain.picture import Picture, Viewer
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, HubProcess

FLEET = [("E11", "fire", "engine", 60.1700, 24.9410), ("E12", "fire", "engine", 60.1760, 24.9500),
         ("P21", "police", "patrol", 60.1690, 24.9450), ("P22", "police", "patrol", 60.1650, 24.9380),
         ("M31", "medical", "ambulance", 60.1660, 24.9390)]


def same(a: Picture, b: Picture) -> bool:
    """Equal as consoles show it. Intrusion detection's tracks are left out: each picture folds them from the
    positions it was sent, and the hub coalesces positions for a console that falls behind (as after a crash),
    so a console's report-rate counters can differ from the hub's; no console shows or decides on them."""
    return msgspec.to_builtins(replace(a, tracks={})) == msgspec.to_builtins(replace(b, tracks={}))


async def connected(*clients: HubClient) -> None:
    for c in clients:
        c.start()
    for c in clients:
        await c.wait_for(lambda c=c: c.state == "connected", 30)


async def all_at(head: int, *clients: HubClient) -> None:
    for c in clients:
        await c.wait_for(lambda c=c: c.picture.seq >= head, 30)


def test_three_agencies_share_one_picture_through_a_hub_crash(hub: HubProcess) -> None:
    async def scenario() -> None:
        fire, police, medical = (HubClient(hub.url, u, PASSWORD) for u in ("fire1", "police1", "medical1"))
        feed = HubClient(hub.url, "feed1", PASSWORD, subscribe=False, backoff_base=0.1)
        await connected(fire, police, medical, feed)
        for uid, agency, kind, lat, lon in FLEET:
            await feed.call("unit.register", {"id": uid, "agency": agency, "kind": kind, "lat": lat, "lon": lon})

        # Fire takes a call and asks police and medical for help.
        created = await fire.call("incident.create", {"type": "structure_fire", "lat": 60.1685, "lon": 24.9440,
                                                      "address": "Aleksanterinkatu 15", "caller": "resident"})
        await fire.wait_for(lambda: fire.picture.seq >= created.seqs[-1])
        incident = next(iter(fire.picture.incidents))
        await fire.call("unit.assign", {"unit": "E11", "incident": incident})
        for agency in ("police", "medical"):
            await fire.call("aid.request", {"incident": incident, "agency": agency, "note": "need help"})
        # Police and medical see the requests on their own consoles, accept and send units.
        for client, agency, unit in ((police, "police", "P21"), (medical, "medical", "M31")):
            await client.wait_for(lambda c=client, a=agency: any(
                r.to_agency == a and r.state == "pending" for r in c.picture.aid_requests.values()))
            request = next(r.id for r in client.picture.aid_requests.values() if r.to_agency == agency)
            await client.call("aid.answer", {"request": request, "accept": True, "note": "on our way"})
            await client.call("unit.assign", {"unit": unit, "incident": incident})
        # Chat crosses agencies.
        await fire.call("message.send", {"channel": "all", "text": "Smoke from the third floor"})
        await police.call("message.send", {"channel": f"incident:{incident}", "text": "Street closed at both ends"})
        head = (await medical.call("message.send", {"channel": "all", "text": "M31 two minutes out"})).seqs[-1]
        await all_at(head, fire, police, medical)
        assert same(fire.picture, police.picture) and same(police.picture, medical.picture)
        picture = fire.picture
        assert sorted(picture.incidents[incident].agencies) == ["fire", "medical", "police"]
        assert sorted(picture.incidents[incident].units) == ["E11", "M31", "P21"]
        assert [m.text for m in picture.messages][-1] == "M31 two minutes out"

        # Positions stream in; the hub is killed mid-stream.
        stop_feed = asyncio.Event()
        sent: list[float] = []

        async def stream() -> None:
            lat = 60.1700
            while not stop_feed.is_set():
                lat += 0.00001
                if feed.report("unit.position", {"unit": "E12", "lat": lat, "lon": 24.95, "t": time.time()}):
                    sent.append(lat)
                await asyncio.sleep(0.005)

        streamer = asyncio.get_running_loop().create_task(stream())
        await fire.wait_for(lambda: len(sent) > 100)
        hub.kill()
        await fire.wait_for(lambda: fire.state == "reconnecting", 30)
        # A command typed while the hub is down waits in the outbox...
        outage = fire.command("incident.note", {"incident": incident, "text": "typed during the outage"})
        assert fire.session.outbox
        hub.start()
        # ...and is applied exactly once when the consoles come back on their own.
        ack = await asyncio.wait_for(outage, 60)
        assert not ack.duplicate
        await police.wait_for(lambda: police.state == "connected", 60)
        await medical.wait_for(lambda: medical.state == "connected", 60)
        await fire.wait_for(lambda: len(sent) > 400, 60)  # the feed reconnected and streams again
        stop_feed.set()
        await streamer
        final = (await feed.call("unit.status", {"unit": "E12", "status": "out_of_service"})).seqs[-1]
        await all_at(final, fire, police, medical)

        reader = LogReader(hub.db)
        seqs = [row[0] for row in reader.conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, nothing doubled
        assert reader.verify_chain()[1] is None
        truth = reader.picture_at()
        for client, agency in ((fire, "fire"), (police, "police"), (medical, "medical")):
            assert same(client.picture, truth.visible_to(Viewer(agency))), agency
        notes = [n.text for n in truth.incidents[incident].notes]
        assert notes.count("typed during the outage") == 1
        assert truth.units["E12"].lat in sent  # the last accepted fix is one the feed sent
        for c in (fire, police, medical, feed):
            await c.close()

    asyncio.run(scenario())
