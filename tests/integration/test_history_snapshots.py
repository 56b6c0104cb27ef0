"""The hub's picture of a past moment starts from the stored snapshot nearest before it, of this fold's version
only, also after a restart (every earlier snapshot is vouched for through the snapshots' hash chain)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.client.connection import HubClient
from app.domain.events import Event
from app.domain.picture import FOLD_VERSION, Picture
from app.hub.server import Hub
from app.store.log import EventLog, LogReader, encode_picture, fold_mark
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.shift_history import add_review_accounts
from tests.integration.waiting import signed_in

T0 = 1_700_000_000.0


def events(start: int, count: int) -> list[tuple[Event, str | None]]:
    out: list[tuple[Event, str | None]] = []
    for seq in range(start, start + count):
        if seq == 1:
            data = {"id": "E1", "agency": "fire", "kind": "engine", "station": "S1", "lat": 60.17, "lon": 24.94}
            out.append((Event(1, T0 + 1, "feed1", "unit.registered", data), None))
        else:
            out.append((Event(seq, T0 + seq, "feed1", "unit.position",
                              {"unit": "E1", "lat": 60.17 + seq / 1e5, "lon": 24.94, "t": T0 + seq}), None))
    return out


def marked(batch: list[tuple[Event, str | None]], station: str) -> Picture:
    """The fold of `batch` with a mark no event makes: a picture folded from this snapshot carries it."""
    picture = Picture().apply_all(e for e, _ in batch)
    picture.units["E1"].station = station
    return picture


def test_a_past_moment_starts_from_the_nearest_snapshot_of_this_fold(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    add_review_accounts(db)
    log = EventLog(db)
    batch = events(1, 60)
    log.append(batch[:20])
    log.save_snapshot(marked(batch[:20], "from-snapshot-20"))
    log.append(batch[20:40])
    stale = encode_picture(marked(batch[:40], "from-stale-snapshot-40"))[len(fold_mark()):]
    log.save_snapshot_blob(40, T0 + 40, fold_mark(FOLD_VERSION + 1) + stale)  # made by another fold
    log.append(batch[40:])
    log.save_snapshot(marked(batch, "from-snapshot-60"))
    log.close()

    hub = HubProcess(db, free_port())
    hub.start()
    try:
        async def stations() -> dict[int, str]:
            async with signed_in(hub.url, "room1") as (room,):
                answers = {seq: await room.query("history.picture", args={"at": T0 + seq}) for seq in (10, 25, 45)}
            return {seq: a["picture"]["units"]["E1"]["station"] for seq, a in answers.items()
                    if a["seq"] == seq}

        assert asyncio.run(stations()) == {
            10: "S1",  # before any snapshot: folded from the start
            25: "from-snapshot-20",  # from the nearest earlier snapshot, vouched through the chain after a restart
            45: "from-snapshot-20",  # the stale snapshot at 40 is passed over
        }
    finally:
        hub.stop()
        hub.kill()


def test_the_hub_stores_snapshots_as_often_as_it_is_told(tmp_path: Path) -> None:
    """`Hub(snapshot_every=N)` reaches the writer: a snapshot every N events, not the default 5,000."""
    db = tmp_path / "hub.db"
    make_accounts(db)

    async def scenario() -> None:
        hub = Hub(db, snapshot_every=10)
        port = await hub.start()
        feed = HubClient(f"ws://127.0.0.1:{port}", "feed1", PASSWORD, subscribe=False)
        feed.start()
        await feed.wait_for(lambda: feed.state == "connected")
        for i in range(25):
            await feed.command("message.send", {"channel": "all", "text": f"report {i}"})
        await feed.close()
        await hub.close()

    asyncio.run(scenario())
    reader = LogReader(db)
    try:
        snapshot = reader.latest_snapshot()
        assert snapshot is not None and snapshot.seq >= 20
    finally:
        reader.close()
