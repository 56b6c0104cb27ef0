"""The CAD command line, refusals, the offline outbox, attention cues, layout persistence, and the bridge."""

from __future__ import annotations

import time

from PySide6.QtCore import QSettings, Qt

from app.client.connection import HubClient
from app.ui.bridge import Frame
from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad

hub = console_fixtures.hub
console = console_fixtures.console
PASSWORD = console_fixtures.PASSWORD


def _incident(qtbot, hub, window, **extra) -> str:
    args = {"type": "medical_emergency", "lat": 60.17, "lon": 24.94, "address": "Bulevardi 1", **extra}
    window.send("incident.create", args)
    qtbot.waitUntil(lambda: hub.look(lambda p: len(p.incidents)) >= 1, timeout=5000)
    incident = hub.look(lambda p: max(p.incidents, key=int))
    qtbot.waitUntil(lambda: incident in window.picture.incidents)
    return incident


def test_cad_dispatch_and_status(qtbot, hub, console) -> None:
    fire = console("fire1")
    incident = _incident(qtbot, hub, fire, type="fire_alarm")
    assert incident == "1001"
    type_cad(qtbot, fire, "D E1 1001")
    qtbot.waitUntil(lambda: hub.look(lambda p: (p.units["E1"].status.value, p.units["E1"].incident))
                    == ("dispatched", "1001"), timeout=5000)
    qtbot.waitUntil(lambda: fire.command_line.feedback.text().startswith("✔"))
    assert not fire.command_line.has_error()
    type_cad(qtbot, fire, "er e1")
    qtbot.waitUntil(lambda: hub.unit_status("E1") == "en_route", timeout=5000)
    type_cad(qtbot, fire, "N 1001 Alarm panel shows zone 3")
    qtbot.waitUntil(lambda: [n.text for n in hub.look(lambda p: p.incidents["1001"].notes)]
                    == ["Alarm panel shows zone 3"], timeout=5000)
    # History: Up brings back the last line.
    qtbot.keyClick(fire.command_line.edit, Qt.Key.Key_Up)
    assert fire.command_line.edit.text() == "N 1001 Alarm panel shows zone 3"


def test_completion_offers_units_and_incidents(qtbot, hub, console) -> None:
    fire = console("fire1")
    _incident(qtbot, hub, fire)
    fire.command_line.focus()
    qtbot.keyClicks(fire.command_line.edit, "D E")
    completer = fire.command_line.edit._completer
    assert completer.completionPrefix() == "E"
    assert completer.completionCount() == 2  # E1, E2
    qtbot.keyClick(fire.command_line.edit, Qt.Key.Key_Tab)
    assert fire.command_line.edit.text() == "D E1 "


def test_refused_and_malformed_commands_say_why(qtbot, hub, console) -> None:
    fire = console("fire1")
    type_cad(qtbot, fire, "D E1 9999")
    qtbot.waitUntil(lambda: fire.command_line.has_error(), timeout=5000)
    assert "there is no incident 9999" in fire.command_line.feedback.text()
    assert "unknown_incident" in fire.statusBar().currentMessage()
    assert fire.command_line.edit.text() == "D E1 9999"  # put back to be corrected
    # Another agency's unit: the hub's reason is shown as it is.
    incident = _incident(qtbot, hub, fire)
    fire.command_line.edit.clear()
    type_cad(qtbot, fire, f"D P1 {incident}")
    qtbot.waitUntil(lambda: "belongs to police" in fire.command_line.feedback.text(), timeout=5000)
    # A line the parser cannot read never reaches the hub.
    fire.command_line.edit.clear()
    type_cad(qtbot, fire, "D E1")
    assert fire.command_line.has_error() and "usage: D" in fire.command_line.feedback.text()


def test_offline_shows_reconnecting_and_queued_then_applies_once(qtbot, hub, console) -> None:
    fire = console("fire1")
    incident = _incident(qtbot, hub, fire)
    hub.stop()
    qtbot.waitUntil(lambda: fire.status.state in ("reconnecting", "connecting"), timeout=10000)
    qtbot.waitUntil(lambda: "RECONNECTING" in fire.connection_label.text(), timeout=10000)
    type_cad(qtbot, fire, f"N {incident} typed while the hub was down")
    qtbot.waitUntil(lambda: "1 command queued" in fire.connection_label.text(), timeout=5000)
    assert fire.status.queued == 1
    hub.start()  # same database, same port
    qtbot.waitUntil(lambda: fire.held_dialog is not None, timeout=15000)  # shown before it goes
    fire.held_dialog.send_button.click()
    qtbot.waitUntil(lambda: fire.status.state == "connected" and fire.status.queued == 0, timeout=15000)
    qtbot.waitUntil(lambda: any(n.text == "typed while the hub was down"
                                for n in fire.picture.incidents[incident].notes), timeout=5000)
    notes = hub.look(lambda p: [n.text for n in p.incidents[incident].notes])
    assert notes.count("typed while the hub was down") == 1
    assert fire.connection_label.text().startswith("● CONNECTED")


