"""Alerts on the console, against a real hub: a supervisor issues an alert for an area through the dialog, every
console's Alerts panel lists the units, incidents and zones inside it (a click selects on the map), the alert is
saved as a CAP file the OASIS schema accepts, and an incident is exported as EIDO that reads back."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from app.feeds.cap import SCHEMA_PATH, parse_cap
from app.feeds.eido import parse_eido
from app.ui.alert_tools import IssueAlertDialog
from app.ui.panels.alerts import ID_ROLE
from tests.ui import console_fixtures

hub = console_fixtures.hub
console = console_fixtures.console


def test_supervisor_issues_an_alert_that_every_console_sees_with_what_is_inside(qtbot, hub, console,
                                                                               tmp_path: Path) -> None:
    hub.ensure_user("super1", console_fixtures.PASSWORD, "supervisor", "fire")
    supervisor = console("super1")
    police = console("police1")
    assert not police.alerts.issue.isEnabled() and "Supervisors" in police.alerts.issue.toolTip()
    qtbot.waitUntil(lambda: supervisor.alerts.issue.isEnabled())

    # A call near the units, and a zone drawn around the railway station's east side.
    supervisor.send("incident.create", {"type": "gas_leak", "lat": 60.1702, "lon": 24.9410,
                                        "address": "Kaisaniemenkatu 1"})
    supervisor.send("zone.create", {"name": "Gas cordon", "polygon": [[60.1695, 24.9400], [60.1712, 24.9400],
                                                                       [60.1712, 24.9425]]})
    qtbot.waitUntil(lambda: "1001" in supervisor.picture.incidents and "Z-1" in supervisor.picture.zones)

    # The dialog: a 250 m circle around the incident (selected, so the dialog starts there).
    supervisor.show_incident("1001")
    dialog = supervisor.alert_tools.issue_alert()
    assert (round(dialog.lat.value(), 4), round(dialog.lon.value(), 4)) == (60.1702, 24.941)
    dialog.event.setText("Gas leak")
    dialog.headline.setText("Gas leak: keep windows shut")
    dialog.values["category"].setCurrentText("CBRNE")
    dialog.radius.setValue(250)
    dialog.area_name.setText("Around Kaisaniemenkatu")
    dialog.instruction.setPlainText("Stay indoors and close ventilation")
    args = dialog.args()
    assert args["areas"] == [{"circle": [60.1702, 24.941, 250.0], "desc": "Around Kaisaniemenkatu"}]
    dialog.accept()
    qtbot.waitUntil(lambda: hub.look(lambda p: "AL-1" in p.alerts), timeout=5000)
    issued = hub.look(lambda p: p.alerts["AL-1"])
    assert (issued.severity, issued.urgency, issued.certainty, issued.category) == (
        "Severe", "Immediate", "Observed", "CBRNE")

    # Every console: counts on the alert, and the list of what is inside when expanded.
    # E1 (60.1700, 24.9400) is ~60 m away, L1 ~20 m, E2 ~60 m; M1, P1, P2 are 250-400 m away.
    for window in (supervisor, police):
        qtbot.waitUntil(lambda w=window: "AL-1" in w.alerts.inside, timeout=5000)
        found = window.alerts.inside["AL-1"]
        assert found.units == ("E1", "E2", "L1") and found.incidents == ("1001",) and found.zones == ("Z-1",)
        top = window.alerts.tree.topLevelItem(0)
        assert "3 units · 1 incident · 1 zone inside" in top.text(0)
        assert "Around Kaisaniemenkatu" in top.text(0)
        groups = {top.child(i).text(0): [top.child(i).child(j).text(0) for j in range(top.child(i).childCount())]
                  for i in range(top.childCount())}
        assert groups == {"Units (3)": ["E1  engine · available", "E2  engine · available",
                                        "L1  ladder · available"],
                          "Incidents (1)": ["1001  gas leak · Kaisaniemenkatu 1"],
                          "Zones (1)": ["Gas cordon (zone)"]}

    # Clicking a unit inside the alert selects it on the map and on the unit board.
    l1 = police.alerts.tree.topLevelItem(0).child(0).child(2)
    police.alerts.tree.setCurrentItem(l1)
    police.alerts.tree.itemClicked.emit(l1, 0)
    assert police.map._selected == ("unit", "L1")
    assert police.alerts.current_alert() == "AL-1" and police.alerts.save.isEnabled()

    # Save as CAP: a file the OASIS CAP 1.2 schema accepts, with the alert's content.
    saved = tmp_path / "AL-1.cap.xml"
    assert police.alert_tools.save_cap("AL-1", saved)
    qtbot.waitUntil(lambda: saved.exists() and "saved" in police.alert_tools.last_saved, timeout=5000)
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))
    assert schema.validate(etree.fromstring(saved.read_bytes())), schema.error_log
    cap = parse_cap(saved.read_bytes())
    info = cap.infos[0]
    assert (info.headline, info.event, info.categories, info.instruction) == (
        "Gas leak: keep windows shut", "Gas leak", ("CBRNE",), "Stay indoors and close ventilation")
    assert info.areas[0].circles[0] == (60.1702, 24.941, 0.25)

    # Export as EIDO from the Incident menu's action (the selected incident).
    exported = tmp_path / "1001.eido.json"
    assert supervisor.alert_tools.export_eido("1001", exported)
    qtbot.waitUntil(lambda: exported.exists() and "EIDO" in supervisor.alert_tools.last_saved, timeout=5000)
    doc = parse_eido(exported.read_bytes())
    assert (doc.type_code, doc.type_internal_code, doc.location.lat, doc.location.lon) == (
        "GASLEAK", "gas_leak", 60.1702, 24.941)  # NENA's registry code, and ours
    menu = next(a.menu() for a in supervisor.menuBar().actions() if a.text() == "&Incident")
    texts = [a.text() for a in menu.actions()]
    assert texts.index("&Export incident as EIDO…") < texts.index("&Quit")
    bar = [a.text() for a in supervisor.menuBar().actions() if a.isVisible()]
    assert bar[0] == "&Incident" and bar[-1] == "&Help" and "&Alerts" in bar

    # Cancelled: the alert leaves every panel.
    supervisor.send("alert.cancel", {"alert": "AL-1", "reason": "leak sealed"})
    qtbot.waitUntil(lambda: police.alerts.tree.topLevelItem(0).text(0) == "No alerts in force", timeout=5000)


def test_an_alert_for_a_named_area_or_a_point_is_shown_for_what_it_is(qtbot, hub, console) -> None:
    """A CAP area with only a name (areaDesc, geocodes) is listed, not drawn, and not "0 units inside"; a circle of
    radius 0 is the point itself: the unit standing on it is inside."""
    hub.ensure_user("super1", console_fixtures.PASSWORD, "supervisor", "fire")
    supervisor = console("super1")
    supervisor.send("alert.issue", {"headline": "Storm warning", "areas": [{"desc": "Uusimaa"}]})
    supervisor.send("alert.issue", {"headline": "Gas smell", "areas": [{"circle": [60.1700, 24.9400, 0]},
                                                                      {"desc": "Kallio"}]})
    qtbot.waitUntil(lambda: "AL-2" in supervisor.alerts.inside, timeout=5000)
    texts = {supervisor.alerts.tree.topLevelItem(i).data(0, ID_ROLE):
             supervisor.alerts.tree.topLevelItem(i).text(0) for i in range(2)}
    assert "Uusimaa" in texts["AL-1"] and "area given by name only, not drawn on the map" in texts["AL-1"]
    assert "0 units" not in texts["AL-1"]
    assert supervisor.alerts.inside["AL-2"].units == ("E1",)  # E1 stands at 60.1700, 24.9400
    assert "1 unit · 0 incidents · 0 zones inside · not drawn: Kallio" in texts["AL-2"]


def test_an_alert_from_a_zone_polygon(qtbot, hub, console) -> None:
    hub.ensure_user("super1", console_fixtures.PASSWORD, "supervisor", "fire")
    supervisor = console("super1")
    supervisor.send("zone.create", {"name": "Harbour", "polygon": [[60.1690, 24.9390], [60.1725, 24.9390],
                                                                    [60.1725, 24.9470], [60.1690, 24.9470]]})
    qtbot.waitUntil(lambda: "Z-1" in supervisor.picture.zones)
    dialog = supervisor.alert_tools.issue_alert()
    dialog.headline.setText("Flood warning")
    dialog.use_zone("Z-1")
    assert dialog.args()["areas"][0]["desc"] == "Harbour"
    dialog.accept()
    qtbot.waitUntil(lambda: "AL-1" in supervisor.alerts.inside, timeout=5000)
    # Every seeded unit stands inside the harbour polygon except P2 (60.1730 N).
    assert supervisor.alerts.inside["AL-1"].units == ("E1", "E2", "L1", "M1", "P1")


def test_the_map_offers_supervisors_an_alert_at_the_clicked_point(qtbot, hub, console) -> None:
    hub.ensure_user("super1", console_fixtures.PASSWORD, "supervisor", "fire")
    supervisor = console("super1")
    dispatcher = console("fire1")
    qtbot.waitUntil(lambda: supervisor.map.alerts_offered and supervisor.alerts.issue.isEnabled())
    assert not dispatcher.map.alerts_offered
    supervisor.map.context_issue_alert.emit(60.1655, 24.9512)  # what the map's "Issue alert here…" sends
    dialogs = supervisor.findChildren(IssueAlertDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    assert (round(dialogs[0].lat.value(), 4), round(dialogs[0].lon.value(), 4)) == (60.1655, 24.9512)
    dialogs[0].headline.setText("Storm surge")
    dialogs[0].accept()
    qtbot.waitUntil(lambda: any(a.headline == "Storm surge" for a in dispatcher.picture.alerts.values()), timeout=5000)
