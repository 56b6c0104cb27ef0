"""The Devices panel through the real widgets against a real hub: a supervisor sees the registered field
devices and the senders that are none of them, and revokes a device from the panel; a dispatcher sees only
their agency's devices and the hub refuses their revoke."""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt

from app.client.connection import HubClient
from app.domain.commands import RegisterDevice
from tests.ui import console_fixtures
from tests.ui.console_fixtures import PASSWORD

hub = console_fixtures.hub
console = console_fixtures.console


def register(hub, *devices: RegisterDevice) -> None:
    async def send() -> None:
        boss = HubClient(hub.url, "super1", PASSWORD, subscribe=False)
        boss.start()
        await boss.wait_for(lambda: boss.state == "connected", 10)
        for device in devices:
            await boss.call("device.register", {name: getattr(device, name) for name in device.__slots__})
        await boss.close()

    hub.run(send())


def test_supervisors_see_devices_and_unknown_senders_and_revoke(qtbot, hub, console) -> None:
    hub.ensure_user("super1", PASSWORD, "supervisor", "fire")
    ports = hub.run(hub.hub.start_feeds(cot_udp_port=0))
    register(hub, RegisterDevice(id="MODEM-3", agency="fire", formats=["cot"], transport="udp",
                                 source="10.20.0.7", units=["E11", "E12"], label="Station 3 modems"),
             RegisterDevice(id="TAK-P", agency="police", formats=["cot"], transport="udp", source="10.20.0.9",
                            units=["P1"]))
    boss, fire = console("super1"), console("fire1")
    panel = boss.triage_desk.devices
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    rows = {panel.table.item(r, 0).text(): [panel.table.item(r, c).text() for c in range(7)] for r in range(2)}
    assert rows["MODEM-3"] == ["MODEM-3", "fire", "cot", "udp 10.20.0.7", "address", "active", "E11, E12"]
    qtbot.waitUntil(lambda: fire.triage_desk.devices.table.rowCount() == 1, timeout=5000)  # fire's own only
    assert fire.triage_desk.devices.table.item(0, 0).text() == "MODEM-3"

    # A sender that is no device: counted by the hub, listed once the Feeds report comes in.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"<event/>", ("127.0.0.1", ports["cot_udp"]))

    def listed() -> bool:
        qtbot.mouseClick(boss.triage_desk.feeds.refresh, Qt.MouseButton.LeftButton)
        return panel.unknown.rowCount() == 1

    qtbot.waitUntil(listed, timeout=5000)
    assert [panel.unknown.item(0, c).text() for c in range(3)] == ["cot", "udp:127.0.0.1", "1"]

    # Revoke from the panel: the row turns revoked on every console that sees it; a dispatcher may not.
    row = next(r for r in range(2) if panel.table.item(r, 0).text() == "MODEM-3")
    fire_panel = fire.triage_desk.devices
    fire_panel.table.selectRow(0)
    qtbot.mouseClick(fire_panel.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "forbidden" in fire.statusBar().currentMessage()
                    or "may not" in fire.statusBar().currentMessage(), timeout=5000)
    assert hub.look(lambda p: p.devices["MODEM-3"].active)
    panel.table.selectRow(row)
    assert panel.revoke_button.isEnabled()
    panel.reason.setText("modem stolen")
    qtbot.mouseClick(panel.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not hub.look(lambda p: p.devices["MODEM-3"].active), timeout=5000)
    qtbot.waitUntil(lambda: fire_panel.table.item(0, 5).text() == "revoked: modem stolen", timeout=5000)

    def revoked_on_the_supervisors_console() -> bool:
        return any(panel.table.item(r, 5).text() == "revoked: modem stolen" for r in range(2))

    qtbot.waitUntil(revoked_on_the_supervisors_console, timeout=5000)
    row = next(r for r in range(2) if panel.table.item(r, 0).text() == "MODEM-3")
    panel.table.selectRow(row)
    assert not panel.revoke_button.isEnabled()


def test_the_feeds_panel_raises_the_quarantine_alarm(qtbot, hub, console) -> None:
    hub.ensure_user("super1", PASSWORD, "supervisor", "fire")
    hub.hub.feeds.budget_bytes = 10_000  # as `watchfloor hub --quarantine-mib` would set it, tiny
    ports = hub.run(hub.hub.start_feeds(cot_udp_port=0))
    register(hub, RegisterDevice(id="MODEMS", agency="fire", formats=["cot"], transport="udp", source="127.0.0.1",
                                 units=["E1"]))
    boss = console("super1")
    feeds = boss.triage_desk.feeds
    for n in range(6):  # six senders, six rows of 4 KiB: over the budget
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x00junk %d " % n * 1000, ("127.0.0.1", ports["cot_udp"]))

    def alarmed() -> bool:
        qtbot.mouseClick(feeds.refresh, Qt.MouseButton.LeftButton)
        return feeds.status.text().startswith("⚠ quarantine over its budget (10000 bytes)")

    qtbot.waitUntil(alarmed, timeout=10000)
