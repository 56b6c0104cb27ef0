"""NENA Emergency Incident Data Object (EIDO, NENA-STA-021) JSON: parse and export, sans-I/O.

Field names follow NENA's published schema, NENA-STA-021.1b (github.com/NENA911/EIDO-JSON, tag NENA-STA-021.1b,
``Schema/openapi.yaml``; kept in ``resources/schemas/`` and checked in the tests): the EIDO's ``$id`` is the
Incident Tracking Identifier; one ``incidentComponent`` object (``incidentTypeCommonRegistryText``,
``incidentStatusCommonRegistryText``, ``incidentCommonPriorityNumber``); ``locationComponent`` carrying PIDF-LO XML
in ``locationByValue``; ``callComponent`` and ``callbackComponent`` (a call transfer has no incident);
``notesComponent`` (``notesActionComments``); ``emergencyResourceComponent`` (``$id`` "unit@agency",
``emergencyResourceName``, primary and secondary unit status); ``agencyComponent``. References between components
are ``{"$ref": "<$id>"}``. Earlier drafts' spellings NENA's own samples use are read too. See docs/feeds.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from app.feeds.common import check_lat_lon, check_size, parse_timestamp, parse_xml
from app.feeds.errors import FeedError

MAX_EIDO_BYTES = 1024 * 1024
MAX_PIDF_BYTES = 64 * 1024
EIDO_VERSION = "1.0"
#: PIDF-LO problems that refuse the whole document (someone is probing the parser); any other unreadable
#: location is kept with its `problem`, so the rest of the document still reaches a dispatcher.
HOSTILE_CODES = ("entity_expansion", "too_large")

# Watchfloor status -> NENA registry values, from the registries of NENA-STA-021.1a/1b (section 3.3 "Incident
# Status-Common", 3.9 "Primary Unit Status-Common", 3.10 "Secondary Unit Status-Common"). The Watchfloor word
# also goes in the *Internal* fields, so a receiver of ours gets it back exactly.
INCIDENT_STATUS_EIDO: dict[str, tuple[str, ...]] = {
    "new": ("Active",),
    "dispatched": ("Active", "ResourcesAssigned"),
    "en_route": ("Active", "ResourcesEnroute"),
    "on_scene": ("Active", "ResourcesOnscene"),
    "under_control": ("Active", "ResourcesOnscene"),  # the registry's "FireUnderControl" is for fires only
    "closed": ("Closed",),
}
#: unit status -> (primary, secondaries), the combination STA-021 asks agencies to map their statuses to.
UNIT_STATUS_EIDO: dict[str, tuple[str, tuple[str, ...]]] = {
    "available": ("Available", ("InService",)),
    "dispatched": ("NotAvailable", ("Dispatched",)),
    "en_route": ("NotAvailable", ("EnRoute",)),
    "on_scene": ("NotAvailable", ("OnScene",)),
    "transporting": ("NotAvailable", ("Transporting", "Hospital")),
    "at_hospital": ("NotAvailable", ("Arrived", "Hospital")),
    "out_of_service": ("NotAvailable", ("OutofService",)),
}
#: Reading: the secondary statuses that make a Watchfloor status, most advanced first (a unit may carry several).
_UNIT_STATUS_READ: tuple[tuple[str, frozenset[str]], ...] = (
    ("at_hospital", frozenset({"Arrived", "Hospital"})),
    ("transporting", frozenset({"Transporting"})),
    ("on_scene", frozenset({"OnScene"})),
    ("en_route", frozenset({"EnRoute"})),
    ("dispatched", frozenset({"Dispatched"})),
    ("out_of_service", frozenset({"OutofService"})),
)
#: Watchfloor unit kind -> NENA "Emergency Resource Type-Common" registry (STA-021 section 3.11); other kinds
#: (added by configuration) are written as CommandLevel4, "initial responding resources", with the kind as the
#: internal text.
RESOURCE_TYPE_EIDO: dict[str, str] = {
    "engine": "StructureFireEngineType1", "ladder": "FireTruckLadder", "rescue": "HeavyRescue",
    "hazmat": "HazMatTeam", "boat": "FireBoat", "fire_command": "CommandLevel3", "patrol": "PatrolUnit",
    "k9": "PatrolUnit", "police_command": "LawEnforcementCommandUnit", "ambulance": "GroundBLSAmbulance",
    "medic": "GroundALSAmbulance", "ems_command": "CommandLevel3", "drone": "UnmannedAerialVehicle",
}
#: Watchfloor incident type -> NENA "Incident Type-Common" registry (STA-021 3.2, APCO 2.103.2 codes). A type
#: without one (added by configuration) is written as its own code; Watchfloor's code is also the internal code.
INCIDENT_TYPE_EIDO: dict[str, str] = {
    "structure_fire": "FSTRU", "vehicle_fire": "FVEH", "outdoor_fire": "FBRUSH", "fire_alarm": "ALRF",
    "hazmat": "HAZMAT", "gas_leak": "GASLEAK", "water_rescue": "WATER", "flooding": "WATER",
    "technical_rescue": "RESCUE", "traffic_collision": "MVAUNK", "medical_emergency": "SICK",
    "cardiac_arrest": "CARDIAC", "fall_injury": "FALL", "assault": "ASSAULT", "robbery": "ROBBERY",
    "burglary": "BURGLARY", "disturbance": "DISORD", "missing_person": "PERMISS", "suspicious_package": "SUSP",
    "public_service": "CITASST",
}
#: Reading another CAD's EIDO: registry code -> the first Watchfloor type written as it (WATER: water rescue).
INCIDENT_TYPE_WATCHFLOOR: dict[str, str] = {code: kind for kind, code in reversed(INCIDENT_TYPE_EIDO.items())}
#: Watchfloor agency -> IANA "urn:emergency:service:responder" sub-service, as STA-021 asks for agencyType.
AGENCY_TYPE_EIDO: dict[str, str] = {"fire": "fire", "police": "police", "medical": "ems"}

_PIDF_NS = "urn:ietf:params:xml:ns:pidf"
_GP_NS = "urn:ietf:params:xml:ns:pidf:geopriv10"
_GML_NS = "http://www.opengis.net/gml"
_CA_NS = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"


def unit_status_watchfloor(primary: str | None, secondary: Sequence[str]) -> str | None:
    """The Watchfloor unit status a NENA primary + secondary unit status stands for, if any."""
    have = set(secondary)
    for status, needed in _UNIT_STATUS_READ:
        if needed <= have:
            return status
    return "available" if primary == "Available" else None


@dataclass(frozen=True, slots=True)
class EidoLocation:
    """A location component: WGS-84 point (from PIDF-LO gml:pos) and/or a civic address.

    ``problem`` says why its PIDF-LO could not be read ("malformed_xml: ..."); the location then has no point.
    """

    id: str
    lat: float | None
    lon: float | None
    civic: tuple[tuple[str, str], ...] = ()  # PIDF-LO civicAddress elements: (("country","FI"),("A3",...))
    description: str | None = None
    reference_url: str | None = None
    kind: str | None = None  # locationTypeDescriptionRegistryText: "Incident", "Caller", "RoutingLocation", ...
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class EidoCall:
    """A call component (an emergency call the incident came from, or a call being transferred)."""

    id: str
    call_type: str | None  # standardPrimaryCallType: "emergency", ...
    direction: str | None
    state: str | None  # callStateRegistryText: "callAnswered", ...
    queue: str | None
    started: str | None  # callStartTimestamp as sent
    callback: tuple[str, ...] = ()  # the referenced callback component's callBackInformationUri
    location_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EidoUnit:
    """An emergency resource (unit) on the incident, with its registry and internal statuses.

    ``id`` is the unit's name (emergencyResourceName; drafts: enforcementUnitName / enforcementUnitIdentification),
    else the part of the component's ``$id`` ("E11@fire") before "@"; the ``$id`` is kept as ``component_id``.
    """

    id: str
    agency: str | None
    status: str | None  # primaryUnitStatusRegistryText
    status_internal: tuple[str, ...] = ()
    component_id: str = ""
    secondary: tuple[str, ...] = ()  # secondaryUnitStatusRegistryText


@dataclass(frozen=True, slots=True)
class EidoAgency:
    """An agency component."""

    id: str
    types: tuple[str, ...] = ()
    owning: bool = False


@dataclass(frozen=True, slots=True)
class EidoIncident:
    """The parts of an EIDO that Watchfloor uses, format-level.

    ``type_code`` is None when the EIDO carries no incident component (a call transfer: the call, its location
    and callback, no incident yet). ``location`` is the one the incident (else the first call) references that
    has a point, else a civic address, else the first; ``locations`` are all of them.
    """

    id: str
    message_id: str
    type_code: str | None
    type_internal_code: str | None
    type_internal_text: str | None
    priority: int | None
    status: tuple[str, ...]
    status_internal: tuple[str, ...]
    location: EidoLocation | None
    notes: tuple[str, ...]
    units: tuple[EidoUnit, ...]
    agencies: tuple[EidoAgency, ...]
    updated: datetime
    calls: tuple[EidoCall, ...] = ()
    locations: tuple[EidoLocation, ...] = ()
    issuer: str | None = None  # issuingElementIdentification


# --- typed access with JSON paths in the reasons ---------------------------------------------------


def _get(
    obj: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...], *, required: bool
) -> Any:
    if key not in obj or obj[key] is None:
        if required:
            raise FeedError("missing_field", f"{path}.{key} is missing")
        return None
    value = obj[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise FeedError("wrong_type", f"{path}.{key} is a boolean")
    if not isinstance(value, kind):
        raise FeedError("wrong_type", f"{path}.{key} is {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = _get(obj, key, path, str, required=required)
    if required and not value.strip():
        raise FeedError("missing_field", f"{path}.{key} is empty")
    return value


def _strings(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """A string or a list of strings (EIDO drafts disagree on which) -> tuple."""
    value = _get(obj, key, path, (str, list), required=False)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not all(isinstance(v, str) for v in value):
        raise FeedError("wrong_type", f"{path}.{key} must hold strings")
    return tuple(value)


def _components(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = _get(doc, key, "$", (list, dict), required=False)
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise FeedError("wrong_type", f"$.{key}[{i}] is {type(item).__name__}, expected an object")
    return items


def _ref(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = _get(obj, key, path, dict, required=False)
    return None if value is None else _str(value, "$ref", f"{path}.{key}", required=True)


def _refs(obj: Mapping[str, Any], key: str, path: str) -> list[str]:
    value = _get(obj, key, path, (list, dict), required=False)
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise FeedError("wrong_type", f"{path}.{key}[{i}] is not a reference object")
        out.append(_str(item, "$ref", f"{path}.{key}[{i}]", required=True))
    return [r for r in out if r]


# --- parsing -----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise FeedError("malformed_json", f"{name} is not valid JSON")


def parse_eido(data: bytes | str, *, max_bytes: int = MAX_EIDO_BYTES) -> EidoIncident:
    """Parse one EIDO JSON document (one incident, or a call without one)."""
    raw = check_size(data, max_bytes)
    try:
        doc = json.loads(raw, parse_constant=_reject_constant)
    except FeedError:
        raise
    except RecursionError as exc:
        raise FeedError("malformed_json", "JSON nested too deeply") from exc
    except json.JSONDecodeError as exc:
        ended_early = exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated string")
        code = "truncated" if ended_early else "malformed_json"
        raise FeedError(code, f"not JSON: {exc}") from exc
    except ValueError as exc:  # undecodable bytes, integers beyond Python's digit limit
        raise FeedError("malformed_json", f"not JSON: {str(exc)[:200]}") from exc
    if not isinstance(doc, dict):
        raise FeedError("wrong_type", f"EIDO must be a JSON object, got {type(doc).__name__}")
    message_id = _str(doc, "eidoMessageIdentifier", "$") or _str(doc, "$id", "$", required=True)
    # "LastUpdateTimeStamp": the 2020 draft's spelling, in NENA's first sample.
    stamp = _str(doc, "lastUpdateTimeStamp", "$") or _str(doc, "LastUpdateTimeStamp", "$", required=True)
    updated = parse_timestamp(stamp, "$.lastUpdateTimeStamp")

    incidents = _components(doc, "incidentComponent")
    calls = tuple(_call(c, f"$.callComponent[{i}]", doc) for i, c in enumerate(_components(doc, "callComponent")))
    if not incidents and not calls:
        raise FeedError("missing_field", "$.incidentComponent is missing (and there is no callComponent)")
    inc: Mapping[str, Any] = incidents[0] if incidents else {}
    path = "$.incidentComponent[0]"
    # The EIDO's $id is the Incident Tracking Identifier (STA-021 2.4); drafts put it in these fields.
    incident_id = (
        _str(inc, "incidentTrackingIdentifier", path)
        or _str(doc, "incidentTrackingIdentifier", "$")
        or _str(doc, "$id", "$", required=True)
    )
    priority = _get(inc, "incidentCommonPriorityNumber", path, int, required=False)

    notes_by_id = {}
    for i, note in enumerate(_components(doc, "notesComponent")):
        text = _str(note, "notesActionComments", f"$.notesComponent[{i}]") or _str(
            note, "noteText", f"$.notesComponent[{i}]"
        )
        if text is None:
            raise FeedError("missing_field", f"$.notesComponent[{i}].notesActionComments is missing")
        notes_by_id[note.get("$id") or f"#{i}"] = text

    key = "locationComponent" if "locationComponent" in doc else "locationInformationComponent"  # 2020 draft
    locations = tuple(_location(c, f"$.{key}[{i}]") for i, c in enumerate(_components(doc, key)))
    refs = _refs(inc, "locationReference", path) if incidents else [r for c in calls for r in c.location_refs]
    return EidoIncident(
        id=incident_id,  # type: ignore[arg-type]
        message_id=message_id,  # type: ignore[arg-type]
        type_code=_str(inc, "incidentTypeCommonRegistryText", path, required=True) if incidents else None,
        type_internal_code=_str(inc, "incidentTypeInternalCode", path),
        type_internal_text=_str(inc, "incidentTypeInternalText", path),
        priority=priority,
        status=_strings(inc, "incidentStatusCommonRegistryText", path),
        status_internal=_strings(inc, "incidentStatusInternalText", path),
        location=best_location(locations, refs),
        notes=tuple(notes_by_id.values()),
        units=tuple(
            _unit(u, f"$.emergencyResourceComponent[{i}]")
            for i, u in enumerate(_components(doc, "emergencyResourceComponent"))
        ),
        agencies=tuple(
            _agency(a, f"$.agencyComponent[{i}]") for i, a in enumerate(_components(doc, "agencyComponent"))
        ),
        updated=updated,
        calls=calls,
        locations=locations,
        issuer=_str(doc, "issuingElementIdentification", "$"),
    )


def best_location(locations: Sequence[EidoLocation], refs: Sequence[str]) -> EidoLocation | None:
    """Of the referenced locations (all, when none is referenced): one with a point, else with a civic address,
    else the first."""
    candidates = [loc for loc in locations if loc.id in refs] or list(locations)
    return (next((loc for loc in candidates if loc.lat is not None), None)
            or next((loc for loc in candidates if loc.civic), None)
            or (candidates[0] if candidates else None))


def _call(comp: Mapping[str, Any], path: str, doc: Mapping[str, Any]) -> EidoCall:
    callback: tuple[str, ...] = ()
    callback_ref = _ref(comp, "callBackReference", path)
    for i, other in enumerate(_components(doc, "callbackComponent")):
        if other.get("$id") == callback_ref:
            callback = _strings(other, "callBackInformationUri", f"$.callbackComponent[{i}]")
    return EidoCall(
        id=_str(comp, "$id", path, required=True),  # type: ignore[arg-type]
        call_type=_str(comp, "standardPrimaryCallType", path),
        direction=_str(comp, "direction", path),
        state=_str(comp, "callStateRegistryText", path),
        queue=_str(comp, "queueIdentifier", path),
        started=_str(comp, "callStartTimestamp", path),
        callback=callback,
        location_refs=tuple(_refs(comp, "locationReference", path)),
    )


def _location(comp: Mapping[str, Any], path: str) -> EidoLocation:
    by_value = _str(comp, "locationByValue", path)
    url = _str(comp, "locationByReferenceUrl", path)
    lat = lon = None
    civic: tuple[tuple[str, str], ...] = ()
    problem = None
    if by_value is None and url is None:
        problem = f"missing_field: {path} has neither locationByValue nor locationByReferenceUrl"
    elif by_value is not None:
        try:
            lat, lon, civic = parse_pidf_lo(by_value.strip())
        except FeedError as error:
            if error.code in HOSTILE_CODES:
                raise
            problem = f"{error.code}: {error.reason}"[:300]
    return EidoLocation(
        id=_str(comp, "$id", path) or "",
        lat=lat,
        lon=lon,
        civic=civic,
        description=_str(comp, "locationDescriptionText", path),
        reference_url=url,
        kind=_str(comp, "locationTypeDescriptionRegistryText", path),
        problem=problem,
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_pidf_lo(xml_text: str) -> tuple[float | None, float | None, tuple[tuple[str, str], ...]]:
    """From a PIDF-LO document: the first gml:pos as (lat, lon) and the first civicAddress's fields."""
    root = parse_xml(xml_text, MAX_PIDF_BYTES)
    lat = lon = None
    civic: tuple[tuple[str, str], ...] = ()
    for el in root.iter():
        name = _local(el.tag) if isinstance(el.tag, str) else ""
        if name == "pos" and lat is None:
            parts = (el.text or "").split()
            if len(parts) < 2:
                raise FeedError("wrong_type", f"gml:pos {el.text!r} is not 'lat lon'")
            try:
                lat, lon = float(parts[0]), float(parts[1])
            except ValueError as exc:
                raise FeedError("wrong_type", f"gml:pos {el.text!r} is not numeric") from exc
            check_lat_lon(lat, lon)
        elif name == "civicAddress" and not civic:
            civic = tuple((_local(c.tag), (c.text or "").strip()) for c in el if isinstance(c.tag, str))
    if lat is None and not civic:
        raise FeedError("missing_field", "PIDF-LO has neither a gml:pos nor a civicAddress")
    return lat, lon, civic


