"""The common operating picture as CoT, for TAK users: units and drones as tracks, incidents and alerts as map
points, chat lines as GeoChat. Sans-I/O.

Types (MIL-STD-2525 as TAK writes them): police `a-f-G-U-U-L-C` (civilian law enforcement), medical
`a-f-G-U-S-M`, drones `a-f-A-M-H-Q` (rotary-wing UAV), fire and anything else `a-f-G-U-C` (friendly ground
unit; 2525 as TAK ships it has no fire-service symbol). The `<__group>` colour is the one the CoT input reads
back as the same agency (Red fire, Blue police, White medical). Incidents are `b-m-p-s-p-i` points coloured by
priority; alerts are such points (at the centre of their first drawn area) coloured by severity. uids are
`watchfloor.<kind>.<id>` (`item_uid`), which the gateway recognises as its own if a TAK server echoes them back.

`item_cot(item, picture, now, stale_s)` writes one item (`Item`: kind and id) as it stands in a picture, or None
when that picture has nothing to show for it (gone, closed, restricted away, cancelled, no position yet): a
receiver that was shown it is then sent `delete_event(item_uid(item), now)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from app.domain.drones import Drone
from app.domain.entities import Alert, AlertArea, Incident, IncidentStatus, Message, Unit
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.picture import Picture
from app.feeds.cot import encode_chat, encode_delete, encode_incident, encode_position

UID_PREFIX = "watchfloor."
AGENCY_TYPE = {"police": "a-f-G-U-U-L-C", "medical": "a-f-G-U-S-M"}
DRONE_TYPE = "a-f-A-M-H-Q"
GROUND_TYPE = "a-f-G-U-C"
AGENCY_GROUP = {"fire": "Red", "police": "Blue", "medical": "White"}
#: Signed ARGB as ATAK stores colours: priority 1 red, 2 orange, 3 yellow, 4 and 5 grey.
PRIORITY_ARGB = {1: -65536, 2: -26368, 3: -256, 4: -7829368, 5: -7829368}
#: Alerts by CAP severity, in the same colours.
SEVERITY_ARGB = {"Extreme": -65536, "Severe": -26368, "Moderate": -256}
GREY_ARGB = -7829368
#: How long a TAK client keeps a chat line (GeoChat's own default is a day).
CHAT_STALE_S = 86400.0
#: Kinds of items (`Item.kind`).
UNIT, INCIDENT, DRONE, ALERT, MESSAGE = "unit", "incident", "drone", "alert", "message"


class Item(NamedTuple):
    """One thing on a TAK map: a unit, incident, drone, alert or chat line, by id."""

    kind: str
    id: str


def item_uid(item: Item) -> str:
    """The CoT uid of a unit, incident, drone or alert (chat lines are GeoChat, never deleted)."""
    return f"{UID_PREFIX}{item.kind}.{item.id}"


def item_cot(item: Item, picture: Picture, now: float, stale_s: float) -> bytes | None:
    """The item as `picture` shows it, as CoT XML; None when the picture has nothing to show for it."""
    return _WRITERS[item.kind](item.id, picture, now, stale_s)


def _track_cot(thing: Unit | Drone | None, write: Callable[[Any, Incident | None, float, float], bytes],
               picture: Picture, now: float, stale_s: float) -> bytes | None:
    """A unit or drone with a position, with the incident it works if `picture` shows that incident."""
    if thing is None or thing.lat is None or thing.lon is None:
        return None
    return write(thing, picture.incidents.get(thing.incident) if thing.incident else None, now, stale_s)


def _incident_cot(incident_id: str, picture: Picture, now: float, stale_s: float) -> bytes | None:
    incident = picture.incidents.get(incident_id)
    if incident is None or incident.status == IncidentStatus.CLOSED:
        return None
    return incident_event(incident, now, stale_s)


def _alert_cot(alert_id: str, picture: Picture, now: float, stale_s: float) -> bytes | None:
    alert = picture.alerts.get(alert_id)
    if alert is None or not alert.active(now):
        return None
    return alert_event(alert, now, stale_s)


def _message_cot(message_id: str, picture: Picture, now: float, stale_s: float) -> bytes | None:
    message = next((m for m in reversed(picture.messages) if m.id == message_id), None)
    return None if message is None else chat_event(message)


_WRITERS: dict[str, Callable[[str, Picture, float, float], bytes | None]] = {
    UNIT: lambda i, p, now, stale_s: _track_cot(p.units.get(i), unit_event, p, now, stale_s),
    DRONE: lambda i, p, now, stale_s: _track_cot(p.drones.get(i), drone_event, p, now, stale_s),
    INCIDENT: _incident_cot, ALERT: _alert_cot, MESSAGE: _message_cot}


def unit_event(unit: Unit, incident: Incident | None, now: float, stale_s: float) -> bytes:
    """A unit's position and status; `incident` is the one it is committed to, if the receiver may know it."""
    cot_type = DRONE_TYPE if unit.kind == "drone" else AGENCY_TYPE.get(unit.agency, GROUND_TYPE)
    remarks = f"{unit.kind} · {unit.agency} · {unit.status.value.replace('_', ' ')}"
    if incident is not None:
        remarks += f" · incident {incident.id} {_label(incident)} at {incident.address or 'map point'}"
    assert unit.lat is not None and unit.lon is not None
    return encode_position(
        item_uid(Item(UNIT, unit.id)), unit.lat, unit.lon, callsign=unit.id, cot_type=cot_type,
        time=datetime.fromtimestamp(unit.position_at or now, UTC), stale_s=stale_s,
        course=unit.heading, speed=unit.speed, group=AGENCY_GROUP.get(unit.agency, "Cyan"), role="Team Member",
        remarks=remarks)


