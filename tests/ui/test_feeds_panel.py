"""The Feeds panel says what a feed sent that nothing uses, by kind, without calling it a problem."""

from __future__ import annotations

from app.ui.panels.feeds import FeedsPanel


def test_ignored_kinds_are_in_the_feed_tooltip(qtbot) -> None:
    panel = FeedsPanel()
    qtbot.addWidget(panel)
    feed = {"name": "nmea", "label": "NMEA GPS", "listening": ["udp 0.0.0.0:10110"], "health": "ok", "sources": 4,
            "last_input_at": 1_800_000_000.0, "received": 409, "accepted": 26, "ignored": 283,
            "ignored_kinds": {"GSA": 82, "GSV": 107, "no_fix": 63, "no_date": 5, "proprietary": 19, "TXT": 6,
                              "GBS": 1},
            "quarantined": 0, "rate_per_min": 26.0, "last_error": None, "problem": None, "recent": []}
    panel.set_result(True, {"at": 1_800_000_001.0, "feeds": [feed]})
    tip = panel.table.item(0, 0).toolTip()
    assert "283 ignored (GSV 107, GSA 82, no_fix 63, proprietary 19, TXT 6, no_date 5, …)" in tip
    assert panel.table.item(0, 1).text() == "● ok"
