"""Signal priority messages, sans-I/O: ETSI ITS SREM (request) and SSEM (status), UPER over pycrate's modules.

SREM and SSEM (ETSI TS 103 301) carry the ISO 19091 / SAE J2735 SignalRequestMessage and SignalStatusMessage
behind the ITS PDU header. `encode_srem`/`decode_srem` and `encode_ssem`/`decode_ssem` turn the plain records
below into the exact unaligned-PER bytes a traffic controller reads, and back; wrong bytes give `FeedError`
(`too_large`, `malformed_srem`, `malformed_ssem`, `wrong_message`), never a half-read record.

Only the fields signal priority uses are written: the requestor's station id, role, importance and name (the
unit's call sign), and per intersection the request id, type, inbound approach and ETA window. Times are the
standard's: the minute of the UTC year and milliseconds within that minute (`its_time`, `from_its_time`).

pycrate's ASN.1 objects are module-global and stateful: use this module from one thread (the hub's loop, one
simulator), as everything here does.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import Any

from pycrate_asn1dir import ITS_IS

from app.feeds.errors import FeedError

#: ItsPduHeader.messageID values (ETSI TS 102 894-2) and the SREM/SSEM protocol version (TS 103 301 v1.3+)
SREM_ID, SSEM_ID = 9, 10
PROTOCOL_VERSION = 2
#: the largest datagram read: an SREM for 32 intersections is under 300 bytes
MAX_MESSAGE_BYTES = 2048
#: J2735 RequestImportanceLevel: 1 (least) .. 14 (most important)
MAX_IMPORTANCE = 14
ROLES = ("fire", "ambulance", "police", "emergency")
KINDS = {"request": "priorityRequest", "update": "priorityRequestUpdate", "cancel": "priorityCancellation"}
#: J2735 PrioritizationResponseStatus, as the standard names them
STATUSES = ("unknown", "requested", "processing", "watchOtherTraffic", "granted", "rejected", "maxPresence",
            "reserviceLocked")
MINUTES_PER_YEAR_MAX = 527040  # MinuteOfTheYear 527040 means "invalid"

_SREM = ITS_IS.SREM_PDU_Descriptions.SREM
_SSEM = ITS_IS.SSEM_PDU_Descriptions.SSEM
_KIND_OF = {wire: ours for ours, wire in KINDS.items()}


@dataclass(frozen=True, slots=True)
class PriorityRequest:
    """One intersection's part of an SREM: request `request_id` to pass by `approach` in the ETA window that
    starts at (`minute`, `millisecond`) and lasts `duration_ms`."""

    intersection: int  # IntersectionID 0..65535
    request_id: int  # RequestID 0..255, the requestor's number for this intersection's request
    kind: str  # "request" | "update" | "cancel"
    approach: int  # inbound ApproachID 1..15
    minute: int  # MinuteOfTheYear of the window's start
    millisecond: int  # DSecond: milliseconds into that minute
    duration_ms: int  # DSecond: the window's length (at most 65535 ms)


@dataclass(frozen=True, slots=True)
class SignalRequest:
    """An SREM: one vehicle (`station`, called `name`) asks intersections for priority."""

    station: int  # StationID 0..4294967295
    minute: int
    millisecond: int
    sequence: int  # MsgCount 0..127
    role: str  # one of ROLES
    importance: int  # 1..14
    name: str  # the unit's call sign, 1..63 ASCII characters
    requests: tuple[PriorityRequest, ...]


@dataclass(frozen=True, slots=True)
class PriorityStatus:
    """One answer in an SSEM: what the controller of `intersection` does with `station`'s request `request_id`."""

    intersection: int
    station: int  # the requestor's StationID
    request_id: int
    sequence: int  # the MsgCount of the SREM answered
    role: str
    approach: int
    status: str  # one of STATUSES
    minute: int | None = None  # the window the controller serves, when it says so
    millisecond: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SignalStatus:
    """An SSEM: a traffic controller (`station`) tells requestors the status of their requests."""

    station: int
    minute: int
    millisecond: int
    sequence: int
    statuses: tuple[PriorityStatus, ...]


