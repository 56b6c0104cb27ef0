"""Restricted means restricted, against a real hub: random command sequences from fire, police, medical, a
drone pilot and a supervisor, each console on its own raw websocket. Checked on the **bytes** every console,
the CoT output and the `feeds` query delivered: no restricted id, address, caller, note or chat line reaches a
viewer who may not see it; and at the end every live console's picture equals a fresh snapshot for its
account (docs/security.md, "Who may see what")."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect

from app.domain.events import Event
from app.domain.lifecycle import UNIT_TRANSITIONS
from app.domain.narrative import incident_of
from app.domain.picture import Picture, Viewer
from app.protocol.client_session import ClientSession
from app.protocol.messages import Ack, Reject, Result
from app.store.log import LogReader
from app.store.users import UserStore
from tests.images import png_bytes
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.pictures import differences

#: Console account -> the viewer it is (as the hub decides it from role and agency).
VIEWERS = {"fire1": Viewer("fire"), "police1": Viewer("police"), "medical1": Viewer("medical"),
           "pilot1": Viewer("police"), "super1": Viewer("fire", supervisor=True),
           "fire2": Viewer("fire"), "medical2": Viewer("medical"), "observer1": Viewer("police")}
#: Consoles that only watch, and now and then drop off for a few steps and resume from the log's tail.
WATCHERS = ("fire2", "medical2", "observer1")
DISPATCHERS = {"fire": "fire1", "police": "police1", "medical": "medical1"}
FLEET = [("E1", "fire", "engine"), ("E2", "fire", "engine"), ("L1", "fire", "ladder"), ("P1", "police", "patrol"),
         ("P2", "police", "patrol"), ("P3", "police", "k9"), ("M1", "medical", "ambulance"),
         ("M2", "medical", "ambulance")]
TYPES = ["structure_fire", "assault", "burglary", "medical_emergency"]
LAT, LON = 60.1699, 24.9384
#: Every restricted-worthy text the test writes carries one of these, so it can be found in any bytes.
TOKEN = re.compile(r"TKN\d{4}")
STEPS = 120
PNG = base64.b64encode(png_bytes()).decode()
SEEDS = (7, 2026)


@dataclass
class Console:
    """A console on a raw websocket: every frame it receives is kept as it came, and folded by the protocol's
    own `ClientSession` (which resumes from its last sequence number after `reconnect`)."""

    url: str
    user: str
    subscribe: bool = True
    session: ClientSession = field(init=False)
    received: list[bytes] = field(default_factory=list)
    events: dict[int, Event] = field(default_factory=dict)
    ws: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    answers: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    caught_up: bool = False
    tails: int = 0  # reconnections served from the log since the last event folded

    def __post_init__(self) -> None:
        self.session = ClientSession(self.user, PASSWORD, subscribe=self.subscribe)

    async def connect(self) -> None:
        if self.session.last_seq is not None:
            self.tails += 1
        self.caught_up = False
        self.ws = await connect(self.url, max_size=None)
        await self.ws.send(self.session.hello().decode())
        self.reader = asyncio.get_running_loop().create_task(self._read(self.ws))
        await self.wait(lambda: self.caught_up if self.subscribe else self.session.welcome is not None)

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                raw = frame.encode() if isinstance(frame, str) else bytes(frame)
                self.received.append(raw)
                update, replies = self.session.receive(raw)
                for reply in replies:
                    await ws.send(reply.decode())
                self.events.update((e.seq, e) for e in update.events)
                for answer in [*update.acks, *update.rejects, *update.results]:
                    future = self.answers.pop(answer.id or "", None)
                    if future is not None and not future.done():
                        future.set_result(answer)
                self.caught_up = self.caught_up or update.caught_up
                self.changed.set()

    async def wait(self, condition: Any, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def command(self, name: str, args: dict[str, Any]) -> Ack | Reject:
        assert self.ws is not None
        outgoing = self.session.new_command(name, args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.answers[outgoing.id] = future
        await self.ws.send(ClientSession.frame_for(outgoing).decode())
        async with asyncio.timeout(15):
            return await future  # type: ignore[no-any-return]

    async def query(self, what: str) -> Result | Reject:
        assert self.ws is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        query_id = f"q-{len(self.received)}-{what}"
        self.answers[query_id] = future
        await self.ws.send(msgspec.json.encode({"type": "query", "id": query_id, "what": what}).decode())
        async with asyncio.timeout(15):
            return await future  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader

    @property
    def picture(self) -> Picture:
        return self.session.picture

    def bytes(self) -> bytes:
        return b"\n".join(self.received)


class CotListener(asyncio.DatagramProtocol):
    """Collects the datagrams of the hub's CoT output (what TAK users would see)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)


