"""The control-room console: map in the centre, dockable panels around it, CAD line and status bar below.

All state shown comes from `Frame`s handed over by the `HubBridge` (private picture copies, at most ~8 a
second); all actions go out as hub commands through `send`, whose outcome comes back as `CommandResult`.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.city.geocoder import precision_of
from app.client.cad import CadCommand, help_text, incident_line, summary_line
from app.domain import events as ev
from app.domain.entities import IncidentStatus
from app.domain.events import Event
from app.domain.incident_search import SearchError, parse_search, pending_calls, search, summary
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.picture import Picture
from app.domain.recommend import recommend
from app.ui import map_search
from app.ui.alert_tools import AlertTools
from app.ui.bridge import CommandResult, ConnectionStatus, Frame, HubBridge, QueryResult
from app.ui.city_services import CityServices
from app.ui.cues import Sound
from app.ui.dialogs import AidDialog, Choice, CloseDialog, NewIncidentDialog, RecommendDialog
from app.ui.drone_actions import DroneDesk
from app.ui.map_feed import MapFeed
from app.ui.models import IncidentQueueModel, UnitBoardModel, elapsed
from app.ui.panels.alerts import AlertsPanel
from app.ui.panels.banner import Banner
from app.ui.panels.boards import IncidentQueueView, UnitBoardView
from app.ui.panels.chat import ChatPanel
from app.ui.panels.command_line import CommandLine
from app.ui.panels.detail import IncidentDetail
from app.ui.panels.outage import HeldCommandsDialog, MapDimmer, OutageBanner
from app.ui.review.actions import install_review_menu
from app.ui.signal_tools import SignalTools
from app.ui.theme import DEFAULT_FONT_PT, STATE_COLORS, apply_theme, current_font_pt, current_theme
from app.ui.timeline import Timelines, type_label
from app.ui.triage_desk import TriageDesk
from app.ui.unit_timers import TimerWatch, load_limits

log = logging.getLogger("watchfloor.console")

#: How long a new priority-1 incident's row flashes, seconds.
FLASH_S = 20.0

SHORTCUTS = """\
F1 / Ctrl+L   CAD command line (Up/Down history, Tab completes)
F2 / Ctrl+N   New incident
F3            Incident queue: Enter/R assign units · C close · N note · Space centre map
F4            Unit board: E en route · O on scene · T transporting · H at hospital · A available · S out of service
F5            Incident detail: note box
F6            Chat
F7            Alerts (mutual aid) · Shift+F7 overdue unit timers: Enter = checked on the unit (as ACK <unit>)
F8            Acknowledge the drone "look here" request on the banner (drone operators)
F9            Accept the pending mutual-aid request · Shift+F9 decline
Ctrl+F        Map search: address, crossing, place, callsign or incident number; Enter goes there · Esc back
F10           Triage: A accept · M merge into an incident · X dismiss · Ctrl+F10 feed health
Ctrl+Shift+V  Open the selected drone's video (drone board: Enter/V video · A assign · P publish link · K ack)
Esc           Dismiss the banner
Ctrl+Shift+T  Dark / light theme
Ctrl+= / Ctrl+-  Larger / smaller text · Ctrl+0 default size
Ctrl+F1       This help
"""


def default_map_factory(city: CityServices, theme: str) -> QWidget:
    """The offline map of the city, centred on it."""
    from app.ui.map import MapView

    view = MapView(basemap=city.basemap if city.basemap and city.basemap.exists() else None,
                   basemap_tiles=city.basemap_tiles, theme=theme)
    if city.center:
        view.center_on(city.center[0], city.center[1], 15)
    return view


class MainWindow(QMainWindow):
    """The console of one signed-in dispatcher."""

    def __init__(self, bridge: HubBridge, city: CityServices | None = None,
                 map_factory: Callable[[CityServices, str], QWidget] = default_map_factory,
                 settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.city = city or CityServices(self)
        self.settings = settings or QSettings("Watchfloor", "console")
        self.picture = Picture()
        self.status = ConnectionStatus("offline", user=bridge.user)
        self.timelines = Timelines()
        self.sound = Sound(self)
        self.started_at = time.time()
        self.live_at: float | None = None  # when the picture was last known live (connected), wall clock
        self.held_dialog: HeldCommandsDialog | None = None
        self._decided: set[str] = set()  # held command ids already sent or dropped (a later status may lag)
        self._pending: dict[int, tuple[str, str | None]] = {}  # token -> (summary, CAD line)
        #: A many-unit CAD line's commands (token -> line number) and each unit's outcome so far, in order: every
        #: unit's refusal is reported on its own while the others go.
        self._line_of: dict[int, int] = {}
        self._line_outcomes: dict[int, dict[int, str | None]] = {}
        self._line_count = 0
        self.last_result: CommandResult | None = None
        self.selected_incident: str | None = None
        self.timer_watch = TimerWatch()  # overdue unit timers: which to show, which to cue
        self._searching: str | None = None  # the title of the search the hub is answering
        self.setWindowTitle(f"Watchfloor — {bridge.user}")
        self.resize(1600, 1000)
        self.setDockNestingEnabled(True)
        self._layout_restored = False
        self._sized = False

        # Centre: banner, map, CAD line.
        self.banner = Banner()
        self.map = map_factory(self.city, current_theme(QApplication.instance()))  # type: ignore[arg-type]
        self.map_feed = MapFeed(self.map)
        self.command_line = CommandLine()
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.map, 1)
        layout.addWidget(self.command_line)
        self.setCentralWidget(centre)
        self.map_dimmer = MapDimmer(self.map)

        # Across the whole console, above every panel: a hub outage cannot be missed.
        self.outage = OutageBanner()
        self.outage_bar = QToolBar("Hub outage", self)
        self.outage_bar.setObjectName("outageBar")
        self.outage_bar.setMovable(False)
        self.outage_bar.setFloatable(False)
        self.outage_bar.toggleViewAction().setVisible(False)
        self.outage_bar.addWidget(self.outage)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.outage_bar)

        # Panels.
        self.queue_model = IncidentQueueModel()
        self.queue = IncidentQueueView(self.queue_model)
        self.unit_model = UnitBoardModel()
        self.units = UnitBoardView(self.unit_model)
        self.detail = IncidentDetail()
        self.alerts = AlertsPanel()
        self.chat = ChatPanel()
        self.drone_desk = DroneDesk(self)
        self.docks: dict[str, QDockWidget] = {}
        self._dock("queue", "Incident queue", self.queue, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("detail", "Incident detail", self.detail, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("units", "Unit status", self.units, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("drones", "Drones", self.drone_desk.board, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["units"], self.docks["drones"])
        self.docks["units"].raise_()
        self._dock("alerts", "Alerts · Mutual aid", self.alerts, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("chat", "Chat", self.chat, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["alerts"], self.docks["chat"])
        self.docks["alerts"].raise_()
        self.triage_desk = TriageDesk(self)
        self._size_docks()
        self._default_state = self.saveState()

        self._status_bar()
        self._menus()
        self._shortcuts()
        self._wire()
        self.alert_tools = AlertTools(self)  # issue alerts, save CAP, export EIDO, what is inside an alert
        self.signal_tools = SignalTools(self)  # the supervisor's switch for signal priority in an area
        self._restore_layout()

        self.ticker = QTimer(self)
        self.ticker.setInterval(500)
        self.ticker.timeout.connect(self._tick)
        self.ticker.start()

    # -- construction --------------------------------------------------------------------------------

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.docks[name] = dock

    def _size_docks(self) -> None:
        """The default proportions: queue and detail left, units and alerts right, the map between."""
        width, height = max(self.width(), 1200), max(self.height(), 800)
        if self.windowState() & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
            # Right after showMaximized() the window may still report its old size; the screen knows better.
            screen = self.screen().availableGeometry()
            width, height = max(width, screen.width()), max(height, screen.height())
        self.resizeDocks([self.docks["queue"], self.docks["units"]], [int(width * 0.37), int(width * 0.25)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["queue"], self.docks["triage"], self.docks["detail"]],
                         [int(height * 0.28), int(height * 0.28), int(height * 0.44)], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["units"], self.docks["alerts"]], [int(height * 0.62), int(height * 0.38)],
                         Qt.Orientation.Vertical)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._layout_restored and not self._sized:
            self._sized = True
            QTimer.singleShot(0, self._size_docks)

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.connection_label = QLabel("OFFLINE")
        self.connection_label.setObjectName("connection")
        self.who_label = QLabel(self.bridge.user)
        self.counts_label = QLabel("")
        self.clock_label = QLabel("")
        bar.addPermanentWidget(self.counts_label)
        bar.addPermanentWidget(self.who_label)
        bar.addPermanentWidget(self.clock_label)
        bar.insertPermanentWidget(0, self.connection_label)
        self._paint_connection()

    def _menus(self) -> None:
        menu = self.menuBar()
        incident = menu.addMenu("&Incident")
        self._action(incident, "&New incident…", self.new_incident, ["F2", "Ctrl+N"])
        self._action(incident, "&Edit incident…", lambda: self._on_selected(self.edit_incident), ["Ctrl+E"])
        self._action(incident, "&Assign units…", lambda: self._on_selected(self.open_recommend), ["Ctrl+R"])
        self._action(incident, "Request mutual &aid…", lambda: self._on_selected(self.request_aid), [])
        self._action(incident, "&Close incident…", lambda: self._on_selected(self.close_incident), ["Ctrl+Shift+C"])
        incident.addSeparator()
        self._action(incident, "&Quit", self.close, ["Ctrl+Q"])
        view = menu.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self._action(view, "Dark / light &theme", self.toggle_theme, ["Ctrl+Shift+T"])
        self._action(view, "&Larger text", lambda: self.zoom_text(1), ["Ctrl+=", "Ctrl++"])
        self._action(view, "&Smaller text", lambda: self.zoom_text(-1), ["Ctrl+-"])
        self._action(view, "&Default text size", lambda: self.zoom_text(0), ["Ctrl+0"])
        self._action(view, "&Reset layout", lambda: self.restoreState(self._default_state), [])
        self.mute_action = self._action(view, "&Mute alert sound", self._toggle_mute, [])
        self.mute_action.setCheckable(True)
        menu.addMenu(self.drone_desk.menu)
        self.review = install_review_menu(self)  # hidden unless the signed-in role may review
        help_menu = menu.addMenu("&Help")
        self._action(help_menu, "&Keyboard and CAD commands", self.show_help, ["Ctrl+F1"])

    def _action(self, menu: Any, text: str, slot: Callable[[], Any], keys: list[str]) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _shortcuts(self) -> None:
        bindings: dict[str, Callable[[], Any]] = {
            "F1": self.command_line.focus, "Ctrl+L": self.command_line.focus,
            "F3": lambda: self._focus_dock("queue", self.queue),
            "F4": lambda: self._focus_dock("units", self.units),
            "F5": lambda: self._focus_dock("detail", self.detail.note),
            "F6": lambda: (self._focus_dock("chat", self.chat.input)),
            "F7": lambda: self._focus_dock("alerts", self.alerts.list),
            "Shift+F7": lambda: self._focus_dock("alerts", self.alerts.timers),
            "Ctrl+F": self.map.focus_search,
            "F9": lambda: self.answer_pending(True), "Shift+F9": lambda: self.answer_pending(False),
            "Esc": self.banner.dismiss,
        }
        for key, slot in bindings.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)

    def _wire(self) -> None:
        queued = Qt.ConnectionType.QueuedConnection
        self.bridge.frame.connect(self.apply_frame, queued)
        self.bridge.status_changed.connect(self.apply_status, queued)
        self.bridge.command_finished.connect(self.apply_result, queued)
        self.bridge.query_finished.connect(self._history_page, queued)
        self.command_line.submitted.connect(self.run_cad)
        self.command_line.help_requested.connect(self.show_help)
        self.queue.current_changed.connect(self.show_incident)
        self.queue.recommend.connect(self.open_recommend)
        self.queue.close_incident.connect(self.close_incident)
        self.queue.note.connect(lambda _i: self._focus_dock("detail", self.detail.note))
        self.queue.center.connect(self._center_incident)
        self.units.status_requested.connect(lambda u, s: self.send("unit.status", {"unit": u, "status": s},
                                                                   f"{u} {s.replace('_', ' ')}"))
        self.units.current_changed.connect(lambda u: self.map.select("unit", u))
        self.detail.recommend.connect(self.open_recommend)
        self.detail.close_incident.connect(self.close_incident)
        self.detail.edit_incident.connect(self.edit_incident)
        self.detail.request_aid.connect(self.request_aid)
        self.detail.add_note.connect(
            lambda i, t: self.send("incident.note", {"incident": i, "text": t}, f"note on {i}"))
        self.detail.send_chat.connect(self._send_chat)
        self.chat.send.connect(self._send_chat)
        self.alerts.answer.connect(self.answer_aid)
        self.alerts.open_incident.connect(self.focus_incident)
        self.bridge.query_finished.connect(self._search_finished, Qt.ConnectionType.QueuedConnection)
        self.alerts.check_unit.connect(
            lambda u: self.send("unit.check", {"unit": u, "note": ""}, f"{u} checked"))
        self.banner.accept.connect(lambda r: self.answer_aid(r, True))
        self.banner.decline.connect(lambda r: self.answer_aid(r, False))
        self.banner.open_incident.connect(self.focus_incident)
        self.map.selected.connect(self._map_selected)
        self.map.context_new_incident.connect(lambda lat, lon: self.new_incident((lat, lon)))
        # The map's search box and right-click address read the picture and the city as they are when used.
        self.map.set_search_provider(lambda text: map_search.search(text, self.picture, self.city.geocoder))
        self.map.set_place_resolver(lambda lat, lon: map_search.place_at(self.city.geocoder, lat, lon))

    # -- layout persistence --------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return f"{self.bridge.user}/{name}"

    def _restore_layout(self) -> None:
        geometry = self.settings.value(self._key("geometry"))
        state = self.settings.value(self._key("state"))
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self._layout_restored = self.restoreState(state)
        font_pt = self.settings.value(self._key("font_pt"))
        if font_pt is not None and str(font_pt).isdigit():
            app = QApplication.instance()
            apply_theme(app, current_theme(app), int(str(font_pt)))  # type: ignore[arg-type]

    def save_layout(self) -> None:
        """Remember window geometry and dock layout for this user."""
        self.settings.setValue(self._key("geometry"), self.saveGeometry())
        self.settings.setValue(self._key("state"), self.saveState())
        self.settings.setValue(self._key("theme"), current_theme(QApplication.instance()))  # type: ignore[arg-type]
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.drone_desk.close_videos()
        self.ticker.stop()
        self.review.shutdown()
        self.bridge.stop()
        super().closeEvent(event)

    # -- incoming ------------------------------------------------------------------------------------

    def apply_frame(self, frame: Frame) -> None:
        """A new picture from the network thread: refresh every view from it."""
        self.picture = frame.picture
        if self.status.state == "connected":
            self.live_at = time.time()
        if frame.reset:
            self.timelines.clear()
        touched = self.timelines.add(frame.events)
        now = time.time()
        if not frame.reset:
            self._cue(frame.events)
        self.queue_model.set_picture(self.picture)
        self.unit_model.set_picture(self.picture)
        self.alerts.set_picture(self.picture, now)
        self.chat.set_picture(self.picture)
        self.triage_desk.apply_frame(frame)
        self.map_feed.router = getattr(self.city.travel, "route", None)  # the road graph, once it has loaded
        self.map_feed.update(self.picture, now)
        self._retire_banner()
        self.drone_desk.apply_frame(self.picture, now)
        if self.selected_incident is not None or touched:
            self._refresh_detail()
        self.command_line.edit.set_vocabulary(
            sorted(self.picture.units),
            [i.id for i in self.picture.incidents.values() if i.status != IncidentStatus.CLOSED],
            self.alerts.pending_for_me() or sorted(self.picture.aid_requests))
        self._paint_counts()

    def _retire_banner(self) -> None:
        """A "NEW PRIORITY 1" banner goes once its incident is closed (or out of this console's picture)."""
        kind, subject = self.banner.subject
        if kind == "incident":
            incident = self.picture.incidents.get(subject)
            if incident is None or incident.status == IncidentStatus.CLOSED:
                self.banner.dismiss()

    def _cue(self, events: list[ev.Event]) -> None:
        me, agency = self.status.user or self.bridge.user, self.status.agency
        for event in events:
            if event.ts < self.started_at - 2:  # history replayed on connect is not news
                continue
            if event.kind == ev.INCIDENT_CREATED and event.data.get("priority") == 1:
                incident_id = str(event.data["id"])
                self.queue_model.flash_until[incident_id] = time.time() + FLASH_S
                if event.actor != me:
                    self.banner.show_incident(incident_id, f"NEW PRIORITY 1 — {incident_id} "
                                              f"{type_label(event.data['type'])} at {event.data.get('address', '')}")
                    self.sound.play()
            elif event.kind == ev.AID_REQUESTED and event.data.get("to_agency") == agency:
                request = str(event.data["id"])
                note = f" — {event.data['note']}" if event.data.get("note") else ""
                asker = str(event.data["from_agency"]).upper()
                self.banner.show_aid(request, f"MUTUAL AID {request}: {asker} asks {agency.upper()} for help on "
                                     f"incident {event.data['incident']}{note}")
                self.docks["alerts"].raise_()
                self.alerts.select_request(request)
                self.sound.play()
            elif event.kind == ev.AID_ANSWERED:
                self.banner.dismiss_if("aid", str(event.data["id"]))

    def apply_status(self, status: ConnectionStatus) -> None:
        """The connection changed (state, queued commands, or who we are)."""
        first_welcome = status.agency and not self.status.agency
        self.status = status
        if first_welcome:
            name = status.agencies.get(status.agency, (status.agency, ""))[0]
            self.setWindowTitle(f"Watchfloor — {status.user} · {name} {status.role}")
            self.who_label.setText(f"{status.user} · {status.agency.upper()} {status.role}")
            self.unit_model.own_agency = status.agency
            for model in (self.unit_model, self.queue_model):
                model.agencies = status.agencies
            self.chat.agencies = status.agencies
            self.chat.set_channels(status.agency)
            self.alerts.agency = status.agency
            self.timer_watch.agency, self.timer_watch.role = status.agency, status.role
            limits = load_limits(self.settings, list(status.agencies))
            self.timer_watch.limits = self.unit_model.limits = self.map_feed.limits = limits
            self.command_line.agencies = frozenset(status.agencies) or None
        self.drone_desk.set_status(status)
        self.triage_desk.set_status(status)
        if status.state == "connected":
            self.live_at = time.time()
        self._paint_connection()
        if status.state == "connected" and self.held_dialog is None \
                and any(held.id not in self._decided for held in status.held):
            self.confirm_held(status)

    def confirm_held(self, status: ConnectionStatus) -> HeldCommandsDialog:
        """After a reconnect: ask which of the commands typed during the outage still go (none goes unasked)."""
        lines = [(held.id, self._pending.get(held.token, (held.name, None))[0]) for held in status.held
                 if held.id not in self._decided]
        dialog = HeldCommandsDialog(lines, self)
        self.held_dialog = dialog

        def decided(_result: int) -> None:
            send = dialog.ticked()
            drop = [command_id for command_id in dialog.ids() if command_id not in send]
            self._decided.update(dialog.ids())
            if send:
                self.bridge.release(send)
            if drop:
                self.bridge.drop(drop)
            self.held_dialog = None

        dialog.finished.connect(decided)
        dialog.open()
        self.sound.play()
        return dialog

    def apply_result(self, result: CommandResult) -> None:
        """A command's outcome: confirm it, or show the hub's reason in red."""
        self.last_result = result
        summary, line = self._pending.pop(result.token, (result.name, None))
        if result.token in self._line_of:
            self._unit_outcome(result, summary, line)
        elif result.code == "dropped":
            self.statusBar().showMessage(f"✖ {summary}: dropped after the outage, never sent", 15000)
            if line is not None:
                self.command_line.show_error(f"{summary}: dropped after the outage, never sent")
        elif result.ok:
            self.statusBar().showMessage(f"✔ {summary}", 6000)
            if line is not None and not self.command_line.has_error():
                self.command_line.show_info(f"✔ {summary}")
        else:
            reason = f"{summary} refused — {result.message} [{result.code}]"
            self.statusBar().showMessage(f"✖ {reason}", 15000)
            self.command_line.show_error(reason, line)
            QApplication.beep()
        self._paint_connection()

    def _unit_outcome(self, result: CommandResult, summary: str, line: str | None) -> None:
        """One unit's outcome on a many-unit line: the line shows every unit's, the refused ones with why."""
        number = self._line_of.pop(result.token)
        outcomes = self._line_outcomes[number]
        outcomes[result.token] = f"✔ {summary}" if result.ok else f"✖ {summary}: {result.message} [{result.code}]"
        if any(text is None for text in outcomes.values()):
            return
        del self._line_outcomes[number]
        texts = [text for text in outcomes.values() if text]
        refused = [text for text in texts if text.startswith("✖")]
        said = " · ".join([*refused, *(text for text in texts if text not in refused)])
        self.statusBar().showMessage(said, 15000 if refused else 6000)
        if refused:
            self.command_line.show_error(said.removeprefix("✖ "), line)
            QApplication.beep()
        elif line is not None and not self.command_line.has_error():
            self.command_line.show_info(said)

    # -- outgoing ------------------------------------------------------------------------------------

    def send(self, name: str, args: dict[str, Any], summary: str = "", line: str | None = None) -> int:
        """Send a hub command; its outcome arrives in `apply_result`."""
        token = self.bridge.send(name, args)
        self._pending[token] = (summary or name, line)
        if self.status.state != "connected":
            self.statusBar().showMessage(f"⏳ {summary or name}: queued; you confirm it when the hub is back", 6000)
        return token

    def run_cad(self, command: CadCommand) -> None:
        """Send what a CAD line stands for."""
        line = self.command_line.edit.history[-1] if self.command_line.edit.history else None
        if command.show:
            incident = self.picture.incidents.get(command.show)
            if incident is None:
                self.command_line.show_error(f"there is no incident {command.show}", line)
            else:
                self.command_line.show_info(incident_line(incident))
            return
        if command.search:
            self._show_search(command.search, line)
            return
        commands = command.commands
        if command.locate:
            located = self._locate_for_cad(commands[0][1])
            if located is None:
                return
            commands = [(commands[0][0], located)]
        if len(command.labels) > 1:
            self._line_count += 1
            outcomes: dict[int, str | None] = {}
            self._line_outcomes[self._line_count] = outcomes
            for (name, args), label in zip(commands, command.labels, strict=True):
                token = self.send(name, args, label, line)
                self._line_of[token] = self._line_count
                outcomes[token] = None
            return
        for name, args in commands:
            self.send(name, args, command.summary, line)

    def _show_search(self, text: str, line: str | None) -> None:
        """Q: the pending calls. S: the incidents a search finds in the hub's whole history (while the hub is
        unreachable: in this console's picture, said so). Listed under the CAD line."""
        if text == "pending":
            self._list_found("Pending calls", [summary(i) for i in pending_calls(self.picture)])
            return
        try:
            wanted = parse_search(text, time.time())
        except SearchError as error:
            self.command_line.show_error(str(error), line)
            return
        if self.status.state == "connected":
            self._searching = f"Search “{text}”"
            self.command_line.show_info(f"{self._searching}: asking the hub …")
            self.bridge.query("search", {"number": wanted.number, "words": " ".join(wanted.words),
                                          "incident_type": wanted.type, "unit": wanted.unit,
                                          "since": wanted.since, "until": wanted.until})
            return
        self._list_found(f"Search “{text}” (hub unreachable: this console's picture only)",
                         [summary(i) for i in search(self.picture, wanted)])

    def _search_finished(self, result: QueryResult) -> None:
        if result.what != "search" or self._searching is None:
            return
        title, self._searching = self._searching, None
        if result.ok:
            self._list_found(title, list(result.data["incidents"]))
        else:
            self.command_line.show_error(f"{title}: {result.message} [{result.code}]")

    def _list_found(self, title: str, found: list[dict[str, Any]]) -> None:
        if not found:
            self.command_line.show_info(f"{title}: none")
            return
        shown = [summary_line(i) for i in found[:8]]
        more = f"\n… and {len(found) - 8} more: narrow the search" if len(found) > 8 else ""
        self.command_line.show_info(f"{title} ({len(found)}):\n" + "\n".join(shown) + more)

    def _locate_for_cad(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """ADDR: the update with the geocoded point and precision, or None (shown as an error) if not found."""
        line = self.command_line.edit.history[-1] if self.command_line.edit.history else None
        try:
            found = self.city.geocoder.geocode(args["address"]) if self.city.geocoder else None
        except Exception as exc:  # a geocoder failure leaves the incident where it is
            self.command_line.show_error(f"geocoder error: {exc}", line)
            return None
        if found is None:
            self.command_line.show_error(f"“{args['address']}” not found: the incident stays where it is "
                                         "(Ctrl+E to pick the point)", line)
            return None
        elsewhere = found.raw.get("elsewhere") if isinstance(found.raw, dict) else None
        if elsewhere:
            places = " · ".join([found.address, *elsewhere][:4])
            self.command_line.show_error(f"“{args['address']}” is in several places ({places}): add the "
                                         "municipality", line)
            return None
        return {**args, "address": found.address, "lat": found.latitude, "lon": found.longitude,
                "location_precision": precision_of(found)}

    def _send_chat(self, channel: str, text: str) -> None:
        self.send("message.send", {"channel": channel, "text": text}, f"message to {channel}")

    def answer_aid(self, request: str, accept: bool) -> None:
        """Accept or decline a mutual-aid request."""
        self.send("aid.answer", {"request": request, "accept": accept, "note": ""},
                  f"{'accept' if accept else 'decline'} {request}")
        self.banner.dismiss_if("aid", request)

    def answer_pending(self, accept: bool) -> None:
        """F9 / Shift+F9: answer the request on the banner, else the oldest pending one."""
        kind, subject = self.banner.subject
        pending = self.alerts.pending_for_me()
        request = subject if kind == "aid" else (pending[0] if pending else None)
        if request:
            self.answer_aid(request, accept)
        else:
            self.statusBar().showMessage("No mutual-aid request is waiting for your agency", 4000)

    # -- workflow ------------------------------------------------------------------------------------

    def new_incident(self, at: tuple[float, float] | None = None) -> NewIncidentDialog:
        """Open the new-incident dialog (optionally at a map point); sends incident.create on OK."""
        dialog = NewIncidentDialog(self.city.geocoder, at=at, center=self.city.center, parent=self)
        dialog.accepted.connect(lambda: self._create(dialog.args()))
        dialog.open()
        return dialog

    def edit_incident(self, incident_id: str) -> NewIncidentDialog | None:
        """The incident dialog filled with an incident; sends incident.update with what changed on OK."""
        incident = self.picture.incidents.get(incident_id)
        if incident is None:
            return None
        dialog = NewIncidentDialog(self.city.geocoder, center=self.city.center, parent=self, incident=incident)

        def save() -> None:
            changes = dialog.changes()
            if changes:
                self.send("incident.update", changes, f"edit {incident_id}")

        dialog.accepted.connect(save)
        dialog.open()
        return dialog

    def _create(self, args: dict[str, Any]) -> None:
        self.send("incident.create", args, f"new {type_label(args['type'])} at {args['address'] or 'map point'}")

    def recommendations(self, incident_id: str) -> list[Choice]:
        """Recommended units for an incident; the needed ones of agencies already involved are pre-checked."""
        incident = self.picture.incidents.get(incident_id)
        if incident is None:
            return []
        recs = recommend(incident, self.picture.units, self.city.travel)
        itype = INCIDENT_TYPES.get(incident.type)
        needs = dict(itype.needs) if itype else {}
        for unit_id in incident.units:
            unit = self.picture.units.get(unit_id)
            if unit is not None and needs.get(unit.kind, 0) > 0:
                needs[unit.kind] -= 1
        choices = []
        for rec in sorted(recs, key=lambda r: (r.needs_aid, r.eta_s)):
            take = not rec.needs_aid and needs.get(rec.kind, 0) > 0
            if take:
                needs[rec.kind] -= 1
            choices.append(Choice(rec, take))
        return choices

    def open_recommend(self, incident_id: str) -> RecommendDialog | None:
        """The assign dialog for an incident; dispatches the checked units on Enter."""
        incident = self.picture.incidents.get(incident_id)
        if incident is None:
            return None
        dialog = RecommendDialog(f"{incident.id} {type_label(incident.type)}", self.recommendations(incident_id), self)
        dialog.accepted.connect(lambda: [self.send("unit.assign", {"unit": r.unit, "incident": incident_id},
                                                   f"dispatch {r.unit} to {incident_id}") for r in dialog.chosen()])
        dialog.open()
        return dialog

    def close_incident(self, incident_id: str) -> CloseDialog | None:
        """The close dialog; sends incident.close with the disposition."""
        incident = self.picture.incidents.get(incident_id)
        if incident is None:
            return None
        dialog = CloseDialog(f"{incident.id} {type_label(incident.type)}", self)

        def close() -> None:
            if dialog.note.text().strip():
                self.send("incident.note", {"incident": incident_id, "text": dialog.note.text().strip()},
                          f"note on {incident_id}")
            self.send("incident.close", {"incident": incident_id, "disposition": dialog.value()},
                      f"close {incident_id} ({dialog.value()})")

        dialog.accepted.connect(close)
        dialog.open()
        return dialog

    def request_aid(self, incident_id: str) -> AidDialog | None:
        """The mutual-aid dialog; sends aid.request."""
        incident = self.picture.incidents.get(incident_id)
        if incident is None:
            return None
        others = {code: name for code, (name, _colour) in self.status.agencies.items()
                  if code not in incident.agencies}
        dialog = AidDialog(f"{incident.id} {type_label(incident.type)}", others, self)
        dialog.accepted.connect(lambda: self.send(
            "aid.request", {"incident": incident_id, "agency": dialog.agency.currentData(),
                            "note": dialog.note.text().strip()},
            f"ask {dialog.agency.currentData()} for aid on {incident_id}"))
        dialog.open()
        return dialog

    def _on_selected(self, action: Callable[[str], Any]) -> None:
        if self.selected_incident:
            action(self.selected_incident)
        else:
            self.statusBar().showMessage("Select an incident first (F3)", 4000)

    # -- selection and views -------------------------------------------------------------------------

    def show_incident(self, incident_id: str) -> None:
        """Show an incident in the detail panel and highlight it on the map."""
        self.selected_incident = incident_id
        self.map.select("incident", incident_id)
        self._refresh_detail()

    def focus_incident(self, incident_id: str) -> None:
        """Select an incident everywhere and centre the map on it."""
        self.queue.select_key(incident_id)
        self.show_incident(incident_id)
        self._center_incident(incident_id)
        self.banner.dismiss_if("incident", incident_id)

    def _center_incident(self, incident_id: str) -> None:
        incident = self.picture.incidents.get(incident_id)
        if incident is not None:
            self.map.center_on(incident.lat, incident.lon, 16)

    def _map_selected(self, kind: str, item_id: str) -> None:
        if kind == "incident":
            self.queue.select_key(item_id)
            self.show_incident(item_id)
        elif kind == "unit":
            self.units.select_key(item_id)

    def _refresh_detail(self) -> None:
        incident_id = self.selected_incident
        if incident_id is not None and self.status.state == "connected" and self.timelines.wanted(incident_id):
            self.timelines.fetching(incident_id)  # its timeline is the hub's history of it (app/ui/timeline.py)
            self.bridge.query("history.incident", {"incident": incident_id})
        self.detail.show_incident(incident_id, self.picture, self.timelines.of(incident_id) if incident_id else [],
                                  time.time())

    def _history_page(self, result: QueryResult) -> None:
        """A page of an incident's history for its timeline: ask for the next, or show it once complete."""
        if result.what != "history.incident" or result.args is None:
            return
        incident = str(result.args["incident"])
        if not result.ok:
            self.timelines.unavailable(incident)
        else:
            events = msgspec.convert(result.data["events"], list[Event])
            after = result.data["next"]
            if not self.timelines.page(incident, events, last=after is None):
                if after is not None and self.timelines.awaiting(incident):
                    self.bridge.query("history.incident", {"incident": incident, "after": after})
                return
        if incident == self.selected_incident:
            self._refresh_detail()

    def _focus_dock(self, name: str, widget: QWidget) -> None:
        dock = self.docks[name]
        dock.show()
        dock.raise_()
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def toggle_theme(self) -> None:
        """Switch between the dark and the light theme (the map follows)."""
        app = QApplication.instance()
        theme = "light" if current_theme(app) == "dark" else "dark"  # type: ignore[arg-type]
        apply_theme(app, theme)  # type: ignore[arg-type]
        set_theme = getattr(self.map, "set_theme", None)
        if set_theme is not None:
            set_theme(theme)
        self._paint_connection()

    def zoom_text(self, step: int) -> None:
        """Ctrl+= / Ctrl+- one point larger or smaller (step 0: the default size); kept per user."""
        app = QApplication.instance()
        font_pt = current_font_pt(app) + step if step else DEFAULT_FONT_PT  # type: ignore[arg-type]
        apply_theme(app, current_theme(app), font_pt)  # type: ignore[arg-type]
        self.settings.setValue(self._key("font_pt"), current_font_pt(app))  # type: ignore[arg-type]
        self.statusBar().showMessage(f"Text size {current_font_pt(app)} pt", 3000)  # type: ignore[arg-type]
        self._paint_connection()

    def _toggle_mute(self) -> None:
        self.sound.muted = self.mute_action.isChecked()

    def show_help(self) -> QDialog:
        """Keyboard shortcuts and the CAD command language."""
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard and CAD commands")
        # Rich text, so every `<unit>` and `<incident>` placeholder must be escaped or Qt swallows it as a tag.
        box.setText("<pre>" + html.escape(SHORTCUTS + "\nCAD command line\n" + help_text()) + "</pre>")
        box.open()
        return box

    # -- status bar ----------------------------------------------------------------------------------

    def connection_text(self) -> str:
        """What the connection indicator says, e.g. "RECONNECTING — retry in 3 s · 2 commands queued"."""
        status = self.status
        text = status.state.upper()
        if status.state == "reconnecting" and status.retry_at is not None:
            text += f" — retry in {max(0, round(status.retry_at - time.monotonic()))} s"
        elif status.state == "refused":
            text += f" — {status.detail}"
        if status.queued:
            text += f" · {status.queued} command{'s' if status.queued != 1 else ''} queued"
        return text

    def _paint_connection(self) -> None:
        colour = STATE_COLORS.get(self.status.state, "#8b949e")
        if self.status.state == "connected" and self.status.queued:
            colour = "#e3b341"
        self.connection_label.setText(("● " if self.status.state == "connected" else "◌ ") + self.connection_text())
        self.connection_label.setStyleSheet(f"QLabel#connection {{ background: {colour}; color: #0d1117; }}")
        self.connection_label.setToolTip(self.status.detail or self.bridge.url)
        self._paint_outage()

    def outage_text(self) -> str:
        """The outage strip's words: not live, since when, what the link is doing, what waits to be sent."""
        status = self.status
        if status.state == "refused":
            head = f"SIGNED OUT BY THE HUB — {status.detail}"
        else:
            head = "HUB CONNECTION LOST" if self.live_at is not None else "NOT CONNECTED TO THE HUB"
        if self.live_at is None:
            age = "nothing received yet"
        else:
            age = (f"NOT LIVE: the picture is {elapsed(time.time() - self.live_at)} old "
                   f"(last live {time.strftime('%H:%M:%S', time.localtime(self.live_at))})")
        link = self.connection_text().split(" · ")[0].lower()
        text = f"⚠ {head} · {age} · {link}"
        if status.queued:
            text += f" · {status.queued} command{'s' if status.queued != 1 else ''} held for you to confirm " \
                    "when the hub is back"
        return text

    def _paint_outage(self) -> None:
        if self.status.state == "connected":
            self.outage_bar.hide()
            self.map_dimmer.clear()
            return
        text = self.outage_text()
        self.outage.set_text(text)
        self.outage_bar.show()
        since = "no data yet" if self.live_at is None else \
            f"picture as of {time.strftime('%H:%M:%S', time.localtime(self.live_at))}"
        self.map_dimmer.dim(f"NOT LIVE — hub unreachable\n{since}")

    def _watch_timers(self, now: float) -> None:
        """Overdue unit timers: listed under Alerts (red), cued once each as they go overdue."""
        timers, new = self.timer_watch.overdue(self.picture, now)
        self.alerts.set_timers(timers, now)
        if new and self.started_at <= now:
            names = ", ".join(f"{t.unit} {t.kind}" for t in new)
            self.statusBar().showMessage(f"‼ Overdue: {names} — check on the unit, then ACK <unit>", 15000)
            self.docks["alerts"].raise_()
            self.sound.play()

    def _paint_counts(self) -> None:
        open_incidents = [i for i in self.picture.incidents.values() if i.status != IncidentStatus.CLOSED]
        waiting = sum(1 for i in open_incidents if i.status == IncidentStatus.NEW)
        free = sum(1 for u in self.picture.units.values() if u.status == "available")
        self.counts_label.setText(f"{len(open_incidents)} open · {waiting} waiting · "
                                  f"{free}/{len(self.picture.units)} units available · seq {self.picture.seq}")

    def _tick(self) -> None:
        self.queue_model.tick()
        self.unit_model.tick()
        self._watch_timers(time.time())
        self.clock_label.setText(time.strftime("%H:%M:%S"))
        if self.status.state != "connected" or self.status.queued:
            self._paint_connection()
        if self.selected_incident is not None:
            self._refresh_detail()
