"""The scenario engine: a shift of calls, dispatches and driving, played on a simulated clock.

Everything is decided here, from one `random.Random(seed)` and the scenario's own state, one simulated second
(a tick) at a time; nothing reads the wall clock or waits for the hub. So the same seed gives the same commands
however fast the shift is played and however the network jitters, and `Scenario.script()` computes them
offline. `app.sim.runner` plays the commands against a hub.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.recommend import recommend
from app.sim import calls
from app.sim.field import broken_reports
from app.sim.fleet import UnitPlan, plan_fleet
from app.sim.map import FallbackMap, Map, nearest
from app.sim.motion import EMERGENCY_SPEED_MS, URBAN_SPEED_MS, Path

#: Simulated seconds per tick.
TICK_S = 1.0

#: Channels a command goes out on: the fleet's feed account, the dispatchers' supervisor account.
FLEET, DISPATCH = "fleet", "dispatch"
#: The name of a raw (possibly malformed) frame sent on the fleet connection.
RAW = "raw"


@dataclass(frozen=True, slots=True)
class Ref:
    """An id the hub assigns (an incident, an alert) to something an earlier command of the scenario made.

    The runner replaces it with the hub's id; scripts keep it, so they do not depend on the hub's numbering.
    """

    key: str

    def __str__(self) -> str:
        return f"@{self.key}"


@dataclass(frozen=True, slots=True)
class SimCommand:
    """One thing the scenario does at simulated time `t`.

    `report` marks fire-and-forget position reports; `ref` names what the command creates, for later `Ref`s.
    A `raw` command sends `args["frame"]` as it is: on the fleet's websocket, or over the field transport
    `args["feed"]` (`app.sim.field`) when it names one.
    """

    t: float
    channel: str
    name: str
    args: dict[str, Any]
    ref: str | None = None
    report: bool = False

    def line(self) -> str:
        """A stable one-line text form (for logs, diffs and determinism checks)."""
        args = json.dumps(self.args, sort_keys=True, default=str, ensure_ascii=False)
        return f"{self.t:.0f} {self.channel} {self.name} {args}" + (f" ->{self.ref}" if self.ref else "")


#: When `watchfloor sim --attack` (and the demo) send the first spoofed fix, simulated seconds.
ATTACK_AT = 30.0


@dataclass(slots=True)
class ScenarioConfig:
    """What kind of shift to play. Times are simulated seconds from the start; None turns an event off."""

    seed: int = 1
    units: int = 40
    calls_per_hour: float = 12.0
    #: A first call soon after the start, so a demo has something to show at once.
    first_call_at: float | None = 20.0
    #: Position report interval of a moving unit, and of a standing one (a heartbeat).
    position_every: float = 2.0
    idle_position_every: float = 60.0
    #: Patrol cars drive around between calls.
    roam: bool = True
    malformed_at: float | None = 120.0
    flood_at: float | None = 300.0
    flood_lasts: float = 3600.0
    duplicate_at: float | None = 420.0
    #: An attack for intrusion detection to find: at this time, and every `spoof_every` after, a standing
    #: unit's device sends one spoofed fix 5 km from where the unit is (a teleport). Off by default;
    #: `watchfloor sim --attack` and the demo turn it on. Over the field transports it raises a
    #: `security.alert` (from the websocket it is a trusted account's fix, not judged).
    spoof_at: float | None = None
    spoof_every: float = 900.0
    #: Dispatchers look again for units for calls still short of them this often.
    redispatch_every: float = 30.0
    #: Paperwork between the last unit clearing and the incident being closed.
    close_after: float = 60.0


@dataclass(slots=True)
class SimIncident:
    """A call the scenario created, and the dispatchers' bookkeeping about it."""

    key: str
    model: Incident
    dispatching: bool = True
    transported: bool = False
    close_at: float | None = None
    closed: bool = False
    assigned: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SimUnit:
    """A unit and what it is doing: `activity` is the scenario's finer state under the unit's status."""

    plan: UnitPlan
    model: Unit
    activity: str = "idle"  # idle, parked, roaming, returning, turnout, to_scene, on_scene, to_hospital, at_hospital
    path: Path | None = None
    travelled: float = 0.0
    speed: float = 0.0
    reported: bool = False  # has sent a position (the hub has a track to judge a spoofed one against)
    until: float | None = None
    incident: SimIncident | None = None
    next_report: float = 0.0
    heading: float | None = None