@pytest.fixture
def cot_port() -> int:
    return free_port()


@pytest.fixture
def hub(tmp_path: Path, cot_port: int) -> Iterator[HubProcess]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    users = UserStore(db)
    users.add("pilot1", PASSWORD, "drone_operator", "police")
    users.add("fire2", PASSWORD, "dispatcher", "fire")
    users.add("medical2", PASSWORD, "dispatcher", "medical")
    users.add("policefeed", PASSWORD, "feed", "police")
    users.close()
    process = HubProcess(db, free_port(), ["--cot-out", f"udp://127.0.0.1:{cot_port}"])
    process.start()
    yield process
    process.stop()
    process.kill()


class Floor:
    """The consoles of one run and the random commands they send."""

    def __init__(self, hub: HubProcess, seed: int) -> None:
        self.hub = hub
        self.rng = random.Random(seed)
        self.consoles = {user: Console(hub.url, user) for user in VIEWERS}
        self.tokens = 0
        self.incidents: list[str] = []
        self.offline: set[str] = set()

    def token(self) -> str:
        self.tokens += 1
        return f"TKN{self.tokens:04d}"

    async def do(self, user: str, name: str, args: dict[str, Any]) -> Ack | Reject:
        return await self.consoles[user].command(name, args)

    async def step(self) -> None:
        rng, pick = self.rng, self.rng.choice
        # Mostly the last few calls, so that units, drones, chat and restriction changes meet on the same ones.
        recent = self.incidents[-4:] if rng.random() < 0.75 else self.incidents
        incident = pick(recent) if recent else None
        someone = self.involved(incident) if incident is not None and rng.random() < 0.75 else \
            pick([*DISPATCHERS.values(), "super1"])
        action = rng.choices(["create", "update", "note", "chat", "assign", "status", "aid", "answer", "drone",
                              "zone", "unzone", "report", "merge", "attach", "close", "reopen", "watcher"],
                             [5, 4, 3, 3, 5, 5, 2, 2, 4, 1, 1, 1, 1, 1, 1, 1, 6])[0]
        if action == "create" or incident is None:
            user = pick(list(DISPATCHERS.values()))
            answer = await self.do(user, "incident.create", {
                "type": pick(TYPES), "lat": LAT + rng.uniform(-0.002, 0.002), "lon": LON + rng.uniform(-0.002, 0.002),
                "address": f"{self.token()} Street", "caller": f"Caller {self.token()}",
                "notes": f"Notes {self.token()}", "restricted": rng.random() < 0.6})
            assert isinstance(answer, Ack), answer
            self.incidents.append(self.consoles[user].events[answer.seqs[0]].data["id"])
        elif action == "update":
            args: dict[str, Any] = {"incident": incident, "address": f"{self.token()} Road"}
            if rng.random() < 0.7:
                args["restricted"] = rng.random() < 0.5
            if rng.random() < 0.5:
                args["caller"] = f"Caller {self.token()}"
            await self.do(someone, "incident.update", args)
        elif action == "note":
            await self.do(someone, "incident.note", {"incident": incident, "text": f"Note {self.token()}"})
        elif action == "chat":
            await self.do(someone, "message.send", {"channel": f"incident:{incident}", "text": f"Chat {self.token()}"})
        elif action == "assign":
            units = self.consoles["super1"].picture.units
            free = [u for u in FLEET if units[u[0]].status == "available"] or FLEET
            unit = pick(free)
            user = "super1" if rng.random() < 0.35 else DISPATCHERS[unit[1]]
            await self.do(user, "unit.assign", {"unit": unit[0], "incident": incident})
        elif action == "status":
            unit_id, agency, _ = pick(FLEET)
            unit = self.consoles["super1"].picture.units.get(unit_id)
            if unit is not None:
                choices = sorted(UNIT_TRANSITIONS[unit.status])
                await self.do(DISPATCHERS[agency], "unit.status", {"unit": unit_id, "status": pick(choices)})
        elif action == "aid":
            await self.do(someone, "aid.request", {"incident": incident, "agency": pick(list(DISPATCHERS)),
                                                   "note": "please send help"})
        elif action == "answer":
            agency = pick(list(DISPATCHERS))
            pending = sorted(r.id for r in self.consoles[DISPATCHERS[agency]].picture.aid_requests.values()
                             if r.to_agency == agency and r.state == "pending")
            if pending:
                await self.do(DISPATCHERS[agency], "aid.answer", {"request": pick(pending),
                                                                  "accept": rng.random() < 0.7})
        elif action == "drone":
            await self.do(pick(["pilot1", "super1"]), "drone.assign", {
                "drone": "UAV1", "incident": None if rng.random() < 0.2 else incident})
        elif action == "zone":
            await self.do(someone, "zone.create", {"name": f"Cordon {self.rng.randint(1, 99)}", "polygon": [
                [LAT, LON], [LAT + 0.001, LON], [LAT + 0.001, LON + 0.001]]})
        elif action == "unzone":
            zones = sorted(self.consoles["super1"].picture.zones)
            if zones:
                await self.do(someone, "zone.remove", {"zone": pick(zones)})
        elif action == "report":
            seen = self.consoles["super1"].picture.incidents.get(incident)
            if seen is not None:
                # Half of them a resident's, scoped to one agency (app/domain/residents.py).
                scoped = {"agency": pick(["fire", "police", "medical"])} if self.rng.random() < 0.5 else {}
                await self.do("super1", "report.submit", {"source": "app", "source_id": "resident-1",
                                                          "type": seen.type, "lat": seen.lat, "lon": seen.lon,
                                                          **scoped})
        elif action == "merge":
            pending = sorted(k for k, v in self.consoles["super1"].picture.candidates.items() if v.state == "pending")
            if pending:
                await self.do(someone, "candidate.merge", {"candidate": pick(pending), "incident": incident})
        elif action == "attach":
            await self.do(pick([someone, "pilot1"]), "incident.attach", {
                "incident": incident, "mime": "image/png", "data_b64": PNG, "caption": f"Photo {self.token()}"})
        elif action == "close":
            await self.do(someone, "incident.close", {"incident": incident, "disposition": "resolved"})
        elif action == "reopen":
            await self.do("super1", "incident.reopen", {"incident": incident, "reason": f"Again {self.token()}"})
        else:
            await self.toggle(pick(WATCHERS))

    def involved(self, incident: str) -> str:
        """A dispatcher of an agency working the incident (as the supervisor's console knows it), or the
        supervisor: most commands should be allowed, so that the run goes somewhere."""
        known = self.consoles["super1"].picture.incidents.get(incident)
        agencies = [a for a in known.agencies if a in DISPATCHERS] if known is not None else []
        return DISPATCHERS[self.rng.choice(agencies)] if agencies and self.rng.random() < 0.85 else "super1"

    async def toggle(self, user: str) -> None:
        """A watching console drops off, or comes back and is sent the tail of what it missed."""
        console = self.consoles[user]
        if user in self.offline:
            self.offline.discard(user)
            await console.connect()
        else:
            self.offline.add(user)
            await console.close()


