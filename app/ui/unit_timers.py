"""The console's side of unit timers: the limits it applies (per agency, from its settings) and which overdue
timers are news (each is cued once, when it goes overdue). The timers themselves are `app.domain.timers`."""

from __future__ import annotations

from dataclasses import fields, replace

from PySide6.QtCore import QSettings

from app.domain.agencies import Role
from app.domain.picture import Picture
from app.domain.timers import DEFAULT_LIMITS, Limits, UnitTimer, limits_for, overdue_timers


def load_limits(settings: QSettings, agencies: list[str]) -> dict[str, Limits]:
    """Each agency's limits: the defaults, changed by settings keys `timers/<agency>/<field>` in seconds (e.g.
    `timers/fire/turnout_s = 60`); a value that is not a positive number is ignored."""
    limits: dict[str, Limits] = {}
    for agency in sorted({*DEFAULT_LIMITS, *agencies}):
        changes: dict[str, float] = {}
        for item in fields(Limits):
            raw = settings.value(f"timers/{agency}/{item.name}")
            try:
                value = float(raw) if raw is not None else None
            except (TypeError, ValueError):
                value = None
            if value is not None and value > 0:
                changes[item.name] = value
        limits[agency] = replace(limits_for(agency), **changes)
    return limits


class TimerWatch:
    """Which overdue timers a console shows (its own agency's units and the units on its incidents; a
    supervisor's: all), and which just went overdue (to cue once)."""

    def __init__(self) -> None:
        self.limits: dict[str, Limits] | None = None
        self.agency = ""
        self.role = ""
        self._cued: set[tuple[str, str, float]] = set()

    def overdue(self, picture: Picture, now: float) -> tuple[list[UnitTimer], list[UnitTimer]]:
        """(every overdue timer this console watches, those that went overdue since the last call)."""
        def watched(timer: UnitTimer) -> bool:
            if self.role == Role.SUPERVISOR or timer.agency == self.agency:
                return True
            unit = picture.units[timer.unit]
            incident = picture.incidents.get(unit.incident) if unit.incident else None
            return incident is not None and incident.owner == self.agency

        timers = [t for t in overdue_timers(picture, now, self.limits) if watched(t)]
        keys = {(t.unit, t.kind, t.started_at) for t in timers}
        new = [t for t in timers if (t.unit, t.kind, t.started_at) not in self._cued]
        self._cued = keys
        return timers, new