def _unit(comp: Mapping[str, Any], path: str) -> EidoUnit:
    component_id: str = _str(comp, "$id", path, required=True)  # type: ignore[assignment]
    own_id, _, own_agency = component_id.partition("@")  # STA-021 2.20: "$id" is "resource@AgencyId"
    return EidoUnit(
        id=_str(comp, "emergencyResourceName", path)
        or _str(comp, "enforcementUnitName", path)
        or _str(comp, "enforcementUnitIdentification", path)
        or own_id,
        component_id=component_id,
        agency=_ref(comp, "agencyReference", path) or _str(comp, "owningAgencyIdentifier", path)
        or own_agency or _ref(comp, "updatedByAgencyReference", path),
        status=_str(comp, "primaryUnitStatusRegistryText", path),
        status_internal=_strings(comp, "unitStatusInternal", path),
        secondary=_strings(comp, "secondaryUnitStatusRegistryText", path),
    )


def _agency(comp: Mapping[str, Any], path: str) -> EidoAgency:
    agency_id = _str(comp, "organizationIdentification", path) or _str(comp, "$id", path, required=True)
    types = _strings(comp, "agencyType", path) or _strings(comp, "AgencyType", path)
    owning = _get(comp, "incidentOwningAgencyIndicator", path, bool, required=False)
    return EidoAgency(id=agency_id, types=types, owning=bool(owning))  # type: ignore[arg-type]


