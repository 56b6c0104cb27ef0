"""The console's Review menu reads the hub's history over its own wss:// connection: a supervisor's console,
in this process, reviews a hub running in another process (its log file is that process's; the console is given
no path to it) - the replay, an incident timeline, the response-time charts and a PDF report - and a police
supervisor sees none of fire's restricted call through any of them. The timeline and the report of the call a
drone worked show the drone's part."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.client.connection import HubClient, client_tls_context
from app.hub.certificates import create_authority, issue_hub_certificate
from app.review.replay import ReviewError
from app.ui.bridge import HubBridge
from app.ui.city_services import CityServices
from app.ui.main_window import MainWindow
from app.ui.review.hub_replay import HubSource
from app.ui.review.replay_window import ReplayWindow
from app.ui.review.response_window import ResponseTimesWindow
from app.ui.review.timeline_window import TimelineWindow
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.shift_history import SECRET, Shift, add_review_accounts, run_shift
from tests.ui.schematic_map import SchematicMap


@pytest.fixture(scope="module")
def shift_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Path, Shift]]:
    """A wss:// hub process with a shift in its log: fire's restricted call, a police call a drone worked."""
    tmp = tmp_path_factory.mktemp("review-hub")
    tls = tmp / "tls"
    now = datetime.now(UTC)
    issue_hub_certificate(create_authority(tls, "Test control room CA", now, 1), tls, ["localhost"], [], now, 1)
    db = tmp / "hub.db"
    make_accounts(db)
    add_review_accounts(db)
    hub = HubProcess(db, free_port(), ["--cert", str(tls / "hub.pem"), "--key", str(tls / "hub.key")])
    hub.start()
    url = f"wss://localhost:{hub.port}"

    async def shift() -> Shift:
        clients = [HubClient(url, user, PASSWORD, subscribe=user != "feed1",
                             ssl_context=client_tls_context(url, tls / "ca.pem"))
                   for user in ("feed1", "fire1", "police1", "pilot1")]
        for client in clients:
            client.start()
        try:
            for client in clients:
                await client.wait_for(lambda c=client: c.state == "connected", 30)
            return await run_shift(*clients)
        finally:
            for client in clients:
                await client.close()

    done = asyncio.run(shift())
    yield hub, tls, done
    hub.stop()
    hub.kill()


def supervisor_console(qtbot, tmp_path: Path, hub: HubProcess, tls: Path, user: str) -> MainWindow:
    url = f"wss://localhost:{hub.port}"
    bridge = HubBridge(url, user, PASSWORD, backoff_max=0.5, ssl_context=client_tls_context(url, tls / "ca.pem"))
    window = MainWindow(bridge, CityServices(), map_factory=lambda _city, _theme: SchematicMap(),
                        settings=QSettings(str(tmp_path / f"{user}.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    bridge.start()
    window.show()
    qtbot.waitUntil(lambda: window.review.menu.menuAction().isVisible(), timeout=15000)
    return window


def hub_source(window: MainWindow) -> HubSource:
    source = window.review.source()
    assert isinstance(source, HubSource)  # never a file: the console was given none, and asks for none
    return source


def replay_at_end(qtbot, source: HubSource) -> ReplayWindow:
    window = ReplayWindow(source, map_factory=SchematicMap)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.moment is not None or window.error is not None, timeout=20000)
    assert window.error is None, window.error
    window.seek(window.t1)
    qtbot.waitUntil(lambda: window.moment is not None and window.moment.ts == window.t1 and window.seeker.idle,
                    timeout=20000)
    return window


def timeline(qtbot, source: HubSource, incident: str) -> TimelineWindow:
    window = TimelineWindow(source, incident=incident)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.lanes is not None or window.error is not None, timeout=20000)
    return window


def response_times(qtbot, source: HubSource) -> ResponseTimesWindow:
    window = ResponseTimesWindow(source)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.result is not None or window.error is not None, timeout=20000)
    assert window.error is None, window.error
    return window


def report(qtbot, console: MainWindow, source: HubSource, incident: str, path: Path) -> str | None:
    """Export the incident's report through the console's Review actions; the failure's message, if any."""
    written: list[str] = []
    failed: list[str] = []
    console.review.exported.connect(written.append)
    console.review.export_failed.connect(failed.append)
    console.review.export_report(source, incident, path, path.suffix[1:])
    qtbot.waitUntil(lambda: bool(written or failed), timeout=60000)
    return failed[0] if failed else None


def test_a_supervisor_reviews_through_the_hub_and_sees_the_drones_part(qtbot, tmp_path, shift_hub) -> None:
    hub, tls, shift = shift_hub
    console = supervisor_console(qtbot, tmp_path, hub, tls, "super1")  # fire's supervisor
    source = hub_source(console)
    assert source.seen_as == "FIRE view" and "localhost" in source.path.name

    replay = replay_at_end(qtbot, source)
    assert {shift.fire_call, shift.police_call} <= set(replay.moment.picture.incidents)
    assert "UAV1" in replay.moment.picture.drones

    police_call = timeline(qtbot, source, shift.police_call)
    assert police_call.error is None, police_call.error
    kinds = {m.event.kind for m in police_call.lanes.markers if m.event is not None} | {
        s.event.kind for s in police_call.lanes.spans if s.event is not None}
    assert {"drone.assigned", "drone.look_requested", "incident.attached"} & kinds, kinds

    charts = response_times(qtbot, source)
    assert {t.incident for t in charts.result.times} == {shift.fire_call, shift.police_call}

    html = tmp_path / "police.html"
    assert report(qtbot, console, source, shift.police_call, html) is None
    text = html.read_text(encoding="utf-8")
    for part in ("Drone UAV1 assigned", "Drone UAV1 asked to look", "Snapshot", "back door"):
        assert part in text, part
    pdf = tmp_path / "fire.pdf"
    assert report(qtbot, console, source, shift.fire_call, pdf) is None
    assert pdf.read_bytes().startswith(b"%PDF")
    for window in (replay, police_call, charts, console):
        window.close()


def test_a_police_supervisor_sees_none_of_fires_restricted_call(qtbot, tmp_path, shift_hub) -> None:
    hub, tls, shift = shift_hub
    console = supervisor_console(qtbot, tmp_path, hub, tls, "psuper1")
    source = hub_source(console)
    assert source.seen_as == "POLICE view"

    replay = replay_at_end(qtbot, source)
    assert shift.police_call in replay.moment.picture.incidents
    assert shift.fire_call not in replay.moment.picture.incidents
    assert replay.moment.picture.units["E1"].incident is None

    fire_call = timeline(qtbot, source, shift.fire_call)
    assert fire_call.lanes is None and f"there is no incident {shift.fire_call}" in fire_call.error
    charts = response_times(qtbot, source)
    assert {t.incident for t in charts.result.times} == {shift.police_call}
    failure = report(qtbot, console, source, shift.fire_call, tmp_path / "fire.html")
    assert failure is not None and shift.fire_call in failure and not (tmp_path / "fire.html").exists()

    # Nothing of it in any answer a review window reads: the whole shift's events and picture, as this console
    # gets them (asked on a worker thread, as the review windows ask).
    def read_all() -> str:
        with source.open() as log:
            first, last = log.span()
            with pytest.raises(ReviewError):
                log.incident_events(shift.fire_call)
            return repr(log.events(first, last)) + repr(log.picture_at(last)) + repr(log.tracks(first, last))

    with ThreadPoolExecutor(1) as worker:
        seen = worker.submit(read_all).result(60)
    assert SECRET not in seen and "E1" in seen
    for window in (replay, fire_call, charts, console):
        window.close()
