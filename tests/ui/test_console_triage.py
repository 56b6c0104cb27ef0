"""The Triage and Feeds panels through the real widgets against a real hub: reports from a feed account appear
in the triage queue (a likely duplicate highlighted), and the keys accept, merge and dismiss them; garbage sent
to the hub's CoT listener shows up in the Feeds panel with its raw bytes."""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt

from app.client.connection import HubClient
from app.domain.agencies import Actor, Role
from app.domain.commands import RegisterDevice
from app.ui.panels.triage import DismissDialog, MergeDialog
from tests.ui import console_fixtures
from tests.ui.console_fixtures import PASSWORD

hub = console_fixtures.hub
console = console_fixtures.console

LAT, LON = 60.1700, 24.9400


def submit_reports(hub, reports: list[dict]) -> None:
    async def send() -> None:
        feed = HubClient(hub.url, "feed1", PASSWORD, subscribe=False)
        feed.start()
        await feed.wait_for(lambda: feed.state == "connected", 10)
        for report in reports:
            await feed.call("report.submit", report)
        await feed.close()

    hub.run(send())


def test_triage_keys_accept_merge_and_dismiss(qtbot, hub, console) -> None:
    fire = console("fire1")
    fire.send("incident.create", {"type": "structure_fire", "lat": LAT, "lon": LON, "address": "Erottaja 1"})
    qtbot.waitUntil(lambda: "1001" in fire.picture.incidents, timeout=5000)
    played = fire.sound.played
    submit_reports(hub, [
        {"source": "app", "source_id": "resident-12", "type": "structure_fire", "lat": LAT + 0.0003, "lon": LON,
         "address": "Erottaja 2", "text": "black smoke from the roof"},
        {"source": "sensor", "source_id": "smoke-7F", "type": "fire_alarm", "lat": 60.1650, "lon": 24.9500,
         "address": "Kasarmikatu 20", "text": "detector loop 3"},
        {"source": "camera", "source_id": "cam-12", "type": "disturbance", "lat": 60.1680, "lon": 24.9450,
         "text": "crowd gathering"},
    ])
    triage = fire.triage_desk.triage
    qtbot.waitUntil(lambda: triage.pending() == ["C-1", "C-2", "C-3"], timeout=5000)
    model = triage.model
    assert model.data(model.index(0, 3)) == "≈ 1001 · 33 m · 0 min"
    assert "Likely duplicate of 1001 · 33 m" in triage.report.text()
    assert model.data(model.index(0, 1)) == "☎ APP" and model.data(model.index(1, 1)) == "⚡ SENSOR"
    assert model.data(model.index(1, 3)) == "—"
    assert fire.docks["triage"].windowTitle() == "Triage · 3 pending"
    # New reports are cued; the two that are not duplicates sound the tone.
    assert fire.sound.played - played == 2
    assert "New report" in fire.statusBar().currentMessage()

    # A on the sensor's report: a new incident from it.
    fire.triage_desk.focus_triage()
    assert triage.table.select_key("C-2")
    qtbot.keyClick(triage.table, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.candidates["C-2"].state) == "accepted", timeout=5000)
    created = hub.look(lambda p: p.incidents[p.candidates["C-2"].incident])
    assert (created.type, created.address, created.owner) == ("fire_alarm", "Kasarmikatu 20", "fire")
    qtbot.waitUntil(lambda: triage.pending() == ["C-1", "C-3"])

    # M on the resident's report: the merge dialog preselects the likely duplicate; Enter merges.
    assert triage.table.select_key("C-1")
    qtbot.keyClick(triage.table, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: bool(triage.findChildren(MergeDialog)))
    dialog = triage.findChildren(MergeDialog)[-1]
    assert dialog.incident() == "1001" and "likely duplicate" in dialog.target.currentText()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.candidates["C-1"].state) == "merged", timeout=5000)
    assert hub.look(lambda p: p.incidents["1001"].notes[-1].text) == (
        "Merged report C-1 from app resident-12: black smoke from the roof")

    # X on the camera's report, with a typed reason.
    assert triage.table.select_key("C-3")
    qtbot.keyClick(triage.table, Qt.Key.Key_X)
    qtbot.waitUntil(lambda: bool(triage.findChildren(DismissDialog)))
    dismiss = triage.findChildren(DismissDialog)[-1]
    dismiss.reason_box.setEditText("street festival, expected")
    qtbot.keyClick(dismiss, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.candidates["C-3"].reason) == "street festival, expected",
                    timeout=5000)
    qtbot.waitUntil(lambda: triage.pending() == [])
    assert fire.docks["triage"].windowTitle() == "Triage"
    assert not triage.accept_button.isEnabled()


def test_feeds_panel_shows_quarantined_garbage(qtbot, hub, console) -> None:
    ports = hub.run(hub.hub.start_feeds(cot_udp_port=0))

    async def register_modem() -> None:  # as a supervisor would: the hub parses only registered devices' input
        hub.hub.sequencer.submit(Actor("super1", Role.SUPERVISOR, "fire"), "device.register",
                                 RegisterDevice(id="MODEM", agency="fire", formats=["cot"], transport="udp",
                                                source="127.0.0.1", units=["E1"]), None)

    hub.run(register_modem())
    fire = console("fire1")
    panel = fire.triage_desk.feeds
    fire.triage_desk.focus_feeds()
    qtbot.waitUntil(lambda: any(f["name"] == "cot" for f in panel.feeds), timeout=5000)
    assert next(f for f in panel.feeds if f["name"] == "cot")["health"] == "idle"

    garbage = b"\x00\x13garbage\xff<event"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(garbage, ("127.0.0.1", ports["cot_udp"]))

    def quarantined() -> bool:
        qtbot.mouseClick(panel.refresh, Qt.MouseButton.LeftButton)
        cot = next((f for f in panel.feeds if f["name"] == "cot"), None)
        return cot is not None and cot["quarantined"] == 1

    qtbot.waitUntil(quarantined, timeout=5000)
    # A dispatcher sees the feed's health and count, not raw field input (it may name any agency's calls).
    panel.select_feed("cot")
    assert next(f for f in panel.feeds if f["name"] == "cot")["health"] == "errors"
    assert panel.items.rowCount() == 0 and "garbage" not in panel.raw.toPlainText()

    hub.ensure_user("super1", PASSWORD, "supervisor", "fire")
    boss = console("super1")
    panel = boss.triage_desk.feeds
    boss.triage_desk.focus_feeds()
    qtbot.waitUntil(quarantined, timeout=5000)
    panel.select_feed("cot")
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
               == "cot")
    assert panel.table.item(row, 1).text() == "● errors"
    assert panel.table.item(row, 6).text().startswith("malformed_xml")
    assert panel.items.rowCount() == 1 and panel.items.item(0, 1).text() == "malformed_xml"
    raw = panel.raw.toPlainText()
    assert "00 13 67 61 72 62 61 67  65 ff 3c 65 76 65 6e 74".replace("  ", " ") in raw
    assert "|..garbage.<event|" in raw
    assert "quarantined" in panel.status.text() and "attention: cot" in panel.status.text()


def test_an_observer_is_told_feed_health_is_not_for_them(qtbot, hub, console) -> None:
    observer = console("observer1")
    panel = observer.triage_desk.feeds
    observer.triage_desk.focus_feeds()
    qtbot.waitUntil(lambda: "forbidden" in panel.status.text(), timeout=5000)
    assert "may not query feeds" in panel.status.text()
    assert not panel.timer.isActive() and panel.feeds == []  # it stops asking
