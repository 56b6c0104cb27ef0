"""The rules for drone commands and incident attachments (see `app.domain.decide` for the others).

A drone belongs to an agency: its operators, that agency's dispatchers and all-agency feeds act for it,
supervisors for every drone. Anyone who dispatches may ask any drone to look somewhere (that is how one
agency borrows another's eyes); only the drone's side answers. This module registers its rules into
`decide`'s table when it is imported (decide imports it last).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from app.domain import commands as c
from app.domain import events as ev
from app.domain.agencies import Role
from app.domain.authority import acts_for, check_acts_for
from app.domain.checks import check_time, check_video_url
from app.domain.decide import _RULES, MAX_SHORT_TEXT, _Context, _text
from app.domain.drones import Drone, track_key
from app.domain.entities import Incident
from app.domain.errors import Refusal
from app.domain.events import Draft
from app.domain.geo import check_lat_lon, check_polygon

DRONE_KINDS = ("multirotor", "fixed_wing", "vtol", "tethered")
LINK_STATES = ("up", "lost")
#: Largest snapshot, decoded. Its base64 (4/3 larger) plus the command around it must stay under the
#: 256 KiB wire frame limit, which is why this is a little under the 192 KiB the contract names.
MAX_ATTACHMENT_BYTES = 190 * 1024
MAX_ATTACHMENTS_PER_INCIDENT = 20
#: MIME type -> the bytes its files start with.
IMAGE_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}

#: Telemetry value -> (lowest, highest, refusal code). MSL altitude spans the Dead Sea to airliner height.
TELEMETRY_RANGES: dict[str, tuple[float, float, str]] = {
    "alt_m": (-500.0, 20_000.0, "bad_altitude"),
    "agl_m": (-100.0, 10_000.0, "bad_altitude"),
    "heading": (0.0, 360.0, "bad_heading"),
    "speed": (0.0, 400.0, "bad_speed"),
    "pitch": (-90.0, 90.0, "bad_angle"),
    "roll": (-180.0, 180.0, "bad_angle"),
    "gimbal_pitch": (-180.0, 90.0, "bad_angle"),
    "gimbal_yaw": (-360.0, 360.0, "bad_angle"),
    "hfov": (1.0, 179.0, "bad_fov"),
    "vfov": (1.0, 179.0, "bad_fov"),
    "battery": (0.0, 100.0, "bad_battery"),
}
MAX_FOOTPRINT_POINTS = 16


def _drone(cx: _Context, drone_id: str) -> Drone:
    drone = cx.picture.drones.get(drone_id)
    if drone is None:
        raise Refusal("unknown_drone", f"there is no drone {drone_id}")
    return drone


def _own_drone(cx: _Context, drone_id: str) -> Drone:
    drone = _drone(cx, drone_id)
    check_acts_for(cx.actor, f"drone {drone.id}", drone.agency)
    return drone


def _register(cx: _Context, a: c.RegisterDrone) -> list[Draft]:
    drone_id = cx.new_callsign("drone", a.id, cx.picture.drones, a.agency)
    if a.kind not in DRONE_KINDS:
        raise Refusal("unknown_kind", f"{a.kind!r} is not a drone kind ({', '.join(DRONE_KINDS)})")
    operator = _text(a.operator, "operator", 64, required=False)
    if not operator and cx.actor.role == Role.DRONE_OPERATOR:
        operator = cx.actor.user
    return [Draft(ev.DRONE_REGISTERED, {"id": drone_id, "agency": a.agency, "kind": a.kind, "operator": operator})]


def _retire(cx: _Context, a: c.RetireDrone) -> list[Draft]:
    drone = _drone(cx, a.drone)
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.DRONE_RETIRED, {"drone": drone.id, "reason": reason})]


def _telemetry(cx: _Context, a: c.ReportDroneTelemetry) -> list[Draft]:
    drone = _own_drone(cx, a.drone)
    lat, lon = check_lat_lon(a.lat, a.lon)
    t = cx.now if a.t is None else check_time(a.t, cx.now, f"telemetry of {drone.id}")
    if drone.telemetry_at is not None and t <= drone.telemetry_at:
        replay = cx.replayed(track_key(drone.id), lat, lon, t, drone=drone.id)
        if replay:
            return replay
        raise Refusal("stale_position", f"telemetry of {drone.id} at {t} is not newer than {drone.telemetry_at}")
    data: dict[str, Any] = {"drone": drone.id, "lat": lat, "lon": lon, "t": t}
    for name, (low, high, code) in TELEMETRY_RANGES.items():
        value = getattr(a, name)
        if value is None:
            continue
        if not (math.isfinite(value) and low <= value <= high):
            raise Refusal(code, f"{name} must be {low:g}..{high:g}, got {value}")
        data[name] = float(value)
    if a.footprint is not None:
        if len(a.footprint) > MAX_FOOTPRINT_POINTS or any(len(p) != 2 for p in a.footprint):
            raise Refusal("bad_geometry", f"a footprint is 3 to {MAX_FOOTPRINT_POINTS} [lat, lon] points")
        data["footprint"] = [list(p) for p in check_polygon(a.footprint)]
    return cx.fix_drafts(Draft(ev.DRONE_TELEMETRY, data), track_key(drone.id), drone.kind, data.get("speed"),
                         drone=drone.id, gnss=a.gnss)


def _link(cx: _Context, a: c.SetDroneLink) -> list[Draft]:
    drone = _own_drone(cx, a.drone)
    if a.state not in LINK_STATES:
        raise Refusal("bad_status", f"link state must be up or lost, got {a.state!r}")
    if a.state == drone.link:
        raise Refusal("no_change", f"the link to {drone.id} is already {a.state}")
    return [Draft(ev.DRONE_LINK, {"drone": drone.id, "state": a.state})]


def _video(cx: _Context, a: c.PublishDroneVideo) -> list[Draft]:
    drone = _own_drone(cx, a.drone)
    if cx.actor.role == Role.DRONE_OPERATOR and drone.operator and drone.operator != cx.actor.user:
        # The pilot flying it publishes its video; another pilot of the agency may not redirect it.
        raise Refusal("forbidden", f"drone {drone.id} is flown by {drone.operator}; only its operator "
                                   "or a supervisor sets its video")
    url = check_video_url(a.url)
    if url == drone.video_url:
        raise Refusal("no_change", f"drone {drone.id} already has that video link")
    return [Draft(ev.DRONE_VIDEO, {"drone": drone.id, "url": url})]


def _assign(cx: _Context, a: c.AssignDrone) -> list[Draft]:
    drone = _own_drone(cx, a.drone)
    # Everyone sees drones, so everyone follows their assignment; a restricted incident is named only to
    # those who may see it (`app.domain.visibility`).
    if a.incident is None:
        if drone.incident is None:
            raise Refusal("no_change", f"drone {drone.id} is not assigned")
        return [Draft(ev.DRONE_ASSIGNED, {"drone": drone.id, "incident": None})]
    incident = cx.open_incident(a.incident)
    if drone.incident == incident.id:
        raise Refusal("no_change", f"drone {drone.id} is already on incident {incident.id}")
    return [Draft(ev.DRONE_ASSIGNED, cx.naming({"drone": drone.id, "incident": incident.id}, incident))]


def _look(cx: _Context, a: c.RequestLook) -> list[Draft]:
    drone = _drone(cx, a.drone)
    lat, lon = check_lat_lon(a.lat, a.lon)
    data = {"id": cx.picture.next_id("LK"), "drone": drone.id, "lat": lat, "lon": lon,
            "note": _text(a.note, "note", MAX_SHORT_TEXT, required=False)}
    return [Draft(ev.DRONE_LOOK_REQUESTED, data)]


def _look_ack(cx: _Context, a: c.AcknowledgeLook) -> list[Draft]:
    drone = _own_drone(cx, a.drone)
    if drone.look is None or drone.look.id != a.request:
        raise Refusal("unknown_request", f"drone {drone.id} has no open look request {a.request}")
    if drone.look.acknowledged_by is not None:
        raise Refusal("already_answered", f"look request {a.request} was acknowledged by "
                                          f"{drone.look.acknowledged_by}")
    return [Draft(ev.DRONE_LOOK_ACKNOWLEDGED, {"drone": drone.id, "request": a.request})]


def _may_attach(cx: _Context, incident: Incident) -> None:
    """Involved agencies attach; so does the operator of a drone working the incident (even of another
    agency): its pilot, not every user of the drone's agency."""
    if cx.actor.role == Role.DRONE_OPERATOR and any(
            d.incident == incident.id and acts_for(cx.actor, d.agency) for d in cx.picture.drones.values()):
        return
    cx.involved(incident)


