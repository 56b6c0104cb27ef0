"""Feed I/O against real hub processes: CAP polled from a real HTTP server, dropped as files and submitted over the
websocket reaches every console; hostile CAP is quarantined and the hub keeps serving; alerts issued on one hub are
published as schema-valid CAP that a second hub polls; CoT out reaches a TCP listener and a UDP socket, and
restricted incidents never leave the hub."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from lxml import etree

from app.client.connection import CommandRefused, HubClient
from app.feeds.cap import SCHEMA_PATH, CapAlert, encode_alert, parse_cap
from app.feeds.cot import CotEvent, parse_cot
from app.feeds.framing import CotStreamSplitter
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import everywhere, signed_in, until
from tests.nena_eido import schema_errors

DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "feeds"
OASIS = etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))
ALERT_ID = "FI-HEL-PELA-2024-0501-001"


# --- a real HTTP server, counting requests ---------------------------------------------------------------


class Served:
    """`http.server` on 127.0.0.1 serving a directory (files may change between polls), counting GETs per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        hits = self.hits

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] += 1
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      functools.partial(Handler, directory=str(root)))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def put(path: Path, data: bytes) -> None:
    """Write a file whole (temporary name, then rename), as a publisher or a file drop should."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atom(entries: list[tuple[str, str, str]]) -> bytes:
    """An Atom index: (id, updated, href) per entry."""
    body = "".join(f'<entry><id>{i}</id><updated>{u}</updated><title>{i}</title>'
                   f'<link href="{h}" type="application/cap+xml"/></entry>' for i, u, h in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test</id>'
            f'<title>Helsinki alerts</title><updated>2024-05-01T12:00:00Z</updated>{body}</feed>').encode()


def flood(now: int) -> dict[str, bytes]:
    """The Helsinki flood sequence (Alert, Update, Cancel) re-dated to now, each validated with the OASIS XSD."""
    messages = {name: parse_cap((DATA / f"cap_helsinki_flood_{name}.xml").read_bytes())
                for name in ("alert", "update", "cancel")}
    sent = {m.identifier: now - 300 + 60 * n for n, m in enumerate(messages.values())}

    def when(t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)

    out = {}
    for name, message in messages.items():
        message = dataclasses.replace(
            message, sent=when(sent[message.identifier]),
            references=tuple(dataclasses.replace(r, sent=when(sent[r.identifier])) for r in message.references),
            infos=tuple(dataclasses.replace(i, effective=None, onset=None, expires=when(now + 7200))
                        for i in message.infos))
        out[name] = encode_alert(message)
        assert OASIS.validate(etree.fromstring(out[name])), OASIS.error_log
    return out


def new_alert(identifier: str, now: int, headline: str) -> bytes:
    message: CapAlert = parse_cap(flood(now)["alert"])
    info = dataclasses.replace(message.infos[0], headline=headline)
    data = encode_alert(dataclasses.replace(message, identifier=identifier, infos=(info,)))
    assert OASIS.validate(etree.fromstring(data))
    return data


# --- consoles ----------------------------------------------------------------------------------------------


def quarantined_codes(db: Path) -> set[str]:
    reader = LogReader(db)
    try:
        return {q["code"] for q in reader.quarantined("cap", limit=1000)}
    finally:
        reader.close()


def issued_events(db: Path) -> list[dict]:
    reader = LogReader(db)
    try:
        return [e.data for e in reader.iter_events(kinds=("alert.issued",))]
    finally:
        reader.close()


@pytest.fixture
def started() -> Iterator[Callable[..., HubProcess]]:
    processes: list[HubProcess] = []

    def start(tmp: Path, *extra: str) -> HubProcess:
        tmp.mkdir(parents=True, exist_ok=True)
        db = tmp / "hub.db"
        make_accounts(db)
        process = HubProcess(db, free_port(), list(extra))
        process.start()
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.stop()
        process.kill()


# --- CAP in ------------------------------------------------------------------------------------------------


def test_cap_from_a_polled_url_a_file_drop_and_a_feed_client_reaches_every_console(tmp_path: Path, started) -> None:
    now = int(time.time())
    messages = flood(now)
    site, drop = tmp_path / "site", tmp_path / "drop"
    site.mkdir()
    put(site / "alert.xml", messages["alert"])
    put(site / "index.atom", atom([("urn:1", "t1", "alert.xml")]))
    served = Served(site)
    hub = started(tmp_path / "hub", "--cap-url", served.url("index.atom"), "--cap-interval", "0.3",
                  "--cap-dir", str(drop))

    def alert(c: HubClient):
        return c.picture.alerts.get(ALERT_ID)

    async def scenario() -> None:
        async with signed_in(hub.url, "fire1", "police1", "observer1") as screens:
            # The Alert, from the index: every console, whatever its agency, sees it with its areas.
            await everywhere(screens, lambda c: alert(c) is not None)
            for screen in screens:
                shown = alert(screen)
                assert shown.headline == "Flood warning: Market Square and South Harbour shoreline"
                assert shown.areas[0].desc.startswith("Helsinki: Kauppatori") and shown.areas[1].circle[2] == 300
                assert shown.active(time.time()) and shown.source == "cap:pelastus@hel.fi"

            # The publisher adds the Update to the index: the same alert changes (its polygon grows).
            put(site / "update.xml", messages["update"])
            put(site / "index.atom", atom([("urn:2", "t2", "update.xml"), ("urn:1", "t1", "alert.xml")]))
            await everywhere(screens, lambda c: alert(c).areas[0].polygon[0] == (60.1645, 24.944))
            assert len(screens[0].picture.alerts) == 1

            # Polls go on; the same messages again, also dropped as a file, are duplicates: nothing is re-issued.
            polls = served.hits["/index.atom"]
            put(drop / "again.xml", messages["alert"])
            await until(lambda: served.hits["/index.atom"] >= polls + 4)
            await asyncio.sleep(2.5)  # a directory scan round (every 2 s) after the drop
            assert len(issued_events(hub.db)) == 2
            assert served.hits["/alert.xml"] == 1 and served.hits["/update.xml"] == 1  # each entry fetched once

            # Hostile files in the drop are quarantined with a reason; the hub keeps serving.
            lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                   b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&lol2;</alert>')
            fresh = new_alert("FI-HEL-PELA-TEST-2", now, "Storm warning")
            hostile = {
                "lol.xml": (lol, "entity_expansion"),
                "cut.xml": (fresh[: len(fresh) // 2], "truncated"),
                "huge.xml": (fresh.replace(b"<description>", b"<description>" + b"x" * 600_000), "too_large"),
                "lat91.xml": (fresh.replace(b"60.165,24.946 60.169", b"91.165,24.946 60.169"), "out_of_range"),
                "radius.xml": (fresh.replace(b"24.9525 0.3<", b"24.9525 wide<"), "wrong_type"),
                "schema.xml": (fresh.replace(b"<urgency>Expected", b"<urgency>Soonish"), "schema_invalid"),
            }
            for name, (data, _) in hostile.items():
                put(drop / name, data)
            await until(lambda: {code for _, code in hostile.values()} <= quarantined_codes(hub.db))
            put(drop / "storm.xml", fresh)
            await everywhere(screens, lambda c: "FI-HEL-PELA-TEST-2" in c.picture.alerts)

            # An index that points outside http(s) is refused, entry by entry.
            put(site / "index.atom", atom([("urn:9", "t9", "file:///etc/passwd"), ("urn:2", "t2", "update.xml")]))
            await until(lambda: "bad_link" in quarantined_codes(hub.db))

            # The Cancel arrives: every console sees the alert out of force.
            put(site / "cancel.xml", messages["cancel"])
            put(site / "index.atom", atom([("urn:3", "t3", "cancel.xml"), ("urn:2", "t2", "update.xml")]))
            await everywhere(screens, lambda c: alert(c).cancelled and not alert(c).active(time.time()))

        # A feed client hands over CAP XML over the websocket.
        async with signed_in(hub.url, "feed1", "fire1") as (feed, dispatcher):
            ws_alert = new_alert("FI-HEL-PELA-WS-1", now, "Heat warning").decode()
            first = await feed.call("alert.cap", {"xml": ws_alert})
            again = await feed.call("alert.cap", {"xml": ws_alert})
            assert not first.duplicate and again.duplicate and again.seqs == first.seqs
            await dispatcher.wait_for(lambda: "FI-HEL-PELA-WS-1" in dispatcher.picture.alerts, 10)
            with pytest.raises(CommandRefused) as refused:
                await feed.call("alert.cap", {"xml": ws_alert.replace("<urgency>Expected", "<urgency>Soonish")})
            assert refused.value.code == "schema_invalid" and "urgency" in refused.value.message
            with pytest.raises(CommandRefused) as refused:
                await dispatcher.call("alert.cap", {"xml": ws_alert})
            assert refused.value.code == "forbidden"

    try:
        asyncio.run(scenario())
    finally:
        served.close()


def edxl_de(*alerts: bytes) -> bytes:
    """CAP alerts in an EDXL-DE 1.0 distribution, one contentObject each, as message brokers forward them."""
    objects = "".join("<contentObject><xmlContent><embeddedXMLContent>" + a.decode().split("?>", 1)[1]
                      + "</embeddedXMLContent></xmlContent></contentObject>" for a in alerts)
    return ('<?xml version="1.0" encoding="UTF-8"?><EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
            "<distributionID>D-1</distributionID><senderID>pelastus@hel.fi</senderID>"
            "<dateTimeSent>2024-05-01T12:00:00+03:00</dateTimeSent><distributionStatus>Actual</distributionStatus>"
            f"<distributionType>Report</distributionType>{objects}</EDXLDistribution>").encode()


def all_quarantined(db: Path) -> list[tuple[str, str]]:
    reader = LogReader(db)
    try:
        return [(q["feed"], q["code"]) for q in reader.quarantined(limit=1000)]
    finally:
        reader.close()


def test_cap_as_published_in_the_field_named_areas_point_circles_edxl_de(tmp_path: Path, started) -> None:
    """Real publishers' CAP: areas given by geocode and areaDesc only, a circle of radius 0, alerts inside EDXL-DE
    envelopes. Each reaches the consoles as an alert; over the websocket an ignored message is not quarantined and
    a refused one is stored once."""
    now = int(time.time())
    drop = tmp_path / "drop"
    hub = started(tmp_path / "hub", "--cap-dir", str(drop))
    named = new_alert("FI-NAMED-1", now, "Storm warning for Uusimaa")
    start, end = named.index(b"<area>"), named.rindex(b"</area>") + len(b"</area>")
    named = (named[:start] + b"<area><areaDesc>Uusimaa</areaDesc><geocode><valueName>EMMA_ID</valueName>"
             b"<value>FI010</value></geocode></area>" + named[end:])
    point = new_alert("FI-POINT-1", now, "Gas smell at the market").replace(b"24.9525 0.3<", b"24.9525 0<")
    wrapped = [new_alert(f"FI-EDXL-{n}", now, f"Wrapped alert {n}") for n in (1, 2)]
    for data in (named, point):
        assert OASIS.validate(etree.fromstring(data)), OASIS.error_log
    put(drop / "named.xml", named)
    put(drop / "point.xml", point)
    put(drop / "edxl.xml", edxl_de(*wrapped))

    async def scenario() -> None:
        async with signed_in(hub.url, "feed1", "fire1", "observer1") as (feed, fire, observer):
            screens = [fire, observer]
            wanted = {"FI-NAMED-1", "FI-POINT-1", "FI-EDXL-1", "FI-EDXL-2"}
            await everywhere(screens, lambda c: wanted <= set(c.picture.alerts))
            for screen in screens:
                alerts = screen.picture.alerts
                assert [(a.polygon, a.circle, a.desc) for a in alerts["FI-NAMED-1"].areas] == [(None, None, "Uusimaa")]
                assert alerts["FI-POINT-1"].areas[1].circle == (60.1675, 24.9525, 0.0)
                assert alerts["FI-EDXL-2"].headline == "Wrapped alert 2"

            # Over the websocket: an EDXL-DE envelope with one alert is applied like the bare alert.
            envelope = edxl_de(new_alert("FI-EDXL-WS", now, "Via broker")).decode()
            applied = await feed.call("alert.cap", {"xml": envelope})
            assert applied.seqs and not applied.duplicate
            await fire.wait_for(lambda: "FI-EDXL-WS" in fire.picture.alerts, 10)
            # A test message is ignored (the sender gets the code) and a schema-invalid one refused: the first is
            # not quarantined at all, the second once, on the CAP feed.
            test = new_alert("FI-TEST-1", now, "Test").replace(b"<status>Actual</status>", b"<status>Test</status>")
            with pytest.raises(CommandRefused) as refused:
                await feed.call("alert.cap", {"xml": test.decode()})
            assert refused.value.code == "not_actual"
            invalid = new_alert("FI-BAD-1", now, "Bad").replace(b"<urgency>Expected", b"<urgency>Soonish")
            with pytest.raises(CommandRefused) as refused:
                await feed.call("alert.cap", {"xml": invalid.decode()})
            assert refused.value.code == "schema_invalid"

    asyncio.run(scenario())
    hub.stop()  # the quarantine writes are flushed at shutdown
    stored = all_quarantined(hub.db)
    assert stored.count(("cap", "schema_invalid")) == 1 and not [f for f, _ in stored if f == "websocket"]
    assert not [code for _, code in stored if code == "not_actual"]


# --- CAP out -------------------------------------------------------------------------------------------


def test_alerts_issued_on_one_hub_are_published_as_valid_cap_that_another_hub_polls(tmp_path: Path, started) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    served = Served(outbox)
    hub_a = started(tmp_path / "a", "--cap-out", str(outbox), "--cap-sender", "watchfloor@hub-a")
    hub_b = started(tmp_path / "b", "--cap-url", served.url("index.atom"), "--cap-interval", "0.3")
    area = [{"circle": [60.1699, 24.9384, 400], "desc": "Around Rautatientori"},
            {"polygon": [[60.170, 24.940], [60.171, 24.940], [60.171, 24.942]]}]

    def published() -> list[bytes]:
        return [p.read_bytes() for p in sorted(outbox.glob("*.xml"), key=lambda p: p.stat().st_mtime_ns)]

    async def scenario() -> None:
        async with signed_in(hub_a.url, "super1") as (supervisor,), signed_in(hub_b.url, "police1") as (other,):
            await supervisor.call("alert.issue", {
                "headline": "Gas leak: keep windows shut", "event": "Gas leak", "severity": "Severe",
                "urgency": "Immediate", "certainty": "Observed", "category": "CBRNE", "areas": area,
                "expires": time.time() + 3600, "instruction": "Stay indoors"})
            await until(lambda: len(published()) == 1)
            first = parse_cap(published()[0])
            assert first.msg_type == "Alert" and first.sender == "watchfloor@hub-a"
            await other.wait_for(lambda: first.identifier in other.picture.alerts, 20)
            seen = other.picture.alerts[first.identifier]
            assert (seen.headline, seen.severity, seen.certainty, seen.category) == (
                "Gas leak: keep windows shut", "Severe", "Observed", "CBRNE")
            assert seen.areas[0].desc == "Around Rautatientori" and seen.areas[0].circle[2] == pytest.approx(400)

            # Re-issuing the alert is an Update, cancelling it a Cancel; hub B follows on the same alert.
            await supervisor.call("alert.issue", {"id": "AL-1", "headline": "Gas leak: area widened",
                                                  "severity": "Extreme", "areas": area})
            widened = "Gas leak: area widened"
            await other.wait_for(lambda: other.picture.alerts[first.identifier].headline == widened, 20)
            await supervisor.call("alert.cancel", {"alert": "AL-1", "reason": "leak sealed"})
            await other.wait_for(lambda: other.picture.alerts[first.identifier].cancelled, 20)
            assert len(other.picture.alerts) == 1

        messages = [parse_cap(data) for data in published()]
        for data in published():
            assert OASIS.validate(etree.fromstring(data)), OASIS.error_log
        assert [m.msg_type for m in messages] == ["Alert", "Update", "Cancel"]
        assert [r.identifier for r in messages[2].references] == [messages[0].identifier, messages[1].identifier]
        assert messages[2].note == "leak sealed"
        index = ET.fromstring((outbox / "index.atom").read_bytes())
        links = [link.get("href") for link in index.iter("{http://www.w3.org/2005/Atom}link")]
        assert links == [f"{m.identifier}.xml" for m in reversed(messages)]

    try:
        asyncio.run(scenario())
    finally:
        served.close()


# --- CoT out -------------------------------------------------------------------------------------------


class TakListener:
    """A TCP listener standing in for a TAK server's streaming input: every event parsed twice, by our parser
    and by plain ElementTree, per connection."""

    def __init__(self) -> None:
        self.connections: list[list[CotEvent]] = []
        self.raw = bytearray()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        events: list[CotEvent] = []
        self.connections.append(events)
        self.writers.append(writer)
        splitter = CotStreamSplitter()
        while chunk := await reader.read(65536):
            self.raw += chunk
            for frame in splitter.feed(chunk):
                assert isinstance(frame, bytes), frame
                plain = ET.fromstring(frame)  # an independent XML parser agrees with ours
                event = parse_cot(frame)
                assert plain.get("uid") == event.uid and plain.get("type") == event.type
                assert float(plain.find("point").get("lat")) == event.lat  # type: ignore[union-attr]
                events.append(event)

    def latest(self, uid: str) -> CotEvent | None:
        return next((e for e in reversed(self.connections[-1]) if e.uid == uid), None) if self.connections else None

    def drop_connection(self) -> None:
        self.writers[-1].close()


def test_cot_out_streams_the_public_picture_to_tak_and_never_a_restricted_incident(tmp_path: Path, started) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)

    async def scenario() -> None:
        tak = TakListener()
        tak_port = await tak.start()
        hub = started(tmp_path / "hub", "--cot-out", f"tcp://127.0.0.1:{tak_port}",
                      "--cot-out", f"udp://127.0.0.1:{udp.getsockname()[1]}")
        datagrams: list[CotEvent] = []

        def read_udp() -> None:
            with contextlib.suppress(BlockingIOError):
                while True:
                    datagrams.append(parse_cot(udp.recv(65536)))

        asyncio.get_running_loop().add_reader(udp.fileno(), read_udp)
        async with signed_in(hub.url, "super1", "fire1", "police1") as (supervisor, fire, police):
            await supervisor.call("unit.register", {"id": "E12", "agency": "fire", "kind": "engine",
                                                    "lat": 60.1700, "lon": 24.9400})
            await supervisor.call("unit.register", {"id": "P7", "agency": "police", "kind": "patrol",
                                                    "lat": 60.1650, "lon": 24.9500})
            public = await fire.call("incident.create", {"type": "structure_fire", "lat": 60.1685, "lon": 24.944,
                                                         "address": "Aleksanterinkatu 15"})
            secret = await police.call("incident.create", {"type": "robbery", "lat": 60.1660, "lon": 24.9480,
                                                           "address": "Unioninkatu 99", "restricted": True})
            assert public.seqs and secret.seqs
            await fire.call("unit.assign", {"unit": "E12", "incident": "1001"})
            await police.call("unit.assign", {"unit": "P7", "incident": "1002"})
            await fire.call("unit.position", {"unit": "E12", "lat": 60.1690, "lon": 24.9430})

            def e12_moved() -> bool:
                event = tak.latest("watchfloor.unit.E12")
                return event is not None and abs(event.lat - 60.169) < 1e-9

            await until(e12_moved)
            await until(lambda: tak.latest("watchfloor.incident.1001") is not None
                        and "E12" in (tak.latest("watchfloor.incident.1001").remarks or ""))
            e12, incident, p7 = (tak.latest(f"watchfloor.{u}") for u in ("unit.E12", "incident.1001", "unit.P7"))
            assert (e12.callsign, e12.type, e12.group_name) == ("E12", "a-f-G-U-C", "Red")
            assert "incident 1001 Structure fire" in e12.remarks and e12.stale > e12.time
            assert (incident.type, incident.callsign) == ("b-m-p-s-p-i", "1001 Structure fire")
            assert "Aleksanterinkatu 15" in incident.remarks
            assert (p7.type, p7.group_name) == ("a-f-G-U-U-L-C", "Blue")
            assert "1002" not in (p7.remarks or "") and "incident" not in (p7.remarks or "")

            # UDP (unicast here: the test does not depend on multicast routing in the sandbox).
            await until(lambda: any(d.uid == "watchfloor.unit.E12" for d in datagrams))
            assert {d.uid for d in datagrams} >= {"watchfloor.unit.E12", "watchfloor.incident.1001"}

            # Restricting the public incident takes it off TAK maps.
            await fire.call("incident.update", {"incident": "1001", "restricted": True})
            await until(lambda: any(e.type == "t-x-d-d" and e.links and e.links[0].uid == "watchfloor.incident.1001"
                                    for e in tak.connections[-1]))

            # The TAK server drops the connection: the hub reconnects and sends the whole picture again.
            tak.drop_connection()
            await until(lambda: len(tak.connections) >= 2 and tak.latest("watchfloor.unit.E12") is not None)

        # Nothing about the restricted incident ever left the hub, on either transport.
        everything = bytes(tak.raw) + b"".join(d.detail_xml.encode() + (d.remarks or "").encode() for d in datagrams)
        for secret_text in (b"incident.1002", b"Unioninkatu", b"robbery", b"Robbery"):
            assert secret_text not in everything
        assert not any(d.uid == "watchfloor.incident.1002" for d in datagrams)
        asyncio.get_running_loop().remove_reader(udp.fileno())

    try:
        asyncio.run(scenario())
    finally:
        udp.close()


# --- EIDO ----------------------------------------------------------------------------------------------


def watchfloor(*args: str) -> subprocess.CompletedProcess[str]:
    """The `watchfloor` command line, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_eido_export_from_one_hub_imports_into_another_and_every_console_sees_it(tmp_path: Path, started) -> None:
    hub_a, hub_b = started(tmp_path / "a"), started(tmp_path / "b")
    password = tmp_path / "pw.txt"
    password.write_text(PASSWORD + "\n")
    exported = tmp_path / "1001.eido.json"

    async def register(url: str) -> None:
        async with signed_in(url, "super1") as (supervisor,):
            await supervisor.call("unit.register", {"id": "E11", "agency": "fire", "kind": "engine",
                                                    "lat": 60.17, "lon": 24.95})
            await supervisor.call("unit.register", {"id": "E12", "agency": "fire", "kind": "engine",
                                                    "lat": 60.17, "lon": 24.94})
            await supervisor.call("unit.register", {"id": "M3", "agency": "medical", "kind": "ambulance",
                                                    "lat": 60.16, "lon": 24.93})

    async def on_hub_a() -> None:
        await register(hub_a.url)
        async with signed_in(hub_a.url, "fire1", "medical1") as (fire, medical):
            await fire.call("incident.create", {"type": "structure_fire", "lat": 60.1685, "lon": 24.944,
                                                "address": "Aleksanterinkatu 15", "notes": "smoke, third floor"})
            await fire.call("unit.assign", {"unit": "E12", "incident": "1001"})
            await fire.call("unit.status", {"unit": "E12", "status": "on_scene"})
            await fire.call("aid.request", {"incident": "1001", "agency": "medical"})
            await medical.wait_for(lambda: "AR-1" in medical.picture.aid_requests)
            await medical.call("aid.answer", {"request": "AR-1", "accept": True})
            await medical.call("unit.assign", {"unit": "M3", "incident": "1001"})
            await fire.call("incident.note", {"incident": "1001", "text": "roof vented"})

    asyncio.run(on_hub_a())
    result = watchfloor("eido", "export", "--db", str(hub_a.db), "--incident", "1001", "--out", str(exported))
    assert result.returncode == 0, result.stderr
    assert schema_errors(json.loads(exported.read_text())) == []  # valid against NENA's published EIDO schema

    # Hostile documents: refused with the reason, nothing reaches the hub.
    bad = tmp_path / "bad.json"
    for data, code in ((exported.read_bytes()[:300], "truncated"),
                       (exported.read_bytes().replace(b'"incidentCommonPriorityNumber": 1',
                                                      b'"incidentCommonPriorityNumber": "high"'), "wrong_type")):
        bad.write_bytes(data)
        refused = watchfloor("eido", "import", str(bad), "--hub", hub_b.url, "--user", "super1",
                             "--password-file", str(password))
        assert refused.returncode == 1 and code in refused.stderr, refused.stderr

    async def on_hub_b() -> None:
        await register(hub_b.url)
        imported = watchfloor("eido", "import", str(exported), "--hub", hub_b.url, "--user", "super1",
                              "--password-file", str(password))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert "created incident 1001" in imported.stdout
        async with signed_in(hub_b.url, "fire1", "medical1", "observer1") as screens:
            await everywhere(screens, lambda c: "1001" in c.picture.incidents)
            for screen in screens:
                incident = screen.picture.incidents["1001"]
                assert (incident.type, incident.priority, incident.address) == (
                    "structure_fire", 1, "Aleksanterinkatu 15")
                assert (incident.lat, incident.lon) == (60.1685, 24.944)
                assert [n.text for n in incident.notes][1:] == ["smoke, third floor", "roof vented"]
                assert screen.picture.units["E12"].status == "on_scene"
                assert screen.picture.units["M3"].status == "dispatched" and "medical" in incident.agencies

            # The same document again finds its incident; a NENA-style document needs a type named.
            again = watchfloor("eido", "import", str(exported), "--hub", hub_b.url, "--user", "super1",
                               "--password-file", str(password))
            assert again.returncode == 0 and "already imported as incident 1001" in again.stdout
            sample = str(DATA / "eido_helsinki_fire.json")
            untyped = watchfloor("eido", "import", sample, "--hub", hub_b.url, "--user", "super1",
                                 "--password-file", str(password))
            assert untyped.returncode == 1 and "unknown_type" in untyped.stderr
            typed = watchfloor("eido", "import", sample, "--hub", hub_b.url, "--user", "super1",
                               "--password-file", str(password), "--type", "structure_fire")
            assert typed.returncode == 0, typed.stderr
            assert "skipped M31: not a unit of this hub" in typed.stdout
            await everywhere(screens, lambda c: "1002" in c.picture.incidents
                        and c.picture.units["E11"].status == "en_route")
            assert len(screens[0].picture.incidents) == 2

    asyncio.run(on_hub_b())


