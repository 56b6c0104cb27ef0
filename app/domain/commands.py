"""Commands: what people and feeds ask the hub to do. One dataclass per command name.

The protocol layer decodes a command's `args` into its dataclass (types checked there); `decide` checks
everything that needs the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(slots=True)
class CreateIncident:
    type: str
    lat: float
    lon: float
    priority: int | None = None  # default: the type's
    address: str = ""
    caller: str = ""
    notes: str = ""
    restricted: bool = False
    owner: str | None = None  # supervisors may take a call on behalf of another agency
    location_precision: str = "unverified"  # what the point stands for (app.domain.location.PRECISIONS)


@dataclass(slots=True)
class UpdateIncident:
    incident: str
    type: str | None = None
    priority: int | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    caller: str | None = None
    restricted: bool | None = None
    location_precision: str | None = None  # with a new address or point; without one, they become "unverified"


@dataclass(slots=True)
class SetIncidentStatus:
    incident: str
    status: str


@dataclass(slots=True)
class CloseIncident:
    incident: str
    disposition: str


@dataclass(slots=True)
class ReopenIncident:
    incident: str
    reason: str = ""


@dataclass(slots=True)
class AddNote:
    incident: str
    text: str


@dataclass(slots=True)
class RegisterUnit:
    id: str
    agency: str
    kind: str
    station: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(slots=True)
class AssignUnit:
    unit: str
    incident: str


@dataclass(slots=True)
class SetUnitStatus:
    unit: str
    status: str


@dataclass(slots=True)
class ReportPosition:
    unit: str
    lat: float
    lon: float
    heading: float | None = None
    speed: float | None = None  # metres per second
    t: float | None = None  # when the fix was taken; default: when the hub received it
    gnss: str | None = None  # the receiver's own warning about this fix: "jamming", "spoofing" or "unsafe"


@dataclass(slots=True)
class RetireUnit:
    """Take a unit off the picture (a decommissioned vehicle, or one a rogue device made); the log keeps it."""

    unit: str
    reason: str = ""


@dataclass(slots=True)
class DivertUnit:
    """Send a committed unit to another (more urgent) incident; the reason goes into both narratives."""

    unit: str
    incident: str
    reason: str


@dataclass(slots=True)
class StackAssignment:
    """A unit's next assignment, taking effect when it becomes available (`incident` None clears it)."""

    unit: str
    incident: str | None = None


@dataclass(slots=True)
class ClearIncident:
    """Release every unit committed to an incident and close it, in one step."""

    incident: str
    disposition: str


@dataclass(slots=True)
class HoldIncident:
    """Hold a call that is not yet dispatched (a pending call waiting for something), or release the hold."""

    incident: str
    held: bool = True
    reason: str = ""


@dataclass(slots=True)
class CheckUnit:
    """The dispatcher checked on a unit (acknowledges its overdue timer and restarts its clock)."""

    unit: str
    note: str = ""


@dataclass(slots=True)
class RequestAid:
    incident: str
    agency: str
    note: str = ""


@dataclass(slots=True)
class AnswerAid:
    request: str
    accept: bool
    note: str = ""


@dataclass(slots=True)
class CancelAid:
    """The asking agency withdraws a pending mutual-aid request."""

    request: str
    reason: str = ""


@dataclass(slots=True)
class SendMessage:
    channel: str
    text: str


@dataclass(slots=True)
class CreateZone:
    name: str
    polygon: list[tuple[float, float]]
    kind: str = "zone"


@dataclass(slots=True)
class RemoveZone:
    zone: str


@dataclass(slots=True)
class SuspendSignalPriority:
    polygon: list[tuple[float, float]]
    note: str = ""


@dataclass(slots=True)
class ResumeSignalPriority:
    suspension: str


@dataclass(slots=True)
class AlertAreaArgs:
    polygon: list[tuple[float, float]] | None = None
    circle: list[float] | None = None  # [lat, lon, radius_m]
    desc: str = ""  # e.g. CAP's areaDesc: "Kauppatori and Eteläsatama"


@dataclass(slots=True)
class IssueAlert:
    headline: str
    areas: list[AlertAreaArgs]
    event: str = ""
    severity: str = "Unknown"
    urgency: str = "Unknown"
    certainty: str = "Unknown"
    category: str = "Safety"
    expires: float | None = None
    description: str = ""
    instruction: str = ""
    source: str = "watchfloor"
    id: str | None = None  # e.g. a CAP identifier; Updates reuse it
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SubmitCap:
    """A CAP 1.2 document (XML text) from a feed client; the hub turns it into alert.issue / alert.cancel."""

    xml: str


@dataclass(slots=True)
class CancelAlert:
    alert: str
    reason: str = ""


@dataclass(slots=True)
class RegisterDrone:
    id: str
    agency: str
    kind: str = "multirotor"
    operator: str = ""  # default: the registering drone operator; "" for a feed-only drone


@dataclass(slots=True)
class RetireDrone:
    drone: str
    reason: str = ""


@dataclass(slots=True)
class ReportDroneTelemetry:
    drone: str
    lat: float
    lon: float
    alt_m: float | None = None
    agl_m: float | None = None
    heading: float | None = None
    speed: float | None = None
    pitch: float | None = None
    roll: float | None = None
    gimbal_pitch: float | None = None
    gimbal_yaw: float | None = None
    hfov: float | None = None
    vfov: float | None = None
    battery: float | None = None
    footprint: list[tuple[float, float]] | None = None  # [[lat, lon], ...], e.g. KLV's four corners
    t: float | None = None
    gnss: str | None = None  # the autopilot's own warning about this fix: "jamming", "spoofing" or "unsafe"


@dataclass(slots=True)
class SetDroneLink:
    drone: str
    state: str  # "up" | "lost"


