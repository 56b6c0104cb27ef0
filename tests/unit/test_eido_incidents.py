"""EIDO <-> incidents: what importing the Helsinki sample takes (type, address, notes, units by the lifecycle),
a re-import finds its incident, and an exported incident has the structure NENA's EIDO schema names and reads
back to the same incident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.decide import decide
from app.domain.entities import UnitStatus
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.eido import parse_eido
from app.feeds.eido_incidents import MARKER, import_plan, incident_eido, status_path
from app.feeds.errors import FeedError

DATA = Path(__file__).parent / "data" / "feeds"
SAMPLE = parse_eido((DATA / "eido_helsinki_fire.json").read_bytes())
SUPER = Actor("sue", Role.SUPERVISOR, "fire")
T0 = 1_795_240_000.0


class World:
    def __init__(self) -> None:
        self.picture = Picture()

    def do(self, name: str, args: object) -> None:
        for draft in decide(self.picture, SUPER, name, args, T0 + self.picture.seq):
            self.picture.apply(Event(self.picture.seq + 1, T0 + self.picture.seq, SUPER.user, draft.kind, draft.data,
                                     draft.audience))

    def run(self, plan, incident: str | None = None) -> str:
        if plan.create is not None:
            self.do("incident.create", c.CreateIncident(**plan.create))
            incident = str(self.picture.next_incident_number - 1)
        incident = incident or plan.existing
        for step in plan.steps:
            args = dict(step.args)
            if step.name in ("incident.note", "unit.assign"):
                args["incident"] = incident
            cls = {"incident.note": c.AddNote, "unit.assign": c.AssignUnit, "unit.status": c.SetUnitStatus}[step.name]
            self.do(step.name, cls(**args))
        return incident


def test_the_helsinki_sample_imports_with_a_named_type_and_its_known_units() -> None:
    world = World()
    world.do("unit.register", c.RegisterUnit("E11", "fire", "engine", lat=60.17, lon=24.95))
    with pytest.raises(FeedError) as err:
        import_plan(SAMPLE, world.picture)  # "Fire" / "402" are not Watchfloor codes
    assert err.value.code == "unknown_type" and "Building fire, medium" in err.value.reason
    plan = import_plan(SAMPLE, world.picture, "structure_fire")
    assert plan.create == {"type": "structure_fire", "lat": 60.16872, "lon": 24.95104,
                           "address": "Pohjoisesplanadi 19", "priority": 2,
                           "notes": f"{MARKER}{SAMPLE.id} (Building fire, medium)"}
    assert plan.skipped == ["M31: not a unit of this hub"]
    incident = world.run(plan)
    assert world.picture.units["E11"].status == UnitStatus.EN_ROUTE
    assert world.picture.incidents[incident].status == "en_route"
    assert [n.text for n in world.picture.incidents[incident].notes][1].startswith("Caller reports smoke")

    again = import_plan(SAMPLE, world.picture)  # no type needed: the incident exists
    assert again.create is None and again.existing == incident
    assert again.steps == []  # notes already there, E11 already en route on it


def test_unit_statuses_follow_the_lifecycle() -> None:
    assert status_path(UnitStatus.DISPATCHED, UnitStatus.TRANSPORTING) == [UnitStatus.ON_SCENE,
                                                                           UnitStatus.TRANSPORTING]
    assert status_path(UnitStatus.EN_ROUTE, UnitStatus.AT_HOSPITAL) == [
        UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL]
    assert status_path(UnitStatus.ON_SCENE, UnitStatus.ON_SCENE) == []


def test_no_coordinates_no_import() -> None:
    doc = json.loads((DATA / "eido_helsinki_fire.json").read_text())
    doc["incidentComponent"][0]["locationReference"] = [{"$ref": "loc-0"}]  # the by-reference location
    with pytest.raises(FeedError) as err:
        import_plan(parse_eido(json.dumps(doc)), Picture(), "structure_fire")
    assert err.value.code == "missing_field" and "coordinates" in err.value.reason


#: Required fields per component in NENA's EIDO OpenAPI schema (NENA911/EIDO-JSON Schema/openapi.yaml: PrologueType,
#: IncidentInformationType, NotesType, LocationInformationType) and the 2021 sample's top-level layout.
REQUIRED = {
    "incidentComponent": {"$id", "lastUpdateTimeStamp", "incidentTypeCommonRegistryText"},
    "notesComponent": {"$id", "lastUpdateTimeStamp", "notesActionComments"},
    "locationComponent": {"$id", "lastUpdateTimeStamp", "locationTypeDescriptionRegistryText"},
    "emergencyResourceComponent": {"$id", "lastUpdateTimeStamp", "enforcementUnitName",
                                   "primaryUnitStatusRegistryText"},
    "agencyComponent": {"$id", "lastUpdateTimeStamp", "organizationIdentification"},
}


def test_an_exported_incident_has_the_eido_structure_and_reads_back() -> None:
    world = World()
    world.do("unit.register", c.RegisterUnit("E12", "fire", "engine", lat=60.17, lon=24.94))
    world.do("unit.register", c.RegisterUnit("M3", "medical", "ambulance", lat=60.17, lon=24.94))
    world.do("incident.create", c.CreateIncident("structure_fire", 60.1685, 24.944, address="Aleksanterinkatu 15",
                                                 notes="smoke from third floor"))
    world.do("unit.assign", c.AssignUnit("E12", "1001"))
    world.do("unit.assign", c.AssignUnit("M3", "1001"))
    world.do("unit.status", c.SetUnitStatus("E12", "on_scene"))
    doc = incident_eido(world.picture.incidents["1001"], world.picture)
    text = json.dumps(doc)
    for key, required in REQUIRED.items():
        for component in doc[key]:
            assert required <= set(component), (key, required - set(component))
            for ref_key in ("locationReference", "notesReference"):
                for ref in component.get(ref_key, []):
                    assert any(ref["$ref"] == other["$id"] for comps in doc.values() if isinstance(comps, list)
                               for other in comps), ref
    back = parse_eido(text)
    assert (back.type_code, back.priority, back.status_internal) == ("structure_fire", 1, ("on_scene",))
    assert (back.location.lat, back.location.lon) == (60.1685, 24.944)
    assert dict(back.location.civic) == {"RD": "Aleksanterinkatu", "HNO": "15"}
    assert {(u.id, u.status) for u in back.units} == {("E12", "OnScene"), ("M3", "Dispatched")}
    assert back.notes == ("smoke from third floor",)
