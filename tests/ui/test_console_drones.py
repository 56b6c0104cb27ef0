"""Drones in the console, against a real hub: the drone board and map from a feed's telemetry, the footprint
ringing the incident it sees, live video docks on real ffmpeg streams (two at once, one detached), a snapshot
attached to the incident and seen by another agency, the look-here round trip between a dispatcher and the
drone's operator, and a dispatcher refused when publishing video."""

from __future__ import annotations

import base64
import random
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.client.connection import HubClient
from app.domain.drone_rules import MAX_ATTACHMENT_BYTES
from app.sim.drone_video import DroneVideoSource
from app.ui.drone_dialogs import PublishVideoDialog, video_url_problem
from app.ui.panels.drones import DroneBoardModel
from app.ui.video.snapshot import encode_jpeg
from tests.ui import console_fixtures

hub = console_fixtures.hub
console = console_fixtures.console

# The incident the drone looks at, away from the seeded units (the nearest, P2, is ~300 m off).
INCIDENT_AT = (60.1750, 24.9500)
# Straight down from 100 m with a 90° x 60° lens: a ~200 m x 115 m footprint centred below the drone.
NADIR = {"agl_m": 100.0, "alt_m": 110.0, "heading": 0.0, "gimbal_pitch": -90.0, "hfov": 90.0, "vfov": 60.0,
         "speed": 4.0}
VIDEO_WAIT_MS = 40_000


class Feed:
    """A feed connection on the hub's loop (the aircraft's telemetry link)."""

    def __init__(self, running: console_fixtures.RunningHub) -> None:
        self.hub = running

        async def connect() -> HubClient:
            client = HubClient(running.url, "feed1", console_fixtures.PASSWORD, subscribe=False)
            client.start()
            await client.wait_for(lambda: client.state == "connected", 10)
            return client

        self.client = running.run(connect())

    def call(self, name: str, args: dict[str, Any]) -> Any:
        return self.hub.run(self.client.call(name, args))

    def fly(self, drone: str, lat: float, lon: float, **fields: Any) -> None:
        self.call("drone.telemetry", {"drone": drone, "lat": lat, "lon": lon, **NADIR, **fields})

    def close(self) -> None:
        self.hub.run(self.client.close())


@pytest.fixture
def feed(hub) -> Iterator[Feed]:
    feed = Feed(hub)
    yield feed
    feed.close()


