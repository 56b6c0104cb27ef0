"""Signal priority through a real hub: SREM over UDP to the real controller simulator, SSEM back, events in the
log and the picture; requests, re-sends, cancels and conflicts; and a hub whose priority service is down."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.city.loader import load_city
from app.client.connection import HubClient
from app.domain.picture import Picture
from app.feeds.signal_priority import (
    PriorityRequest,
    PriorityStatus,
    SignalRequest,
    SignalStatus,
    decode_srem,
    decode_ssem,
    encode_srem,
    encode_ssem,
    its_time,
)
from app.hub.signal_link import station_id
from app.sim.signal_controller import SignalControllers, serve
from tests.integration.conftest import ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import signed_in, until

LatLon = tuple[float, float]


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ControllerThread:
    """The controller simulator on its own loop in a thread, listening on a UDP port."""

    def __init__(self) -> None:
        self.controllers = SignalControllers()
        self.port = udp_port()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.transport = self.loop.run_until_complete(serve(self.controllers, "127.0.0.1", self.port))
        self.started.set()
        self.loop.run_forever()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.transport.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def requests(self, kind: str) -> list[tuple[str, int]]:
        """(unit, intersection) of every request of `kind` received so far."""
        return [(m.name, r.intersection) for m in list(self.controllers.received) for r in m.requests
                if r.kind == kind]


@pytest.fixture
def controllers() -> Iterator[ControllerThread]:
    thread = ControllerThread()
    yield thread
    thread.stop()


def start_hub(tmp_path: Path, target_port: int) -> HubProcess:
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--signal-priority", f"udp://127.0.0.1:{target_port}"])
    hub.start(timeout=90)  # the hub builds the city's road graph on first use
    return hub


def a_route() -> tuple[LatLon, LatLon, list[int], LatLon]:
    """A drive across central Helsinki through several lights: origin, destination, the lights in order, and a
    point on the road just past the second light."""
    roads = load_city().roads
    origin, destination = (60.167, 24.9386), (60.176, 24.9494)
    passes = roads.signal_passes(origin, destination, 1.3)
    assert len(passes) >= 4, passes
    by_id = {s.id: s for s in roads.signals}
    second = by_id[passes[1].intersection]
    line = roads.route(origin, destination)
    at = min(range(len(line)), key=lambda i: abs(line[i][0] - second.lat) + abs(line[i][1] - second.lon))
    return origin, destination, [p.intersection for p in passes], line[min(at + 2, len(line) - 1)]


def states(picture: Picture, unit: str) -> dict[int, str]:
    return {i: s.state for i, s in picture.signals.items() if s.unit == unit}


async def respond(feed: HubClient, dispatcher: HubClient, unit: str, kind: str, agency: str, itype: str,
                  origin: LatLon, destination: LatLon) -> str:
    """Register `unit` at `origin`, open an `itype` call at `destination`, send the unit and set it en route."""
    await feed.call("unit.register", {"id": unit, "agency": agency, "kind": kind, "lat": origin[0], "lon": origin[1]})
    created = await dispatcher.call("incident.create", {"type": itype, "lat": destination[0], "lon": destination[1]})
    await dispatcher.wait_for(lambda: dispatcher.picture.seq >= created.seqs[-1])
    incident = max(dispatcher.picture.incidents, key=int)
    await dispatcher.call("unit.assign", {"unit": unit, "incident": incident})
    await feed.call("unit.status", {"unit": unit, "status": "en_route"})
    assert feed.report("unit.position", {"unit": unit, "lat": origin[0], "lon": origin[1], "t": time.time()})
    return incident


def test_green_is_asked_granted_sent_again_and_cancelled_and_fire_takes_over_from_police(
        tmp_path: Path, controllers: ControllerThread) -> None:
    origin, destination, lights, past_second = a_route()
    hub = start_hub(tmp_path, controllers.port)

    async def scenario() -> None:
        async with signed_in(hub.url, "super1", "police1", "fire1", "feed1") as (boss, police, fire, feed):
            # A patrol on a robbery call (P1) asks every light ahead and the controllers grant them.
            await respond(feed, police, "P21", "patrol", "police", "robbery", origin, destination)
            await boss.wait_for(lambda: states(boss.picture, "P21").get(lights[0]) == "granted", 30)
            assert ("P21", lights[0]) in controllers.requests("request")
            # An engine on a structure fire (P1) along the same streets: fire over police at every crossing.
            await respond(feed, fire, "E11", "engine", "fire", "structure_fire", origin, destination)
            await boss.wait_for(lambda: all(states(boss.picture, "E11").get(i) == "granted" for i in lights[:4]), 30)
            assert not states(boss.picture, "P21").keys() & set(lights[:4])
            assert controllers.controllers.held[lights[0]].importance == 14
            await until(lambda: ("P21", lights[0]) in controllers.requests("cancel"))  # the patrol's was withdrawn
            # The police console sees the same crossings as the supervisor (the calls are not restricted).
            await police.wait_for(lambda: states(police.picture, "E11") == states(boss.picture, "E11"), 10)
            # The supervisor suspends priority around the last light on the way: it is let go there at once.
            last = next(s for s in load_city().roads.signals if s.id == lights[-1])
            assert lights[-1] in states(boss.picture, "E11")
            box = [[last.lat - 1.5e-4, last.lon - 3e-4], [last.lat - 1.5e-4, last.lon + 3e-4],
                   [last.lat + 1.5e-4, last.lon + 3e-4], [last.lat + 1.5e-4, last.lon - 3e-4]]
            await boss.call("signal.suspend", {"polygon": box, "note": "roadworks"})
            await boss.wait_for(lambda: lights[-1] not in states(boss.picture, "E11"), 15)
            await until(lambda: ("E11", lights[-1]) in controllers.requests("cancel"))

            # The engine drives past the first two lights: served, cancelled at the controller; the ETAs of the
            # lights still ahead moved up, so they are sent again.
            assert feed.report("unit.position", {"unit": "E11", "lat": past_second[0], "lon": past_second[1],
                                                 "t": time.time()})
            await boss.wait_for(lambda: states(boss.picture, "E11").get(lights[0]) == "served", 30)
            # (the picture may show it before the datagrams arrive: they go out once the events are committed)
            await until(lambda: ("E11", lights[0]) in controllers.requests("cancel"))
            await until(lambda: ("E11", lights[2]) in controllers.requests("update"))
            # On scene: everything it held is let go, at the controllers too.
            await feed.call("unit.status", {"unit": "E11", "status": "on_scene"})
            await boss.wait_for(lambda: states(boss.picture, "E11") == {}, 10)
            engine = station_id("E11")
            await until(lambda: engine not in {h.station for h in list(controllers.controllers.held.values())})

    try:
        asyncio.run(scenario())
    finally:
        hub.stop()
        hub.kill()


def test_with_the_priority_service_down_units_are_sent_and_nothing_is_assumed_granted(tmp_path: Path) -> None:
    origin, destination, lights, _ = a_route()
    hub = start_hub(tmp_path, udp_port())  # nothing listens there

    async def scenario() -> None:
        async with signed_in(hub.url, "super1", "fire1", "feed1") as (boss, fire, feed):
            incident = await respond(feed, fire, "E11", "engine", "fire", "structure_fire", origin, destination)
            await boss.wait_for(lambda: states(boss.picture, "E11").get(lights[0]) == "requested", 30)
            seen: set[str] = set()

            def timed_out() -> bool:
                seen.update(states(boss.picture, "E11").values())
                return states(boss.picture, "E11").get(lights[0]) == "unanswered"

            await boss.wait_for(timed_out, 30)  # no answer: the request ends (answer timeout), never granted
            assert seen == {"requested", "unanswered"}
            unit = boss.picture.units["E11"]
            assert (unit.status, unit.incident) == ("en_route", incident)

    try:
        asyncio.run(scenario())
    finally:
        hub.stop()
        hub.kill()


def test_answers_that_do_not_answer_what_was_asked_change_nothing(tmp_path: Path) -> None:
    """A service that lies or breaks: garbage is quarantined, a grant for a request never sent and a grant from
    another address are ignored; only a true answer from the service grants."""
    origin, destination, lights, _ = a_route()
    service = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    service.bind(("127.0.0.1", 0))
    service.settimeout(30)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hub = start_hub(tmp_path, service.getsockname()[1])

    def status(request: PriorityRequest, station: int, request_id: int) -> bytes:
        minute, ms = its_time(time.time())
        return encode_ssem(SignalStatus(99, minute, ms, 1, (PriorityStatus(
            request.intersection, station, request_id, 1, "fire", request.approach, "granted"),)))

    async def scenario() -> None:
        async with signed_in(hub.url, "super1", "fire1", "feed1") as (boss, fire, feed):
            await respond(feed, fire, "E11", "engine", "fire", "structure_fire", origin, destination)
            data, link = await asyncio.get_running_loop().run_in_executor(None, service.recvfrom, 4096)
            asked = decode_srem(data)
            first = next(r for r in asked.requests if r.intersection == lights[0])
            await boss.wait_for(lambda: states(boss.picture, "E11").get(lights[0]) == "requested", 30)

            service.sendto(b"\x02\x0a garbage", link)
            service.sendto(status(first, asked.station, (first.request_id + 1) % 256), link)  # never asked
            stranger.sendto(status(first, asked.station, first.request_id), link)  # right answer, wrong sender

            async def counted() -> bool:
                report = await boss.query("feeds")
                health = next(f for f in report["feeds"] if f["name"].startswith("signal_priority"))
                return bool(health["quarantined"] == 1 and health["ignored_kinds"].get("not_ours") == 1
                            and health["ignored_kinds"].get("not_the_service") == 1)

            deadline = time.monotonic() + 20
            while not await counted():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            assert states(boss.picture, "E11")[lights[0]] == "requested"  # none of it granted anything

            service.sendto(status(first, asked.station, first.request_id), link)  # the true answer
            await boss.wait_for(lambda: states(boss.picture, "E11").get(lights[0]) == "granted", 15)

    try:
        asyncio.run(scenario())
    finally:
        hub.stop()
        hub.kill()
        service.close()
        stranger.close()


def test_the_simulator_command_answers_a_request_over_udp() -> None:
    """`watchfloor signals sim` as its own process: an SREM in, the SSEM granting it back."""
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "signals", "sim", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on udp://127.0.0.1:" in line, line
        port = int(line.rsplit(":", 1)[1])
        minute, ms = its_time(time.time())
        request = SignalRequest(7, minute, ms, 1, "ambulance", 14, "A22",
                                (PriorityRequest(5, 1, "request", 2, minute, ms, 20_000),))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(10)
            client.sendto(encode_srem(request), ("127.0.0.1", port))
            answer = decode_ssem(client.recvfrom(4096)[0])
        assert [(s.intersection, s.station, s.status) for s in answer.statuses] == [(5, 7, "granted")]
    finally:
        proc.terminate()
        proc.wait(10)
