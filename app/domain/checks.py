"""Checks on command fields that every rule module shares: text, priority, incident type, report time.

Each returns the cleaned value or raises `Refusal` with the stable code a client switches on.
"""

from __future__ import annotations

import math

from app.domain.errors import Refusal
from app.domain.incident_types import INCIDENT_TYPES, PRIORITIES

#: How far ahead of the hub's clock a device may claim a fix or a report was made (device clocks drift).
MAX_CLOCK_SKEW_S = 30.0
MAX_TEXT = 4000
MAX_SHORT_TEXT = 200


def check_text(value: str, what: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    """`value` stripped; refused when empty (if required) or longer than `limit` characters."""
    value = value.strip()
    if required and not value:
        raise Refusal("missing_field", f"{what} must not be empty")
    if len(value) > limit:
        raise Refusal("too_long", f"{what} is longer than {limit} characters")
    return value


def check_priority(value: int) -> int:
    """A priority 1 (most urgent) to 5."""
    if value not in PRIORITIES:
        raise Refusal("bad_priority", f"priority must be 1 (most urgent) to 5, got {value}")
    return value


def check_incident_type(code: str) -> str:
    """A code of the incident type code list."""
    if code not in INCIDENT_TYPES:
        raise Refusal("unknown_type", f"{code!r} is not in the incident type code list")
    return code


def check_time(t: float, now: float, what: str) -> float:
    """A device's time for something it observed: finite and not in the future beyond clock drift."""
    if not math.isfinite(t):
        raise Refusal("bad_time", f"{what} time must be a finite number")
    if t > now + MAX_CLOCK_SKEW_S:
        raise Refusal("clock_skew", f"{what} is {t - now:.0f} s in the future")
    return float(t)
