"""Checks on command fields that every rule module shares: text, priority, incident type, report time.

Each returns the cleaned value or raises `Refusal` with the stable code a client switches on.
"""

from __future__ import annotations

import math

from app.domain.errors import Refusal
from app.domain.incident_types import INCIDENT_TYPES, PRIORITIES

#: How far ahead of the hub's clock a device may claim a fix or a report was made (device clocks drift).
MAX_CLOCK_SKEW_S = 30.0
#: How far back from the hub's clock a time in a command may lie (7 days): older is a device whose clock is not
#: set, or news nobody can act on. With MAX_EXPIRES_AHEAD_S this keeps every accepted time a calendar date that
#: every output (CoT, CAP, EIDO, reports) can write.
MAX_TIME_AGE_S = 7 * 86_400.0
#: How far ahead an alert may be set to expire (about a year): CAP needs a calendar date, and a longer alert
#: is a mistake.
MAX_EXPIRES_AHEAD_S = 366 * 86_400.0
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
    """A device's time for something it observed: finite and at most MAX_TIME_AGE_S old (else `bad_time`), not
    in the future beyond clock drift (else `clock_skew`)."""
    if not (math.isfinite(t) and t >= now - MAX_TIME_AGE_S):
        raise Refusal("bad_time", f"{what} time must be a Unix time within the last 7 days, got {t!r}")
    if t > now + MAX_CLOCK_SKEW_S:
        raise Refusal("clock_skew", f"{what} is {t - now:.0f} s in the future")
    return float(t)


def check_expires(t: float, now: float) -> float:
    """When an alert expires: a finite time from MAX_TIME_AGE_S ago to MAX_EXPIRES_AHEAD_S ahead."""
    if not (math.isfinite(t) and now - MAX_TIME_AGE_S <= t <= now + MAX_EXPIRES_AHEAD_S):
        raise Refusal("bad_time", f"expires must be a Unix time from 7 days ago to a year ahead, got {t!r}")
    return float(t)


#: Video links a drone or camera may publish (`file://`: an operator's training file on the console's disk).
VIDEO_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "http://", "https://", "srt://", "file://")
MAX_URL = 1000


def check_video_url(raw: str) -> str:
    """A video link as given (stripped), or "" to withdraw one; refused unless a known scheme, short, printable."""
    url = raw.strip()
    if len(url) > MAX_URL:
        raise Refusal("too_long", f"a video URL is at most {MAX_URL} characters")
    if url and (not url.lower().startswith(VIDEO_SCHEMES) or any(ch.isspace() or ord(ch) < 32 for ch in url)):
        raise Refusal("bad_url", f"{url[:80]!r} is not a video link ({', '.join(VIDEO_SCHEMES)})")
    return url
