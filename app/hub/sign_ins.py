"""The hub's sign-ins and live sessions: password checks on a pool of threads, throttling and lockouts,
and closing the connections of an account that is disabled or given a new password.

Argon2 is slow on purpose and takes 64 MiB per check, so the checks run on a fixed pool of `PASSWORD_CHECKS`
threads, each with its own user-store connection: however many sign-ins arrive, and however many cores the machine
has, sign-ins hold at most PASSWORD_CHECKS x 64 MiB.
Each source address gets `CHECKS_PER_ADDRESS` turns at a time (its check and any refusal delay), so a flood
of guesses from one address puts at most that many checks ahead of a sign-in from anywhere else; hellos
waiting for a turn are capped per address and overall (`PendingSignIns`). A refusal is answered after the
throttle's delay, spent on the loop with no worker held. Account changes are made by
`watchfloor user` in another process: the hub polls a generation number in the store and, when it moves,
compares each live session's credentials stamp with the store's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from app.domain.sign_in import PendingSignIns, SignInThrottle, ThrottlePolicy
from app.protocol import codes
from app.store.users import MAX_NAME, User, UserStore

log = logging.getLogger("watchfloor.hub")

#: How often the hub looks for disabled accounts and new passwords (seconds).
WATCH_EVERY = 1.0
#: Sign-ins from one address checked (or serving their refusal delay) at the same time.
CHECKS_PER_ADDRESS = 2
#: Password checks running at the same time, hub-wide: the memory budget of sign-ins (Argon2 takes 64 MiB each,
#: `app.store.users`), so a fixed number, not the core count. The rest wait in `PendingSignIns`' bounded queue
#: or are told the hub is busy.
PASSWORD_CHECKS = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one hello: `user` and `stamp` when signed in; else the close code and reason, and how
    the access log should name the outcome."""

    user: User | None = None
    stamp: str = ""
    close_code: int = codes.CLOSE_UNAUTHORIZED
    reason: str = ""
    outcome: str = "refused"


@dataclass(slots=True)
class _Session:
    user: str
    stamp: str


