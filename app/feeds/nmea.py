"""NMEA 0183 position sentences (RMC, GGA, GNS, GLL, VTG, ZDA from any talker: GP, GN, GL, GA, BD...), sans-I/O.

Every other well-formed sentence (GSV, GSA, TXT, proprietary ``$P...``, AIS ``!..VDM``...) is valid input
we do not use: ``parse_sentence`` raises ``FeedIgnored`` with its kind, never ``FeedError``; so does a
receiver's "no fix yet" (RMC status V, GGA quality 0). The checksum is optional, as NMEA 0183 has it
(some receivers send none); a checksum that is there must be right.

NMEA carries no device identity. Watchfloor's rule (see docs/feeds.md): the transport tags every
sentence with a source id — ``udp:<host>:<port>`` for a datagram sender, ``tcp:<host>:<port>`` for a
connection — and a device may name itself in-band with the proprietary sentence
``$PWFID,<device-id>*hh``, which then overrides the transport tag for the rest of that connection.
``DeviceMap`` maps device ids to unit callsigns (a transport tag also matches the keys ``udp:<host>``
and ``<host>``). ``NmeaSession`` holds that per-source state.
"""

from __future__ import annotations

import configparser
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from app.feeds.common import check_lat_lon
from app.feeds.errors import FeedError, FeedIgnored

#: The standard says 82 characters; real receivers exceed it (an MTK-3301's ``$PMTKCHN`` channel report is 203), so
#: we tolerate up to 256: still one bounded line.
MAX_SENTENCE = 256
KNOTS_TO_MPS = 1852.0 / 3600.0
_DEVICE_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
#: GGA quality 6 (dead reckoning), 7 (manual input) and 8 (simulator: a Garmin in demo mode) are no fix.
_GGA_FIX = frozenset({1, 2, 3, 4, 5})
#: GNS mode characters (one per constellation) that mean a real fix.
_GNS_FIX = frozenset("ADPRF")
#: NMEA 4.10's navigational status (the last field of RMC and GNS: S safe, C caution, U unsafe, V not given) that
#: is the receiver's own warning about its fix (its integrity monitoring failed: jamming, spoofing, a bad satellite).
_UNSAFE = "U"
#: Talker (two characters: GP, GN, BD, II, U0...) and sentence type (three letters).
_ADDRESS = re.compile(r"[A-Z][A-Z0-9][A-Z]{3}")
_HALF_DAY = timedelta(hours=12)
#: How far ahead of the hub's clock a receiver's clock may be before its time of day is taken for yesterday's.
_CLOCK_DRIFT = timedelta(minutes=5)
#: A fix this little before the one just reported is that fix again: receivers stamp the sentences of one fix a
#: few milliseconds apart (a Magellan eXplorist 210's GLL at .303 s, then its GGA and RMC at .30 s, which the
#: hub refused as older than the unit's position), and no receiver reports fixes this close together (20 Hz is
#: 50 ms). A fix a moment later is reported: it is newer, whichever fix it is.
_SAME_FIX = timedelta(milliseconds=20)


@dataclass(frozen=True, slots=True)
class Rmc:
    """Recommended minimum data: a fix with date, time, position, speed and course."""

    talker: str
    time: datetime
    lat: float
    lon: float
    speed_mps: float | None
    course_deg: float | None
    nav_status: str | None = None  # NMEA 4.10's navigational status (S, C, U, V); None before 4.10


@dataclass(frozen=True, slots=True)
class Gga:
    """Fix data: time of day (no date), position, quality, satellites, HDOP, altitude above MSL."""

    talker: str
    time_of_day: dtime
    lat: float
    lon: float
    quality: int
    satellites: int | None
    hdop: float | None
    altitude_m: float | None
    nav_status: str | None = None  # GNS only (NMEA 4.10): S, C, U or V


