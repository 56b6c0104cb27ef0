"""Intrusion detection over the real transports: bench_ids.py's attack corpus sent to a real hub process. Prints;
asserts nothing.

    python tests/bench/bench_ids_wire.py [--units 120] [--seconds 300] [--victims 4] [--rates 50 150 300]

`bench_ids.py` judges a 2,000-unit hour in-process; this sends a smaller shift in real time to a `watchfloor hub`
process on 127.0.0.1, as its devices would: the police units' positions over CoT over TLS from one TAK device with
a certificate from `watchfloor device enroll`, the fire units' over CoT UDP from their modems' device, the
ambulances' as NMEA over UDP from the AVL device (all registered, as a supervisor would). The traffic is
bench_ids.py's (`Shift.tick`: the simulator's shift with GPS noise, and the attack corpus rewriting a victim's
own fixes or adding an attacker's), played at wall-clock time; an identity clash comes from a second registered
device on its own UDP port, Sybil units from the victim's own device (its registration lists them). The same
fixes are also judged in-process, for comparison ("in-process" column).

1. Per attack type: injected, detected (a `security.alert` naming the victim, or a fix or unit of the attack
   logged as suspect, from the first malicious fix to 10 s after the attack), the rate, and the time to detect
   (hub's event time - the first malicious fix's send time; p50, p90), read from the hub's log (`LogReader`).
   "refused": attacks not detected whose fixes the hub quarantined instead (never on the map). A Sybil attack
   through an AVL box, which cannot create units over NMEA, is turned away as `unknown_unit` and detected by the
   device's `sybil` alert, which names no unit: it counts by the made-up ids its evidence quotes.
   False alarms: alerts on units no attack touched, per hour, at this run's scale.
2. The hub's cost per accepted position: CPU seconds of the hub process (/proc/<pid>/stat utime + stime) over the
   time it takes a burst of positions at each rate, per position it logged, for authenticated CoT over TLS and
   plain CoT over UDP, on a fresh hub, with the 1-minute load average beside each figure (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.devices import MAX_RATE
from app.feeds.cot import encode_position
from app.feeds.nmea import encode_device_id, encode_gga, encode_rmc
from app.hub.bench import cpu_seconds
from app.store.log import LogReader
from tests.bench.bench_ids import ATTACK_S, ATTACKS, Attack, Shift, corpus
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.devices import register_device
from tests.integration.test_tak_tls import tak_client
from tests.integration.test_tls import watchfloor
from tests.integration.waiting import signed_in

#: The TAK team colour each agency's CoT carries (the hub reads a CoT sender's agency from it).
GROUP = {"police": "Blue", "fire": "Red", "medical": "White"}
SYBILS = 20  # units each Sybil attack makes up (bench_ids.Shift._sybils)
GRACE_S = 10.0


@dataclass
class FieldHub:
    """A hub process with CoT TLS, CoT UDP and NMEA UDP ports, and the CA its TAK devices' certificates are from."""

    hub: HubProcess
    work: Path
    tls_port: int
    cot_udp: int
    nmea: int

    @property
    def tls(self) -> Path:
        return self.work / "tls"


def start_hub(work: Path, avl: dict[str, str]) -> FieldHub:
    """`watchfloor cert` (CA, hub certificate), accounts, and a hub listening on every field port; `avl` is the
    NMEA device map (AVL box -> callsign)."""
    work.mkdir(parents=True, exist_ok=True)
    tls = work / "tls"
    for args in (["ca", "--dir", str(tls)], ["hub", "--dir", str(tls), "--ip", "127.0.0.1"]):
        made = watchfloor("cert", *args)
        if made.returncode != 0:
            raise SystemExit(made.stderr)
    db = work / "hub.db"
    make_accounts(db)
    devices = work / "nmea-devices.json"
    devices.write_text(json.dumps({"devices": avl}))
    ports = FieldHub(HubProcess(db, free_port()), work, free_port(), free_port(), free_port())
    ports.hub.extra = ["--cot-tls-port", str(ports.tls_port), "--ca-dir", str(tls), "--cot-udp-port",
                       str(ports.cot_udp), "--nmea-port", str(ports.nmea), "--nmea-devices", str(devices)]
    ports.hub.start()
    return ports


