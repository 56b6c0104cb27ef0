"""The rules for registering and revoking field devices (see `app.domain.devices`).

Only supervisors register and revoke devices (`authority.py`). A device's id is never reused, revoked or not,
so the log names one device by one id for ever. Its events are seen by its agency and by supervisors. This
module registers its rules into `decide`'s table when it is imported (decide imports it last).
"""

from __future__ import annotations

import math
import re

from app.domain import commands as c
from app.domain import events as ev
from app.domain.decide import _RULES, MAX_SHORT_TEXT, _Context, _text
from app.domain.devices import (
    CREDENTIALS,
    DEFAULT_RATE,
    FORMATS,
    MAX_OWNED,
    MAX_RATE,
    TRANSPORTS,
    parse_source,
    source_text,
)
from app.domain.errors import Refusal
from app.domain.events import Draft

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CALLSIGN = re.compile(r"[A-Za-z0-9_-]{1,16}")


def _callsigns(values: list[str], what: str) -> list[str]:
    cleaned = []
    for value in values:
        if not isinstance(value, str) or not _CALLSIGN.fullmatch(value):
            raise Refusal("bad_id", f"{what} {value!r} is not a callsign (1-16 letters, digits, - and _)")
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _register(cx: _Context, a: c.RegisterDevice) -> list[Draft]:
    device_id = cx.new_callsign("device", a.id, cx.picture.devices, a.agency)
    formats = sorted(set(a.formats))
    if not formats or any(f not in FORMATS for f in formats):
        raise Refusal("bad_format", f"formats must be some of {', '.join(FORMATS)}, got {a.formats}")
    if a.transport not in TRANSPORTS:
        raise Refusal("bad_transport", f"transport must be {' or '.join(TRANSPORTS)}, got {a.transport!r}")
    if a.transport == "tcp" and formats not in (["cot"], ["nmea"]):
        raise Refusal("bad_transport", "CoT or NMEA (one of them) is taken over TCP; MAVLink and KLV come over UDP")
    if a.transport == "tls" and (formats != ["cot"] or a.credential != "certificate"):
        raise Refusal("bad_transport", "TLS takes CoT from a device with credential 'certificate'")
    try:
        # A certificate's device may roam (a phone): it is found by its certificate, the address is optional.
        source = "" if a.transport == "tls" and not a.source.strip() else source_text(*parse_source(a.source))
    except ValueError:
        raise Refusal("bad_source", f"source {a.source!r} is not an IP address (optionally with :port)") from None
    if a.credential not in CREDENTIALS:
        raise Refusal("bad_credential", f"credential must be one of {', '.join(CREDENTIALS)}")
    if a.credential == "mavlink_signing" and (formats != ["mavlink"] or a.transport != "udp"):
        raise Refusal("bad_credential", "MAVLink signing is for a device sending mavlink (only) over udp")
    token, certificate = a.token_sha256.strip().lower(), a.cert_sha256.strip().lower()
    if a.credential == "token":
        if a.transport != "tcp" or formats != ["cot"]:
            raise Refusal("bad_credential", "a token is sent as the first line of a CoT TCP stream: use cot over tcp")
        if not _SHA256_HEX.fullmatch(token):
            raise Refusal("bad_credential", "token_sha256 must be the SHA-256 of the token, 64 hex digits")
    elif token:
        raise Refusal("bad_credential", "token_sha256 goes with credential 'token'")
    if a.credential == "certificate":
        if a.transport != "tls":
            raise Refusal("bad_credential", "a client certificate is presented over TLS: use transport tls")
        if not _SHA256_HEX.fullmatch(certificate):
            raise Refusal("bad_credential", "cert_sha256 must be the SHA-256 of the certificate, 64 hex digits")
    elif certificate:
        raise Refusal("bad_credential", "cert_sha256 goes with credential 'certificate'")
    units, drones = _callsigns(a.units, "unit"), _callsigns(a.drones, "drone")
    if not units and not drones:
        raise Refusal("missing_field", "a device reports for at least one unit or drone")
    if len(units) + len(drones) > MAX_OWNED:
        raise Refusal("too_many", f"a device reports for at most {MAX_OWNED} units and drones")
    for unit in units:
        known = cx.picture.units.get(unit)
        if known is not None and known.agency != a.agency:
            raise Refusal("forbidden", f"unit {unit} belongs to {known.agency}, not {a.agency}")
    for drone in drones:
        known_drone = cx.picture.drones.get(drone)
        if known_drone is not None and known_drone.agency != a.agency:
            raise Refusal("forbidden", f"drone {drone} belongs to {known_drone.agency}, not {a.agency}")
    rate = DEFAULT_RATE if a.rate is None else float(a.rate)
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        raise Refusal("bad_rate", f"rate must be above 0 and at most {MAX_RATE:.0f} records per second")
    for other in cx.picture.devices.values():
        if not other.active:
            continue
        if certificate and other.cert_sha256 == certificate:
            raise Refusal("duplicate", f"device {other.id} already holds this certificate: enroll a new one")
        if not certificate and other.transport == a.transport and other.source == source \
                and set(other.formats) & set(formats) and other.token_sha256 == token:
            raise Refusal("duplicate", f"device {other.id} already sends {'/'.join(other.formats)} over "
                                       f"{a.transport} from {source}: give a port or a token to tell them apart")
    data = {"id": device_id, "agency": a.agency, "formats": formats, "transport": a.transport, "source": source,
            "credential": a.credential, "units": units, "drones": drones, "token_sha256": token, "rate": rate,
            "label": _text(a.label, "label", MAX_SHORT_TEXT, required=False)}
    if certificate:  # only a certificate's device carries it: the other registrations' events are unchanged
        data["cert_sha256"] = certificate
    return [Draft(ev.DEVICE_REGISTERED, data, [a.agency])]


def _revoke(cx: _Context, a: c.RevokeDevice) -> list[Draft]:
    device = cx.picture.devices.get(a.id)
    if device is None:
        raise Refusal("unknown_device", f"there is no device {a.id}")
    if not device.active:
        raise Refusal("already_revoked", f"device {a.id} is already revoked")
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.DEVICE_REVOKED, {"id": device.id, "reason": reason}, [device.agency])]


_RULES.update({
    "device.register": _register,
    "device.revoke": _revoke,
})
