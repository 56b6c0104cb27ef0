"""History queries answered by a real hub from its log: an incident's history, windows of events, the picture at
a moment, tracks and response times, authorized by role and filtered by agency in the hub (a police supervisor
never receives fire's restricted call or any event about it), bounded and paged, bad queries refused clearly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.client.connection import CommandRefused, HubClient
from app.protocol.queries import HISTORY_PAGE, LONGEST_WINDOW
from app.review.replay import Replay
from app.ui.review.hub_replay import HubReplay
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.shift_history import SECRET, Shift, add_review_accounts, run_shift
from tests.integration.waiting import signed_in


@pytest.fixture
def review_hub(tmp_path: Path) -> Iterator[HubProcess]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    add_review_accounts(db)
    process = HubProcess(db, free_port())
    process.start()
    yield process
    process.stop()
    process.kill()


async def refused(client: HubClient, what: str, args: dict[str, Any] | None = None) -> str:
    with pytest.raises(CommandRefused) as caught:
        await client.query(what, args=args)
    return caught.value.code


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in events]


async def all_pages(client: HubClient, what: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await client.query(what, args={**args, "after": after})
        events += page["events"]
        if page["next"] is None:
            return events
        after = page["next"]


def test_history_through_the_hub_is_authorized_and_filtered_by_agency(review_hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(review_hub.url, "feed1", "fire1", "police1", "pilot1", "super1", "psuper1", "room1",
                             "observer1") as (feed, fire, police, pilot, fsuper, psuper, room, observer):
            shift: Shift = await run_shift(feed, fire, police, pilot)
            span = await psuper.query("history.span")
            t0, t1 = span["first"], span["last"]
            assert span["head"] >= 20 and t0 <= t1

            # Fire's supervisor reviews fire's restricted call whole: its units, chat and secrets.
            history = await fsuper.query("history.incident", args={"incident": shift.fire_call})
            assert history["next"] is None
            assert kinds(history["events"])[:2] == ["incident.created", "unit.assigned"]
            assert {"unit.status", "message.posted"} <= set(kinds(history["events"]))
            assert SECRET in msgspec.json.encode(history).decode()

            # The police supervisor: fire's call does not exist, through any history query.
            assert await refused(psuper, "history.incident", {"incident": shift.fire_call}) == "unknown_incident"
            answers = [
                await psuper.query("history.events", args={"t0": t0, "t1": t1}),
                await psuper.query("history.picture", args={"at": t1}),
                await psuper.query("history.tracks", args={"t0": t0, "t1": t1}),
                await psuper.query("history.response_times", args={"t0": t0, "t1": t1}),
                await psuper.query("history.incident", args={"incident": shift.police_call}),
            ]
            for data in answers:
                raw = msgspec.json.encode(data).decode()
                assert SECRET not in raw and f'"{shift.fire_call}"' not in raw, raw[:300]
            window, picture, tracks, times, _ = answers
            assert shift.police_call in picture["picture"]["incidents"]
            assert shift.fire_call not in picture["picture"]["incidents"]
            # E1 is seen (every unit is), working no incident the police may know of.
            assert picture["picture"]["units"]["E1"]["incident"] is None
            assert [t["incident"] for t in times["times"]] == [shift.police_call]
            assert "incident.created" in kinds(window["events"])
            assert len(tracks["units"]["E1"]) == 5 and len(tracks["drones"]["UAV1"]) == 3  # positions are public
            # The control room's supervisor of every agency reviews everything.
            everything = await room.query("history.picture", args={"at": t1})
            assert {shift.fire_call, shift.police_call} <= set(everything["picture"]["incidents"])
            room_times = await room.query("history.response_times", args={})
            assert {t["incident"] for t in room_times["times"]} == {shift.fire_call, shift.police_call}

            # Roles: a dispatcher reads an incident's history (the console's timeline), not the rest of the log;
            # an observer reads no review.
            mine = await police.query("history.incident", args={"incident": shift.police_call})
            assert kinds(mine["events"])[0] == "incident.created"
            assert await refused(fire, "history.events", {"t0": t0, "t1": t1}) == "forbidden"
            assert await refused(observer, "history.picture", {"at": t1}) == "forbidden"
            # Fire's dispatcher does see the public police call's history.
            assert (await fire.query("history.incident", args={"incident": shift.police_call}))["events"]

            # The drone's part is in the police call's history.
            drone_part = {"drone.assigned", "drone.look_requested", "drone.look_acknowledged", "incident.attached"}
            assert drone_part <= set(kinds(mine["events"]))
    asyncio.run(scenario())


def test_history_is_paged_and_bad_queries_get_clear_errors(review_hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(review_hub.url, "feed1", "fire1", "police1", "pilot1", "super1") as (
                feed, fire, police, pilot, fsuper):
            shift = await run_shift(feed, fire, police, pilot)
            span = await fsuper.query("history.span")
            window = {"t0": span["first"], "t1": span["last"]}
            whole = await fsuper.query("history.events", args=window)
            assert whole["next"] is None and whole["limit"] == HISTORY_PAGE
            paged = await all_pages(fsuper, "history.events", {**window, "limit": 3})
            assert [e["seq"] for e in paged] == [e["seq"] for e in whole["events"]]
            first = await fsuper.query("history.events", args={**window, "limit": 3})
            assert len(first["events"]) == 3 and first["next"] == first["events"][-1]["seq"]
            history = await fsuper.query("history.incident", args={"incident": shift.police_call})
            assert await all_pages(fsuper, "history.incident", {"incident": shift.police_call, "limit": 2}) == \
                history["events"]
            tracks = await fsuper.query("history.tracks", args={**window, "limit": 4})
            assert tracks["truncated"] and sum(len(p) for p in tracks["units"].values()) == 4

            for what, args, code in [
                    ("history.events", {**window, "limit": 0}, "bad_args"),
                    ("history.events", {**window, "limit": HISTORY_PAGE + 1}, "bad_args"),
                    ("history.events", {"t0": 10.0, "t1": 5.0}, "bad_args"),
                    ("history.events", {"t0": 0.0, "t1": LONGEST_WINDOW + 1}, "bad_args"),
                    ("history.events", {"t0": "noon", "t1": 5.0}, "bad_args"),
                    ("history.picture", {}, "bad_args"),
                    ("history.picture", {"at": 1.0, "when": 2}, "bad_args"),
                    ("history.incident", {"incident": "9999"}, "unknown_incident"),
                    ("history.everything", {}, "unknown_query")]:
                assert await refused(fsuper, what, args) == code, (what, args)
            # The connection still works after the refusals.
            assert (await fsuper.query("history.span"))["head"] == span["head"]
    asyncio.run(scenario())


def test_an_agency_that_gains_sight_by_mutual_aid_gets_the_history_it_was_sent(review_hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(review_hub.url, "feed1", "fire1", "police1", "pilot1") as (feed, fire, police, pilot):
            shift = await run_shift(feed, fire, police, pilot)
            assert await refused(police, "history.incident", {"incident": shift.fire_call}) == "unknown_incident"
            await fire.call("aid.request", {"incident": shift.fire_call, "agency": "police", "note": "traffic"})
            await police.wait_for(lambda: bool(police.picture.aid_requests))
            request = next(iter(police.picture.aid_requests))
            await police.call("aid.answer", {"request": request, "accept": True, "note": "two cars"})
            await police.wait_for(lambda: shift.fire_call in police.picture.incidents)
            await fire.call("incident.note", {"incident": shift.fire_call, "text": "police on the way"})
            await police.wait_for(lambda: any(n.text == "police on the way"
                                              for n in police.picture.incidents[shift.fire_call].notes))
            history = await police.query("history.incident", args={"incident": shift.fire_call})
            seen = kinds(history["events"])
            # What police were sent: the aid request and answer, the whole incident when they gained sight,
            # and what followed; not E1's dispatch from before, which police were sent without the incident.
            assert seen[:3] == ["aid.requested", "aid.answered", "incident.shared"], seen
            assert seen[-1] == "incident.note" and "unit.assigned" not in seen
            whole = await fire.query("history.incident", args={"incident": shift.fire_call})
            assert kinds(whole["events"])[:2] == ["incident.created", "unit.assigned"]
    asyncio.run(scenario())


def test_review_through_the_hub_reads_the_same_history_as_the_file(review_hub: HubProcess) -> None:
    """`HubReplay` (the console's review source) over the wire equals `Replay` on the file for a viewer of every
    agency, whole track windows included when the hub cuts each answer at a small cap."""
    async def shift() -> Shift:
        async with signed_in(review_hub.url, "feed1", "fire1", "police1", "pilot1") as (feed, fire, police, pilot):
            return await run_shift(feed, fire, police, pilot)

    made = asyncio.run(shift())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    room = HubClient(review_hub.url, "room1", PASSWORD, subscribe=False)
    try:
        loop.call_soon_threadsafe(room.start)
        asyncio.run_coroutine_threadsafe(room.wait_for(lambda: room.state == "connected", 30), loop).result(35)

        def ask(what: str, args: dict[str, Any]) -> Any:
            return asyncio.run_coroutine_threadsafe(room.query(what, 30, args), loop).result(35)

        wire = HubReplay(ask, "hub", track_limit=2)  # every window of more than two fixes is cut
        with Replay(review_hub.db) as file:
            first, last = file.span()
            assert wire.span() == (first, last)
            assert wire.tracks(first, last) == file.tracks(first, last)
            assert len(wire.tracks(first, last)["E1"]) == 5
            assert wire.drone_tracks(first, last) == file.drone_tracks(first, last)
            assert wire.incident_events(made.police_call) == file.incident_events(made.police_call)
            assert wire.events(first, last) == file.events(first, last)
            assert wire.picture_at(last) == file.picture_at(last)
            assert wire.response_times() == file.response_times()
            assert wire.reporters(first, last) == file.reporters(first, last)
    finally:
        asyncio.run_coroutine_threadsafe(room.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
