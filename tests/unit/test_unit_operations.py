"""Unit operations and the call lifecycle, without a hub: divert, stack, release-all-and-close, releasing other
agencies' units, check (timer acknowledgement), hold, aid cancel, aid ending with its incident."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.picture import Viewer
from tests.unit.test_domain_rules import FIRE, MEDICAL, POLICE, SUPER, World, create, with_fleet


@pytest.fixture
def world() -> World:
    return with_fleet(World())


def test_divert_goes_only_to_a_more_urgent_call_and_logs_why(world: World) -> None:
    first = create(world, priority=3)
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", first))
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "en_route"))
    same = create(world, priority=3)
    assert world.refused(FIRE, "unit.divert", c.DivertUnit("E1", same, "closer")).code == "not_more_urgent"
    assert world.refused(FIRE, "unit.divert", c.DivertUnit("E1", same, " ")).code == "missing_field"
    urgent = create(world, priority=1)
    world.do(FIRE, "unit.divert", c.DivertUnit("E1", urgent, "P1 fire, nearest engine"))
    p = world.picture
    assert (p.units["E1"].incident, p.units["E1"].status.value) == (urgent, "dispatched")
    assert p.incidents[first].units == [] and p.incidents[first].status.value == "new"  # back in the queue
    assert p.incidents[urgent].units == ["E1"]
    assert p.incidents[first].notes[-1].text == f"E1 diverted to incident {urgent}: P1 fire, nearest engine"
    assert p.incidents[urgent].notes[-1].text == f"E1 diverted from incident {first}: P1 fire, nearest engine"
    assert world.refused(FIRE, "unit.divert", c.DivertUnit("E2", first, "x")).code == "unit_not_committed"
    assert world.refused(POLICE, "unit.divert", c.DivertUnit("E1", first, "x")).code == "forbidden"
    world.do(SUPER, "unit.divert", c.DivertUnit("E1", first, "supervisor's call"))  # supervisors may, any priority
    assert world.picture.units["E1"].incident == first


def test_a_stacked_assignment_takes_effect_when_the_unit_is_available(world: World) -> None:
    first, second = create(world), create(world)
    assert world.refused(FIRE, "unit.stack", c.StackAssignment("E1", second)).code == "unit_available"
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", first))
    world.do(FIRE, "unit.stack", c.StackAssignment("E1", second))
    assert world.picture.units["E1"].next_incident == second
    assert world.refused(FIRE, "unit.stack", c.StackAssignment("E1", first)).code == "no_change"
    assert world.refused(FIRE, "unit.stack", c.StackAssignment("P1", second)).code == "forbidden"
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene"))
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "available"))
    unit = world.picture.units["E1"]
    assert (unit.incident, unit.status.value, unit.next_incident) == (second, "dispatched", None)
    # A stack whose incident closed meanwhile is withdrawn, and the unit stays available.
    third = create(world)
    world.do(FIRE, "unit.stack", c.StackAssignment("E1", third))
    world.do(FIRE, "incident.close", c.CloseIncident(third, "cancelled"))
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "available"))
    unit = world.picture.units["E1"]
    assert (unit.incident, unit.status.value, unit.next_incident) == (None, "available", None)


def test_release_all_and_close_and_who_may_release(world: World) -> None:
    iid = create(world)
    request = world.do(FIRE, "aid.request", c.RequestAid(iid, "police"))[0].data["id"]
    world.do(POLICE, "aid.answer", c.AnswerAid(request, True))
    medical = world.do(FIRE, "aid.request", c.RequestAid(iid, "medical"))[0].data["id"]
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    world.do(FIRE, "unit.assign", c.AssignUnit("L1", iid))
    world.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    # Police, not the owner, may not release fire's units; fire, the owner, may release police's.
    refusal = world.refused(POLICE, "incident.clear", c.ClearIncident(iid, "resolved"))
    assert refusal.code == "forbidden" and "E1 (fire), L1 (fire)" in refusal.reason
    world.do(FIRE, "unit.status", c.SetUnitStatus("P1", "available"))
    world.do(POLICE, "unit.assign", c.AssignUnit("P1", iid))
    assert world.refused(POLICE, "unit.status", c.SetUnitStatus("E1", "available")).code == "forbidden"
    assert world.refused(FIRE, "unit.status", c.SetUnitStatus("P1", "en_route")).code == "forbidden"
    world.do(FIRE, "incident.clear", c.ClearIncident(iid, "resolved"))
    p = world.picture
    assert p.incidents[iid].status.value == "closed" and p.incidents[iid].units == []
    assert {u: p.units[u].status.value for u in ("E1", "L1", "P1")} == dict.fromkeys(("E1", "L1", "P1"), "available")
    # Its pending aid request ended with it, and cannot be accepted afterwards.
    assert p.aid_requests[medical].state == "cancelled"
    assert world.refused(MEDICAL, "aid.answer", c.AnswerAid(medical, True)).code == "already_answered"


def test_aid_cancel_and_answers_after_close_are_refused(world: World) -> None:
    iid = create(world)
    request = world.do(FIRE, "aid.request", c.RequestAid(iid, "police"))[0].data["id"]
    assert world.refused(POLICE, "aid.cancel", c.CancelAid(request)).code == "forbidden"
    assert world.refused(MEDICAL, "aid.cancel", c.CancelAid(request)).code == "unknown_request"
    world.do(FIRE, "aid.cancel", c.CancelAid(request, "fire out"))
    assert world.picture.aid_requests[request].state == "cancelled"
    assert world.picture.aid_requests[request].answer_note == "fire out"
    assert world.refused(POLICE, "aid.answer", c.AnswerAid(request, True)).code == "already_answered"


def test_hold_reopen_and_under_control(world: World) -> None:
    iid = create(world)
    world.do(FIRE, "incident.hold", c.HoldIncident(iid, True, "waiting for police to secure"))
    assert world.picture.incidents[iid].held
    assert world.refused(FIRE, "incident.hold", c.HoldIncident(iid)).code == "no_change"
    assert world.refused(POLICE, "incident.hold", c.HoldIncident(iid, False)).code == "forbidden"
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    assert not world.picture.incidents[iid].held  # sending a unit ends the hold
    assert world.refused(FIRE, "incident.hold", c.HoldIncident(iid)).code == "bad_transition"
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene"))
    world.do(FIRE, "incident.status", c.SetIncidentStatus(iid, "under_control"))
    world.do(FIRE, "incident.clear", c.ClearIncident(iid, "resolved"))
    assert world.refused(POLICE, "incident.reopen", c.ReopenIncident(iid)).code == "forbidden"
    world.do(FIRE, "incident.reopen", c.ReopenIncident(iid, "caller rang back"))
    assert world.picture.incidents[iid].status.value == "new"


def test_check_restarts_a_units_clock_and_stacks_stay_hidden_from_outsiders(world: World) -> None:
    iid = create(world, restricted=True)
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", iid))
    assert world.picture.units["E1"].checked_at is None
    world.do(FIRE, "unit.check", c.CheckUnit("E1", "crew ok"))
    assert world.picture.units["E1"].checked_at == world.now
    assert world.refused(POLICE, "unit.check", c.CheckUnit("E1")).code == "forbidden"
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene"))
    assert world.picture.units["E1"].checked_at is None  # a new status, a new clock
    world.do(FIRE, "unit.assign", c.AssignUnit("E2", create(world)))
    world.do(FIRE, "unit.stack", c.StackAssignment("E2", iid))
    police = world.picture.visible_to(Viewer("police", supervisor=False))
    assert police.units["E2"].next_incident is None and world.picture.units["E2"].next_incident == iid
