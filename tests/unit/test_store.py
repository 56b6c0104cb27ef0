"""The event log on a real SQLite file: append, read back, snapshots, the hash chain, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.domain.events import Event
from app.domain.picture import FOLD_VERSION, Picture
from app.store.checkpoints import audit_log
from app.store.log import (
    EventLog,
    LogReader,
    QuarantineRow,
    StaleSnapshot,
    decode_picture,
    encode_picture,
    fold_mark,
)
from app.store.schema import SCHEMA_VERSION
from app.store.users import UserStore


def unit_events(start: int, count: int) -> list[tuple[Event, str | None]]:
    out: list[tuple[Event, str | None]] = []
    for seq in range(start, start + count):
        if seq == 1:
            out.append((Event(1, 100.0, "feed", "unit.registered",
                              {"id": "E1", "agency": "fire", "kind": "engine"}), "feed/c1"))
        else:
            out.append((Event(seq, 100.0 + seq, "feed", "unit.position",
                              {"unit": "E1", "lat": 60 + seq / 1e4, "lon": 24.9, "t": 100.0 + seq}), None))
    return out


def test_append_read_back_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = EventLog(db)
    log.append(unit_events(1, 50))
    log.close()
    log = EventLog(db)  # reopening continues the sequence and the chain
    assert log.head_seq == 50
    log.append(unit_events(51, 10))
    reader = LogReader(db)
    assert reader.head() == 60
    assert [e.seq for e in reader.events_since(55)] == [56, 57, 58, 59, 60]
    assert reader.command_seqs("feed/c1") == [1]
    assert reader.verify_chain() == (60, None)
    with pytest.raises(ValueError, match="does not follow"):
        log.append(unit_events(70, 1))


def test_snapshot_then_tail_equals_the_full_fold(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = EventLog(db)
    batch = unit_events(1, 300)
    log.append(batch[:200])
    log.save_snapshot(Picture().apply_all(e for e, _ in batch[:200]))
    log.append(batch[200:])
    reader = LogReader(db)
    full = Picture().apply_all(e for e, _ in batch)
    assert reader.latest_snapshot().seq == 200
    assert reader.picture_at() == full
    assert reader.picture_at(seq=150) == Picture().apply_all(e for e, _ in batch[:150])
    at_time = reader.picture_at(ts=100.0 + 250)
    assert at_time.seq == 250 and at_time.units["E1"].lat == pytest.approx(60.025)


def test_editing_one_byte_breaks_the_chain_at_that_event(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = EventLog(db)
    log.append(unit_events(1, 20))
    log.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET data = replace(data, '60.0012', '60.0013') WHERE seq = 12")
    conn.commit()
    conn.close()
    checked, broken = LogReader(db).verify_chain()
    assert checked == 11 and broken is not None and broken.seq == 12
    assert "unit.position" in broken.reason


def test_schema_is_versioned(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    EventLog(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    with pytest.raises(RuntimeError, match="newer"):
        EventLog(db)


def test_users_have_hashed_passwords_and_can_be_disabled(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    users = UserStore(db)
    users.add("anna", "long enough pw", "dispatcher", "fire", "Anna K")
    with pytest.raises(ValueError):
        users.add("anna", "long enough pw", "dispatcher", "fire")
    with pytest.raises(ValueError):
        users.add("bob", "short", "dispatcher", "fire")
    stored = sqlite3.connect(db).execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "long enough pw" not in stored
    assert users.authenticate("anna", "long enough pw").agency == "fire"
    assert users.authenticate("anna", "wrong password") is None
    assert users.authenticate("nobody", "long enough pw") is None
    users.set_disabled("anna")
    assert users.authenticate("anna", "long enough pw") is None


def bad_input(row_id: int, at: float, raw: bytes = b"$GPRMC,garbage") -> QuarantineRow:
    return QuarantineRow(row_id, at, "nmea", "udp:1.2.3.4", "bad_checksum", "checksum 00", raw, len(raw))


def test_pruning_the_quarantine_moves_its_chain_start_and_other_removals_still_break_it(tmp_path: Path) -> None:
    """The quarantine is kept under a byte budget, oldest rows pruned: an audit must still hold every kept row
    to the chain, and a row taken out any other way must still show."""
    db = tmp_path / "log.db"
    log = EventLog(db)
    budget = 4 * (1000 + 100 + 100)  # about four rows of 1,000 raw bytes (each row is also counted ~200 bytes)
    for row_id in range(1, 11):
        written = log.quarantine([bad_input(row_id, 100.0 + row_id, bytes(1000))], {}, budget)
    kept = [r["id"] for r in LogReader(db).quarantined(limit=100)]
    assert written.kept_bytes <= budget and len(kept) < 10 and max(kept) == 10
    assert audit_log(LogReader(db).conn, []).problems == []
    log.quarantine([bad_input(11, 120.0)], {}, budget)  # the chain goes on from the kept head
    assert audit_log(LogReader(db).conn, []).problems == []
    log.close()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM quarantine WHERE id = ?", (min(kept),))  # not by pruning: nothing recorded
    conn.commit()
    conn.close()
    problems = audit_log(LogReader(db).conn, []).problems
    assert len(problems) == 1 and problems[0].startswith("quarantine: quarantine row"), problems


def test_rows_from_before_schema_3_are_sealed_into_their_chains(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = EventLog(db)
    batch = unit_events(1, 20)
    log.append(batch)
    log.save_snapshot(Picture().apply_all(e for e, _ in batch[:10]))
    log.access(100.0, "anna", "127.0.0.1:5", "sign_in", "ok")
    log.quarantine([bad_input(1, 101.0)], {}, 1 << 20)
    log.close()
    conn = sqlite3.connect(db)  # as a schema-2 log: the side tables have no hash column
    for table in ("snapshots", "access_log", "quarantine"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN hash")
    for column in ("size", "repeats", "last_at"):  # nor schema 5's quarantine bounds
        conn.execute(f"ALTER TABLE quarantine DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    log = EventLog(db)
    log.access(102.0, "anna", "127.0.0.1:5", "disconnect", "ok")  # continues the sealed chain
    log.close()
    audit = audit_log(LogReader(db).conn, [])
    assert audit.problems == [] and audit.checked == {"events": 20, "snapshots": 1, "access": 2, "quarantine": 1}
    conn = sqlite3.connect(db)
    conn.execute("UPDATE access_log SET user = 'bob' WHERE id = 1")
    conn.commit()
    conn.close()
    assert audit_log(LogReader(db).conn, []).problems == [
        "access: access-log row 1 (sign_in by bob) does not match its hash: it was altered, or an earlier link was"]


def test_a_reader_serves_only_trusted_snapshots_whose_picture_is_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = EventLog(db)
    batch = unit_events(1, 30)
    log.append(batch[:10])
    log.save_snapshot(Picture().apply_all(e for e, _ in batch[:10]))
    log.append(batch[10:20])
    log.save_snapshot(Picture().apply_all(e for e, _ in batch[:20]))
    log.append(batch[20:])
    refused: list[tuple[int, str]] = []
    reader = LogReader(db, {10: log.trusted_snapshots[10]}, lambda seq, why: refused.append((seq, why)))
    assert reader.latest_snapshot().seq == 10  # 20 is not vouched for: not served
    conn = sqlite3.connect(db)
    conn.execute("UPDATE snapshots SET picture = ? WHERE seq = 10", (encode_picture(Picture()),))
    conn.commit()
    conn.close()
    assert reader.latest_snapshot() is None and refused == [(10, "its stored picture was altered")]
    assert reader.picture_at() == Picture().apply_all(e for e, _ in batch)  # folded from the events


def test_a_snapshot_of_another_fold_version_is_never_used(tmp_path: Path) -> None:
    """A snapshot records the version of the fold that made it; readers and a hub pass over any other version
    (and over snapshots from before versions were recorded) and fold from an older matching one instead."""
    db = tmp_path / "log.db"
    log = EventLog(db)
    batch = unit_events(1, 40)
    log.append(batch[:10])
    log.save_snapshot(Picture().apply_all(e for e, _ in batch[:10]))  # this fold's version
    log.append(batch[10:20])
    # A snapshot "made by" another fold: its picture is wrong for this fold (empty), as a stale one would be.
    wrong = Picture(seq=20)
    log.save_snapshot_blob(20, 120.0, fold_mark(FOLD_VERSION + 1) + encode_picture(wrong)[len(fold_mark()):])
    log.append(batch[20:30])
    # And one from before snapshots carried a version: the bare compressed picture.
    log.save_snapshot_blob(30, 130.0, encode_picture(Picture(seq=30))[len(fold_mark()):])
    log.append(batch[30:])
    full = Picture().apply_all(e for e, _ in batch)
    for reader in (LogReader(db), LogReader(db, dict(log.trusted_snapshots))):
        assert reader.latest_snapshot().seq == 10
        assert reader.latest_snapshot(at_or_before_seq=25).seq == 10
        assert reader.picture_at() == full
        assert reader.picture_at(seq=25) == Picture().apply_all(e for e, _ in batch[:25])
        reader.close()
    with pytest.raises(StaleSnapshot):
        decode_picture(fold_mark(FOLD_VERSION + 1) + encode_picture(wrong)[len(fold_mark()):])
