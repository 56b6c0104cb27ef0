"""The rule for acknowledging security alerts (see `app.domain.security_alerts`); registered into `decide`'s
table when imported (decide imports it last)."""

from __future__ import annotations

from app.domain import commands as c
from app.domain import events as ev
from app.domain.decide import _RULES, MAX_SHORT_TEXT, _Context, _text
from app.domain.errors import Refusal
from app.domain.events import Draft
from app.domain.security_alerts import SECURITY_AUDIENCE


def _acknowledge(cx: _Context, a: c.AcknowledgeSecurityAlert) -> list[Draft]:
    alert = cx.picture.security.alerts.get(a.alert)
    if alert is None:
        raise Refusal("unknown_alert", f"there is no security alert {a.alert}")
    if alert.acknowledged_at is not None:
        raise Refusal("already_acknowledged", f"security alert {alert.id} was acknowledged by "
                                              f"{alert.acknowledged_by}")
    note = _text(a.note, "note", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.SECURITY_ACKNOWLEDGED, {"id": alert.id, "note": note}, SECURITY_AUDIENCE)]


_RULES["security.acknowledge"] = _acknowledge
