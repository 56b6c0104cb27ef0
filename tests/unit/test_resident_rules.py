"""The residents' rules without a hub: which reports are taken, what a resident is told of their request as the
candidate and its incident move on, and which alerts concern a resident where they are."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.errors import Refusal
from app.domain.picture import Viewer
from app.domain.residents import (
    CATEGORIES,
    JURISDICTION_MARGIN_M,
    SOURCE,
    RequestState,
    alerts_at,
    check_report,
    distance_outside,
    handling_agency,
    public_alert,
    report_text,
    request_state,
    source_id,
)
from app.domain.triage import SOURCE_KINDS
from app.domain.visibility import seen_by
from tests.unit.test_domain_rules import FEED, FIRE, POLICE, SUPER, World

#: Central Helsinki's box, as the test city's bounds.
BOUNDS = ((60.164155, 24.935176), (60.179113, 24.953415))
LAT, LON = 60.1700, 24.9450
METRES_PER_DEGREE_LAT = 111_195.0


def refusal(**kw: object) -> str:
    args = {"category": "fire", "lat": LAT, "lon": LON, "text": "", **kw}
    with pytest.raises(Refusal) as info:
        check_report(args["category"], args["lat"], args["lon"], args["text"], BOUNDS)
    return info.value.code


def test_a_report_inside_the_jurisdiction_is_taken_with_the_type_its_category_proposes() -> None:
    report = check_report("fire", LAT, LON, "  smoke from the roof ", BOUNDS)
    assert (report.type, report.lat, report.lon, report.text) == ("structure_fire", LAT, LON, "smoke from the roof")
    assert set(CATEGORIES) == {"fire", "medical", "crime", "suspicious", "hazard", "other"}
    assert SOURCE in SOURCE_KINDS
    assert report_text(report, True) == "[fire (photo attached)] smoke from the roof"


def test_reports_without_what_or_where_or_with_bad_fields_are_refused_with_a_reason() -> None:
    assert refusal(category="alien landing") == "bad_category"
    assert refusal(category=None) == "bad_category"
    assert refusal(lat=None) == "missing_location"
    assert refusal(lat=True, lon=False) == "missing_location"
    assert refusal(lat="north") == "bad_coordinates"
    assert refusal(lat=float("nan")) == "bad_coordinates"
    assert refusal(text=["x"]) == "bad_text"
    assert refusal(text="x" * 1001) == "too_long"


def test_reports_far_outside_the_jurisdiction_are_refused_and_just_outside_are_taken() -> None:
    north = BOUNDS[1][0]
    just_outside = north + (JURISDICTION_MARGIN_M - 100) / METRES_PER_DEGREE_LAT
    too_far = north + (JURISDICTION_MARGIN_M + 100) / METRES_PER_DEGREE_LAT
    assert distance_outside(BOUNDS, (LAT, LON)) == 0.0
    assert check_report("medical", just_outside, LON, "", BOUNDS).type == "medical_emergency"
    with pytest.raises(Refusal) as info:
        check_report("medical", too_far, LON, "", BOUNDS)
    assert info.value.code == "outside_jurisdiction" and "km outside" in info.value.reason
    assert refusal(lat=47.14, lon=9.52) == "outside_jurisdiction"  # Vaduz reported to Helsinki


def submit(w: World, ref: str = "r1") -> str:
    report = check_report("fire", LAT, LON, "smoke", BOUNDS)
    args = c.SubmitReport(source=SOURCE, source_id=source_id("dev1", ref), type=report.type, lat=report.lat,
                          lon=report.lon, text=report_text(report, False))
    return w.do(FEED, "report.submit", args)[0].data["id"]


def state(w: World, cid: str) -> RequestState:
    return request_state(w.picture.candidates.get(cid), w.picture.incidents)


def test_the_request_state_follows_the_candidate_and_the_incident_it_became() -> None:
    w = World()
    cid = submit(w)
    assert state(w, cid) == "received"
    accepted = w.do(FIRE, "candidate.accept", c.AcceptCandidate(cid))
    incident = next(e.data["id"] for e in accepted if e.kind == "incident.created")
    assert state(w, cid) == "help_on_the_way"
    w.do(FIRE, "incident.close", c.CloseIncident(incident, "extinguished"))
    assert state(w, cid) == "closed"


def test_a_merged_report_follows_the_incident_and_a_dismissed_one_is_closed() -> None:
    w = World()
    incident = w.do(FIRE, "incident.create", c.CreateIncident(type="structure_fire", lat=LAT, lon=LON))[0].data["id"]
    merged, dismissed = submit(w, "r1"), submit(w, "r2")
    w.do(FIRE, "candidate.merge", c.MergeCandidate(merged, incident))
    w.do(FIRE, "candidate.dismiss", c.DismissCandidate(dismissed, "duplicate call"))
    assert (state(w, merged), state(w, dismissed)) == ("help_on_the_way", "closed")
    assert request_state(None, {}) == "closed"  # long decided, no longer held


def alert(w: World, headline: str, **area: object) -> str:
    args = c.IssueAlert(headline=headline, areas=[c.AlertAreaArgs(**area)],  # type: ignore[arg-type]
                        severity="Severe", urgency="Immediate", event="Fire", instruction="Keep windows shut")
    return w.do(SUPER, "alert.issue", args)[0].data["id"]


def test_a_resident_sees_the_alerts_in_force_for_where_they_are() -> None:
    w = World()
    here = alert(w, "Smoke over Kruununhaka", circle=[LAT, LON, 500.0])
    elsewhere = alert(w, "Gas leak in Kallio", circle=[60.1841, 24.9497, 300.0])
    named = alert(w, "Storm over Uusimaa", desc="Uusimaa")
    alerts = w.picture.alerts.values()
    assert [a.id for a in alerts_at(alerts, (LAT, LON), w.now)] == [named, here]
    assert {a.id for a in alerts_at(alerts, None, w.now)} == {here, elsewhere, named}
    w.do(SUPER, "alert.cancel", c.CancelAlert(here, "all clear"))
    assert [a.id for a in alerts_at(w.picture.alerts.values(), (LAT, LON), w.now)] == [named]
    shown = public_alert(w.picture.alerts[elsewhere])
    assert shown["headline"] == "Gas leak in Kallio" and shown["instruction"] == "Keep windows shut"
    assert "issued_by" not in shown and "source" not in shown


def test_a_residents_report_is_seen_only_by_the_agency_that_handles_it_and_supervisors() -> None:
    assert handling_agency("structure_fire", ["fire", "police"]) == "fire"
    assert handling_agency("robbery", ["fire", "police"]) == "police"
    assert handling_agency("medical_emergency", ["fire", "police"]) is None  # no such agency here: everyone
    w = World()
    args = c.SubmitReport(source=SOURCE, source_id=source_id("dev1", "r1"), type="structure_fire", lat=LAT, lon=LON,
                          agency="fire")
    created = w.do(FEED, "report.submit", args)
    cid = created[0].data["id"]
    assert created[0].audience == ["fire"]
    assert seen_by(Viewer("police"), created[0]) is None and seen_by(Viewer("fire"), created[0]) is not None
    assert cid in w.picture.visible_to(Viewer("fire")).candidates
    assert cid in w.picture.visible_to(Viewer("police", supervisor=True)).candidates
    assert cid not in w.picture.visible_to(Viewer("police")).candidates
    assert cid not in w.picture.visible_to(Viewer("medical")).candidates
    # Police cannot decide on what they cannot see (nor learn that it exists); fire can, and the decision is
    # scoped as the report was.
    assert w.refused(POLICE, "candidate.dismiss", c.DismissCandidate(cid, "prank")).code == "unknown_candidate"
    decided = w.do(FIRE, "candidate.dismiss", c.DismissCandidate(cid, "prank"))
    assert decided[0].audience == ["fire"] and seen_by(Viewer("police"), decided[0]) is None
    assert w.refused(FEED, "report.submit", c.SubmitReport(source=SOURCE, source_id="x", type="structure_fire",
                                                           lat=LAT, lon=LON, agency="coastguard")
                     ).code == "unknown_agency"


def test_the_residents_language_is_the_citys() -> None:
    from app.city.loader import LANGUAGES, load_city

    assert load_city().language == "fi"  # the suite's Helsinki (tests/conftest.py)
    assert LANGUAGES["liechtenstein"] == "de"
