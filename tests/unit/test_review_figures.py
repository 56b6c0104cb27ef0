"""Response-time figures read back from a real SQLite log written by hand: the answers are known."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.picture import Viewer
from app.review.figures import duration, figures_by, figures_table, response_times
from app.review.replay import Replay, ReviewError
from tests.review_log import BASE, EXPECTED, write_morning


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_morning(tmp_path_factory.mktemp("review") / "morning.db")


def test_each_incident_read_back_has_its_known_times(morning: Path) -> None:
    with Replay(morning) as replay:
        times = {t.incident: t for t in response_times(replay)}
    assert times.keys() == EXPECTED.keys()
    for incident, (processing, turnout, travel, total, first) in EXPECTED.items():
        t = times[incident]
        assert (t.call_processing, t.turnout, t.travel, t.total, t.first_unit) == (
            processing, turnout, travel, total, first), incident
    # The reassigned call: its first dispatch (E2, cancelled) counts for call processing, E3 for the rest.
    assert times["1002"].first_unit == "E3"
    # The medical call reached first by the mutual-aid engine is measured on the engine.
    assert (times["1004"].agency, times["1004"].first_unit) == ("medical", "E1")


def test_figures_by_agency_against_nfpa(morning: Path) -> None:
    with Replay(morning) as replay:
        by = {(f.group, f.measure): f for f in figures_by(response_times(replay), "agency")}
    processing = by[("fire", "call_processing")]  # 50, 40, 70
    assert (processing.count, processing.median, processing.p90) == (3, 50, 70)
    assert processing.benchmark.seconds == 60 and processing.within == pytest.approx(2 / 3)
    assert processing.compliant is False
    turnout = by[("fire", "turnout")]  # 60, 90, 30 against fire's 80 s
    assert (turnout.median, turnout.p90, turnout.benchmark.seconds, turnout.compliant) == (60, 90, 80, False)
    travel = by[("fire", "travel")]  # 220, 300 against 240 s; the call nobody reached has no travel
    assert (travel.count, travel.median, travel.p90, travel.compliant) == (2, 260, 300, False)
    assert travel.within == pytest.approx(0.5)
    total = by[("fire", "total")]
    assert (total.count, total.median, total.p90, total.benchmark) == (2, 435, 540, None)
    medical_turnout = by[("medical", "turnout")]  # 60 s against medical's 60 s: met
    assert (medical_turnout.p90, medical_turnout.benchmark.seconds, medical_turnout.compliant) == (60, 60, True)
    assert ("police", "call_processing") not in by  # never dispatched: nothing to measure


def test_figures_by_type_priority_and_hour(morning: Path) -> None:
    with Replay(morning) as replay:
        times = response_times(replay)
    by_type = {(f.group, f.measure): f for f in figures_by(times, "type")}
    assert by_type[("structure_fire", "total")].median == 435
    assert by_type[("cardiac_arrest", "travel")].median == 150
    by_priority = {(f.group, f.measure): f for f in figures_by(times, "priority")}
    assert by_priority[("P1", "call_processing")].count == 3 and by_priority[("P2", "turnout")].median == 30
    # P1 mixes fire and medical calls: no single agency's turnout target applies.
    assert by_priority[("P1", "turnout")].benchmark is None
    by_hour = {(f.group, f.measure): f for f in figures_by(times, "hour")}
    assert by_hour[("08h", "call_processing")].count == 3 and by_hour[("09h", "call_processing")].count == 1
    with pytest.raises(ReviewError, match="not 'weekday'"):
        figures_by(times, "weekday")


def test_a_window_counts_calls_that_came_in_during_it(morning: Path) -> None:
    with Replay(morning) as replay:
        window = response_times(replay, BASE + 2500, BASE + 4500)
    assert [t.incident for t in window] == ["1003", "1004"]
    assert window[1].total == 250  # measured with the events after the call came in


def test_a_viewer_sees_figures_only_of_calls_it_may_see(morning: Path) -> None:
    with Replay(morning, viewer=Viewer("fire")) as replay:
        assert "1005" not in {t.incident for t in response_times(replay)}
    with Replay(morning, viewer=Viewer("police")) as replay:
        assert "1005" in {t.incident for t in response_times(replay)}


def test_the_table_reads_like_a_report(morning: Path) -> None:
    with Replay(morning) as replay:
        table = figures_table(figures_by(response_times(replay), "agency"))
    lines = table.splitlines()
    assert lines[0].split() == ["group", "measure", "n", "median", "90th", "pct", "target", "within", "meets"]
    travel = next(line for line in lines if line.startswith("fire") and "travel" in line)
    assert travel.split() == ["fire", "travel", "2", "4:20", "5:00", "240", "s", "50%", "NO"]
    assert duration(None) == "-" and duration(61.4) == "1:01" and duration(-5) == "-0:05"
