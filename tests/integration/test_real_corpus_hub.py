"""Every file of the real-world corpus (tests/data/real), driven by its manifest, through the transport the hub
really takes it on into a real hub process (one hub per format), held to what a console sees.

Per file: what the hub's `feeds` report counts for it (accepted, ignored by kind, quarantined by code, as its
manifest entry says: `app/hub/feed_status.py`), and what a console's picture shows for what it accepts (the unit,
drone or camera at the manifest's place, the message or alert with the file's own words, the triage note).
Every file comes from a device of its own (its own UDP port, or its own token on TCP), registered for the units
and drones it names, so that the counts of one file are not mixed with another's.

Captures are replayed at the current time (`tests/replay_now.py`): the hub takes observed times only from the
last 7 days. MAVLink and KLV go as recorded (the hub times their fixes by when it receives them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pymavlink import mavutil
from takproto import xml2proto
from takproto.constants import TAKProtoVer

from app.client.connection import HubClient
from app.domain.devices import MAX_RATE
from app.feeds.cot import parse_cot
from app.feeds.cot_meaning import Broadcast, CameraFix, CotSenders, DroneFix, UnitFix, interpret, unit_id_for
from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.mavlink import MavlinkDecoder
from app.protocol.server_session import HUMAN_LIMIT
from tests.integration.conftest import PASSWORD, ROOT, HubProcess, free_port, make_accounts
from tests.integration.devices import register_device, send_stream
from tests.integration.waiting import signed_in
from tests.real_corpus import DATAGRAM, REAL, manifest
from tests.replay_now import cap_at, cot_at, nmea_at, takproto_mesh_at

ENTRIES: list[dict[str, Any]] = manifest()["file"]
#: Datagrams of an NMEA-over-UDP relay: whole sentences packed up to this size.
NMEA_DATAGRAM = 1024
#: Datagrams sent before waiting for the hub to count them: a burst no bigger than a socket buffer holds.
BURST = 64
#: Least seconds between two `feeds` queries: the supervisor's session may send HUMAN_LIMIT.rate messages a
#: second (50). Queries at most every 60 ms, with each file's two registrations, stay near 35/s however fast
#: the machine answers (unpaced, CI's faster machine was refused `rate_limited` mid-run).
POLL_S = 3 / HUMAN_LIMIT.rate
#: What the hub refuses beyond what its parsers do (the manifest's `quarantined`), and why: checks made on the
#: picture, which the parser-level reading (tests/real_corpus.py) does not make.
HUB_ALSO_REFUSES: dict[str, tuple[dict[str, int], str]] = {
    "nmea/bt451.log": ({"stale_position": 5}, "gpsd joined three recordings of one receiver; the second starts "
                       "earlier than the first ended, and a unit's position older than its last is stale"),
    "nmea/humminbird-M37.log": ({"stale_position": 9}, "the receiver's time goes backward, 194124 to 194111 "
                                "(gpsd's note in the log): the fixes older than the unit's last are stale"),
    "nmea/telit-he910.log": ({"stale_position": 1}, "the module's second fix (105153.408) is stamped before its "
                             "first (105153.71): older than the unit's last position, stale"),
}


def of_format(fmt: str) -> list[dict[str, Any]]:
    return [entry for entry in ENTRIES if entry["format"] == fmt]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), written out so the check does not lean on the code under test."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


class Sender:
    """A UDP socket on a port of its own: one device's address (``127.0.0.1:<port>``)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def send(self, port: int, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def senders() -> Iterator[Callable[[], Sender]]:
    made: list[Sender] = []

    def new() -> Sender:
        made.append(Sender())
        return made[-1]

    yield new
    for sender in made:
        sender.close()


def run_hub(tmp_path: Path, args: list[str], scenario: Callable[[HubProcess], Coroutine[Any, Any, None]]) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), args)
    hub.start()
    try:
        asyncio.run(scenario(hub))
    finally:
        hub.stop()
        hub.kill()