def test_reconnecting_label_counts_down(qtbot, hub, console) -> None:
    fire = console("fire1")
    hub.stop()
    qtbot.waitUntil(lambda: fire.status.state == "reconnecting" and fire.status.retry_at is not None, timeout=10000)
    assert "retry in" in fire.connection_text()
    hub.start()
    qtbot.waitUntil(lambda: fire.status.state == "connected", timeout=15000)


def test_new_priority_one_from_elsewhere_flashes_and_sounds(qtbot, hub, console) -> None:
    police = console("police1")
    fire = console("fire1")
    before = police.sound.played
    fire.send("incident.create", {"type": "cardiac_arrest", "lat": 60.17, "lon": 24.94, "address": "Kalevankatu 3"})
    qtbot.waitUntil(lambda: police.banner.isVisible(), timeout=5000)
    assert police.banner.subject == ("incident", "1001")
    assert police.sound.played == before + 1
    assert police.queue_model.flash_until["1001"] > time.time()
    assert not fire.banner.isVisible()  # the one who took the call is not alarmed by it
    police.focus_incident("1001")
    assert not police.banner.isVisible()


def test_aid_declined_with_the_keyboard_answer(qtbot, hub, console) -> None:
    fire = console("fire1")
    medical = console("medical1")
    incident = _incident(qtbot, hub, fire, type="structure_fire")
    type_cad(qtbot, fire, f"AID {incident} medical standby")
    qtbot.waitUntil(lambda: medical.alerts.pending_for_me() == ["AR-1"], timeout=5000)
    medical.answer_pending(False)  # F9 accepts, Shift+F9 declines
    qtbot.waitUntil(lambda: hub.look(lambda p: p.aid_requests["AR-1"].state) == "declined", timeout=5000)
    qtbot.waitUntil(lambda: medical.alerts.pending_for_me() == [])


def test_layout_and_theme_are_kept_per_user(qtbot, hub, console, tmp_path) -> None:
    fire = console("fire1")
    fire.docks["chat"].hide()
    fire.toggle_theme()
    fire.close()
    settings = QSettings(str(tmp_path / "fire1.ini"), QSettings.Format.IniFormat)
    assert settings.value("fire1/theme") == "light"
    again = console("fire1")
    assert not again.docks["chat"].isVisible()
    assert again.docks["units"].isVisible()
    again.toggle_theme()


def test_frames_are_coalesced_private_copies(qtbot, hub, console) -> None:
    fire = console("fire1")
    frames: list[Frame] = []
    fire.bridge.frame.connect(frames.append)

    async def burst() -> None:
        feed = HubClient(hub.url, "feed1", PASSWORD, subscribe=False)
        feed.start()
        await feed.wait_for(lambda: feed.state == "connected", 10)
        base = time.time()
        for n in range(400):
            feed.report("unit.position", {"unit": "E1", "lat": 60.17 + n * 1e-5, "lon": 24.94, "t": base + n * 1e-3})
        await feed.call("unit.status", {"unit": "E2", "status": "out_of_service"})
        await feed.close()

    hub.run(burst())
    qtbot.waitUntil(lambda: fire.picture.units["E2"].status == "out_of_service", timeout=5000)
    qtbot.waitUntil(lambda: abs(fire.picture.units["E1"].lat - (60.17 + 399e-5)) < 1e-9, timeout=5000)
    assert len(frames) < 50  # 401 events, a handful of frames
    assert all(not any(e.kind == "unit.position" for e in f.events) for f in frames)
    # The GUI holds a copy: the network thread's live picture is never handed over.
    live = fire.bridge._client.picture
    assert frames[-1].picture is not live and frames[-1].picture.units["E1"] is not live.units["E1"]


def test_queue_keys_open_assign_dialog_and_digits_pick(qtbot, hub, console) -> None:
    from app.ui.dialogs import RecommendDialog

    fire = console("fire1")
    _incident(qtbot, hub, fire, type="vehicle_fire")  # needs one engine
    qtbot.waitUntil(lambda: fire.queue_model.rowCount() == 1)
    fire.queue.setFocus()
    assert fire.queue.select_key("1001")
    qtbot.keyClick(fire.queue, Qt.Key.Key_Return)
    dialog = fire.findChild(RecommendDialog)
    assert dialog is not None and dialog.isVisible()
    assert [r.unit for r in dialog.chosen()] == ["E1"]  # nearest engine pre-checked, E2 offered as the extra
    qtbot.keyClick(dialog, Qt.Key.Key_1)  # untick E1
    qtbot.keyClick(dialog, Qt.Key.Key_2)  # tick E2
    assert [r.unit for r in dialog.chosen()] == ["E2"]
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: hub.unit_status("E2") == "dispatched", timeout=5000)
    assert hub.unit_status("E1") == "available"
