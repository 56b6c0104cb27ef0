"""Failure modes against a real hub process: a full disk, a broken database file, outputs fed bad values.

The full disk is a real one: a small tmpfs mounted for the test (CI runs as root; elsewhere the test is skipped
and says why). The hub must refuse commands with `unavailable` (not close connections with 1011), raise an alarm
consoles can see, and take commands again by itself once space returns, with nothing acknowledged lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.hub.cap_fetch import FetchLimits, FetchRefused, fetch, internal, parse_networks
from app.protocol import codes
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, ROOT, HubProcess, free_port, make_accounts
from tests.integration.test_feed_io import (
    Served,
    TakListener,
    atom,
    flood,
    issued_events,
    new_alert,
    put,
    quarantined_codes,
)
from tests.integration.waiting import until


@contextlib.contextmanager
def small_disk(where: Path, size: str = "3m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (root only), unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a disk that really fills) needs root; CI runs as root")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Write `path` until the disk has no space left."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with open(path, "ab", buffering=0) as f, contextlib.suppress(OSError):  # the last bytes of the last block
        while True:
            f.write(b"\0")


class Console:
    """A signed-in websocket that reads replies in the background and matches them by id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.replies: dict[str, dict] = {}
        self.errors: list[dict] = []  # error frames (no id: the frame could not be read)
        self.closed: tuple[int, str] | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.counter = 0

    @classmethod
    async def sign_in(cls, url: str, user: str = "fire1") -> Console:
        ws = await connect(url, max_size=None)
        await ws.send(json.dumps({"type": "hello", "v": 1, "user": user, "password": PASSWORD}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:  # ends quietly on a normal close
                message = json.loads(frame)
                if message.get("id") is not None:
                    self.replies[message["id"]] = message
                elif message.get("type") == "error":
                    self.errors.append(message)
        except ConnectionClosed:
            pass  # closed with a code other than 1000: recorded below
        finally:
            if self.ws.close_code is not None:
                self.closed = (self.ws.close_code, self.ws.close_reason or "")

    async def ask(self, frame: dict, timeout: float = 20.0) -> dict:
        self.counter += 1
        frame = {**frame, "id": f"{frame['type'][0]}{self.counter}"}
        await self.ws.send(json.dumps(frame))
        await until(lambda: frame["id"] in self.replies or self.closed is not None, timeout)
        assert self.closed is None, f"the hub closed the connection: {self.closed}"
        return self.replies[frame["id"]]

    async def command(self, name: str, args: dict) -> dict:
        return await self.ask({"type": "command", "name": name, "args": args})

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def test_a_full_disk_refuses_commands_as_unavailable_raises_an_alarm_and_recovers_by_itself(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "hub.db"
        make_accounts(db)
        drop = tmp_path / "drop"  # a CAP drop folder on another disk: alerts keep arriving during the outage
        hub = HubProcess(db, free_port(), ["--cap-dir", str(drop)])
        hub.start()
        acked: list[int] = []
        try:
            async def scenario() -> None:
                console = await Console.sign_in(hub.url)
                supervisor = await Console.sign_in(hub.url, "super1")
                created = await console.command("incident.create", {"type": "structure_fire", "lat": 60.17,
                                                                    "lon": 24.94})
                assert created["type"] == "ack"
                acked.extend(created["seqs"])
                incident = "1001"
                fill(disk / "filler")
                # Until the WAL must grow, SQLite may still find room: note until the disk says no.
                refused = None
                for i in range(150):  # within the console's burst of 200: no rate_limited answers
                    answer = await console.command("incident.note", {"incident": incident, "text": f"{i} " * 900})
                    if answer["type"] == "ack":
                        acked.extend(answer["seqs"])
                        continue
                    refused = answer
                    break
                assert refused is not None, "the disk never filled"
                assert refused["code"] == "unavailable" and "event log" in refused["message"], refused
                # While the alarm stands, every command is refused at once, the connection stays up.
                again = await console.command("incident.note", {"incident": incident, "text": "still full?"})
                assert again["code"] == "unavailable"
                health = await supervisor.ask({"type": "query", "what": "feeds"})
                alarms = health["data"]["alarms"]
                assert [a["code"] for a in alarms] == ["log_unavailable"] and alarms[0]["reason"]
                assert any("ALARM" in line and "event log" in line for line in hub.output)
                # A CAP alert dropped meanwhile cannot be stored: it is refused, and read again next round.
                put(drop / "storm.xml", new_alert("FI-DURING-OUTAGE", int(time.time()), "Storm"))

                async def cap_refused() -> bool:
                    feeds = (await supervisor.ask({"type": "query", "what": "feeds"}))["data"]["feeds"]
                    cap = next((f for f in feeds if f["name"] == "cap"), {"recent": []})
                    return any(item["code"] == "unavailable" for item in cap["recent"])

                while not await cap_refused():
                    await asyncio.sleep(0.2)  # poll the hub as `until` polls (within the rate limit)
                (disk / "filler").unlink()
                # Space is back: the hub notices by itself (no restart) and takes commands again.
                async def accepted() -> dict:
                    while True:
                        answer = await console.command("incident.note", {"incident": incident, "text": "back"})
                        if answer["type"] == "ack":
                            return answer
                        assert answer["code"] == "unavailable"
                        await asyncio.sleep(0.2)  # ask again, as `until` polls (within the rate limit)
                back = await asyncio.wait_for(accepted(), 30)
                acked.extend(back["seqs"])
                assert (await supervisor.ask({"type": "query", "what": "feeds"}))["data"]["alarms"] == []
                assert console.closed is None and supervisor.closed is None
                await until(lambda: any(e["id"] == "FI-DURING-OUTAGE" for e in issued_events(db)))
                await console.close()
                await supervisor.close()

            asyncio.run(scenario())
        finally:
            hub.stop()
            hub.kill()
        reader = LogReader(db)
        try:
            stored = {e.seq for e in reader.iter_events()}
            assert set(acked) <= stored  # nothing acknowledged is lost
            assert stored == set(range(1, max(stored) + 1))  # and nothing refused left a hole
            assert reader.verify_chain()[1] is None
            outage = [row for row in reader.access_log() if row["what"] == "event_log"]
            assert outage and outage[0]["outcome"] == "unavailable"
        finally:
            reader.close()


def watchfloor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


def one_sentence(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line on stderr and no traceback."""
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize("command", ["hub --db DB --port 0", "audit verify --db DB", "user --db DB list",
                                     "review figures --db DB", "replay --db DB"])
def test_a_corrupt_database_gives_one_clear_sentence_and_a_non_zero_exit(tmp_path: Path, command: str) -> None:
    db = tmp_path / "hub.db"
    db.write_bytes(bytes(range(256)) * 80)  # not SQLite at all: what a disk error or a wrong file gives
    said = one_sentence(watchfloor(*command.replace("DB", str(db)).split()))
    assert str(db) in said and "not a" in said


def test_a_database_in_a_directory_that_cannot_be_made_gives_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    db = tmp_path / "file" / "logs" / "hub.db"
    said = one_sentence(watchfloor("hub", "--db", str(db), "--port", "0"))
    assert str(db) in said and "Not a directory" in said


def test_a_read_only_database_stops_the_hub_with_one_sentence_and_can_still_be_audited(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "hub.db"
        make_accounts(db)
        hub = HubProcess(db, free_port())  # once, so the log has the signed checkpoint an audit checks it against
        hub.start()
        hub.stop()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        said = one_sentence(watchfloor("hub", "--db", str(db), "--port", "0"))
        assert str(db) in said and "write" in said
        audit = watchfloor("audit", "verify", "--db", str(db))  # an audit only reads: read-only media are fine
        assert audit.returncode == 0 and "intact" in audit.stdout, audit


def test_values_that_once_poisoned_an_output_are_refused_where_they_enter_and_the_outputs_go_on(
        tmp_path: Path) -> None:
    """t=-1e308 once stopped CoT out and expires=1e308 the CAP outbox, for good, seen only at shutdown."""
    outbox = tmp_path / "cap-out"

    async def scenario() -> None:
        tak = TakListener()
        tak_port = await tak.start()
        db = tmp_path / "hub.db"
        make_accounts(db)
        hub = HubProcess(db, free_port(), ["--cot-out", f"tcp://127.0.0.1:{tak_port}", "--cap-out", str(outbox)])
        await asyncio.get_running_loop().run_in_executor(None, hub.start)
        try:
            supervisor = await Console.sign_in(hub.url, "super1")
            feed = await Console.sign_in(hub.url, "feed1")
            registered = await supervisor.command("unit.register", {"id": "E12", "agency": "fire", "kind": "engine"})
            assert registered["type"] == "ack"
            for t in (-1e308, 1e308, 0):
                refused = await feed.command("unit.position", {"unit": "E12", "lat": 60.1, "lon": 24.9, "t": t})
                assert refused["type"] == "reject" and refused["code"] in ("bad_time", "clock_skew"), refused
            area = [{"circle": [60.17, 24.94, 300]}]
            refused = await supervisor.command("alert.issue", {"headline": "Flood", "areas": area, "expires": 1e308})
            assert refused["code"] == "bad_time" and "expires" in refused["message"]
            # The outputs carry on with the next good values.
            moved = await feed.command("unit.position", {"unit": "E12", "lat": 60.169, "lon": 24.943})
            assert moved["type"] == "ack"
            issued = await supervisor.command("alert.issue", {"headline": "Flood", "areas": area})
            assert issued["type"] == "ack"
            await until(lambda: (e := tak.latest("watchfloor.unit.E12")) is not None and abs(e.lat - 60.169) < 1e-9)
            await until(lambda: any(outbox.glob("AL-1.*.xml")))
            health = {f["name"]: f for f in (await supervisor.ask({"type": "query", "what": "feeds"}))["data"]["feeds"]}
            assert health[f"cot_out tcp://127.0.0.1:{tak_port}"]["accepted"] >= 1
            assert health["cot_out tcp://127.0.0.1:" + str(tak_port)]["quarantined"] == 0
            await supervisor.close()
            await feed.close()
        finally:
            hub.stop()
            hub.kill()
        assert not any("Traceback" in line for line in hub.output), "".join(hub.output)

    asyncio.run(scenario())


# --- CAP fetching: deadline, size cap, internal addresses; CAP files the parser cannot read ------------------


class Dripping:
    """An HTTP server on 127.0.0.1 that answers every GET with headers, then one body byte every 2 s (or, with
    `endless`, megabytes as fast as it can), counting requests."""

    def __init__(self, endless: bool = False) -> None:
        self.requests = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(65536)
                outer.requests += 1
                with contextlib.suppress(OSError):
                    self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/cap+xml\r\n"
                                         b"Content-Length: 100000000\r\n\r\n<")
                    while not stop.is_set():
                        if endless:
                            self.request.sendall(b"<a>" * 65536)
                        else:
                            self.request.sendall(b"a")
                            stop.wait(2.0)  # the drip's pace (the server's behaviour, not a wait in the test)

        stop = self.stop = threading.Event()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts.xml"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_fetch_ends_at_its_deadline_reads_no_more_than_its_cap_and_keeps_out_of_internal_addresses() -> None:
    drip = Dripping()
    flood_server = Dripping(endless=True)
    try:
        trusting = FetchLimits(deadline_s=2.0, max_bytes=1000, allow=parse_networks(["127.0.0.1"]))
        with pytest.raises(FetchRefused) as stalled:
            fetch(urllib.request.Request(drip.url), trusting)
        assert stalled.value.code == "stalled"
        status, body, _ = fetch(urllib.request.Request(flood_server.url), trusting)
        assert status == 200 and len(body) == 1001  # the cap, plus the byte that says it was exceeded
        for address in ("127.0.0.1", "localhost"):  # loopback, by number or by name
            with pytest.raises(FetchRefused) as refused:
                fetch(urllib.request.Request(flood_server.url.replace("127.0.0.1", address)), FetchLimits())
            assert refused.value.code == "forbidden_address" and "--cap-allow" in refused.value.reason
        assert [internal(a) for a in ("10.1.2.3", "169.254.169.254", "192.168.1.1", "::1", "fd00::1",
                                      "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0", "8.8.8.8", "2001:4860::8888")] \
            == [True] * 8 + [False] * 2
    finally:
        drip.close()
        flood_server.close()


def test_a_dripping_cap_url_shows_as_stalled_and_polling_goes_on(tmp_path: Path) -> None:
    drip = Dripping()
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cap-url", drip.url, "--cap-interval", "0.2", "--cap-deadline", "2"])
    hub.start()

    async def scenario() -> None:
        supervisor = await Console.sign_in(hub.url, "super1")

        async def cap_health() -> dict:
            feeds = (await supervisor.ask({"type": "query", "what": "feeds"}))["data"]["feeds"]
            return next(f for f in feeds if f["name"] == "cap")

        async def stalled() -> dict:
            while (health := await cap_health())["health"] != "stalled":
                assert health["health"] == "idle"  # not yet: the first fetch is still dripping
                await asyncio.sleep(0.1)  # poll the hub as `until` polls (within the console's rate limit)
            return health

        health = await asyncio.wait_for(stalled(), 30)
        assert "within 2 s" in health["problem"]["reason"]
        await until(lambda: drip.requests >= 2)  # the next round polls again
        await supervisor.close()

    try:
        asyncio.run(scenario())
    finally:
        hub.stop()
        hub.kill()
        drip.close()


def test_cap_index_links_to_internal_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    now = int(time.time())
    site = tmp_path / "site"
    site.mkdir()
    put(site / "alert.xml", flood(now)["alert"])
    served = Served(site)
    inward = served.url("alert.xml").replace("127.0.0.1", "localhost")  # the same server, by another name
    put(site / "index.atom", atom([("urn:1", "t1", inward)]))

    def hub_polling(name: str, *extra: str) -> HubProcess:
        (tmp_path / name).mkdir()
        db = tmp_path / name / "hub.db"
        make_accounts(db)
        process = HubProcess(db, free_port(), ["--cap-url", served.url("index.atom"), "--cap-interval", "0.3",
                                               *extra])
        process.start()
        return process

    strict = hub_polling("strict")
    try:
        asyncio.run(until(lambda: "forbidden_address" in quarantined_codes(strict.db)))
        assert served.hits["/alert.xml"] == 0 and served.hits["/index.atom"] >= 1
    finally:
        strict.stop()
        strict.kill()
    allowing = hub_polling("allowing", "--cap-allow", "127.0.0.0/8")
    try:
        asyncio.run(until(lambda: len(issued_events(allowing.db)) == 1))
        assert served.hits["/alert.xml"] == 1
    finally:
        allowing.stop()
        allowing.kill()
        served.close()


def test_a_cap_file_in_an_unknown_encoding_is_quarantined_and_the_rest_of_its_round_applied(tmp_path: Path) -> None:
    now = int(time.time())
    drop = tmp_path / "drop"
    drop.mkdir()
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cap-dir", str(drop)])
    hub.start()
    first, second = new_alert("FI-ONE", now, "Storm one"), new_alert("FI-TWO", now, "Storm two")
    odd = first.replace(b"encoding='UTF-8'", b"encoding='x-martian'").replace(b"FI-ONE", b"FI-ODD")
    assert odd != first.replace(b"FI-ONE", b"FI-ODD")
    try:
        # Written aside and renamed in together: one scan round sees all three.
        for name, data in (("a.xml", first), ("b.xml", odd), ("c.xml", second)):
            (drop / f".{name}").write_bytes(data)
        for name in ("a.xml", "b.xml", "c.xml"):
            os.replace(drop / f".{name}", drop / name)
        asyncio.run(until(lambda: len(issued_events(db)) == 2 and "bad_encoding" in quarantined_codes(db)))
        assert {e["id"] for e in issued_events(db)} == {"FI-ONE", "FI-TWO"}

        async def over_the_websocket() -> None:
            feed = await Console.sign_in(hub.url, "feed1")
            refused = await feed.command("alert.cap", {"xml": odd.decode()})
            assert refused["code"] == "bad_encoding" and "UTF-8" in refused["message"]
            assert (await feed.ask({"type": "ping", "t": 1}))  # the connection still serves
            await feed.close()

        asyncio.run(over_the_websocket())
    finally:
        hub.stop()
        hub.kill()


# --- hostile frames at a real hub --------------------------------------------------------------------------


def test_json_nested_100k_deep_and_a_polygon_of_empty_corners_are_refused_and_the_connection_serves_on(
        hub: HubProcess) -> None:
    async def scenario() -> None:
        console = await Console.sign_in(hub.url)
        deep = '{"type": "command", "id": "d1", "name": "zone.create", "args": ' + "[" * 100_000 + "]" * 100_000 + "}"
        await console.ws.send(deep)
        await until(lambda: any(r.get("code") == "too_deep" for r in console.errors) or console.closed is not None)
        assert console.closed is None
        empty = await console.command("zone.create", {"name": "Cordon", "polygon": [[]]})
        assert empty["type"] == "reject" and empty["code"] == "bad_args"
        zone = await console.command("zone.create", {"name": "Cordon", "polygon": [[60.17, 24.94], [60.171, 24.94],
                                                                                  [60.171, 24.942]]})
        assert zone["type"] == "ack"
        await console.close()

    asyncio.run(scenario())


def test_a_console_flooding_far_over_its_rate_is_closed_with_4008(hub: HubProcess) -> None:
    async def scenario() -> None:
        console = await Console.sign_in(hub.url)
        ping = json.dumps({"type": "ping"})
        sent = 0
        with contextlib.suppress(ConnectionClosed):  # the hub closed it while we were sending
            while console.closed is None and sent < 200_000:
                await console.ws.send(ping)  # as fast as the socket takes them
                sent += 1
                if sent % 500 == 0:
                    await asyncio.sleep(0)  # let the reader see the close
        await until(lambda: console.closed is not None)
        assert console.closed is not None and console.closed[0] == codes.CLOSE_FLOOD and "flood" in console.closed[1]

    asyncio.run(scenario())
