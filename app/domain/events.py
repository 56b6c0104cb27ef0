"""Events: every change to the common operating picture, as the hub sequenced it.

An event is a fact. The hub gives it a global sequence number and a time, stores it, and fans it out; the
picture anyone holds is the fold of the events they saw (`Picture.apply`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Event:
    """One sequenced change.

    `audience` limits who receives it: None is everyone; otherwise the agency codes that may see it
    (supervisors see everything). Restricted incidents produce scoped events.
    """

    seq: int
    ts: float
    actor: str
    kind: str
    data: dict[str, Any]
    audience: list[str] | None = None


@dataclass(slots=True)
class Draft:
    """An event decided but not yet sequenced: what `decide` returns and the hub appends."""

    kind: str
    data: dict[str, Any]
    audience: list[str] | None = field(default=None)


# The event kinds. Their data is documented in docs/protocol.md ("Events").
UNIT_REGISTERED = "unit.registered"
UNIT_POSITION = "unit.position"
UNIT_STATUS = "unit.status"
UNIT_ASSIGNED = "unit.assigned"
#: A unit's next assignment (taking effect when it becomes available), or its withdrawal (incident null).
UNIT_STACKED = "unit.stacked"
#: A dispatcher checked on a unit: its status timer starts again (app.domain.timers).
UNIT_CHECKED = "unit.checked"
INCIDENT_CREATED = "incident.created"
INCIDENT_UPDATED = "incident.updated"
INCIDENT_STATUS = "incident.status"
INCIDENT_NOTE = "incident.note"
#: The whole incident, for agencies that start to see it mid-life (made public, or mutual aid accepted on a
#: restricted incident): their consoles never had its earlier events.
INCIDENT_SHARED = "incident.shared"
AID_REQUESTED = "aid.requested"
AID_ANSWERED = "aid.answered"
#: A pending aid request withdrawn by the asking agency, or ended because its incident closed.
AID_CANCELLED = "aid.cancelled"
#: A call held in (or released from) the pending queue.
INCIDENT_HELD = "incident.held"
MESSAGE_POSTED = "message.posted"
ZONE_CREATED = "zone.created"
ZONE_REMOVED = "zone.removed"
ALERT_ISSUED = "alert.issued"
ALERT_CANCELLED = "alert.cancelled"
DRONE_REGISTERED = "drone.registered"
DRONE_TELEMETRY = "drone.telemetry"
DRONE_LINK = "drone.link"
DRONE_VIDEO = "drone.video"
DRONE_ASSIGNED = "drone.assigned"
DRONE_LOOK_REQUESTED = "drone.look_requested"
DRONE_LOOK_ACKNOWLEDGED = "drone.look_acknowledged"
INCIDENT_ATTACHED = "incident.attached"
CANDIDATE_CREATED = "candidate.created"
CANDIDATE_PROPOSED = "candidate.proposed"
CANDIDATE_ACCEPTED = "candidate.accepted"
CANDIDATE_MERGED = "candidate.merged"
CANDIDATE_DISMISSED = "candidate.dismissed"
UNIT_RETIRED = "unit.retired"
DRONE_RETIRED = "drone.retired"
CAMERA_REGISTERED = "camera.registered"
CAMERA_REPORTED = "camera.reported"
CAMERA_RETIRED = "camera.retired"
DEVICE_REGISTERED = "device.registered"
DEVICE_REVOKED = "device.revoked"
#: Intrusion detection found a suspect fix (supervisors only: app.domain.security_alerts).
SECURITY_ALERT = "security.alert"
SECURITY_ACKNOWLEDGED = "security.acknowledged"
#: Signal priority at a traffic light for a responding unit (app.domain.signal_priority): asked, answered, over.
SIGNAL_REQUESTED = "signal.requested"
SIGNAL_ANSWERED = "signal.answered"
SIGNAL_ENDED = "signal.ended"
#: A supervisor turned signal priority off in an area, and on again.
SIGNAL_SUSPENDED = "signal.suspended"
SIGNAL_RESUMED = "signal.resumed"