class Tally:
    """One feed's counters in the `feeds` report, before and after one file, as that file's share. The report
    shows the feed's newest RECENT quarantined inputs: their codes are read after every burst sent."""

    def __init__(self, console: HubClient, feed: str) -> None:
        self.console, self.feed = console, feed
        self.before: dict[str, Any] = {"received": 0, "accepted": 0, "ignored": 0, "quarantined": 0,
                                       "ignored_kinds": {}, "recent": []}
        self.seen = self.before
        self.codes: Counter[str] = Counter()
        self.unread = 0  # quarantined inputs whose codes scrolled out of the report before they were read
        self.asked_at = 0.0  # when the last `feeds` query went (queries are paced: POLL_S)

    async def now(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.asked_at + POLL_S - loop.time()))
        self.asked_at = loop.time()
        report = await self.console.query("feeds")
        after = next((f for f in report["feeds"] if f["name"] == self.feed), self.before)
        new = after["quarantined"] - self.seen["quarantined"]
        self.codes.update(item["code"] for item in after["recent"][:new])
        self.unread += max(0, new - len(after["recent"]))
        self.seen = after
        return after

    async def settle(self, entry: dict[str, Any], received: int, datagram_codes: dict[str, int] | None = None,
                     timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the hub has counted the file's `received` inputs and at least what its entry expects
        (accepted, each ignored kind, each quarantine); then hold the file's share to its entry exactly.
        `datagram_codes`: the quarantine of a feed that quarantines a datagram once, by its first error
        (MAVLink, KLV), where the entry counts every frame's; its codes are the entry's."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        what = entry["path"]
        codes = dict(Counter(entry["quarantined"]) + Counter(HUB_ALSO_REFUSES.get(what, ({}, ""))[0]))
        if datagram_codes is not None:
            assert set(datagram_codes) == set(codes), (what, datagram_codes)
            codes = datagram_codes
        while True:
            after = await self.now()
            share = self.share(after)
            if share["received"] >= received and (share["accepted"] > 0) >= (entry["outcome"] == "accepted") \
                    and set(entry["ignored"]) <= set(share["ignored_kinds"]) \
                    and share["quarantined"] >= sum(codes.values()):
                break
            if loop.time() > deadline:
                raise AssertionError(f"{what}: the hub counted {json.dumps(share)[:2000]}")
        self.before, self.codes, self.unread = after, Counter(), 0
        assert share["received"] == received, (what, json.dumps(share))
        assert (share["accepted"] > 0) == (entry["outcome"] == "accepted"), (what, json.dumps(share))
        assert sorted(share["ignored_kinds"]) == entry["ignored"], (what, json.dumps(share))
        assert share["quarantined"] == sum(codes.values()), (what, json.dumps(share))
        if share["unread"]:  # more in one burst than the report shows: the codes read are the expected ones
            assert set(share["codes"]) <= set(codes), (what, json.dumps(share))
        else:
            assert share["codes"] == codes, (what, json.dumps(share))
        return share

    def share(self, after: dict[str, Any]) -> dict[str, Any]:
        before = self.before
        kinds = {kind: n - before["ignored_kinds"].get(kind, 0) for kind, n in after["ignored_kinds"].items()}
        return {"received": after["received"] - before["received"],
                "accepted": after["accepted"] - before["accepted"],
                "ignored_kinds": {kind: n for kind, n in kinds.items() if n},
                "quarantined": after["quarantined"] - before["quarantined"],
                "codes": dict(self.codes), "unread": self.unread,
                "reasons": [item["reason"] for item in after["recent"][:3]]}


async def seen(console: HubClient, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    try:
        await console.wait_for(condition, timeout)
    except TimeoutError:
        raise AssertionError(f"{what} not seen by the console") from None


def placed(entry: dict[str, Any], where: tuple[float | None, float | None], parsed: tuple[float, float]) -> bool:
    """Whether a console's position is the one the entry expects: within `near` km of where the input was
    recorded, exactly `first` (an independent parser's reading), else where the file says it is."""
    lat, lon = where
    if lat is None or lon is None:
        return False
    if "near" in entry:
        return km((lat, lon), (entry["near"][0], entry["near"][1])) <= entry["near"][2]
    expected = entry.get("first", parsed)
    return abs(lat - expected[0]) < 1e-6 and abs(lon - expected[1]) < 1e-6


# -- CoT: XML over UDP and TCP, TAK protocol v1 mesh datagrams and stream frames ------------------------------


def cot_owner(data: bytes) -> tuple[list[str], list[str], Any]:
    """The units and drones a CoT file's device must be registered for, and what the event means (None when
    it is ignored or refused): the device registry is configuration, what the console sees is the test."""
    try:
        meaning = interpret(parse_cot(data), CotSenders(), ())
    except (FeedError, FeedIgnored):
        return [], [], None
    if isinstance(meaning, UnitFix):
        return [meaning.unit], [], meaning
    if isinstance(meaning, Broadcast):
        return [unit_id_for(meaning.speaker)], [], meaning
    if isinstance(meaning, DroneFix):
        return [], [meaning.drone], meaning
    return [], [], meaning


def cot_transport(n: int, path: str) -> str:
    """How file `n` goes: TAK protocol v1 files as mesh datagrams; XML alternately as a UDP datagram, a TCP
    stream, and (made by takproto from the replayed XML, as current TAK clients send) TAK protocol v1 stream
    frames over TCP. The broken event goes as one datagram, as its manifest entry reads it: on a TCP stream
    the framer would (rightly) read its early </event> as the end of one event and the rest as bytes between
    events, another count for the same bytes."""
    if path.endswith(".bin") or path.startswith("cot-refused/"):
        return "udp"
    return ("udp", "tcp", "tak-stream")[n % 3]


def test_every_real_cot_input_through_the_cot_port(tmp_path: Path, senders: Callable[[], Sender]) -> None:
    port = free_port()

    async def scenario(hub: HubProcess) -> None:
        async with signed_in(hub.url, "super1") as (console,):
            tally, start = Tally(console, "cot"), time.time() - len(of_format("cot")) - 1
            for n, entry in enumerate(of_format("cot")):
                raw = (REAL / entry["path"]).read_bytes()
                way = cot_transport(n, entry["path"])
                # Each file replayed at a second of its own, in the manifest's order: two captures of one device
                # (WinTAK's position as XML and as TAK protocol v1) are two reports, not one time twice (stale).
                at = start + n
                data = takproto_mesh_at(raw, at) if entry["path"].endswith(".bin") else replayed_cot(raw, at)
                units, drones, meaning = cot_owner(data)
                device = f"COT-{n}"
                if not units and not drones:  # a device reports for something: here, a unit of its own name
                    units = [device]
                if way == "udp":
                    sender = senders()
                    await register_device(console, device, "police", ["cot"], "udp", f"127.0.0.1:{sender.port}",
                                          units, drones, rate=MAX_RATE)
                    sender.send(port, data)
                else:
                    await register_device(console, device, "police", ["cot"], "tcp", units=units, drones=drones,
                                          token=device, rate=MAX_RATE)
                    sent = data.strip() + b"\n" if way == "tcp" else \
                        bytes(xml2proto(data.decode("utf-8"), TAKProtoVer.STREAM))
                    await send_stream(port, sent, token=device)
                await tally.settle(entry, 1)
                if entry["outcome"] == "accepted":
                    await cot_seen(console, entry, meaning)

    run_hub(tmp_path, ["--cot-port", str(port)], scenario)


def replayed_cot(raw: bytes, now: float) -> bytes:
    try:
        return cot_at(raw, now)
    except ValueError:  # no event time to move (a broken event): sent as it is
        return raw


async def cot_seen(console: HubClient, entry: dict[str, Any], meaning: Any) -> None:
    what = entry["path"]
    if isinstance(meaning, UnitFix):
        await seen(console, lambda: (u := console.picture.units.get(meaning.unit)) is not None
                   and placed(entry, (u.lat, u.lon), (meaning.lat, meaning.lon)), f"{what}: unit {meaning.unit}")
    elif isinstance(meaning, DroneFix):
        await seen(console, lambda: (d := console.picture.drones.get(meaning.drone)) is not None
                   and placed(entry, (d.lat, d.lon), (meaning.event.lat, meaning.event.lon)),
                   f"{what}: drone {meaning.drone}")
    elif isinstance(meaning, CameraFix):
        await seen(console, lambda: (c := console.picture.cameras.get(meaning.camera)) is not None
                   and placed(entry, (c.lat, c.lon), (meaning.event.lat, meaning.event.lon)),
                   f"{what}: camera {meaning.camera}")
    elif isinstance(meaning, Broadcast):
        says = entry.get("says", meaning.text).strip()  # a posted message's text is trimmed (app.domain.decide)
        await seen(console, lambda: any(says in m.text for m in console.picture.messages), f"{what}: {says!r}")
    else:
        raise AssertionError(f"{what}: accepted as {meaning!r}, which no console check covers")


# -- NMEA 0183 over UDP, one receiver per port ----------------------------------------------------------------


def nmea_lines(raw: bytes) -> list[str]:
    """The receiver's output (gpsd's '#' notes are not sent), replayed at the current time (a log without a date,
    by its times of day: the hub dates them by its own clock); a log with no time at all goes as recorded."""
    lines = [line.rstrip("\r") for line in raw.decode("latin-1").split("\n")]
    lines = [line for line in lines if line.strip() and not line.startswith("#")]
    try:
        return nmea_at(lines, time.time())
    except ValueError:
        return lines


def packed(lines: list[str], size: int) -> list[bytes]:
    datagrams, current = [], b""
    for line in lines:
        sentence = line.encode("latin-1") + b"\r\n"
        if current and len(current) + len(sentence) > size:
            datagrams.append(current)
            current = b""
        current += sentence
    return [*datagrams, current] if current else datagrams


def test_every_real_nmea_log_through_the_nmea_port(tmp_path: Path, senders: Callable[[], Sender]) -> None:
    port = free_port()

    async def scenario(hub: HubProcess) -> None:
        async with signed_in(hub.url, "super1") as (console,):
            tally = Tally(console, "nmea")
            for n, entry in enumerate(of_format("nmea")):
                unit, sender = f"GPS{n}", senders()
                await register_device(console, f"NMEA-{n}", "fire", ["nmea"], "udp", f"127.0.0.1:{sender.port}",
                                      [unit], rate=MAX_RATE)
                await console.call("unit.register", {"id": unit, "agency": "fire", "kind": "engine"})
                datagrams = packed(nmea_lines((REAL / entry["path"]).read_bytes()), NMEA_DATAGRAM)
                await send_paced(tally, sender, port, datagrams)
                await tally.settle(entry, len(datagrams))
                if entry["outcome"] == "accepted":
                    await seen(console, lambda u=unit, e=entry: (
                        (p := console.picture.units.get(u)) is not None and p.lat is not None
                        and (abs(p.lat) >= 0.01 or abs(p.lon or 0) >= 0.01)
                        and ("near" not in e or km((p.lat, p.lon or 0), tuple(e["near"][:2])) <= e["near"][2])),
                        f"{entry['path']}: {unit} where the log was recorded")

    run_hub(tmp_path, ["--nmea-port", str(port)], scenario)


async def send_paced(tally: Tally, sender: Sender, port: int, datagrams: list[bytes]) -> None:
    """Send in bursts, each once the hub has counted the one before: a replay as fast as the hub takes it,
    with none lost to a full socket buffer."""
    start = tally.before["received"]
    for n in range(0, len(datagrams), BURST):
        for datagram in datagrams[n:n + BURST]:
            sender.send(port, datagram)
        want = start + min(n + BURST, len(datagrams))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while (await tally.now())["received"] < want:
            if loop.time() > deadline:
                raise AssertionError(f"the hub counted {(await tally.now())['received'] - start} of {want - start}")


# -- MAVLink over UDP, KLV over UDP -------------------------------------------------------------------------


def test_every_real_telemetry_log_through_the_mavlink_and_klv_ports(tmp_path: Path,
                                                                     senders: Callable[[], Sender]) -> None:
    ports = {"mavlink": free_port(), "klv": free_port()}

    async def scenario(hub: HubProcess) -> None:
        async with signed_in(hub.url, "super1") as (console,):
            tallies = {"mavlink": Tally(console, "mavlink"), "klv": Tally(console, "klv")}
            for n, entry in enumerate(of_format("mavlink") + of_format("klv")):
                fmt, path, sender, last = entry["format"], REAL / entry["path"], senders(), (0.0, 0.0)
                await register_device(console, f"UAS-{n}", "police", [fmt], "udp", f"127.0.0.1:{sender.port}",
                                      drones=["UAV1"] if fmt == "mavlink" else [f"UAS-{n}"], rate=MAX_RATE)
                data = path.read_bytes()
                if fmt == "klv":
                    datagrams = [data]
                elif path.suffix == ".tlog":  # a tlog's frames, as a serial-to-UDP bridge packs them
                    datagrams, last = tlog(path)
                else:
                    datagrams = [data[i:i + DATAGRAM] for i in range(0, len(data), DATAGRAM)]
                await send_paced(tallies[fmt], sender, ports[fmt], datagrams)
                await tallies[fmt].settle(entry, len(datagrams), per_datagram(datagrams) if fmt == "mavlink" else None)
                if entry["outcome"] == "accepted":
                    await seen(console, lambda w=last: (d := console.picture.drones.get("UAV1")) is not None
                               and d.lat is not None and d.lon is not None
                               and abs(d.lat - w[0]) < 1e-6 and abs(d.lon - w[1]) < 1e-6,
                               f"{entry['path']}: the drone at its last fix")

    run_hub(tmp_path, ["--mavlink-port", str(ports["mavlink"]), "--klv-port", str(ports["klv"])], scenario)


def per_datagram(datagrams: list[bytes]) -> dict[str, int]:
    """The hub's quarantine of a MAVLink sender's datagrams: one row per datagram with an error, by its first
    error, as the decoder the corpus reading is held to (tests/real_corpus.py) finds them, in order."""
    decoder, firsts = MavlinkDecoder(), Counter[str]()
    for datagram in datagrams:
        errors = [item.code for item in decoder.feed(datagram) if isinstance(item, FeedError)]
        if errors:
            firsts[errors[0]] += 1
    return dict(firsts)


def tlog(path: Path) -> tuple[list[bytes], tuple[float, float]]:
    """A telemetry log's MAVLink frames (without the logger's time stamps) packed into datagrams as a
    serial-to-UDP bridge sends them, and the copter's last GLOBAL_POSITION_INT as pymavlink reads it."""
    log = mavutil.mavlink_connection(str(path), dialect="ardupilotmega")
    datagrams, current, last = [], b"", (0.0, 0.0)
    while (msg := log.recv_match()) is not None:
        frame = bytes(msg.get_msgbuf())
        if current and len(current) + len(frame) > DATAGRAM:
            datagrams.append(current)
            current = b""
        current += frame
        if msg.get_type() == "GLOBAL_POSITION_INT" and msg.get_srcSystem() == 1 and (msg.lat or msg.lon):
            last = (msg.lat / 1e7, msg.lon / 1e7)
    log.close()
    return [*datagrams, current], last


# -- CAP through the hub's URL polling (--cap-url) and its file drop (--cap-dir) --------------------------------


class CapPublisher:
    """A CAP publisher's web server on 127.0.0.1: the alert it serves now, with an ETag, answering the hub's
    conditional polls with 304 until the alert changes."""

    def __init__(self) -> None:
        self.document = b""
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                document = publisher.document
                tag = f'"{hashlib.sha256(document).hexdigest()}"'
                if not document:
                    self.send_error(404)
                elif self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/cap+xml")
                    self.send_header("ETag", tag)
                    self.send_header("Content-Length", str(len(document)))
                    self.end_headers()
                    self.wfile.write(document)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert.xml"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_every_real_cap_document_through_the_cap_url_and_file_drop(tmp_path: Path) -> None:
    drop, publisher = tmp_path / "cap-drop", CapPublisher()

    async def scenario(hub: HubProcess) -> None:
        async with signed_in(hub.url, "super1") as (console,):
            tally, start = Tally(console, "cap"), time.time() - len(of_format("cap")) - 1
            for n, entry in enumerate(of_format("cap")):
                raw = (REAL / entry["path"]).read_bytes()
                before = dict(console.picture.alerts)
                # Each document replayed at a second of its own: two files carrying the same messages (the
                # bushfire distributions) are then two sendings, not the same one twice (a duplicate).
                replayed = cap_at(raw, start + n)
                if n % 2:  # in turn by the URL the hub polls and by the file drop
                    publisher.document = replayed
                else:  # written under another name and renamed, as the drop asks: never read half-written
                    part = drop / f"{n:03d}.part"
                    part.write_bytes(replayed)
                    part.rename(drop / f"{n:03d}-{Path(entry['path']).stem}.xml")
                await tally.settle(entry, entry["items"] + sum(entry["quarantined"].values()) or 1)
                if entry["outcome"] == "accepted":
                    await seen(console, lambda b=before, e=entry: alerts_issued(console, b, e),
                               f"{entry['path']}: {entry['items']} alert(s) {entry.get('says', '')!r}")

    try:
        run_hub(tmp_path, ["--cap-dir", str(drop), "--cap-url", publisher.url, "--cap-interval", "0.2"], scenario)
    finally:
        publisher.close()


def alerts_issued(console: HubClient, before: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether the console shows the entry's alerts, new or updated (an EDXL-DE distribution repeats alerts an
    earlier one carried: the same CAP messages, updated in place), one of them with the entry's words."""
    changed = [alert for key, alert in console.picture.alerts.items() if before.get(key) != alert]
    return len(changed) == entry["items"] and any(entry.get("says", "") in alert.headline for alert in changed)


# -- EIDO through `watchfloor eido import` ----------------------------------------------------------------------


def test_every_real_eido_through_watchfloor_eido_import(tmp_path: Path) -> None:
    """NENA's samples, each imported by the command a dispatcher runs: an EIDO that cannot be put on the map
    (no incident, or no place) is posted for triage on the importer's agency channel, where consoles see it."""
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")

    async def scenario(hub: HubProcess) -> None:
        async with signed_in(hub.url, "fire1") as (console,):
            for entry in of_format("eido"):
                before = len(console.picture.messages)
                command = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "app.cli", "eido", "import", str(REAL / entry["path"]), "--hub", hub.url,
                    "--user", "fire1", "--password-file", str(password), cwd=ROOT,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
                output = (await command.communicate())[0].decode()
                assert command.returncode == 0, (entry["path"], output)
                assert entry["outcome"] == "accepted" and entry["kinds"] == ["triage"], entry
                if output.startswith("already posted for triage, unchanged"):
                    # A later version of a sample NENA published before, with the same note: not posted twice.
                    reason = output.split(": ", 1)[1].strip()
                    assert len(console.picture.messages) == before
                    assert any(m.channel == "agency:fire" and reason in m.text for m in console.picture.messages)
                    continue
                assert "posted for triage on agency:fire" in output, (entry["path"], output)
                await seen(console, lambda b=before: any(m.channel == "agency:fire" and "EIDO" in m.text
                                                         for m in console.picture.messages[b:]),
                           f"{entry['path']}: the triage note")

    run_hub(tmp_path, [], scenario)