@dataclass
class Sight:
    """From the log: when each incident was visible to whom, and where each token was first written."""

    audiences: list[tuple[int, dict[str, list[str] | None]]]  # (seq, incident -> audience after it)
    tokens: dict[str, tuple[str, int]]  # token -> (incident, seq it was written at)
    asked: dict[str, set[str]]  # incident -> agencies asked for aid on it (they see the request)

    @classmethod
    def of(cls, db: Path) -> Sight:
        reader = LogReader(db)
        try:
            events = reader.events_since(0)
        finally:
            reader.close()
        picture, audiences, tokens, asked = Picture(), [], {}, {}
        for event in events:
            picture.apply(event)
            audiences.append((event.seq, {i: picture.incident_audience(i) for i in picture.incidents}))
            about = incident_of(event)
            if event.kind == "aid.requested":
                asked.setdefault(event.data["incident"], set()).add(event.data["to_agency"])
            for token in TOKEN.findall(msgspec.json.encode(event.data).decode()):
                tokens.setdefault(token, (str(about), event.seq))
        return cls(audiences, tokens, asked)

    def ever_sees(self, viewer: Viewer, incident: str, from_seq: int = 0) -> bool:
        """Whether `viewer` may see `incident` at any moment from `from_seq` on (then it may be sent all of it)."""
        return any(incident in seen and viewer.may_see(seen[incident])
                   for seq, seen in self.audiences if seq >= from_seq)

    def leaks(self, viewer: Viewer, received: bytes) -> list[str]:
        """Restricted things in `received` that `viewer` may never see."""
        out = [f"{token} of incident {incident}" for token, (incident, seq) in self.tokens.items()
               if not self.ever_sees(viewer, incident, seq) and (token.encode() in received
                                                                  or token.encode().hex().encode() in received)]
        incidents = {i for _, seen in self.audiences for i in seen}
        for incident in sorted(incidents):
            if self.ever_sees(viewer, incident) or viewer.agency in self.asked.get(incident, ()):
                continue
            for form in (f'"{incident}"', f"incident:{incident}", f"incident.{incident}"):
                if form.encode() in received:
                    out.append(f"incident {incident} as {form}")
        return out


