"""Feed health: ignored input is counted by kind and never makes a feed's health "errors"."""

from __future__ import annotations

from app.hub.feed_status import IGNORED_KINDS_KEPT, FeedRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_ignored_input_is_counted_by_kind_and_the_feed_stays_ok() -> None:
    clock = Clock()
    feeds = FeedRegistry(clock)
    nmea = feeds.feed("nmea", "NMEA GPS")
    for kind in ("GSV", "GSV", "GSA", "no_fix", "proprietary"):
        nmea.input("udp:10.0.0.8:5000")
        nmea.ignore(kind)
    nmea.input("udp:10.0.0.8:5000")
    nmea.accept()
    wire = nmea.wire(clock.now, 10)
    assert wire["health"] == "ok"
    assert (wire["received"], wire["accepted"], wire["ignored"], wire["quarantined"]) == (6, 1, 5, 0)
    assert wire["ignored_kinds"] == {"GSV": 2, "GSA": 1, "no_fix": 1, "proprietary": 1}
    feeds.quarantine("nmea", "udp:10.0.0.8:5000", "bad_checksum", "checksum '00' != computed 6A", b"$GPRMC*00")
    assert nmea.health(clock.now) == "errors"  # something wrong: that is a problem
    clock.now += 61
    assert nmea.health(clock.now) == "ok"


def test_kinds_are_bounded() -> None:
    status = FeedRegistry(Clock()).feed("cot")
    for n in range(IGNORED_KINDS_KEPT + 10):
        status.ignore(f"kind-{n}")
    assert len(status.ignored_kinds) == IGNORED_KINDS_KEPT + 1 and status.ignored_kinds["other"] == 10
    assert status.ignored == IGNORED_KINDS_KEPT + 10
