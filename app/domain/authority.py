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
    "incident.reopen": frozenset({D, S}),
    "incident.clear": frozenset({D, S}),
    "incident.hold": frozenset({D, S}),
    "incident.note": frozenset({D, S, DRONE}),
    "unit.register": frozenset({S, F}),
    "unit.assign": frozenset({D, S}),
    "unit.status": frozenset({D, S, F}),
    "unit.position": frozenset({D, S, F, DRONE}),
    "unit.retire": frozenset({S}),
    "unit.divert": frozenset({D, S}),
    "unit.stack": frozenset({D, S}),
    "unit.check": frozenset({D, S}),
    "aid.request": frozenset({D, S}),
    "aid.answer": frozenset({D, S}),
    "aid.cancel": frozenset({D, S}),
    "message.send": frozenset({D, S, DRONE, F}),  # feeds relay chat from the field (TAK GeoChat)
    "zone.create": frozenset({D, S}),
    "zone.remove": frozenset({D, S}),
    "alert.issue": frozenset({S, F}),
    "alert.cancel": frozenset({S, F}),
    "drone.register": frozenset({S, F, DRONE}),
    "drone.retire": frozenset({S}),
    "drone.telemetry": frozenset({F, DRONE}),
    "drone.link": frozenset({F, DRONE}),
    "drone.video": frozenset({DRONE, S, F}),
    "drone.assign": frozenset({D, S, DRONE}),
    "drone.look": frozenset({D, S}),
    "drone.look_ack": frozenset({DRONE, S}),
    "incident.attach": frozenset({D, S, DRONE}),
    "camera.register": frozenset({S, F}),
    "camera.report": frozenset({S, F}),
    "camera.retire": frozenset({S, F}),
    "report.submit": frozenset({S, F}),  # sensors, cameras and the public app report through feed accounts
    "candidate.accept": frozenset({D, S}),
    "candidate.merge": frozenset({D, S}),
    "candidate.dismiss": frozenset({D, S}),
    "alert.cap": frozenset({S, F}),
    # Field devices are registered and revoked by supervisors only: a device writes to the map.
    "device.register": frozenset({S}),
    "device.revoke": frozenset({S}),
    # Signal priority is the hub's own; only a supervisor turns it off (and on) for an area.
    "signal.suspend": frozenset({S}),
    "signal.resume": frozenset({S}),
    # Intrusion-detection findings go to supervisors only, and they acknowledge them.
    "security.acknowledge": frozenset({S}),
    # The feed gateway's own finding about a device it speaks for (the rule refuses every other actor).
    "security.sybil": frozenset({F}),
    # Not a hub command: the console's Review menu (replay, timelines, figures, exports of the log file).
    "review.open": frozenset({S}),
}

#: Who reviews the log through the hub: the roles the console's Review menu is for (`review.open`).
_REVIEWERS = ALLOWED["review.open"]

#: Hub queries -> roles that may ask. Feed health shows raw quarantined input, which may carry any agency's
#: data: only the people who run the floor read it. An incident's history is every console's incident
#: timeline (whoever sees the incident sees its history); the rest of the history (any moment's picture,
#: windows of events, tracks, response times) is review. What each answer holds is filtered in the hub by the
#: one visibility rule (`history_viewer` in `app.domain.visibility`).
QUERIES: dict[str, frozenset[Role]] = {
    "feeds": frozenset({D, S}),
    "history.incident": frozenset({D, S, DRONE, Role.OBSERVER}),
    "history.span": _REVIEWERS,
    "history.events": _REVIEWERS,
    "history.picture": _REVIEWERS,
    "history.tracks": _REVIEWERS,
    "history.response_times": _REVIEWERS,
    # The incident search over the whole history: each user sees only the incidents it may see.
    "search": frozenset({D, S}),
}

#: An agency value that stands for every agency: system feeds (the simulator, a CAD-to-CAD link).
ALL_AGENCIES = "*"


def check_role(actor: Actor, command: str) -> None:
    """Refuse a command the actor's role does not allow."""
    if actor.role not in ALLOWED.get(command, frozenset()):
        raise Refusal("forbidden", f"a {actor.role} may not {command}")


def check_query(actor: Actor, what: str) -> None:
    """Refuse a query the actor's role does not allow."""
    if actor.role not in QUERIES.get(what, frozenset()):
        raise Refusal("forbidden", f"a {actor.role} may not query {what}")


def acts_for(actor: Actor, agency: str) -> bool:
    """Whether the actor may act for `agency` (supervisors and all-agency feeds act for every agency)."""
    return actor.role == Role.SUPERVISOR or actor.agency in (agency, ALL_AGENCIES)


def check_acts_for(actor: Actor, what: str, agency: str) -> None:
    """Refuse (`forbidden`) unless the actor may act for `agency`, the owner of `what` (e.g. "unit E12")."""
    if not acts_for(actor, agency):
        raise Refusal("forbidden", f"{what} belongs to {agency}, not {actor.agency}")
