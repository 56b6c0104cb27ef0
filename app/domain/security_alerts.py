"""Security alerts: the findings of intrusion detection (`app.domain.plausibility`), as the log records them.

A finding is a `security.alert` event naming the device (who sent the fix), the unit or drone, the rule and
its evidence; supervisors alone receive it (its audience `SECURITY_AUDIENCE` names no agency, and supervisors
see every audience) and acknowledge it (`security.acknowledge`). One track raises one alert per rule per
`ALERT_EVERY_S`, so a device that keeps sending spoofed fixes fills neither the log nor the panel; every such
fix is still marked suspect on the unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.domain import events as ev
from app.domain.events import Draft, Event
from app.domain.plausibility import Finding

if TYPE_CHECKING:
    from app.domain.picture import Picture

#: The audience of security events: no agency is called this, so only supervisors (who see every audience)
#: and all-agency system accounts receive them.
SECURITY_AUDIENCE = ["security"]
#: The same rule on the same track is raised again only after this long (hub seconds).
ALERT_EVERY_S = 60.0
#: How many alerts a picture keeps (newest); older ones stay in the log.
ALERTS_KEPT = 1000


@dataclass(slots=True)
class SecurityAlert:
    """One finding: which device sent what, for which unit or drone, and why it is doubted."""

    id: str  # "SA-n"
    rule: str
    device: str  # the actor that sent the fix: `device:<id>`, a feed account or a person
    unit: str | None
    drone: str | None
    evidence: dict[str, Any]
    at: float  # the fix's time
    raised_at: float
    acknowledged_by: str = ""
    acknowledged_at: float | None = None
    note: str = ""


@dataclass(slots=True)
class SecurityLog:
    """The alerts a supervisor's picture holds, and when each track last raised each rule."""

    alerts: dict[str, SecurityAlert] = field(default_factory=dict)
    last_raised: dict[str, float] = field(default_factory=dict)  # "unit:E1 teleport" -> hub time (`_repeat_key`)


def _repeat_key(rule: str, device: str, unit: str | None, drone: str | None) -> str:
    """What one alert per `ALERT_EVERY_S` is counted by: the track, or for made-up units the device."""
    if rule == "sybil":
        return f"{device} {rule}"
    return f"unit:{unit} {rule}" if unit is not None else f"drone:{drone} {rule}"


def alert_drafts(picture: Picture, finding: Finding, *, device: str, at: float, now: float,
                 unit: str | None = None, drone: str | None = None) -> list[Draft]:
    """The `security.alert` to log for a finding, or nothing if the track raised this rule lately."""
    last = picture.security.last_raised.get(_repeat_key(finding.rule, device, unit, drone))
    if last is not None and now - last < ALERT_EVERY_S:
        return []
    data = {"id": picture.next_id("SA"), "rule": finding.rule, "device": device, "unit": unit, "drone": drone,
            "evidence": finding.evidence, "at": at}
    return [Draft(ev.SECURITY_ALERT, data, SECURITY_AUDIENCE)]


def _raised(p: Picture, e: Event) -> None:
    d = e.data
    p._count(d["id"])
    log = p.security
    log.alerts[d["id"]] = SecurityAlert(id=d["id"], rule=d["rule"], device=d["device"], unit=d.get("unit"),
                                        drone=d.get("drone"), evidence=dict(d.get("evidence", {})), at=d["at"],
                                        raised_at=e.ts)
    log.last_raised[_repeat_key(d["rule"], d["device"], d.get("unit"), d.get("drone"))] = e.ts
    if len(log.alerts) > ALERTS_KEPT:
        del log.alerts[next(iter(log.alerts))]
    if len(log.last_raised) > 4 * ALERTS_KEPT:
        # Entries older than the repeat interval decide nothing any more.
        log.last_raised = {k: t for k, t in log.last_raised.items() if e.ts - t < ALERT_EVERY_S}


def _acknowledged(p: Picture, e: Event) -> None:
    alert = p.security.alerts.get(e.data["id"])
    if alert is not None:
        alert.acknowledged_by, alert.acknowledged_at = e.actor, e.ts
        alert.note = e.data.get("note", "")


SECURITY_HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.SECURITY_ALERT: _raised,
    ev.SECURITY_ACKNOWLEDGED: _acknowledged,
}
