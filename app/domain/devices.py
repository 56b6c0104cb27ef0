"""Field devices: the registry of who may send CoT, NMEA, MAVLink and KLV into the hub, and for which units.

A field device (a TAK server or phone, a vehicle modem, an AVL box, a drone's ground link) is registered by
a supervisor (`device.register`, rules in `app.domain.device_rules`): its identity, its agency, the units and
drones it may report for, the formats and transport it uses, where it sends from, and its credential. Devices
are events in the log like everything else, so the registry is audited, hash-chained and replayed; revoking
one (`device.revoked`) cuts it off at the next datagram.

The fold handlers here are registered in `app.domain.picture`. Matching a datagram to a device is
`DeviceRegistry.match` (the gateway asks it for every input); nothing here touches a socket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from app.domain import events as ev
from app.domain.events import Event

if TYPE_CHECKING:
    from app.domain.picture import Picture

#: The field formats a device may send.
FORMATS = ("cot", "nmea", "mavlink", "klv")
#: "tls": CoT over TLS with a client certificate (TAK's streaming port, 8089).
TRANSPORTS = ("udp", "tcp", "tls")
#: How a device proves who it is. "address": its registered source address only (for MAVLink, this is
#: "unsigned"); "token": the address and, on TCP, a first line `WATCHFLOOR-TOKEN <token>` whose SHA-256 is
#: registered; "certificate": over TLS, a client certificate signed by the control room's CA whose SHA-256
#: fingerprint is registered (`watchfloor device enroll`); the address is then optional (phones roam);
#: "mavlink_signing": the address, and every MAVLink frame signed (MAVLink 2) with the drone link's own key,
#: which the hub derives from its secret (`app.hub.signing_keys`) and the log never holds.
CREDENTIALS = ("address", "token", "certificate", "mavlink_signing")
#: Units plus drones one device may report for: the cap on what a device can put on the map, and so on what
#: it can register (a device registers only the units and drones listed here). A TAK server forwarding a
#: city's whole police fleet stays under it.
MAX_OWNED = 2000
#: Records (datagrams, TCP events) per second a device may send unless registered with another rate, and the
#: most it may be registered with.
DEFAULT_RATE = 50.0
MAX_RATE = 5000.0


@dataclass(slots=True)
class Device:
    """A registered field device, as the picture holds it."""

    id: str
    agency: str
    formats: list[str]
    transport: str
    source: str  # "ip" or "ip:port" ("[v6]:port"); "" for a certificate's device: any address
    credential: str
    units: list[str] = field(default_factory=list)
    drones: list[str] = field(default_factory=list)
    token_sha256: str = ""
    cert_sha256: str = ""  # credential "certificate": SHA-256 of its certificate (DER), hex; never a key
    rate: float = DEFAULT_RATE
    label: str = ""
    registered_by: str = ""
    registered_at: float = 0.0
    revoked_at: float | None = None
    revoked_by: str = ""
    revoke_reason: str = ""

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def owns_unit(self, unit: str) -> bool:
        """Whether the device may report for (and register) this unit."""
        return unit in self.units

    def owns_drone(self, drone: str) -> bool:
        """Whether the device may report for (and register) this drone."""
        return drone in self.drones


def parse_source(text: str) -> tuple[str, int | None]:
    """A device's source address: "192.0.2.7", "192.0.2.7:5000", "::1" or "[::1]:5000" -> (ip, port or None).

    Raises ValueError for anything else (host names are not sources: what arrives carries an address).
    """
    text = text.strip()
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r} is not an address")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    ip = ipaddress.ip_address(host)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return str(ip), port


def source_text(ip: str, port: int | None) -> str:
    """The canonical text of a source address."""
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class DeviceRegistry:
    """The active devices of a picture, indexed by (format, transport, address), and by certificate for TLS,
    for the gateway's lookups."""

    def __init__(self, devices: Iterable[Device]) -> None:
        self._by_address: dict[tuple[str, str, str, int | None], list[Device]] = {}
        self._by_certificate: dict[str, Device] = {}
        for device in devices:
            if not device.active:
                continue
            if device.cert_sha256:
                self._by_certificate[device.cert_sha256] = device
                continue
            ip, port = parse_source(device.source)
            for fmt in device.formats:
                self._by_address.setdefault((fmt, device.transport, ip, port), []).append(device)

    def match(self, fmt: str, transport: str, ip: str, port: int | None,
              token_sha256: str | None = None) -> Device | None:
        """The active device that sends `fmt` over `transport` from ip:port: registered with that port first,
        else with the address alone. With `token_sha256` (a TCP stream's first line) only a device holding
        that token matches; without one, only a device registered without a token."""
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            return None
        for key in ((fmt, transport, ip, port), (fmt, transport, ip, None)):
            for device in self._by_address.get(key, ()):
                if (device.token_sha256 or None) == token_sha256:
                    return device
        return None

    def match_certificate(self, fmt: str, cert_sha256: str, ip: str, port: int | None) -> Device | None:
        """The active device whose certificate has this SHA-256 (hex) and that sends `fmt`; one registered with
        a source address must also connect from it."""
        device = self._by_certificate.get(cert_sha256)
        if device is None or fmt not in device.formats:
            return None
        if device.source:
            want_ip, want_port = parse_source(device.source)
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                return None
            if ip != want_ip or want_port not in (None, port):
                return None
        return device


# The fold replaces `p.devices` (a new dict, new Device objects) on every change instead of editing it in place,
# so a reader can tell in O(1) whether the registry changed (`devices is not last_seen`): the gateway asks for
# every datagram.


def _registered(p: Picture, e: Event) -> None:
    d = e.data
    p.devices = {**p.devices, d["id"]: Device(
        id=d["id"], agency=d["agency"], formats=list(d["formats"]), transport=d["transport"], source=d["source"],
        credential=d["credential"], units=list(d.get("units", [])), drones=list(d.get("drones", [])),
        token_sha256=d.get("token_sha256", ""), cert_sha256=d.get("cert_sha256", ""),
        rate=d.get("rate", DEFAULT_RATE), label=d.get("label", ""),
        registered_by=e.actor, registered_at=e.ts)}


def _revoked(p: Picture, e: Event) -> None:
    device = p.devices.get(e.data["id"])
    if device is not None:
        revoked = replace(device, revoked_at=e.ts, revoked_by=e.actor, revoke_reason=e.data.get("reason", ""))
        p.devices = {**p.devices, device.id: revoked}


DEVICE_HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.DEVICE_REGISTERED: _registered,
    ev.DEVICE_REVOKED: _revoked,
}
