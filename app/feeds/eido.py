"""NENA Emergency Incident Data Object (EIDO, NENA-STA-021) JSON: parse and export, sans-I/O.

Field names follow NENA's EIDO-JSON repository (github.com/NENA911/EIDO-JSON: Schema/openapi.yaml and
Samples/): a message ``$id`` and ``lastUpdateTimeStamp``; ``incidentComponent`` with
``incidentTrackingIdentifier``, ``incidentTypeCommonRegistryText``, ``incidentStatusCommonRegistryText``,
``incidentCommonPriorityNumber``; ``locationComponent`` carrying PIDF-LO XML in ``locationByValue``;
``notesComponent`` (``notesActionComments``); ``emergencyResourceComponent``
(``primaryUnitStatusRegistryText``); ``agencyComponent``. References between components are
``{"$ref": "<$id>"}``. See docs/feeds.md for what is and is not checked.
"""

from __future__ import annotations

import json
import math
import uuid
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

# Watchfloor status -> NENA registry text. PROVISIONAL: the NENA "Incident Status" and "Primary Unit
# Status" registries (referenced by NENA-STA-021 for incidentStatusCommonRegistryText and
# primaryUnitStatusRegistryText) could not be read from this machine; these values are our best
# reading and must be checked against the published registries before interop (docs/feeds.md).
INCIDENT_STATUS_EIDO: dict[str, str] = {
    "new": "Created",
    "dispatched": "Dispatched",
    "en_route": "Enroute",
    "on_scene": "OnScene",
    "under_control": "Controlled",
    "closed": "Closed",
}
UNIT_STATUS_EIDO: dict[str, str] = {
    "available": "Available",
    "dispatched": "Dispatched",
    "en_route": "Enroute",
    "on_scene": "OnScene",
    "transporting": "Transporting",
    "at_hospital": "AtHospital",
    "out_of_service": "OutOfService",
}
INCIDENT_STATUS_WATCHFLOOR: dict[str, str] = {v: k for k, v in INCIDENT_STATUS_EIDO.items()}
UNIT_STATUS_WATCHFLOOR: dict[str, str] = {v: k for k, v in UNIT_STATUS_EIDO.items()}

_PIDF_NS = "urn:ietf:params:xml:ns:pidf"
_GP_NS = "urn:ietf:params:xml:ns:pidf:geopriv10"
_GML_NS = "http://www.opengis.net/gml"
_CA_NS = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"


@dataclass(frozen=True, slots=True)
class EidoLocation:
    """The incident location: WGS-84 point (from PIDF-LO gml:pos) and/or a civic address."""

    id: str
    lat: float | None
    lon: float | None
    civic: tuple[tuple[str, str], ...] = ()  # PIDF-LO civicAddress elements: (("country","FI"),("A3",...))
    description: str | None = None
    reference_url: str | None = None


@dataclass(frozen=True, slots=True)
class EidoUnit:
    """An emergency resource (unit) on the incident, with its registry and internal statuses.

    ``id`` is the unit's name (enforcementUnitName / enforcementUnitIdentification), falling back to
    the component's ``$id``, which is kept as ``component_id``.
    """

    id: str
    agency: str | None
    status: str | None
    status_internal: tuple[str, ...] = ()
    component_id: str = ""


@dataclass(frozen=True, slots=True)
class EidoAgency:
    """An agency component."""

    id: str
    types: tuple[str, ...] = ()
    owning: bool = False


