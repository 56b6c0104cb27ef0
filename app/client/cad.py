"""The CAD command line: terse dispatcher commands ("D E12 1042") turned into hub commands.

Pure and Qt-free, so any client (the console, a terminal, a test) parses the same language. `parse` either
returns the hub commands a line stands for, or raises `CadError` with a message fit to show the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.entities import Incident, UnitStatus
from app.domain.incident_search import summary
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.location import precision_label

#: Status verbs in the CAD tradition -> the unit status they set.
STATUS_VERBS: dict[str, UnitStatus] = {
    "ER": UnitStatus.EN_ROUTE,
    "OS": UnitStatus.ON_SCENE,
    "TR": UnitStatus.TRANSPORTING,
    "AH": UnitStatus.AT_HOSPITAL,
    "AV": UnitStatus.AVAILABLE,
    "OOS": UnitStatus.OUT_OF_SERVICE,
}

#: Verb -> (usage, what it does): the help text and the completer's list.
VERBS: dict[str, tuple[str, str]] = {
    "D": ("D <unit> [<unit> ...] <incident>", "dispatch units to an incident"),
    "ER": ("ER <unit> [<unit> ...]", "units en route"),
    "OS": ("OS <unit> [<unit> ...]", "units on scene"),
    "TR": ("TR <unit> [<unit> ...]", "units transporting a patient"),
    "AH": ("AH <unit> [<unit> ...]", "units at hospital"),
    "AV": ("AV <unit> [<unit> ...]", "units available (cleared from their incident; a stacked assignment "
                                     "then goes out)"),
    "OOS": ("OOS <unit> [<unit> ...]", "units out of service"),
    "DIV": ("DIV <unit> <incident> <reason>", "divert a committed unit to a more urgent incident"),
    "STK": ("STK <unit> [<incident>]", "stack a unit's next assignment (no incident: withdraw it)"),
    "ACK": ("ACK <unit> [<unit> ...]", "checked on units: acknowledge their overdue timers"),
    "CL": ("CL <incident> <disposition>", "close an incident (e.g. resolved, false_alarm, transported)"),
    "CLA": ("CLA <incident> <disposition>", "release every unit on an incident and close it"),
    "UC": ("UC <incident>", "incident under control"),
    "RO": ("RO <incident> [reason]", "reopen a closed incident"),
    "HOLD": ("HOLD <incident> [reason]", "hold a pending call (not yet dispatched)"),
    "UNHOLD": ("UNHOLD <incident>", "release a held call"),
    "Q": ("Q", "list the pending calls (not yet dispatched, held ones last)"),
    "S": ("S <words> [type: unit: since: until:]", "search every incident, closed ones too: number, address words, "
                                                  "type:<code>, unit:<unit>, since:2h / until:30m"),
    "N": ("N <incident> <text>", "add a note to an incident's narrative"),
    "P": ("P <incident> <1-5>", "change an incident's priority (1 is most urgent)"),
    "I": ("I <incident>", "show an incident: type, priority, address and how precisely it is located"),
    "ADDR": ("ADDR <incident> <address>", "move an incident to an address the geocoder finds"),
    "T": ("T <incident> <type>", "change an incident's type (e.g. structure_fire)"),
    "CALLER": ("CALLER <incident> <text>", "change an incident's caller"),
    "AID": ("AID <incident> <agency> [note]", "request mutual aid from another agency"),
    "ACC": ("ACC <request> [note]", "accept a mutual-aid request (e.g. ACC AR-3)"),
    "DEC": ("DEC <request> [note]", "decline a mutual-aid request"),
    "CAN": ("CAN <request> [reason]", "withdraw a mutual-aid request your agency made"),
    "MSG": ("MSG <all|agency|incident> <text>", "chat: to everyone, one agency, or an incident's channel"),
    "HELP": ("HELP", "list the commands"),
}


class CadError(ValueError):
    """A line that is not a valid CAD command; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class CadCommand:
    """What one line asks for: the hub commands (name, args) to send, in order, and a one-line summary."""

    verb: str
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    summary: str = ""
    show: str = ""  # an incident to describe on the command line (I)
    #: one label per command (a unit's own outcome on a many-unit line); empty: `summary` for each
    labels: list[str] = field(default_factory=list)
    search: str = ""  # the search to run on the console's picture (S, Q)
    #: the address must be geocoded before sending (ADDR): the client adds lat, lon and location_precision,
    #: and sends nothing when the geocoder does not find it
    locate: bool = False


