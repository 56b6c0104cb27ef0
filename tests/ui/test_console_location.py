"""Verified locations in the console, against a real hub and the real offline geocoder (issue 13).

An incident is created only at an address the geocoder found (unchanged since) or at an explicit map pick,
which is marked "unverified location"; the precision shows in the queue, the detail and the CAD line; the
console edits an incident's address, type, priority and caller after creation.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.city.geocoder import make_geocoder
from app.city.loader import load_city
from app.city.osm import haversine_m
from tests.ui import console_fixtures
from tests.ui.console_fixtures import type_cad

hub = console_fixtures.hub
console = console_fixtures.console


def _type_address(qtbot, dialog, text: str) -> None:
    """Type into the address box as a dispatcher does (select all, type over), then press Enter there."""
    dialog.address.setFocus()
    dialog.address.selectAll()
    qtbot.keyClicks(dialog.address, text)
    qtbot.keyClick(dialog.address, Qt.Key.Key_Return)


def test_an_unknown_address_creates_nothing(qtbot, hub, console) -> None:
    fire = console("fire1")
    dialog = fire.new_incident()
    dialog.set_type("structure_fire")
    _type_address(qtbot, dialog, "Sturenkatu 5")  # not in the gazetteer
    assert dialog.isVisible() and dialog.result() == 0
    assert "not found" in dialog.located.text() and "not verified" in dialog.error.text()
    assert dialog.verified is None
    # Ctrl+Enter is refused the same way.
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.isVisible()
    # Correcting it creates the call, and it is the first and only incident the hub has.
    _type_address(qtbot, dialog, "Fabianinkatu 14")
    qtbot.waitUntil(lambda: hub.look(lambda p: "1001" in p.incidents), timeout=5000)
    incidents = hub.look(lambda p: dict(p.incidents))
    assert list(incidents) == ["1001"] and incidents["1001"].address.startswith("Fabianinkatu 14")
    assert incidents["1001"].location_precision == "address_point"


def test_overwriting_a_found_address_clears_the_tick(qtbot, hub, console) -> None:
    fire = console("fire1")
    dialog = fire.new_incident()
    dialog.set_type("structure_fire")
    dialog.address.setText("Fabianinkatu 14")
    assert dialog.locate() and dialog.located.text().startswith("✔ Fabianinkatu 14")
    found = (dialog.lat.value(), dialog.lon.value())
    _type_address(qtbot, dialog, "Sturenkatu 5")
    assert dialog.isVisible() and dialog.verified is None
    assert not dialog.located.text().startswith("✔") and "Fabianinkatu" not in dialog.located.text()
    assert "not verified" in dialog.error.text()
    # Accepting by the button is refused too: the old point is not the new address's.
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.isVisible()
    # A map pick elsewhere makes it an explicit, unverified point; then it is created there, labelled so.
    pick = dialog2 = fire.new_incident((60.1701, 24.9402))
    dialog.reject()
    dialog2.set_type("vehicle_fire")
    assert dialog2.use_point.isChecked() and "unverified" in dialog2.located.text()
    qtbot.keyClick(dialog2, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: hub.look(lambda p: "1001" in p.incidents), timeout=5000)
    created = hub.look(lambda p: p.incidents["1001"])
    assert (round(created.lat, 4), round(created.lon, 4)) == (60.1701, 24.9402) != found
    assert created.location_precision == "unverified" and pick is dialog2
    qtbot.waitUntil(lambda: fire.queue_model.row_of("1001") == 0)
    assert fire.queue_model.data(fire.queue_model.index(0, 3)).endswith("[unverified location]")


def test_edit_after_creation_and_precision_everywhere(qtbot, hub, console) -> None:
    fire = console("fire1")
    fire.send("incident.create", {"type": "medical_emergency", "lat": 60.1701, "lon": 24.9402,
                                  "address": "by the kiosk", "caller": "unknown"})
    qtbot.waitUntil(lambda: "1001" in fire.picture.incidents, timeout=5000)
    fire.focus_incident("1001")
    assert "[unverified location]" in fire.detail.facts.text()

    # The edit dialog: a geocoded address, another type, priority and caller; only the changes are sent.
    dialog = fire.edit_incident("1001")
    assert dialog.use_point.isChecked()  # it was an unverified point
    dialog.set_type("structure_fire")
    dialog.priority.setValue(3)
    dialog.caller.setText("Anna, 040 123 4567")
    _type_address(qtbot, dialog, "Kaivokatu 2")  # found, so Enter saves
    assert dialog.verified is not None and dialog.verified.precision == "address_point"
    changes = dialog.changes()
    assert set(changes) == {"incident", "type", "priority", "address", "caller", "lat", "lon", "location_precision"}
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].type) == "structure_fire", timeout=5000)
    edited = hub.look(lambda p: p.incidents["1001"])
    assert (edited.priority, edited.caller, edited.location_precision) == (3, "Anna, 040 123 4567", "address_point")
    assert edited.address.startswith("Kaivokatu 2") and haversine_m(edited.lat, edited.lon, 60.1700, 24.9440) < 100
    qtbot.waitUntil(lambda: "[address point]" in fire.detail.facts.text())
    assert fire.queue_model.data(fire.queue_model.index(0, 3)).endswith("[address point]")

    # The CAD line shows it, moves it only to an address the geocoder finds, and edits the caller.
    type_cad(qtbot, fire, "I 1001")
    assert "Kaivokatu 2" in fire.command_line.feedback.text() and "[address point]" in fire.command_line.feedback.text()
    type_cad(qtbot, fire, "ADDR 1001 Sturenkatu 5")
    assert "not found" in fire.command_line.feedback.text()
    fire.command_line.edit.clear()
    fire.city.geocoder, helsinki = make_geocoder(gazetteer=load_city("liechtenstein").gazetteer), fire.city.geocoder
    type_cad(qtbot, fire, "ADDR 1001 Kirchstrasse")  # three villages have one: which?
    assert "several places" in fire.command_line.feedback.text()
    fire.city.geocoder = helsinki
    fire.command_line.edit.clear()
    type_cad(qtbot, fire, "CALLER 1001 Pekka 050 1")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].caller) == "Pekka 050 1", timeout=5000)
    assert hub.look(lambda p: p.incidents["1001"].address).startswith("Kaivokatu 2")  # ADDR changed nothing
    fire.command_line.edit.clear()
    type_cad(qtbot, fire, "ADDR 1001 Mannerheimintie 1")
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].address).startswith("Mannerheimintie 1"),
                    timeout=5000)
    assert hub.look(lambda p: p.incidents["1001"].location_precision) == "address_point"


def test_a_street_in_several_villages_is_not_verified_until_one_is_chosen(qtbot) -> None:
    """Liechtenstein has a Kirchstrasse in three municipalities: the dialog asks which, and verifies none."""
    from app.ui.dialogs import NewIncidentDialog

    city = load_city("liechtenstein")
    dialog = NewIncidentDialog(make_geocoder(gazetteer=city.gazetteer), center=city.center)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_type("structure_fire")
    dialog.address.setText("Kirchstrasse")
    assert not dialog.locate() and dialog.verified is None
    assert "3 places" in dialog.located.text() and "Kirchstrasse, Vaduz" in dialog.located.text()
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.isVisible() and "not verified" in dialog.error.text()
    # The same number on one street name in two villages is refused the same way.
    dialog.address.setText("Landstrasse 6")
    assert not dialog.locate() and "Landstrasse 6, Triesenberg" in dialog.located.text()
    # Naming the village verifies it, at that village's street.
    _type_address(qtbot, dialog, "Kirchstrasse, Vaduz")
    assert dialog.verified is not None and dialog.verified.precision == "street"
    qtbot.waitUntil(lambda: not dialog.isVisible())
    args = dialog.args()
    assert args["address"] == "Kirchstrasse, Vaduz" and args["location_precision"] == "street"
    assert city.gazetteer.municipality((args["lat"], args["lon"])) == "Vaduz"


def test_editing_only_the_caller_sends_only_the_caller(qtbot, hub, console) -> None:
    fire = console("fire1")
    fire.send("incident.create", {"type": "medical_emergency", "lat": 60.17012345, "lon": 24.94021234,
                                  "caller": "unknown"})  # more decimals than the point boxes keep
    qtbot.waitUntil(lambda: "1001" in fire.picture.incidents, timeout=5000)
    dialog = fire.edit_incident("1001")
    dialog.caller.setText("Pekka, 050 1")
    assert dialog.changes() == {"incident": "1001", "caller": "Pekka, 050 1"}
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.incidents["1001"].caller) == "Pekka, 050 1", timeout=5000)
    assert hub.look(lambda p: (p.incidents["1001"].lat, p.incidents["1001"].location_precision)) == (
        60.17012345, "unverified")
