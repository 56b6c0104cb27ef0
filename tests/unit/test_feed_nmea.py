"""NMEA 0183: our parser against pynmea2 (an independent implementation), plus hostile input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pynmea2
import pytest

from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.nmea import (
    KNOTS_TO_MPS,
    DeviceId,
    DeviceMap,
    Gga,
    NmeaPosition,
    NmeaSession,
    Rmc,
    Vtg,
    encode_device_id,
    encode_gga,
    encode_rmc,
    parse_sentence,
    with_checksum,
)

# Real receiver output: u-blox (GN talker, NMEA 4.x mode fields) and classic SiRF-style GP sentences.
REAL = [
    "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
    "$GNRMC,093000.00,A,6010.19400,N,02456.30400,E,0.012,,010524,,,A*6C",
    "$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48",
]


def sentence(body: str) -> str:
    return with_checksum(body)


def code_of(line) -> str:
    with pytest.raises(FeedError) as err:
        parse_sentence(line)
    return err.value.code


def test_real_sentences_agree_with_pynmea2():
    for line in REAL:
        ours = parse_sentence(line)
        theirs = pynmea2.parse(line, check=True)
        if isinstance(ours, Rmc | Gga):
            assert ours.lat == pytest.approx(theirs.latitude, abs=1e-9)
            assert ours.lon == pytest.approx(theirs.longitude, abs=1e-9)
        if isinstance(ours, Rmc):
            assert ours.time == datetime.combine(theirs.datestamp, theirs.timestamp).replace(tzinfo=UTC)
            assert ours.speed_mps == pytest.approx(float(theirs.spd_over_grnd) * KNOTS_TO_MPS)
        if isinstance(ours, Gga):
            assert ours.altitude_m == pytest.approx(theirs.altitude)
            assert ours.satellites == int(theirs.num_sats) and ours.quality == theirs.gps_qual
        if isinstance(ours, Vtg):
            assert ours.course_deg == pytest.approx(theirs.true_track)
            assert ours.speed_mps == pytest.approx(float(theirs.spd_over_grnd_kts) * KNOTS_TO_MPS)


def test_random_positions_agree_with_pynmea2_both_ways():
    rng = random.Random(7)
    for _ in range(300):
        lat, lon = rng.uniform(-89.99, 89.99), rng.uniform(-179.99, 179.99)
        la, lo = abs(lat), abs(lon)
        lat_s = f"{int(la):02d}{(la - int(la)) * 60:07.4f}"
        lon_s = f"{int(lo):03d}{(lo - int(lo)) * 60:07.4f}"
        talker = rng.choice(["GP", "GN", "GL", "GA", "BD"])
        knots, course = rng.uniform(0, 80), rng.uniform(0, 359.9)
        day = f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(0, 30):02d}"
        body = (
            f"{talker}RMC,{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}.00,A,"
            f"{lat_s},{'N' if lat >= 0 else 'S'},{lon_s},{'E' if lon >= 0 else 'W'},"
            f"{knots:.2f},{course:.1f},{day},,,A"
        )
        # pynmea2 builds the checksum independently of us
        line = str(pynmea2.RMC(talker, "RMC", tuple(body.split(",")[1:])))
        assert line == sentence(body)
        ours, theirs = parse_sentence(line), pynmea2.parse(line, check=True)
        assert isinstance(ours, Rmc) and ours.talker == talker
        assert ours.lat == pytest.approx(theirs.latitude, abs=1e-9)
        assert ours.lon == pytest.approx(theirs.longitude, abs=1e-9)
        assert ours.lat == pytest.approx(lat, abs=1e-5) and ours.lon == pytest.approx(lon, abs=1e-5)
        assert ours.time == datetime.combine(theirs.datestamp, theirs.timestamp).replace(tzinfo=UTC)
        assert ours.course_deg == pytest.approx(float(theirs.true_course))


def test_session_combines_and_tags_device():
    devices = DeviceMap.from_json('{"devices": {"gps-17": "ENGINE-1"}}')
    session = NmeaSession("tcp:10.0.0.9:40211", devices)
    with pytest.raises(FeedIgnored) as ignored:  # no date yet: the fix's RMC is on its way
        session.feed(sentence("GNGGA,093000.00,6010.194,N,02456.304,E,1,10,0.8,21.5,M,18.0,M,,"))
    assert ignored.value.kind == "no_date"
    assert session.feed(sentence("PWFID,gps-17")) is None
    pos = session.feed(REAL[2])
    assert (pos.device, pos.callsign, pos.altitude_m) == ("gps-17", "ENGINE-1", 21.5)
    assert pos.time == datetime(2024, 5, 1, 9, 30, tzinfo=UTC) and pos.epoch == 1714555800.0
    assert pos.lat == pytest.approx(60 + 10.194 / 60) and pos.lon == pytest.approx(24 + 56.304 / 60)
    after = session.feed(sentence("GNGGA,093001.00,6010.200,N,02456.304,E,1,10,0.8,22.0,M,18.0,M,,"))
    assert after.time == datetime(2024, 5, 1, 9, 30, 1, tzinfo=UTC) and after.altitude_m == 22.0
    unmapped = NmeaSession("udp:10.0.0.8:5000", devices).feed(REAL[0])
    assert (unmapped.device, unmapped.callsign) == ("udp:10.0.0.8:5000", None)


def test_device_map_ini_and_bad_maps():
    assert DeviceMap.from_ini("[devices]\nGPS-17 = ENGINE-1\n").callsign_for("GPS-17") == "ENGINE-1"
    for bad, code in [
        ("[[", "malformed_mapping"),
        ('{"devices": {"a": 5}}', "wrong_type"),
        ("[1, 2]", "wrong_type"),
        ('{"bad id with spaces": "X"}', "malformed_mapping"),
    ]:
        with pytest.raises(FeedError) as err:
            DeviceMap.from_json(bad)
        assert err.value.code == code
    with pytest.raises(FeedError) as err:
        DeviceMap.from_ini("[other]\na = b\n")
    assert err.value.code == "missing_field"


def test_pwfid_sentence():
    assert parse_sentence(sentence("PWFID,unit-42")) == DeviceId("unit-42")
    assert code_of(sentence("PWFID,has space")) == "malformed_sentence"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("", "empty"),
        (b"\r\n", "empty"),
        ("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6B", "bad_checksum"),
        ("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6", "bad_checksum"),
        (sentence("GPRMC,123519,A,9107.038,N,01131.000,E,0,0,230394,,"), "out_of_range"),
        (sentence("GPRMC,123519,A,4807.038,N,18131.000,E,0,0,230394,,"), "out_of_range"),
        (sentence("GPRMC,123519,A,4867.038,N,01131.000,E,0,0,230394,,"), "out_of_range"),
        (sentence("GPRMC,123519,A,48O7.038,N,01131.000,E,0,0,230394,,"), "wrong_type"),
        (sentence("GPRMC,123519,A,4807.038,X,01131.000,E,0,0,230394,,"), "wrong_type"),
        (sentence("GPRMC,123519,A,4807.038,N,01131.000,E,fast,0,230394,,"), "wrong_type"),
        (sentence("GPRMC,123519,A,4807.038,N,01131.000,E,nan,0,230394,,"), "wrong_type"),
        (sentence("GPRMC,123519,A,,N,01131.000,E,0,0,230394,,"), "missing_field"),
        (sentence("GPRMC,253519,A,4807.038,N,01131.000,E,0,0,230394,,"), "invalid_time"),
        (sentence("GPRMC,123519,A,4807.038,N,01131.000,E,0,0,300294,,"), "invalid_time"),
        (sentence("GPRMC,123519,A,4807.038"), "truncated"),
        (sentence("GP RMC,1"), "malformed_sentence"),
        ("$hello,world", "malformed_sentence"),  # no checksum is allowed; an address that is none is not
        ("GPRMC,123519,A*00", "malformed_sentence"),
        (b"$GPRMC,\xff\xfe*00", "malformed_sentence"),
        ("$GPRMC,\x00\x01*01", "malformed_sentence"),
        ("$" + "A" * 300 + "*00", "too_large"),
        (b"$" + b"A" * 5_000_000, "too_large"),
        (12345, "wrong_type"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_hostile_and_invalid_sentences(line, code):
    assert code_of(line) == code


def test_pynmea2_agrees_our_bad_checksum_is_bad():
    line = REAL[0][:-2] + "00"
    with pytest.raises(pynmea2.ChecksumError):
        pynmea2.parse(line, check=True)
    assert code_of(line) == "bad_checksum"


def test_encoded_fixes_read_back_with_pynmea2_and_ours():
    rng = random.Random(11)
    for _ in range(300):
        lat, lon = round(rng.uniform(-89.99, 89.99), 6), round(rng.uniform(-179.99, 179.99), 6)
        when = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(milliseconds=rng.randrange(86_400_000 * 400))
        speed, course = rng.uniform(0, 40), rng.uniform(0, 359.9)
        rmc, gga = encode_rmc(when, lat, lon, speed_mps=speed, course_deg=course), encode_gga(when, lat, lon)
        assert len(rmc) <= 82 and len(gga) <= 82  # what the standard allows
        theirs = pynmea2.parse(rmc, check=True)
        assert theirs.latitude == pytest.approx(lat, abs=1e-7) and theirs.longitude == pytest.approx(lon, abs=1e-7)
        ours = parse_sentence(rmc)
        assert isinstance(ours, Rmc) and ours.time == when
        assert (ours.lat, ours.lon) == (pytest.approx(lat, abs=1e-7), pytest.approx(lon, abs=1e-7))
        assert ours.speed_mps == pytest.approx(speed, abs=1e-3) and ours.course_deg == pytest.approx(course, abs=0.05)
        fix = parse_sentence(gga)
        assert isinstance(fix, Gga) and fix.time_of_day == when.timetz() and fix.quality == 1
        assert pynmea2.parse(gga, check=True).latitude == pytest.approx(lat, abs=1e-7)


def test_encoders_refuse_what_no_receiver_would_send():
    when = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    for bad in (lambda: encode_rmc(when, 91.0, 24.9), lambda: encode_gga(when, 60.1, float("nan")),
                lambda: encode_rmc(datetime(2024, 5, 1), 60.1, 24.9),
                lambda: encode_rmc(when, 60.1, 24.9, speed_mps=-1.0)):
        with pytest.raises((FeedError, ValueError)):
            bad()
    with pytest.raises(ValueError):
        encode_device_id("has space")


def test_one_fix_in_rmc_and_gga_is_one_position():
    session = NmeaSession("udp:127.0.0.1:4000", DeviceMap({"AVL-M11": "M11"}))
    when = datetime(2024, 5, 1, 9, 30, 0, 250_000, tzinfo=UTC)
    assert session.feed(encode_device_id("AVL-M11")) is None
    first = session.feed(encode_rmc(when, 60.17, 24.94, speed_mps=12.5, course_deg=90.0))
    assert (first.callsign, first.time, first.speed_mps) == ("M11", when, pytest.approx(12.5, abs=1e-3))
    assert session.feed(encode_gga(when, 60.17, 24.94, altitude_m=12.0)) is None  # the same fix again
    later = when + timedelta(milliseconds=1)
    assert session.feed(encode_gga(later, 60.1701, 24.94)).time == later
    # Another device on the same sender (a relay) at the same time is another fix.
    session.feed(encode_device_id("AVL-M12"))
    assert session.feed(encode_rmc(later, 60.16, 24.93)).device == "AVL-M12"


# --- real receivers (gpsd's regression logs, tests/data/real/nmea): ignored is not quarantined -----------

REAL_LOGS = Path(__file__).resolve().parents[1] / "data" / "real" / "nmea"


def real_log(name: str) -> list[str]:
    return [line for line in (REAL_LOGS / name).read_text().splitlines() if line.startswith(("$", "!"))]


def outcome(session: NmeaSession, line: str, received: datetime | None = None) -> str:
    """"fix", "update" (the session learnt something), "ignored:<kind>" or "error:<code>"."""
    try:
        return "update" if session.feed(line, received) is None else "fix"
    except FeedIgnored as ignored:
        return f"ignored:{ignored.kind}"
    except FeedError as error:
        return f"error:{error.code}"


def fix_of(session: NmeaSession, line: str, received: datetime | None = None) -> NmeaPosition | None:
    """The fix a sentence completes; None when it completes none or is ignored."""
    try:
        return session.feed(line, received)
    except FeedIgnored:
        return None


@pytest.mark.parametrize(("name", "errors"), [
    ("bu353-glonass.log", []), ("beidou-gb.log", []), ("gr601-w.log", []), ("bt451.log", []), ("ch-4711.log", []),
    ("garmin-geko201.log", ["error:bad_checksum"]),  # its line "$GPBOD,,T,,M,,*" lost its checksum on the wire
])
def test_real_receiver_logs_are_read_or_ignored(name, errors):
    """Every sentence of six real receivers is read or ignored by kind; only what is really broken is refused."""
    session = NmeaSession("udp:10.0.0.8:5000")
    outcomes = [outcome(session, line) for line in real_log(name)]
    assert [o for o in outcomes if o.startswith("error")] == errors
    assert any(o.startswith("ignored:") for o in outcomes)


def test_ignored_kinds_of_real_sentences():
    """GSV/GSA/TXT/... by type, $P... as proprietary, a receiver without a fix as no_fix."""
    session = NmeaSession("udp:10.0.0.8:5000")
    kinds = {o.removeprefix("ignored:") for name in ("garmin-geko201.log", "bt451.log", "beidou-gb.log",
                                                     "ch-4711.log")
             for o in (outcome(session, line) for line in real_log(name)) if o.startswith("ignored:")}
    assert {"GSV", "GSA", "TXT", "RMB", "BOD", "RTE", "proprietary", "no_fix"} <= kinds


def test_garmin_in_simulator_mode_gives_no_fix():
    """The Geko 201 log is a receiver in demo mode (RMC V, GGA quality 8): nothing of it is a real fix."""
    session = NmeaSession("udp:10.0.0.8:5000")
    assert "fix" not in {outcome(session, line) for line in real_log("garmin-geko201.log")}


def test_receivers_without_rmc_still_give_fixes():
    """GGA+ZDA receivers take the date from ZDA; GLL-only ones from the clock they were received by."""
    session = NmeaSession("udp:10.0.0.8:5000")
    fixes = [fix for line in real_log("bu353-glonass.log") if line[3:6] in ("GGA", "ZDA")
             if (fix := fix_of(session, line)) is not None]
    assert len(fixes) >= 5 and all(fix.time.date() == datetime(2014, 5, 26).date() for fix in fixes)

    received = datetime(2024, 10, 24, 14, 40, tzinfo=UTC)
    session = NmeaSession("udp:10.0.0.8:5000")
    gll = [line for line in real_log("gr601-w.log") if line[3:6] == "GLL"]
    results = [outcome(session, line, received) for line in gll]
    assert results[0] == "ignored:no_date" and results[1:].count("fix") == len(gll) - 1
    session = NmeaSession("udp:10.0.0.8:5000")
    assert fix_of(session, gll[0], received) is None
    assert fix_of(session, gll[1], received).time == datetime(2024, 10, 24, 14, 32, 52, tzinfo=UTC)
    after_midnight = NmeaSession("udp:10.0.0.8:5000")  # fixed at 14:32 and received at 09:00: it was yesterday
    assert fix_of(after_midnight, gll[0], datetime(2024, 10, 25, 9, tzinfo=UTC)) is None
    yesterday = fix_of(after_midnight, gll[1], datetime(2024, 10, 25, 9, tzinfo=UTC))
    assert yesterday.time == datetime(2024, 10, 24, 14, 32, 52, tzinfo=UTC)


def test_sentences_without_checksum_are_read():
    line = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"
    fix = parse_sentence(line)
    assert isinstance(fix, Rmc) and fix.lat == pytest.approx(pynmea2.parse(line).latitude)


def test_gns_gll_and_zda_agree_with_pynmea2():
    for line in ("$GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,*70",
                 "$GPGLL,4002.10504,N,07531.20566,W,143251.00,A,A*7A",
                 "$GPZDA,081403.000,26,05,2014,,*5E"):
        ours, theirs = parse_sentence(line), pynmea2.parse(line, check=True)
        if hasattr(ours, "lat"):
            assert (ours.lat, ours.lon) == (pytest.approx(theirs.latitude), pytest.approx(theirs.longitude))
        else:
            assert ours.time == datetime.combine(theirs.datestamp, theirs.timestamp).replace(tzinfo=UTC)


def test_midnight_between_a_fix_and_its_date():
    session = NmeaSession("udp:10.0.0.8:5000")
    session.feed(sentence("GPZDA,235959.00,31,12,2024,,"))
    session.feed(sentence("GPGGA,235959.00,6010.194,N,02456.304,E,1,10,0.8,21.5,M,18.0,M,,"))
    after = session.feed(sentence("GPGGA,000000.00,6010.194,N,02456.304,E,1,10,0.8,21.5,M,18.0,M,,"))
    assert after.time == datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("key", ["udp:10.0.0.8:5000", "udp:10.0.0.8", "10.0.0.8"])
def test_device_map_keys_as_the_docs_write_them(key):
    session = NmeaSession("udp:10.0.0.8:5000", DeviceMap({key: "E11"}))
    assert session.feed(REAL[0]).callsign == "E11"


# --- GNSS integrity: NMEA 4.10's navigational status --------------------------------------------------------

#: A real NMEA 4.10 RMC (gpsd's navika-100-fix.log): mode A, navigational status V ("not given").
NAVIKA_RMC = "$GPRMC,223251.00,A,3757.92653,N,12231.94543,W,0.068,338.51,210416,0.00,E,A,V*5B"
#: A real GNS (gpsd's beidou-gb.log), NMEA 4.00: no navigational status field yet.
BEIDOU_GNS = "$GNGNS,074155.799,3114.8770,N,12135.2463,E,ANNA,05,1.3,156.9,8.3,,0000*52"


def with_status(line: str, status: str, *, append: bool = False) -> str:
    """The real sentence with its navigational status set (or, for 4.00, appended), its checksum made right."""
    body = line[1:line.rindex("*")]
    body = f"{body},{status}" if append else f"{body[:-1]}{status}"
    return with_checksum(body)


def test_a_receiver_that_says_its_fix_is_unsafe_marks_its_fixes_until_it_says_otherwise() -> None:
    assert parse_sentence(NAVIKA_RMC).nav_status == "V"
    assert parse_sentence(BEIDOU_GNS).nav_status is None  # NMEA 4.00 has no such field
    session = NmeaSession("udp:10.0.0.8:5000")
    assert session.feed(NAVIKA_RMC).gnss is None  # V: the receiver gives no status
    unsafe = with_status(NAVIKA_RMC.replace("223251.00", "223252.00"), "U")
    assert pynmea2.parse(unsafe, check=True).nav_status == "U"
    assert session.feed(unsafe).gnss == "unsafe"
    safe = with_status(NAVIKA_RMC.replace("223251.00", "223253.00"), "S")
    assert session.feed(safe).gnss is None
    gns = NmeaSession("udp:10.0.0.9:5000")
    gns.feed(with_checksum("GPZDA,074155.799,26,05,2014,,"))  # the date, so the GNS fix is reported
    assert gns.feed(with_status(BEIDOU_GNS, "U", append=True)).gnss == "unsafe"
