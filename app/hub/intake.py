"""Bounded intake for field feeds: token buckets per source and per device.

Every datagram (or TCP event) from a registered device takes a token from that device's bucket (its registered
`rate`); input from a source that is no registered device takes one from its sender address's bucket
(`UNKNOWN_SOURCE_RATE`) before it is counted and listed. What finds a bucket empty is dropped and counted as
`throttled`; nothing about it is stored. UDP cannot be slowed down, so dropping is the only answer; TCP readers
wait for tokens instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

#: Inputs a second from one address that is no registered device that are counted, listed and quarantined
#: (as `unknown_device`); the rest are only counted as throttled.
UNKNOWN_SOURCE_RATE = 100.0
#: A bucket holds this many seconds' worth of tokens: bursts (a fleet reporting on the same tick) pass.
BURST_S = 2.0
#: Buckets remembered (the least recently used go first: a new sender starts with a full bucket).
BUCKETS_KEPT = 4096


class TokenBucket:
    """`rate` tokens a second, at most `rate * burst_s` (at least 1) held."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float, burst_s: float = BURST_S) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_s)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> bool:
        """Take one token; False when the bucket is empty."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until the next token (0 when one is there)."""
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class Buckets:
    """Token buckets by key (a source address, a device id), bounded in number; each holds `burst_s` seconds'
    worth of tokens (people report in bursts rarer and longer than a fleet's tick)."""

    def __init__(self, clock: Callable[[], float], burst_s: float = BURST_S) -> None:
        self.clock = clock
        self.burst_s = burst_s
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str, rate: float) -> TokenBucket:
        """The bucket for `key` (made full on first use; a changed rate starts a new one)."""
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[key] = TokenBucket(rate, self.clock(), self.burst_s)
            if len(self._buckets) > BUCKETS_KEPT:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str, rate: float) -> bool:
        """Take a token from `key`'s bucket; False when it is empty."""
        return self.bucket(key, rate).take(self.clock())
