"""Which status changes make sense, for units and incidents. Anything not listed is refused with a reason."""

from __future__ import annotations

from app.domain.entities import IncidentStatus, UnitStatus

U = UnitStatus
#: Unit status changes a dispatcher or a unit's terminal may make. `dispatched` comes only from an
#: assignment, so a unit is never "dispatched" to nothing.
UNIT_TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    U.AVAILABLE: frozenset({U.OUT_OF_SERVICE}),
    U.DISPATCHED: frozenset({U.EN_ROUTE, U.ON_SCENE, U.AVAILABLE}),
    U.EN_ROUTE: frozenset({U.ON_SCENE, U.AVAILABLE}),
    U.ON_SCENE: frozenset({U.TRANSPORTING, U.AVAILABLE}),
    U.TRANSPORTING: frozenset({U.AT_HOSPITAL, U.AVAILABLE}),
    U.AT_HOSPITAL: frozenset({U.AVAILABLE}),
    U.OUT_OF_SERVICE: frozenset({U.AVAILABLE}),
}

N = IncidentStatus
#: Incident status changes made by hand. The others follow from units (first unit assigned -> dispatched,
#: first en route -> en_route, first on scene -> on_scene) or from close/reopen.
INCIDENT_MANUAL: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    N.NEW: frozenset(),
    N.DISPATCHED: frozenset(),
    N.EN_ROUTE: frozenset({N.ON_SCENE}),
    N.ON_SCENE: frozenset({N.UNDER_CONTROL}),
    N.UNDER_CONTROL: frozenset({N.ON_SCENE}),
    N.CLOSED: frozenset(),
}

#: The order incident statuses advance in as units progress; an incident never moves backwards on its own.
INCIDENT_PROGRESS = [N.NEW, N.DISPATCHED, N.EN_ROUTE, N.ON_SCENE, N.UNDER_CONTROL]

#: How a unit's status drives its incident's status forward.
UNIT_DRIVES_INCIDENT: dict[UnitStatus, IncidentStatus] = {
    U.DISPATCHED: N.DISPATCHED,
    U.EN_ROUTE: N.EN_ROUTE,
    U.ON_SCENE: N.ON_SCENE,
}

DISPOSITIONS = (
    "resolved", "transported", "no_action_required", "false_alarm", "cancelled", "referred", "duplicate",
    "unfounded", "arrest_made",
)
