"""Intrusion-detection figures: an attack corpus against the simulator's clean traffic. Prints; asserts nothing.

    python tests/bench/bench_ids.py [--units 2000] [--hours 1] [--victims 40] [--seed 1]

Runs in-process, through the hub's own `decide` and fold (the code that runs where positions are decided),
not over the real transports: 2,000 units for an hour over UDP/TCP would take an hour of this 2-core machine
(`bench_ids_wire.py` sends this traffic, `Shift.tick`, to a hub process, at a smaller scale). The clean traffic
is the simulator's shift (`app.sim.scenario`, deterministic per seed) as the field transports deliver it: each
agency's positions from its device (`device:SIM-TAK`, `device:SIM-MODEMS`, `device:SIM-AVL`), each fix stamped
when its burst was sent (up to 0.8 s after the tick, as the runner spreads them), received up to 50 ms later,
with GPS noise (sigma 4 m) that the simulator itself does not add.

1. Clean shift: security alerts per hour (false alarms), per rule.
2. The same shift with the attack corpus injected: `--victims` attacks of each type, each lasting 120 s from
   a random time on a unit of its own; per type the share detected (a `security.alert` naming the victim, or
   a fix or unit of the attack marked suspect, during the attack or 10 s after) and the time from the first
   malicious fix to that (p50, p95).
   What each attack does is in docs/security.md ("Intrusion detection", "Measured"); misses are listed.
3. The cost per position: `check` + `advance` alone, and the whole `unit.position` rule plus fold, from a
   device (judged) and from a signed-in feed (not judged).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import msgspec

from app.domain.agencies import Actor, Role
from app.domain.commands import COMMANDS
from app.domain.decide import decide
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.picture import Picture
from app.domain.plausibility import Fix, advance, check, limits_of
from app.sim.scenario import DISPATCH, RAW, Ref, Scenario, ScenarioConfig

EPOCH = 1_700_000_000.0
M_PER_DEG = 111_195.0
ATTACK_S = 120.0
DEVICE = {"police": "device:SIM-TAK", "fire": "device:SIM-MODEMS", "medical": "device:SIM-AVL"}
ATTACKS = ("fixed_position", "constant_offset", "random_offsets", "speed_tampering", "replay", "stale_data",
           "flooding", "sybil", "identity_clash")
FLEET = Actor("sim-fleet", Role.FEED, "*")
SUPERVISOR = Actor("sim-dispatch", Role.SUPERVISOR, "*")


def moved(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    """The point `metres` from (lat, lon) along `bearing` (radians), flat-earth (fine at these distances)."""
    return (lat + metres * math.cos(bearing) / M_PER_DEG,
            lon + metres * math.sin(bearing) / (M_PER_DEG * math.cos(math.radians(lat))))


@dataclass(slots=True)
class Attack:
    """One attack of the corpus: on `unit` from `start` (simulated seconds) for `ATTACK_S`."""

    kind: str
    unit: str
    start: float
    rng: random.Random
    began: float | None = None  # hub time of the first malicious fix
    detected: float | None = None  # hub time of the first alert naming the victim
    point: tuple[float, float] | None = None
    offset: tuple[float, float] = (0.0, 0.0)  # metres, bearing
    frozen: dict[str, Any] | None = None
    sybils: list[str] = field(default_factory=list)

    @property
    def end(self) -> float:
        return self.start + ATTACK_S


class Shift:
    """The simulator's shift fed through decide and the fold, with attacks injected."""

    def __init__(self, units: int, seed: int, attacks: list[Attack], epoch: float = EPOCH) -> None:
        self.epoch = epoch  # wall-clock time of the shift's start (simulated seconds count from it)
        config = ScenarioConfig(seed=seed, units=units, malformed_at=None, flood_at=None, duplicate_at=None)
        self.scenario = Scenario(config)
        self.picture = Picture()
        self.rng = random.Random(seed * 7919)
        self.ids: dict[str, str] = {}
        self.refused: Counter[str] = Counter()
        self.alerts: list[Event] = []
        self.positions = 0
        self.attacks = attacks
        self.active: list[Attack] = []
        self.pending = sorted(attacks, key=lambda a: a.start)
        self.history: dict[str, deque[dict[str, Any]]] = {a.unit: deque(maxlen=400) for a in attacks}
        self.agency = {u.model.id: u.model.agency for u in self.scenario.units.values()}
        self.seq = 0
        self.last_t = 0.0

    def apply(self, actor: Actor, name: str, args: dict[str, Any], now: float) -> list[Event]:
        try:
            drafts = decide(self.picture, actor, name, msgspec.convert(args, COMMANDS[name]), now)
        except Refusal as refusal:
            self.refused[f"{name}: {refusal.code}"] += 1
            return []
        events = []
        for draft in drafts:
            self.seq += 1
            event = Event(self.seq, now, actor.user, draft.kind, draft.data, draft.audience)
            self.picture.apply(event)
            events.append(event)
            if event.kind == "security.alert":
                self.alerts.append(event)
                self._credit(event.data.get("unit"), now)
            elif event.data.get("suspect"):
                # A flagged fix or unit is a detection too: one alert per rule and track a minute, every fix
                # of the attack marked.
                self._credit(event.data.get("unit") or event.data.get("id"), now)
        return events

    def _credit(self, unit: str | None, now: float) -> None:
        for attack in self.active:
            named = unit in attack.sybils if attack.kind == "sybil" else unit == attack.unit
            if named and attack.detected is None and attack.began is not None:
                attack.detected = now

    def run(self, duration_s: float) -> None:
        while self.scenario.t < duration_s:
            for received, actor, name, fix_args in self.tick():
                self.positions += 1
                self.apply(actor, name, fix_args, received)

    def tick(self) -> list[tuple[float, Actor, str, dict[str, Any]]]:
        """One step of the shift: its other commands applied here, its positions (clean, rewritten by an
        attack, or an attacker's own) returned in the order they arrive, each with its arrival time."""
        # Attacks over for 10 s by the previous step are done with (after its positions were applied).
        self.active = [a for a in self.active if a.end + 10 >= self.last_t]
        t = self.last_t = self.scenario.t
        commands = self.scenario.step()
        self._start_attacks(t)
        queue: list[tuple[float, int, Actor, str, dict[str, Any]]] = []
        order = 0
        for command in commands:
            if command.name == RAW:
                continue
            if any(isinstance(v, Ref) and v.key not in self.ids for v in command.args.values()):
                continue
            args = {k: self.ids[v.key] if isinstance(v, Ref) else v for k, v in command.args.items()}
            order += 1
            if command.name != "unit.position":
                actor = SUPERVISOR if command.channel == DISPATCH else FLEET
                events = self.apply(actor, command.name, args, self.epoch + t + order * 1e-6)
                if command.ref is not None and events:
                    self.ids[command.ref] = events[0].data["id"]
                continue
            for actor, fix_args, received in self._deliver(args, t):
                queue.append((received, order, actor, "unit.position", fix_args))
        queue += self._injected(t)
        return [(q[0], q[2], q[3], q[4]) for q in sorted(queue, key=lambda q: (q[0], q[1]))]

    def _deliver(self, args: dict[str, Any], t: float) -> list[tuple[Actor, dict[str, Any], float]]:
        """A clean fix as the field delivers it (or as an attack on its unit rewrites it)."""
        unit = args["unit"]
        sent = self.epoch + t + self.rng.uniform(0.0, 0.8)
        noise = min(abs(self.rng.gauss(0.0, 4.0)), 15.0)
        lat, lon = moved(args["lat"], args["lon"], noise, self.rng.uniform(0, 2 * math.pi))
        fix = {"unit": unit, "lat": lat, "lon": lon, "t": round(sent, 3)}
        for key in ("speed", "heading"):
            if args.get(key) is not None:
                fix[key] = args[key]
        received = sent + self.rng.uniform(0.001, 0.05)
        device = Actor(DEVICE[self.agency[unit]], Role.FEED, self.agency[unit])
        if unit in self.history:
            self.history[unit].append(dict(fix))
        for attack in self.active:
            if attack.unit == unit and attack.start <= t < attack.end:
                return self._rewrite(attack, device, fix, received)
        return [(device, fix, received)]

    def _rewrite(self, attack: Attack, device: Actor, fix: dict[str, Any], received: float
                 ) -> list[tuple[Actor, dict[str, Any], float]]:
        kind, rng = attack.kind, attack.rng
        if kind == "stale_data":
            return []  # the device sends only its stale fix now (`_injected`)
        if attack.began is None and kind in ("fixed_position", "constant_offset", "random_offsets",
                                             "speed_tampering"):
            attack.began = received
        if kind == "fixed_position":
            if attack.point is None:
                attack.point = moved(fix["lat"], fix["lon"], rng.uniform(500, 5000), rng.uniform(0, 2 * math.pi))
            fix["lat"], fix["lon"] = attack.point
        elif kind == "constant_offset":
            fix["lat"], fix["lon"] = moved(fix["lat"], fix["lon"], *attack.offset)
        elif kind == "random_offsets":
            fix["lat"], fix["lon"] = moved(fix["lat"], fix["lon"], rng.uniform(200, 1000), rng.uniform(0, 2 * math.pi))
        elif kind == "speed_tampering":
            fix["speed"] = round(rng.uniform(60, 120), 1)
        return [(device, fix, received)]

    def _start_attacks(self, t: float) -> None:
        while self.pending and self.pending[0].start <= t:
            attack = self.pending.pop(0)
            if attack.kind == "stale_data":
                # Repeating a standing unit's last fix changes nothing: the attack is on a moving unit (one no
                # other attack is on).
                others = {a.unit for a in self.attacks if a is not attack}
                moving = sorted(u.model.id for u in self.scenario.units.values()
                                if u.path is not None and u.model.id not in others)
                if moving:
                    attack.unit = attack.rng.choice(moving)
                    self.history.setdefault(attack.unit, deque(maxlen=400))
            if attack.kind == "constant_offset":
                attack.offset = (attack.rng.uniform(300, 3000), attack.rng.uniform(0, 2 * math.pi))
            self.active.append(attack)

    def _injected(self, t: float) -> list[tuple[float, int, Actor, str, dict[str, Any]]]:
        """What attackers send of their own during this tick (not rewriting the victim's device)."""
        out: list[tuple[float, int, Actor, str, dict[str, Any]]] = []
        for attack in self.active:
            if not attack.start <= t < attack.end:
                continue
            unit = self.picture.units.get(attack.unit)
            if unit is None or unit.lat is None or unit.lon is None or unit.position_at is None:
                continue
            base = self.epoch + t + attack.rng.uniform(0.0, 0.9)
            agency = self.agency[attack.unit]
            device = Actor(DEVICE[agency], Role.FEED, agency)
            if attack.kind == "replay" and int(t) % 2 == 0:
                captured = [f for f in self.history[attack.unit] if f["t"] < base - 120]
                if captured:
                    old = captured[attack.rng.randrange(len(captured))]
                    out.append((base, 0, device, "unit.position", dict(old)))
            elif attack.kind == "stale_data" and int(t) % 2 == 0:
                # The device repeats the fix it had when the attack began (speed and all), every 2 s.
                if attack.frozen is None and self.history[attack.unit]:
                    attack.frozen = dict(self.history[attack.unit][-1])
                if attack.frozen is not None:
                    out.append((base, 0, device, "unit.position", {**attack.frozen, "t": round(base, 3)}))
            elif attack.kind == "flooding":
                for k in range(20):
                    fix = {"unit": attack.unit, "lat": unit.lat, "lon": unit.lon,
                           "t": round(max(base + k * 0.05, unit.position_at + 0.001 * (k + 1)), 3)}
                    out.append((base + k * 0.05, 0, device, "unit.position", fix))
            elif attack.kind == "identity_clash" and int(t) % 2 == 0:
                if attack.point is None:
                    attack.point = moved(unit.lat, unit.lon, attack.rng.uniform(500, 5000),
                                         attack.rng.uniform(0, 2 * math.pi))
                rogue = Actor("device:ROGUE-" + attack.unit, Role.FEED, agency)
                fix = {"unit": attack.unit, "lat": attack.point[0], "lon": attack.point[1], "t": round(base, 3)}
                out.append((base, 0, rogue, "unit.position", fix))
            elif attack.kind == "sybil" and int(t) == int(attack.start):
                self._sybils(attack, unit.lat, unit.lon, base, out)
            if attack.began is None and out:
                attack.began = min(q[0] for q in out)
        return out

    def _sybils(self, attack: Attack, lat: float, lon: float, base: float,
                out: list[tuple[float, int, Actor, str, dict[str, Any]]]) -> None:
        """The victim's device, compromised, makes up 20 units near the victim (callsigns its registration
        lists but nobody uses) and reports them."""
        agency = self.agency[attack.unit]
        device = Actor(DEVICE[agency], Role.FEED, agency)
        kind = {"police": "patrol", "fire": "engine", "medical": "ambulance"}[agency]
        attack.began = base
        for k in range(20):
            callsign = f"SYB{self.attacks.index(attack)}X{k}"
            attack.sybils.append(callsign)
            self.apply(device, "unit.register", {"id": callsign, "agency": agency, "kind": kind}, base + 0.01 * k)
            point = moved(lat, lon, attack.rng.uniform(0, 80), attack.rng.uniform(0, 2 * math.pi))
            fix = {"unit": callsign, "lat": point[0], "lon": point[1], "t": round(base + 0.01 * k, 3)}
            out.append((base + 0.01 * k, 0, device, "unit.position", fix))


