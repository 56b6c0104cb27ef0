"""A short shift against a real hub for the history tests: a restricted fire call with a secret in every text,
a public police call worked by a unit and a police drone (assigned, asked to look, a snapshot attached)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

from app.client.connection import HubClient
from app.store.users import UserStore
from tests.images import jpeg_bytes
from tests.integration.conftest import PASSWORD

#: Written into every text of the restricted fire call, so it can be looked for in any answer's bytes.
SECRET = "ZQX-SECRET"
LAT, LON = 60.1700, 24.9450


def add_review_accounts(db: Path) -> None:
    """A police supervisor, a control-room supervisor of every agency and a police drone pilot, beside
    `make_accounts`'s."""
    users = UserStore(db)
    users.add("psuper1", PASSWORD, "supervisor", "police")
    users.add("room1", PASSWORD, "supervisor", "*")
    users.add("pilot1", PASSWORD, "drone_operator", "police")
    users.close()


@dataclass(slots=True)
class Shift:
    fire_call: str  # restricted, fire's
    police_call: str  # public, worked by P1 and the drone UAV1


async def run_shift(feed: HubClient, fire: HubClient, police: HubClient, pilot: HubClient) -> Shift:
    """The shift's commands, each acknowledged (so in the log) before the next."""
    # Registered without a place: E1's first fix is the track's first point.
    for uid, agency, kind in (("E1", "fire", "engine"), ("P1", "police", "patrol")):
        await feed.call("unit.register", {"id": uid, "agency": agency, "kind": kind})
    ack = await fire.call("incident.create", {
        "type": "structure_fire", "lat": LAT, "lon": LON, "address": f"{SECRET} street 1",
        "caller": f"{SECRET} caller", "notes": f"{SECRET} notes", "restricted": True})
    await fire.wait_for(lambda: len(fire.picture.incidents) == 1)
    fire_call = next(iter(fire.picture.incidents))
    assert ack.seqs
    await fire.call("unit.assign", {"unit": "E1", "incident": fire_call})
    await feed.call("unit.status", {"unit": "E1", "status": "en_route"})
    start = time.time() - 60
    for i in range(5):  # a fix every 10 s, 50 m apart: a plausible drive
        assert feed.report("unit.position", {"unit": "E1", "lat": LAT + i * 0.00045, "lon": LON, "t": start + 10 * i})
    await feed.call("unit.status", {"unit": "E1", "status": "on_scene"})
    await fire.call("message.send", {"channel": f"incident:{fire_call}", "text": f"{SECRET} chat"})

    await police.call("incident.create", {"type": "burglary", "lat": LAT + 0.01, "lon": LON, "address": "Main 5"})
    await police.wait_for(lambda: any(i != fire_call for i in police.picture.incidents))
    police_call = next(i for i in police.picture.incidents if i != fire_call)
    await police.call("unit.assign", {"unit": "P1", "incident": police_call})
    await feed.call("unit.status", {"unit": "P1", "status": "en_route"})
    await feed.call("unit.status", {"unit": "P1", "status": "on_scene"})
    await pilot.call("drone.register", {"id": "UAV1", "agency": "police"})
    for i in range(3):
        assert pilot.report("drone.telemetry", {"drone": "UAV1", "lat": LAT + 0.01, "lon": LON + i * 0.001,
                                                "agl_m": 80.0})
    await police.call("drone.assign", {"drone": "UAV1", "incident": police_call})
    await police.call("drone.look", {"drone": "UAV1", "lat": LAT + 0.0105, "lon": LON, "note": "the back door"})
    await pilot.wait_for(lambda: "UAV1" in pilot.picture.drones and pilot.picture.drones["UAV1"].look is not None)
    look = pilot.picture.drones["UAV1"].look
    assert look is not None
    await pilot.call("drone.look_ack", {"drone": "UAV1", "request": look.id})
    await pilot.call("incident.attach", {"incident": police_call, "mime": "image/jpeg", "caption": "back door",
                                         "source": "UAV1",
                                         "data_b64": base64.b64encode(jpeg_bytes(64, 48)).decode()})
    await feed.call("unit.status", {"unit": "P1", "status": "available"})
    return Shift(fire_call, police_call)
