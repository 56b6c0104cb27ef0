"""The real-world corpus (tests/data/real) read through the parsers the hub uses, one reader per format.

Each reader turns one file into a `Reading`: the items the hub would act on (a unit's fix, a drone's fix, a
camera, a message, an alert, an incident or a triage note), the valid input it ignores (by kind) and the input
it quarantines (by code). `tests/unit/test_real_corpus.py` holds every file to the expectations written in
`tests/data/real/manifest.toml`; the readers follow the hub's own paths (`app.hub.gateway`,
`app.hub.drone_gateway`, `app.hub.cap_feed`, `app.hub.eido_cli`) without its transports.
"""

from __future__ import annotations

import functools
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymavlink import mavutil

from app.domain.picture import Picture
from app.feeds.cap import parse_cap
from app.feeds.cap_alerts import plan
from app.feeds.cot import parse_cot
from app.feeds.cot_meaning import Broadcast, CameraFix, CotSenders, DroneFix, UnitFix, VideoLink, interpret
from app.feeds.edxl import unwrap_cap
from app.feeds.eido import parse_eido
from app.feeds.eido_incidents import import_plan
from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.klv import KlvPlatforms, KlvStreamDecoder
from app.feeds.mavlink import MavlinkDecoder
from app.feeds.nmea import NmeaSession

REAL = Path(__file__).resolve().parent / "data" / "real"
MANIFEST = REAL / "manifest.toml"
#: The hub's clock for the NMEA reader: fixes without a date of their own take this one, as the hub gives them its
#: own. (CAP alerts are judged as of the time they were sent, as a live feed would have delivered them.)
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
#: A serial-to-UDP bridge's datagrams: what the MAVLink listener gets from a raw (non-tlog) capture.
DATAGRAM = 1400


@dataclass
class Item:
    """One thing the hub would act on: its kind ("fix", "drone", "camera", "message", "alert", "incident",
    "triage"), where it is when it has a place, and what it says when it is a message or an alert."""

    kind: str
    lat: float | None = None
    lon: float | None = None
    text: str = ""


@dataclass
class Reading:
    items: list[Item] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)

    @property
    def outcome(self) -> str:
        """accepted (something is used), quarantined (nothing used, something wrong) or ignored (all valid,
        none of it used)."""
        if self.items:
            return "accepted"
        return "quarantined" if self.quarantined else "ignored"

    def first_placed(self) -> Item | None:
        return next((item for item in self.items if item.lat is not None), None)

    def guard(self, work: Callable[[], None]) -> None:
        """Run one input as the gateway's `_guard` does: ignored by kind, refused by code."""
        try:
            work()
        except FeedIgnored as ignored:
            self.ignored[ignored.kind] += 1
        except FeedError as error:
            self.quarantined[error.code] += 1


def read_nmea(data: bytes) -> Reading:
    """Line by line into one session (one receiver on one port). Lines starting with '#' are gpsd's notes on its
    log (receiver, place, submitter), not the receiver's output: they are not sent."""
    reading, session = Reading(), NmeaSession("udp:192.0.2.8:10110")

    def line(raw: bytes) -> None:
        position = session.feed(raw, RECEIVED)
        if position is not None:
            reading.items.append(Item("fix", position.lat, position.lon))

    for raw in data.split(b"\n"):
        raw = raw.rstrip(b"\r")
        if raw.strip() and not raw.startswith(b"#"):
            reading.guard(functools.partial(line, raw))
    return reading


_COT_KINDS: dict[type, str] = {UnitFix: "fix", DroneFix: "drone", CameraFix: "camera", Broadcast: "message",
                               VideoLink: "video"}


def read_cot(data: bytes) -> Reading:
    """One datagram (XML or TAK protocol v1), as the CoT UDP listener takes it."""
    reading = Reading()

    def event() -> None:
        meaning = interpret(parse_cot(data), CotSenders(), ())
        where: Any = getattr(meaning, "event", meaning)
        lat, lon = (where.lat, where.lon) if isinstance(meaning, UnitFix | DroneFix | CameraFix) else (None, None)
        text = meaning.text if isinstance(meaning, Broadcast) else ""
        reading.items.append(Item(_COT_KINDS[type(meaning)], lat, lon, text))

    reading.guard(event)
    return reading