def incident_event(incident: Incident, now: float, stale_s: float) -> bytes:
    """An open incident as a map point titled "<id> <type>", with status, priority, address and units."""
    units = ", ".join(incident.units) or "none"
    remarks = (f"P{incident.priority} {_label(incident)} · {incident.status.value.replace('_', ' ')} · "
               f"{incident.address or 'map point'} · units: {units}")
    return encode_incident(item_uid(Item(INCIDENT, incident.id)), incident.lat, incident.lon,
                           title=f"{incident.id} {_label(incident)}", remarks=remarks,
                           time=datetime.fromtimestamp(now, UTC), stale_s=stale_s,
                           color_argb=PRIORITY_ARGB.get(incident.priority, -7829368))


def drone_event(drone: Drone, incident: Incident | None, now: float, stale_s: float) -> bytes:
    """A drone's position (height above mean sea level as hae), link and the incident it works, if the receiver
    may know it."""
    remarks = f"drone · {drone.agency} · link {drone.link}"
    if incident is not None:
        remarks += f" · incident {incident.id} {_label(incident)}"
    assert drone.lat is not None and drone.lon is not None
    return encode_position(
        item_uid(Item(DRONE, drone.id)), drone.lat, drone.lon, callsign=drone.id,
        cot_type=DRONE_TYPE, time=datetime.fromtimestamp(drone.telemetry_at or now, UTC), stale_s=stale_s,
        hae=drone.alt_m if drone.alt_m is not None else 9999999.0, course=drone.heading, speed=drone.speed,
        group=AGENCY_GROUP.get(drone.agency, "Cyan"), role="Team Member", remarks=remarks)


def alert_event(alert: Alert, now: float, stale_s: float) -> bytes | None:
    """An alert as a map point at the centre of its first drawn area, titled with its headline; None for an
    alert whose areas are only named (nothing to place on a map)."""
    centre = next((c for c in map(_area_centre, alert.areas) if c is not None), None)
    if centre is None:
        return None
    remarks = " · ".join(part for part in (f"{alert.severity} {alert.urgency}", alert.event, alert.description,
                                           alert.instruction) if part)
    if alert.expires is not None:
        stale_s = max(1.0, min(stale_s, alert.expires - now))  # off TAK maps when it expires
    return encode_incident(item_uid(Item(ALERT, alert.id)), centre[0], centre[1], title=f"ALERT {alert.headline}",
                           remarks=remarks, time=datetime.fromtimestamp(now, UTC), stale_s=stale_s,
                           color_argb=SEVERITY_ARGB.get(alert.severity, GREY_ARGB))


def chat_event(message: Message) -> bytes:
    """A chat line as GeoChat in a room named after its channel ("All Chat Rooms", "fire", "incident 1002")."""
    scope, _, name = message.channel.partition(":")
    room = "All Chat Rooms" if scope == "all" else name if scope == "agency" else f"{scope} {name}"
    return encode_chat(f"{UID_PREFIX}hub", message.sender, message.text, chatroom=room, message_id=message.id,
                       time=datetime.fromtimestamp(message.at, UTC), stale_s=CHAT_STALE_S)


def _area_centre(area: AlertArea) -> tuple[float, float] | None:
    if area.circle is not None:
        return area.circle[0], area.circle[1]
    if area.polygon:
        return (sum(p[0] for p in area.polygon) / len(area.polygon),
                sum(p[1] for p in area.polygon) / len(area.polygon))
    return None


def delete_event(uid: str, now: float) -> bytes:
    """Take an item off TAK maps (a closed incident, one that became restricted, a unit with no position)."""
    return encode_delete(uid, time=datetime.fromtimestamp(now, UTC))


def _label(incident: Incident) -> str:
    itype = INCIDENT_TYPES.get(incident.type)
    return itype.label if itype else incident.type
