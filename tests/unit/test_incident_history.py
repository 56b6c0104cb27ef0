"""Which events make up an incident's history (the hub's `history.incident` and the offline replay), and the
narrative's line for every event kind."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain import events as ev
from app.domain.events import Event
from app.domain.incident_history import IncidentHistory, seen_history
from app.domain.narrative import describe, incident_of
from app.domain.picture import Viewer


def event(seq: int, kind: str, **data: Any) -> Event:
    return Event(seq, 100.0 + seq, "someone", kind, data)


def test_the_history_holds_the_drones_part_mutual_aid_and_triage_reports() -> None:
    stream = [
        (event(1, ev.INCIDENT_CREATED, id="1001", type="structure_fire", priority=1, owner="fire"), True),
        (event(2, ev.INCIDENT_CREATED, id="1002", type="burglary", priority=3, owner="police"), False),
        (event(3, ev.DRONE_ASSIGNED, drone="UAV1", incident="1001"), True),
        (event(4, ev.DRONE_LOOK_REQUESTED, id="LK-1", drone="UAV1", lat=60.0, lon=24.0), True),
        (event(5, ev.DRONE_LOOK_ACKNOWLEDGED, drone="UAV1", request="LK-1"), True),
        (event(6, ev.DRONE_LOOK_REQUESTED, id="LK-2", drone="UAV2", lat=60.0, lon=24.0), False),
        (event(7, ev.INCIDENT_ATTACHED, id="AT-1", incident="1001", mime="image/jpeg", data_b64=""), True),
        (event(8, ev.INCIDENT_ATTACHED, id="AT-2", incident="1002", mime="image/jpeg", data_b64=""), False),
        (event(9, ev.AID_REQUESTED, id="AID-1", incident="1001", to_agency="police"), True),
        (event(10, ev.AID_ANSWERED, id="AID-1", accepted=True), True),
        (event(11, ev.CANDIDATE_MERGED, id="C-1", incident="1001"), True),
        (event(12, ev.CANDIDATE_ACCEPTED, id="C-2", incident="1002"), False),
        (event(13, ev.DRONE_ASSIGNED, drone="UAV1", incident=None), True),  # released from this call
        (event(14, ev.DRONE_LOOK_REQUESTED, id="LK-3", drone="UAV1", lat=60.0, lon=24.0), False),  # off it now
        (event(15, ev.DRONE_ASSIGNED, drone="UAV1", incident="1002"), False),
        (event(16, ev.DRONE_ASSIGNED, drone="UAV1", incident=None), False),  # released from another call
    ]
    about = IncidentHistory("1001")
    assert [about(e) for e, _ in stream] == [wanted for _, wanted in stream]


@pytest.mark.parametrize(("kind", "data", "line", "incident"), [
    (ev.CANDIDATE_CREATED, {"id": "C-1", "source": "public_app", "source_id": "p-7", "type": "structure_fire",
                            "text": "smoke"}, "Report C-1 from public_app p-7: Structure fire — smoke", None),
    (ev.CANDIDATE_PROPOSED, {"id": "C-1", "incident": "1001", "distance_m": 42.4},
     "Report C-1 may be incident 1001 (42 m away)", "1001"),
    (ev.CANDIDATE_ACCEPTED, {"id": "C-1", "incident": "1003"}, "Report C-1 accepted as incident 1003", "1003"),
    (ev.CANDIDATE_MERGED, {"id": "C-1", "incident": "1001"}, "Report C-1 merged into incident 1001", "1001"),
    (ev.CANDIDATE_MERGED, {"id": "C-1", "incident": None}, "Report C-1 merged into an incident", None),
    (ev.CANDIDATE_DISMISSED, {"id": "C-1", "reason": "prank"}, "Report C-1 dismissed: prank", None),
])
def test_triage_events_are_told_in_words(kind: str, data: dict[str, Any], line: str, incident: str | None) -> None:
    e = event(1, kind, **data)
    assert describe(e) == line
    assert incident_of(e) == incident



def test_the_history_a_viewer_gets_is_what_it_was_sent() -> None:
    fire, police = Viewer("fire"), Viewer("police")
    stream = [
        Event(1, 101.0, "fire1", ev.INCIDENT_CREATED, {"id": "1001", "type": "structure_fire", "priority": 1,
                                                       "owner": "fire", "restricted": True}, ["fire"]),
        Event(2, 102.0, "fire1", ev.UNIT_ASSIGNED, {"unit": "E1", "incident": "1001", "restricted_to": ["fire"]}),
        Event(3, 103.0, "sim", ev.ALERT_ISSUED, {"id": "AL-1", "headline": "Flood"}),
        Event(4, 104.0, "fire1", ev.AID_REQUESTED, {"id": "AID-1", "incident": "1001", "to_agency": "police"},
              ["fire", "police"]),
        Event(5, 105.0, "police1", ev.AID_ANSWERED, {"id": "AID-1", "accepted": True}, ["fire", "police"]),
        Event(6, 106.0, "fire1", ev.INCIDENT_NOTE, {"id": "1001", "text": "police on the way"}, ["fire", "police"]),
    ]
    assert [e.seq for e in seen_history("1001", stream, fire)] == [1, 2, 3, 4, 5, 6]
    # Police: not E1's dispatch (sent to them without the incident); the alert once the incident is named.
    assert [e.seq for e in seen_history("1001", stream, police)] == [3, 4, 5, 6]
    # Before the aid request, police were shown nothing naming the incident: it does not exist for them.
    assert list(seen_history("1001", stream[:3], police)) == []
    assert [e.seq for e in seen_history("1001", stream, None)] == [1, 2, 3, 4, 5, 6]