def read_cap(data: bytes) -> Reading:
    """A fetched CAP document (an alert, or an EDXL-DE distribution of several), as `CapFeed.read_all` and
    `CapFeed.apply` take it."""
    reading = Reading()
    documents: list[bytes] = []
    reading.guard(lambda: documents.extend(unwrap_cap(data)))

    def alert(document: bytes) -> None:
        cap = parse_cap(document)
        steps = plan(cap, {}, {}, cap.sent.timestamp())
        if steps.ignored is not None:
            raise FeedIgnored(steps.ignored.code, steps.ignored.reason)
        areas = [area for info in cap.infos for area in info.areas]
        points = [p for area in areas for ring in area.polygons for p in ring[:1]] + \
                 [(c[0], c[1]) for area in areas for c in area.circles]
        lat, lon = points[0] if points else (None, None)
        reading.items.append(Item("alert", lat, lon, steps.commands[0].args.headline if steps.commands else ""))

    for document in documents:
        reading.guard(functools.partial(alert, document))
    return reading


def read_eido(data: bytes) -> Reading:
    """An EIDO document, as `watchfloor eido import` takes it: an incident, or a note for triage."""
    reading = Reading()

    def document() -> None:
        doc = parse_eido(data)
        steps = import_plan(doc, Picture())
        if steps.triage is not None:
            reading.items.append(Item("triage"))
            return
        location = doc.location
        reading.items.append(Item("incident", location.lat if location else None, location.lon if location else None))

    reading.guard(document)
    return reading


def _tlog_frames(path: Path) -> list[bytes]:
    """A telemetry log's MAVLink frames, without the logger's 8-byte time stamps."""
    log = mavutil.mavlink_connection(str(path), dialect="ardupilotmega")
    frames = []
    while (msg := log.recv_match()) is not None:
        frames.append(bytes(msg.get_msgbuf()))
    log.close()
    return frames


def read_mavlink(path: Path) -> Reading:
    """A tlog's frames one by one, any other capture in bridge-sized datagrams, into one decoder (one sender);
    each new GLOBAL_POSITION_INT of an airframe is a drone fix, or no_fix before the GPS has a lock."""
    reading, decoder = Reading(), MavlinkDecoder()
    data = path.read_bytes()
    chunks = _tlog_frames(path) if path.suffix == ".tlog" else \
        [data[i:i + DATAGRAM] for i in range(0, len(data), DATAGRAM)]
    for chunk in chunks:
        fixes = {sid: d.fixes for sid, d in decoder.drones.items()}
        for item in decoder.feed(chunk):
            if isinstance(item, FeedError):
                reading.quarantined[item.code] += 1
        for sid, drone in decoder.drones.items():
            if drone.fixes > fixes.get(sid, 0):
                if drone.has_fix:
                    reading.items.append(Item("drone", drone.latitude, drone.longitude))
                else:
                    reading.ignored["no_fix"] += 1
    if decoder.ignored:
        reading.ignored["unused_message"] += decoder.ignored
    return reading


def read_klv(data: bytes) -> Reading:
    """One datagram of ST 0601 packets from one sender."""
    reading, decoder, platforms = Reading(), KlvStreamDecoder(), KlvPlatforms()
    for item in decoder.feed(data) + decoder.finish():
        if isinstance(item, FeedError):
            reading.quarantined[item.code] += 1
        elif platforms.name("udp:192.0.2.9:5600", item) is None:
            reading.quarantined["missing_field"] += 1
        else:
            reading.items.append(Item("drone", item.sensor_latitude, item.sensor_longitude))
    return reading


def read(fmt: str, path: Path) -> Reading:
    """The reading of one corpus file in its format."""
    if fmt == "mavlink":
        return read_mavlink(path)
    readers: dict[str, Callable[[bytes], Reading]] = {"nmea": read_nmea, "cot": read_cot, "cap": read_cap,
                                                      "eido": read_eido, "klv": read_klv}
    return readers[fmt](path.read_bytes())


def manifest() -> dict[str, Any]:
    """The manifest: `[source.<key>]` tables and one `[[file]]` per corpus file."""
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
