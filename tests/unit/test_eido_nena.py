"""EIDO against NENA's own material: our export validates against NENA's published EIDO schema (NENA-STA-021.1b,
kept in resources/schemas) with jsonschema, and every sample NENA has published reads and plans an import."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.decide import decide
from app.domain.entities import UnitStatus
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.eido import UNIT_STATUS_EIDO, export_eido, parse_eido
from app.feeds.eido_incidents import TRIAGE_MARKER, import_plan, incident_eido
from tests.nena_eido import schema_errors

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "real" / "eido"
T0 = 1_795_240_000.0


class World:
    def __init__(self) -> None:
        self.picture = Picture()
        self.actor = Actor("sue", Role.SUPERVISOR, "fire")

    def do(self, name: str, args: object) -> None:
        for draft in decide(self.picture, self.actor, name, args, T0 + self.picture.seq):
            self.picture.apply(Event(self.picture.seq + 1, T0 + self.picture.seq, self.actor.user, draft.kind,
                                     draft.data, draft.audience))


def test_an_exported_incident_validates_against_nenas_schema() -> None:
    world = World()
    world.do("unit.register", c.RegisterUnit("E12", "fire", "engine", lat=60.17, lon=24.94))
    world.do("unit.register", c.RegisterUnit("M3", "medical", "ambulance", lat=60.17, lon=24.94))
    world.do("incident.create", c.CreateIncident("structure_fire", 60.1685, 24.944, address="Aleksanterinkatu 15",
                                                 notes="smoke from third floor"))
    world.do("unit.assign", c.AssignUnit("E12", "1001"))
    world.do("unit.assign", c.AssignUnit("M3", "1001"))
    world.do("unit.status", c.SetUnitStatus("E12", "on_scene"))
    world.do("incident.note", c.AddNote("1001", "roof vented"))
    doc = json.loads(json.dumps(incident_eido(world.picture.incidents["1001"], world.picture)))  # as written
    assert schema_errors(doc) == []
    # What the issue found on main: the incident as a list, and the required fields missing, are caught.
    broken = {**doc, "incidentComponent": [doc["incidentComponent"]]}
    del broken["issuingElementIdentification"]
    assert any(e.startswith("incidentComponent: ") for e in schema_errors(broken))
    assert "'issuingElementIdentification' is a required property" in " ".join(schema_errors(broken))


@pytest.mark.parametrize("status", sorted(UNIT_STATUS_EIDO))
def test_every_unit_status_and_a_bare_incident_validate(status: str) -> None:
    incident = {"id": "7", "type_code": "gas_leak", "status": "new", "lat": 60.17, "lon": 24.95, "agency": "fire",
                "updated": datetime(2024, 5, 1, 9, 30, tzinfo=UTC)}
    assert schema_errors(export_eido(incident)) == []
    unit = {"id": "X1", "agency": "rescue.example", "status": status, "kind": "hovercraft"}  # a configured kind
    assert schema_errors(export_eido({**incident, "units": [unit], "address": {"NAM": "Kauppatori"}})) == []


def test_the_validator_accepts_nenas_valid_samples_and_refuses_the_2020_draft() -> None:
    """The schema as used here is the one NENA's samples were fixed to pass ("Fixed errors in the sample EIDO so it
    passes validation"), and it really checks: the pre-standard 2020 sample fails it."""
    for name in ("nena-2021-12-call-transfer.json", "nena-2022-05-call-transfer.json"):
        assert schema_errors(json.loads((SAMPLES / name).read_text())) == [], name
    old = schema_errors(json.loads((SAMPLES / "nena-2020-10-sample-eido.json").read_text()))
    assert ": 'eidoVersion' is a required property" in old


MISMATCHED = ("Location (RoutingLocation): unreadable: malformed_xml: XML parse error: mismatched tag: "
              "line 1, column 1402")
#: What each of NENA's samples is to a dispatcher: why it cannot be put on the map, and lines of its triage message.
EXPECTED = {
    "nena-2020-10-sample-eido.json": (
        "urn:emergency:uid:incidentid:0:psap.allegheny.pa.us", "an incident whose location has no coordinates",
        ["Incident type CU1 (10-101 CIVIL UNREST; REQUEST MUTUAL AID), priority 10",
         "Location (RoutingLocation): unreadable: malformed_xml: XML parse error: unbound prefix: line 1, column 274",
         "Issued by string, last updated 2020-10-29 18:40 UTC"]),
    "nena-2021-05-call-transfer.json": (
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us", "a call without an incident (a call transfer)",
        ["Call back: sip:8195551212@osp.com, tel:8195551212",
         MISMATCHED]),
    "nena-2021-08-call-transfer.json": (
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us", "a call without an incident (a call transfer)",
        [MISMATCHED]),
    "nena-2021-12-call-transfer.json": (
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us", "a call without an incident (a call transfer)",
        ["Call urn:emergency:uid:callid:a56e556d871:bcf.state.pa.us: emergency, incoming, callAnswered, "
         "queue sos@state.pa.us, started 2021-04-30T18:40:00.0Z",
         "Location (RoutingLocation): 42 W Cellular Street, Wilmington, DE, US"]),
    "nena-2022-05-call-transfer.json": (
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us", "a call without an incident (a call transfer)",
        ["Call urn:emergency:uid:callid:a56e556d871:bcf.state.pa.us: emergency, incoming, callAnswered, "
         "queue sos@state.pa.us, started 2021-04-30T14:40:00.0-04:00",
         "Call back: sip:8195551212@osp.com, tel:8195551212",
         "Location (RoutingLocation): 42 W Cellular Street, Wilmington, DE, US",
         "Location (Caller): by reference https://lrf.osp.com?oasufdqwerjn12346jfias (not fetched)",
         "Issued by idx.state.pa.us, last updated 2021-04-30 18:43 UTC"]),
}


def test_every_nena_sample_is_kept() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_nena_sample_becomes_a_message_for_triage(name: str) -> None:
    tracking_id, why, lines = EXPECTED[name]
    doc = parse_eido((SAMPLES / name).read_bytes())
    assert doc.id == tracking_id
    world = World()
    world.do("unit.register", c.RegisterUnit("E11", "fire", "engine", lat=60.17, lon=24.95))
    plan = import_plan(doc, world.picture, "disturbance")  # even with a type named: there is no point to open at
    assert plan.create is None and plan.steps == [] and not plan.posted
    first, *rest = plan.triage.splitlines()
    assert first == (f"{TRIAGE_MARKER}{tracking_id}: {why}. Nothing was opened on the map: confirm the location "
                     "with the caller and open the incident.")
    for line in lines:
        assert line in rest
    world.do("message.send", c.SendMessage("agency:fire", plan.triage))  # what the importer posts: it is accepted
    assert world.picture.messages[-1].text == plan.triage
    assert world.picture.units["E11"].status == UnitStatus.AVAILABLE and not world.picture.incidents
