"""CAP 1.2 messages <-> Watchfloor alerts. Sans-I/O: a parsed `CapAlert` in, commands out; an `Alert` in, a
`CapAlert` (for `encode_alert`) out.

Incoming (`plan`):

* An alert's id in the picture is the CAP ``identifier`` of the message that first announced it. An **Update**
  lands on that id: the referenced message it names (one already known, else the earliest by ``sent``), so a
  chain Alert -> Update -> Update stays one alert even when a later Update lists only its predecessor
  (`aliases` remembers which identifier stands for which alert). A **Cancel** cancels every referenced alert
  that is still in force.
* Each message gets a command key ``cap:<sender> <identifier> <sent>#<n>``: the hub applies a key once, so the
  same message fetched again (a poll, a file dropped twice, a resend) is a duplicate, not a new alert.
* Status other than ``Actual`` (Exercise, System, Test, Draft), ``Ack``/``Error`` messages, alerts whose every
  info has expired, and cancels of nothing in force are `Ignored` with a code and a reason.
* The first info in English (else the first) gives headline, event, severity, urgency, certainty, category,
  texts and expiry; areas come from that info (else from the first info that has any). Each CAP polygon and
  circle becomes one area (circle radius km -> m; radius 0 is a point), with the CAP ``areaDesc``. An area with
  geocodes / areaDesc only is still a valid alert for a dispatcher: it becomes a named area (its areaDesc), listed
  and not drawn; an alert with no ``<area>`` at all concerns the sender's whole area ("<sender>: whole area").

Outgoing (`cap_for_alert`): any alert as a CAP 1.2 message that validates against the OASIS schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.commands import AlertAreaArgs, CancelAlert, IssueAlert
from app.domain.entities import ALERT_VALUES, Alert
from app.feeds.cap import CapAlert, CapArea, CapInfo, CapReference
from app.feeds.errors import FeedError

#: Longest text an alert field takes (the rules refuse longer); CAP texts are cut to it, marked with "…".
MAX_SHORT = 200
MAX_LONG = 4000
#: What a named area is called when its areaDesc is empty (CAP requires the element, not a text in it).
UNNAMED_AREA = "area named by geocode only"
#: Characters CAP 1.2 forbids in an identifier or sender (space, comma, "<", "&").
_CAP_FORBIDDEN = str.maketrans({" ": "_", ",": "_", "<": "_", "&": "_"})


@dataclass(frozen=True, slots=True)
class CapCommand:
    """One command a CAP message stands for, with the key that makes it apply once."""

    name: str
    args: Any
    key: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message that is valid but changes nothing here: ``code`` for counters, ``reason`` for people."""

    code: str
    reason: str


@dataclass(slots=True)
class Plan:
    """What to do with one message: commands, or why nothing."""

    commands: list[CapCommand] = field(default_factory=list)
    ignored: Ignored | None = None


def message_key(alert: CapAlert) -> str:
    """The message's identity (CAP: sender, identifier and sent together), as a command-key prefix."""
    return f"cap:{alert.sender} {alert.identifier} {alert.sent.isoformat()}"