def corpus(units: list[str], victims: int, duration_s: float, seed: int, warmup_s: float = 900) -> list[Attack]:
    """`victims` attacks of each kind, each on a unit of its own (two attacks on one unit would blur which
    was detected), from a random time after the first `warmup_s` (15 minutes)."""
    rng = random.Random(seed)
    chosen = rng.sample(units, min(len(units), victims * len(ATTACKS)))
    attacks = []
    for i, kind in enumerate(ATTACKS):
        for unit in chosen[i * victims:(i + 1) * victims]:
            start = float(int(rng.uniform(warmup_s, duration_s - ATTACK_S - 30)))
            attacks.append(Attack(kind, unit, start, random.Random(rng.random())))
    return attacks


def clean(units: int, hours: float, seed: int) -> None:
    shift = Shift(units, seed, [])
    started = time.perf_counter()
    shift.run(hours * 3600)
    took = time.perf_counter() - started
    rules = Counter(a.data["rule"] for a in shift.alerts)
    for alert in shift.alerts[:5]:
        print("  e.g.", alert.data["unit"], alert.data["rule"], alert.data["evidence"])
    print(f"clean shift: {units} units, {hours:g} h simulated, {shift.positions} positions, "
          f"{len(shift.alerts)} security alerts = {len(shift.alerts) / hours:.2f} false alarms per hour "
          f"({dict(rules) or 'none'}); {took:.0f} s to run")
    if shift.refused:
        print(f"  refused: {dict(shift.refused)}")