@dataclass(frozen=True, slots=True)
class EidoIncident:
    """The parts of an EIDO that Watchfloor uses, format-level."""

    id: str
    message_id: str
    type_code: str
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
    return value  # type: ignore[no-any-return]


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
    """Parse one EIDO JSON document (one incident)."""
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
    updated = parse_timestamp(_str(doc, "lastUpdateTimeStamp", "$", required=True), "$.lastUpdateTimeStamp")

    incidents = _components(doc, "incidentComponent")
    if not incidents:
        raise FeedError("missing_field", "$.incidentComponent is missing")
    inc = incidents[0]
    path = "$.incidentComponent[0]"
    incident_id = (
        _str(inc, "incidentTrackingIdentifier", path)
        or _str(doc, "incidentTrackingIdentifier", "$")
        or _str(inc, "$id", path, required=True)
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

    return EidoIncident(
        id=incident_id,  # type: ignore[arg-type]
        message_id=message_id,  # type: ignore[arg-type]
        type_code=_str(inc, "incidentTypeCommonRegistryText", path, required=True),  # type: ignore[arg-type]
        type_internal_code=_str(inc, "incidentTypeInternalCode", path),
        type_internal_text=_str(inc, "incidentTypeInternalText", path),
        priority=priority,
        status=_strings(inc, "incidentStatusCommonRegistryText", path),
        status_internal=_strings(inc, "incidentStatusInternalText", path),
        location=_incident_location(doc, _refs(inc, "locationReference", path)),
        notes=tuple(notes_by_id.values()),
        units=tuple(
            _unit(u, f"$.emergencyResourceComponent[{i}]")
            for i, u in enumerate(_components(doc, "emergencyResourceComponent"))
        ),
        agencies=tuple(
            _agency(a, f"$.agencyComponent[{i}]") for i, a in enumerate(_components(doc, "agencyComponent"))
        ),
        updated=updated,
    )


def _incident_location(doc: Mapping[str, Any], refs: Sequence[str]) -> EidoLocation | None:
    components = _components(doc, "locationComponent") or _components(doc, "locationInformationComponent")
    if not components:
        return None
    chosen = next((c for c in components if c.get("$id") in refs), components[0])
    index = components.index(chosen)
    return _location(chosen, f"$.locationComponent[{index}]")


def _location(comp: Mapping[str, Any], path: str) -> EidoLocation:
    by_value = _str(comp, "locationByValue", path)
    url = _str(comp, "locationByReferenceUrl", path)
    if by_value is None and url is None:
        raise FeedError("missing_field", f"{path} has neither locationByValue nor locationByReferenceUrl")
    lat = lon = None
    civic: tuple[tuple[str, str], ...] = ()
    if by_value is not None:
        lat, lon, civic = parse_pidf_lo(by_value.strip())
    return EidoLocation(
        id=_str(comp, "$id", path) or "",
        lat=lat,
        lon=lon,
        civic=civic,
        description=_str(comp, "locationDescriptionText", path),
        reference_url=url,
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
    return EidoUnit(
        id=_str(comp, "enforcementUnitName", path)
        or _str(comp, "enforcementUnitIdentification", path)
        or component_id,
        component_id=component_id,
        agency=_ref(comp, "agencyReference", path) or _str(comp, "owningAgencyIdentifier", path),
        status=_str(comp, "primaryUnitStatusRegistryText", path),
        status_internal=_strings(comp, "unitStatusInternal", path),
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
    """Build an EIDO dict from a Watchfloor incident-like mapping.

    Keys: ``id``, ``type_code`` (incident type registry text), ``status`` (Watchfloor status), ``lat``,
    ``lon``, ``agency`` and ``updated`` (aware datetime) are required; ``type_text``, ``priority``
    (int), ``address`` (PIDF-LO civicAddress fields, e.g. {"country": "FI", "A3": "Helsinki",
    "RD": "Pohjoisesplanadi", "HNO": "11"}), ``notes`` (list of str) and ``units`` (list of
    {"id", "agency", "status"}) are optional. Raises ValueError/KeyError on a bad mapping.
    """
    incident_id = str(incident["id"])
    agency = str(incident["agency"])
    stamp = nena_timestamp(incident["updated"])
    status = str(incident["status"])
    if status not in INCIDENT_STATUS_EIDO:
        raise ValueError(f"unknown incident status {status!r}")
    lat, lon = float(incident["lat"]), float(incident["lon"])
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("non-finite coordinates")

    def prologue(component_id: str) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": stamp,
            "updatedByAgencyReference": {"$ref": agency},
        }

    location_id = f"{incident_id}:location:0"
    notes = [
        {**prologue(f"{incident_id}:note:{i}"), "notesActionComments": str(text)}
        for i, text in enumerate(incident.get("notes") or [])
    ]
    inc: dict[str, Any] = {
        **prologue(f"{incident_id}:incident:0"),
        "incidentTrackingIdentifier": incident_id,
        "incidentTypeCommonRegistryText": str(incident["type_code"]),
        "incidentStatusCommonRegistryText": [INCIDENT_STATUS_EIDO[status]],
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
        unit_status = str(unit["status"])
        if unit_status not in UNIT_STATUS_EIDO:
            raise ValueError(f"unknown unit status {unit_status!r}")
        units.append(
            {
                **prologue(f"{incident_id}:resource:{unit['id']}"),
                "enforcementUnitName": str(unit["id"]),
                "agencyReference": {"$ref": str(unit.get("agency") or agency)},
                "primaryUnitStatusRegistryText": UNIT_STATUS_EIDO[unit_status],
                "unitStatusInternal": [unit_status],
            }
        )
    agencies = sorted({agency} | {u["agencyReference"]["$ref"] for u in units})
    doc: dict[str, Any] = {
        "$id": f"urn:emergency:uid:incidentid:{incident_id}",
        "eidoMessageIdentifier": f"urn:uuid:{uuid.uuid4()}",
        "lastUpdateTimeStamp": stamp,
        "updatedByAgencyReference": {"$ref": agency},
        "eidoVersion": EIDO_VERSION,
        "incidentComponent": [inc],
        "locationComponent": [
            {
                **prologue(location_id),
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": pidf_lo(f"pres:{incident_id}", lat, lon, incident.get("address")),
            }
        ],
        "agencyComponent": [
            {**prologue(a), "organizationIdentification": a, "incidentOwningAgencyIndicator": a == agency}
            for a in agencies
        ],
    }
    if notes:
        doc["notesComponent"] = notes
    if units:
        doc["emergencyResourceComponent"] = units
    return doc