def its_time(epoch_s: float) -> tuple[int, int]:
    """(MinuteOfTheYear, milliseconds into the minute) of a Unix time, in UTC."""
    moment = time.gmtime(epoch_s)
    year_start = calendar.timegm((moment.tm_year, 1, 1, 0, 0, 0))
    elapsed_ms = round((epoch_s - year_start) * 1000)
    return elapsed_ms // 60_000, elapsed_ms % 60_000


def from_its_time(minute: int, millisecond: int, near: float) -> float:
    """The Unix time of (MinuteOfTheYear, milliseconds) in the UTC year that puts it nearest to `near`: a time
    sent on New Year's Eve and read just after midnight still means the old year."""
    year = time.gmtime(near).tm_year
    candidates = [calendar.timegm((y, 1, 1, 0, 0, 0)) + minute * 60 + millisecond / 1000
                  for y in (year - 1, year, year + 1)]
    return min(candidates, key=lambda t: abs(t - near))


def _check(name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer {low}..{high}, got {value!r}")
    return value


def _importance(level: int) -> str:
    return f"requestImportanceLevel{_check('importance', level, 1, MAX_IMPORTANCE)}"


def encode_srem(message: SignalRequest) -> bytes:
    """The UPER bytes of an SREM; ValueError when a field is out of the standard's range."""
    if message.role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {message.role!r}")
    if not 1 <= len(message.name) <= 63 or not message.name.isascii():
        raise ValueError("name must be 1..63 ASCII characters")
    if not 1 <= len(message.requests) <= 32:
        raise ValueError("an SREM carries 1..32 requests")
    requests = []
    for r in message.requests:
        if r.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {r.kind!r}")
        requests.append({
            "request": {
                "id": {"id": _check("intersection", r.intersection, 0, 65535)},
                "requestID": _check("request_id", r.request_id, 0, 255),
                "requestType": KINDS[r.kind],
                "inBoundLane": ("approach", _check("approach", r.approach, 0, 15)),
            },
            "minute": _check("minute", r.minute, 0, MINUTES_PER_YEAR_MAX),
            "second": _check("millisecond", r.millisecond, 0, 65535),
            "duration": _check("duration_ms", r.duration_ms, 0, 65535),
        })
    value = {
        "header": {"protocolVersion": PROTOCOL_VERSION, "messageID": SREM_ID,
                   "stationID": _check("station", message.station, 0, 4294967295)},
        "srm": {
            "timeStamp": _check("minute", message.minute, 0, MINUTES_PER_YEAR_MAX),
            "second": _check("millisecond", message.millisecond, 0, 65535),
            "sequenceNumber": _check("sequence", message.sequence, 0, 127),
            "requests": requests,
            "requestor": {
                "id": ("stationID", message.station),
                "type": {"role": message.role, "request": _importance(message.importance)},
                "name": message.name,
            },
        },
    }
    _SREM.set_val(value)
    return bytes(_SREM.to_uper())


def _decode(pdu: Any, data: bytes, message_id: int, code: str) -> dict[str, Any]:
    if len(data) > MAX_MESSAGE_BYTES:
        raise FeedError("too_large", f"{len(data)} bytes; a signal priority message is at most {MAX_MESSAGE_BYTES}")
    try:
        pdu.from_uper(data)
        value: dict[str, Any] = pdu.get_val()
    except Exception as exc:  # pycrate raises its own errors and plain ones (IndexError, ...) on bad bytes
        raise FeedError(code, f"not a UPER-encoded {pdu._name}: {exc} ({data[:64].hex()})") from None
    header = value["header"]
    if header["messageID"] != message_id:
        raise FeedError("wrong_message", f"messageID {header['messageID']}, expected {message_id}")
    return value


def _level(name: str) -> int:
    digits = name.removeprefix("requestImportanceLevel")
    return int(digits) if digits.isdigit() else 0


def decode_srem(data: bytes) -> SignalRequest:
    """The SREM in `data`; FeedError when it is not one (or carries what signal priority cannot act on)."""
    value = _decode(_SREM, data, SREM_ID, "malformed_srem")
    srm = value["srm"]
    requestor = srm["requestor"]
    kind, station = requestor["id"]
    role = requestor.get("type", {}).get("role")
    if kind != "stationID" or role not in ROLES:
        raise FeedError("malformed_srem", f"the requestor must be an emergency vehicle by station id, got {kind}, "
                                          f"role {role}")
    requests = []
    for package in srm.get("requests", []):
        request = package["request"]
        lane_kind, approach = request["inBoundLane"]
        if lane_kind != "approach" or request["requestType"] not in _KIND_OF or "minute" not in package:
            raise FeedError("malformed_srem", f"request {request['requestID']}: needs an inbound approach, a type "
                                              "and an ETA window")
        requests.append(PriorityRequest(
            request["id"]["id"], request["requestID"], _KIND_OF[request["requestType"]], approach,
            package["minute"], package.get("second", 0), package.get("duration", 0),
        ))
    return SignalRequest(
        station, srm.get("timeStamp", MINUTES_PER_YEAR_MAX), srm["second"],
        srm.get("sequenceNumber", 0), role, _level(requestor["type"].get("request", "")),
        requestor.get("name", str(station)), tuple(requests),
    )


def encode_ssem(message: SignalStatus) -> bytes:
    """The UPER bytes of an SSEM; ValueError when a field is out of the standard's range."""
    by_intersection: dict[int, list[dict[str, Any]]] = {}
    for s in message.statuses:
        if s.status not in STATUSES or s.role not in ROLES:
            raise ValueError(f"status {s.status!r} or role {s.role!r} is not one the standard names")
        package: dict[str, Any] = {
            "requester": {
                "id": ("stationID", _check("station", s.station, 0, 4294967295)),
                "request": _check("request_id", s.request_id, 0, 255),
                "sequenceNumber": _check("sequence", s.sequence, 0, 127),
                "role": s.role,
            },
            "inboundOn": ("approach", _check("approach", s.approach, 0, 15)),
            "status": s.status,
        }
        if s.minute is not None:
            package["minute"] = _check("minute", s.minute, 0, MINUTES_PER_YEAR_MAX)
            package["second"] = _check("millisecond", s.millisecond or 0, 0, 65535)
            package["duration"] = _check("duration_ms", s.duration_ms or 0, 0, 65535)
        by_intersection.setdefault(_check("intersection", s.intersection, 0, 65535), []).append(package)
    if not 1 <= len(by_intersection) <= 32:
        raise ValueError("an SSEM answers for 1..32 intersections")
    value = {
        "header": {"protocolVersion": PROTOCOL_VERSION, "messageID": SSEM_ID,
                   "stationID": _check("station", message.station, 0, 4294967295)},
        "ssm": {
            "timeStamp": _check("minute", message.minute, 0, MINUTES_PER_YEAR_MAX),
            "second": _check("millisecond", message.millisecond, 0, 65535),
            "sequenceNumber": _check("sequence", message.sequence, 0, 127),
            "status": [
                {"sequenceNumber": message.sequence, "id": {"id": intersection}, "sigStatus": packages}
                for intersection, packages in by_intersection.items()
            ],
        },
    }
    _SSEM.set_val(value)
    return bytes(_SSEM.to_uper())


def decode_ssem(data: bytes) -> SignalStatus:
    """The SSEM in `data`; FeedError when it is not one. Answers to requestors named other than by station id
    (not ours) are left out."""
    value = _decode(_SSEM, data, SSEM_ID, "malformed_ssem")
    ssm = value["ssm"]
    statuses = []
    for signal in ssm["status"]:
        for package in signal["sigStatus"]:
            requester = package["requester"]
            kind, station = requester["id"]
            lane_kind, approach = package["inboundOn"]
            if kind != "stationID":
                continue
            statuses.append(PriorityStatus(
                signal["id"]["id"], station, requester["request"], requester["sequenceNumber"],
                requester.get("role", "emergency") if requester.get("role") in ROLES else "emergency",
                approach if lane_kind == "approach" else 0, package["status"],
                package.get("minute"), package.get("second"), package.get("duration"),
            ))
    return SignalStatus(
        value["header"]["stationID"], ssm.get("timeStamp", MINUTES_PER_YEAR_MAX), ssm["second"],
        ssm.get("sequenceNumber", 0), tuple(statuses),
    )