def attacked(units: int, hours: float, seed: int, victims: int) -> None:
    plan = Scenario(ScenarioConfig(seed=seed, units=units))
    callsigns = sorted(plan.units)
    attacks = corpus(callsigns, victims, hours * 3600, seed + 1)
    shift = Shift(units, seed, attacks)
    shift.run(hours * 3600)
    print(f"\nattack corpus: {victims} attacks of each type, {ATTACK_S:.0f} s each, on the shift above")
    print(f"{'attack':18} {'detected':>9} {'rate':>7} {'p50 s':>7} {'p95 s':>7}  rules raised")
    for kind in ATTACKS:
        mine = [a for a in attacks if a.kind == kind]
        found = [a for a in mine if a.detected is not None and a.began is not None]
        delays = sorted(a.detected - a.began for a in found)  # type: ignore[operator]
        rules = Counter(e.data["rule"] for e in shift.alerts
                        if any(e.data.get("unit") in (a.unit, *a.sybils) and a.start <= e.ts - EPOCH <= a.end + 10
                               for a in mine))
        for miss in (a for a in mine if a.detected is None):
            print(f"  missed: {miss.unit} at {miss.start:.0f} s, began {miss.began}, offset {miss.offset}")
        p50 = f"{statistics.median(delays):7.2f}" if delays else "      -"
        p95 = f"{delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]:7.2f}" if delays else "      -"
        print(f"{kind:18} {len(found):4}/{len(mine):<4} {100 * len(found) / len(mine):6.1f}% {p50} {p95}  "
              f"{dict(rules)}")


