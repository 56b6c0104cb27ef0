"""`watchfloor audit verify` on a log written by a real hub, against every way of tampering with the file.

Each tamper is done as an intruder with the database file and our code would do it (sqlite3 on the real file,
hashes recomputed with our own functions where that is the attack), and each must be named by the audit.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.client.connection import HubClient
from app.store.chain import EVENTS, QUARANTINE, walk
from app.store.checkpoints import audit_dir
from tests.integration.conftest import ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import signed_in, until


def audit(db: str | Path, *extra: str, action: str = "verify") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", action, "--db", str(db), *extra], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})


def quarantined(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
    finally:
        conn.close()


def write_a_shift(hub: HubProcess) -> None:
    """Events, a refused sign-in (access log) and a feed's bad frame (quarantine), then the hub stops."""
    async def shift() -> None:
        async with signed_in(hub.url, "fire1", "feed1") as (fire, feed):
            ack = await fire.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94,
                                                      "address": "A 1"})
            assert ack.seqs == [1]
            for text in ("door forced", "suspect left on foot", "K9 requested", "scene secured"):
                await fire.call("incident.note", {"incident": "1001", "text": text})
            feed.send_raw("this is not a frame")
            await until(lambda: quarantined(hub.db) == 1)
        intruder = HubClient(hub.url, "fire1", "wrong password", subscribe=False)
        intruder.start()
        await intruder.wait_for(lambda: intruder.state == "refused")
        await intruder.close()

    asyncio.run(shift())
    hub.stop()
    ok = audit(hub.db)
    assert ok.returncode == 0, ok.stderr
    assert "5 events" in ok.stdout and "1 quarantined inputs" in ok.stdout


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shift written by a real hub, stopped: each test tampers with its own copy (`log`)."""
    db = tmp_path_factory.mktemp("shift") / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port())
    hub.start()
    try:
        write_a_shift(hub)
    finally:
        hub.kill()
    return db


@pytest.fixture
def log(shift: Path, tmp_path: Path) -> Path:
    """This test's copy of the shift's log, its WAL and its audit folder."""
    restore(shift, tmp_path / "hub.db")
    shutil.copytree(audit_dir(shift), audit_dir(tmp_path / "hub.db"))
    return tmp_path / "hub.db"


def save(db: Path) -> Path:
    """A copy of the log as it is, WAL included (the hub's readers leave committed pages in it)."""
    saved = db.parent / "saved" / db.name
    saved.parent.mkdir()
    restore(db, saved)
    return saved


def restore(saved: Path, db: Path) -> None:
    """Put the saved log (and its WAL) at `db`, and nothing of what was there."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
        if Path(f"{saved}{suffix}").exists():
            shutil.copyfile(f"{saved}{suffix}", f"{db}{suffix}")


def tamper(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_editing_one_byte_of_an_event_is_caught_and_named(log: Path) -> None:
    tamper(log, "UPDATE events SET data = replace(data, 'suspect', 'susPect') WHERE seq = 3")
    broken = audit(log)
    assert broken.returncode == 1
    assert "event 3" in broken.stderr and "incident.note by fire1" in broken.stderr


def test_removing_the_newest_events_is_caught(log: Path) -> None:
    tamper(log, "DELETE FROM events WHERE seq > 3")
    conn = sqlite3.connect(log)
    assert walk(conn, EVENTS).broken is None  # what is left is a whole chain: only the anchor shows the cut
    conn.close()
    broken = audit(log)
    assert broken.returncode == 1
    assert "ends at seq 3" in broken.stderr and "signed seq 5" in broken.stderr and "removed" in broken.stderr


def test_an_edit_with_every_hash_after_it_recomputed_is_caught(log: Path) -> None:
    conn = sqlite3.connect(log)
    conn.execute("UPDATE events SET data = replace(data, 'K9 requested', 'nothing to add') WHERE seq = 4")
    prev = conn.execute("SELECT hash FROM events WHERE seq = 3").fetchone()[0]
    rows = conn.execute("SELECT seq, ts, actor, kind, data, audience FROM events WHERE seq >= 4 ORDER BY seq")
    for row in rows.fetchall():
        prev = EVENTS.link(prev, tuple(row))
        conn.execute("UPDATE events SET hash = ? WHERE seq = ?", (prev, row[0]))
    conn.commit()
    assert walk(conn, EVENTS).broken is None  # the chain itself is whole again
    conn.close()
    broken = audit(log)
    assert broken.returncode == 1
    assert "events: seq 5 does not match the checkpoint" in broken.stderr and "rewritten" in broken.stderr


def test_access_log_rows_edited_or_removed_are_caught(log: Path) -> None:
    saved = save(log)
    tamper(log, "UPDATE access_log SET outcome = 'ok' WHERE outcome = 'refused'")
    edited = audit(log)
    assert edited.returncode == 1 and "access: access-log row" in edited.stderr and "altered" in edited.stderr
    restore(saved, log)
    tamper(log, "DELETE FROM access_log WHERE outcome = 'refused'")
    assert audit(log).returncode == 1
    restore(saved, log)
    tamper(log, "DELETE FROM access_log WHERE id = (SELECT MAX(id) FROM access_log)")
    removed = audit(log)
    assert removed.returncode == 1 and "access: the log ends at id" in removed.stderr


def test_quarantine_rows_edited_or_removed_are_caught(log: Path) -> None:
    saved = save(log)
    tamper(log, "UPDATE quarantine SET raw = CAST('a harmless frame' AS BLOB)")
    edited = audit(log)
    assert edited.returncode == 1 and "quarantine row 1" in edited.stderr
    restore(saved, log)
    tamper(log, "DELETE FROM quarantine")
    removed = audit(log)
    assert removed.returncode == 1 and "quarantine: the log ends at id 0" in removed.stderr
    # Re-chaining the edited row with our own function does not help: the checkpoint signed the old hash.
    restore(saved, log)
    conn = sqlite3.connect(log)
    conn.execute("UPDATE quarantine SET reason = 'nothing happened'")
    row = conn.execute(f"SELECT {QUARANTINE.columns} FROM quarantine").fetchone()
    conn.execute("UPDATE quarantine SET hash = ?", (QUARANTINE.link("0" * 64, tuple(row)),))
    conn.commit()
    conn.close()
    recomputed = audit(log)
    assert recomputed.returncode == 1 and "quarantine: id 1 does not match the checkpoint" in recomputed.stderr


def test_an_edited_checkpoint_fails_its_signature(log: Path) -> None:
    checkpoints = audit_dir(log) / "checkpoints.jsonl"
    lines = checkpoints.read_text().splitlines()
    last = json.loads(lines[-1])
    last["heads"]["events"][0] = 3  # make the signed head agree with a log cut back to event 3
    checkpoints.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    broken = audit(log)
    assert broken.returncode == 1
    assert f"checkpoint line {len(lines)}: the signature does not verify" in broken.stderr


def test_exported_checkpoints_and_key_catch_a_rewrite_with_a_new_key(log: Path, tmp_path: Path) -> None:
    exported, public = tmp_path / "exported.jsonl", tmp_path / "hub.pub"
    signed = audit(log, "-o", str(exported), action="checkpoint")
    assert signed.returncode == 0, signed.stderr
    shutil.copyfile(audit_dir(log) / "hub.pub", public)
    # The intruder cuts the log, throws the audit folder away and lets a hub anchor the cut log with a new key.
    tamper(log, "DELETE FROM events WHERE seq > 2", "DELETE FROM meta WHERE key = 'audit_public_key'")
    shutil.rmtree(audit_dir(log))
    assert audit(log).returncode == 1  # no checkpoint at all is not "intact"
    assert audit(log, action="checkpoint").returncode == 0  # a fresh anchor over the cut log...
    assert audit(log).returncode == 0  # ...fools the local check,
    kept = audit(log, "--checkpoints", str(exported), "--public-key", str(public))
    assert kept.returncode == 1 and "ends at seq 2" in kept.stderr  # but not the copies kept elsewhere
    forged_key = audit(log, "--public-key", str(public))
    assert forged_key.returncode == 1 and "signed by another key" in forged_key.stderr