def _cut(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _info(alert: CapAlert) -> CapInfo | None:
    return next((i for i in alert.infos if i.language.lower().startswith("en")), None) or (
        alert.infos[0] if alert.infos else None)


def _areas(alert: CapAlert, info: CapInfo) -> list[AlertAreaArgs]:
    source = info.areas if info.areas else next((i.areas for i in alert.infos if i.areas), ())
    areas: list[AlertAreaArgs] = []
    for area in source:
        desc = _cut(area.desc, MAX_SHORT)
        areas += [AlertAreaArgs(polygon=list(polygon), desc=desc) for polygon in area.polygons]
        areas += [AlertAreaArgs(circle=[lat, lon, radius_km * 1000.0], desc=desc)
                  for lat, lon, radius_km in area.circles]
        if not area.polygons and not area.circles:  # geocodes / areaDesc only: a named area, listed, not drawn
            areas.append(AlertAreaArgs(desc=desc or UNNAMED_AREA))
    if not areas:  # an info without any <area>: the alert concerns the sender's whole area of responsibility
        areas.append(AlertAreaArgs(desc=_cut(f"{info.sender_name or alert.sender}: whole area", MAX_SHORT)))
    return areas


def _issue(alert: CapAlert, alert_id: str, now: float) -> IssueAlert | Ignored:
    info = _info(alert)
    if info is None:  # valid CAP (the USGS sends such headers), but nothing to show: no event, no area
        return Ignored("no_info", f"{alert.identifier} carries no <info>")
    expiries = [i.expires.timestamp() for i in alert.infos if i.expires is not None]
    if expiries and max(expiries) <= now:
        return Ignored("expired", f"{alert.identifier} expired at {max(expiries):.0f}")
    category = next((c for c in info.categories if c in ALERT_VALUES["category"]), "Other")
    return IssueAlert(
        id=alert_id, headline=_cut(info.headline or info.event, MAX_SHORT), areas=_areas(alert, info),
        event=_cut(info.event, MAX_SHORT), severity=info.severity, urgency=info.urgency, certainty=info.certainty,
        category=category, expires=info.expires.timestamp() if info.expires else None,
        description=_cut(info.description, MAX_LONG), instruction=_cut(info.instruction, MAX_LONG),
        source=_cut(f"cap:{alert.sender}", MAX_SHORT))


def plan(alert: CapAlert, alerts: Mapping[str, Alert], aliases: dict[str, str], now: float) -> Plan:
    """The commands for one parsed message, given the alerts in the picture and known identifier aliases.

    `aliases` (CAP identifier -> alert id) is read and extended: the caller keeps it between messages.
    """
    if alert.status != "Actual":
        return Plan(ignored=Ignored("not_actual", f"status {alert.status}: only Actual alerts are shown"))
    if alert.msg_type in ("Ack", "Error"):
        return Plan(ignored=Ignored("not_an_alert", f"msgType {alert.msg_type} carries no alert"))
    key = message_key(alert)

    def target(ref: CapReference) -> str:
        return aliases.get(ref.identifier, ref.identifier)

    if alert.msg_type == "Cancel":
        if not alert.references:
            raise FeedError("missing_field", "a Cancel needs <references>")
        ids = sorted({target(r) for r in alert.references})
        live = [i for i in ids if i in alerts and not alerts[i].cancelled]
        if not live:
            return Plan(ignored=Ignored("nothing_to_cancel", f"none of {', '.join(ids)[:200]} is in force"))
        reason = _cut(alert.note or f"cancelled by {alert.sender} ({alert.identifier})", MAX_SHORT)
        return Plan([CapCommand("alert.cancel", CancelAlert(i, reason), f"{key}#{n}") for n, i in enumerate(live)])
    if alert.msg_type == "Update" and alert.references:
        known = [r for r in alert.references if target(r) in alerts]
        root = target(known[0] if known else min(alert.references, key=lambda r: r.sent))
    else:
        root = alert.identifier
    issue = _issue(alert, root, now)
    if isinstance(issue, Ignored):
        return Plan(ignored=issue)
    aliases[alert.identifier] = root
    return Plan([CapCommand("alert.issue", issue, f"{key}#0")])


# --- outgoing -------------------------------------------------------------------------------------


def cap_identifier(text: str) -> str:
    """`text` with the characters CAP forbids in identifiers and senders replaced by "_"."""
    return text.translate(_CAP_FORBIDDEN) or "_"


def _value(alert: Alert, name: str) -> str:
    value = getattr(alert, name)
    return value if value in ALERT_VALUES[name] else "Unknown" if name != "category" else "Other"


def cap_for_alert(alert: Alert, *, sender: str, identifier: str, sent: float, msg_type: str = "Alert",
                  references: tuple[CapReference, ...] = (), note: str | None = None,
                  sender_name: str | None = None) -> CapAlert:
    """A CAP 1.2 message for an alert (``msg_type`` Alert, Update or Cancel; the latter two need references).

    Fields outside CAP's value lists (an alert from before they were checked) are written as Unknown/Other,
    so the result always validates.
    """
    def moment(t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)

    areas = tuple(
        CapArea(desc=a.desc or alert.headline or alert.id,
                polygons=(tuple([*a.polygon, a.polygon[0]]),) if a.polygon else (),
                circles=((a.circle[0], a.circle[1], a.circle[2] / 1000.0),) if a.circle else ())
        for a in alert.areas)
    info = CapInfo(
        categories=(_value(alert, "category"),), event=alert.event or alert.headline,
        urgency=_value(alert, "urgency"), severity=_value(alert, "severity"), certainty=_value(alert, "certainty"),
        headline=alert.headline or None, description=alert.description or None,
        instruction=alert.instruction or None, sender_name=sender_name,
        expires=moment(alert.expires) if alert.expires is not None else None, areas=areas)
    return CapAlert(identifier=cap_identifier(identifier), sender=cap_identifier(sender), sent=moment(sent),
                    status="Actual", msg_type=msg_type, scope="Public", references=references, note=note,
                    infos=(info,))

