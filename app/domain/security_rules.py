"""The rules for acknowledging security alerts (see `app.domain.security_alerts`) and for the feed gateway's
Sybil finding about a device; registered into `decide`'s table when imported (decide imports it last)."""

from __future__ import annotations

from app.domain import commands as c
from app.domain import events as ev
from app.domain.decide import _RULES, MAX_SHORT_TEXT, _Context, _text
from app.domain.errors import Refusal
from app.domain.events import Draft
from app.domain.plausibility import SYBIL_COUNT, SYBIL_EXAMPLES, SYBIL_WINDOW_S, Finding, is_device
from app.domain.security_alerts import SECURITY_AUDIENCE, alert_drafts


def _acknowledge(cx: _Context, a: c.AcknowledgeSecurityAlert) -> list[Draft]:
    alert = cx.picture.security.alerts.get(a.alert)
    if alert is None:
        raise Refusal("unknown_alert", f"there is no security alert {a.alert}")
    if alert.acknowledged_at is not None:
        raise Refusal("already_acknowledged", f"security alert {alert.id} was acknowledged by "
                                              f"{alert.acknowledged_by}")
    note = _text(a.note, "note", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.SECURITY_ACKNOWLEDGED, {"id": alert.id, "note": note}, SECURITY_AUDIENCE)]


def _sybil(cx: _Context, a: c.ReportSybil) -> list[Draft]:
    """A `security.alert` (rule `sybil`) naming the device itself: no feed can accuse another one."""
    if not is_device(cx.actor.user):
        raise Refusal("forbidden", "only the feed gateway reports a device's Sybil finding, as the device")
    if not isinstance(a.unknown_ids, int) or not 0 < a.unknown_ids <= 1_000_000:
        raise Refusal("bad_count", "unknown_ids must be a count of ids")
    if not isinstance(a.examples, list) or len(a.examples) > SYBIL_EXAMPLES:
        raise Refusal("too_many", f"at most {SYBIL_EXAMPLES} examples")
    examples = [_text(str(name), "example id", MAX_SHORT_TEXT) for name in a.examples]
    if not cx.judge_fixes:
        return []  # intrusion detection is off (a sped-up simulation)
    finding = Finding("sybil", {"unknown_ids": a.unknown_ids, "examples": examples, "window_s": SYBIL_WINDOW_S,
                                "limit": SYBIL_COUNT})
    return alert_drafts(cx.picture, finding, device=cx.actor.user, at=cx.now, now=cx.now)


_RULES["security.acknowledge"] = _acknowledge
_RULES["security.sybil"] = _sybil
