"""Refusals: the domain's way of saying no, with a stable code and a reason a dispatcher can read."""

from __future__ import annotations


class Refusal(Exception):
    """A command was refused. `code` is stable (clients switch on it); `reason` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
