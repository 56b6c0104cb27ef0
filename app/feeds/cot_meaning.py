"""What a CoT event means for the watch floor: the pure step between `parse_cot` and the gateway's commands.

`interpret(event, senders, known_drones)` returns one `Meaning` (a unit's fix, a drone's fix, a drone's video
link, a camera (a video point tied to no drone the hub knows), a message every dispatcher sees) or raises
`FeedIgnored` for valid input the hub does not use, with the kind it is counted under: `no_fix` (the 0,0
placeholder of a device without GPS), `own_echo`, `ping`, or the CoT type itself.

`CotSenders` remembers what earlier events of each uid said (callsign, team colour): iTAK's track-only updates
and UAS tools' bursts leave them out, and one device must stay one unit.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass

from app.feeds.cot import CotEvent, CotVideo
from app.feeds.cot_picture import UID_PREFIX as OWN_UID_PREFIX
from app.feeds.errors import FeedIgnored

#: `<__group name>` colour -> agency.
GROUP_AGENCY = {"red": "fire", "blue": "police", "white": "medical", "green": "medical"}
AGENCY_KIND = {"fire": "engine", "police": "patrol", "medical": "ambulance"}
#: What ATAK's emergency types are called on its own buttons (an `<emergency type>` text wins when sent).
EMERGENCY_LABELS = {"b-a-o-tbl": "911", "b-a-o-pan": "Ring The Bell", "b-a-o-opn": "In Contact",
                    "b-a-o-c": "Custom", "b-a-o": "Alert"}
#: Devices remembered by `CotSenders` (oldest forgotten first).
SENDERS_KEPT = 4096
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")
_SPACE = re.compile(r"\s+")


def unit_id_for(name: str) -> str:
    """A unit id from a callsign or uid: letters, digits, - and _; at most 16 characters."""
    return _NOT_ID.sub("-", name.strip()).strip("-")[:16] or "UNNAMED"


def agency_for_group(group: str | None) -> str:
    """The agency a TAK team colour stands for (anything unknown: police)."""
    return GROUP_AGENCY.get((group or "").strip().lower(), "police")


@dataclass(frozen=True, slots=True)
class UnitFix:
    """A ground unit's position: registered first (agency and kind from its team colour) if it is new."""

    unit: str
    agency: str
    kind: str
    lat: float
    lon: float
    heading: float | None
    speed: float | None
    t: float


@dataclass(frozen=True, slots=True)
class DroneFix:
    """A drone's position, camera and (if it carries one) video link, from the event itself."""

    drone: str
    agency: str
    event: CotEvent


@dataclass(frozen=True, slots=True)
class VideoLink:
    """The video feed of a drone the hub knows (`b-i-v`, or a `__video` naming the drone)."""

    drone: str
    video: CotVideo


@dataclass(frozen=True, slots=True)
class CameraFix:
    """A camera: a video point (`b-i-v`, or any point carrying a `__video`) tied to no drone the hub knows, named
    by its callsign (else uid); its `<sensor>` gives the view, its stale time how long the report stands."""

    camera: str
    event: CotEvent


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A message every dispatcher sees on "all": GeoChat, emergencies and their cancels. `speaker`: the callsign
    it speaks for (a sender may speak only for its own units); `emergency`: an alarm or its cancel, not chat."""

    text: str
    speaker: str
    emergency: bool = False


Meaning = UnitFix | DroneFix | VideoLink | CameraFix | Broadcast


class CotSenders:
    """Callsign and team colour last heard from each uid, so an event that leaves them out is still that unit."""

    def __init__(self, kept: int = SENDERS_KEPT) -> None:
        self.kept = kept
        self._known: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    def hear(self, event: CotEvent) -> tuple[str | None, str | None]:
        """(callsign, group) of the event, each filled in from the uid's earlier events when it is absent."""
        callsign, group = self._known.get(event.uid, (None, None))
        callsign = event.callsign or callsign
        group = event.group_name or group
        if callsign or group:
            self._known[event.uid] = (callsign, group)
            self._known.move_to_end(event.uid)
            if len(self._known) > self.kept:
                self._known.popitem(last=False)
        return callsign, group


