"""The one error every feed parser raises: a stable machine code plus a human reason."""

from __future__ import annotations


class FeedError(ValueError):
    """Input from a feed was refused.

    ``code`` is stable and meant for counters, quarantine records and tests (for example
    ``"malformed_xml"``, ``"too_large"``, ``"bad_checksum"``); ``reason`` is for people.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class FeedIgnored(Exception):
    """Input from a feed was valid but carries nothing the hub uses (not an error: nothing is quarantined).

    ``kind`` says what it was, for the per-kind ignored counts (for example ``"GSV"``, ``"no_fix"``,
    ``"camera"``, ``"proprietary"``); ``reason`` is for people.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
