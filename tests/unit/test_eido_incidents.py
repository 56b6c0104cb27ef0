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
from app.feeds.eido_incidents import MARKER, TRIAGE_MARKER, import_plan, incident_eido, status_path
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


def test_an_incident_without_coordinates_becomes_one_message_for_triage() -> None:
    doc = json.loads((DATA / "eido_helsinki_fire.json").read_text())
    doc["incidentComponent"][0]["locationReference"] = [{"$ref": "loc-0"}]  # the by-reference location only
    eido = parse_eido(json.dumps(doc))
    world = World()
    plan = import_plan(eido, world.picture, "structure_fire")
    assert plan.create is None and plan.existing is None and plan.steps == [] and not plan.posted
    first, *rest = plan.triage.splitlines()
    assert first.startswith(f"{TRIAGE_MARKER}{eido.id}: an incident whose location has no coordinates.")
    assert "Location (Caller): by reference https://lis.example.invalid/loc/abc (not fetched)" in rest
    assert "Incident type Fire (402 Building fire, medium), priority 2" in rest
    assert any(line.startswith("Note: Caller reports smoke") for line in rest)
    world.do("message.send", c.SendMessage("agency:fire", plan.triage))
    assert import_plan(eido, world.picture).posted  # the same document again: already there, not posted twice


def test_a_nena_registry_incident_type_is_understood() -> None:
    doc = json.loads((DATA / "eido_helsinki_fire.json").read_text())
    doc["incidentComponent"][0].update(incidentTypeCommonRegistryText="FSTRU", incidentTypeInternalCode="402")
    plan = import_plan(parse_eido(json.dumps(doc)), Picture())
    assert plan.create["type"] == "structure_fire"


def test_an_exported_incident_reads_back_to_the_same_incident() -> None:
    world = World()
    world.do("unit.register", c.RegisterUnit("E12", "fire", "engine", lat=60.17, lon=24.94))
    world.do("unit.register", c.RegisterUnit("M3", "medical", "ambulance", lat=60.17, lon=24.94))
    world.do("incident.create", c.CreateIncident("structure_fire", 60.1685, 24.944, address="Aleksanterinkatu 15",
                                                 notes="smoke from third floor"))
    world.do("unit.assign", c.AssignUnit("E12", "1001"))
    world.do("unit.assign", c.AssignUnit("M3", "1001"))
    world.do("unit.status", c.SetUnitStatus("E12", "on_scene"))
    doc = incident_eido(world.picture.incidents["1001"], world.picture)
    ids = {doc["$id"]} | {c["$id"] for comps in doc.values() if isinstance(comps, list) for c in comps}
    refs = [r["$ref"] for key in ("locationReference", "notesReference") for r in doc["incidentComponent"][key]]
    assert refs and set(refs) <= ids  # every reference resolves (the schema cannot say so)
    assert doc["incidentComponent"]["incidentTypeCommonRegistryText"] == "FSTRU"
    back = parse_eido(json.dumps(doc))
    assert (back.type_code, back.type_internal_code, back.priority, back.status_internal) == (
        "FSTRU", "structure_fire", 1, ("on_scene",))
    assert (back.location.lat, back.location.lon) == (60.1685, 24.944)
    assert dict(back.location.civic) == {"RD": "Aleksanterinkatu", "HNO": "15"}
    assert {(u.id, u.agency, u.secondary) for u in back.units} == {("E12", "fire", ("OnScene",)),
                                                                     ("M3", "medical", ("Dispatched",))}
    assert back.notes == ("smoke from third floor",)
    plan = import_plan(back, Picture())
    assert plan.create["type"] == "structure_fire" and plan.create["address"] == "Aleksanterinkatu 15"
