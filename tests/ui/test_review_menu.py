"""The console's Review menu against a real hub: who sees it, and its exports of the hub's own log."""

from __future__ import annotations

import csv
import json

from app.ui.review.actions import may_review
from tests.ui import console_fixtures
from tests.ui.console_fixtures import PASSWORD

hub = console_fixtures.hub
console = console_fixtures.console


def test_only_supervisors_may_review_by_the_role_table():
    assert may_review("supervisor")
    assert not any(may_review(role) for role in ("dispatcher", "observer", "feed", "drone_operator", "", "bogus"))


def test_review_menu_hidden_for_a_dispatcher_shown_for_a_supervisor(qtbot, hub, console):
    hub.ensure_user("super1", PASSWORD, "supervisor", "fire")
    dispatcher = console("fire1")
    qtbot.waitUntil(lambda: dispatcher.status.role == "dispatcher", timeout=10000)
    assert not dispatcher.review.menu.menuAction().isVisible()
    assert "&Review" in [a.text() for a in dispatcher.menuBar().actions()]  # present, but hidden
    supervisor = console("super1")
    qtbot.waitUntil(lambda: supervisor.review.menu.menuAction().isVisible(), timeout=10000)
    assert supervisor.review.seen_as == "FIRE view"  # the hub answers as the supervisor's agency may see


def test_exports_of_the_hubs_log_run_off_the_gui_thread(qtbot, hub, console, tmp_path):
    hub.ensure_user("super1", PASSWORD, "supervisor", "fire")
    window = console("super1")
    qtbot.waitUntil(lambda: window.review.menu.menuAction().isVisible(), timeout=10000)
    window.send("incident.create", {"type": "structure_fire", "lat": 60.1699, "lon": 24.9384,
                                    "address": "Aleksanterinkatu 52", "notes": "Smoke from the roof"})
    qtbot.waitUntil(lambda: bool(window.picture.incidents), timeout=10000)
    incident = next(iter(window.picture.incidents))
    source = window.review.source()
    t1 = max(i.created_at for i in window.picture.incidents.values()) + 1

    written: list[str] = []
    failed: list[str] = []
    window.review.exported.connect(written.append)
    window.review.export_failed.connect(failed.append)
    csv_path, geo_path = tmp_path / "hour.csv", tmp_path / "hour.geojson"
    window.review.export_window(source, t1 - 3600, t1, csv_path, "csv")
    window.review.export_window(source, t1 - 3600, t1, geo_path, "geojson")
    html_path, pdf_path = tmp_path / "report.html", tmp_path / "report.pdf"
    window.review.export_report(source, incident, html_path, "html")
    window.review.export_report(source, incident, pdf_path, "pdf")
    qtbot.waitUntil(lambda: len(written) + len(failed) == 4, timeout=60000)
    assert not failed, failed
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert any("Smoke from the roof" in " ".join(row.values()) and "super1" in row.values() for row in rows)
    features = json.loads(geo_path.read_text())["features"]
    assert any(f["properties"].get("id") == incident for f in features)
    assert "Aleksanterinkatu 52" in html_path.read_text(encoding="utf-8")
    assert pdf_path.read_bytes().startswith(b"%PDF")

    # A bad export says why and loses nothing: an incident the log does not hold.
    window.review.export_report(source, "999999", tmp_path / "none.html", "html")
    qtbot.waitUntil(lambda: len(failed) == 1, timeout=10000)
    assert "999999" in failed[0] and not (tmp_path / "none.html").exists()
    assert window.review.warning is not None and "999999" in window.review.warning.text()
    assert window.review.warning.isVisible() and not window.review.warning.isModal()


def test_a_dispatcher_given_the_right_reviews_as_their_agency(qtbot, hub, console, monkeypatch):
    from app.domain import authority
    from app.domain.agencies import Role

    monkeypatch.setitem(authority.ALLOWED, "review.open", frozenset({Role.SUPERVISOR, Role.DISPATCHER}))
    window = console("police1")
    qtbot.waitUntil(lambda: window.review.menu.menuAction().isVisible(), timeout=10000)
    assert window.review.seen_as == "POLICE view"


def test_replay_command_refuses_a_missing_or_foreign_file_clearly(tmp_path, capsys):
    from app.cli import main

    assert main(["replay", "--db", str(tmp_path / "missing.db")]) == 2
    assert "there is no log file" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_text("hello, not a database")
    assert main(["replay", "--db", str(junk)]) == 2
    assert "is not a Watchfloor log" in capsys.readouterr().err