class SignIns:
    """Checks hellos for a hub and keeps its signed-in sessions honest. Use from the hub's loop."""

    def __init__(self, db_path: str | Path, clock: Callable[[], float], audit: Callable[..., None],
                 policy: ThrottlePolicy | None = None, workers: int = PASSWORD_CHECKS, per_address: int = 32,
                 overall: int = 256) -> None:
        self.db_path = Path(db_path)
        self.clock = clock
        self.audit = audit
        self.throttle = SignInThrottle(policy)
        self.pending = PendingSignIns(per_address, overall)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="wf-auth")
        self._local = threading.local()
        self._stores: list[UserStore] = []
        self._stores_lock = threading.Lock()
        self._turns: dict[str, asyncio.Semaphore] = {}
        self.live: dict[ServerConnection, _Session] = {}
        self._generation: int | None = None

    def _store(self) -> UserStore:
        # One connection per worker thread: a SQLite connection is not shared across threads.
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = UserStore(self.db_path)
            with self._stores_lock:
                self._stores.append(store)
        return store

    async def _in_pool(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def check(self, name: str, password: str, address: str, ws: ServerConnection) -> Verdict:
        """Check one hello on `ws` from `address` (a host, no port); a refusal comes back after its delay.

        The delay is spent on the loop, with no worker held, and it keeps its address's turn even if the
        client hangs up early (else hanging up as soon as the answer is late would both tell a refusal and
        free the turn for the next guess).
        """
        busy = self.pending.admit(address)
        if busy is not None:
            return Verdict(close_code=codes.CLOSE_SIGN_IN_BUSY, outcome="busy",
                           reason=f"sign_in_busy: {busy}; try again in a few seconds")
        loop = asyncio.get_running_loop()
        turn = self._turns.setdefault(address, asyncio.Semaphore(CHECKS_PER_ADDRESS))
        taken, release_at = False, loop.time()
        try:
            await turn.acquire()  # first come, first served among this address's sign-ins
            taken, release_at = True, loop.time()
            if ws.state is not State.OPEN:  # gave up while waiting for its turn: nobody to answer
                return Verdict(reason="bad_credentials: the connection closed before its turn")
            # No account has a longer name: a huge one is refused (and remembered) by a bounded prefix.
            verdict, delay = await self._check(name[:MAX_NAME + 1], password, address)
            release_at += delay
            if delay > 0:
                with contextlib.suppress(TimeoutError):  # the client left, or the hub is stopping
                    await asyncio.wait_for(ws.wait_closed(), delay)
            return verdict
        finally:
            if release_at > loop.time():
                loop.call_at(release_at, self._done, address, taken)
            else:
                self._done(address, taken)

    def _done(self, address: str, taken: bool) -> None:
        if taken:
            self._turns[address].release()
        if self.pending.release(address) == 0:
            self._turns.pop(address, None)  # nobody holds or waits for a turn there

    async def _check(self, name: str, password: str, address: str) -> tuple[Verdict, float]:
        check = await self._in_pool(lambda: self._store().sign_in(name, password))
        if check.locked:
            # Delayed like a refusal: answering at once would make hammering a locked account cheap.
            delay = self.throttle.refused(name, address, self.clock()).delay
            return Verdict(close_code=codes.CLOSE_LOCKED_OUT, outcome="locked_out",
                           reason="locked_out: too many failed sign-ins; a supervisor must unlock this account"), delay
        if self.throttle.failures(name) >= self.throttle.policy.lock_after:
            self.throttle.cleared(name)  # the store has no lock any more: a supervisor unlocked it
        if check.user is not None:
            self.throttle.succeeded(name)
            return Verdict(check.user, check.stamp, outcome="ok"), 0.0
        now = self.clock()
        refused = self.throttle.refused(name, address, now)
        if refused.lock and await self._in_pool(
                lambda: self._store().lock(name, now, self.throttle.failures(name), address)):
            log.warning("account %s locked after %d failed sign-ins (last from %s)", name,
                        self.throttle.policy.lock_after, address)
            self.audit(name, address, "lockout", "locked", f"{self.throttle.policy.lock_after} failed sign-ins")
        return (Verdict(reason="bad_credentials: wrong user name or password, or the account is disabled"),
                refused.delay)

    def opened(self, ws: ServerConnection, user: str, stamp: str) -> None:
        """A connection signed in as `user` with credentials `stamp`."""
        self.live[ws] = _Session(user, stamp)

    async def watch(self, every: float = WATCH_EVERY) -> None:
        """Forever: close the sessions of accounts that were disabled or given a new password."""
        while True:
            await asyncio.sleep(every)
            for ws in [ws for ws in self.live if ws.state is State.CLOSED]:
                del self.live[ws]
            generation = await self._in_pool(lambda: self._store().generation())
            if generation == self._generation:
                continue
            self._generation = generation
            stamps: dict[str, str] = await self._in_pool(lambda: self._store().stamps())
            closing = []
            for ws, session in list(self.live.items()):
                stamp = stamps.get(session.user)
                if stamp == session.stamp:
                    continue
                code, reason = ((codes.CLOSE_DISABLED, "account_disabled: this account was disabled")
                                if stamp is None else
                                (codes.CLOSE_PASSWORD_CHANGED, "password_changed: sign in with the new password"))
                del self.live[ws]
                log.info("closing %s's session: %s", session.user, reason)
                self.audit(session.user, _address(ws), "session", "closed", reason)
                closing.append(ws.close(code, reason))
            await asyncio.gather(*closing, return_exceptions=True)  # the closing handshakes side by side

    async def start(self) -> None:
        """Note the store's generation now, so only later changes close sessions."""
        self._generation = await self._in_pool(lambda: self._store().generation())

    def close(self) -> None:
        """Stop the workers and close their connections."""
        self.pool.shutdown(wait=True)
        for store in self._stores:
            store.close()


def _address(ws: ServerConnection) -> str:
    return "{}:{}".format(*ws.remote_address[:2]) if ws.remote_address else "?"
