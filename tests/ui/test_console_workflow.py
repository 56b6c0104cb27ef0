"""The dispatcher's workflow through the real widgets, against a real hub: take a call by address, dispatch
the recommendation, move units through their statuses, ask another agency for mutual aid (answered on that
agency's console), and close the call."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad

hub = console_fixtures.hub
console = console_fixtures.console


def test_call_to_close_across_two_agencies(qtbot, hub, console) -> None:
    fire = console("fire1")
    police = console("police1")

    # A call by address: the dialog geocodes it and takes the type's priority.
    dialog = fire.new_incident()
    dialog.set_type("structure_fire")
    assert dialog.priority.value() == 1
    dialog.address.setText("Mannerheimintie 1")
    dialog.caller.setText("Anna, 040 123 4567")
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: hub.look(lambda p: "1001" in p.incidents), timeout=5000)
    created = hub.look(lambda p: p.incidents["1001"])
    assert (created.type, created.priority, created.owner) == ("structure_fire", 1, "fire")
    # Where OpenStreetMap has Mannerheimintie 1 (the shipped extract), found offline.
    assert created.address == "Mannerheimintie 1, Helsinki"
    assert (round(created.lat, 4), round(created.lon, 4)) == (60.1681, 24.9417)
    qtbot.waitUntil(lambda: fire.queue_model.row_of("1001") == 0)
    qtbot.waitUntil(lambda: police.queue_model.row_of("1001") == 0)  # the other agency sees it too
    assert police.banner.isVisible() and "1001" in police.banner.text()  # a new P1 is announced

    # Take the recommendation: needed fire units pre-checked, the ambulance (medical: aid needed) not.
    recommended = fire.open_recommend("1001")
    checked = [r.unit for r in recommended.chosen()]
    assert sorted(checked) == ["E1", "E2", "L1"]
    assert any(c.recommendation.unit == "M1" and c.recommendation.needs_aid for c in recommended.choices)
    qtbot.keyClick(recommended, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: all(hub.unit_status(u) == "dispatched" for u in checked), timeout=5000)
    qtbot.waitUntil(lambda: fire.unit_model.unit(fire.unit_model.row_of("E1")).status == "dispatched")
    assert fire.queue_model.incident(0).status == "dispatched"

    # Status keys on the unit board.
    fire.units.setFocus()
    assert fire.units.select_key("E1")
    qtbot.keyClick(fire.units, Qt.Key.Key_E)
    qtbot.waitUntil(lambda: hub.unit_status("E1") == "en_route", timeout=5000)
    qtbot.keyClick(fire.units, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: hub.unit_status("E1") == "on_scene", timeout=5000)
    qtbot.waitUntil(lambda: police.picture.incidents["1001"].status == "on_scene")
    # The detail panel shows the units and the timeline of what happened.
    fire.focus_incident("1001")
    qtbot.waitUntil(lambda: "E1 on scene" in fire.detail.timeline.toPlainText())
    assert fire.detail.units.rowCount() == 3

    # Mutual aid: fire asks police; the police console gets a banner and accepts it with one click.
    aid = fire.request_aid("1001")
    aid.agency.setCurrentIndex(aid.agency.findData("police"))
    aid.note.setText("traffic control on Mannerheimintie")
    aid.accept()
    qtbot.waitUntil(lambda: police.banner.subject == ("aid", "AR-1"), timeout=5000)
    assert "traffic control" in police.banner.text()
    assert police.alerts.pending_for_me() == ["AR-1"]
    qtbot.mouseClick(police.banner._accept, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.aid_requests["AR-1"].state) == "accepted", timeout=5000)
    qtbot.waitUntil(lambda: "Mutual aid AR-1 ACCEPTED" in fire.detail.timeline.toPlainText())
    assert not police.banner.isVisible()

    # Police dispatch their own unit from the CAD line; chat on the incident channel reaches fire.
    type_cad(qtbot, police, "D P1 1001")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.units["P1"].incident) == "1001", timeout=5000)
    police.focus_incident("1001")
    police.detail.chat_input.setText("P1 closing the road north of the scene")
    qtbot.keyClick(police.detail.chat_input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "closing the road" in fire.detail.chat.toPlainText(), timeout=5000)

    # Clear the units, then close with a disposition; both queues drop the call.
    for unit in ("E1", "E2", "L1"):
        type_cad(qtbot, fire, f"AV {unit}")
    type_cad(qtbot, police, "AV P1")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].units) == [], timeout=5000)
    qtbot.waitUntil(lambda: fire.picture.incidents["1001"].units == [])
    closing = fire.close_incident("1001")
    closing.disposition.setCurrentIndex(closing.disposition.findData("resolved"))
    closing.note.setText("Fire out, ventilated")
    closing.accept()
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].status) == "closed", timeout=5000)
    assert hub.look(lambda p: p.incidents["1001"].disposition) == "resolved"
    qtbot.waitUntil(lambda: fire.queue_model.rowCount() == 0 and police.queue_model.rowCount() == 0)
    assert any("Fire out" in n.text for n in hub.look(lambda p: p.incidents["1001"].notes))


def test_map_right_click_point_creates_incident_by_coordinates(qtbot, hub, console) -> None:
    fire = console("fire1")
    dialog = fire.new_incident((60.1701, 24.9402))
    assert abs(dialog.lat.value() - 60.1701) < 1e-6
    dialog.set_type("vehicle_fire")
    dialog.accept()
    qtbot.waitUntil(lambda: hub.look(lambda p: "1001" in p.incidents), timeout=5000)
    created = hub.look(lambda p: p.incidents["1001"])
    assert (round(created.lat, 4), round(created.lon, 4), created.priority) == (60.1701, 24.9402, 2)