NENA_SAMPLES = Path(__file__).resolve().parents[1] / "data" / "real" / "eido"


def test_every_nena_sample_eido_reaches_the_dispatchers_as_a_triage_message(tmp_path: Path, started) -> None:
    """NENA's published samples: a call transfer (no incident yet; civic address, by-reference caller location) and
    the 2020 draft (an incident whose PIDF-LO cannot be read). None can be put on the map, so none is refused or
    guessed onto it: each import posts one message with the call-back numbers and locations on the importer's agency
    channel; the same text again is not posted twice."""
    hub = started(tmp_path / "hub")
    password = tmp_path / "pw.txt"
    password.write_text(PASSWORD + "\n")
    outputs = {}
    for sample in sorted(NENA_SAMPLES.glob("*.json")):
        imported = watchfloor("eido", "import", str(sample), "--hub", hub.url, "--user", "super1",
                              "--password-file", str(password))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        outputs[sample.name] = imported.stdout
    assert len(outputs) == 5
    assert "posted for triage on agency:fire" in outputs["nena-2020-10-sample-eido.json"]
    assert "posted for triage on agency:fire" in outputs["nena-2021-05-call-transfer.json"]
    # The 2021-08 version differs from 2021-05 only where the triage text does not look: nothing new to post.
    assert "already posted for triage, unchanged" in outputs["nena-2021-08-call-transfer.json"]
    assert "posted for triage on agency:fire" in outputs["nena-2022-05-call-transfer.json"]

    def triage(c: HubClient) -> list[str]:
        return [m.text for m in c.picture.messages if m.text.startswith("EIDO for triage ")]

    async def consoles() -> None:
        async with signed_in(hub.url, "fire1", "super1", "police1") as (fire, supervisor, police):
            await everywhere([fire, supervisor], lambda c: len(triage(c)) == 4)
            transfer = triage(fire)[-1].splitlines()
            assert transfer[0].startswith("EIDO for triage urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us:"
                                          " a call without an incident (a call transfer).")
            assert "Call back: sip:8195551212@osp.com, tel:8195551212" in transfer
            assert "Location (RoutingLocation): 42 W Cellular Street, Wilmington, DE, US" in transfer
            assert any("CU1 (10-101 CIVIL UNREST; REQUEST MUTUAL AID)" in text for text in triage(fire))
            assert all(m.channel == "agency:fire" for m in fire.picture.messages)
            assert not fire.picture.incidents  # nothing was put on the map
            # Another agency's channel: once police has what was posted after the imports, it has none of them.
            await supervisor.call("message.send", {"channel": "all", "text": "imports done"})
            await police.wait_for(lambda: any(m.text == "imports done" for m in police.picture.messages), 20)
            assert triage(police) == []

    asyncio.run(consoles())
    again = watchfloor("eido", "import", str(NENA_SAMPLES / "nena-2022-05-call-transfer.json"), "--hub", hub.url,
                       "--user", "super1", "--password-file", str(password))
    assert again.returncode == 0 and "already posted for triage, unchanged" in again.stdout


