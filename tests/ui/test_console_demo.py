"""`watchfloor demo` end to end (in-process): embedded hub, demo accounts, live scenario, signed-in console."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

from PySide6.QtCore import QSettings

from app.cli import build_parser
from app.store.log import LogReader
from app.ui.cli_demo import start_demo


def quarantined(db) -> list[str]:
    reader = LogReader(db)
    try:
        return sorted(q["code"] for q in reader.quarantined() if q["feed"] in ("cot", "nmea"))
    finally:
        reader.close()


def test_demo_comes_up_live_as_a_police_dispatcher(qtbot, tmp_path) -> None:
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    args = build_parser(["demo"]).parse_args(["demo", "--agency", "police", "--db", str(tmp_path / "demo.db"),
                                              "--speed", "30"])
    assert isinstance(args, argparse.Namespace) and args.agency == "police"
    _app, window, cleanup = start_demo(args)
    try:
        qtbot.waitUntil(lambda: window.status.state == "connected" and window.status.agency == "police",
                        timeout=15000)
        # The simulator's fleet (40 units by default) and its first call (at 20 simulated seconds).
        qtbot.waitUntil(lambda: len(window.picture.units) >= 40 and len(window.picture.incidents) >= 1,
                        timeout=30000)
        # The unit board leads with the dispatcher's own agency; units move.
        assert window.unit_model.key(0) == "agency:police"
        qtbot.waitUntil(lambda: any(u.status != "available" for u in window.picture.units.values()), timeout=30000)
        # The demo drone: MAVLink telemetry through the hub's gateway, its footprint, its live video, a call.
        def drone_up() -> bool:
            drone = window.picture.drones.get("UAV1")
            return (drone is not None and drone.footprint is not None and drone.video_url.startswith("udp://")
                    and drone.incident is not None and drone.operator == "pilot1")
        qtbot.waitUntil(drone_up, timeout=30000)
        # Positions come over the field transports: an ambulance's AVL box (NMEA) keeps reporting, and the
        # scenario's broken field reports (at 120 simulated seconds) land in the hub's quarantine.
        reported = window.picture.units["M11"].position_at or 0.0
        qtbot.waitUntil(lambda: (window.picture.units["M11"].position_at or 0.0) > reported, timeout=30000)
        qtbot.waitUntil(lambda: quarantined(tmp_path / "demo.db") == ["bad_checksum", "entity_expansion",
                                                                      "truncated"], timeout=30000)
    finally:
        window.close()
        cleanup()


def test_console_subcommand_is_registered() -> None:
    args = build_parser(["console"]).parse_args(["console", "--url", "ws://127.0.0.1:1", "--user", "fire1"])
    assert (args.url, args.user) == ("ws://127.0.0.1:1", "fire1")


def test_the_demo_supervisor_sees_the_simulators_spoofed_fix_in_the_security_panel(qtbot, tmp_path) -> None:
    """At the real pace, the scenario spoofs one standing unit's device at 30 s; intrusion detection finds it
    and the supervisor's Security panel lists it, and nothing else of the clean traffic."""
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    args = build_parser(["demo"]).parse_args(["demo", "--supervisor", "--db", str(tmp_path / "demo.db")])
    _app, window, cleanup = start_demo(args)
    try:
        panel = window.triage_desk.security
        qtbot.waitUntil(lambda: window.status.role == "supervisor", timeout=15000)
        qtbot.waitUntil(lambda: panel.table.rowCount() >= 1, timeout=90000)
        assert window.docks["security"].isVisible()
        alert = next(iter(window.picture.security.alerts.values()))
        assert alert.rule == "teleport" and alert.device.startswith("device:SIM-")
        assert [panel.table.item(0, c).text() for c in (1, 2, 4)] == [alert.id, alert.unit, "teleport"]
        assert {a.rule for a in window.picture.security.alerts.values()} == {"teleport"}
    finally:
        window.close()
        cleanup()
