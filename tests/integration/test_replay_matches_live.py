"""Replay shows what each console showed: a log built through the real hub, pictures recorded live at moments
T, then `Replay(db, viewer=...).picture_at(T)` compared with them, including after a stored snapshot."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest

from app.client.connection import HubClient
from app.domain.picture import Picture, Viewer
from app.review.replay import Replay, ReviewError
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, HubProcess

FLEET = [("E11", "fire", "engine", 60.1700, 24.9410), ("E12", "fire", "engine", 60.1760, 24.9500),
         ("P21", "police", "patrol", 60.1690, 24.9450), ("P22", "police", "patrol", 60.1650, 24.9380),
         ("M31", "medical", "ambulance", 60.1660, 24.9390), ("M32", "medical", "ambulance", 60.1720, 24.9420)]
#: Console user -> the viewer its picture is filtered for (as the hub and ClientSession decide it).
CONSOLES = {"fire1": Viewer("fire"), "police1": Viewer("police"), "medical1": Viewer("medical"),
            "super1": Viewer("fire", supervisor=True)}
#: The parts of a picture a person sees (seq, `at` and id counters are bookkeeping of each fold).
SHOWN = ("incidents", "units", "aid_requests", "messages", "zones", "alerts")


def shown(picture: Picture) -> dict[str, Any]:
    """The picture as plain data, copied now: entities compared field by field, enums by value."""
    return {name: msgspec.to_builtins(getattr(picture, name)) for name in SHOWN}


def differences(live: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    """Which entities differ, by name, so a failure says what the replay got wrong."""
    out = []
    for name in SHOWN:
        a, b = live[name], replayed[name]
        if isinstance(a, dict):
            out += [f"{name}[{k}]: live {a.get(k)} != replay {b.get(k)}" for k in sorted({*a, *b})
                    if a.get(k) != b.get(k)]
        elif a != b:
            out.append(f"{name}: live {a} != replay {b}")
    return out


class Floor:
    """The four consoles and the feed of one test, and the moments recorded from them."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.consoles = {user: HubClient(hub.url, user, PASSWORD) for user in CONSOLES}
        self.feed = HubClient(hub.url, "feed1", PASSWORD, subscribe=False)
        self.moments: list[tuple[str, float, dict[str, dict[str, Any]]]] = []

    def __getitem__(self, user: str) -> HubClient:
        return self.consoles[user]

    async def start(self) -> None:
        clients = [*self.consoles.values(), self.feed]
        for c in clients:
            c.start()
        for c in clients:
            await c.wait_for(lambda c=c: c.state == "connected")

    async def caught_up(self) -> None:
        """Wait until every console has folded the last committed event it is allowed to see."""
        reader = LogReader(self.hub.db)
        try:
            events = reader.events_since(0)
        finally:
            reader.close()
        for user, viewer in CONSOLES.items():
            last = max((e.seq for e in events if viewer.may_see(e.audience)), default=0)
            console = self.consoles[user]
            await console.wait_for(lambda c=console, s=last: c.picture.seq >= s)

    async def record(self, label: str) -> float:
        """Catch every console up, then note the time and what each console shows (nothing is in flight)."""
        await self.caught_up()
        t = time.time()
        self.moments.append((label, t, {u: shown(c.picture) for u, c in self.consoles.items()}))
        return t

    async def close(self) -> None:
        for c in [*self.consoles.values(), self.feed]:
            await c.close()


