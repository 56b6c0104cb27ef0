"""The drone board: every drone in the picture, its link, battery, height, speed, incident, video and the
open "look here" request.

Keys (when the board has focus): Enter or V open the video, A assign to an incident, P publish the video link,
K acknowledge the look request. The same actions are in the right-click menu, each enabled only for the roles
the hub would accept it from (the hub checks anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent
from PySide6.QtWidgets import QHeaderView, QMenu, QWidget

from app.domain.drones import Drone
from app.domain.picture import Picture
from app.ui.map_feed import drone_link
from app.ui.models import KEY_ROLE, _Index, _KeyedModel, elapsed
from app.ui.panels.boards import _Board
from app.ui.theme import agency_color

#: Battery thresholds: amber below the first (plan the return), red below the second (land now).
BATTERY_LOW, BATTERY_CRITICAL = 30.0, 15.0

RED, AMBER, GREEN, DIM = "#f85149", "#e3b341", "#3fb950", "#8b949e"


def link_state(drone: Drone, now: float) -> tuple[str, bool]:
    """What the Link column says and whether it is bad (lost, or no telemetry for DRONE_STALE_S)."""
    link = drone_link(drone, now)
    if link == "lost":
        return "LOST", True
    if link == "stale":
        return ("NO FIX", True) if drone.telemetry_at is None else (f"STALE {elapsed(now - drone.telemetry_at)}", True)
    return "UP", False


def battery_colour(battery: float | None) -> str | None:
    """Red under 15 %, amber under 30 %, else no colour."""
    if battery is None:
        return None
    return RED if battery < BATTERY_CRITICAL else AMBER if battery < BATTERY_LOW else None


class DroneBoardModel(_KeyedModel):
    """Drones ordered by agency (own first) then callsign."""

    HEADERS = ("Drone", "Agency", "Operator", "Link", "Batt", "AGL", "Speed", "Inc", "Video", "Look here")
    LINK, BATTERY, VIDEO, LOOK = 3, 4, 8, 9

    def __init__(self) -> None:
        super().__init__()
        self._drones: dict[str, Drone] = {}
        self.own_agency = ""

    def set_picture(self, picture: Picture) -> None:
        """Refresh from a snapshot."""
        self._drones = picture.drones
        order = sorted(picture.drones.values(), key=lambda d: (d.agency != self.own_agency, d.agency, d.id))
        self._replace([d.id for d in order])

    def drone(self, row: int) -> Drone | None:
        """The drone on a row."""
        key = self.key(row)
        return self._drones.get(key) if key else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        drone = self.drone(index.row())
        if drone is None:
            return None
        column = index.column()
        now = self.clock()
        if role == KEY_ROLE:
            return drone.id
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(drone, column, now)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(drone, column, now)
        if role == Qt.ItemDataRole.BackgroundRole and column == self.LINK:
            return QBrush(QColor(RED if link_state(drone, now)[1] else GREEN))
        if role == Qt.ItemDataRole.FontRole and column in (0, self.LINK, self.LOOK):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self.LINK:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(drone, now)
        return None

    def _text(self, drone: Drone, column: int, now: float) -> str:
        if column == 0:
            return drone.id
        if column == 1:
            return drone.agency.upper()
        if column == 2:
            return drone.operator or "—"
        if column == self.LINK:
            return link_state(drone, now)[0]
        if column == self.BATTERY:
            return f"{drone.battery:.0f}%" if drone.battery is not None else "—"
        if column == 5:
            return f"{drone.agl_m:.0f} m" if drone.agl_m is not None else "—"
        if column == 6:
            return f"{drone.speed:.0f} m/s" if drone.speed is not None else "—"
        if column == 7:
            return drone.incident or "—"
        if column == self.VIDEO:
            return "yes" if drone.video_url else "no"
        look = drone.look
        if look is None:
            return ""
        if look.acknowledged_by:
            return f"{look.id} ✔ {look.acknowledged_by}"
        return f"{look.id} OPEN {elapsed(now - look.requested_at)}"

    def _foreground(self, drone: Drone, column: int, now: float) -> QBrush | None:
        colour: str | None = None
        if column == 0:
            colour = agency_color(drone.agency, self.agencies)
        elif column == self.LINK:
            colour = "#0d1117"
        elif column == self.BATTERY:
            colour = battery_colour(drone.battery)
        elif column == self.VIDEO:
            colour = GREEN if drone.video_url else DIM
        elif column == self.LOOK and drone.look is not None:
            colour = GREEN if drone.look.acknowledged_by else AMBER
        return QBrush(QColor(colour)) if colour else None

    @staticmethod
    def _tooltip(drone: Drone, now: float) -> str:
        lines = [f"{drone.id} · {drone.agency.upper()} · operator {drone.operator or 'none (feed)'}"]
        if drone.lat is not None and drone.lon is not None:
            lines.append(f"at {drone.lat:.5f}, {drone.lon:.5f}"
                         + (f", heading {drone.heading:.0f}°" if drone.heading is not None else ""))
        if drone.telemetry_at is not None:
            lines.append(f"last telemetry {elapsed(now - drone.telemetry_at)} ago")
        if drone.video_url:
            lines.append(f"video {drone.video_url}")
        if drone.look is not None:
            look = drone.look
            state = f"acknowledged by {look.acknowledged_by}" if look.acknowledged_by else "waiting"
            lines.append(f"look here {look.id}: {look.lat:.5f}, {look.lon:.5f} from {look.requested_by}"
                         + (f" — {look.note}" if look.note else "") + f" ({state})")
        return "\n".join(lines)


class DroneBoardView(_Board):
    """The drone board. ``permits(command)`` says whether this console's role may send a command; the menu and
    keys use it to offer only what the hub would accept."""

    open_video = Signal(str)
    assign = Signal(str)
    publish_video = Signal(str)
    acknowledge_look = Signal(str)

    def __init__(self, model: DroneBoardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.permits: Callable[[str], bool] = lambda _command: True
        self.setModel(model)
        for column, width in enumerate((64, 60, 80, 70, 48, 54, 62, 52, 46, 120)):
            self.setColumnWidth(column, width)
        self.horizontalHeader().setSectionResizeMode(DroneBoardModel.LOOK, QHeaderView.ResizeMode.Stretch)
        self.doubleClicked.connect(lambda _index: self._emit(self.open_video))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def actions_for(self, drone: Drone | None) -> list[tuple[str, Signal, bool]]:
        """(label, signal, enabled) for the drone's menu."""
        has_look = drone is not None and drone.look is not None and not drone.look.acknowledged_by
        return [
            ("Open video  (V)", self.open_video, drone is not None and bool(drone.video_url)),
            ("Assign to incident…  (A)", self.assign, self.permits("drone.assign")),
            ("Publish video link…  (P)", self.publish_video, self.permits("drone.video")),
            ("Acknowledge look request  (K)", self.acknowledge_look, has_look and self.permits("drone.look_ack")),
        ]

    def _emit(self, signal: Signal) -> bool:
        key = self.selected_key()
        if key:
            signal.emit(key)
        return bool(key)

    def _menu(self, position: QPoint) -> None:
        index = self.indexAt(position)
        if not index.isValid():
            return
        self.select_key(self.model().key(index.row()))
        menu = QMenu(self)
        for label, signal, enabled in self.actions_for(self.model().drone(index.row())):
            action = menu.addAction(label)
            action.setEnabled(enabled)
            action.triggered.connect(lambda _checked=False, s=signal: self._emit(s))
        menu.exec(self.viewport().mapToGlobal(position))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        signal = {Qt.Key.Key_Return: self.open_video, Qt.Key.Key_Enter: self.open_video,
                  Qt.Key.Key_V: self.open_video, Qt.Key.Key_A: self.assign, Qt.Key.Key_P: self.publish_video,
                  Qt.Key.Key_K: self.acknowledge_look}.get(Qt.Key(event.key()))
        if signal is not None and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier and self._emit(signal):
            return
        super().keyPressEvent(event)