@dataclass(frozen=True, slots=True)
class Gll:
    """Geographic position: latitude, longitude and the time of day (no date)."""

    talker: str
    time_of_day: dtime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Zda:
    """Date and time: what gives GGA/GLL fixes their date when a receiver sends no RMC."""

    talker: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Vtg:
    """Course and speed over ground."""

    talker: str
    course_deg: float | None
    speed_mps: float | None


@dataclass(frozen=True, slots=True)
class DeviceId:
    """Watchfloor's proprietary ``$PWFID,<device>`` sentence: the device names itself."""

    device: str


Sentence = Rmc | Gga | Gll | Zda | Vtg | DeviceId


def checksum(body: str) -> str:
    """The NMEA checksum (XOR of the characters between '$' and '*') as two upper-case hex digits."""
    value = 0
    for ch in body:
        value ^= ord(ch)
    return f"{value:02X}"


def with_checksum(body: str) -> str:
    """``"GPRMC,..."`` -> ``"$GPRMC,...*hh"``."""
    return f"${body}*{checksum(body)}"


def encode_rmc(when: datetime, lat: float, lon: float, *, speed_mps: float | None = None,
               course_deg: float | None = None, talker: str = "GP") -> str:
    """A valid (status A, mode A) RMC sentence ``$GPRMC,...*hh`` for a fix taken at `when` (aware)."""
    lat, lon = check_lat_lon(lat, lon)
    if speed_mps is not None and not (math.isfinite(speed_mps) and speed_mps >= 0):
        raise ValueError(f"speed {speed_mps} must be a finite number >= 0")
    speed = "" if speed_mps is None else f"{speed_mps / KNOTS_TO_MPS:.3f}"
    course = "" if course_deg is None else f"{course_deg % 360.0:.1f}"
    when = _utc(when)
    return with_checksum(f"{talker}RMC,{_fix_time(when)},A,{_coordinates(lat, lon)},{speed},{course},"
                         f"{when:%d%m%y},,,A")


def encode_gga(when: datetime, lat: float, lon: float, *, altitude_m: float | None = None,
               satellites: int = 9, hdop: float = 0.9, talker: str = "GP") -> str:
    """A GPS-fix (quality 1) GGA sentence ``$GPGGA,...*hh`` for a fix taken at `when` (aware)."""
    lat, lon = check_lat_lon(lat, lon)
    altitude = "" if altitude_m is None else f"{altitude_m:.1f}"
    return with_checksum(f"{talker}GGA,{_fix_time(_utc(when))},{_coordinates(lat, lon)},1,{satellites:02d},"
                         f"{hdop:.1f},{altitude},M,,M,,")


def encode_device_id(device: str) -> str:
    """Watchfloor's ``$PWFID,<device>*hh``: the sender names itself (see `DeviceMap`)."""
    if not _DEVICE_ID.fullmatch(device):
        raise ValueError(f"device id {device[:70]!r} must be 1-64 characters [A-Za-z0-9_.:@-]")
    return with_checksum(f"PWFID,{device}")


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("NMEA fix times must be timezone-aware")
    return when.astimezone(UTC)


def _fix_time(when: datetime) -> str:
    # Milliseconds, as 5-10 Hz receivers give: two fixes of one device never share a time stamp.
    return f"{when:%H%M%S}.{when.microsecond // 1000:03d}"


def _coordinates(lat: float, lon: float) -> str:
    """``ddmm.mmmmmm,N,dddmm.mmmmmm,E``: six decimals of minutes (2 mm), as survey-grade receivers give."""
    parts = []
    for value, width, hemispheres in ((lat, 2, "NS"), (lon, 3, "EW")):
        degrees, micro_minutes = divmod(round(abs(value) * 60_000_000), 60_000_000)
        minutes, fraction = divmod(micro_minutes, 1_000_000)
        parts.append(f"{degrees:0{width}d}{minutes:02d}.{fraction:06d},{hemispheres[value < 0]}")
    return ",".join(parts)