async def one_shift(floor: Floor) -> dict[str, list[tuple[float, float, float]]]:
    """A realistic stretch of a shift; returns the fixes sent per unit in the position stream."""
    fire, police, medical, sup, feed = (floor["fire1"], floor["police1"], floor["medical1"], floor["super1"],
                                        floor.feed)
    for uid, agency, kind, lat, lon in FLEET:
        await feed.call("unit.register", {"id": uid, "agency": agency, "kind": kind, "lat": lat, "lon": lon,
                                          "station": f"{agency.title()} station 1"})
    # A fire call, dispatched; the first engine sets off.
    await fire.call("incident.create", {"type": "structure_fire", "lat": 60.1685, "lon": 24.9440,
                                        "address": "Aleksanterinkatu 15", "caller": "resident",
                                        "notes": "smoke from a third-floor window"})
    await fire.call("unit.assign", {"unit": "E11", "incident": "1001"})
    await fire.call("unit.status", {"unit": "E11", "status": "en_route"})
    await fire.call("message.send", {"channel": "incident:1001", "text": "E11 responding"})
    await floor.record("one call dispatched")

    # Police take a restricted call and a public one; a reassignment; mutual aid on the fire.
    await police.call("incident.create", {"type": "burglary", "lat": 60.1655, "lon": 24.9385, "restricted": True,
                                          "address": "Kasarmikatu 2", "notes": "silent alarm, undercover op"})
    await police.call("unit.assign", {"unit": "P21", "incident": "1002"})
    await police.call("message.send", {"channel": "incident:1002", "text": "Approach without lights"})
    await police.call("message.send", {"channel": "agency:police", "text": "Briefing at 14:00"})
    await police.call("incident.create", {"type": "disturbance", "lat": 60.1710, "lon": 24.9460,
                                          "address": "Kaivokatu 1"})
    await fire.call("unit.assign", {"unit": "E12", "incident": "1001"})
    await fire.call("unit.status", {"unit": "E12", "status": "available"})  # cancelled: not needed after all
    await fire.call("aid.request", {"incident": "1001", "agency": "medical", "note": "one casualty"})
    await medical.wait_for(lambda: "AR-1" in medical.picture.aid_requests)
    await medical.call("aid.answer", {"request": "AR-1", "accept": True, "note": "M31 coming"})
    await medical.call("unit.assign", {"unit": "M31", "incident": "1001"})
    await medical.call("unit.status", {"unit": "M31", "status": "en_route"})
    await sup.call("zone.create", {"name": "Cordon Aleksanterinkatu", "kind": "cordon",
                                   "polygon": [[60.1680, 24.9430], [60.1690, 24.9430], [60.1690, 24.9450]]})
    await sup.call("alert.issue", {"headline": "Smoke over the city centre", "event": "Fire",
                                   "severity": "Moderate", "urgency": "Immediate",
                                   "areas": [{"circle": [60.1685, 24.9440, 500.0]}],
                                   "instruction": "Keep windows closed"})
    await floor.record("restricted call, aid, zone and alert")

    # The police make their public call restricted: the other agencies' pictures drop it.
    await police.call("incident.update", {"incident": "1003", "restricted": True})
    await police.call("incident.note", {"incident": "1003", "text": "Linked to the Kasarmikatu operation"})
    await floor.record("a call made restricted")

    # AVL: the units drive for a while, more than a snapshot interval's worth of fixes.
    sent: dict[str, list[tuple[float, float, float]]] = {uid: [] for uid, *_ in FLEET}
    t = time.time()
    for step in range(900):
        for uid, _agency, _kind, lat, lon in FLEET:
            t += 0.0001
            fix = (t, round(lat + step * 1e-5, 7), round(lon + step * 2e-5, 7))
            assert feed.report("unit.position", {"unit": uid, "lat": fix[1], "lon": fix[2], "t": fix[0],
                                                 "speed": 12.5, "heading": 45.0})
            sent[uid].append(fix)
        if step % 100 == 0:
            await asyncio.sleep(0)  # let the sends go out while the stream is generated
    # A command on the same connection is sequenced after every fix sent before it: a barrier, not a sleep.
    await feed.call("unit.status", {"unit": "P22", "status": "out_of_service"})
    # The calls wind down after the snapshot boundary.
    await fire.call("unit.status", {"unit": "E11", "status": "on_scene"})
    await medical.call("unit.status", {"unit": "M31", "status": "on_scene"})
    await medical.call("unit.status", {"unit": "M31", "status": "transporting"})
    await police.call("unit.status", {"unit": "P21", "status": "en_route"})
    await sup.call("alert.cancel", {"alert": "AL-1", "reason": "smoke has cleared"})
    await floor.record("after the snapshot")

    await fire.call("unit.status", {"unit": "E11", "status": "available"})
    await medical.call("unit.status", {"unit": "M31", "status": "available"})
    await fire.call("incident.close", {"incident": "1001", "disposition": "resolved"})
    await sup.call("zone.remove", {"zone": "Z-1"})
    await fire.call("message.send", {"channel": "all", "text": "1001 closed, all units back in service"})
    await floor.record("end of the stretch")
    return sent


def test_replay_shows_each_console_what_it_showed_live(hub: HubProcess) -> None:
    floor = Floor(hub)

    async def scenario() -> dict[str, list[tuple[float, float, float]]]:
        await floor.start()
        try:
            return await one_shift(floor)
        finally:
            await floor.close()

    sent = asyncio.run(scenario())

    reader = LogReader(hub.db)
    snapshot = reader.latest_snapshot()
    reader.close()
    assert snapshot is not None, "the stream should have crossed the hub's 5,000-event snapshot interval"
    labels = [label for label, *_ in floor.moments]
    t_after = dict((label, t) for label, t, _ in floor.moments)["after the snapshot"]
    with Replay(hub.db) as everything:
        assert everything.seq_at(t_after) > snapshot.seq  # that moment is rebuilt from the snapshot
        assert everything.seq_at(t_after) - snapshot.seq < 5000

    for user, viewer in CONSOLES.items():
        with Replay(hub.db, viewer=viewer) as replay:
            for label, t, pictures in floor.moments:
                replayed = shown(replay.picture_at(t))
                assert replayed == pictures[user], f"{user} at '{label}':\n" + "\n".join(
                    differences(pictures[user], replayed))
    assert labels == ["one call dispatched", "restricted call, aid, zone and alert", "a call made restricted",
                      "after the snapshot", "end of the stretch"]

    # The recorded pictures are not all alike: the viewers' filters and the moments made a difference.
    _, _, second = floor.moments[1]
    assert "1002" in second["police1"]["incidents"] and "1002" not in second["fire1"]["incidents"]
    assert "1002" in second["super1"]["incidents"]
    _, _, third = floor.moments[2]
    assert "1003" in second["fire1"]["incidents"] and "1003" not in third["fire1"]["incidents"]

    # Tracks are every fix the feed sent, in order, for any unit.
    with Replay(hub.db) as replay:
        first_fix, last_fix = sent["E12"][0][0], sent["E12"][-1][0]
        tracks = replay.tracks(first_fix - 60, last_fix + 60)
        assert tracks.keys() == sent.keys()
        assert tracks["E12"] == sent["E12"] and tracks["M31"] == sent["M31"]
        assert replay.tracks(first_fix - 60, last_fix + 60, units=["P21"]) == {"P21": sent["P21"]}

    # The restricted call's history is there for the police and the supervisor, not for fire.
    with Replay(hub.db, viewer=Viewer("police")) as replay:
        kinds = [e.kind for e in replay.incident_events("1002")]
        assert kinds[0] == "incident.created" and "unit.assigned" in kinds and "message.posted" in kinds
    with Replay(hub.db, viewer=Viewer("fire")) as replay, pytest.raises(ReviewError, match="no incident 1002"):
        replay.incident_events("1002")
