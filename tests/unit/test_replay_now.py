"""Replaying the real captures at another time (tests/replay_now.py): times moved by one offset, the relative
timing and every other byte kept, read back by the hub's own parsers and by pynmea2."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import pynmea2
import pytest
from takproto import parse_proto

from app.domain.checks import check_time
from app.domain.errors import Refusal
from app.feeds.cap import parse_cap
from app.feeds.cot import parse_cot
from app.feeds.edxl import unwrap_cap
from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.nmea import NmeaPosition, NmeaSession, with_checksum
from tests.replay_now import cap_at, cot_at, nmea_at, takproto_mesh_at

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
#: A fixed "now" five seconds after midnight: replayed logs run across midnight into a new day (and year).
NOW = datetime(2031, 1, 1, 0, 0, 5, 250_000, tzinfo=UTC).timestamp()
#: pynmea2's names of the fields a replay rewrites (everything else must read the same).
DATE_FIELDS = {"timestamp", "datestamp", "day", "month", "year"}
DAY = timedelta(days=1)
COT_TIME = re.compile(rb"""(\s(?:time|start|stale)\s*=\s*['"])[^'"]*""")


def nmea_lines(name: str) -> list[str]:
    return [line for line in (REAL / "nmea" / name).read_text().splitlines() if line.startswith(("$", "!"))]


def positions(lines: list[str]) -> list[NmeaPosition]:
    """The fixes the hub's parser takes from `lines` (no hub clock: fixes without a date are not taken)."""
    session, found = NmeaSession("udp:127.0.0.1:1"), []
    for line in lines:
        try:
            position = session.feed(line)
        except (FeedError, FeedIgnored):  # e.g. garmin-geko201's line cut on the wire
            continue
        if position is not None:
            found.append(position)
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in (REAL / "cot").iterdir()))
def test_a_cot_replay_moves_the_events_times_and_nothing_else(name: str) -> None:
    raw = (REAL / "cot" / name).read_bytes()
    replayed = cot_at(raw, NOW)
    assert COT_TIME.sub(rb"\1", replayed) == COT_TIME.sub(rb"\1", raw)  # byte for byte but the time values
    before, after = parse_cot(raw), parse_cot(replayed)
    assert NOW - 1 < after.time.timestamp() <= NOW
    assert after.start - after.time == before.start - before.time
    assert after.stale - after.time == before.stale - before.time
    assert after.time.microsecond == before.time.microsecond  # whole seconds: the fractions as captured
    assert check_time(after.time.timestamp(), NOW, "replayed") == after.time.timestamp()
    with pytest.raises(Refusal) as refused:
        check_time(before.time.timestamp(), NOW, "as captured")
    assert refused.value.code == "bad_time"


#: The logs the integration test replays (tests/integration/test_real_inputs.py). The rest of the corpus is read
#: as recorded (tests/unit/test_real_corpus.py): some have no dated RMC or ZDA to replay them by.
REPLAYED_LOGS = ("beidou-gb.log", "bt451.log", "bu353-glonass.log", "ch-4711.log", "garmin-geko201.log", "gr601-w.log")


@pytest.mark.parametrize("name", REPLAYED_LOGS)
def test_an_nmea_replay_shifts_every_time_alike_and_keeps_order_and_positions(name: str) -> None:
    lines = nmea_lines(name)
    replayed = nmea_at(lines, NOW)
    assert len(replayed) == len(lines)
    dated: set[datetime] = set()
    times_of_day: set[timedelta] = set()
    for old, new in zip(lines, replayed, strict=True):
        assert len(new) == len(old)
        if new == old:
            continue
        assert ("*" in new) == ("*" in old)
        before, after = pynmea2.parse(old, check=True), pynmea2.parse(new, check=True)  # checksums right
        assert old[3:6] in {"RMC", "ZDA", "GGA", "GNS", "GLL"} and after.fields == before.fields, old
        assert [v for v, f in zip(after.data, after.fields, strict=False) if f[1] not in DATE_FIELDS] == \
            [v for v, f in zip(before.data, before.fields, strict=False) if f[1] not in DATE_FIELDS], old
        if old[3:6] in {"RMC", "ZDA"} and before.datetime is not None:
            dated.add(after.datetime)
            assert after.datetime - before.datetime == offset(lines, replayed)
        times_of_day.add((time_of_day(after.timestamp) - time_of_day(before.timestamp)) % DAY)
    assert dated and NOW - 1 < max(dated).timestamp() <= NOW  # the log's latest date and time is now
    assert times_of_day == {offset(lines, replayed) % DAY}
    assert all(check_time(when.timestamp(), NOW, "replayed") for when in dated)
    # The hub's parser reads the same fixes at the same places, in the same order.
    assert [(p.lat, p.lon) for p in positions(replayed)] == [(p.lat, p.lon) for p in positions(lines)]


