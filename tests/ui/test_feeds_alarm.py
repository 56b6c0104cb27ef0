"""The Feeds panel puts a hub alarm (its event log cannot be written) ahead of everything, and shows a stalled
feed as needing attention. The alarm itself is raised by a real hub on a full disk in
tests/integration/test_failure_modes.py; here the panel is given that answer."""

from __future__ import annotations

from app.ui.panels.feeds import FeedsPanel


def test_the_feeds_panel_leads_with_a_hub_alarm_and_flags_a_stalled_feed(qtbot) -> None:
    panel = FeedsPanel()
    qtbot.addWidget(panel)
    cap = {"name": "cap", "label": "CAP alerts", "health": "stalled", "quarantined": 0, "accepted": 0,
           "rate_per_min": 0.0, "last_input_at": None, "last_error": None, "recent": [], "listening": []}
    alarm = {"code": "log_unavailable", "since": 1795240000.0, "reason": "OperationalError: database or disk is full"}
    panel.set_result(True, {"at": 1795240003.0, "feeds": [cap], "alarms": [alarm]})
    text = panel.status.text()
    assert text.startswith("⚠ HUB ALARM log_unavailable: OperationalError: database or disk is full")
    assert "attention: cap" in text
    panel.set_result(True, {"at": 1795240009.0, "feeds": [{**cap, "health": "ok"}], "alarms": []})
    assert "ALARM" not in panel.status.text() and "all well" in panel.status.text()