def interpret(event: CotEvent, senders: CotSenders, known_drones: Container[str]) -> Meaning:
    """What `event` means for the floor; raises `FeedIgnored` for valid input nothing here uses."""
    if event.uid.startswith(OWN_UID_PREFIX):  # our own output (cot_out) echoed by a TAK server
        raise FeedIgnored("own_echo", "Watchfloor's own picture sent back")
    if event.is_ping:
        raise FeedIgnored("ping", "TAK keep-alive")
    if event.is_chat:  # before `hear`: every message has a uid of its own, none of them a device
        assert event.chat is not None
        sender = event.chat.sender_callsign or event.callsign or event.uid
        return Broadcast(f"{sender}: {event.chat.message}"[:2000], sender)
    callsign, group = senders.hear(event)
    if event.is_emergency or event.is_emergency_cancel:
        who = _emergency_sender(event, callsign)
        return Broadcast(_emergency_text(event, who), who, emergency=True)
    if event.is_drone:
        if not event.has_fix:
            raise FeedIgnored("no_fix", f"drone {event.uid[:60]} has no position yet (0,0)")
        return DroneFix(unit_id_for(callsign or event.uid), agency_for_group(group), event)
    if event.is_video:
        assert event.video is not None
        drone = unit_id_for(event.video.alias or callsign or event.uid)
        if drone in known_drones:
            return VideoLink(drone, event.video)
        if not event.has_fix:
            raise FeedIgnored("no_fix", f"camera {callsign or event.uid} has no position (0,0)")
        return CameraFix(unit_id_for(callsign or event.uid), event)
    if event.is_friendly_ground:
        if any(link.relation == "p-p" and link.uid != event.uid for link in event.links):
            # A point someone dropped on the map (ATAK links it to the device that made it): not a unit.
            raise FeedIgnored("marker", f"{callsign or event.uid} is a map marker, not a unit's position")
        if not event.has_fix:
            raise FeedIgnored("no_fix", f"{callsign or event.uid} has no position yet (0,0)")
        agency = agency_for_group(group)
        track = event.track
        return UnitFix(unit_id_for(callsign or event.uid), agency, AGENCY_KIND.get(agency, "patrol"),
                       event.lat, event.lon, track.course if track else None, track.speed if track else None,
                       event.time.timestamp())
    raise FeedIgnored(event.type[:32], f"CoT type {event.type[:60]} is not used")


def _emergency_sender(event: CotEvent, callsign: str | None) -> str:
    """Who raised an emergency: ATAK puts the sender's callsign in the emergency's text and names the alert
    "<callsign>-Alert"; else the parent link, else the uid."""
    who = (event.emergency.text if event.emergency else "") or (callsign or "").removesuffix("-Alert")
    if not who:
        parent = next((link.uid for link in event.links if link.relation == "p-p" and link.uid), "")
        who = parent or event.uid
    return who


def _emergency_text(event: CotEvent, who: str) -> str:
    """"EMERGENCY 911 from P 9 at 60.17200, 24.94200" or "EMERGENCY CANCELLED from P 9"."""
    if event.is_emergency_cancel:
        return _one_line(f"EMERGENCY CANCELLED from {who}")[:2000]
    if event.is_911:
        label = EMERGENCY_LABELS["b-a-o-tbl"]
    else:  # "Troops In Contact", "Manual Alert: Gunshot": what the sender chose says most
        label = (event.emergency.type if event.emergency else "") or EMERGENCY_LABELS.get(event.type, event.type)
    where = f" at {event.lat:.5f}, {event.lon:.5f}" if event.has_fix else " (no position)"
    return _one_line(f"EMERGENCY {label} from {who}{where}")[:2000]


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()
