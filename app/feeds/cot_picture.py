"""The common operating picture as CoT, for TAK users: units as tracks, incidents as map points. Sans-I/O.

Types (MIL-STD-2525 as TAK writes them): police `a-f-G-U-U-L-C` (civilian law enforcement), medical
`a-f-G-U-S-M`, drones `a-f-A-M-H-Q` (rotary-wing UAV), fire and anything else `a-f-G-U-C` (friendly ground
unit; 2525 as TAK ships it has no fire-service symbol). The `<__group>` colour is the one the CoT input reads
back as the same agency (Red fire, Blue police, White medical). Incidents are `b-m-p-s-p-i` points coloured by
priority. uids are `watchfloor.unit.<id>` and `watchfloor.incident.<id>`, which the gateway recognises as its
own if a TAK server echoes them back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.entities import Incident, Unit
from app.domain.incident_types import INCIDENT_TYPES
from app.feeds.cot import encode_delete, encode_incident, encode_position

UID_PREFIX = "watchfloor."
AGENCY_TYPE = {"police": "a-f-G-U-U-L-C", "medical": "a-f-G-U-S-M"}
DRONE_TYPE = "a-f-A-M-H-Q"
GROUND_TYPE = "a-f-G-U-C"
AGENCY_GROUP = {"fire": "Red", "police": "Blue", "medical": "White"}
#: Signed ARGB as ATAK stores colours: priority 1 red, 2 orange, 3 yellow, 4 and 5 grey.
PRIORITY_ARGB = {1: -65536, 2: -26368, 3: -256, 4: -7829368, 5: -7829368}


def unit_uid(unit_id: str) -> str:
    """The CoT uid of a unit."""
    return f"{UID_PREFIX}unit.{unit_id}"


def incident_uid(incident_id: str) -> str:
    """The CoT uid of an incident."""
    return f"{UID_PREFIX}incident.{incident_id}"


def unit_event(unit: Unit, incident: Incident | None, now: float, stale_s: float) -> bytes:
    """A unit's position and status; `incident` is the one it is committed to, if the receiver may know it."""
    cot_type = DRONE_TYPE if unit.kind == "drone" else AGENCY_TYPE.get(unit.agency, GROUND_TYPE)
    remarks = f"{unit.kind} · {unit.agency} · {unit.status.value.replace('_', ' ')}"
    if incident is not None:
        remarks += f" · incident {incident.id} {_label(incident)} at {incident.address or 'map point'}"
    assert unit.lat is not None and unit.lon is not None
    return encode_position(
        unit_uid(unit.id), unit.lat, unit.lon, callsign=unit.id, cot_type=cot_type,
        time=datetime.fromtimestamp(unit.position_at or now, UTC), stale_s=stale_s,
        course=unit.heading, speed=unit.speed, group=AGENCY_GROUP.get(unit.agency, "Cyan"), role="Team Member",
        remarks=remarks)


def incident_event(incident: Incident, now: float, stale_s: float) -> bytes:
    """An open incident as a map point titled "<id> <type>", with status, priority, address and units."""
    units = ", ".join(incident.units) or "none"
    remarks = (f"P{incident.priority} {_label(incident)} · {incident.status.value.replace('_', ' ')} · "
               f"{incident.address or 'map point'} · units: {units}")
    return encode_incident(incident_uid(incident.id), incident.lat, incident.lon,
                           title=f"{incident.id} {_label(incident)}", remarks=remarks,
                           time=datetime.fromtimestamp(now, UTC), stale_s=stale_s,
                           color_argb=PRIORITY_ARGB.get(incident.priority, -7829368))


def delete_event(uid: str, now: float) -> bytes:
    """Take an item off TAK maps (a closed incident, one that became restricted, a unit with no position)."""
    return encode_delete(uid, time=datetime.fromtimestamp(now, UTC))


def _label(incident: Incident) -> str:
    itype = INCIDENT_TYPES.get(incident.type)
    return itype.label if itype else incident.type
