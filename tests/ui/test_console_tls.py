"""The console over wss://: with the control room's CA it signs in; without it the status bar says the hub's
certificate is not trusted and how to fix it, instead of "connecting" forever."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.client.connection import client_tls_context
from app.hub.certificates import create_authority, issue_hub_certificate
from app.ui.bridge import HubBridge
from app.ui.city_services import CityServices
from app.ui.main_window import MainWindow
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.ui.schematic_map import SchematicMap


@pytest.fixture
def tls_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, Path]]:
    """A hub process serving wss:// with a certificate for "localhost" from a fresh control-room CA."""
    tls = tmp_path / "tls"
    now = datetime.now(UTC)
    issue_hub_certificate(create_authority(tls, "Test control room CA", now, 1), tls, ["localhost"], [], now, 1)
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cert", str(tls / "hub.pem"), "--key", str(tls / "hub.key")])
    hub.start()
    yield hub, tls
    hub.stop()
    hub.kill()


def console_window(qtbot, tmp_path: Path, bridge: HubBridge) -> MainWindow:
    window = MainWindow(bridge, CityServices(), map_factory=lambda _city, _theme: SchematicMap(),
                        settings=QSettings(str(tmp_path / f"{bridge.user}.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    bridge.start()
    window.show()
    return window


def test_console_signs_in_with_the_ca_and_says_why_without_it(qtbot, tmp_path: Path,
                                                              tls_hub: tuple[HubProcess, Path]) -> None:
    hub, tls = tls_hub
    url = f"wss://localhost:{hub.port}"
    stranger = console_window(qtbot, tmp_path, HubBridge(url, "fire1", PASSWORD, backoff_max=0.5))
    qtbot.waitUntil(lambda: stranger.status.state == "refused", timeout=15000)
    shown = stranger.connection_text()
    assert "REFUSED" in shown and "certificate is not trusted" in shown and "--ca FILE" in shown
    trusting = console_window(qtbot, tmp_path, HubBridge(url, "police1", PASSWORD, backoff_max=0.5,
                                                         ssl_context=client_tls_context(url, tls / "ca.pem")))
    qtbot.waitUntil(lambda: trusting.status.state == "connected", timeout=15000)
    assert stranger.status.state == "refused"  # no retry loop behind the message
    for window in (stranger, trusting):
        window.close()