def parse_sentence(line: bytes | str) -> Sentence:
    """Parse one sentence (with or without CR/LF).

    Raises ``FeedError`` for input that is wrong and ``FeedIgnored`` for valid sentences we do not use
    (kind: the sentence type, "proprietary", or "no_fix").
    """
    text = _decode(line).strip()
    if not text:
        raise FeedError("empty", "empty sentence")
    if len(text) > MAX_SENTENCE:
        raise FeedError("too_large", f"sentence of {len(text)} characters exceeds {MAX_SENTENCE}")
    if text[0] not in "$!":
        raise FeedError("malformed_sentence", f"sentence must start with '$': {text[:20]!r}")
    star = text.rfind("*")
    body = text[1:] if star < 0 else text[1:star]  # no checksum at all: NMEA 0183 allows it
    if star >= 0:
        given = text[star + 1 :]
        if len(given) != 2 or given.upper() != checksum(body):
            raise FeedError("bad_checksum", f"checksum {given[:4]!r} != computed {checksum(body)}")
    fields = body.split(",")
    address = fields[0]
    if address == "PWFID":
        return _parse_pwfid(fields)
    if address[:1] == "P" and len(address) >= 2:
        # A manufacturer's own sentence: its layout is the maker's (SiRF's "$PSRFTXTVersion GSW3..." has no comma).
        raise FeedIgnored("proprietary", f"{address[:16]} is a manufacturer's own sentence")
    if not _ADDRESS.fullmatch(address):
        raise FeedError("malformed_sentence", f"bad address field {address[:10]!r}")
    talker, kind = address[:2], address[2:]
    parse = _PARSERS.get(kind)
    if parse is None:
        raise FeedIgnored(kind, f"{address} carries nothing Watchfloor uses")
    return parse(talker, fields)


def _decode(line: bytes | str) -> str:
    if isinstance(line, str):
        text = line
    elif isinstance(line, bytes | bytearray):
        if len(line) > MAX_SENTENCE + 2:
            raise FeedError("too_large", f"sentence of {len(line)} bytes exceeds {MAX_SENTENCE}")
        try:
            text = bytes(line).decode("ascii")
        except UnicodeDecodeError as exc:
            raise FeedError("malformed_sentence", "sentence is not ASCII") from exc
    else:
        raise FeedError("wrong_type", f"expected bytes or str, got {type(line).__name__}")
    if any(not (32 <= ord(ch) < 127) for ch in text.strip()):
        raise FeedError("malformed_sentence", "sentence contains control or non-ASCII characters")
    return text


def _need(fields: list[str], n: int, name: str) -> None:
    if len(fields) < n:
        raise FeedError("truncated", f"{name} has {len(fields) - 1} fields, expected at least {n - 1}")


