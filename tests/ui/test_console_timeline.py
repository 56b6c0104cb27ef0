"""Incident timelines: the hub's history of each incident, extended by the event stream (no Qt here; the console
against a real hub is in test_console_history.py)."""

from __future__ import annotations

from app.domain.events import Event
from app.domain.incident_history import IncidentHistory
from app.domain.narrative import describe, incident_of
from app.ui.timeline import Timelines


def _event(seq: int, kind: str, **data) -> Event:
    return Event(seq, 1000.0 + seq, "fire1", kind, data)


def test_events_land_on_their_incident_in_dispatcher_words() -> None:
    timelines = Timelines()
    touched = timelines.add([
        _event(1, "incident.created", id="1001", type="structure_fire", priority=1, address="Bulevardi 1",
               lat=60.0, lon=24.0, owner="fire"),
        _event(2, "unit.assigned", unit="E1", incident="1001"),
        _event(3, "unit.status", unit="E1", status="on_scene", incident="1001"),
        _event(4, "unit.position", unit="E1", lat=60.0, lon=24.0),
        _event(5, "aid.requested", id="AR-1", incident="1001", from_agency="fire", to_agency="police", note=""),
        _event(6, "aid.answered", id="AR-1", accepted=True, note="two cars"),
        _event(7, "message.posted", id="MSG-1", channel="incident:1001", agency="police", text="road closed"),
        _event(8, "message.posted", id="MSG-2", channel="all", agency="police", text="shift change"),
        _event(9, "incident.status", id="1001", status="closed", disposition="resolved"),
    ])
    assert touched == {"1001"}
    lines = [e.text for e in timelines.of("1001")]
    assert lines == ["Created: Structure fire P1 at Bulevardi 1", "E1 dispatched", "E1 on scene",
                     "Mutual aid AR-1 requested from police", "Mutual aid AR-1 ACCEPTED: two cars",
                     "[police] road closed", "Status CLOSED (resolved)"]
    assert incident_of(_event(10, "unit.status", unit="E1", status="available", incident=None)) is None
    assert describe(_event(11, "incident.note", id="1001", text="hello")) == "Note: hello"
    timelines.clear()
    assert timelines.of("1001") == []


SHIFT = [
    _event(1, "incident.created", id="1001", type="structure_fire", priority=1, address="Bulevardi 1",
           lat=60.0, lon=24.0, owner="fire"),
    _event(2, "unit.assigned", unit="E1", incident="1001"),
    _event(3, "drone.assigned", drone="UAV1", incident="1001"),
    _event(4, "drone.look_requested", id="LK-1", drone="UAV1", lat=60.0, lon=24.0, note="roof"),
    _event(5, "unit.status", unit="E1", status="on_scene", incident="1001"),
    _event(6, "incident.attached", id="AT-1", incident="1001", mime="image/jpeg", data_b64="", caption="roof"),
    _event(7, "drone.look_acknowledged", drone="UAV1", request="LK-1"),
    _event(8, "unit.status", unit="E1", status="available", incident=None),
    _event(9, "drone.assigned", drone="UAV1", incident=None),
]


def hub_history(incident: str, events: list[Event], upto: int) -> list[Event]:
    """What the hub answers for `history.incident` once it has committed events up to `upto`."""
    about = IncidentHistory(incident)
    return [e for e in events if e.seq <= upto and about(e)]


def test_a_console_that_joins_mid_shift_shows_the_same_timeline_as_one_there_from_the_start() -> None:
    there = Timelines()
    there.add(SHIFT)
    joined = Timelines()
    joined.add(SHIFT[5:6])  # live since its snapshot at seq 5: only seq 6 so far
    assert joined.wanted("1001")
    joined.fetching("1001")
    joined.add(SHIFT[6:7])  # seq 7 arrives live while the history is on its way
    history = hub_history("1001", SHIFT, upto=6)  # the hub read its log before seq 7 was committed
    assert not joined.page("1001", history[:3], last=False)  # paged
    assert joined.of("1001") == []  # nothing half-shown
    assert joined.page("1001", history[3:], last=True)
    touched = joined.add(SHIFT[7:])
    assert touched == {"1001"}
    assert joined.of("1001") == there.of("1001")
    lines = [e.text for e in joined.of("1001")]
    assert "Drone UAV1 assigned" in lines and "Drone UAV1 released" in lines
    assert "Snapshot AT-1 attached: roof" in lines and "Drone UAV1 acknowledged look request LK-1" in lines


def test_an_incident_the_hub_gives_no_history_of_is_followed_live() -> None:
    timelines = Timelines()
    timelines.add(SHIFT[:2])
    timelines.fetching("2002")
    timelines.unavailable("2002")
    timelines.add([_event(10, "incident.note", id="2002", text="seen live")])
    assert [e.text for e in timelines.of("2002")] == ["Note: seen live"]
