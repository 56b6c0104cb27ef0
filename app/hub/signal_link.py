"""The hub's signal priority service: asks the traffic controllers for green for responding units, over UDP.

``watchfloor hub --signal-priority udp://tmc.example:4210`` starts it. Every `tick_s` it looks at the hub's own
picture: each unit en route on a qualifying call (`PriorityPolicy`) with a new fix is routed from where it is to
its incident on the city's road graph, and the rules of `app.domain.signal_priority` say what to request, re-send
and cancel; unanswered requests and outlived grants are ended. The decided events are sequenced like any other
(`Sequencer.record`, actor `signals`), and only once committed are they sent as SREM (one per unit per round,
requests and cancels together) to the configured service. SSEM answers from that address (from no other) are
decoded and, when they answer what we asked, logged as `signal.answered`; anything else is quarantined (bad
bytes) or ignored.

With the service down or silent nothing is granted: requests end `timed_out` and the units drive as always. The
service shows in feed health as ``signal_priority <target>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import zlib
from typing import Any

from app.domain import events as ev
from app.domain.entities import UnitStatus
from app.domain.events import Draft
from app.domain.picture import Picture
from app.domain.signal_priority import PriorityPolicy, answer, expire, follow_route
from app.domain.signals import RoutePlanner
from app.feeds.errors import FeedError
from app.feeds.signal_priority import PriorityRequest, SignalRequest, decode_ssem, encode_srem, its_time
from app.hub.cot_out import parse_target

log = logging.getLogger("watchfloor.signals")

#: the actor the service's events carry in the log
ACTOR = "signals"
#: responding units drive faster than the limit (as recommendations assume): road time / this factor
SPEED_FACTOR = 1.3
#: the most SREM requests one message carries (J2735: 1..32)
MAX_REQUESTS = 32
#: datagrams read per second at most: a flood from the service's address costs bounded CPU
MAX_DATAGRAMS_PER_TICK = 200
#: a unit's route ahead is searched again at most this often (a route search costs milliseconds on the loop;
#: fixes may come every second): the drift rule works in seconds, so this loses nothing
REPLAN_EVERY_S = 3.0


def station_id(unit: str) -> int:
    """The SREM StationID a unit's requests carry: a stable 32-bit number from its callsign."""
    return zlib.crc32(unit.encode("utf-8"))


def _cancel(request: PriorityRequest) -> PriorityRequest:
    return PriorityRequest(request.intersection, request.request_id, "cancel", request.approach, request.minute,
                           request.millisecond, request.duration_ms)


