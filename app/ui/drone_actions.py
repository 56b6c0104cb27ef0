"""The console's drone desk: the drone board, live video docks, snapshots, and the look-here workflow.

One object per console window. It owns the board and the video docks, adds the Drones menu, and turns what
the dispatcher or drone operator does into hub commands through the window's `send` (whose refusals the
status bar and CAD line show like any other). Its state comes from the same frames as the rest of the window.

- Video: "Open video" (board double-click, Enter/V, menu) opens the drone's published link in a dock titled
  with its callsign; several at once; each floats onto another monitor; closing one stops its stream. A fixed
  or mobile camera's video opens in the same kind of dock ("Open a camera's video…", titled "camera <id>").
- Snapshot: the current frame as a JPEG under the hub's attachment limit, attached to the drone's incident
  (or one the user picks).
- Look here: a dispatcher right-clicks the map, picks a drone, adds a note → `drone.look`; the drone's
  operator gets a banner (F8 acknowledges → `drone.look_ack`); the dispatcher sees the acknowledgement on the
  board, on the map (the crosshair turns green) and in the status bar.
"""

from __future__ import annotations

import base64
import math
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

from app.domain.agencies import Role
from app.domain.authority import ALLOWED
from app.domain.drone_rules import MAX_ATTACHMENT_BYTES
from app.domain.drones import Drone
from app.domain.entities import IncidentStatus
from app.domain.picture import Picture
from app.ui.bridge import ConnectionStatus
from app.ui.drone_dialogs import ChooseDialog, PublishVideoDialog, RegisterDroneDialog
from app.ui.panels.drones import DroneBoardModel, DroneBoardView
from app.ui.timeline import type_label
from app.ui.video.dock import VideoDock
from app.ui.video.snapshot import encode_jpeg

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

#: A video dock's height beyond its 16:9 picture: dock title, state bar and status line.
VIDEO_CHROME_PX = 80
#: How often the board's ages and the map's stale-telemetry greying are refreshed without new frames.
TICK_MS = 1000
#: A camera's video dock is keyed (and titled) "camera <id>", apart from the drones' callsigns.
CAMERA_KEY = "camera "


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: plenty to sort drones by how close they are to a point in one city."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(x, math.radians(lat2 - lat1)) * 6_371_000