# --- export ------------------------------------------------------------------------------------------


def nena_timestamp(moment: datetime) -> str:
    """NENA-STA-010 style timestamp: UTC with milliseconds, e.g. "2024-05-01T09:30:00.000Z"."""
    if moment.tzinfo is None:
        raise ValueError("EIDO times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pidf_lo(entity: str, lat: float | None, lon: float | None, civic: Mapping[str, str] | None) -> str:
    """A minimal PIDF-LO (RFC 4119/5139/5491) with a gml:Point and/or a civicAddress."""
    ET.register_namespace("", _PIDF_NS)
    ET.register_namespace("gp", _GP_NS)
    ET.register_namespace("gml", _GML_NS)
    ET.register_namespace("ca", _CA_NS)
    presence = ET.Element(f"{{{_PIDF_NS}}}presence", {"entity": entity})
    status = ET.SubElement(
        ET.SubElement(presence, f"{{{_PIDF_NS}}}tuple", {"id": "incident"}), f"{{{_PIDF_NS}}}status"
    )
    info = ET.SubElement(ET.SubElement(status, f"{{{_GP_NS}}}geopriv"), f"{{{_GP_NS}}}location-info")
    if lat is not None and lon is not None:
        check_lat_lon(lat, lon)
        point = ET.SubElement(info, f"{{{_GML_NS}}}Point", {"srsName": "urn:ogc:def:crs:EPSG::4326"})
        ET.SubElement(point, f"{{{_GML_NS}}}pos").text = f"{lat!r} {lon!r}"
    if civic:
        address = ET.SubElement(info, f"{{{_CA_NS}}}civicAddress")
        for key, value in civic.items():
            ET.SubElement(address, f"{{{_CA_NS}}}{key}").text = value
    return ET.tostring(presence, encoding="unicode")


def export_eido(incident: Mapping[str, Any]) -> dict[str, Any]:
    """Build an EIDO dict, valid against NENA's schema (NENA-STA-021.1b), from a Watchfloor incident-like mapping.

    Keys: ``id``, ``type_code`` (incident type registry text), ``status`` (Watchfloor status), ``lat``,
    ``lon``, ``agency`` and ``updated`` (aware datetime) are required; ``type_text``, ``priority``
    (int), ``address`` (PIDF-LO civicAddress fields, e.g. {"country": "FI", "A3": "Helsinki",
    "RD": "Pohjoisesplanadi", "HNO": "11"}), ``notes`` (list of str), ``units`` (list of
    {"id", "agency", "status", "kind"}) and ``issuer`` (the issuing element, default "watchfloor.<agency>") are
    optional. Raises ValueError/KeyError on a bad mapping.
    """
    incident_id = str(incident["id"])
    agency = str(incident["agency"])
    issuer = str(incident.get("issuer") or f"watchfloor.{agency}")
    stamp = nena_timestamp(incident["updated"])
    status, type_code = str(incident["status"]), str(incident["type_code"])
    if status not in INCIDENT_STATUS_EIDO:
        raise ValueError(f"unknown incident status {status!r}")
    lat, lon = float(incident["lat"]), float(incident["lon"])
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("non-finite coordinates")
    tracking_id = f"urn:emergency:uid:incidentid:{incident_id}:{issuer}"  # STA-010's form

    def prologue(component_id: str, by: str = agency) -> dict[str, Any]:
        return {"$id": component_id, "lastUpdateTimeStamp": stamp, "updatedByAgencyReference": {"$ref": by}}

    location_id = f"{tracking_id}:location:0"
    notes = [
        {**prologue(f"{tracking_id}:note:{i}"), "notesActionComments": str(text)}
        for i, text in enumerate(incident.get("notes") or [])
    ]
    inc: dict[str, Any] = {
        **prologue(f"{tracking_id}:incident:0"),
        "internalIncidentId": incident_id,
        "incidentTypeCommonRegistryText": INCIDENT_TYPE_EIDO.get(type_code, type_code),
        "incidentTypeInternalCode": type_code,
        "incidentStatusCommonRegistryText": list(INCIDENT_STATUS_EIDO[status]),
        "incidentStatusInternalText": [status],
        "locationReference": [{"$ref": location_id}],
    }
    if incident.get("type_text"):
        inc["incidentTypeInternalText"] = str(incident["type_text"])
    if incident.get("priority") is not None:
        inc["incidentCommonPriorityNumber"] = int(incident["priority"])
    if notes:
        inc["notesReference"] = [{"$ref": n["$id"]} for n in notes]
    units = []
    for unit in incident.get("units") or []:
        unit_status, unit_agency, kind = str(unit["status"]), str(unit.get("agency") or agency), unit.get("kind")
        if unit_status not in UNIT_STATUS_EIDO:
            raise ValueError(f"unknown unit status {unit_status!r}")
        primary, secondary = UNIT_STATUS_EIDO[unit_status]
        resource = {
            **prologue(f"{unit['id']}@{unit_agency}", unit_agency),
            "emergencyResourceName": str(unit["id"]),
            "emergencyResourceTypeCommonRegistryText": RESOURCE_TYPE_EIDO.get(str(kind), "CommandLevel4"),
            "resourceAttributeRegistryText": [],
            "primaryUnitStatusRegistryText": primary,
            "secondaryUnitStatusRegistryText": list(secondary),
            "unitStatusInternal": [unit_status],
            # Required, meant for the people staffing the unit: Watchfloor does not know them, so none is named.
            "agentReference": [],
        }
        if kind:
            resource["emergencyResourceTypeInternalText"] = str(kind)
        units.append(resource)
    agencies = sorted({agency} | {u["updatedByAgencyReference"]["$ref"] for u in units})
    doc: dict[str, Any] = {
        **prologue(tracking_id),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": issuer,
        "incidentComponent": inc,
        "locationComponent": [
            {
                **prologue(location_id),
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": pidf_lo(f"pres:{incident_id}@{issuer}", lat, lon, incident.get("address")),
            }
        ],
        "agencyComponent": [
            {
                **prologue(a),
                # NENA's Agency Role registry (STA-021 3.1): the owner dispatches, the others were dispatched.
                "agencyRoleDescriptionRegistryText": ["Dispatching" if a == agency else "Dispatched"],
                "agencyType": [AGENCY_TYPE_EIDO.get(a, a)],
                "incidentOwningAgencyIndicator": a == agency,
            }
            for a in agencies
        ],
    }
    if notes:
        doc["notesComponent"] = notes
    if units:
        doc["emergencyResourceComponent"] = units
    return doc
