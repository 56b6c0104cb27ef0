"""Events said in a dispatcher's words: which incident an event is about and one line for it.

Shared by the console's incident timelines and the supervisor's review (timelines, exports, reports).
"""

from __future__ import annotations

from app.domain import events as ev
from app.domain.events import Event
from app.domain.incident_types import INCIDENT_TYPES


def type_label(code: str) -> str:
    """The incident type's label, or its code if unknown."""
    itype = INCIDENT_TYPES.get(code)
    return itype.label if itype else code


def incident_of(event: Event) -> str | None:
    """The incident an event is about, if any."""
    d = event.data
    if event.kind in (ev.INCIDENT_CREATED, ev.INCIDENT_UPDATED, ev.INCIDENT_STATUS, ev.INCIDENT_NOTE,
                      ev.INCIDENT_HELD):
        return str(d.get("id"))
    if event.kind in (ev.UNIT_ASSIGNED, ev.UNIT_STATUS, ev.AID_REQUESTED, ev.DRONE_ASSIGNED, ev.INCIDENT_ATTACHED,
                      ev.CANDIDATE_PROPOSED, ev.CANDIDATE_ACCEPTED, ev.CANDIDATE_MERGED,
                      ev.SIGNAL_REQUESTED, ev.UNIT_STACKED):
        value = d.get("incident")
        return str(value) if value else None
    if event.kind == ev.INCIDENT_SHARED:
        return str(d["incident"]["id"])
    if event.kind == ev.MESSAGE_POSTED and str(d.get("channel", "")).startswith("incident:"):
        return str(d["channel"]).partition(":")[2]
    return None


