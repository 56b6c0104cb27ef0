"""Who may do what: commands allowed per role. Agency scoping is checked in `decide`, next to the picture."""

from __future__ import annotations

from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal

D, S, DRONE, F = Role.DISPATCHER, Role.SUPERVISOR, Role.DRONE_OPERATOR, Role.FEED

#: Command name -> roles that may issue it. Observers issue nothing; they watch.
ALLOWED: dict[str, frozenset[Role]] = {
    "incident.create": frozenset({D, S}),
    "incident.update": frozenset({D, S}),
    "incident.status": frozenset({D, S}),
    "incident.close": frozenset({D, S}),
    "incident.reopen": frozenset({S}),
    "incident.note": frozenset({D, S, DRONE}),
    "unit.register": frozenset({S, F}),
    "unit.assign": frozenset({D, S}),
    "unit.status": frozenset({D, S, F}),
    "unit.position": frozenset({D, S, F, DRONE}),
    "aid.request": frozenset({D, S}),
    "aid.answer": frozenset({D, S}),
    "message.send": frozenset({D, S, DRONE, F}),  # feeds relay chat from the field (TAK GeoChat)
    "zone.create": frozenset({D, S}),
    "zone.remove": frozenset({D, S}),
    "alert.issue": frozenset({S, F}),
    "alert.cancel": frozenset({S, F}),
    "alert.cap": frozenset({S, F}),
}

#: An agency value that stands for every agency: system feeds (the simulator, a CAD-to-CAD link).
ALL_AGENCIES = "*"


def check_role(actor: Actor, command: str) -> None:
    """Refuse a command the actor's role does not allow."""
    if actor.role not in ALLOWED.get(command, frozenset()):
        raise Refusal("forbidden", f"a {actor.role} may not {command}")


def acts_for(actor: Actor, agency: str) -> bool:
    """Whether the actor may act for `agency` (supervisors and all-agency feeds act for every agency)."""
    return actor.role == Role.SUPERVISOR or actor.agency in (agency, ALL_AGENCIES)
