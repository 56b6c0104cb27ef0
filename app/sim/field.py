"""The fleet's field devices: each unit reports its position the way its agency's devices would.

* Police cars carry TAK (ATAK on a rugged phone); the police TAK server forwards their Cursor-on-Target
  position events to the hub over one persistent TCP stream (the hub's CoT port).
* Fire apparatus broadcast CoT over UDP from their vehicle modems, one datagram per event.
* Ambulances and medic cars have AVL boxes that send NMEA 0183 over UDP: per fix a datagram holding
  ``$PWFID,<device>`` (the box names itself), ``$GPRMC`` and ``$GPGGA``. The hub maps device ids to
  callsigns with its device map (`watchfloor hub --nmea-devices`, written by `watchfloor sim
  --print-nmea-devices`); an AVL box's device id is ``AVL-<callsign>``.

Every report carries the time of its fix. Units are registered (with their kind) and change status over
the websocket, as a CAD interface would; only positions go over these transports. Over UDP nothing is
acknowledged: a datagram the hub cannot take in time is lost, as it would be in the field.

The hub hears only registered devices, so the simulator registers its three (`field_devices`: the police TAK
server, the fire modems, the EMS AVL boxes, each for its agency's units, from the address its sockets send
from) through a supervisor account before the first report (`register_field_devices`), as a site's
supervisor would with `watchfloor device add`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.client.connection import HubClient
from app.domain.devices import MAX_RATE
from app.feeds.cot import encode_position
from app.feeds.cot_meaning import GROUP_AGENCY
from app.feeds.nmea import DeviceMap, encode_device_id, encode_gga, encode_rmc
from app.sim.fleet import UnitPlan, plan_fleet
from app.sim.map import FallbackMap

#: The transports, named as the gateway's ports are (`FeedGateway.ports`).
COT_TCP, COT_UDP, NMEA = "cot_tcp", "cot_udp", "nmea"
#: Agency -> the transport its units' devices report through.
TRANSPORT = {"police": COT_TCP, "fire": COT_UDP, "medical": NMEA}
#: Agency -> the TAK team colour its CoT carries (the gateway reads the agency from it).
TEAM = {agency: next(colour.title() for colour, a in GROUP_AGENCY.items() if a == agency)
        for agency in ("police", "fire")}
#: Transport -> (device id prefix, format, transport the registry names) of the simulator's field devices.
DEVICES = {COT_TCP: ("SIM-TAK", "cot", "tcp"), COT_UDP: ("SIM-MODEMS", "cot", "udp"), NMEA: ("SIM-AVL", "nmea", "udp")}
#: When the scenario's deliberately broken field reports say they were taken (any fixed time will do).
_BROKEN_AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedPorts:
    """Where the hub's feed gateway listens."""

    host: str
    cot_tcp: int
    cot_udp: int
    nmea: int

    @classmethod
    def of_gateway(cls, host: str, ports: Mapping[str, int]) -> FeedPorts:
        """From the ports `Hub.start_feeds` returns (CoT TCP and UDP, NMEA must all be open)."""
        return cls(host, ports[COT_TCP], ports[COT_UDP], ports[NMEA])


def avl_device(unit: str) -> str:
    """The device id of a unit's AVL box."""
    return f"AVL-{unit}"


def avl_device_map(fleet: Iterable[UnitPlan]) -> dict[str, str]:
    """Device id -> callsign for every unit of `fleet` that reports over NMEA (the hub's device map)."""
    return {avl_device(p.id): p.id for p in fleet if TRANSPORT.get(p.agency) == NMEA}


def gateway_options(units: int) -> dict[str, Any]:
    """`Hub.start_feeds` options for a fleet of `units` in the field: every listener (drones' MAVLink too) on a
    free port, and the fleet's AVL boxes in the device map."""
    devices = DeviceMap(avl_device_map(plan_fleet(units, FallbackMap())))  # callsigns do not depend on the city
    return {"cot_port": 0, "cot_udp_port": 0, "nmea_port": 0, "mavlink_port": 0, "device_map": devices}