def _number(text: str, field: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FeedError("wrong_type", f"{field}={text[:20]!r} is not a number") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise FeedError("wrong_type", f"{field}={text[:20]!r} is not finite")
    return value


def _coordinate(value: str, hemi: str, *, is_lat: bool) -> float:
    """``ddmm.mmmm``/``dddmm.mmmm`` plus N/S/E/W -> signed decimal degrees."""
    name = "latitude" if is_lat else "longitude"
    if value == "" or hemi == "":
        raise FeedError("missing_field", f"{name} is empty")
    deg_digits = 2 if is_lat else 3
    if not re.fullmatch(rf"\d{{{deg_digits}}}\d{{2}}(\.\d+)?", value):
        raise FeedError("wrong_type", f"{name} {value[:20]!r} is not {'dd' if is_lat else 'ddd'}mm.mmmm")
    degrees = int(value[:deg_digits])
    minutes = float(value[deg_digits:])
    if minutes >= 60.0:
        raise FeedError("out_of_range", f"{name} minutes {minutes} >= 60")
    result = degrees + minutes / 60.0
    allowed = ("N", "S") if is_lat else ("E", "W")
    if hemi not in allowed:
        raise FeedError("wrong_type", f"{name} hemisphere {hemi[:3]!r} not in {allowed}")
    return -result if hemi in ("S", "W") else result


def _time_of_day(text: str) -> dtime:
    if not re.fullmatch(r"\d{6}(\.\d+)?", text):
        raise FeedError(
            "invalid_time" if text else "missing_field", f"UTC time {text[:20]!r} is not hhmmss.ss"
        )
    hh, mm, ss = int(text[0:2]), int(text[2:4]), float(text[4:])
    if hh > 23 or mm > 59 or ss >= 61:  # 60 allows a leap second
        raise FeedError("invalid_time", f"UTC time {text} out of range")
    whole = min(int(ss), 59)
    return dtime(hh, mm, whole, round((ss - int(ss)) * 1_000_000) % 1_000_000, tzinfo=UTC)


def _date(text: str) -> date:
    if not re.fullmatch(r"\d{6}", text):
        raise FeedError("invalid_time" if text else "missing_field", f"date {text[:20]!r} is not ddmmyy")
    dd, mm, yy = int(text[0:2]), int(text[2:4]), int(text[4:6])
    try:
        # Two-digit years: 80-99 are 1980-1999 (GPS started in 1980), 00-79 are 2000-2079.
        return date(1900 + yy if yy >= 80 else 2000 + yy, mm, dd)
    except ValueError as exc:
        raise FeedError("invalid_time", f"date {text}: {exc}") from exc


def _parse_rmc(talker: str, f: list[str]) -> Rmc:
    # RMC,hhmmss.ss,A,llll.ll,a,yyyyy.yy,a,x.x,x.x,ddmmyy,x.x,a[,m[,s]]
    _need(f, 10, "RMC")
    if f[2] != "A":
        raise FeedIgnored("no_fix", f"RMC status {f[2]!r} (void): receiver has no fix")
    if len(f) > 12 and f[12] in ("N", "E"):  # NMEA 2.3 mode: not valid / dead reckoning only
        raise FeedIgnored("no_fix", f"RMC mode {f[12]!r}: position not valid")
    tod = _time_of_day(f[1])
    day = _date(f[9])
    lat, lon = check_lat_lon(_coordinate(f[3], f[4], is_lat=True), _coordinate(f[5], f[6], is_lat=False))
    speed = _number(f[7], "speed")
    course = _number(f[8], "course")
    if speed is not None and speed < 0:
        raise FeedError("out_of_range", f"speed {speed} is negative")
    return Rmc(
        talker=talker,
        time=datetime.combine(day, tod),
        lat=lat,
        lon=lon,
        speed_mps=None if speed is None else speed * KNOTS_TO_MPS,
        course_deg=None if course is None else course % 360.0,
        nav_status=_nav_status(f, 13),
    )


def _parse_gga(talker: str, f: list[str]) -> Gga:
    # GGA,hhmmss.ss,llll.ll,a,yyyyy.yy,a,q,nn,h.h,alt,M,sep,M,age,station
    _need(f, 10, "GGA")
    try:
        quality = int(f[6]) if f[6] else 0
    except ValueError as exc:
        raise FeedError("wrong_type", f"GGA quality {f[6][:10]!r} is not an integer") from exc
    if quality not in _GGA_FIX:
        raise FeedIgnored("no_fix", f"GGA fix quality {quality}: no fix (0 none, 6 estimated, 7 manual, 8 simulated)")
    tod = _time_of_day(f[1])
    lat, lon = check_lat_lon(_coordinate(f[2], f[3], is_lat=True), _coordinate(f[4], f[5], is_lat=False))
    sats = _number(f[7], "satellites")
    return Gga(
        talker=talker,
        time_of_day=tod,
        lat=lat,
        lon=lon,
        quality=quality,
        satellites=None if sats is None else int(sats),
        hdop=_number(f[8], "hdop"),
        altitude_m=_number(f[9], "altitude"),
    )


def _parse_gns(talker: str, f: list[str]) -> Gga:
    # GNS,hhmmss.ss,llll.ll,a,yyyyy.yy,a,modes,nn,hdop,alt,sep,age,station[,status]: GGA for several systems
    _need(f, 10, "GNS")
    if not _GNS_FIX.intersection(f[6]):
        raise FeedIgnored("no_fix", f"GNS modes {f[6][:8]!r}: no constellation has a fix")
    tod = _time_of_day(f[1])
    lat, lon = check_lat_lon(_coordinate(f[2], f[3], is_lat=True), _coordinate(f[4], f[5], is_lat=False))
    sats = _number(f[7], "satellites")
    return Gga(talker=talker, time_of_day=tod, lat=lat, lon=lon, quality=1,
               satellites=None if sats is None else int(sats), hdop=_number(f[8], "hdop"),
               altitude_m=_number(f[9], "altitude"), nav_status=_nav_status(f, 13))


def _nav_status(f: list[str], index: int) -> str | None:
    """NMEA 4.10's navigational status field, when the sentence has one (S, C, U or V; anything else is none)."""
    value = f[index] if len(f) > index else ""
    return value if value in ("S", "C", "U", "V") else None


def _parse_gll(talker: str, f: list[str]) -> Gll:
    # GLL,llll.ll,a,yyyyy.yy,a,hhmmss.ss,A[,mode]
    _need(f, 7, "GLL")
    if f[6] != "A" or (len(f) > 7 and f[7] in ("N", "E")):
        raise FeedIgnored("no_fix", f"GLL status {f[6][:3]!r}: position not valid")
    tod = _time_of_day(f[5])
    lat, lon = check_lat_lon(_coordinate(f[1], f[2], is_lat=True), _coordinate(f[3], f[4], is_lat=False))
    return Gll(talker=talker, time_of_day=tod, lat=lat, lon=lon)


def _parse_zda(talker: str, f: list[str]) -> Zda:
    # ZDA,hhmmss.ss,dd,mm,yyyy,zone_h,zone_m
    _need(f, 5, "ZDA")
    if not (f[1] and f[2] and f[3] and f[4]):
        raise FeedIgnored("no_fix", "ZDA without date or time: receiver has no time yet")
    if not re.fullmatch(r"\d{2}", f[2]) or not re.fullmatch(r"\d{2}", f[3]) or not re.fullmatch(r"\d{4}", f[4]):
        raise FeedError("invalid_time", f"ZDA date {f[2][:4]}/{f[3][:4]}/{f[4][:6]} is not dd,mm,yyyy")
    try:
        day = date(int(f[4]), int(f[3]), int(f[2]))
    except ValueError as exc:
        raise FeedError("invalid_time", f"ZDA date: {exc}") from exc
    return Zda(talker=talker, time=datetime.combine(day, _time_of_day(f[1])))


def _parse_vtg(talker: str, f: list[str]) -> Vtg:
    # VTG,course_true,T,course_mag,M,speed_knots,N,speed_kmh,K[,mode]
    _need(f, 9, "VTG")
    if len(f) > 9 and f[9] == "N":
        raise FeedIgnored("no_fix", "VTG mode N: data not valid")
    course = _number(f[1], "course")
    knots = _number(f[5], "speed")
    kmh = _number(f[7], "speed_kmh")
    speed = knots * KNOTS_TO_MPS if knots is not None else (kmh / 3.6 if kmh is not None else None)
    if speed is not None and speed < 0:
        raise FeedError("out_of_range", f"speed {speed} is negative")
    return Vtg(talker=talker, course_deg=None if course is None else course % 360.0, speed_mps=speed)


_PARSERS: dict[str, Callable[[str, list[str]], Sentence]] = {
    "RMC": _parse_rmc, "GGA": _parse_gga, "GNS": _parse_gns, "GLL": _parse_gll, "ZDA": _parse_zda, "VTG": _parse_vtg}


def _parse_pwfid(f: list[str]) -> DeviceId:
    if len(f) < 2 or not _DEVICE_ID.fullmatch(f[1]):
        raise FeedError("malformed_sentence", "PWFID needs one device id of 1-64 characters [A-Za-z0-9_.:@-]")
    return DeviceId(device=f[1])


# --- device identity --------------------------------------------------------------------------------


class DeviceMap:
    """Device id -> unit callsign, loaded from JSON (``{"devices": {id: callsign}}`` or a flat object)
    or INI (a ``[devices]`` section of ``id = callsign`` lines)."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, str] = {}
        for device, callsign in (mapping or {}).items():
            if not isinstance(device, str) or not isinstance(callsign, str):
                raise FeedError(
                    "wrong_type", f"device map entries must be strings: {device!r} -> {callsign!r}"
                )
            if not _DEVICE_ID.fullmatch(device) or not callsign.strip():
                raise FeedError(
                    "malformed_mapping", f"bad device map entry {device[:70]!r} -> {callsign[:70]!r}"
                )
            self._map[device] = callsign.strip()

    @classmethod
    def from_json(cls, text: str | bytes) -> DeviceMap:
        """Load ``{"devices": {"gps-17": "ENGINE-1"}}`` or ``{"gps-17": "ENGINE-1"}``."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise FeedError("malformed_mapping", f"device map is not JSON: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("devices"), dict):
            data = data["devices"]
        if not isinstance(data, dict):
            raise FeedError("wrong_type", "device map must be a JSON object")
        return cls(data)

    @classmethod
    def from_ini(cls, text: str) -> DeviceMap:
        """Load a ``[devices]`` section: ``gps-17 = ENGINE-1``."""
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep device ids' case
        try:
            parser.read_string(text)
        except configparser.Error as exc:
            raise FeedError("malformed_mapping", f"device map is not INI: {exc}") from exc
        if not parser.has_section("devices"):
            raise FeedError("missing_field", "device map has no [devices] section")
        return cls(dict(parser.items("devices")))

    def callsign_for(self, device: str) -> str | None:
        """The unit callsign for a device id, or None when the device is not mapped."""
        return self._map.get(device)

    def __len__(self) -> int:
        return len(self._map)