class Scenario:
    """A deterministic shift. Call `step()` once per tick for that tick's commands, or `script()` for all."""

    def __init__(self, config: ScenarioConfig | None = None, map_: Map | None = None) -> None:
        self.config = config or ScenarioConfig()
        self.map: Map = map_ if map_ is not None else FallbackMap()
        self.rng = random.Random(self.config.seed)
        self.t = 0.0
        self.units: dict[str, SimUnit] = {}
        for i, plan in enumerate(plan_fleet(self.config.units, self.map)):
            model = Unit(plan.id, plan.agency, plan.kind, plan.station.name, UnitStatus.AVAILABLE, 0.0,
                         lat=plan.station.lat, lon=plan.station.lon)
            unit = SimUnit(plan, model, next_report=self._stagger(i))
            if plan.kind == "patrol" and self.config.roam:
                self._park(unit, 0.0, self.rng.uniform(0, 300))
            self.units[plan.id] = unit
        self._models = {u.model.id: u.model for u in self.units.values()}
        self.incidents: dict[str, SimIncident] = {}
        self._alerts = 0
        rate = self.config.calls_per_hour / 3600.0
        self._rate = rate
        first = self.config.first_call_at
        self.next_call_at = first if first is not None and rate > 0 else self._gap(0.0)
        self._duplicate_due = self.config.duplicate_at
        self._flood_ref: str | None = None

    # -- driving the clock -----------------------------------------------------------------------------

    def step(self) -> list[SimCommand]:
        """Advance one tick; the commands of that tick, in the order they must be applied.

        Dispatchers' commands come first, then the fleet's, then position reports: a dependency between the
        two (assign, then en route; clear, then close) always spans ticks.
        """
        t = self.t
        dispatch: list[SimCommand] = []
        fleet: list[SimCommand] = []
        positions: list[SimCommand] = []
        if t == 0:
            fleet += [self._register(u) for u in self.units.values()]
        while self.next_call_at <= t:
            self._new_call(t, dispatch)
            self.next_call_at = self._gap(self.next_call_at)
        self._scheduled(t, dispatch, fleet)
        self._redispatch(t, dispatch)
        self._close_incidents(t, dispatch)
        for unit in self.units.values():
            self._advance(unit, t, fleet)
            if t >= unit.next_report:
                positions.append(self._position(unit, t))
        self.t = t + TICK_S
        return dispatch + fleet + positions

    def script(self, duration_s: float) -> list[SimCommand]:
        """Every command from now until `duration_s` simulated seconds from the start, computed offline."""
        out: list[SimCommand] = []
        while self.t < duration_s:
            out.extend(self.step())
        return out

    def _gap(self, after: float) -> float:
        return after + self.rng.expovariate(self._rate) if self._rate > 0 else math.inf

    def _stagger(self, index: int) -> float:
        # Heartbeats of standing units spread over the interval instead of arriving all in one tick.
        every = max(self.config.idle_position_every, TICK_S)
        return float((index * 7) % int(every))

    # -- calls and dispatching -------------------------------------------------------------------------

    def _new_call(self, t: float, out: list[SimCommand]) -> None:
        address = self.map.random_address(self.rng)
        code = calls.pick_type(self.rng)
        priority = calls.pick_priority(self.rng, code)
        itype = INCIDENT_TYPES[code]
        incident = self._open(t, code, priority, address.lat, address.lon, address.label)
        out.append(SimCommand(t, DISPATCH, "incident.create", {
            "type": code, "priority": priority, "lat": address.lat, "lon": address.lon,
            "address": address.label, "location_precision": address.precision, "caller": "112",
            "notes": f"{itype.label} reported by phone"},
            ref=incident.key))
        if not itype.needs:
            incident.dispatching = False
            incident.close_at = t + round(self.rng.uniform(*calls.NO_PLAN_HANDLING_S))
            return
        self._dispatch(incident, t, out)

    def _open(self, t: float, code: str, priority: int, lat: float, lon: float, address: str) -> SimIncident:
        key = f"I{len(self.incidents) + 1}"
        owner = INCIDENT_TYPES[code].agency
        model = Incident(key, code, priority, lat, lon, address, IncidentStatus.NEW, t, "sim", owner, [owner])
        incident = SimIncident(key, model)
        self.incidents[key] = incident
        return incident

    def _dispatch(self, incident: SimIncident, t: float, out: list[SimCommand]) -> None:
        """Assign the recommended units (the nearest available of each needed kind, by travel time)."""
        for rec in recommend(incident.model, self._models, self.map.travel, per_kind_extra=0):
            unit = self.units[rec.unit]
            out.append(SimCommand(t, DISPATCH, "unit.assign", {"unit": unit.model.id, "incident": Ref(incident.key)}))
            self._set_status(unit, UnitStatus.DISPATCHED, t)
            unit.incident = incident
            incident.model.units.append(unit.model.id)
            incident.assigned.append(unit.model.id)
            if unit.model.agency not in incident.model.agencies:
                incident.model.agencies.append(unit.model.agency)
            self._stop(unit)
            unit.activity = "turnout"
            unit.until = t + round(self.rng.uniform(*calls.TURNOUT_S[unit.model.agency]))
        needs = INCIDENT_TYPES[incident.model.type].needs
        kinds = [self.units[u].model.kind for u in incident.assigned]
        if all(kinds.count(kind) >= n for kind, n in needs.items()):
            incident.dispatching = False

    def _redispatch(self, t: float, out: list[SimCommand]) -> None:
        if t == 0 or t % self.config.redispatch_every:
            return
        for incident in self.incidents.values():
            if incident.dispatching and not incident.closed:
                self._dispatch(incident, t, out)

    def _close_incidents(self, t: float, out: list[SimCommand]) -> None:
        for incident in self.incidents.values():
            if incident.closed or incident.close_at is None or t < incident.close_at or incident.model.units:
                continue
            outcome = calls.disposition(self.rng, incident.model.type, incident.transported)
            out.append(SimCommand(t, DISPATCH, "incident.close", {"incident": Ref(incident.key),
                                                                   "disposition": outcome}))
            incident.closed = True
            incident.model.status = IncidentStatus.CLOSED

    # -- scheduled events ------------------------------------------------------------------------------

    def _scheduled(self, t: float, dispatch: list[SimCommand], fleet: list[SimCommand]) -> None:
        c = self.config
        if c.malformed_at is not None and t == c.malformed_at:
            fleet += [SimCommand(t, FLEET, RAW, {"frame": frame}) for frame in self._malformed_frames()]
            fleet += [SimCommand(t, FLEET, RAW, {"feed": feed, "frame": frame})
                      for feed, frame in broken_reports(u.plan for u in self.units.values())]
        if c.flood_at is not None and t == c.flood_at:
            self._alerts += 1
            self._flood_ref = f"AL{self._alerts}"
            warning = self.map.flood_warning()
            area = [[lat, lon] for lat, lon in warning.area]
            fleet.append(SimCommand(t, FLEET, "alert.issue", {
                "headline": warning.headline, "event": "Flood",
                "severity": "Moderate", "urgency": "Expected", "areas": [{"polygon": area}],
                "description": warning.description, "instruction": warning.instruction,
                "source": "sim"}, ref=self._flood_ref))
        if c.flood_at is not None and self._flood_ref and t == c.flood_at + c.flood_lasts:
            fleet.append(SimCommand(t, FLEET, "alert.cancel", {"alert": Ref(self._flood_ref),
                                                                 "reason": "Sea level falling"}))
        if self._duplicate_due is not None and t >= self._duplicate_due:
            self._duplicate_report(t, fleet)
        if c.spoof_at is not None and t >= c.spoof_at and (t - c.spoof_at) % c.spoof_every == 0:
            self._spoofed_fix(t, fleet)

    def _spoofed_fix(self, t: float, out: list[SimCommand]) -> None:
        """One unit's device, spoofed, puts it 5 km north of where it stands (a unit that has reported, and
        does not report in this tick, so the spoofed fix has a time of its own)."""
        standing = [u for u in self.units.values() if u.reported and u.path is None
                    and u.next_report > t + TICK_S and u.model.lat is not None]
        if not standing:
            return
        unit = self.rng.choice(standing)
        assert unit.model.lat is not None and unit.model.lon is not None
        out.append(SimCommand(t, FLEET, "unit.position", {
            "unit": unit.model.id, "lat": round(unit.model.lat + 5000 / 111_320.0, 6),
            "lon": round(unit.model.lon, 6), "speed": 0.0}, report=True))

    def _duplicate_report(self, t: float, out: list[SimCommand]) -> None:
        """A resident reports, through the public-safety app, an incident dispatchers already have.

        The report reaches the hub over the feed connection and waits in triage as a candidate, proposed for a
        merge into the incident it duplicates; a dispatcher at a console decides.
        """
        open_ = [i for i in self.incidents.values() if not i.closed]
        # Residents report what they can see: a call with units at it, when there is one.
        open_ = [i for i in open_ if i.assigned] or open_
        if not open_:
            return  # wait for one
        self._duplicate_due = None
        original = self.rng.choice(open_).model
        # 15-40 m away: where the resident stood, not where the caller said.
        bearing, metres = self.rng.uniform(0, 2 * math.pi), self.rng.uniform(15, 40)
        lat = round(original.lat + metres * math.cos(bearing) / 111_320.0, 6)
        lon = round(original.lon + metres * math.sin(bearing) / (111_320.0 * math.cos(math.radians(lat))), 6)
        out.append(SimCommand(t, FLEET, "report.submit", {
            "source": "app", "source_id": f"resident-{self.rng.randint(1000, 9999)}", "type": original.type,
            "lat": lat, "lon": lon, "address": original.address,
            "text": f"{INCIDENT_TYPES[original.type].label} here, saw it from across the street"}))

    def _malformed_frames(self) -> list[str]:
        """Frames the hub must refuse without harm: broken JSON, impossible coordinates, an unknown type."""
        unit = next(iter(self.units), "E11")
        return [
            '{"type": "command", "name": "unit.position", "args": {"unit": "' + unit + '", "lat": 60.17,',
            json.dumps({"type": "command", "name": "unit.position", "args": {"unit": unit, "lat": 123.456,
                                                                             "lon": 24.94}}),
            json.dumps({"type": "command", "name": "unit.position", "args": {"unit": unit, "lat": 60.17,
                                                                             "lon": 540.0}}),
            json.dumps({"type": "command", "name": "unit.position", "args": {"unit": unit, "lat": "north"}}),
            json.dumps({"type": "teleport", "unit": unit}),
        ]

    # -- units -----------------------------------------------------------------------------------------

    def _register(self, unit: SimUnit) -> SimCommand:
        p = unit.plan
        return SimCommand(0.0, FLEET, "unit.register", {"id": p.id, "agency": p.agency, "kind": p.kind,
                                                        "station": p.station.name, "lat": p.station.lat,
                                                        "lon": p.station.lon})

    def _set_status(self, unit: SimUnit, status: UnitStatus, t: float, out: list[SimCommand] | None = None) -> None:
        unit.model.status = status
        unit.model.status_at = t
        if out is not None:
            out.append(SimCommand(t, FLEET, "unit.status", {"unit": unit.model.id, "status": status.value}))

    def _drive(self, unit: SimUnit, t: float, destination: tuple[float, float], activity: str,
               speeds: tuple[float, float]) -> None:
        origin = (unit.model.lat, unit.model.lon)
        unit.path = Path(self.map.route(origin, destination))  # type: ignore[arg-type]
        unit.travelled = 0.0
        # Pulling out, the unit already faces along its first street (its report says which way it goes).
        unit.heading = unit.path.at(0.0)[2] or unit.heading
        unit.speed = round(self.rng.uniform(*speeds), 1)
        unit.activity = activity
        unit.until = None
        unit.next_report = t  # report at once: the unit starts moving

    def _stop(self, unit: SimUnit) -> None:
        unit.path = None
        unit.speed = 0.0
        unit.until = None

    def _park(self, unit: SimUnit, t: float, seconds: float) -> None:
        self._stop(unit)
        unit.activity = "parked"
        unit.until = t + round(seconds)

    def _go_home(self, unit: SimUnit, t: float) -> None:
        if unit.model.kind == "patrol" and self.config.roam:
            self._park(unit, t, self.rng.uniform(30, 120))
        else:
            self._drive(unit, t, unit.plan.station.point, "returning", URBAN_SPEED_MS)

    def _clear(self, unit: SimUnit, t: float, out: list[SimCommand]) -> None:
        """The unit is free again: off its incident, which dispatchers close once its last unit clears."""
        self._set_status(unit, UnitStatus.AVAILABLE, t, out)
        incident = unit.incident
        unit.incident = None
        if incident is not None:
            incident.model.units.remove(unit.model.id)
            if not incident.model.units:
                incident.close_at = t + self.config.close_after
        self._go_home(unit, t)

    def _advance(self, unit: SimUnit, t: float, out: list[SimCommand]) -> None:
        """Move the unit one tick along its path, and act on arrivals and on timers that ran out."""
        if unit.path is not None:
            if t > 0:
                unit.travelled += unit.speed * TICK_S
            lat, lon, heading = unit.path.at(unit.travelled)
            unit.model.lat, unit.model.lon = lat, lon
            if heading is not None:
                unit.heading = heading
            if unit.travelled >= unit.path.length:
                self._arrive(unit, t, out)
        elif unit.until is not None and t >= unit.until:
            self._timer(unit, t, out)

    def _arrive(self, unit: SimUnit, t: float, out: list[SimCommand]) -> None:
        activity = unit.activity
        self._stop(unit)
        unit.next_report = t
        if activity == "to_scene":
            self._set_status(unit, UnitStatus.ON_SCENE, t, out)
            unit.activity = "on_scene"
            assert unit.incident is not None
            unit.incident.dispatching = False  # the first crew on scene takes over
            unit.until = t + calls.on_scene_seconds(self.rng, unit.incident.model.type)
        elif activity == "to_hospital":
            self._set_status(unit, UnitStatus.AT_HOSPITAL, t, out)
            unit.activity = "at_hospital"
            unit.until = t + round(self.rng.uniform(*calls.AT_HOSPITAL_MIN) * 60)
        elif activity == "roaming":
            self._park(unit, t, self.rng.uniform(120, 600))
        else:
            unit.activity = "idle"

    def _timer(self, unit: SimUnit, t: float, out: list[SimCommand]) -> None:
        activity, incident = unit.activity, unit.incident
        if activity == "turnout" and incident is not None:
            self._set_status(unit, UnitStatus.EN_ROUTE, t, out)
            self._drive(unit, t, (incident.model.lat, incident.model.lon), "to_scene", EMERGENCY_SPEED_MS)
        elif activity == "on_scene" and incident is not None:
            chance = calls.TRANSPORT_CHANCE.get(incident.model.type, 0.2)
            if unit.model.kind == "ambulance" and self.rng.random() < chance:
                self._set_status(unit, UnitStatus.TRANSPORTING, t, out)
                incident.transported = True
                hospital = nearest(self.map.stations("hospital"), (unit.model.lat, unit.model.lon))  # type: ignore[arg-type]
                speeds = EMERGENCY_SPEED_MS if incident.model.priority == 1 else URBAN_SPEED_MS
                self._drive(unit, t, hospital.point, "to_hospital", speeds)
            else:
                self._clear(unit, t, out)
        elif activity == "at_hospital":
            self._clear(unit, t, out)
        elif activity == "parked":
            destination = self.map.random_address(self.rng)
            self._drive(unit, t, (destination.lat, destination.lon), "roaming", URBAN_SPEED_MS)
        else:
            unit.until = None

    def _position(self, unit: SimUnit, t: float) -> SimCommand:
        moving = unit.path is not None
        unit.reported = True
        unit.next_report = t + (self.config.position_every if moving else self.config.idle_position_every)
        args: dict[str, Any] = {"unit": unit.model.id, "lat": round(unit.model.lat, 6),  # type: ignore[arg-type]
                                "lon": round(unit.model.lon, 6), "speed": unit.speed if moving else 0.0}  # type: ignore[arg-type]
        if unit.heading is not None:
            args["heading"] = round(unit.heading, 1)
        return SimCommand(t, FLEET, "unit.position", args, report=True)
