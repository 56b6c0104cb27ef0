"""Status timers: how long a unit may stay in a status before the dispatcher must look (turnout: dispatched but
not rolling; en route; on scene without a welfare check), and stale positions. Pure functions of the picture and
the time, computed on each console; a dispatcher's check (`unit.check`, shared as `unit.checked`) restarts a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.entities import Unit, UnitStatus
from app.domain.picture import Picture

#: The statuses that run a timer, and what the timer is called on the board.
TIMED: dict[UnitStatus, str] = {
    UnitStatus.DISPATCHED: "turnout",
    UnitStatus.EN_ROUTE: "en route",
    UnitStatus.ON_SCENE: "welfare check",
}


#: How old a unit's last position fix may get before it is drawn and listed as stale, seconds. Idle AVL units
#: report about once a minute (moving ones every few seconds; the simulator does the same), so twice the idle
#: interval: one missed report is not yet news.
STALE_AFTER_S = 120.0


@dataclass(frozen=True, slots=True)
class Limits:
    """An agency's limits, in seconds. `stale_s`: a position older than this is stale."""

    turnout_s: float = 120.0
    en_route_s: float = 900.0
    on_scene_s: float = 900.0
    stale_s: float = STALE_AFTER_S

    def of(self, status: UnitStatus) -> float | None:
        """The limit for a status, or None if the status runs no timer."""
        return {UnitStatus.DISPATCHED: self.turnout_s, UnitStatus.EN_ROUTE: self.en_route_s,
                UnitStatus.ON_SCENE: self.on_scene_s}.get(status)


#: Defaults per agency (a console may override them: docs/console.md, "Timers"). Fire turns out fastest; a
#: police unit's on-scene welfare check comes sooner (a lone officer); medical crews check in after 15 minutes.
DEFAULT_LIMITS: dict[str, Limits] = {
    "fire": Limits(turnout_s=90.0, en_route_s=600.0, on_scene_s=900.0),
    "police": Limits(turnout_s=120.0, en_route_s=900.0, on_scene_s=600.0),
    "medical": Limits(turnout_s=90.0, en_route_s=720.0, on_scene_s=900.0),
}


@dataclass(frozen=True, slots=True)
class UnitTimer:
    """A unit's running timer: what it measures, since when, and its limit."""

    unit: str
    agency: str
    kind: str  # "turnout", "en route", "welfare check"
    started_at: float  # the status change, or the dispatcher's last check since then
    limit_s: float
    acknowledged: bool  # a dispatcher checked on the unit after the clock started

    def remaining(self, now: float) -> float:
        """Seconds left (negative: overdue by that much)."""
        return self.started_at + self.limit_s - now

    def overdue(self, now: float) -> bool:
        """Whether the limit has passed."""
        return self.remaining(now) < 0


def limits_for(agency: str, limits: Mapping[str, Limits] | None = None) -> Limits:
    """The limits that apply to `agency` (given ones first, then the defaults)."""
    if limits is not None and agency in limits:
        return limits[agency]
    return DEFAULT_LIMITS.get(agency, Limits())


def unit_timer(unit: Unit, limits: Mapping[str, Limits] | None = None) -> UnitTimer | None:
    """The unit's running timer, or None when its status runs none."""
    kind = TIMED.get(unit.status)
    limit = limits_for(unit.agency, limits).of(unit.status)
    if kind is None or limit is None:
        return None
    checked = unit.checked_at is not None and unit.checked_at >= unit.status_at
    started = unit.checked_at if checked and unit.checked_at is not None else unit.status_at
    return UnitTimer(unit.id, unit.agency, kind, started, limit, checked)


def overdue_timers(picture: Picture, now: float, limits: Mapping[str, Limits] | None = None,
                   agency: str | None = None) -> list[UnitTimer]:
    """Every overdue timer (of `agency`'s units, if given), most overdue first."""
    timers = [t for u in picture.units.values() if agency is None or u.agency == agency
              if (t := unit_timer(u, limits)) is not None and t.overdue(now)]
    return sorted(timers, key=lambda t: t.remaining(now))


def is_stale(unit: Unit, now: float, limits: Mapping[str, Limits] | None = None) -> bool:
    """Whether the unit's last position is older than its agency's limit: where it is drawn is no longer where
    it is (a unit that never reported one is not on the map, and not marked)."""
    return unit.position_at is not None and now - unit.position_at > limits_for(unit.agency, limits).stale_s