def multicast_receiver(group: str) -> socket.socket:
    """A socket joined to `group` on a free port; skips the test where the machine has no multicast route."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    receiver.bind(("", 0))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                            socket.inet_aton(group) + socket.inet_aton("0.0.0.0"))
        receiver.settimeout(2)
        probe.sendto(b"probe", (group, receiver.getsockname()[1]))
        receiver.recvfrom(64)
    except OSError as exc:
        receiver.close()
        pytest.skip(f"no multicast loopback on this machine: {exc}")
    finally:
        probe.close()
    return receiver


def test_cot_out_to_the_sa_multicast_group(tmp_path: Path, started) -> None:
    receiver = multicast_receiver("239.2.3.1")
    hub = started(tmp_path / "hub", "--cot-out", f"udp://239.2.3.1:{receiver.getsockname()[1]}", "--cot-ttl", "1")

    async def scenario() -> None:
        async with signed_in(hub.url, "super1") as (supervisor,):
            await supervisor.call("unit.register", {"id": "M4", "agency": "medical", "kind": "ambulance",
                                                    "lat": 60.1641, "lon": 24.9402})

    asyncio.run(scenario())
    receiver.settimeout(10)
    while True:  # the probe may be followed by events of the hub's start; read until M4
        event = parse_cot(receiver.recvfrom(65536)[0])
        if event.uid == "watchfloor.unit.M4":
            break
    receiver.close()
    assert (event.type, event.callsign, event.group_name, event.lat) == ("a-f-G-U-S-M", "M4", "White", 60.1641)
