"""The supervisor's switch for signal priority: suspend it for an area (a zone drawn on the map), resume it.

`SignalTools(window)` adds a "Signals" menu to a `MainWindow`; its actions are enabled for supervisors only
(the hub refuses anyone else: docs/security.md, "Signal priority"). The area is a zone's outline, so what is
switched off is what everyone sees drawn on the map.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from app.domain.picture import Picture


class SignalTools(QObject):
    """Suspend and resume signal priority from one console window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        menu = window.menuBar()
        signals = menu.addMenu("&Signals")
        menu.insertMenu(menu.actions()[-2], signals)  # before Help
        self.suspend_action = window._action(signals, "&Suspend signal priority in a zone…", self.ask_suspend, [])
        self.resume_action = window._action(signals, "&Resume signal priority…", self.ask_resume, [])
        for action in (self.suspend_action, self.resume_action):
            action.setEnabled(False)
            action.setToolTip("Supervisors only")
        window.bridge.status_changed.connect(self._status)

    @property
    def picture(self) -> Picture:
        return self.window.picture  # type: ignore[no-any-return]

    def _status(self, status: Any) -> None:
        for action in (self.suspend_action, self.resume_action):
            action.setEnabled(status.role == "supervisor")

    def suspend_in_zone(self, zone_id: str, note: str) -> int | None:
        """Ask the hub to suspend signal priority inside zone `zone_id`; the command's token, None without it."""
        zone = self.picture.zones.get(zone_id)
        if zone is None:
            return None
        return int(self.window.send("signal.suspend", {"polygon": [list(p) for p in zone.polygon], "note": note},
                                    f"signal priority suspended in “{zone.name}”"))

    def resume(self, suspension: str) -> int:
        """Ask the hub to resume signal priority in a suspended area."""
        return int(self.window.send("signal.resume", {"suspension": suspension},
                                    f"signal priority resumed ({suspension})"))

    def ask_suspend(self) -> None:
        """Pick a zone and say why."""
        zones = sorted(self.picture.zones.values(), key=lambda z: z.name)
        if not zones:
            self.window.statusBar().showMessage("Draw a zone first: signal priority is suspended inside one", 8000)
            return
        names = [f"{z.name} ({z.id})" for z in zones]
        choice, ok = QInputDialog.getItem(self.window, "Suspend signal priority", "No green lights asked in:",
                                          names, 0, False)
        if not ok:
            return
        note, ok = QInputDialog.getText(self.window, "Suspend signal priority", "Why (shown to everyone):")
        if ok:
            self.suspend_in_zone(zones[names.index(choice)].id, note.strip())

    def ask_resume(self) -> None:
        """Pick a suspended area to give signal priority back to."""
        areas = sorted(self.picture.signal_suspensions.values(), key=lambda s: s.id)
        if not areas:
            self.window.statusBar().showMessage("Signal priority is not suspended anywhere", 6000)
            return
        names = [f"{s.id}: {s.note or 'no reason given'} (by {s.by})" for s in areas]
        choice, ok = QInputDialog.getItem(self.window, "Resume signal priority", "Area:", names, 0, False)
        if ok:
            self.resume(areas[names.index(choice)].id)
