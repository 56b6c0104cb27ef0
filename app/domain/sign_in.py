"""Sign-in throttling: growing delays per account and per source address, lockout of an account, and a cap
on sign-ins waiting for an answer. Pure: the hub passes the time in and carries out the verdicts.

A refused sign-in is answered only after a delay that grows with the failures of the account and of the
address it came from (the larger of both). The hub checks only a couple of sign-ins per address at a time,
delay included, so an address can try only a few passwords a second however many connections it opens, and
`PendingSignIns` bounds how many may wait for their turn. After `lock_after` failures in a row an account is
locked until a supervisor unlocks it (the hub keeps the lock in the user store, so a restart does not clear it).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How sign-in failures are slowed down and when an account is locked."""

    #: Failures answered without a delay (a person mistyping).
    free_failures: int = 2
    #: The delay after the first failure beyond the free ones; each further failure doubles it.
    first_delay: float = 0.5
    max_delay: float = 30.0
    #: Failures in a row (no successful sign-in between) that lock an account.
    lock_after: int = 10
    #: An address's failures are forgotten after this long without one (an account's only on success).
    forget_after: float = 900.0
    #: Accounts and addresses remembered at most each, the least recently failing forgotten first, so a
    #: flood of made-up names costs bounded memory.
    remembered: int = 10_000

    def delay(self, failures: int) -> float:
        """Seconds to wait before answering the `failures`-th failure."""
        beyond = failures - self.free_failures
        if beyond <= 0:
            return 0.0
        return min(self.first_delay * 2 ** min(beyond - 1, 30), self.max_delay)


@dataclass(frozen=True, slots=True)
class Refused:
    """What to do with a refused sign-in: wait `delay` seconds before answering; `lock` the account now."""

    delay: float
    lock: bool


@dataclass(slots=True)
class _Failures:
    count: int
    last_at: float


class SignInThrottle:
    """Failure counts per account and per source address."""

    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._accounts: OrderedDict[str, _Failures] = OrderedDict()
        self._addresses: OrderedDict[str, _Failures] = OrderedDict()

    def refused(self, account: str, address: str, now: float) -> Refused:
        """Count a wrong password (or unknown/disabled account) for `account` from `address`."""
        by_account = self._bump(self._accounts, account, now, forget=False)
        by_address = self._bump(self._addresses, address, now, forget=True)
        delay = max(self.policy.delay(by_account), self.policy.delay(by_address))
        return Refused(delay, lock=by_account == self.policy.lock_after)

    def succeeded(self, account: str) -> None:
        """A right password: the account's count starts again (the address's does not: one valid account
        must not let an address reset its own count between guesses)."""
        self._accounts.pop(account, None)

    def cleared(self, account: str) -> None:
        """A supervisor unlocked the account: it starts again from no failures."""
        self._accounts.pop(account, None)

    def failures(self, account: str) -> int:
        """The account's failures in a row, as far as this throttle remembers."""
        entry = self._accounts.get(account)
        return entry.count if entry is not None else 0

    def _bump(self, table: OrderedDict[str, _Failures], key: str, now: float, forget: bool) -> int:
        entry = table.get(key)
        if entry is None or (forget and now - entry.last_at > self.policy.forget_after):
            entry = table[key] = _Failures(0, now)
        entry.count += 1
        entry.last_at = now
        table.move_to_end(key)
        while len(table) > self.policy.remembered:
            table.popitem(last=False)
        return entry.count


class PendingSignIns:
    """Sign-ins between their hello and their answer (waiting for their turn, password check and any refusal
    delay), counted per source address and overall: beyond either cap a hello is turned away at once."""

    def __init__(self, per_address: int = 32, overall: int = 256) -> None:
        self.per_address = per_address
        self.overall = overall
        self._by_address: dict[str, int] = {}
        self.total = 0

    def admit(self, address: str) -> str | None:
        """Count a new sign-in from `address`; None when admitted, else why not (nothing is counted then)."""
        if self.total >= self.overall:
            return f"{self.total} sign-ins are waiting for an answer"
        if self._by_address.get(address, 0) >= self.per_address:
            return f"{self.per_address} sign-ins from {address} are waiting for an answer"
        self._by_address[address] = self._by_address.get(address, 0) + 1
        self.total += 1
        return None

    def release(self, address: str) -> int:
        """The sign-in from `address` that `admit` counted has been answered; returns how many from there
        are still pending."""
        left = self._by_address.get(address, 0) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)
        self.total = max(0, self.total - 1)
        return max(0, left)
