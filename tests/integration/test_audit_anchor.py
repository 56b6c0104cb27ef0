"""A real hub checks its log against the last signed checkpoint when it starts, signs checkpoints while it runs,
raises the audit alarm on tampering and never serves a forged snapshot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.domain.events import Event
from app.domain.picture import Picture
from app.store.chain import GENESIS_HASH, row_hash, snapshot_fields
from app.store.checkpoints import audit_dir
from app.store.log import EventLog, decode_picture, encode_picture
from tests.integration.conftest import ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import signed_in, until


def checkpoint_lines(db: Path) -> list[dict[str, object]]:
    path = audit_dir(db) / "checkpoints.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def fire_units(seq_count: int) -> list[tuple[Event, str | None]]:
    """Engine E1 registered, then driving: `seq_count` events."""
    out: list[tuple[Event, str | None]] = [
        (Event(1, 100.0, "feed1", "unit.registered", {"id": "E1", "agency": "fire", "kind": "engine"}), None)]
    for seq in range(2, seq_count + 1):
        out.append((Event(seq, 100.0 + seq, "feed1", "unit.position",
                          {"unit": "E1", "lat": 60 + seq / 1e4, "lon": 24.9, "t": 100.0 + seq}), None))
    return out


def access_rows(db: Path, outcome: str) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT detail FROM access_log WHERE outcome = ?", (outcome,))]
    finally:
        conn.close()


def units_seen_by_fire(url: str) -> dict[str, object]:
    async def look() -> dict[str, object]:
        async with signed_in(url, "fire1") as (fire,):
            await fire.wait_for(lambda: fire.caught_up)
            return dict(fire.picture.units)

    return asyncio.run(look())


def log_with_a_snapshot(db: Path, events: list[tuple[Event, str | None]]) -> HubProcess:
    """A log with a snapshot at event 30 that a hub has anchored (checked whole, signed); the hub is stopped."""
    log = EventLog(db)
    log.append(events[:30])
    log.save_snapshot(Picture().apply_all(e for e, _ in events[:30]))
    log.append(events[30:])
    log.close()
    make_accounts(db)
    hub = HubProcess(db, free_port())
    hub.start()  # checks the whole log (no checkpoint yet), then anchors it, snapshot included
    hub.stop()
    assert "AUDIT ALARM" not in "".join(hub.output)
    return hub


def forge_snapshot(db: Path, rechain: bool) -> None:
    """The intruder adds a fake engine to the stored snapshot (and re-chains its row with our own code)."""
    conn = sqlite3.connect(db)
    seq, ts, blob = conn.execute("SELECT seq, ts, picture FROM snapshots").fetchone()
    picture = decode_picture(blob)
    picture.units["FAKE1"] = dataclasses.replace(picture.units["E1"], id="FAKE1")
    forged = encode_picture(picture)
    conn.execute("UPDATE snapshots SET picture = ?", (forged,))
    if rechain:
        conn.execute("UPDATE snapshots SET hash = ?", (row_hash(GENESIS_HASH, snapshot_fields(seq, ts, forged)),))
    conn.commit()
    conn.close()


def test_a_forged_snapshot_is_not_served_and_raises_the_alarm(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    events = fire_units(40)
    hub = log_with_a_snapshot(db, events)
    signed = len(checkpoint_lines(db))
    forge_snapshot(db, rechain=True)

    hub.output.clear()
    hub.start()
    try:
        units = units_seen_by_fire(hub.url)
        assert "E1" in units and "FAKE1" not in units  # folded from the events instead
        assert units["E1"].lat == events[-1][0].data["lat"]  # type: ignore[attr-defined]
        output = "".join(hub.output)
        assert "AUDIT ALARM" in output and "snapshots: seq 30 does not match the last checkpoint" in output
    finally:
        hub.stop()
    assert any("snapshots: seq 30" in detail for detail in access_rows(db, "alarm"))
    assert len(checkpoint_lines(db)) == signed  # nothing is signed over a forgery


def test_a_snapshot_forged_under_a_running_hub_is_not_served(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    events = fire_units(40)
    hub = log_with_a_snapshot(db, events)
    hub.output.clear()
    hub.start()  # this time the checkpoint vouches for the snapshot, so the hub would serve it
    try:
        assert "FAKE1" not in units_seen_by_fire(hub.url)
        forge_snapshot(db, rechain=False)
        units = units_seen_by_fire(hub.url)
        assert "E1" in units and "FAKE1" not in units
        alarm = "the snapshot at event 30 is not served: its stored picture was altered"
        asyncio.run(until(lambda: alarm in "".join(hub.output)))  # the hub's output is read by another thread
    finally:
        hub.stop()


def test_a_cut_log_starts_with_the_alarm_and_is_never_anchored_again(hub: HubProcess) -> None:
    async def write() -> None:
        async with signed_in(hub.url, "fire1") as (fire,):
            await fire.call("incident.create", {"type": "structure_fire", "lat": 60.17, "lon": 24.94, "address": "B 2"})
            for text in ("smoke on floor 2", "ladder up"):
                await fire.call("incident.note", {"incident": "1001", "text": text})

    asyncio.run(write())
    hub.stop()
    signed = len(checkpoint_lines(hub.db))
    conn = sqlite3.connect(hub.db)
    conn.execute("DELETE FROM events WHERE seq = 3")
    conn.commit()
    conn.close()
    hub.output.clear()
    hub.start()  # the control room keeps its picture, with the alarm up
    try:
        assert "1001" in asyncio.run(_incidents(hub.url))
        assert "events: the log ends at seq 2 but the last checkpoint" in "".join(hub.output)
    finally:
        hub.stop()
    assert len(checkpoint_lines(hub.db)) == signed
    assert access_rows(hub.db, "alarm")
    # After the investigation an operator accepts the log as it stands; the old checkpoints are kept as evidence.
    audit = [sys.executable, "-m", "app.cli", "audit"]
    renewed = subprocess.run([*audit, "checkpoint", "--db", str(hub.db), "--new-anchor"], cwd=ROOT,
                             capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert renewed.returncode == 0, renewed.stderr
    assert "set aside: events: seq 3 does not match the checkpoint" in renewed.stderr  # 3 was cut, then rewritten
    assert list(audit_dir(hub.db).glob("checkpoints.jsonl.set-aside-*"))
    hub.output.clear()
    hub.start()
    hub.stop()
    assert "AUDIT ALARM" not in "".join(hub.output)
    verified = subprocess.run([*audit, "verify", "--db", str(hub.db)], cwd=ROOT, capture_output=True, text=True,
                              env={"PYTHONPATH": str(ROOT)})
    assert verified.returncode == 0, verified.stderr


async def _incidents(url: str) -> dict[str, object]:
    async with signed_in(url, "fire1") as (fire,):
        await fire.wait_for(lambda: fire.caught_up)
        await fire.call("incident.note", {"incident": "1001", "text": "written under the alarm"})
        return dict(fire.picture.incidents)


def test_checkpoints_are_signed_while_the_hub_runs(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--checkpoint-every", "0.2"])
    hub.start()
    try:
        async def write() -> None:
            async with signed_in(hub.url, "fire1") as (fire,):
                ack = await fire.call("incident.create", {"type": "structure_fire", "lat": 60.17, "lon": 24.94,
                                                          "address": "C 3"})
                # Signed without a shutdown: a kill -9 now would still leave this event anchored.
                await until(lambda: checkpoint_lines(db)[-1]["heads"]["events"][0] == ack.seqs[-1])  # type: ignore[index]

        asyncio.run(write())
    finally:
        hub.kill()