@dataclass(frozen=True, slots=True)
class NmeaPosition:
    """A position report ready to map onto a unit: who (device, callsign), when, where, how fast."""

    device: str
    callsign: str | None
    time: datetime
    lat: float
    lon: float
    altitude_m: float | None
    speed_mps: float | None
    course_deg: float | None
    gnss: str | None = None  # "unsafe": the receiver's last navigational status said so (NMEA 4.10 RMC or GNS)

    @property
    def epoch(self) -> float:
        """Seconds since 1970-01-01 UTC."""
        return self.time.timestamp()


class NmeaSession:
    """Per-source state: device identity, the last date seen (GGA and GLL have none) and the last altitude.

    ``feed(line, received)`` returns an ``NmeaPosition`` for each fix (RMC, GGA, GNS or GLL) and ``None`` for
    sentences that only update the session (VTG course and speed, ZDA date, ``$PWFID`` renaming the source).
    A receiver sends several sentences for every fix: the later ones of a fix already reported (same device,
    same time, or a few milliseconds before it: ``_SAME_FIX``) update the session but report nothing, so one fix
    is one position. A fix without a date takes
    it from RMC or ZDA; a receiver that sends neither (GLL-only, GGA-only) gets the date of ``received`` (the
    hub's clock), once its second fix shows no date is coming. Errors raise ``FeedError``, valid sentences we
    do not use ``FeedIgnored``. The receiver's last navigational status (NMEA 4.10 RMC or GNS) goes with each fix:
    ``gnss="unsafe"`` while it says U (a status in a later sentence of a fix already reported goes with the next).
    """

    def __init__(self, source: str, device_map: DeviceMap | None = None) -> None:
        self.source = source
        self.device = source
        self.device_map = device_map or DeviceMap()
        self._date: date | None = None
        self._undated: dtime | None = None  # the first fix's time of day while no date is known
        self._altitude: float | None = None
        self._speed: float | None = None
        self._course: float | None = None
        self._reported: tuple[str, datetime] | None = None  # (device, time) of the last fix reported
        self._gnss: str | None = None  # the receiver's own warning, from its last navigational status

    def feed(self, line: bytes | str, received: datetime | None = None) -> NmeaPosition | None:
        """Parse one sentence and return the position it completes, if any (`received`: when, aware)."""
        sentence = parse_sentence(line)
        if isinstance(sentence, DeviceId):
            self.device = sentence.device
            return None
        if isinstance(sentence, Vtg):
            self._speed, self._course = sentence.speed_mps, sentence.course_deg
            return None
        if isinstance(sentence, Zda):
            self._date = sentence.time.date()
            return None
        if isinstance(sentence, Rmc | Gga) and sentence.nav_status is not None:
            self._gnss = "unsafe" if sentence.nav_status == _UNSAFE else None
        if isinstance(sentence, Rmc):
            self._date = sentence.time.date()
            self._speed, self._course = sentence.speed_mps, sentence.course_deg
            return self._position(sentence.time, sentence.lat, sentence.lon)
        if isinstance(sentence, Gga):
            self._altitude = sentence.altitude_m
        when = self._dated(sentence.time_of_day, received)
        return self._position(when, sentence.lat, sentence.lon)

    def _dated(self, tod: dtime, received: datetime | None) -> datetime:
        """A time of day on the right date: the last one the receiver gave, else the day it was received."""
        if self._date is not None:
            when = datetime.combine(self._date, tod)
            if self._reported is not None and when < self._reported[1] - _HALF_DAY:
                when += timedelta(days=1)  # past midnight before the receiver's next date
            return when
        if received is None or self._undated is None or self._undated == tod:
            # The first fix: its RMC or ZDA may still be on its way (receivers send them after GGA).
            self._undated = tod
            raise FeedIgnored("no_date", "fix without a date; waiting for the receiver's RMC or ZDA")
        received = received.astimezone(UTC)
        when = datetime.combine(received.date(), tod)
        if when - received > _CLOCK_DRIFT:  # a fix comes before it is received: this time of day was yesterday
            when -= timedelta(days=1)
        return when

    def _position(self, when: datetime, lat: float, lon: float) -> NmeaPosition | None:
        if self._reported is not None and self._reported[0] == self.device \
                and timedelta(0) <= self._reported[1] - when < _SAME_FIX:
            return None
        self._reported = (self.device, when)
        return NmeaPosition(
            device=self.device,
            callsign=self._callsign(),
            time=when,
            lat=lat,
            lon=lon,
            altitude_m=self._altitude,
            speed_mps=self._speed,
            course_deg=self._course,
            gnss=self._gnss,
        )

    def _callsign(self) -> str | None:
        if self.device != self.source:  # the device named itself ($PWFID)
            return self.device_map.callsign_for(self.device)
        for key in transport_keys(self.source):
            callsign = self.device_map.callsign_for(key)
            if callsign is not None:
                return callsign
        return None


def transport_keys(source: str) -> list[str]:
    """Device-map keys a transport tag matches, most precise first: ``udp:10.0.0.8:5000``, ``udp:10.0.0.8``,
    ``10.0.0.8`` (a sender's port often changes when it restarts; its address rarely does)."""
    transport, _, rest = source.partition(":")
    host, _, port = rest.rpartition(":")
    if transport not in ("udp", "tcp") or not host or not port.isdigit():
        return [source]
    return [source, f"{transport}:{host}", host]
