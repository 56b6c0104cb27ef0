"""CSV and GeoJSON exports of a crafted log on a real SQLite file: complete, attributed, and safe to open."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import shapely.geometry

from app.domain.picture import Viewer
from app.review.export import CSV_COLUMNS, export_csv, export_geojson, geojson_collection
from app.review.replay import Replay, ReviewError
from tests.review_log import BASE, CraftedLog, write_morning


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_morning(tmp_path_factory.mktemp("export") / "morning.db")


def rows(replay: Replay, **kwargs: object) -> list[dict[str, str]]:
    buffer = io.StringIO()
    count = export_csv(replay, buffer, **kwargs)  # type: ignore[arg-type]
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(parsed) == count
    return parsed


def test_csv_of_a_window_has_every_event_but_positions_with_its_actor(morning: Path) -> None:
    with Replay(morning) as replay:
        table = rows(replay, t0=BASE + 1000, t1=BASE + 1540)
        with_positions = rows(replay, t0=BASE + 1000, t1=BASE + 1540, positions=True)
    assert list(table[0]) == list(CSV_COLUMNS)
    assert [r["kind"] for r in table][:3] == ["incident.created", "unit.assigned", "unit.status"]
    assert all(r["actor"] for r in table) and "unit.position" not in {r["kind"] for r in table}
    assert table[0]["time"] == "2024-05-01T08:16:40.000Z" and table[0]["incident"] == "1002"
    cancelled = next(r for r in table if r["summary"] == "E2 available")
    assert (cancelled["unit"], cancelled["incident"], cancelled["actor"]) == ("E2", "1002", "fire1")
    assert json.loads(cancelled["data"]) == {"unit": "E2", "status": "available", "previous": "en_route",
                                             "incident": "1002"}
    positions = [r for r in with_positions if r["kind"] == "unit.position"]
    assert len(positions) == 10 and {r["actor"] for r in positions} == {"avl"}  # E3's drive, one fix per 30 s
    assert [int(r["seq"]) for r in with_positions] == sorted(int(r["seq"]) for r in with_positions)


def test_csv_of_an_incident_holds_its_whole_story(morning: Path) -> None:
    with Replay(morning) as replay:
        story = rows(replay, incident="1004")
    assert [r["summary"] for r in story] == [
        "Created: Cardiac arrest P1 at Kaisaniemenkatu 3 — CPR in progress",
        "Mutual aid AR-1 requested from fire: nearest engine please", "Mutual aid AR-1 ACCEPTED: E1 coming",
        "M1 dispatched", "Status DISPATCHED", "E1 dispatched", "M1 en route", "Status EN ROUTE", "E1 en route",
        "[medical] Engine first on scene, start CPR handover <b>now</b>", "E1 on scene", "Status ON SCENE",
        "M1 on scene",
        "Note: ROSC at 09:12 <script>alert(1)</script><img src=\"http://tracker.example/x.png\">"]
    assert {r["incident"] for r in story} == {"1004"}  # the aid answer too, though its data names only AR-1


def test_restricted_calls_stay_out_of_other_agencies_exports(morning: Path) -> None:
    with Replay(morning, viewer=Viewer("fire")) as replay:
        everything = rows(replay)
        assert "1005" not in {r["incident"] for r in everything}
        assert "Plain clothes only" not in "".join(r["summary"] for r in everything)
        assert "1005" not in {f["properties"].get("id") for f in geojson_collection(replay)["features"]}
        with pytest.raises(ReviewError, match="no incident 1005"):
            export_csv(replay, io.StringIO(), incident="1005")
    with Replay(morning, viewer=Viewer("police")) as replay:
        assert "Plain clothes only" in "".join(r["summary"] for r in rows(replay, incident="1005"))


def test_cells_a_spreadsheet_would_run_as_formulas_are_defused(tmp_path: Path) -> None:
    log = CraftedLog(tmp_path / "hostile.db")
    log.at(0, "=HYPERLINK(\"http://evil\")", "unit.registered", id="-2", agency="fire", kind="engine")
    log.at(1, "feed1", "message.posted", id="MSG-1", channel="all", agency="fire", text="@SUM(1+1)")
    log.flush()
    log.log.close()
    with Replay(tmp_path / "hostile.db") as replay:
        table = rows(replay)
    assert table[0]["actor"] == "'=HYPERLINK(\"http://evil\")" and table[0]["unit"] == "'-2"
    assert table[1]["summary"] == "[fire] @SUM(1+1)"  # starts with "[": nothing to run
    assert json.loads(table[1]["data"])["text"] == "@SUM(1+1)"  # the data column keeps the exact value


def test_geojson_of_the_morning(morning: Path, tmp_path: Path) -> None:
    with Replay(morning) as replay:
        count = export_geojson(replay, tmp_path / "morning.geojson")
    collection = json.loads((tmp_path / "morning.geojson").read_text())
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == count
    by_layer: dict[str, list[dict]] = {}
    for feature in collection["features"]:
        assert shapely.geometry.shape(feature["geometry"]).is_valid
        assert feature["properties"]["actor"], feature
        by_layer.setdefault(feature["properties"]["layer"], []).append(feature)
    incidents = {f["properties"]["id"]: f for f in by_layer["incident"]}
    assert sorted(incidents) == ["1001", "1002", "1003", "1004", "1005"]
    assert incidents["1001"]["geometry"]["coordinates"] == [24.9440, 60.1685]  # lon, lat
    assert incidents["1001"]["properties"]["disposition"] == "resolved"
    tracks = {f["properties"]["unit"]: f for f in by_layer["track"]}
    assert sorted(tracks) == ["E1", "E3", "M1"] and tracks["E1"]["geometry"]["type"] == "LineString"
    assert tracks["E1"]["geometry"]["coordinates"][10] == [24.9440, 60.1685]  # it drove to the fire first
    assert tracks["E1"]["properties"]["actor"] == "avl" and tracks["E1"]["properties"]["fixes"] == 16
    (alert,) = by_layer["alert"]
    ring = alert["geometry"]["coordinates"][0][0]
    assert ring[0] == ring[-1] and alert["properties"]["actor"] == "super1"


def test_geojson_of_one_incident_keeps_to_its_units_while_committed(morning: Path) -> None:
    with Replay(morning) as replay:
        features = geojson_collection(replay, incident="1002")["features"]
        with pytest.raises(ReviewError, match="no events"):
            geojson_collection(replay, BASE, BASE + 10, incident="1002")
    # AL-1 went out while 1002 was open (1001, closed before, has no alert in its export).
    assert [f["properties"]["layer"] for f in features] == ["incident", "track", "alert"]
    with Replay(morning) as replay:
        assert [f["properties"]["layer"] for f in geojson_collection(replay, incident="1001")["features"]] == [
            "incident", "track"]
    track = features[1]["properties"]
    assert track["unit"] == "E3" and track["fixes"] == 10  # E2 was cancelled before it reported
