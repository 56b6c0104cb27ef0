"""NENA EIDO JSON: a Helsinki sample, export -> parse round trip, registries, hostile input."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.feeds.eido import (
    INCIDENT_STATUS_EIDO,
    INCIDENT_STATUS_WATCHFLOOR,
    UNIT_STATUS_EIDO,
    UNIT_STATUS_WATCHFLOOR,
    export_eido,
    parse_eido,
)
from app.feeds.errors import FeedError

DATA = Path(__file__).parent / "data" / "feeds"
SAMPLE = (DATA / "eido_helsinki_fire.json").read_bytes()
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)

INCIDENT = {
    "id": "HEL-2024-0042",
    "type_code": "Fire",
    "type_text": "Structure fire",
    "status": "on_scene",
    "priority": 1,
    "lat": 60.1685,
    "lon": 24.945,
    "agency": "pelastus.hel.fi",
    "updated": T0,
    "address": {"country": "FI", "A3": "Helsinki", "RD": "Pohjoisesplanadi", "HNO": "11"},
    "notes": ["Smoke from 3rd floor", "Residents evacuated <all>"],
    "units": [
        {"id": "E11", "status": "on_scene"},
        {"id": "M31", "agency": "ensihoito.hel.fi", "status": "transporting"},
    ],
}


def code_of(data) -> str:
    with pytest.raises(FeedError) as err:
        parse_eido(data)
    return err.value.code


def mutated(change) -> bytes:
    doc = json.loads(SAMPLE)
    change(doc)
    return json.dumps(doc).encode()


def test_sample():
    inc = parse_eido(SAMPLE)
    assert inc.id == "urn:emergency:uid:incidentid:HEL-2024-0042:pelastus.hel.fi"
    assert inc.message_id.startswith("urn:uuid:")
    assert (inc.type_code, inc.type_internal_code, inc.priority) == ("Fire", "402", 2)
    assert inc.status == ("Dispatched",) and inc.status_internal == ("HÄLYTETTY",)
    assert inc.updated == datetime(2024, 5, 1, 6, 41, 12, 250000, tzinfo=UTC)
    # the referenced location (loc-1) is chosen, not the first one
    assert inc.location.id == "loc-1"
    assert (inc.location.lat, inc.location.lon) == (60.16872, 24.95104)
    assert dict(inc.location.civic)["RD"] == "Pohjoisesplanadi"
    assert [(u.id, u.agency, u.status) for u in inc.units] == [
        ("E11", "pelastus.hel.fi", "Enroute"),
        ("M31", "ensihoito.hel.fi", "Dispatched"),
    ]
    assert [(a.id, a.owning) for a in inc.agencies] == [
        ("pelastus.hel.fi", True),
        ("ensihoito.hel.fi", False),
    ]
    assert inc.notes[0].startswith("Caller reports smoke")


def test_export_uses_standard_field_names_and_parses_back():
    doc = export_eido(INCIDENT)
    assert {
        "$id",
        "eidoMessageIdentifier",
        "lastUpdateTimeStamp",
        "incidentComponent",
        "locationComponent",
    } <= set(doc)
    inc_c = doc["incidentComponent"][0]
    for key in (
        "incidentTrackingIdentifier",
        "incidentTypeCommonRegistryText",
        "incidentStatusCommonRegistryText",
    ):
        assert key in inc_c
    assert (
        doc["emergencyResourceComponent"][0]["primaryUnitStatusRegistryText"] == UNIT_STATUS_EIDO["on_scene"]
    )
    assert doc["lastUpdateTimeStamp"] == "2024-05-01T09:30:00.000Z"

    inc = parse_eido(json.dumps(doc))
    assert (inc.id, inc.type_code, inc.type_internal_text, inc.priority) == (
        "HEL-2024-0042",
        "Fire",
        "Structure fire",
        1,
    )
    assert INCIDENT_STATUS_WATCHFLOOR[inc.status[0]] == "on_scene" and inc.status_internal == ("on_scene",)
    assert (inc.location.lat, inc.location.lon) == (60.1685, 24.945)
    assert dict(inc.location.civic) == INCIDENT["address"]
    assert inc.notes == ("Smoke from 3rd floor", "Residents evacuated <all>")
    assert [(u.id, u.agency, UNIT_STATUS_WATCHFLOOR[u.status]) for u in inc.units] == [
        ("E11", "pelastus.hel.fi", "on_scene"),
        ("M31", "ensihoito.hel.fi", "transporting"),
    ]
    assert inc.updated == T0
    assert {a.id for a in inc.agencies} == {"pelastus.hel.fi", "ensihoito.hel.fi"}


def test_registry_tables_cover_every_watchfloor_status_one_to_one():
    assert set(UNIT_STATUS_EIDO) == {
        "available", "dispatched", "en_route", "on_scene", "transporting", "at_hospital", "out_of_service",
    }  # fmt: skip
    assert set(INCIDENT_STATUS_EIDO) == {
        "new",
        "dispatched",
        "en_route",
        "on_scene",
        "under_control",
        "closed",
    }
    assert len(set(UNIT_STATUS_EIDO.values())) == len(UNIT_STATUS_EIDO)
    assert len(set(INCIDENT_STATUS_EIDO.values())) == len(INCIDENT_STATUS_EIDO)


def test_export_refuses_bad_input():
    for change in (
        {"status": "burning"},
        {"lat": float("nan")},
        {"updated": datetime(2024, 5, 1)},
        {"units": [{"id": "E1", "status": "napping"}]},
    ):
        with pytest.raises(ValueError):
            export_eido({**INCIDENT, **change})
    with pytest.raises(FeedError):
        export_eido({**INCIDENT, "lat": 91.0})


def _set(path: list, value):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


LOC_XML = ["locationComponent", 1, "locationByValue"]
PIDF = json.loads(SAMPLE)["locationComponent"][1]["locationByValue"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "empty"),
        (SAMPLE[:-40], "truncated"),
        (b"\xff\xfe\x00garbage", "malformed_json"),
        (b"[1, 2, 3]", "wrong_type"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed_json"),
        (b'{"a": NaN}', "malformed_json"),
        (b'{"a": ' + b"9" * 5000 + b"}", "malformed_json"),
        (mutated(_set(["lastUpdateTimeStamp"], KeyError)), "missing_field"),
        (mutated(_set(["lastUpdateTimeStamp"], "yesterday")), "invalid_time"),
        (mutated(_set(["lastUpdateTimeStamp"], "2024-05-01T09:41:12")), "invalid_time"),
        (mutated(_set(["incidentComponent"], KeyError)), "missing_field"),
        (mutated(_set(["incidentComponent"], [])), "missing_field"),
        (mutated(_set(["incidentComponent"], "fire")), "wrong_type"),
        (
            mutated(_set(["incidentComponent", 0, "incidentTypeCommonRegistryText"], KeyError)),
            "missing_field",
        ),
        (mutated(_set(["incidentComponent", 0, "incidentTypeCommonRegistryText"], 7)), "wrong_type"),
        (mutated(_set(["incidentComponent", 0, "incidentCommonPriorityNumber"], "high")), "wrong_type"),
        (mutated(_set(["incidentComponent", 0, "incidentCommonPriorityNumber"], True)), "wrong_type"),
        (mutated(_set(["incidentComponent", 0, "incidentStatusInternalText"], [1])), "wrong_type"),
        (mutated(_set(["emergencyResourceComponent", 0], "E11")), "wrong_type"),
        (mutated(_set(["emergencyResourceComponent", 0, "$id"], KeyError)), "missing_field"),
        (mutated(_set(["agencyComponent", 0, "incidentOwningAgencyIndicator"], "yes")), "wrong_type"),
        (mutated(_set(["notesComponent", 0, "notesActionComments"], KeyError)), "missing_field"),
        (mutated(_set(LOC_XML, PIDF.replace("60.16872 24.95104", "91.5 24.95104"))), "out_of_range"),
        (mutated(_set(LOC_XML, PIDF.replace("60.16872 24.95104", "north east"))), "wrong_type"),
        (mutated(_set(LOC_XML, PIDF[:200])), "truncated"),
        (
            mutated(
                _set(
                    LOC_XML, '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><presence>&x;</presence>'
                )
            ),
            "entity_expansion",
        ),
        (mutated(_set(LOC_XML, "<presence/>")), "missing_field"),
        (mutated(_set(["locationComponent", 1, "locationByValue"], KeyError)), "missing_field"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_documents(payload, code):
    assert code_of(payload) == code


def test_five_megabytes_refused_quickly():
    doc = json.loads(SAMPLE)
    doc["notesComponent"][0]["notesActionComments"] = "x" * 5_000_000
    started = time.perf_counter()
    assert code_of(json.dumps(doc)) == "too_large"
    assert time.perf_counter() - started < 5


def test_incident_component_may_be_a_single_object():
    doc = json.loads(SAMPLE)
    doc["incidentComponent"] = copy.deepcopy(doc["incidentComponent"][0])
    assert parse_eido(json.dumps(doc)).type_code == "Fire"