def broken_reports(fleet: Iterable[UnitPlan]) -> list[tuple[str, str]]:
    """(transport, frame) pairs the gateway must quarantine: a CoT event cut short, a CoT event with an
    entity-expansion DTD ("billion laughs"), and an AVL sentence whose checksum a noisy line spoilt."""
    plans = list(fleet)
    engine = next((p.id for p in plans if p.agency == "fire"), "E11")
    ambulance = next((p.id for p in plans if p.agency == "medical"), "M11")
    event = encode_position(f"watchfloor-sim-{engine}", 60.17, 24.94, callsign=engine, group=TEAM["fire"],
                            time=_BROKEN_AT).decode()
    laughs = ('<?xml version="1.0"?><!DOCTYPE event [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
              '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>' + event.split("\n", 1)[1].replace(
                  "<detail>", "<detail><remarks>&lol3;</remarks>"))
    rmc = encode_rmc(_BROKEN_AT, 60.17, 24.94)
    noisy = rmc[:-2] + ("00" if rmc[-2:] != "00" else "01")
    return [(COT_UDP, event[: len(event) // 2]), (COT_UDP, laughs),
            (NMEA, f"{encode_device_id(avl_device(ambulance))}\r\n{noisy}\r\n")]


def field_devices(agencies: Mapping[str, str], source: str) -> list[dict[str, Any]]:
    """`device.register` arguments (without the id's number) of the devices the units of `agencies` report
    through, sending from the address `source`. The simulator's load is not a field's: the highest rate."""
    units: dict[str, list[str]] = {}
    for unit, agency in agencies.items():
        if agency in TRANSPORT:
            units.setdefault(TRANSPORT[agency], []).append(unit)
    devices = []
    for transport, callsigns in units.items():
        prefix, fmt, carried = DEVICES[transport]
        agency = next(a for a, t in TRANSPORT.items() if t == transport)
        devices.append({"id": prefix, "agency": agency, "formats": [fmt], "transport": carried, "source": source,
                        "units": sorted(callsigns), "rate": MAX_RATE, "label": f"watchfloor sim: {agency} {fmt}"})
    return devices


async def register_field_devices(supervisor: HubClient, devices: Iterable[Mapping[str, Any]]) -> list[str]:
    """Register `devices` (`field_devices`' form) through a signed-in, subscribed supervisor: an active device
    with the same prefix, format, transport and source that already reports for all their units is reused;
    one that does not is revoked and a new one (`<prefix>-<n>`) registered. Returns the ids in use."""
    used = []
    for wanted in devices:
        prefix = wanted["id"]
        mine = [d for d in supervisor.picture.devices.values() if d.id.startswith(f"{prefix}-")]
        current = [d for d in mine if d.active and d.source == wanted["source"]
                   and d.formats == wanted["formats"] and d.transport == wanted["transport"]]
        keep = next((d for d in current if set(wanted["units"]) <= set(d.units)
                     and set(wanted.get("drones", ())) <= set(d.drones)), None)
        if keep is not None:
            used.append(keep.id)
            continue
        for old in current:
            await supervisor.call("device.revoke", {"id": old.id, "reason": "replaced by the simulator's new fleet"})
        device_id = f"{prefix}-{len(mine) + 1}"
        await supervisor.call("device.register", {**wanted, "id": device_id})
        used.append(device_id)
    return used


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, name: str, errors: Counter[str]) -> None:
        self.name = name
        self.errors = errors

    def error_received(self, exc: Exception) -> None:
        # On loopback a closed port answers with ICMP: the next send reports it. Count, do not stop.
        self.errors[f"{self.name}: {type(exc).__name__}"] += 1


class FieldRadios:
    """The fleet's devices, connected to the hub's feed gateway: `await open()`, `report(...)`, `await close()`.

    `agencies` maps each unit to its agency, which picks its transport. `errors` counts what could not be
    sent (by transport and cause).
    """

    def __init__(self, ports: FeedPorts, agencies: Mapping[str, str]) -> None:
        self.ports = ports
        self.agencies = dict(agencies)
        self.errors: Counter[str] = Counter()
        self._tak: asyncio.StreamWriter | None = None
        self._served: asyncio.Task[None] | None = None  # reads what the hub serves the TAK device, and drops it
        self._udp: dict[str, asyncio.DatagramTransport] = {}

    async def open(self, timeout: float = 30.0) -> None:
        """Connect the police TAK stream and open the UDP senders; ConnectionError if the hub is not there."""
        loop = asyncio.get_running_loop()
        try:
            tak_in, self._tak = await asyncio.wait_for(
                asyncio.open_connection(self.ports.host, self.ports.cot_tcp), timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach the hub's CoT port {self.ports.host}:{self.ports.cot_tcp}: "
                                  f"{exc}") from None
        # The hub serves a TAK device its agency's picture: read it, so the hub's side never fills and the
        # stream ends cleanly (a close with unread data resets it, losing reports not yet delivered).
        self._served = loop.create_task(_drop_all(tak_in))
        for name, port in ((COT_UDP, self.ports.cot_udp), (NMEA, self.ports.nmea)):
            transport, _ = await loop.create_datagram_endpoint(lambda n=name: _Datagrams(n, self.errors),
                                                               remote_addr=(self.ports.host, port))
            self._udp[name] = transport

    def source(self) -> str:
        """The address the devices send from, as the hub sees it on this route (after `open`)."""
        assert self._tak is not None
        return str(self._tak.get_extra_info("sockname")[0])

    def report(self, unit: str, args: Mapping[str, Any], fix: datetime) -> str | None:
        """Send one position (`unit.position` args) taken at `fix`; the transport used, None if not sent."""
        transport = TRANSPORT.get(self.agencies.get(unit, ""))
        lat, lon, speed, heading = args["lat"], args["lon"], args.get("speed"), args.get("heading")
        if transport == NMEA:
            frame = "\r\n".join((encode_device_id(avl_device(unit)),
                                 encode_rmc(fix, lat, lon, speed_mps=speed, course_deg=heading),
                                 encode_gga(fix, lat, lon))) + "\r\n"
        elif transport in (COT_TCP, COT_UDP):
            # A track needs a course: a unit that has not moved yet reports none.
            frame = encode_position(f"watchfloor-sim-{unit}", lat, lon, callsign=unit,
                                    group=TEAM[self.agencies[unit]], time=fix, course=heading,
                                    speed=speed if heading is not None else None).decode()
        else:
            self.errors[f"unit.position ({unit}: no field device)"] += 1
            return None
        return transport if self.send_raw(transport, frame) else None

    def send_raw(self, transport: str, frame: str) -> bool:
        """Send `frame` as it is over `transport`; False when it could not be sent."""
        data = frame.encode()
        if transport == COT_TCP:
            if self._tak is None or self._tak.is_closing():
                self.errors[f"{COT_TCP}: stream closed"] += 1
                return False
            self._tak.write(data)
            return True
        sender = self._udp.get(transport)
        if sender is None or sender.is_closing():
            self.errors[f"{transport}: closed"] += 1
            return False
        sender.sendto(data)
        return True

    async def drain(self) -> None:
        """Wait until the TAK stream's buffer is flushed (TCP's back-pressure; UDP has none)."""
        if self._tak is None or self._tak.is_closing():
            return
        try:
            await self._tak.drain()
        except ConnectionError as exc:
            self.errors[f"{COT_TCP}: {type(exc).__name__}"] += 1
            self._tak.close()

    async def close(self) -> None:
        """Flush and close every transport."""
        await self.drain()
        for sender in self._udp.values():
            sender.close()
        if self._tak is not None:
            if self._served is not None and not self._tak.is_closing():
                with contextlib.suppress(ConnectionError, TimeoutError):
                    self._tak.write_eof()  # the end of our reports; the hub closes its side when it has read them
                    await asyncio.wait_for(asyncio.shield(self._served), 10)
            if self._served is not None:
                self._served.cancel()
            self._tak.close()
            with contextlib.suppress(ConnectionError):
                await self._tak.wait_closed()


async def _drop_all(reader: asyncio.StreamReader) -> None:
    """Read a stream to its end, keeping nothing."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(1 << 16):
            pass


def fix_time(ms: int) -> datetime:
    """A fix time from milliseconds since the epoch, exact to the millisecond (no float rounding)."""
    return datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)
