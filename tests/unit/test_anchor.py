"""The hub's audit check on real log files (no sockets): which snapshot it may serve, and when it sounds the alarm."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.domain.picture import Picture
from app.hub.anchor import Anchor
from app.store.checkpoints import audit_dir
from app.store.log import EventLog, LogReader
from tests.unit.test_store import unit_events


def open_anchor(db: Path, alarms: list[str]) -> tuple[EventLog, Anchor]:
    log = EventLog(db)
    return log, Anchor(log, lambda: 1000.0, alarms.append)


def test_the_check_vouches_for_the_newest_snapshot_and_signs_nothing_under_an_alarm(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = EventLog(db)
    batch = unit_events(1, 40)
    log.append(batch[:30])
    log.save_snapshot(Picture().apply_all(e for e, _ in batch[:30]))
    log.append(batch[30:])
    log.close()

    alarms: list[str] = []
    log, anchor = open_anchor(db, alarms)
    anchor.check(LogReader(db))  # no checkpoint yet: checked whole
    assert alarms == [] and list(log.trusted_snapshots) == [30]
    anchor.sign()
    anchor.sign()  # nothing changed: no second line
    log.close()
    checkpoints = audit_dir(db) / "checkpoints.jsonl"
    assert len(checkpoints.read_text().splitlines()) == 1

    log, anchor = open_anchor(db, alarms)
    anchor.check(LogReader(db))  # from the checkpoint this time
    assert alarms == [] and list(log.trusted_snapshots) == [30]
    log.close()

    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM events WHERE seq > 35")
    conn.commit()
    conn.close()
    log, anchor = open_anchor(db, alarms)
    anchor.check(LogReader(db))
    assert len(alarms) == 1 and alarms[0].startswith("events: the log ends at seq 35 but the last checkpoint")
    assert alarms[0].endswith("signed seq 40: the newest rows were removed")
    assert log.trusted_snapshots == {}  # under an alarm no checkpoint vouches for anything
    log.append(unit_events(36, 1))
    anchor.sign()
    log.close()
    assert len(checkpoints.read_text().splitlines()) == 1  # and nothing is signed over it