def offset(lines: list[str], replayed: list[str]) -> timedelta:
    """The shift of the first dated RMC of a log (every other time must move by the same)."""
    for old, new in zip(lines, replayed, strict=True):
        if old[3:6] == "RMC" and new != old and pynmea2.parse(old).datetime is not None:
            return pynmea2.parse(new).datetime - pynmea2.parse(old).datetime
    raise AssertionError("no dated RMC")


def time_of_day(moment: dtime) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second,
                     microseconds=moment.microsecond)


def test_a_sentence_cut_on_the_wire_is_replayed_as_it_was_and_one_without_checksum_gets_none() -> None:
    rmc = "$GPRMC,143252.00,A,4002.10513,N,07531.20562,W,0.016,,241013,,,A*60"
    cut, bare = rmc[:-2] + "61", rmc[:-3]
    assert nmea_at([rmc, cut, bare], NOW) == [
        with_checksum("GPRMC,000005.00,A,4002.10513,N,07531.20562,W,0.016,,010131,,,A"), cut,
        "$GPRMC,000005.00,A,4002.10513,N,07531.20562,W,0.016,,010131,,,A"]


def test_a_log_without_a_date_is_replayed_by_its_times_of_day() -> None:
    """A GLL-only receiver (no date anywhere): its latest time of day becomes now's, the others alike (else a
    log recorded a few minutes after today's time of day would be in the future, whenever the test runs then)."""
    gll = [line for line in nmea_lines("gr601-w.log") if line[3:6] == "GLL"]
    replayed = nmea_at(gll, NOW)
    times = [datetime.strptime(line.split(",")[5][:6], "%H%M%S") for line in replayed]
    last = datetime.combine(datetime.fromtimestamp(NOW, UTC).date(), times[-1].time(), UTC)
    assert 0 <= NOW - last.timestamp() < 1  # the log's last fix, the second before now
    recorded = [datetime.strptime(line.split(",")[5][:6], "%H%M%S") for line in gll]
    assert len({(a - b) % DAY for a, b in zip(times, recorded, strict=True)}) == 1
    with pytest.raises(ValueError, match="no time"):
        nmea_at(["$GPGSA,A,1,,,,,,,,,,,,,,,*1E"], NOW)


def test_a_tak_protocol_v1_capture_is_replayed_in_its_own_message() -> None:
    raw = (REAL / "takproto" / "takproto-wintak-mesh.bin").read_bytes()
    replayed = takproto_mesh_at(raw, NOW)
    before, after = parse_proto(raw), parse_proto(replayed)
    assert replayed[:3] == raw[:3]  # the mesh header: magic, version 1, magic
    offset = after.cotEvent.sendTime - before.cotEvent.sendTime
    assert offset % 1000 == 0 and NOW - 1 < after.cotEvent.sendTime / 1000 <= NOW
    assert after.cotEvent.startTime - before.cotEvent.startTime == offset
    assert after.cotEvent.staleTime - before.cotEvent.staleTime == offset
    for name in ("sendTime", "startTime", "staleTime"):
        setattr(after.cotEvent, name, getattr(before.cotEvent, name))
    assert after == before  # nothing else changed


@pytest.mark.parametrize("name", ["thunderstorm.cap", "australia.cap", "bushfire_valid.edxlde", "smhi.se.alerts.cap"])
def test_a_cap_document_is_replayed_in_every_time_of_it(name: str) -> None:
    raw = (REAL / "cap" / name).read_bytes()
    replayed = cap_at(raw, NOW)
    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
    assert stamp.sub(b"T", replayed) == stamp.sub(b"T", raw)  # only the times changed
    documents = unwrap_cap(replayed)
    sent = [parse_cap(document).sent for document in documents]
    assert NOW - 1 < max(sent).timestamp() <= NOW
    offsets = {a.sent.timestamp() - b.sent.timestamp()
               for a, b in zip(map(parse_cap, documents), map(parse_cap, unwrap_cap(raw)), strict=True)}
    assert len(offsets) == 1 and offsets.pop() % 1 == 0  # one offset of whole seconds for every alert


def test_a_sentence_after_blanks_is_replayed_and_keeps_its_blanks() -> None:
    lines = [line for line in (REAL / "nmea" / "beidou-bd.log").read_text().splitlines() if line.strip()
             and not line.startswith("#")]
    blank_led = next(i for i, line in enumerate(lines) if line.startswith(" $GNRMC"))
    replayed = nmea_at(lines, NOW)[blank_led]
    assert replayed.startswith(" $GNRMC") and replayed != lines[blank_led]
    before = next(line for line in reversed(nmea_at(lines, NOW)[:blank_led]) if line.startswith("$GNRMC"))
    assert pynmea2.parse(replayed.strip()).datestamp == pynmea2.parse(before).datestamp  # the same day, now
