"""Replay on a crafted log in a real SQLite file: seeks equal a fold from the start, tracks, event windows,
incident histories, viewers, and logs a hub has not migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from app.domain.picture import Picture, Viewer
from app.review.replay import Replay, ReviewError
from app.store.log import EventLog, LogReader
from tests.review_log import BASE, write_morning


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_morning(tmp_path_factory.mktemp("replay") / "morning.db")
    log, reader = EventLog(path), LogReader(path)  # a snapshot mid-morning too, as the hub stores them
    log.save_snapshot(reader.picture_at(seq=40))
    reader.close()
    log.close()
    return path


def plain(picture: Picture) -> dict:
    data = msgspec.to_builtins(picture)
    data.pop("at")
    return data


def test_every_seek_equals_the_fold_from_the_start(morning: Path) -> None:
    reader = LogReader(morning)
    events = reader.events_since(0)
    reader.close()
    with Replay(morning) as replay:
        assert replay.span() == (events[0].ts, events[-1].ts)
        moments = sorted({e.ts for e in events} | {e.ts + 0.5 for e in events} | {events[0].ts - 1})
        for t in moments:
            expected = Picture().apply_all(e for e in events if e.ts <= t)
            assert plain(replay.picture_at(t)) == plain(expected), t
            assert replay.picture_at(t).at == t
        assert replay.seq_at(BASE - 1) == 0 and replay.picture_at(BASE - 1).units == {}


def test_a_viewer_sees_its_picture(morning: Path) -> None:
    with Replay(morning, viewer=Viewer("fire")) as fire, Replay(morning, viewer=Viewer("police")) as police:
        t = BASE + 5100
        assert "1005" not in fire.picture_at(t).incidents and "1005" in police.picture_at(t).incidents
        assert "MSG-3" not in {m.id for m in fire.picture_at(t).messages}
        assert [e.data["id"] for e in police.events(BASE + 4999, t)] == ["1005", "MSG-3"]
        assert fire.events(BASE + 4999, t) == []


def test_tracks_of_a_window(morning: Path) -> None:
    with Replay(morning) as replay:
        tracks = replay.tracks(BASE + 200, BASE + 300)
        assert list(tracks) == ["E1"] and [p[0] - BASE for p in tracks["E1"]] == [230, 250, 270, 290]
        both = replay.tracks(BASE + 4100, BASE + 4300, units=["M1", "E1", "nobody"])
        assert sorted(both) == ["E1", "M1"] and both["M1"][-1][1:] == (60.169, 24.948)
        assert replay.tracks(BASE, BASE + 9999, units=[]) == {}


def test_events_of_a_window(morning: Path) -> None:
    with Replay(morning) as replay:
        window = replay.events(BASE + 1000, BASE + 1540)
        assert "unit.position" not in {e.kind for e in window} and window[0].kind == "incident.created"
        assert [e.seq for e in window] == sorted(e.seq for e in window)
        fixes = replay.events(BASE + 1000, BASE + 1540, kinds=["unit.position"])
        assert len(fixes) == 10 and {e.data["unit"] for e in fixes} == {"E3"}
        assert [e.data["status"] for e in replay.events(BASE + 1000, BASE + 1540, kinds=["unit.status"],
                                                        incident="1002")] == ["en_route", "available", "en_route",
                                                                              "on_scene"]


def test_an_incident_history_follows_its_units_only_while_assigned(morning: Path) -> None:
    with Replay(morning) as replay:
        story = replay.incident_events("1002")
        units = [(e.kind, e.data.get("unit"), e.data.get("status")) for e in story if e.kind.startswith("unit.")]
        # E2 was cancelled at 1130 and sent to 1003 later: those later events are not 1002's.
        assert units == [("unit.assigned", "E2", None), ("unit.status", "E2", "en_route"),
                         ("unit.status", "E2", "available"), ("unit.assigned", "E3", None),
                         ("unit.status", "E3", "en_route"), ("unit.status", "E3", "on_scene")]
        assert "alert.issued" in {e.kind for e in story}  # AL-1 went out while 1002 was open
        closed_first = replay.incident_events("1001")
        assert "alert.issued" not in {e.kind for e in closed_first}  # 1001 was closed by then
        assert [e.data["text"] for e in closed_first if e.kind == "message.posted"] == ["E1 two minutes out"]
        aid = [e.kind for e in replay.incident_events("1004") if e.kind.startswith("aid.")]
        assert aid == ["aid.requested", "aid.answered"]
        with pytest.raises(ReviewError, match="no incident 77"):
            replay.incident_events("77")


def test_a_log_from_before_schema_2_is_read_the_same(morning: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(morning) as source, sqlite3.connect(old) as copy:
        source.backup(copy)
    conn = sqlite3.connect(old)
    conn.execute("DROP INDEX events_ts_not_position")
    for table in ("snapshots", "access_log", "quarantine"):  # schema 3's chains
        conn.execute(f"ALTER TABLE {table} DROP COLUMN hash")
    for column in ("size", "repeats", "last_at"):  # schema 5's
        conn.execute(f"ALTER TABLE quarantine DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with Replay(morning) as new, Replay(old) as before:
        assert before.incident_events("1004") == new.incident_events("1004")
        assert before.events(BASE, BASE + 9999) == new.events(BASE, BASE + 9999)
    EventLog(old).close()  # the hub migrates it when it opens the log
    assert sqlite3.connect(old).execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'events_ts_not_position'").fetchone() is not None


def test_logs_that_cannot_be_reviewed(tmp_path: Path) -> None:
    EventLog(tmp_path / "empty.db").close()
    with Replay(tmp_path / "empty.db") as replay, pytest.raises(ReviewError, match="holds no events"):
        replay.span()
    with pytest.raises(ReviewError, match="no log file"):
        Replay(tmp_path / "missing.db")
    (tmp_path / "notes.txt").write_text("shopping list\n" * 200)
    with pytest.raises(ReviewError, match="not a Watchfloor log"):
        Replay(tmp_path / "notes.txt")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE things (x)").connection.commit()
    with pytest.raises(ReviewError, match="not a Watchfloor log"):
        Replay(tmp_path / "other.db")
