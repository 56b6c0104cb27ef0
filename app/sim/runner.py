"""Play a scenario against a hub: two client connections, paced by the simulated clock.

The fleet (registrations, positions, statuses, alerts, malformed frames) goes over a feed account; the
dispatchers (incident.create, unit.assign, incident.close) over a supervisor account. With the hub's feed
gateway given (`feeds`), positions go instead over the field transports of each agency's devices
(`app.sim.field`: CoT over TCP and UDP, NMEA over UDP), spread over each tick as independent devices send
them.

The hub orders frames within a connection, not across them, so where the scenario switches from one
connection to the other the runner waits until the hub has taken everything sent on the first (an ack, or a
ping's pong on the fleet connection, which the hub answers only after it has sequenced every frame before it).
With that, over the websocket alone the hub's log follows the scenario's order exactly, and the same seed gives
the same log. Over the field transports each unit's reports keep their order, but they interleave with the
websocket's commands as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.client.connection import CommandRefused, HubClient, SignInFailed
from app.domain import events as ev
from app.domain.entities import UnitStatus
from app.protocol.client_session import Update
from app.protocol.messages import encode
from app.sim.drone_flight import DroneFlight, DroneFlightConfig
from app.sim.field import FeedPorts, FieldRadios, field_devices, fix_time, register_field_devices
from app.sim.map import Map, load_map
from app.sim.scenario import DISPATCH, FLEET, RAW, TICK_S, Ref, Scenario, ScenarioConfig, SimCommand

log = logging.getLogger("watchfloor.sim")

#: Events that create something later commands refer to by the id the hub gave it.
_CREATED = (ev.INCIDENT_CREATED, ev.ALERT_ISSUED)
#: A tick's field reports go out in at most this many bursts, over this share of the tick, at least
#: `_BURST_GAP_S` apart: a fleet's devices do not all report on the same millisecond.
_BURSTS, _SPREAD, _BURST_GAP_S = 20, 0.8, 0.002


@dataclass(slots=True)
class SimStats:
    """What a run did: commands sent by name, refusals by code, timing."""

    map_name: str = ""
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    units_existing: int = 0
    #: How far behind the simulated clock the runner fell at worst (real seconds): the hub or the network
    #: could not keep up with the speed asked for.
    max_lag_s: float = 0.0
    #: Scenario keys (I1, AL1, ...) -> the ids the hub gave them.
    ids: dict[str, str] = field(default_factory=dict)
    #: Positions sent over the field transports, by transport (cot_tcp, cot_udp, nmea).
    field: Counter[str] = field(default_factory=Counter)

    @property
    def commands(self) -> int:
        """Everything sent, positions included."""
        return sum(self.sent.values())

    def summary(self) -> str:
        """A few lines for people."""
        rate = self.commands / self.wall_seconds if self.wall_seconds else 0.0
        lines = [f"map: {self.map_name}",
                 f"{self.sim_seconds:.0f} simulated s in {self.wall_seconds:.1f} s; {self.commands} commands "
                 f"({rate:.0f}/s); worst lag {self.max_lag_s:.2f} s",
                 "sent: " + ", ".join(f"{k} {v}" for k, v in sorted(self.sent.items()))]
        if self.field:
            lines.append("positions over the field: " + ", ".join(f"{k} {v}" for k, v in sorted(self.field.items())))
        if self.units_existing:
            lines.append(f"units already on the hub (not registered again): {self.units_existing}")
        if self.refused:
            lines.append("refused by the hub: " + ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())))
        if self.skipped:
            lines.append("not sent: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())))
        return "\n".join(lines)


class _Runner:
    def __init__(self, fleet: HubClient, dispatch: HubClient | None, watch: HubClient, stats: SimStats,
                 radios: FieldRadios | None = None, tick_s: float = TICK_S) -> None:
        self.fleet = fleet
        self.dispatch = dispatch
        self.watch = watch
        self.stats = stats
        self.radios = radios
        self.tick_s = tick_s  # real seconds a tick lasts
        self.last_fix_ms = 0
        self.created: dict[int, str] = {}  # seq -> id, of events that create something
        self.existing: set[str] = set()
        self.pings = 0
        self.pong = 0
        self.fleet_dirty = False  # sent on the fleet connection since the last barrier
        self.inflight: set[asyncio.Future[Any]] = set()

    # -- hooks on the clients ------------------------------------------------------------------------

    def on_fleet(self, update: Update) -> None:
        if update.pong is not None and isinstance(update.pong.t, int):
            self.pong = max(self.pong, update.pong.t)
        for reject in update.rejects:
            if reject.id is None:  # a position report or a raw frame; acked commands count in _done
                self.stats.refused[reject.code] += 1
        for error in update.errors:
            self.stats.refused[error.code] += 1

    def on_watch(self, update: Update) -> None:
        for event in update.events:
            if event.kind in _CREATED:
                self.created[event.seq] = event.data["id"]

    def on_fleet_and_watch(self, update: Update) -> None:
        self.on_fleet(update)
        self.on_watch(update)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self.inflight.discard(future)
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, CommandRefused):
            self.stats.refused[exc.code] += 1
        elif exc is not None:
            self.stats.refused[type(exc).__name__] += 1

    # -- sending -------------------------------------------------------------------------------------

    async def barrier(self) -> None:
        """Wait until the hub has sequenced everything sent on the fleet connection so far."""
        if not self.fleet_dirty:
            return
        self.pings += 1
        n = self.pings
        self.fleet.send_raw(encode({"type": "ping", "t": n}))  # queued behind the frames sent before it
        await self.fleet.wait_for(lambda: self.pong >= n)
        self.fleet_dirty = False

    def _resolve(self, command: SimCommand) -> dict[str, Any] | None:
        args: dict[str, Any] = {}
        for key, value in command.args.items():
            if isinstance(value, Ref):
                if value.key not in self.stats.ids:
                    return None
                value = self.stats.ids[value.key]
            args[key] = value
        return args

    async def _learn_id(self, command: SimCommand, seqs: list[int]) -> None:
        assert command.ref is not None
        await self.watch.wait_for(lambda: any(s in self.created for s in seqs))
        seq = next(s for s in seqs if s in self.created)
        self.stats.ids[command.ref] = self.created.pop(seq)

    async def send(self, commands: list[SimCommand]) -> None:
        """Send one tick's commands in order, with a barrier wherever the connection changes."""
        positions: list[SimCommand] = []
        for command in commands:
            if self.radios is not None and command.name == "unit.position":
                positions.append(command)  # a tick's positions come last: they go after its other commands
                continue
            if command.name == RAW and "feed" in command.args:
                self._raw_in_field(command)
                continue
            if command.name == "unit.register" and command.args["id"] in self.existing:
                self.stats.skipped["unit.register (exists)"] += 1
                continue
            args = self._resolve(command)
            if args is None:
                self.stats.skipped[f"{command.name} (refers to something refused)"] += 1
                continue
            if command.channel == DISPATCH:
                await self._dispatch(command, args)
            elif command.ref is not None:
                await self._fleet_creating(command, args)
            else:
                self._fleet(command, args)
            self.stats.sent[command.name] += 1
        if positions:
            await self._report_in_field(positions)

    def _raw_in_field(self, command: SimCommand) -> None:
        feed = command.args["feed"]
        if self.radios is not None and self.radios.send_raw(feed, command.args["frame"]):
            self.stats.sent[command.name] += 1
        else:
            self.stats.skipped[f"{command.name} {feed} (field transports off)"] += 1

    async def _report_in_field(self, positions: list[SimCommand]) -> None:
        """Send a tick's positions over the field transports, in bursts spread over the tick: a fleet's
        datagrams all at once would overflow the hub's receive buffer, and devices do not report in step."""
        assert self.radios is not None
        await self.barrier()  # a unit registered this tick exists on the hub before its first report
        loop = asyncio.get_running_loop()
        start = loop.time()
        span = self.tick_s * _SPREAD
        bursts = max(1, min(len(positions), _BURSTS, int(span / _BURST_GAP_S)))
        for k in range(bursts):
            delay = start + span * k / bursts - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            fix = self._fix_time()
            for command in positions[k * len(positions) // bursts:(k + 1) * len(positions) // bursts]:
                via = self.radios.report(command.args["unit"], command.args, fix)
                if via is None:
                    self.stats.skipped[f"{command.name} (not sent)"] += 1
                    continue
                self.stats.sent[command.name] += 1
                self.stats.field[via] += 1
            await self.radios.drain()

    def _fix_time(self) -> datetime:
        """Now, to the millisecond, and always after the previous fix: a unit's fixes never share a time
        (the hub refuses a position not newer than the last), and never precede its registration."""
        self.last_fix_ms = max(math.ceil(time.time() * 1000), self.last_fix_ms + 1)
        return fix_time(self.last_fix_ms)

    def _fleet(self, command: SimCommand, args: dict[str, Any]) -> None:
        self.fleet_dirty = True
        if command.name == RAW:
            self.fleet.send_raw(args["frame"])
        elif command.report:
            if not self.fleet.report(command.name, args):
                self.stats.skipped[f"{command.name} (offline)"] += 1
        else:
            future = self.fleet.command(command.name, args)
            self.inflight.add(future)
            future.add_done_callback(self._done)

    async def _fleet_creating(self, command: SimCommand, args: dict[str, Any]) -> None:
        """A fleet command whose result later commands refer to: wait for the hub's id."""
        self.fleet_dirty = True
        try:
            ack = await self.fleet.call(command.name, args)
        except CommandRefused as exc:
            self.stats.refused[exc.code] += 1
            return
        except TimeoutError:
            self.stats.refused["timeout"] += 1
            return
        await self._learn_id(command, ack.seqs)

    async def _dispatch(self, command: SimCommand, args: dict[str, Any]) -> None:
        assert self.dispatch is not None
        await self.barrier()
        try:
            ack = await self.dispatch.call(command.name, args)
        except CommandRefused as exc:
            self.stats.refused[exc.code] += 1
            return
        except TimeoutError:
            self.stats.refused["timeout"] += 1
            return
        if command.ref is not None:
            await self._learn_id(command, ack.seqs)

    def resume(self, scenario: Scenario) -> None:
        """Learn which of the fleet's units the hub has already; put back in service those left busy."""
        units = self.watch.picture.units
        self.existing = {u for u in scenario.units if u in units}
        self.stats.units_existing = len(self.existing)
        for unit_id in sorted(self.existing):
            if units[unit_id].status != UnitStatus.AVAILABLE:
                self._fleet(SimCommand(0.0, FLEET, "unit.status", {"unit": unit_id, "status": "available"}),
                            {"unit": unit_id, "status": "available"})
                self.stats.sent["unit.status (back in service)"] += 1

    async def drain(self) -> None:
        """Wait until everything sent has been taken by the hub and every acked command answered."""
        await self.barrier()
        if self.inflight:
            await asyncio.wait(set(self.inflight), timeout=30)


async def _connect(client: HubClient, what: str, timeout: float) -> None:
    try:
        await client.sign_in(timeout)
    except SignInFailed as failed:
        raise ConnectionError(f"the {what} account: {failed}") from None


async def run_scenario(url: str, user: str, password: str, *, seed: int = 1, speed: float = 1.0,
                       units: int = 40, duration: float | None = None, stop: asyncio.Event | None = None,
                       map_: Map | None = None, dispatcher: tuple[str, str] | None = None,
                       config: ScenarioConfig | None = None,
                       record: list[SimCommand] | None = None, connect_timeout: float = 30.0,
                       drone: DroneFlightConfig | None = None, feeds: FeedPorts | None = None,
                       ssl_context: ssl.SSLContext | None = None) -> SimStats:
    """Play a shift against the hub at `url` until `duration` simulated seconds have passed or `stop` is set.

    `user`/`password` is a feed account (role feed, agency "*") that fields the fleet; `dispatcher` is a
    supervisor account (user, password) that plays the dispatchers. Without one the fleet drives and reports
    but no calls come in. `speed` is simulated seconds per real second. `seed` and `units` override those of
    `config`. Units that already exist on the hub are not registered again (and are put back in service if an
    earlier run left them busy). Every command the scenario issues is appended to `record`, if given. With
    `feeds` (the hub's feed gateway), units report positions over their agency's field transport
    (`app.sim.field`) instead of the websocket. With `drone` (and a dispatcher account, which registers and
    assigns it) a drone flies too, in real time. `ssl_context` verifies a wss:// hub (default: the system's
    trust store, `client_tls_context`). Raises ConnectionError when an account is refused or the hub
    (or its CoT port) cannot be reached within `connect_timeout` seconds.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    cfg = replace(config or ScenarioConfig(), seed=seed, units=units)
    if dispatcher is None and (cfg.calls_per_hour > 0 or cfg.duplicate_at is not None):
        log.warning("no dispatcher account: the fleet drives and reports, but no calls come in")
        cfg = replace(cfg, calls_per_hour=0.0, first_call_at=None, duplicate_at=None)
    city = map_ if map_ is not None else await asyncio.to_thread(load_map)
    scenario = Scenario(cfg, city)
    stats = SimStats(map_name=city.name)
    fleet = HubClient(url, user, password, subscribe=dispatcher is None, client="watchfloor-sim fleet",
                      ssl_context=ssl_context)
    dispatch = (HubClient(url, dispatcher[0], dispatcher[1], subscribe=True, client="watchfloor-sim dispatch",
                          ssl_context=ssl_context)
                if dispatcher else None)
    watch = dispatch or fleet
    radios = (FieldRadios(feeds, {u.plan.id: u.plan.agency for u in scenario.units.values()})
              if feeds is not None else None)
    runner = _Runner(fleet, dispatch, watch, stats, radios, TICK_S / speed)
    fleet.on_update = runner.on_fleet if dispatch else runner.on_fleet_and_watch
    if dispatch is not None:
        dispatch.on_update = runner.on_watch
    loop = asyncio.get_running_loop()
    flight: DroneFlight | None = None
    flying: asyncio.Task[None] | None = None
    try:
        await _connect(fleet, "fleet", connect_timeout)
        if dispatch is not None:
            await _connect(dispatch, "dispatcher", connect_timeout)
        if radios is not None:
            await radios.open(connect_timeout)
            if dispatch is not None:
                await register_field_devices(dispatch, field_devices(radios.agencies, radios.source()))
            else:
                log.warning("no dispatcher (supervisor) account: the field devices cannot be registered; the hub "
                            "takes their reports only if a supervisor registered them (watchfloor device add)")
        runner.resume(scenario)
        if drone is not None and dispatch is not None:
            flight = DroneFlight(dispatch, drone, city.stations("police")[0].point)
            flying = loop.create_task(flight.run())
        elif drone is not None:
            log.warning("no dispatcher account: the drone needs one to be registered and assigned; it stays down")
        started = loop.time()
        while not (stop is not None and stop.is_set()) and (duration is None or scenario.t < duration):
            delay = started + scenario.t / speed - loop.time()
            if delay > 0:
                await _sleep(delay, stop)
                if stop is not None and stop.is_set():
                    break
            else:
                stats.max_lag_s = max(stats.max_lag_s, -delay)
            commands = scenario.step()
            if record is not None:
                record.extend(commands)
            await runner.send(commands)
            if delay < 0:
                await runner.barrier()  # behind: let the hub catch up rather than queue without bound
            else:
                await asyncio.sleep(0)  # let the send tasks run
        stats.sim_seconds = scenario.t
        await runner.drain()
        stats.wall_seconds = loop.time() - started
    finally:
        if flying is not None:
            flying.cancel()
            await asyncio.gather(flying, return_exceptions=True)
            await asyncio.to_thread(flight.stop)
        if radios is not None:
            await radios.close()
            stats.skipped.update(radios.errors)
        for client in (fleet, dispatch):
            if client is not None:
                await client.close()
    return stats


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
