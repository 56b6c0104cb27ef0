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
    UNIT_STATUS_EIDO,
    export_eido,
    parse_eido,
    unit_status_watchfloor,
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
        {"id": "E11", "status": "on_scene", "kind": "engine"},
        {"id": "M31", "agency": "ensihoito.hel.fi", "status": "transporting", "kind": "ambulance"},
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
    assert [(u.id, u.agency, u.status, u.secondary) for u in inc.units] == [
        ("E11", "pelastus.hel.fi", "NotAvailable", ("EnRoute",)),
        ("M31", "ensihoito.hel.fi", "NotAvailable", ("Dispatched",)),
    ]
    assert [(a.id, a.owning) for a in inc.agencies] == [
        ("pelastus.hel.fi", True),
        ("ensihoito.hel.fi", False),
    ]
    assert inc.notes[0].startswith("Caller reports smoke")


def test_export_uses_standard_field_names_and_parses_back():
    doc = export_eido(INCIDENT)
    tracking = "urn:emergency:uid:incidentid:HEL-2024-0042:watchfloor.pelastus.hel.fi"
    assert doc["$id"] == tracking and doc["issuingElementIdentification"] == "watchfloor.pelastus.hel.fi"
    assert doc["eidoVersion"] == "1.0" and doc["lastUpdateTimeStamp"] == "2024-05-01T09:30:00.000Z"
    inc_c = doc["incidentComponent"]  # one object, as NENA's schema has it
    assert inc_c["incidentTypeCommonRegistryText"] == "Fire" and inc_c["internalIncidentId"] == "HEL-2024-0042"
    assert inc_c["incidentStatusCommonRegistryText"] == ["Active", "ResourcesOnscene"]
    engine, ambulance = doc["emergencyResourceComponent"]
    assert (engine["$id"], engine["emergencyResourceName"], engine["emergencyResourceTypeCommonRegistryText"]) == (
        "E11@pelastus.hel.fi", "E11", "StructureFireEngineType1")
    assert (engine["primaryUnitStatusRegistryText"], engine["secondaryUnitStatusRegistryText"]) == (
        "NotAvailable", ["OnScene"])
    assert (ambulance["$id"], ambulance["secondaryUnitStatusRegistryText"]) == (
        "M31@ensihoito.hel.fi", ["Transporting", "Hospital"])
    assert [(a["$id"], a["agencyRoleDescriptionRegistryText"], a["incidentOwningAgencyIndicator"])
            for a in doc["agencyComponent"]] == [("ensihoito.hel.fi", ["Dispatched"], False),
                                                 ("pelastus.hel.fi", ["Dispatching"], True)]

    inc = parse_eido(json.dumps(doc))
    assert (inc.id, inc.type_code, inc.type_internal_text, inc.priority) == (tracking, "Fire", "Structure fire", 1)
    assert inc.status == ("Active", "ResourcesOnscene") and inc.status_internal == ("on_scene",)
    assert (inc.location.lat, inc.location.lon) == (60.1685, 24.945)
    assert dict(inc.location.civic) == INCIDENT["address"]
    assert inc.notes == ("Smoke from 3rd floor", "Residents evacuated <all>")
    assert [(u.id, u.agency, unit_status_watchfloor(u.status, u.secondary)) for u in inc.units] == [
        ("E11", "pelastus.hel.fi", "on_scene"),
        ("M31", "ensihoito.hel.fi", "transporting"),
    ]
    assert inc.updated == T0 and inc.issuer == "watchfloor.pelastus.hel.fi"
    assert {a.id for a in inc.agencies} == {"pelastus.hel.fi", "ensihoito.hel.fi"}


#: Values of NENA's registries (NENA-STA-021.1a/1b section 3.3 Incident Status-Common, 3.9 Primary and 3.10
#: Secondary Unit Status-Common), as far as Watchfloor uses them.
INCIDENT_STATUS_REGISTRY = {"Active", "Cancelled", "Closed", "FireUnderControl", "NewLocation", "ReOpened",
                            "ResourcesAssigned", "ResourcesEnroute", "ResourcesOnscene", "StructureCleared"}
PRIMARY_UNIT_STATUS_REGISTRY = {"Available", "ConditionallyAvailable", "NotAvailable"}
SECONDARY_UNIT_STATUS_REGISTRY = {"Arrived", "Dispatched", "EnRoute", "Hospital", "InService", "OnScene",
                                  "OutofService", "Transporting"}


def test_statuses_are_registry_values_and_read_back_to_the_same_watchfloor_status():
    assert set(UNIT_STATUS_EIDO) == {
        "available", "dispatched", "en_route", "on_scene", "transporting", "at_hospital", "out_of_service",
    }  # fmt: skip
    assert set(INCIDENT_STATUS_EIDO) == {"new", "dispatched", "en_route", "on_scene", "under_control", "closed"}
    for values in INCIDENT_STATUS_EIDO.values():
        assert set(values) <= INCIDENT_STATUS_REGISTRY
    for status, (primary, secondary) in UNIT_STATUS_EIDO.items():
        assert primary in PRIMARY_UNIT_STATUS_REGISTRY and set(secondary) <= SECONDARY_UNIT_STATUS_REGISTRY
        assert unit_status_watchfloor(primary, secondary) == status
    assert unit_status_watchfloor("NotAvailable", ["Transporting"]) == "transporting"  # no destination given
    assert unit_status_watchfloor("NotAvailable", ["Meal"]) is None


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
        (mutated(_set(["incidentComponent"], KeyError)), "missing_field"),  # and no callComponent either
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
        (
            mutated(
                _set(
                    LOC_XML, '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><presence>&x;</presence>'
                )
            ),
            "entity_expansion",
        ),
        (mutated(_set(LOC_XML, "<presence>" + "x" * 70_000 + "</presence>")), "too_large"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_documents(payload, code):
    assert code_of(payload) == code


@pytest.mark.parametrize(
    ("pidf", "code"),
    [
        (PIDF.replace("60.16872 24.95104", "91.5 24.95104"), "out_of_range"),
        (PIDF.replace("60.16872 24.95104", "north east"), "wrong_type"),
        (PIDF[:200], "truncated"),
        (PIDF.replace("<gml:Point", "<gs:Point"), "malformed_xml"),  # an undeclared prefix, as NENA's 2020 sample
        ("<presence/>", "missing_field"),
        (KeyError, "missing_field"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_an_unreadable_location_is_kept_with_its_problem_and_the_rest_is_read(pidf, code):
    inc = parse_eido(mutated(_set(LOC_XML, pidf)))
    assert inc.location.id == "loc-1" and inc.location.lat is None
    assert inc.location.problem.startswith(f"{code}: ")
    assert inc.type_code == "Fire" and len(inc.units) == 2  # everything else still arrives


def test_five_megabytes_refused_quickly():
    doc = json.loads(SAMPLE)
    doc["notesComponent"][0]["notesActionComments"] = "x" * 5_000_000
    started = time.perf_counter()
    assert code_of(json.dumps(doc)) == "too_large"
    assert time.perf_counter() - started < 5


def test_incident_component_may_be_a_list_as_drafts_had_it():
    doc = json.loads(SAMPLE)
    doc["incidentComponent"] = copy.deepcopy(doc["incidentComponent"][0])
    assert parse_eido(json.dumps(doc)).type_code == "Fire"
    doc["incidentComponent"] = [doc["incidentComponent"]]
    assert parse_eido(json.dumps(doc)).type_code == "Fire"
