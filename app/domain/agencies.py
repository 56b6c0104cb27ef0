"""Agencies (fire, police, medical, and more by configuration), unit kinds and roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Agency:
    """An organisation that dispatches its own units: code used on the wire, name and display colour."""

    code: str
    name: str
    color: str


DEFAULT_AGENCIES: dict[str, Agency] = {
    a.code: a
    for a in (
        Agency("fire", "Fire & Rescue", "#e0453a"),
        Agency("police", "Police", "#3b7ddd"),
        Agency("medical", "Emergency Medical Services", "#f2f2f2"),
    )
}


class Role(StrEnum):
    """What a user may do. Agency scoping is applied on top of the role (see `app.domain.authority`)."""

    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    DRONE_OPERATOR = "drone_operator"
    OBSERVER = "observer"
    FEED = "feed"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who issues a command: a signed-in user with a role and an agency."""

    user: str
    role: Role
    agency: str


#: Unit kind -> agency that fields it. Configuration may add kinds for added agencies.
UNIT_KINDS: dict[str, str] = {
    "engine": "fire",
    "ladder": "fire",
    "rescue": "fire",
    "hazmat": "fire",
    "boat": "fire",
    "fire_command": "fire",
    "patrol": "police",
    "k9": "police",
    "police_command": "police",
    "ambulance": "medical",
    "medic": "medical",
    "ems_command": "medical",
    "drone": "police",
}
