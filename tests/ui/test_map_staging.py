"""ChangeStage: what coalescing between two flushes keeps and drops."""

from __future__ import annotations

import pytest

from app.ui.map.staging import ChangeStage


def test_last_write_wins_and_partial_updates_merge():
    stage = ChangeStage()
    stage.upsert("units", [{"id": "u1", "callsign": "E1", "lat": 1.0, "lon": 2.0}])
    stage.upsert("units", [{"id": "u1", "lat": 1.5}])
    stage.upsert("units", [{"id": "u1", "lat": 1.7}])
    batch = stage.drain()
    assert batch == {"units": [{"id": "u1", "callsign": "E1", "lat": 1.7, "lon": 2.0}]}
    assert not stage


def test_remove_cancels_staged_upsert_and_upsert_cancels_remove():
    stage = ChangeStage()
    stage.upsert("incidents", [{"id": 1, "priority": 1}, {"id": 2, "priority": 3}])
    stage.remove("incidents", [1])
    stage.remove("units", ["u9"])
    stage.upsert("units", [{"id": "u9", "lat": 0.0}])
    assert stage.drain() == {"incidents": [{"id": 2, "priority": 3}], "incidentsRemoved": ["1"],
                             "units": [{"id": "u9", "lat": 0.0}]}


def test_replaced_layers_keep_the_last_value_and_commands_keep_order():
    stage = ChangeStage()
    stage.replace("zones", [{"id": "z1"}])
    stage.replace("zones", [{"id": "z2"}])
    stage.command("select", "unit", "u1")
    stage.command("center", 60.0, 24.0, 15)
    assert stage.drain() == {"zones": [{"id": "z2"}], "commands": [["select", "unit", "u1"],
                                                                   ["center", 60.0, 24.0, 15]]}
    with pytest.raises(ValueError):
        stage.replace("units", [])


def test_empty_stage_is_falsy():
    assert not ChangeStage()
    assert ChangeStage().drain() == {}