def create_incident(hub, window, lat: float, lon: float) -> str:
    before = set(hub.look(lambda p: list(p.incidents)))
    window.send("incident.create", {"type": "structure_fire", "lat": lat, "lon": lon, "address": "Kaivokatu 1"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = set(hub.look(lambda p: list(p.incidents))) - before
        if new:
            return new.pop()
        time.sleep(0.05)
    raise AssertionError("the incident was not created")


def board_text(window, drone: str, column: int) -> str:
    model = window.drone_desk.model
    return str(model.data(model.index(model.row_of(drone), column)))


def board_colour(window, drone: str, column: int, role: Qt.ItemDataRole) -> str | None:
    model = window.drone_desk.model
    brush = model.data(model.index(model.row_of(drone), column), role)
    return brush.color().name() if brush is not None else None


def test_telemetry_shows_on_board_and_map_and_the_footprint_rings_the_incident(qtbot, hub, console, feed) -> None:
    fire = console("fire1")
    incident = create_incident(hub, fire, *INCIDENT_AT)
    feed.call("drone.register", {"id": "UAV1", "agency": "fire", "kind": "multirotor"})
    feed.fly("UAV1", INCIDENT_AT[0] + 0.0002, INCIDENT_AT[1], battery=25.0)

    mapped: Any = fire.map
    qtbot.waitUntil(lambda: fire.drone_desk.model.row_of("UAV1") == 0, timeout=10000)
    assert board_text(fire, "UAV1", DroneBoardModel.LINK) == "UP"
    assert board_text(fire, "UAV1", DroneBoardModel.BATTERY) == "25%"
    assert board_colour(fire, "UAV1", DroneBoardModel.BATTERY, Qt.ItemDataRole.ForegroundRole) == "#e3b341"
    assert board_text(fire, "UAV1", 5) == "100 m"  # AGL
    assert board_text(fire, "UAV1", DroneBoardModel.VIDEO) == "no"
    # On the map: the drone with its heading, its footprint, and the incident it sees ringed.
    qtbot.waitUntil(lambda: ("incident", incident) in mapped.in_view, timeout=10000)
    assert mapped.drones["UAV1"]["heading"] == 0.0 and mapped.drones["UAV1"]["link"] == "up"
    assert [f["drone"] for f in mapped.footprints] == ["UAV1"]
    assert not any(kind == "unit" for kind, _ in mapped.in_view)

    # The drone moves on: a track is drawn, and the incident leaves the camera's view.
    feed.fly("UAV1", INCIDENT_AT[0] + 0.01, INCIDENT_AT[1], battery=12.0)
    qtbot.waitUntil(lambda: ("incident", incident) not in mapped.in_view, timeout=10000)
    assert len(mapped.tracks["UAV1"]) == 2
    qtbot.waitUntil(lambda: board_text(fire, "UAV1", DroneBoardModel.BATTERY) == "12%", timeout=5000)
    assert board_colour(fire, "UAV1", DroneBoardModel.BATTERY, Qt.ItemDataRole.ForegroundRole) == "#f85149"

    # Link lost: red on the board, grey on the map.
    feed.call("drone.link", {"drone": "UAV1", "state": "lost"})
    qtbot.waitUntil(lambda: board_text(fire, "UAV1", DroneBoardModel.LINK) == "LOST", timeout=5000)
    assert board_colour(fire, "UAV1", DroneBoardModel.LINK, Qt.ItemDataRole.BackgroundRole) == "#f85149"
    qtbot.waitUntil(lambda: mapped.drones["UAV1"]["link"] == "lost", timeout=5000)

    # A drone whose last telemetry is 30 s old is flagged as stale, though its link was never reported lost.
    feed.call("drone.register", {"id": "UAV2", "agency": "fire"})
    feed.fly("UAV2", 60.17, 24.93, t=time.time() - 30)
    qtbot.waitUntil(lambda: board_text(fire, "UAV2", DroneBoardModel.LINK).startswith("STALE"), timeout=5000)
    assert board_colour(fire, "UAV2", DroneBoardModel.LINK, Qt.ItemDataRole.BackgroundRole) == "#f85149"
    qtbot.waitUntil(lambda: mapped.drones.get("UAV2", {}).get("link") == "stale", timeout=5000)

    # Selecting a drone on the board selects it on the map; clicking it on the map selects its row.
    assert fire.drone_desk.board.select_key("UAV2")
    qtbot.waitUntil(lambda: mapped._selected == ("drone", "UAV2"), timeout=2000)
    fire.map.selected.emit("drone", "UAV1")
    assert fire.drone_desk.board.selected_key() == "UAV1"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_two_live_videos_detach_snapshot_and_another_agency_sees_the_attachment(qtbot, hub, console, feed) -> None:
    streams = [DroneVideoSource("udp"), DroneVideoSource("http")]
    for stream in streams:
        stream.start()
    try:
        _videos_and_snapshot(qtbot, hub, console, feed, streams)
    finally:
        for stream in streams:
            stream.stop()


def _videos_and_snapshot(qtbot, hub, console, feed, streams: list[DroneVideoSource]) -> None:
    operator = console("op1")
    fire = console("fire1")
    police = console("police1")
    incident = create_incident(hub, fire, *INCIDENT_AT)

    # The operator registers both drones and publishes their links from the console.
    for drone in ("UAV1", "UAV2"):
        dialog = operator.drone_desk.register()
        dialog.callsign.setText(drone.lower())
        dialog.accept()
    qtbot.waitUntil(lambda: hub.look(lambda p: sorted(p.drones)) == ["UAV1", "UAV2"], timeout=10000)
    assert hub.look(lambda p: p.drones["UAV1"].operator) == "op1"
    for drone, stream in zip(("UAV1", "UAV2"), streams, strict=True):
        feed.fly(drone, INCIDENT_AT[0], INCIDENT_AT[1])
        qtbot.waitUntil(lambda d=drone: d in operator.drone_desk.picture.drones, timeout=5000)
        publish = operator.drone_desk.publish_video(drone)
        assert isinstance(publish, PublishVideoDialog)
        publish.url.setText(stream.url)
        publish.accept()
    qtbot.waitUntil(lambda: all(fire.drone_desk.drone(d) and fire.drone_desk.drone(d).video_url
                                for d in ("UAV1", "UAV2")), timeout=10000)
    assert board_text(fire, "UAV1", DroneBoardModel.VIDEO) == "yes"

    # The dispatcher opens both videos: two docks, titled with the callsigns, both playing real frames.
    docks = [fire.drone_desk.open_video("UAV1"), fire.drone_desk.open_video("UAV2")]
    assert [d.windowTitle() for d in docks] == ["Video · UAV1", "Video · UAV2"]
    assert all(d.isVisible() and not d.isFloating() for d in docks)
    # Stacked in the right-hand column, one under the other; the boards keep their tabs.
    assert all(fire.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea for d in docks)
    assert docks[0].geometry().bottom() < docks[1].geometry().top()
    assert fire.docks["drones"] in fire.tabifiedDockWidgets(fire.docks["units"])
    for dock in docks:
        qtbot.waitUntil(lambda d=dock: d.panel.state == "playing" and d.panel.frames_decoded > 15,
                        timeout=VIDEO_WAIT_MS)
        assert "PLAYING" in dock.state_label.text()
        assert dock.panel.status_text.startswith("playing")
    print(f"\nfirst frames after {[round(d.panel.first_frame_seconds or 0, 2) for d in docks]} s")

    # Detached onto "another monitor", the first keeps playing.
    docks[0].setFloating(True)
    docks[0].move(50, 50)
    frames = docks[0].panel.frames_decoded
    qtbot.waitUntil(lambda: docks[0].panel.frames_decoded > frames + 30, timeout=VIDEO_WAIT_MS)
    assert docks[0].isFloating() and docks[0].panel.state == "playing"
    assert docks[0].float_button.text() == "Dock"

    # The drone goes on the incident; a snapshot from its video is attached there.
    assign = fire.drone_desk.assign("UAV1")
    assert assign is not None
    assign.choice.setCurrentIndex(assign.choice.findData(incident))
    assign.accept()
    qtbot.waitUntil(lambda: hub.look(lambda p: p.drones["UAV1"].incident) == incident, timeout=5000)
    qtbot.waitUntil(lambda: fire.drone_desk.drone("UAV1").incident == incident, timeout=5000)
    qtbot.mouseClick(docks[0].snapshot_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hub.look(lambda p: len(p.incidents[incident].attachments)) == 1, timeout=10000)
    attachment = hub.look(lambda p: p.incidents[incident].attachments[0])
    data = base64.b64decode(attachment.data_b64)
    assert attachment.mime == "image/jpeg" and data.startswith(b"\xff\xd8\xff")
    assert len(data) <= MAX_ATTACHMENT_BYTES
    image = QImage.fromData(data, "JPG")
    assert (image.width(), image.height()) == (640, 360)  # a 640x360 frame fits without scaling
    assert (attachment.added_by, attachment.source) == ("fire1", "UAV1")
    assert attachment.caption.startswith("UAV1 video")

    # Another agency's dispatcher sees it in the incident detail: thumbnail, caption, who.
    police.focus_incident(incident)
    qtbot.waitUntil(lambda: police.detail.attachments.count() == 1, timeout=10000)
    item = police.detail.attachments.item(0)
    assert not item.icon().isNull()
    assert "UAV1 video" in item.text() and "fire1" in item.text()
    assert police.detail.attachments.isVisible()
    qtbot.waitUntil(lambda: "Snapshot AT-" in police.detail.timeline.toPlainText(), timeout=5000)

    # Closing a dock stops its stream.
    second = docks[1]
    second.close()
    assert second.panel.state == "idle"
    assert list(fire.drone_desk.videos) == ["UAV1"]


def test_look_here_round_trip_between_dispatcher_and_operator(qtbot, hub, console, feed) -> None:
    fire = console("fire1")
    operator = console("op1")
    dialog = operator.drone_desk.register()
    dialog.callsign.setText("UAV1")
    dialog.accept()
    qtbot.waitUntil(lambda: "UAV1" in hub.look(lambda p: p.drones), timeout=10000)
    feed.fly("UAV1", 60.1700, 24.9300)
    qtbot.waitUntil(lambda: "UAV1" in fire.drone_desk.picture.drones, timeout=5000)

    # The dispatcher right-clicks the map ("Ask a drone to look here…"), picks the drone, adds a note.
    box: list[Any] = []
    original = fire.drone_desk.ask_look
    fire.map.context_look_here.disconnect()
    fire.map.context_look_here.connect(lambda lat, lon: box.append(original(lat, lon)))
    fire.map.context_look_here.emit(60.1712, 24.9321)
    look = box[0]
    assert look is not None and look.value() == "UAV1"
    look.note.setText("smoke from the roof?")
    look.accept()
    qtbot.waitUntil(lambda: hub.look(lambda p: p.drones["UAV1"].look is not None), timeout=5000)
    request = hub.look(lambda p: p.drones["UAV1"].look)
    assert (request.lat, request.lon, request.note, request.requested_by) == (60.1712, 24.9321,
                                                                                "smoke from the roof?", "fire1")

    # The operator's console announces it: banner, board, map.
    qtbot.waitUntil(lambda: operator.banner.subject == ("look", request.id), timeout=5000)
    assert "smoke from the roof?" in operator.banner.text() and "fire1" in operator.banner.text()
    assert board_text(operator, "UAV1", DroneBoardModel.LOOK).startswith(f"{request.id} OPEN")
    mapped: Any = operator.map
    assert mapped.looks == [{"id": request.id, "drone": "UAV1", "lat": 60.1712, "lon": 24.9321,
                             "note": "smoke from the roof?", "acknowledged": False}]
    assert fire.banner.subject != ("look", request.id)  # only the drone's side is asked

    # Acknowledged with one click; the dispatcher sees it acknowledged.
    qtbot.mouseClick(operator.banner._ack, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hub.look(lambda p: p.drones["UAV1"].look.acknowledged_by) == "op1", timeout=5000)
    assert not operator.banner.isVisible()
    qtbot.waitUntil(lambda: board_text(fire, "UAV1", DroneBoardModel.LOOK) == f"{request.id} ✔ op1", timeout=5000)
    assert board_colour(fire, "UAV1", DroneBoardModel.LOOK, Qt.ItemDataRole.ForegroundRole) == "#3fb950"
    qtbot.waitUntil(lambda: fire.map.looks and fire.map.looks[0]["acknowledged"], timeout=5000)
    assert "op1 acknowledged" in fire.statusBar().currentMessage()

    # Acknowledging twice is refused by the hub, and the refusal is shown.
    operator.send("drone.look_ack", {"drone": "UAV1", "request": request.id})
    qtbot.waitUntil(lambda: operator.last_result is not None and not operator.last_result.ok, timeout=5000)
    assert "already_answered" in operator.statusBar().currentMessage()


def test_a_dispatcher_cannot_publish_video_and_is_told_why(qtbot, hub, console, feed) -> None:
    fire = console("fire1")
    feed.call("drone.register", {"id": "UAV1", "agency": "fire"})
    feed.fly("UAV1", 60.17, 24.93)
    qtbot.waitUntil(lambda: "UAV1" in fire.drone_desk.picture.drones, timeout=5000)
    desk = fire.drone_desk
    # The console does not offer it...
    offered = {label: enabled for label, _signal, enabled in desk.board.actions_for(desk.drone("UAV1"))}
    assert offered["Publish video link…  (P)"] is False
    assert offered["Assign to incident…  (A)"] is True
    assert not desk._actions["drone.video"].isEnabled() and desk._actions["drone.look"].isEnabled()
    # ...and the hub refuses it anyway; the refusal is shown, nothing changes.
    desk.send_video_link("UAV1", "udp://127.0.0.1:5000")
    qtbot.waitUntil(lambda: fire.last_result is not None and fire.last_result.name == "drone.video", timeout=5000)
    assert not fire.last_result.ok and fire.last_result.code == "forbidden"
    assert "refused" in fire.statusBar().currentMessage() and "forbidden" in fire.statusBar().currentMessage()
    assert hub.look(lambda p: p.drones["UAV1"].video_url) == ""


def test_publish_dialog_checks_the_link_before_it_is_sent(qtbot) -> None:
    assert video_url_problem("") == ""  # withdraws the link
    assert video_url_problem("rtsp://10.0.0.5:8554/uav1") == ""
    assert video_url_problem("file:///srv/training/uav1.ts") == ""
    assert "must start with" in video_url_problem("ftp://example.org/x.ts")
    assert "must start with" in video_url_problem("javascript:alert(1)")
    assert "spaces" in video_url_problem("udp://127.0.0.1:5000 ; rm -rf /")
    assert "at most" in video_url_problem("udp://" + "a" * 2000)
    dialog = PublishVideoDialog("UAV1", "")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.buttons()[0]
    assert ok.text() == "Withdraw link"
    dialog.url.setText("ftp://example.org/x.ts")
    assert not ok.isEnabled() and "must start with" in dialog.problem.text()
    dialog.url.setText("srt://10.0.0.5:9000")
    assert ok.isEnabled() and ok.text() == "Publish"


def test_snapshots_are_brought_under_the_attachment_limit(qtbot) -> None:
    # Noise is the worst case for JPEG: a full-HD frame of it cannot fit at any quality without scaling down.
    noise = random.Random(5).randbytes(1920 * 1080 * 3)
    image = QImage(noise, 1920, 1080, 1920 * 3, QImage.Format.Format_RGB888).copy()
    data = encode_jpeg(image, MAX_ATTACHMENT_BYTES)
    decoded = QImage.fromData(data, "JPG")
    assert len(data) <= MAX_ATTACHMENT_BYTES and not decoded.isNull()
    assert decoded.width() < 1920
    assert decoded.width() / decoded.height() == pytest.approx(1920 / 1080, rel=0.01)
    with pytest.raises(ValueError):
        encode_jpeg(QImage(), MAX_ATTACHMENT_BYTES)