def cost(repeat: int = 200_000) -> None:
    limits = limits_of("engine")
    track = advance(None, Fix(60.17, 24.94, EPOCH, "device:X", EPOCH, 15.0))
    fixes = [Fix(60.17 + k * 2.7e-4, 24.94, EPOCH + 2 * k, "device:X", EPOCH + 2 * k + 0.01, 15.0)
             for k in range(1, 1001)]
    started = time.perf_counter()
    for i in range(repeat):
        fix = fixes[i % 1000]
        if i % 1000 == 0:
            track = advance(None, Fix(60.17, 24.94, EPOCH, "device:X", EPOCH, 15.0))
        check(track, fix, limits)
        track = advance(track, fix)
    detection = (time.perf_counter() - started) / repeat
    whole = {kind: _rule_cost(judged) for kind, judged in (("device", True), ("signed-in feed", False))}
    print(f"\ncost per position: detection alone (check + advance) {detection * 1e6:.1f} µs; the whole "
          f"unit.position rule (convert, decide, fold) from a device, judged, {whole['device'] * 1e6:.1f} µs, "
          f"from a signed-in feed, not judged, {whole['signed-in feed'] * 1e6:.1f} µs")


def _rule_cost(judged: bool, n: int = 20_000) -> float:
    """Seconds per plausible position through the whole rule, from a device (judged) or a feed account."""
    shift = Shift(1, 1, [])
    shift.run(1)
    unit = next(iter(shift.picture.units))
    agency = shift.picture.units[unit].agency
    actor = Actor(DEVICE[agency], Role.FEED, agency) if judged else FLEET
    here = shift.picture.units[unit]
    assert here.lat is not None and here.lon is not None and here.position_at is not None
    times = [here.position_at + 2 * k for k in range(1, n + 1)]
    args = [{"unit": unit, "lat": here.lat + k * 4e-4, "lon": here.lon, "t": t, "speed": 20.0}
            for k, t in enumerate(times, 1)]  # 44 m every 2 s
    started = time.perf_counter()
    for fix, t in zip(args, times, strict=True):
        shift.apply(actor, "unit.position", fix, t + 0.01)
    assert not shift.alerts and not shift.refused
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--victims", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-clean", action="store_true")
    args = parser.parse_args()
    cost()
    if not args.skip_clean:
        clean(args.units, args.hours, args.seed)
    attacked(args.units, args.hours, args.seed, args.victims)


if __name__ == "__main__":
    main()
