"""Incident timelines from the event stream (no Qt)."""

from __future__ import annotations

from app.domain.events import Event
from app.ui.timeline import Timelines, describe, incident_of


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