class DroneDesk(QObject):
    """Drone board, video docks and drone commands for one console window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.picture = Picture()
        self.status = ConnectionStatus("offline")
        self.model = DroneBoardModel()
        self.board = DroneBoardView(self.model)
        self.board.permits = self.permits
        self.videos: dict[str, VideoDock] = {}
        self._announced: set[str] = set()  # look requests already put on this operator's banner
        self._noticed: set[str] = set()  # acknowledgements already reported to this requester
        self.menu = self._build_menu()

        self.board.current_changed.connect(lambda drone: window.map.select("drone", drone))
        self.board.open_video.connect(self.open_video)
        self.board.assign.connect(self.assign)
        self.board.publish_video.connect(self.publish_video)
        self.board.acknowledge_look.connect(self.acknowledge_look)
        window.map.selected.connect(self._map_selected)
        window.map.context_look_here.connect(self.ask_look)
        window.banner.acknowledge.connect(self._acknowledge_request)
        window.banner.locate.connect(self._locate_request)
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start()

    # -- state from the window -----------------------------------------------------------------------

    def set_status(self, status: ConnectionStatus) -> None:
        """Who this console is (role and agency decide what the drone menu offers)."""
        self.status = status
        self.model.own_agency = status.agency
        self.model.agencies = status.agencies
        self._enable_menu()

    def apply_frame(self, picture: Picture, now: float) -> None:
        """A new picture: refresh the board, the open video docks and the look-here cues."""
        self.picture = picture
        self.model.set_picture(picture)
        for key, dock in list(self.videos.items()):
            url = self._video_url(key)
            if url and url != dock.url:
                dock.play(url)  # the operator (or the camera's feed) published a new link: follow it
        self._cue_looks(now)
        self._enable_menu()

    def permits(self, command: str) -> bool:
        """Whether this console's role may send `command` (the hub decides; this only avoids dead ends)."""
        try:
            return Role(self.status.role) in ALLOWED.get(command, frozenset())
        except ValueError:
            return False

    def drone(self, drone_id: str | None) -> Drone | None:
        """A drone of the current picture."""
        return self.picture.drones.get(drone_id) if drone_id else None

    def _tick(self) -> None:
        self.model.tick()
        self.window.map_feed.update(self.picture, time.time())  # stale telemetry greys out without new frames

    # -- menu ----------------------------------------------------------------------------------------

    def _build_menu(self) -> QMenu:
        menu = QMenu("&Drones", self.window)
        selected = self._on_selected
        self._actions = {
            "video": menu.addAction("Open &video of the selected drone", lambda: selected(self.open_video)),
            "camera_video": menu.addAction("Open a &camera's video…", self.choose_camera_video),
            "drone.assign": menu.addAction("&Assign the selected drone to an incident…",
                                           lambda: selected(self.assign)),
            "drone.video": menu.addAction("&Publish video link…", lambda: selected(self.publish_video)),
            "drone.look_ack": menu.addAction("Ac&knowledge look request", self._acknowledge_banner),
            "drone.look": menu.addAction("Ask a drone to &look at the selected incident…", self._look_at_incident),
        }
        menu.addSeparator()
        self._actions["drone.register"] = menu.addAction("&Register a drone…", self.register)
        self._actions["video"].setShortcut(QKeySequence("Ctrl+Shift+V"))
        self._actions["drone.look_ack"].setShortcut(QKeySequence("F8"))
        return menu

    def _enable_menu(self) -> None:
        for name, action in self._actions.items():
            action.setEnabled(name in ("video", "camera_video") or self.permits(name))

    def _on_selected(self, action) -> None:
        drone = self.board.selected_key()
        if drone:
            action(drone)
        else:
            self._say("Select a drone on the drone board first")

    def _say(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _map_selected(self, kind: str, item_id: str) -> None:
        if kind == "drone":
            self.board.select_key(item_id)
        elif kind == "camera":
            self.open_camera_video(item_id)

    # -- video ---------------------------------------------------------------------------------------

    def open_video(self, drone_id: str) -> VideoDock | None:
        """Open (or bring forward) the drone's live video in a dock of its own."""
        return self._open_dock(drone_id)

    def open_camera_video(self, camera_id: str) -> VideoDock | None:
        """Open (or bring forward) a camera's video in a dock like a drone's."""
        return self._open_dock(CAMERA_KEY + camera_id)

    def choose_camera_video(self) -> ChooseDialog | None:
        """Pick one of the cameras with a video link and open it."""
        now = time.time()
        choices: list[tuple[str | None, str]] = [
            (c.id, f"{c.id} — {c.label or c.kind}" + (" (stale)" if c.stale(now) else ""))
            for c in sorted(self.picture.cameras.values(), key=lambda c: c.id) if c.video_url]
        if not choices:
            self._say("No camera has a video link")
            return None
        dialog = ChooseDialog("Camera video", "Camera", choices, "Open", parent=self.window)

        def chosen() -> None:
            camera = dialog.value()
            if camera:
                self.open_camera_video(camera)

        dialog.accepted.connect(chosen)
        dialog.open()
        return dialog

    def _video_url(self, key: str) -> str:
        if key.startswith(CAMERA_KEY):
            camera = self.picture.cameras.get(key.removeprefix(CAMERA_KEY))
            return camera.video_url if camera else ""
        drone = self.picture.drones.get(key)
        return drone.video_url if drone else ""

    def _open_dock(self, key: str) -> VideoDock | None:
        url = self._video_url(key)
        if not url:
            self._say(f"{key} has no published video link")
            return None
        dock = self.videos.get(key)
        if dock is None:
            dock = VideoDock(key, url, self.window)
            dock.snapshot_requested.connect(self.snapshot)
            dock.closed.connect(lambda d: self.videos.pop(d, None))
            self._place(dock)
            self.videos[key] = dock
            dock.play()
        dock.show()
        dock.raise_()
        return dock

    def _place(self, dock: VideoDock) -> None:
        """Videos stack in the right-hand column under the boards, one below the other, each sized for 16:9.

        (Qt cannot split a tabbed dock, and every board there is tabbed, so the videos go after them.)
        """
        window = self.window
        docked = [d for d in self.videos.values() if not d.isFloating() and d.isVisible()]
        if docked:
            window.splitDockWidget(docked[-1], dock, Qt.Orientation.Vertical)
        else:
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock, Qt.Orientation.Vertical)
        videos = [*docked, dock]
        column = window.docks.get("units")
        width = column.width() if column is not None and column.width() > 100 else int(window.width() * 0.25)
        height = int(width * 9 / 16) + VIDEO_CHROME_PX
        # The boards above give up what the videos take (resizeDocks shares out only among the docks named).
        boards = [d for d in window.docks.values()
                  if window.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea and not d.isFloating()
                  and d.isVisible() and not d.visibleRegion().isEmpty()]
        spare = max(120 * len(boards), window.height() - 60 - height * len(videos))
        window.resizeDocks([*boards, *videos], [spare // max(1, len(boards))] * len(boards) + [height] * len(videos),
                           Qt.Orientation.Vertical)

    def close_videos(self) -> None:
        """Stop and close every video dock (the window is closing)."""
        for dock in list(self.videos.values()):
            dock.close()

    def snapshot(self, drone_id: str) -> None:
        """Attach the video's current frame to the drone's incident (asking which if it has none)."""
        dock = self.videos.get(drone_id)
        if dock is None:
            return
        try:
            data = encode_jpeg(dock.panel.snapshot(), MAX_ATTACHMENT_BYTES)
        except ValueError as exc:
            self._say(f"✖ No snapshot of {drone_id}: {exc}", 8000)
            return
        caption = f"{drone_id} video {time.strftime('%H:%M:%S')}"
        drone = self.drone(drone_id)
        if drone is not None and drone.incident in self.picture.incidents:
            self._attach(drone.incident, data, caption, drone_id)
            return
        dialog = ChooseDialog(f"Snapshot of {drone_id}", "Attach to incident", self._open_incidents(),
                              "Attach", current=self.window.selected_incident, parent=self.window)
        dialog.accepted.connect(lambda: dialog.value() and self._attach(dialog.value(), data, caption, drone_id))
        dialog.open()

    def _attach(self, incident: str, data: bytes, caption: str, source: str) -> None:
        self.window.send("incident.attach", {"incident": incident, "mime": "image/jpeg",
                                             "data_b64": base64.b64encode(data).decode("ascii"),
                                             "caption": caption, "source": source},
                         f"snapshot of {source} ({len(data) // 1024} KiB) to {incident}")

    # -- operator and dispatcher actions -------------------------------------------------------------

    def _open_incidents(self) -> list[tuple[str | None, str]]:
        incidents = sorted((i for i in self.picture.incidents.values() if i.status != IncidentStatus.CLOSED),
                           key=lambda i: (i.priority, i.created_at))
        return [(i.id, f"P{i.priority}  {i.id}  {type_label(i.type)} — {i.address or 'map point'}")
                for i in incidents]

    def assign(self, drone_id: str) -> ChooseDialog | None:
        """Put the drone on an incident (or release it)."""
        drone = self.drone(drone_id)
        if drone is None:
            return None
        choices: list[tuple[str | None, str]] = [(None, "— no incident (release) —"), *self._open_incidents()]
        dialog = ChooseDialog(f"Assign {drone_id}", "Incident", choices, "Assign",
                              current=drone.incident or self.window.selected_incident, parent=self.window)
        dialog.accepted.connect(lambda: self.window.send(
            "drone.assign", {"drone": drone_id, "incident": dialog.value()},
            f"{drone_id} to {dialog.value()}" if dialog.value() else f"release {drone_id}"))
        dialog.open()
        return dialog

    def publish_video(self, drone_id: str) -> PublishVideoDialog | None:
        """The operator publishes (or withdraws) the drone's video link."""
        drone = self.drone(drone_id)
        if drone is None:
            return None
        dialog = PublishVideoDialog(drone_id, drone.video_url, self.window)
        dialog.accepted.connect(lambda: self.send_video_link(drone_id, dialog.value()))
        dialog.open()
        return dialog

    def send_video_link(self, drone_id: str, url: str) -> int:
        """Send drone.video; the hub refuses roles and agencies that may not publish."""
        return self.window.send("drone.video", {"drone": drone_id, "url": url},
                                f"video link of {drone_id}" if url else f"withdraw video of {drone_id}")

    def register(self) -> RegisterDroneDialog:
        """Register a drone (its operator is whoever registers it)."""
        agencies = {code: name for code, (name, _colour) in self.status.agencies.items()}
        if self.status.role != Role.SUPERVISOR:
            agencies = {self.status.agency: agencies.get(self.status.agency, self.status.agency.upper())}
        dialog = RegisterDroneDialog(agencies, self.status.agency, self.window)
        dialog.accepted.connect(lambda: self.window.send("drone.register", dialog.args(),
                                                         f"register {dialog.args()['id']}"))
        dialog.open()
        return dialog

    def ask_look(self, lat: float, lon: float, drone_id: str | None = None) -> ChooseDialog | None:
        """Ask a drone (nearest first) to look at a point, with a note for its operator."""
        if not self.permits("drone.look"):
            self._say(f"✖ A {self.status.role or 'signed-out user'} may not ask drones to look somewhere")
            return None
        drones = sorted((d for d in self.picture.drones.values() if d.lat is not None and d.lon is not None),
                        key=lambda d: (d.link != "up", _metres(lat, lon, d.lat or 0, d.lon or 0)))
        if not drones:
            self._say("No drone is flying")
            return None
        choices: list[tuple[str | None, str]] = [
            (d.id, f"{d.id}  ({d.agency.upper()}, {_metres(lat, lon, d.lat or 0, d.lon or 0):.0f} m away"
                   f"{', LINK LOST' if d.link != 'up' else ''})") for d in drones]
        dialog = ChooseDialog("Ask a drone to look here", "Drone", choices, "Ask",
                              current=drone_id or self.board.selected_key(), note="what to look for (optional)",
                              parent=self.window)
        dialog.setWindowTitle(f"Look at {lat:.5f}, {lon:.5f}")
        dialog.accepted.connect(lambda: self.window.send(
            "drone.look", {"drone": dialog.value(), "lat": lat, "lon": lon, "note": dialog.note.text().strip()},
            f"ask {dialog.value()} to look at {lat:.5f}, {lon:.5f}"))
        dialog.open()
        return dialog

    def _look_at_incident(self) -> None:
        incident = self.picture.incidents.get(self.window.selected_incident or "")
        if incident is None:
            self._say("Select an incident first (F3)")
            return
        self.ask_look(incident.lat, incident.lon)

    def acknowledge_look(self, drone_id: str) -> None:
        """Acknowledge the drone's open look request."""
        drone = self.drone(drone_id)
        if drone is None or drone.look is None or drone.look.acknowledged_by:
            self._say(f"{drone_id} has no open look request")
            return
        self.window.send("drone.look_ack", {"drone": drone_id, "request": drone.look.id},
                         f"acknowledge {drone.look.id} for {drone_id}")
        self.window.banner.dismiss_if("look", drone.look.id)

    # -- look-here cues ------------------------------------------------------------------------------

    def _flies(self, drone: Drone) -> bool:
        """Whether this console is the drone's side: its operator, or (feed-only drone) an operator of its agency."""
        me = self.status.user or self.window.bridge.user
        if drone.operator:
            return drone.operator == me
        return self.status.role == Role.DRONE_OPERATOR and drone.agency == self.status.agency

    def _cue_looks(self, now: float) -> None:
        me = self.status.user or self.window.bridge.user
        for drone in self.picture.drones.values():
            look = drone.look
            if look is None:
                continue
            if look.acknowledged_by is None and self._flies(drone) and look.id not in self._announced:
                self._announced.add(look.id)
                note = f" — “{look.note}”" if look.note else ""
                self.window.banner.show_look(look.id, f"LOOK HERE {look.id}: {look.requested_by} asks {drone.id} to "
                                                      f"look at {look.lat:.5f}, {look.lon:.5f}{note}")
                self.board.select_key(drone.id)
                self.window.sound.play()
            elif look.acknowledged_by is not None:
                self.window.banner.dismiss_if("look", look.id)
                fresh = look.acknowledged_at is not None and look.acknowledged_at >= self.window.started_at - 2
                if look.requested_by == me and fresh and look.id not in self._noticed:
                    self._noticed.add(look.id)
                    self._say(f"✔ {look.acknowledged_by} acknowledged {look.id}: {drone.id} is looking", 15000)

    def _request_drone(self, request: str) -> Drone | None:
        return next((d for d in self.picture.drones.values() if d.look is not None and d.look.id == request), None)

    def _acknowledge_request(self, request: str) -> None:
        drone = self._request_drone(request)
        if drone is not None:
            self.acknowledge_look(drone.id)

    def _acknowledge_banner(self) -> None:
        """F8: acknowledge the request on the banner, else the selected drone's."""
        kind, request = self.window.banner.subject
        if kind == "look":
            self._acknowledge_request(request)
        elif self.board.selected_key():
            self.acknowledge_look(self.board.selected_key() or "")
        else:
            self._say("No look request is waiting")

    def _locate_request(self, request: str) -> None:
        drone = self._request_drone(request)
        if drone is not None and drone.look is not None:
            self.window.map.center_on(drone.look.lat, drone.look.lon, 17)
