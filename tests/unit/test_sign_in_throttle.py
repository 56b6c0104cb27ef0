"""The sign-in throttle and the cap on pending sign-ins (pure: time is passed in)."""

from __future__ import annotations

from app.domain.sign_in import PendingSignIns, SignInThrottle, ThrottlePolicy


def test_delays_grow_per_account_and_cap() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_failures=2, first_delay=0.5, max_delay=4.0, lock_after=100))
    # A different address each time: only the account's own failures count.
    delays = [throttle.refused("anna", f"10.0.0.{i}", now=float(i)).delay for i in range(8)]
    assert delays == [0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_delays_grow_per_address_across_accounts() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_failures=1, first_delay=1.0, lock_after=100))
    delays = [throttle.refused(f"user{i}", "192.0.2.7", now=float(i)).delay for i in range(4)]
    assert delays == [0.0, 1.0, 2.0, 4.0]
    # Another address guessing another account is not slowed by it.
    assert throttle.refused("someone", "192.0.2.8", now=5.0).delay == 0.0


def test_address_failures_are_forgotten_after_a_quiet_while_but_an_accounts_are_not() -> None:
    policy = ThrottlePolicy(free_failures=0, first_delay=1.0, forget_after=60.0, lock_after=100)
    throttle = SignInThrottle(policy)
    for i in range(3):
        throttle.refused(f"u{i}", "192.0.2.7", now=0.0)
    assert throttle.refused("other", "192.0.2.7", now=1000.0).delay == 1.0  # the address starts again
    for _ in range(3):
        throttle.refused("anna", "a", now=0.0)
    assert throttle.refused("anna", "b", now=10_000.0).delay == 8.0  # the account does not


def test_lock_comes_once_at_the_limit_and_success_resets_the_account() -> None:
    throttle = SignInThrottle(ThrottlePolicy(lock_after=3, free_failures=10))
    locks = [throttle.refused("anna", "a", now=float(i)).lock for i in range(5)]
    assert locks == [False, False, True, False, False]
    throttle.succeeded("anna")
    assert throttle.failures("anna") == 0
    assert [throttle.refused("anna", "a", now=9.0).lock for _ in range(3)] == [False, False, True]
    throttle.cleared("anna")
    assert throttle.failures("anna") == 0


def test_success_does_not_reset_the_address() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_failures=1, first_delay=1.0, lock_after=100))
    throttle.refused("victim", "a", now=0.0)
    throttle.refused("victim", "a", now=0.0)
    throttle.succeeded("mine")  # the guesser signs in with an account of its own
    assert throttle.refused("victim2", "a", now=1.0).delay == 2.0


def test_memory_is_bounded_under_made_up_names() -> None:
    throttle = SignInThrottle(ThrottlePolicy(remembered=100))
    for i in range(10_000):
        throttle.refused(f"name{i}", f"addr{i}", now=0.0)
    assert len(throttle._accounts) == 100 and len(throttle._addresses) == 100
    assert throttle.failures("name9999") == 1 and throttle.failures("name0") == 0


def test_pending_sign_ins_are_capped_per_address_and_overall() -> None:
    pending = PendingSignIns(per_address=2, overall=3)
    assert pending.admit("a") is None and pending.admit("a") is None
    assert "from a" in (pending.admit("a") or "")
    assert pending.admit("b") is None
    assert "waiting" in (pending.admit("c") or "")  # the hub as a whole is full
    pending.release("a")
    assert pending.admit("c") is None
    assert pending.admit("a") is not None  # a refused admit was not counted: still 3 in all
    for address in ("a", "b", "c"):
        pending.release(address)
    assert pending.total == 0 and pending.admit("a") is None