@dataclass(slots=True)
class PublishDroneVideo:
    drone: str
    url: str  # "" withdraws the link


@dataclass(slots=True)
class AssignDrone:
    drone: str
    incident: str | None = None  # None releases the drone


@dataclass(slots=True)
class RequestLook:
    drone: str
    lat: float
    lon: float
    note: str = ""


@dataclass(slots=True)
class AcknowledgeLook:
    drone: str
    request: str


@dataclass(slots=True)
class AttachToIncident:
    incident: str
    mime: str
    data_b64: str
    caption: str = ""
    source: str = ""


@dataclass(slots=True)
class SubmitReport:
    """A report from a sensor, a smart camera's analytics or the public-safety app (see `app.domain.triage`)."""

    source: str  # sensor | camera | app
    source_id: str  # the device, camera or app user that reported
    type: str  # an incident type code
    lat: float
    lon: float
    priority: int | None = None
    address: str = ""
    text: str = ""
    media_url: str = ""  # a photo or clip the source offers
    t: float | None = None  # when the source observed it; default: when the hub received it
    agency: str | None = None  # only this agency's consoles (and supervisors) see it: a resident's position


@dataclass(slots=True)
class AcceptCandidate:
    candidate: str
    priority: int | None = None  # default: the report's, else the type's
    type: str | None = None  # default: the report's


@dataclass(slots=True)
class MergeCandidate:
    candidate: str
    incident: str


@dataclass(slots=True)
class DismissCandidate:
    candidate: str
    reason: str


@dataclass(slots=True)
class RegisterDevice:
    """A field device allowed to report (see `app.domain.devices`)."""

    id: str
    agency: str
    formats: list[str]  # cot, nmea, mavlink, klv
    transport: str  # udp | tcp | tls
    source: str  # the address it sends from: "ip" or "ip:port" ("" with a certificate: any address)
    credential: str = "address"  # address | token | certificate | mavlink_signing
    units: list[str] = field(default_factory=list)  # the units it may report for
    drones: list[str] = field(default_factory=list)  # the drones it may report for
    token_sha256: str = ""  # with credential "token": SHA-256 (hex) of the token it sends first on TCP
    cert_sha256: str = ""  # with credential "certificate": SHA-256 (hex) of its client certificate (DER)
    rate: float | None = None  # records per second it may send (default DEFAULT_RATE)
    label: str = ""


@dataclass(slots=True)
class RegisterCamera:
    id: str
    agency: str
    kind: str = "fixed"  # or "mobile"
    label: str = ""


@dataclass(slots=True)
class ReportCamera:
    camera: str
    lat: float
    lon: float
    azimuth: float | None = None  # degrees true it looks towards
    hfov: float | None = None
    range_m: float | None = None
    url: str | None = None  # its video link; None keeps the last, "" withdraws it
    stale_s: float | None = None  # seconds the report stands (default 300)
    t: float | None = None


@dataclass(slots=True)
class RetireCamera:
    camera: str
    reason: str = ""


@dataclass(slots=True)
class RevokeDevice:
    id: str
    reason: str = ""


@dataclass(slots=True)
class AcknowledgeSecurityAlert:
    """A supervisor has seen a security alert (and says what was done about it)."""

    alert: str
    note: str = ""


@dataclass(slots=True)
class ReportSybil:
    """The feed gateway's finding about the device it speaks for: within `SYBIL_WINDOW_S` the device named more
    distinct units or drones than `SYBIL_COUNT` that it may not report for or that do not exist
    (`app.domain.plausibility.named_stranger`). Its input stays refused; this only tells the supervisors."""

    unknown_ids: int
    examples: list[str] = field(default_factory=list)


#: Command name on the wire -> its arguments.
COMMANDS: dict[str, type[DataclassInstance]] = {
    "signal.suspend": SuspendSignalPriority,
    "signal.resume": ResumeSignalPriority,
    "incident.create": CreateIncident,
    "incident.update": UpdateIncident,
    "incident.status": SetIncidentStatus,
    "incident.close": CloseIncident,
    "incident.reopen": ReopenIncident,
    "incident.note": AddNote,
    "unit.register": RegisterUnit,
    "unit.assign": AssignUnit,
    "unit.status": SetUnitStatus,
    "unit.position": ReportPosition,
    "unit.retire": RetireUnit,
    "unit.divert": DivertUnit,
    "unit.stack": StackAssignment,
    "unit.check": CheckUnit,
    "incident.clear": ClearIncident,
    "incident.hold": HoldIncident,
    "aid.cancel": CancelAid,
    "aid.request": RequestAid,
    "aid.answer": AnswerAid,
    "message.send": SendMessage,
    "zone.create": CreateZone,
    "zone.remove": RemoveZone,
    "alert.issue": IssueAlert,
    "alert.cancel": CancelAlert,
    "drone.register": RegisterDrone,
    "drone.retire": RetireDrone,
    "drone.telemetry": ReportDroneTelemetry,
    "drone.link": SetDroneLink,
    "drone.video": PublishDroneVideo,
    "drone.assign": AssignDrone,
    "drone.look": RequestLook,
    "drone.look_ack": AcknowledgeLook,
    "incident.attach": AttachToIncident,
    "report.submit": SubmitReport,
    "candidate.accept": AcceptCandidate,
    "candidate.merge": MergeCandidate,
    "candidate.dismiss": DismissCandidate,
    "alert.cap": SubmitCap,
    "device.register": RegisterDevice,
    "device.revoke": RevokeDevice,
    "camera.register": RegisterCamera,
    "camera.report": ReportCamera,
    "camera.retire": RetireCamera,
    "security.acknowledge": AcknowledgeSecurityAlert,
    "security.sybil": ReportSybil,
}