async def _feeds_answer_only_own_quarantine(hub: HubProcess, consoles: dict[str, Console]) -> str:
    """A police feed account's refused input (which names a token) is read by police and the supervisor only."""
    feed = Console(hub.url, "policefeed", subscribe=False)
    await feed.connect()
    secret = "TKN9999 police informant at Hidden Lane 4"
    answer = await feed.command("message.send", {"channel": "agency:fire", "text": secret})
    assert isinstance(answer, Reject) and answer.code == "forbidden"
    await feed.close()
    for user in ("fire1", "medical1", "police1", "super1"):
        async with asyncio.timeout(10):
            while True:  # the quarantine is noted on the hub's loop right after the reject was sent
                result = await consoles[user].query("feeds")
                assert isinstance(result, Result), result
                if any(f["quarantined"] for f in result.data["feeds"] if f["name"] == "websocket"):
                    break
        answered = msgspec.json.encode(result)
        readable = b"TKN9999".hex().encode() in answered
        assert readable == (user in ("police1", "super1")), user
        if not readable:
            assert b"TKN9999" not in answered and b"Hidden Lane" not in answered
    return "TKN9999"


@pytest.mark.parametrize("seed", SEEDS)
def test_no_console_receives_what_it_may_not_see_and_every_console_equals_its_snapshot(
        hub: HubProcess, cot_port: int, seed: int) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        cot = CotListener()
        transport, _ = await loop.create_datagram_endpoint(lambda: cot, local_addr=("127.0.0.1", cot_port))
        floor = Floor(hub, seed)
        try:
            for console in floor.consoles.values():
                await console.connect()
            for unit_id, agency, kind in FLEET:
                assert isinstance(await floor.do("super1", "unit.register", {
                    "id": unit_id, "agency": agency, "kind": kind, "lat": LAT, "lon": LON}), Ack)
            assert isinstance(await floor.do("pilot1", "drone.register", {"id": "UAV1", "agency": "police"}), Ack)
            await _feeds_answer_only_own_quarantine(hub, floor.consoles)
            for _ in range(STEPS):
                await floor.step()
            for user in sorted(floor.offline):
                await floor.toggle(user)
            tails = sum(console.tails for console in floor.consoles.values())
            assert tails >= 3, "the run must resume consoles from the log's tail"
            end = await floor.do("super1", "message.send", {"channel": "all", "text": "end of the run"})
            assert isinstance(end, Ack)
            for console in floor.consoles.values():  # everything before the last event has been sent to all
                await console.wait(lambda c=console: c.picture.seq >= end.seqs[-1])
            sight = Sight.of(hub.db)
            hidden = sum(1 for agency in DISPATCHERS for incident, seq in sight.tokens.values()
                         if not sight.ever_sees(Viewer(agency), incident, seq))
            assert hidden > 5, "the run must write things some agency may not see"
            for user, console in floor.consoles.items():
                assert sight.leaks(VIEWERS[user], console.bytes()) == [], user
            assert sight.leaks(Viewer(""), b"\n".join(cot.received)) == []  # the public: CoT out
            for user, console in floor.consoles.items():
                fresh = Console(hub.url, user)
                await fresh.connect()
                assert differences(console.picture, fresh.picture) == [], user
                await fresh.close()
        finally:
            transport.close()
            for console in floor.consoles.values():
                await console.close()

    asyncio.run(scenario())