def _attach(cx: _Context, a: c.AttachToIncident) -> list[Draft]:
    incident = cx.open_incident(a.incident)
    _may_attach(cx, incident)
    magic = IMAGE_MAGIC.get(a.mime)
    if magic is None:
        raise Refusal("bad_mime", f"attachments are {' or '.join(IMAGE_MAGIC)}, not {a.mime[:80]!r}")
    if len(a.data_b64) > (MAX_ATTACHMENT_BYTES + 2) // 3 * 4:
        raise Refusal("too_large", f"an attachment is at most {MAX_ATTACHMENT_BYTES // 1024} KiB")
    try:
        data = base64.b64decode(a.data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("bad_attachment", "data_b64 is not valid base64") from None
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise Refusal("too_large", f"an attachment is at most {MAX_ATTACHMENT_BYTES // 1024} KiB")
    if not data.startswith(magic):
        raise Refusal("bad_attachment", f"the data is not a {a.mime} image")
    if len(incident.attachments) >= MAX_ATTACHMENTS_PER_INCIDENT:
        raise Refusal("too_many_attachments",
                      f"incident {incident.id} already has {MAX_ATTACHMENTS_PER_INCIDENT} attachments")
    payload = {"id": cx.picture.next_id("AT"), "incident": incident.id, "mime": a.mime, "data_b64": a.data_b64,
               "caption": _text(a.caption, "caption", MAX_SHORT_TEXT, required=False),
               "source": _text(a.source, "source", MAX_SHORT_TEXT, required=False)}
    return [cx.scoped(ev.INCIDENT_ATTACHED, payload, incident.id)]


_RULES.update({
    "drone.register": _register,
    "drone.retire": _retire,
    "drone.telemetry": _telemetry,
    "drone.link": _link,
    "drone.video": _video,
    "drone.assign": _assign,
    "drone.look": _look,
    "drone.look_ack": _look_ack,
    "incident.attach": _attach,
})