class SignalLink:
    """The service: `await start()`, then `await close()`."""

    def __init__(self, hub: Any, target: str, planner: RoutePlanner, policy: PriorityPolicy | None = None,
                 tick_s: float = 1.0) -> None:
        scheme, self.host, self.port = parse_target(target)
        if scheme != "udp":
            raise ValueError(f"{target!r}: signal priority is sent over udp://HOST:PORT")
        self.hub = hub
        self.target = target
        self.planner = planner
        self.policy = policy or PriorityPolicy()
        self.tick_s = tick_s
        self.health = hub.feeds.feed(f"signal_priority {target}", f"Signal priority (SREM/SSEM) with {target}")
        self.sent = 0
        self._sequence = 0
        # unit -> (the fix time, the suspensions' version) its route was last planned with, and when
        self._planned: dict[str, tuple[float | None, int]] = {}
        self._planned_at: dict[str, float] = {}
        self._version = 0
        self._address: tuple[str, int] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._inbox: list[tuple[bytes, tuple[str, int]]] = []
        # what each unit has asked the controllers for and not cancelled, by intersection
        self._outstanding: dict[str, dict[int, PriorityRequest]] = {}
        self._areas: set[str] = set()  # the suspensions the routes were last planned with
        self._roles: dict[str, str | None] = {}  # a unit's role, kept for its cancels after it is retired
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the UDP socket and start the rounds."""
        loop = asyncio.get_running_loop()
        info = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = info[0]
        self._address = (str(address[0]), int(address[1]))
        link = self

        class Endpoint(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if len(link._inbox) < MAX_DATAGRAMS_PER_TICK:
                    link._inbox.append((data, addr))

            def error_received(self, exc: Exception) -> None:  # ICMP unreachable: the service is down
                link.health.unreachable(str(exc))

        transport, _ = await loop.create_datagram_endpoint(Endpoint, family=family,
                                                           local_addr=("0.0.0.0" if family == socket.AF_INET
                                                                       else "::", 0))
        self._transport = transport
        self._task = loop.create_task(self._run())

    async def close(self) -> None:
        """Stop asking; what is granted runs out at the controllers by its window."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._transport is not None:
            self._transport.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:  # one bad round (a bug) must not end signal priority for the rest of the shift
                log.exception("signal priority round failed")
            await asyncio.sleep(self.tick_s)

    async def _round(self) -> None:
        sequencer = self.hub.sequencer
        if sequencer.alarm is not None:
            return  # the log cannot be written: ask for nothing we could not record
        picture: Picture = sequencer.picture
        areas = set(picture.signal_suspensions)
        if areas != self._areas:  # a supervisor suspended or resumed an area: every route ahead is looked at again
            self._areas = areas
            self._version += 1
        # Each batch of events is applied to the hub's picture as it is recorded, so the next unit's rules see
        # what the previous one took (two units never both hold one light), and nothing ends twice.
        drafts: list[Draft] = []
        committed: list[asyncio.Future[Any]] = []

        def record(batch: list[Draft]) -> None:
            if batch:
                committed.append(sequencer.record(ACTOR, batch))
                drafts.extend(batch)

        now = self.hub.clock()
        record(self._answers(picture))
        record(expire(picture, now, self.policy))
        for unit in list(picture.units.values()):
            responding = unit.status == UnitStatus.EN_ROUTE and unit.lat is not None and unit.lon is not None
            if not responding and unit.id not in self._planned:
                continue
            if responding and self._planned.get(unit.id) == (unit.position_at, self._version):
                continue  # no new fix: the route ahead is what it was
            if responding and unit.id in self._planned and self._planned[unit.id][1] == self._version \
                    and now - self._planned_at[unit.id] < REPLAN_EVERY_S:
                continue  # planned a moment ago: the next round will do
            incident = picture.incidents.get(unit.incident or "")
            passes = []
            if responding and incident is not None:
                assert unit.lat is not None and unit.lon is not None
                passes = self.planner.signal_passes((unit.lat, unit.lon), (incident.lat, incident.lon),
                                                    SPEED_FACTOR)
            if responding:
                self._planned[unit.id] = (unit.position_at, self._version)
                self._planned_at[unit.id] = now
            else:
                self._planned.pop(unit.id, None)
                self._planned_at.pop(unit.id, None)
            record(follow_route(picture, unit, passes, now, self.policy))
        messages = self._messages(picture, drafts, now)
        await asyncio.gather(*committed)  # logged before anything goes out
        for message in messages:
            self._send(encode_srem(message))

    def _answers(self, picture: Picture) -> list[Draft]:
        inbox, self._inbox = self._inbox, []
        stations = {station_id(u): u for u in {s.unit for s in picture.signals.values()}}
        drafts: list[Draft] = []
        for data, addr in inbox:
            source = f"{addr[0]}:{addr[1]}"
            self.health.input(source)
            if addr[:2] != self._address:
                self.health.ignore("not_the_service")
                continue
            try:
                status = decode_ssem(data)
            except FeedError as exc:
                self.hub.feeds.quarantine(self.health.name, source, exc.code, exc.reason, data)
                continue
            for item in status.statuses:
                unit = stations.get(item.station)
                found = answer(picture, item.intersection, unit, item.request_id, item.status) if unit else []
                if found:
                    drafts += found
                    self.health.accept()
                else:
                    self.health.ignore("not_ours")
        return drafts

    def _messages(self, picture: Picture, drafts: list[Draft], now: float) -> list[SignalRequest]:
        """One SREM per unit (at most 32 requests each) for the requests, re-sends and cancels in `drafts`, and
        cancels for whatever a unit that no longer responds still has outstanding at the controllers."""
        per_unit: dict[str, list[PriorityRequest]] = {}
        for draft in drafts:
            d = draft.data
            outstanding = self._outstanding.setdefault(d["unit"], {})
            if draft.kind == ev.SIGNAL_REQUESTED:
                at_minute, at_ms = its_time(d["eta_from"])
                duration = max(0, min(65535, round((d["eta_to"] - d["eta_from"]) * 1000)))
                request = PriorityRequest(d["intersection"], d["request"], d["kind"], d["approach"], at_minute, at_ms,
                                          duration)
                outstanding[d["intersection"]] = request
                per_unit.setdefault(d["unit"], []).append(request)
            elif draft.kind == ev.SIGNAL_ENDED and d["intersection"] in outstanding:
                per_unit.setdefault(d["unit"], []).append(_cancel(outstanding.pop(d["intersection"])))
        for unit_id in list(self._outstanding):
            unit = picture.units.get(unit_id)
            if unit is None or unit.status != UnitStatus.EN_ROUTE:  # stood down: the fold has let go already
                per_unit.setdefault(unit_id, []).extend(_cancel(r) for r in self._outstanding.pop(unit_id).values())
        minute, millisecond = its_time(now)
        messages = []
        for unit_id, requests in per_unit.items():
            role = self._roles.setdefault(unit_id, self._role(picture, unit_id))
            if role is None or not requests:
                continue
            name = unit_id.encode("ascii", "replace").decode("ascii")[:63] or "unit"
            for first in range(0, len(requests), MAX_REQUESTS):
                self._sequence = (self._sequence + 1) % 128
                messages.append(SignalRequest(
                    station_id(unit_id), minute, millisecond, self._sequence, role,
                    self.policy.importance.get(role, 1), name, tuple(requests[first:first + MAX_REQUESTS])))
        return messages

    def _role(self, picture: Picture, unit_id: str) -> str | None:
        unit = picture.units.get(unit_id)
        return self.policy.role_of(unit) if unit is not None else None

    def _send(self, data: bytes) -> None:
        if self._transport is not None and self._address is not None:
            self._transport.sendto(data, self._address)
            self.sent += 1