def describe(event: Event) -> str:
    """The event in a few words."""
    d = event.data
    kind = event.kind
    if kind == ev.INCIDENT_CREATED:
        return f"Created: {type_label(d['type'])} P{d['priority']} at {d.get('address') or 'map point'}" + (
            f" — {d['notes']}" if d.get("notes") else "")
    if kind == ev.INCIDENT_UPDATED:
        changes = ", ".join(f"{k} → {v}" for k, v in d.items() if k != "id")
        return f"Updated: {changes}"
    if kind == ev.INCIDENT_STATUS:
        status = str(d["status"]).replace("_", " ").upper()
        return f"Status {status}" + (f" ({d['disposition']})" if d.get("disposition") else "")
    if kind == ev.INCIDENT_NOTE:
        return f"Note: {d['text']}"
    if kind == ev.UNIT_ASSIGNED:
        return f"{d['unit']} dispatched"
    if kind == ev.UNIT_STATUS:
        return f"{d['unit']} {str(d['status']).replace('_', ' ')}"
    if kind == ev.AID_REQUESTED:
        return f"Mutual aid {d['id']} requested from {d['to_agency']}" + (f": {d['note']}" if d.get("note") else "")
    if kind == ev.AID_ANSWERED:
        verdict = "ACCEPTED" if d["accepted"] else "DECLINED"
        return f"Mutual aid {d['id']} {verdict}" + (f": {d['note']}" if d.get("note") else "")
    if kind == ev.AID_CANCELLED:
        return f"Mutual aid {d['id']} CANCELLED" + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.INCIDENT_HELD:
        return ("HELD" if d["held"] else "Hold released") + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.UNIT_STACKED:
        return f"{d['unit']} stacked next" if d.get("incident") else f"{d['unit']} next assignment withdrawn"
    if kind == ev.UNIT_CHECKED:
        return f"{d['unit']} checked ({str(d['status']).replace('_', ' ')})" + (
            f": {d['note']}" if d.get("note") else "")
    if kind == ev.MESSAGE_POSTED:
        return f"[{d.get('agency', '')}] {d['text']}"
    if kind == ev.UNIT_REGISTERED:
        return f"{d['id']} registered: {d['kind']} of {d['agency']}" + (f", {d['station']}" if d.get("station") else "")
    if kind == ev.UNIT_POSITION:
        return f"{d['unit']} at {d['lat']:.5f}, {d['lon']:.5f}"
    if kind == ev.ZONE_CREATED:
        return f"Zone {d['id']} drawn: {d['name']} ({d.get('kind', 'zone')})"
    if kind == ev.ZONE_REMOVED:
        return f"Zone {d['id']} removed"
    if kind == ev.ALERT_ISSUED:
        return f"Alert {d['id']} ({d.get('severity', 'Unknown')}): {d['headline']}"
    if kind == ev.ALERT_CANCELLED:
        return f"Alert {d['id']} cancelled" + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.DRONE_REGISTERED:
        flown = f", flown by {d['operator']}" if d.get("operator") else ""
        return f"Drone {d['id']} registered ({d['agency']}){flown}"
    if kind == ev.DRONE_TELEMETRY:
        return f"Drone {d['drone']} at {d['lat']:.5f}, {d['lon']:.5f}"
    if kind == ev.DRONE_LINK:
        return f"Drone {d['drone']} link {str(d['state']).upper()}"
    if kind == ev.DRONE_VIDEO:
        return f"Drone {d['drone']} video " + (f"published: {d['url']}" if d.get("url") else "withdrawn")
    if kind == ev.DRONE_ASSIGNED:
        return f"Drone {d['drone']} assigned" if d.get("incident") else f"Drone {d['drone']} released"
    if kind == ev.DRONE_LOOK_REQUESTED:
        return f"Drone {d['drone']} asked to look at {d['lat']:.5f}, {d['lon']:.5f}" + (
            f": {d['note']}" if d.get("note") else "")
    if kind == ev.DRONE_LOOK_ACKNOWLEDGED:
        return f"Drone {d['drone']} acknowledged look request {d['request']}"
    if kind in (ev.UNIT_RETIRED, ev.DRONE_RETIRED):
        what = f"{d['unit']}" if kind == ev.UNIT_RETIRED else f"Drone {d['drone']}"
        return f"{what} retired" + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.CAMERA_REGISTERED:
        return f"Camera {d['id']} registered ({d['agency']}, {d.get('kind', 'fixed')})"
    if kind == ev.CAMERA_REPORTED:
        return f"Camera {d['camera']} at {d['lat']:.5f}, {d['lon']:.5f}" + (
            f", video {d['url']}" if d.get("url") else "")
    if kind == ev.CAMERA_RETIRED:
        return f"Camera {d['camera']} retired" + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.DEVICE_REGISTERED:
        return (f"Device {d['id']} registered ({d['agency']}): {'/'.join(d['formats'])} over {d['transport']} "
                f"from {d['source']}")
    if kind == ev.DEVICE_REVOKED:
        return f"Device {d['id']} revoked" + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.INCIDENT_SHARED:
        return f"Shared whole with {', '.join(d['incident']['agencies']).upper()}"
    if kind == ev.INCIDENT_ATTACHED:
        return f"Snapshot {d['id']} attached" + (f": {d['caption']}" if d.get("caption") else "")
    if kind == ev.CANDIDATE_CREATED:
        return f"Report {d['id']} from {d['source']} {d['source_id']}: {type_label(d['type'])}" + (
            f" — {d['text']}" if d.get("text") else "")
    if kind == ev.CANDIDATE_PROPOSED:
        return f"Report {d['id']} may be incident {d['incident']} ({d['distance_m']:.0f} m away)"
    if kind == ev.CANDIDATE_ACCEPTED:
        return f"Report {d['id']} accepted as incident {d['incident']}"
    if kind == ev.CANDIDATE_MERGED:
        # A merge into a restricted incident does not name it (everyone sees the report leave the queue).
        return f"Report {d['id']} merged into " + (f"incident {d['incident']}" if d.get("incident") else "an incident")
    if kind == ev.CANDIDATE_DISMISSED:
        return f"Report {d['id']} dismissed" + (f": {d['reason']}" if d.get("reason") else "")
    if kind == ev.SIGNAL_REQUESTED:
        again = "again " if d["kind"] == "update" else ""
        return (f"{d['unit']} asked {again}for green at signal {d['intersection']} (approach {d['approach']}, "
                f"{d['role']}, importance {d['importance']})")
    if kind == ev.SIGNAL_ANSWERED:
        return f"Signal {d['intersection']} answered {d['unit']}: {d['status']}"
    if kind == ev.SIGNAL_SUSPENDED:
        return f"Signal priority suspended in area {d['id']}" + (f": {d['note']}" if d.get("note") else "")
    if kind == ev.SIGNAL_RESUMED:
        return f"Signal priority resumed in area {d['id']}"
    if kind == ev.SIGNAL_ENDED:
        return f"{d['unit']}'s priority at signal {d['intersection']} ended: {d['reason'].replace('_', ' ')}"
    return kind
