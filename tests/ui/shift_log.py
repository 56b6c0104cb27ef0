"""A real SQLite event log of a simulated shift, for the review windows' tests and screenshots.

The simulator's script goes through the hub's own rules (`decide`) and fold with a made-up clock, and every
event is appended to a real `EventLog` (hash chain, snapshots every 5,000 events, as the hub stores them). On
top of the script, people do what the simulator does not: a dispatcher writes a note, medical posts on the
incident's chat, police open a restricted call. The accounts are in the log's users table, as on a hub.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from app.domain.agencies import Actor, Role
from app.domain.commands import COMMANDS
from app.domain.decide import decide
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.picture import Picture
from app.sim.map import Map
from app.sim.offline import EPOCH
from app.sim.scenario import DISPATCH, RAW, Ref, Scenario, ScenarioConfig, SimCommand
from app.store.log import EventLog
from app.store.users import UserStore

FLEET = Actor("sim-fleet", Role.FEED, "*")
DISPATCHERS = Actor("sim-dispatch", Role.SUPERVISOR, "*")
FIRE1 = Actor("fire1", Role.DISPATCHER, "fire")
MEDICAL1 = Actor("medical1", Role.DISPATCHER, "medical")
POLICE1 = Actor("police1", Role.DISPATCHER, "police")
SUPERVISOR1 = Actor("supervisor1", Role.SUPERVISOR, "fire")
ACCOUNTS = (FLEET, DISPATCHERS, FIRE1, MEDICAL1, POLICE1, SUPERVISOR1)
PASSWORD = "review-test-password"


@dataclass(slots=True)
class ShiftLog:
    """The log file and what the tests need to know about it."""

    path: Path
    t0: float
    t1: float
    events: list[Event] = field(default_factory=list)
    #: Scenario keys (I1, AL1, ...) -> ids the rules gave them.
    ids: dict[str, str] = field(default_factory=dict)
    #: What the people added on top of the script: name -> id or seq.
    extras: dict[str, Any] = field(default_factory=dict)

    def picture_at(self, ts: float) -> Picture:
        """The fold of every event at or before `ts` (the expected picture, computed independently)."""
        return Picture().apply_all(e for e in self.events if e.ts <= ts)


class _Writer:
    def __init__(self, path: Path) -> None:
        self.log = EventLog(path, synchronous="OFF")
        self.picture = Picture()
        self.events: list[Event] = []
        self.last_snapshot = 0
        self.clock = EPOCH

    def do(self, t: float, actor: Actor, name: str, args: dict[str, Any]) -> list[Event] | None:
        # Strictly increasing, as the hub's clock.
        self.clock = max(EPOCH + t, self.clock + 1e-3)
        try:
            drafts = decide(self.picture, actor, name, msgspec.convert(args, COMMANDS[name]), self.clock)
        except Refusal:
            return None
        made = []
        for draft in drafts:
            event = Event(self.picture.seq + 1, self.clock, actor.user, draft.kind, draft.data, draft.audience)
            self.picture.apply(event)
            made.append(event)
        self.log.append([(e, None) for e in made])
        self.events.extend(made)
        if self.picture.seq - self.last_snapshot >= 5000:
            self.log.save_snapshot(self.picture)
            self.last_snapshot = self.picture.seq
        return made


def write_shift_log(path: Path, *, seed: int = 3, duration: float = 1800.0, calls_per_hour: float = 20.0,
                    units: int = 24, map_: Map | None = None) -> ShiftLog:
    """Play `duration` simulated seconds of a shift into a fresh log at `path`."""
    users = UserStore(path)
    for actor in ACCOUNTS:
        users.add(actor.user, PASSWORD, actor.role, actor.agency)
    users.close()
    writer = _Writer(path)
    config = ScenarioConfig(seed=seed, calls_per_hour=calls_per_hour, units=units, flood_at=400.0,
                            flood_lasts=900.0)
    ids: dict[str, str] = {}
    extras: dict[str, Any] = {}
    for command in _with_call_taking(Scenario(config, map_).script(duration), seed):
        if command.name == RAW or any(isinstance(v, Ref) and v.key not in ids for v in command.args.values()):
            continue
        args = {k: ids[v.key] if isinstance(v, Ref) else v for k, v in command.args.items()}
        made = writer.do(command.t, DISPATCHERS if command.channel == DISPATCH else FLEET, command.name, args)
        if made and command.ref is not None:
            ids[command.ref] = made[0].data["id"]
        _people(writer, command.t, ids, extras)
    writer.log.close()
    return ShiftLog(path, writer.events[0].ts, writer.clock, writer.events, ids, extras)


def _with_call_taking(commands: list[SimCommand], seed: int) -> list[SimCommand]:
    """The script with each call opened 25-100 s before its first dispatch, as a call taker would.

    The simulated dispatchers assign units the second a call is created; real call processing takes time,
    and the timeline must show it (some over the 60 s benchmark). Moving only the creation earlier keeps
    every reference valid: nothing refers to an incident before it exists.
    """
    rng = random.Random(seed)
    shifted = [replace(c, t=max(1.0, c.t - rng.uniform(25, 100))) if c.name == "incident.create" else c
               for c in commands]
    return sorted(shifted, key=lambda c: c.t)


def _people(writer: _Writer, t: float, ids: dict[str, str], extras: dict[str, Any]) -> None:
    """What dispatchers do by hand, once each, on the first call that got units."""
    first = extras.get("incident") or next(
        (i.id for i in writer.picture.incidents.values() if i.history_units and i.id in ids.values()), None)
    if first is None:
        return
    extras["incident"] = first
    created = writer.picture.incidents[first].created_at - EPOCH
    if "note" not in extras and t >= created + 45:
        made = writer.do(t, SUPERVISOR1, "incident.note",
                         {"incident": first, "text": "Caller reports smoke from the second floor"})
        extras["note"] = made[0].seq if made else None
    if "message" not in extras and t >= created + 75:
        made = writer.do(t, SUPERVISOR1, "message.send",
                         {"channel": f"incident:{first}", "text": "Second ambulance on standby at the station"})
        extras["message"] = made[0].seq if made else None
    if "restricted" not in extras and t >= created + 100:
        made = writer.do(t, POLICE1, "incident.create",
                         {"type": "assault", "lat": 60.1702, "lon": 24.9431, "address": "Kaivokatu 1",
                          "restricted": True, "notes": "Undercover operation nearby"})
        extras["restricted"] = made[0].data["id"] if made else None