def _usage(verb: str) -> CadError:
    usage, _ = VERBS[verb]
    return CadError(f"usage: {usage}")


def _incident(token: str, verb: str) -> str:
    if not token.isdigit():
        raise CadError(f"{token!r} is not an incident number; usage: {VERBS[verb][0]}")
    return token


def _channel(token: str, agencies: frozenset[str] | None) -> str:
    lowered = token.lower()
    if lowered == "all" or lowered.startswith(("agency:", "incident:")):
        return lowered
    if token.isdigit():
        return f"incident:{token}"
    if agencies is None or lowered in agencies:
        return f"agency:{lowered}"
    raise CadError(f"{token!r} is not a channel: use all, an agency ({', '.join(sorted(agencies))}) "
                   "or an incident number")


def _request(token: str) -> str:
    request = token.upper()
    return f"AR-{request}" if request.isdigit() else request


def _units(tokens: list[str], verb: str) -> list[str]:
    units = list(dict.fromkeys(t.upper() for t in tokens))  # a unit typed twice is sent once
    if not units:
        raise _usage(verb)
    return units


def parse(line: str, agencies: frozenset[str] | None = None) -> CadCommand:
    """Parse one command line. `agencies` (codes), when given, are checked for AID and MSG."""
    tokens = line.split()
    if not tokens:
        raise CadError("type a command, e.g. D E12 1042 (HELP lists them)")
    verb, rest = tokens[0].upper(), tokens[1:]
    if verb not in VERBS:
        raise CadError(f"unknown command {tokens[0]!r}; HELP lists the commands")
    # The free text after the fixed arguments keeps its spacing and case.
    def text_after(n: int) -> str:
        parts = line.strip().split(None, n)
        return parts[n] if len(parts) > n else ""

    if verb == "HELP":
        return CadCommand(verb, [], "help")
    if verb == "D":
        if len(rest) < 2:
            raise _usage(verb)
        incident = _incident(rest[-1], verb)
        units = _units(rest[:-1], verb)
        return CadCommand(verb, [("unit.assign", {"unit": u, "incident": incident}) for u in units],
                          f"dispatch {', '.join(units)} to {incident}", labels=[f"{u} to {incident}" for u in units])
    if verb in STATUS_VERBS:
        units, status = _units(rest, verb), STATUS_VERBS[verb]
        said = status.value.replace("_", " ")
        return CadCommand(verb, [("unit.status", {"unit": u, "status": status.value}) for u in units],
                          f"{', '.join(units)} {said}", labels=[f"{u} {said}" for u in units])
    if verb == "ACK":
        units = _units(rest, verb)
        return CadCommand(verb, [("unit.check", {"unit": u, "note": ""}) for u in units],
                          f"checked {', '.join(units)}", labels=[f"{u} checked" for u in units])
    if verb == "DIV":
        if len(rest) < 3:
            raise _usage(verb)
        unit, incident = rest[0].upper(), _incident(rest[1], verb)
        return CadCommand(verb, [("unit.divert", {"unit": unit, "incident": incident, "reason": text_after(3)})],
                          f"divert {unit} to {incident}")
    if verb == "STK":
        if len(rest) not in (1, 2):
            raise _usage(verb)
        unit = rest[0].upper()
        if len(rest) == 1:
            return CadCommand(verb, [("unit.stack", {"unit": unit, "incident": None})],
                              f"withdraw {unit}'s next assignment")
        incident = _incident(rest[1], verb)
        return CadCommand(verb, [("unit.stack", {"unit": unit, "incident": incident})],
                          f"{unit} next to {incident}")
    if verb == "CLA":
        if len(rest) < 2:
            raise _usage(verb)
        incident = _incident(rest[0], verb)
        disposition = text_after(2)
        return CadCommand(verb, [("incident.clear", {"incident": incident, "disposition": disposition})],
                          f"clear all units and close {incident}: {disposition}")
    if verb in ("UC", "UNHOLD", "RO", "HOLD"):
        if not rest or (verb in ("UC", "UNHOLD") and len(rest) != 1):
            raise _usage(verb)
        incident = _incident(rest[0], verb)
        lines: dict[str, tuple[str, dict[str, Any], str]] = {
            "UC": ("incident.status", {"incident": incident, "status": "under_control"}, f"{incident} under control"),
            "RO": ("incident.reopen", {"incident": incident, "reason": text_after(2)}, f"reopen {incident}"),
            "HOLD": ("incident.hold", {"incident": incident, "held": True, "reason": text_after(2)},
                     f"hold {incident}"),
            "UNHOLD": ("incident.hold", {"incident": incident, "held": False, "reason": ""},
                       f"release the hold on {incident}"),
        }
        name, args, said = lines[verb]
        return CadCommand(verb, [(name, args)], said)
    if verb == "CAN":
        if not rest:
            raise _usage(verb)
        request = _request(rest[0])
        return CadCommand(verb, [("aid.cancel", {"request": request, "reason": text_after(2)})],
                          f"withdraw {request}")
    if verb == "Q":
        if rest:
            raise _usage(verb)
        return CadCommand(verb, [], "pending calls", search="pending")
    if verb == "S":
        if not rest:
            raise _usage(verb)
        return CadCommand(verb, [], f"search {text_after(1)}", search=text_after(1))
    if verb == "CL":
        if len(rest) < 2:
            raise _usage(verb)
        incident = _incident(rest[0], verb)
        disposition = text_after(2)
        return CadCommand(verb, [("incident.close", {"incident": incident, "disposition": disposition})],
                          f"close {incident}: {disposition}")
    if verb == "N":
        if len(rest) < 2:
            raise _usage(verb)
        incident = _incident(rest[0], verb)
        return CadCommand(verb, [("incident.note", {"incident": incident, "text": text_after(2)})],
                          f"note on {incident}")
    if verb == "P":
        if len(rest) != 2 or rest[1] not in {"1", "2", "3", "4", "5"}:
            raise _usage(verb)
        incident = _incident(rest[0], verb)
        return CadCommand(verb, [("incident.update", {"incident": incident, "priority": int(rest[1])})],
                          f"{incident} priority {rest[1]}")
    if verb == "I":
        if len(rest) != 1:
            raise _usage(verb)
        incident = _incident(rest[0], verb)
        return CadCommand(verb, [], f"incident {incident}", show=incident)
    if verb in ("ADDR", "T", "CALLER"):
        if len(rest) < 2:
            raise _usage(verb)
        incident, value = _incident(rest[0], verb), text_after(2)
        key = {"ADDR": "address", "T": "type", "CALLER": "caller"}[verb]
        return CadCommand(verb, [("incident.update", {"incident": incident, key: value})],
                          f"{incident} {key}: {value}", locate=verb == "ADDR")
    if verb == "AID":
        if len(rest) < 2:
            raise _usage(verb)
        incident, agency = _incident(rest[0], verb), rest[1].lower()
        if agencies is not None and agency not in agencies:
            raise CadError(f"there is no agency {rest[1]!r}; known: {', '.join(sorted(agencies))}")
        return CadCommand(verb, [("aid.request", {"incident": incident, "agency": agency, "note": text_after(3)})],
                          f"ask {agency} for aid on {incident}")
    if verb in ("ACC", "DEC"):
        if not rest:
            raise _usage(verb)
        request = _request(rest[0])
        accept = verb == "ACC"
        return CadCommand(verb, [("aid.answer", {"request": request, "accept": accept, "note": text_after(2)})],
                          f"{'accept' if accept else 'decline'} {request}")
    # MSG
    if len(rest) < 2:
        raise _usage(verb)
    channel = _channel(rest[0], agencies)
    return CadCommand(verb, [("message.send", {"channel": channel, "text": text_after(2)})], f"message to {channel}")


def incident_line(incident: Incident) -> str:
    """The one-line answer to `I <incident>`: "1003 P1 Structure fire · Aeulestrasse 20 [address point] · NEW"."""
    return summary_line(summary(incident))


def summary_line(found: Mapping[str, Any]) -> str:
    """An incident's line from its search summary (`app.domain.incident_search.summary`, as the hub answers a
    search): number, priority, type, where, status, and HELD with its reason."""
    itype = INCIDENT_TYPES.get(found["type"])
    where = found["address"] or f"{found['lat']:.5f}, {found['lon']:.5f}"
    precision = f" [{precision_label(found['location_precision'])}]" if found["location_precision"] else ""
    held = f" · HELD {found.get('hold_reason', '')}".rstrip() if found.get("held") else ""
    return (f"{found['id']} P{found['priority']} {itype.label if itype else found['type']} · {where}{precision} · "
            f"{str(found['status']).replace('_', ' ').upper()}{held}")


def help_text() -> str:
    """One line per command, for the console's HELP."""
    return "\n".join(f"{usage:<36} {what}" for usage, what in VERBS.values())
