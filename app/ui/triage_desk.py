"""The triage and feeds desk of the console: the Triage, Feeds, Devices and Security docks, their commands,
queries, cues.

Kept apart from `main_window.py` so the window only creates it and hands it each frame. A new report is cued
in the status bar and by a flashing row; one that is not a likely duplicate also sounds the alert tone (a
duplicate of a call the floor already has is not news). A new security finding is cued in the status bar and
sounds the tone; the Security dock is a supervisor's only (nobody else's picture holds findings).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut

from app.domain import events as ev
from app.ui.bridge import ConnectionStatus, Frame, QueryResult
from app.ui.panels.devices import DevicesPanel
from app.ui.panels.feeds import FeedsPanel
from app.ui.panels.security import SecurityPanel
from app.ui.panels.triage import FLASH_S, TriagePanel
from app.ui.timeline import type_label

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class TriageDesk(QObject):
    """Owns the Triage panel (F10), the Feeds panel (Ctrl+F10), the Devices panel and the Security panel (Ctrl+F11)
    of one console window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.triage = TriagePanel()
        self.feeds = FeedsPanel()
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        window._dock("triage", "Triage", self.triage, left)
        window.splitDockWidget(window.docks["queue"], window.docks["triage"], Qt.Orientation.Vertical)
        window._dock("feeds", "Feeds", self.feeds, right)
        window.tabifyDockWidget(window.docks["chat"], window.docks["feeds"])
        self.devices = DevicesPanel()
        window._dock("devices", "Devices", self.devices, right)
        window.tabifyDockWidget(window.docks["feeds"], window.docks["devices"])
        self.security = SecurityPanel()
        window._dock("security", "Security", self.security, right)
        window.tabifyDockWidget(window.docks["devices"], window.docks["security"])
        window.docks["security"].hide()  # shown once the hub says the account is a supervisor's
        window.docks["alerts"].raise_()

        self.triage.accept.connect(self.accept)
        self.triage.merge.connect(self.merge)
        self.triage.dismiss.connect(self.dismiss)
        self.triage.current_changed.connect(self._center)
        self.feeds.refresh_requested.connect(lambda: window.bridge.query("feeds"))
        self.devices.revoke.connect(self.revoke_device)
        self.security.acknowledge.connect(self.acknowledge_security_alert)
        window.bridge.query_finished.connect(self._query_finished, Qt.ConnectionType.QueuedConnection)
        self.ticker = QTimer(self)  # ages tick and new rows flash
        self.ticker.setInterval(500)
        self.ticker.timeout.connect(self.triage.model.tick)
        self.ticker.start()
        for key, slot in (("F10", self.focus_triage), ("Ctrl+F10", self.focus_feeds),
                          ("Ctrl+F11", self.focus_security)):
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)

    # -- views ---------------------------------------------------------------------------------------

    def focus_triage(self) -> None:
        """Show the Triage dock and put the keyboard on its queue."""
        self.window._focus_dock("triage", self.triage.table)

    def focus_feeds(self) -> None:
        """Show the Feeds dock and ask the hub at once."""
        self.window._focus_dock("feeds", self.feeds.table)
        self.window.bridge.query("feeds")

    def focus_security(self) -> None:
        """Show the Security dock (supervisors) with the keyboard on its findings."""
        if self.supervisor:
            self.window._focus_dock("security", self.security.table)

    @property
    def supervisor(self) -> bool:
        """Whether the signed-in account is a supervisor's."""
        return self.window.status.role == "supervisor"

    def set_status(self, status: ConnectionStatus) -> None:
        """Who signed in: the Security dock is offered to supervisors only."""
        dock = self.window.docks["security"]
        dock.toggleViewAction().setVisible(status.role == "supervisor")
        if status.role and status.role != "supervisor":
            dock.hide()
        elif status.role == "supervisor" and not self._security_shown:
            self._security_shown = True
            dock.show()

    _security_shown = False

    def apply_frame(self, frame: Frame) -> None:
        """A new picture: refresh the queue, cue new reports, count the pending ones in the dock title."""
        self.triage.set_picture(frame.picture)
        self.devices.set_picture(frame.picture)
        self.security.set_picture(frame.picture)
        if not frame.reset:
            self._cue(frame)
        pending = len(self.triage.pending())
        self.window.docks["triage"].setWindowTitle(f"Triage · {pending} pending" if pending else "Triage")
        findings = self.security.unacknowledged()
        self.window.docks["security"].setWindowTitle(f"Security · {findings} new" if findings else "Security")

    def _cue(self, frame: Frame) -> None:
        for event in frame.events:
            if event.kind == ev.SECURITY_ALERT and event.ts >= self.window.started_at - 2:
                d = event.data
                self.window.statusBar().showMessage(
                    f"Security alert {d['id']}: {d['rule'].replace('_', ' ')} for {d.get('unit') or d.get('drone')} "
                    f"from {d['device']} (Ctrl+F11)", 10000)
                self.window.sound.play()
                self.window.docks["security"].raise_()  # in front of Feeds and Devices, whose tab it shares
                continue
            if event.kind != ev.CANDIDATE_CREATED or event.ts < self.window.started_at - 2:
                continue
            candidate = frame.picture.candidates.get(str(event.data["id"]))
            if candidate is None:
                continue
            self.triage.model.flash_until[candidate.id] = time.time() + FLASH_S
            proposal = candidate.proposed_merge()
            what = f"{type_label(candidate.type)} at {candidate.address or 'a map point'}"
            if proposal is not None:
                self.window.statusBar().showMessage(
                    f"New report {candidate.id} from {candidate.source}: {what} — likely duplicate of "
                    f"{proposal.incident} (F10)", 10000)
            else:
                self.window.statusBar().showMessage(f"New report {candidate.id} from {candidate.source}: {what} "
                                                    "(F10 to triage)", 10000)
                self.window.sound.play()

    def _center(self, candidate_id: str) -> None:
        candidate = self.window.picture.candidates.get(candidate_id)
        if candidate is not None:
            self.window.map.center_on(candidate.lat, candidate.lon, 16)

    def _query_finished(self, result: QueryResult) -> None:
        if result.what == "feeds":
            self.feeds.set_result(result.ok, result.data, result.message, result.code)
            if result.ok:
                self.devices.set_unknown(list(result.data.get("unknown_devices", [])),
                                         float(result.data.get("at") or time.time()))

    # -- commands ------------------------------------------------------------------------------------

    def accept(self, candidate_id: str) -> None:
        """Open an incident from the report."""
        self.window.send("candidate.accept", {"candidate": candidate_id}, f"accept report {candidate_id}")

    def merge(self, candidate_id: str, incident_id: str) -> None:
        """Merge the report into an incident (a note on it)."""
        self.window.send("candidate.merge", {"candidate": candidate_id, "incident": incident_id},
                         f"merge report {candidate_id} into {incident_id}")

    def revoke_device(self, device_id: str, reason: str) -> None:
        """Cut a field device off (supervisors; the hub refuses anyone else)."""
        self.window.send("device.revoke", {"id": device_id, "reason": reason}, f"revoke device {device_id}")

    def acknowledge_security_alert(self, alert_id: str, note: str) -> None:
        """A supervisor has seen a finding (the hub refuses anyone else)."""
        self.window.send("security.acknowledge", {"alert": alert_id, "note": note},
                         f"acknowledge security alert {alert_id}")

    def dismiss(self, candidate_id: str, reason: str) -> None:
        """Dismiss the report with a reason."""
        self.window.send("candidate.dismiss", {"candidate": candidate_id, "reason": reason},
                         f"dismiss report {candidate_id} ({reason})")