def enroll(field_hub: FieldHub, device: str, agency: str, units: Iterable[str]) -> Path:
    """`watchfloor device enroll`: the device's TAK data package (its certificate, the trust store, the server)."""
    password = field_hub.work / "super1.pw"
    password.write_text(PASSWORD + "\n")
    package = field_hub.work / f"{device}.zip"
    done = watchfloor("device", "enroll", device, "--agency", agency, "--units", ",".join(units), "--ca-dir",
                      str(field_hub.tls), "--tak-port", str(field_hub.tls_port), "--hub", field_hub.hub.url,
                      "--user", "super1", "--password-file", str(password), "--out", str(package),
                      "--rate", str(MAX_RATE))
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return package


class Radio:
    """A UDP sender on a port of its own (a device registered by address and port)."""

    def __init__(self, port: int) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.source = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.port = port

    def send(self, data: bytes) -> None:
        self.socket.sendto(data, ("127.0.0.1", self.port))


class TakStream:
    """pytak's TLS client from a device's data package; what the hub serves it is read and dropped."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.served = asyncio.get_running_loop().create_task(self._drop(reader))

    @classmethod
    async def open(cls, package: Path) -> TakStream:
        return cls(*await tak_client(package))

    @staticmethod
    async def _drop(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while await reader.read(1 << 16):
                pass

    async def close(self) -> None:
        self.served.cancel()
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def cot(unit: str, agency: str, fix: dict[str, Any]) -> bytes:
    return encode_position(f"watchfloor-sim-{unit}", fix["lat"], fix["lon"], callsign=unit, group=GROUP[agency],
                           time=datetime.fromtimestamp(fix["t"], UTC), course=fix.get("heading"),
                           speed=fix.get("speed"))


def nmea(unit: str, fix: dict[str, Any]) -> bytes:
    when = datetime.fromtimestamp(fix["t"], UTC)
    return "\r\n".join((encode_device_id(f"AVL-{unit}"),
                        encode_rmc(when, fix["lat"], fix["lon"], speed_mps=fix.get("speed"),
                                   course_deg=fix.get("heading")),
                        encode_gga(when, fix["lat"], fix["lon"]))).encode() + b"\r\n"


@dataclass
class Field:
    """The shift's devices on the wire: which transport each of bench_ids' device actors sends over."""

    agency: dict[str, str]
    tak: TakStream
    modems: Radio
    avl: Radio
    rogues: dict[str, Radio] = field(default_factory=dict)  # victim unit -> the clashing device's radio
    sent: Counter[str] = field(default_factory=Counter)

    def send(self, actor: str, fix: dict[str, Any]) -> None:
        unit = fix["unit"]
        agency = self.agency.get(unit) or self._sybil_agency(actor)
        if actor.startswith("device:ROGUE-"):
            self.rogues[actor.removeprefix("device:ROGUE-")].send(cot(unit, agency, fix))
            self.sent["rogue cot/udp"] += 1
        elif actor == "device:SIM-TAK":
            self.tak.writer.write(cot(unit, agency, fix))
            self.sent["cot/tls"] += 1
        elif actor == "device:SIM-MODEMS":
            self.modems.send(cot(unit, agency, fix))
            self.sent["cot/udp"] += 1
        elif actor == "device:SIM-AVL":
            self.avl.send(nmea(unit, fix))
            self.sent["nmea/udp"] += 1
        else:
            raise ValueError(f"no transport for {actor}")

    @staticmethod
    def _sybil_agency(actor: str) -> str:
        return {"device:SIM-TAK": "police", "device:SIM-MODEMS": "fire", "device:SIM-AVL": "medical"}[actor]


def sybil_names(attacks: list[Attack]) -> dict[str, list[str]]:
    """Victim -> the callsigns its Sybil attack will make up (as `Shift._sybils` names them)."""
    return {a.unit: [f"SYB{i}X{k}" for k in range(SYBILS)] for i, a in enumerate(attacks) if a.kind == "sybil"}


async def register(field_hub: FieldHub, shift: Shift, attacks: list[Attack]) -> Field:
    """Register the shift's units (kind and all, as a CAD interface would) and its devices (the police TAK device
    by enrolment), each for its agency's units and the Sybil callsigns an attack on one of them makes up; a device
    per identity-clash attack for its victim."""
    by_agency: dict[str, list[str]] = {}
    for unit, agency in shift.agency.items():
        by_agency.setdefault(agency, []).append(unit)
    for victim, names in sybil_names(attacks).items():
        by_agency[shift.agency[victim]] += names
    package = enroll(field_hub, "SIM-TAK", "police", by_agency["police"])
    modems, avl = Radio(field_hub.cot_udp), Radio(field_hub.nmea)
    wire = Field(shift.agency, await TakStream.open(package), modems, avl)
    async with signed_in(field_hub.hub.url, "super1", "feed1") as (boss, fleet):
        for sim in shift.scenario.units.values():  # as the CAD interface does (`watchfloor sim` too)
            await fleet.call("unit.register", {"id": sim.model.id, "agency": sim.model.agency,
                                               "kind": sim.model.kind}, 10)
        await register_device(boss, "SIM-MODEMS", "fire", ["cot"], "udp", modems.source, units=by_agency["fire"],
                              rate=MAX_RATE)
        await register_device(boss, "SIM-AVL", "medical", ["nmea"], "udp", avl.source,
                              units=by_agency["medical"], rate=MAX_RATE)
        for i, attack in enumerate(a for a in attacks if a.kind == "identity_clash"):
            rogue = Radio(field_hub.cot_udp)
            await register_device(boss, f"ROGUE-{i}", shift.agency[attack.unit], ["cot"], "udp", rogue.source,
                                  units=[attack.unit], rate=MAX_RATE)
            wire.rogues[attack.unit] = rogue
    return wire


async def play(shift: Shift, wire: Field, seconds: float) -> float:
    """Send the shift in real time; each fix is also judged in-process. Returns the largest send lag (s)."""
    lag = 0.0
    while shift.scenario.t < seconds:
        ahead = shift.epoch + shift.scenario.t - time.time()
        if ahead > 0:
            await asyncio.sleep(ahead)
        for received, actor, name, fix in shift.tick():
            ahead = received - time.time()
            if ahead > 0.005:
                await asyncio.sleep(ahead)
            lag = max(lag, -ahead)
            wire.send(actor.user, fix)
            shift.positions += 1
            shift.apply(actor, name, fix, received)
        await wire.tak.writer.drain()
    return lag


def logged(db: Path, kinds: tuple[str, ...]) -> list[Any]:
    reader = LogReader(db)
    try:
        return list(reader.iter_events(kinds=kinds))
    finally:
        reader.close()


def named(event: Any) -> list[str]:
    """The units an alert or a suspect fix or unit names: its unit (a fix's `unit`, a registration's `id`), or
    for an alert on a device that made up units it could not create (rule `sybil`, no unit) the ids its evidence
    quotes."""
    unit = event.data.get("unit") or (event.data.get("id") if event.kind == "unit.registered" else None)
    if unit:
        return [unit]
    return list(event.data.get("evidence", {}).get("examples", []))


def quarantine_rows(db: Path) -> list[dict[str, Any]]:
    reader = LogReader(db)
    try:
        return reader.quarantined(limit=100_000)
    finally:
        reader.close()


def quarantined(db: Path) -> Counter[str]:
    """What the hub quarantined, by feed and code (repeats counted)."""
    counts: Counter[str] = Counter()
    for row in quarantine_rows(db):
        counts[f"{row['feed']}: {row['code']}"] += row["repeats"]
    return counts


async def settled(count: Callable[[], int], quiet_s: float = 2.0, timeout: float = 60.0) -> int:
    """`count()` once it has stopped growing for `quiet_s` (the hub has taken in what was sent)."""
    loop = asyncio.get_running_loop()
    deadline, last, since = loop.time() + timeout, -1, loop.time()
    while loop.time() < deadline:
        now = count()
        if now != last:
            last, since = now, loop.time()
        elif loop.time() - since >= quiet_s:
            break
        await asyncio.sleep(0.25)
    return last


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, round(q * (len(values) - 1)))]


async def detection(args: argparse.Namespace, work: Path) -> None:
    epoch = time.time() + 30  # the shift starts once the hub is up and the devices registered
    plan = Shift(args.units, args.seed, [], epoch)
    attacks = corpus(sorted(plan.scenario.units), args.victims, args.seconds, args.seed + 1, args.warmup)
    shift = Shift(args.units, args.seed, attacks, epoch)
    avl = {f"AVL-{u}": u for u, a in shift.agency.items() if a == "medical"}
    for victim, names in sybil_names(attacks).items():
        if shift.agency[victim] == "medical":
            avl.update({f"AVL-{n}": n for n in names})
    field_hub = start_hub(work, avl)
    try:
        wire = await register(field_hub, shift, attacks)
        if time.time() > epoch:
            raise SystemExit("setting up took longer than 30 s")
        lag = await play(shift, wire, args.seconds)
        await wire.tak.close()
        db = field_hub.hub.db
        await settled(lambda: len(logged(db, ("unit.position", "security.alert"))))
        findings = [(e.ts, name, e.data.get("rule", "suspect fix"))
                    for e in logged(db, ("security.alert", "unit.position", "unit.registered"))
                    if e.kind == "security.alert" or e.data.get("suspect") for name in named(e)]
        alerts = logged(db, ("security.alert",))
        accepted = len(logged(db, ("unit.position",)))
        refused = quarantined(db)
        raws = [bytes(r["raw"] or b"") + r["reason"].encode() for r in quarantine_rows(db)]  # reason names the unit
    finally:
        field_hub.hub.stop()
        field_hub.hub.kill()
    load = os.getloadavg()
    print(f"shift over the wire: {args.units} units, {args.seconds:.0f} s in real time, "
          f"{shift.positions} positions sent ({dict(wire.sent)}), {accepted} logged, largest send lag {lag:.2f} s, "
          f"load average {load[0]:.2f} {load[1]:.2f}")
    if refused:
        print(f"  quarantined by the hub: {dict(refused)}")
    print(f"attack corpus: {args.victims} attacks of each type, {ATTACK_S:.0f} s each, from "
          f"{args.warmup:.0f} s on; detected = an alert naming the victim or a suspect fix of the attack "
          f"within its time + {GRACE_S:.0f} s")
    print(f"{'attack':16} {'injected':>8} {'detected':>8} {'rate':>7} {'p50 s':>7} {'p90 s':>7} "
          f"{'refused':>7} {'in-process':>10}  rules raised")
    touched: set[str] = set()
    for kind in ATTACKS:
        mine = [a for a in attacks if a.kind == kind]
        delays, rules, turned_away = [], Counter[str](), 0
        for attack in mine:
            victims = set(attack.sybils) if kind == "sybil" else {attack.unit}
            touched |= victims | {attack.unit}
            if attack.began is None:
                continue
            hits = [(ts, rule) for ts, unit, rule in findings
                    if unit in victims and attack.began <= ts <= epoch + attack.end + GRACE_S]
            rules.update(rule for _, rule in hits if rule != "suspect fix")
            if hits:
                delays.append(min(ts for ts, _ in hits) - attack.began)
            elif any(name.encode() in raw for name in victims for raw in raws):
                turned_away += 1  # not detected, but its fixes were quarantined: never on the map
        injected = sum(a.began is not None for a in mine)
        inproc = sum(a.detected is not None for a in mine)
        p50 = f"{statistics.median(delays):7.2f}" if delays else "      -"
        p90 = f"{percentile(delays, 0.9):7.2f}" if delays else "      -"
        rate = 100 * len(delays) / injected if injected else 0.0
        print(f"{kind:16} {injected:8} {len(delays):8} {rate:6.1f}% {p50} {p90} {turned_away:7} "
              f"{inproc:6}/{len(mine):<3}  "
              f"{dict(rules)}")
    clean = [a for a in alerts if not set(named(a)) & touched]
    hours = args.seconds / 3600
    print(f"false alarms: {len(clean)} alerts on the {args.units - len(touched & set(shift.agency))} units no "
          f"attack touched in {args.seconds:.0f} s = {len(clean) / hours:.1f} per hour at this scale "
          f"({dict(Counter(a.data['rule'] for a in clean)) or 'none'}); in-process on the same fixes: "
          f"{sum(1 for a in shift.alerts if a.data.get('unit') not in touched)}")


async def cost(args: argparse.Namespace, work: Path) -> None:
    """CPU seconds of the hub per position it logged, CoT over TLS (enrolled device) beside plain CoT over UDP.
    The units are the devices' own (made on their first fix); the TLS device is served its agency's picture, as a
    TAK device is, so its figure includes that."""
    units = args.cost_units
    police = [f"P{k:04d}" for k in range(units)]
    fire = [f"E{k:04d}" for k in range(units)]
    field_hub = start_hub(work, {})
    pid = field_hub.hub.proc.pid if field_hub.hub.proc is not None else 0
    db = field_hub.hub.db
    try:
        tak = await TakStream.open(enroll(field_hub, "COST-TLS", "police", police))
        modems = Radio(field_hub.cot_udp)
        async with signed_in(field_hub.hub.url, "super1") as (boss,):
            await register_device(boss, "COST-UDP", "fire", ["cot"], "udp", modems.source, units=fire,
                                  rate=MAX_RATE)
        senders: dict[str, tuple[list[str], str, Callable[[bytes], None]]] = {
            "CoT over TLS (authenticated)": (police, "police", tak.writer.write),
            "CoT over UDP (plain)": (fire, "fire", modems.send)}
        positions = lambda: len(logged(db, ("unit.position",)))  # noqa: E731
        step = {name: 0 for name in senders}

        async def burst(name: str, rate: float, seconds: float) -> int:
            """`rate` positions a second over `name` for `seconds`, round the units, each 5 m north of its last."""
            callsigns, agency, write = senders[name]
            start, sent = time.time(), 0
            while (now := time.time()) - start < seconds:
                due = int((now - start) * rate) + 1
                for k in range(sent, due):
                    unit = callsigns[k % len(callsigns)]
                    step[name] += 1
                    fix = {"lat": 60.17 + 4.5e-5 * (step[name] // len(callsigns)),
                           "lon": 24.90 + 1e-4 * (k % len(callsigns)), "t": round(time.time(), 3)}
                    write(cot(unit, agency, fix))
                sent = due
                await tak.writer.drain()
                await asyncio.sleep(0.02)
            return sent

        for name, (callsigns, _, _) in senders.items():  # every unit exists before the measurement
            await burst(name, len(callsigns), 1.0)
        await settled(positions)
        idle0, at0 = cpu_seconds(pid) or 0.0, time.monotonic()
        await asyncio.sleep(3)
        idle = ((cpu_seconds(pid) or 0.0) - idle0) / (time.monotonic() - at0)
        print(f"\nhub CPU per accepted position ({units} units per transport, {args.cost_seconds:.0f} s per "
              f"rate; the hub idles at {100 * idle:.1f}% of a core, not subtracted)")
        print(f"{'transport':30} {'rate/s':>7} {'sent':>6} {'logged':>7} {'CPU s':>7} {'CPU ms/pos':>10} "
              f"{'load 1m':>8}")
        for rate in args.rates:
            for name in senders:
                before, cpu0 = await settled(positions, quiet_s=1.0), cpu_seconds(pid) or 0.0
                sent = await burst(name, rate, args.cost_seconds)
                accepted = await settled(positions, quiet_s=1.0) - before
                used = (cpu_seconds(pid) or 0.0) - cpu0
                print(f"{name:30} {rate:7.0f} {sent:6} {accepted:7} {used:7.2f} "
                      f"{1000 * used / max(accepted, 1):10.3f} {os.getloadavg()[0]:8.2f}")
        await tak.close()
    finally:
        field_hub.hub.stop()
        field_hub.hub.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=300.0, help="the shift's length, played in real time")
    parser.add_argument("--warmup", type=float, default=140.0,
                        help="attacks start after this (a replay needs fixes over 120 s old)")
    parser.add_argument("--victims", type=int, default=4, help="attacks of each type")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 150.0, 300.0])
    parser.add_argument("--cost-units", type=int, default=100)
    parser.add_argument("--cost-seconds", type=float, default=8.0)
    parser.add_argument("--skip-detection", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    args = parser.parse_args()
    if args.seconds < args.warmup + ATTACK_S + 31:
        parser.error("--seconds must leave room for the warm-up, an attack and 30 s")
    with tempfile.TemporaryDirectory(prefix="bench-ids-wire-") as tmp:
        if not args.skip_detection:
            asyncio.run(detection(args, Path(tmp) / "shift"))
        if not args.skip_cost:
            asyncio.run(cost(args, Path(tmp) / "cost"))


if __name__ == "__main__":
    main()
