"""Replaying a real capture as a replay tool feeds a live system: its observed times moved to now.

The hub takes a device's observed time (a CoT event's `time`, an NMEA fix's date and time) only from the last
7 days to 30 s ahead of its clock (`app.domain.checks.check_time`), so a capture recorded in 2013 is refused
as `bad_time`, rightly. A replay shifts every time of a capture by one offset of whole seconds that brings the
capture's time to now: the relative timing stays, and so does every other byte (the fractional seconds too,
as the offset is whole seconds; NMEA checksums are recomputed only for the sentences whose times changed).
The capture's time lands in the last second before now, never after it: a capture sent in one burst is not
in the future.

MAVLink and KLV need no shift: the hub stamps their fixes with its receive time (docs/drones.md), and a
tlog's `time_boot_ms` counts from the autopilot's boot, not from 1970.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from takproto import parse_proto
from takproto.constants import TAKProtoVer
from takproto.functions import msg2proto

from app.feeds.nmea import checksum

_EVENT_TAG = re.compile(rb"<event\b[^>]*>")
#: A time attribute of the event tag: name=, quote, whole seconds, the rest (fraction and "Z") kept as it is.
_EVENT_TIME = re.compile(rb"""(?P<name>\s(?P<attr>time|start|stale)\s*=\s*)(?P<q>['"])"""
                         rb"""(?P<seconds>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?P<fraction>\.\d+)?Z(?P=q)""")
_COT_SECONDS = "%Y-%m-%dT%H:%M:%S"

#: The field (after the address) with a sentence's time of day: RMC and ZDA also carry a date, GGA, GNS and
#: GLL do not (the hub dates those from the receiver's last RMC or ZDA, else from its own clock).
_TIME_FIELD = {"RMC": 1, "ZDA": 1, "GGA": 1, "GNS": 1, "GLL": 5}
_TIME_OF_DAY = re.compile(r"(\d{6})(\.\d+)?")


def cot_at(xml: bytes, now: float) -> bytes:
    """The CoT event `xml` with its `time` brought to the second before `now`, `start` and `stale` shifted alike;
    every other byte, the fractions of seconds and the quotes included, as captured."""
    tag = _EVENT_TAG.search(xml)
    if tag is None:
        raise ValueError("no <event> tag")
    times = {m["attr"]: m for m in _EVENT_TIME.finditer(tag[0])}
    if b"time" not in times:
        raise ValueError(f"the event has no time attribute of the form YYYY-MM-DDThh:mm:ss[.f]Z: {tag[0][:200]!r}")
    captured = times[b"time"]
    at = _cot_seconds(captured["seconds"]).timestamp() + float(b"0" + (captured["fraction"] or b""))
    offset = timedelta(seconds=math.floor(now - at))

    def shifted(m: re.Match[bytes]) -> bytes:
        moved = (_cot_seconds(m["seconds"]) + offset).strftime(_COT_SECONDS).encode()
        return m["name"] + m["q"] + moved + (m["fraction"] or b"") + b"Z" + m["q"]

    return xml[:tag.start()] + _EVENT_TIME.sub(shifted, tag[0]) + xml[tag.end():]


def takproto_mesh_at(datagram: bytes, now: float) -> bytes:
    """A TAK protocol v1 mesh datagram with its event's send time brought to the second before `now`, start and
    stale times shifted alike (whole seconds, milliseconds kept); every other field as captured."""
    message = parse_proto(datagram)
    if message is None or not message.HasField("cotEvent"):
        raise ValueError("not a TAK protocol v1 event")
    event = message.cotEvent
    offset_ms = 1000 * math.floor(now - event.sendTime / 1000)
    event.sendTime += offset_ms
    event.startTime += offset_ms
    event.staleTime += offset_ms
    return bytes(msg2proto(message, TAKProtoVer.MESH))


#: A CAP (or EDXL-DE) date-time element: its name (with any prefix), whole seconds, the rest (fraction, zone).
_CAP_TIME = re.compile(rb"(?P<open><(?P<tag>(?:[\w.-]+:)?(?:sent|effective|onset|expires|dateTimeSent|dateTimeExpires))"
                       rb"\s*>\s*)(?P<seconds>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?P<zone>(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))")


def cap_at(document: bytes, now: float) -> bytes:
    """A CAP alert (or an EDXL-DE distribution, or a feed of alerts) with its latest `sent` brought to the
    second before `now`, and every `sent`, `effective`, `onset` and `expires` (EDXL's `dateTimeSent` and
    `dateTimeExpires`) shifted alike; zones, fractions and every other byte as published."""
    def at(m: re.Match[bytes]) -> datetime:
        zone = m["zone"].lstrip(b".0123456789").replace(b"Z", b"+00:00")
        return datetime.fromisoformat((m["seconds"] + zone).decode())

    sent = [at(m) for m in _CAP_TIME.finditer(document) if m["tag"].split(b":")[-1] in (b"sent", b"dateTimeSent")]
    if not sent:
        raise ValueError("no <sent>: nothing says when the alert was sent")
    offset = timedelta(seconds=math.floor(now - max(sent).timestamp()))

    def shifted(m: re.Match[bytes]) -> bytes:
        moved = (at(m) + offset).strftime(_COT_SECONDS).encode()
        return m["open"] + moved + m["zone"]

    return _CAP_TIME.sub(shifted, document)


def _cot_seconds(text: bytes) -> datetime:
    return datetime.strptime(text.decode(), _COT_SECONDS).replace(tzinfo=UTC)


def nmea_at(lines: list[str], now: float) -> list[str]:
    """The sentences of a receiver's log, in their order, with the latest date and time the log gives (RMC, ZDA)
    brought to the second before `now` and every other time shifted alike (GGA, GNS and GLL times of day too,
    so that the hub's own date fits them); a log with no date, by its latest time of day. Sentences without a
    time, and sentences whose checksum is wrong (a line cut on the wire is replayed as it was cut), stay byte
    for byte."""
    dated = [when for line in lines if (when := _dated(line.lstrip())) is not None]
    if not dated:  # a receiver without RMC or ZDA (GGA only): its times of day, as on one day, end now
        dated = [datetime.strptime("01012000" + found[3], "%d%m%Y%H%M%S").replace(tzinfo=UTC)
                 for line in lines if (found := _time_fields(line.lstrip())) is not None]
    if not dated:
        raise ValueError("the log has no time: nothing says when it was recorded")
    offset = timedelta(seconds=math.floor(now - max(dated).timestamp()))
    # Blanks before a sentence (a receiver's, or its logger's) are kept, and the sentence after them is replayed
    # as the hub reads it: beidou-bd.log has one " $GNRMC".
    return [line[:len(line) - len(line.lstrip())] + _shifted(line.lstrip(), offset) for line in lines]


def _fields(line: str) -> tuple[list[str], bool] | None:
    """The fields of a sentence whose checksum is right or absent (and whether it has one), else None."""
    star = line.rfind("*")
    body = line[1:] if star < 0 else line[1:star]
    if star >= 0 and line[star + 1:].upper() != checksum(body):
        return None
    return body.split(","), star >= 0


def _time_fields(line: str) -> tuple[list[str], bool, str, str, str] | None:
    """Fields, has-checksum, kind, whole seconds "hhmmss" and fraction of a sentence with a time, else None."""
    parsed = _fields(line)
    if parsed is None:
        return None
    fields, with_sum = parsed
    kind = fields[0][2:] if len(fields[0]) == 5 else ""
    index = _TIME_FIELD.get(kind)
    if index is None or len(fields) <= index or not (tod := _TIME_OF_DAY.fullmatch(fields[index])):
        return None
    return fields, with_sum, kind, tod[1], tod[2] or ""


def _date_text(kind: str, fields: list[str]) -> str | None:
    """The sentence's date as ddmmyyyy, if it carries one."""
    if kind == "RMC" and len(fields) > 9 and re.fullmatch(r"\d{6}", fields[9]):
        yy = int(fields[9][4:])
        return fields[9][:4] + str(1900 + yy if yy >= 80 else 2000 + yy)  # the hub's (and GPS's) reading
    if kind == "ZDA" and len(fields) > 4 and re.fullmatch(r"\d\d", fields[2]) and re.fullmatch(r"\d\d", fields[3]) \
            and re.fullmatch(r"\d{4}", fields[4]):
        return fields[2] + fields[3] + fields[4]
    return None


def _dated(line: str) -> datetime | None:
    """The date and time of an RMC or ZDA sentence, else None."""
    found = _time_fields(line)
    if found is None:
        return None
    fields, _, kind, seconds, fraction = found
    day = _date_text(kind, fields)
    if day is None:
        return None
    return datetime.strptime(day + seconds, "%d%m%Y%H%M%S").replace(tzinfo=UTC) + timedelta(
        seconds=float("0" + fraction))


def _shifted(line: str, offset: timedelta) -> str:
    found = _time_fields(line)
    if found is None:
        return line
    fields, with_sum, kind, seconds, fraction = found
    day = _date_text(kind, fields)
    base = datetime.strptime((day or "01012000") + seconds, "%d%m%Y%H%M%S") + offset
    fields[_TIME_FIELD[kind]] = base.strftime("%H%M%S") + fraction
    if day is not None and kind == "RMC":
        fields[9] = base.strftime("%d%m%y")
    elif day is not None:  # ZDA: dd,mm,yyyy
        fields[2:5] = [base.strftime("%d"), base.strftime("%m"), base.strftime("%Y")]
    body = ",".join(fields)
    return line[0] + body + (f"*{checksum(body)}" if with_sum else "")
