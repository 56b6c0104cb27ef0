"""User accounts: who may sign in, with which role and agency. Passwords are stored only as Argon2id hashes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.agencies import DEFAULT_AGENCIES, Role
from app.store.log import connect, record_access
from app.store.schema import migrate

#: Argon2id with 64 MiB of memory per hash: costly to brute-force offline, ~50 ms to check on this hardware.
_hasher = PasswordHasher(time_cost=2, memory_cost=64 * 1024, parallelism=1)
#: Checked against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("no such user")
MIN_PASSWORD = 8
MAX_NAME = 64
#: The `meta` row bumped by every change that must end live sessions (disable, new password): the hub polls it.
GENERATION_KEY = "users_generation"


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in identity (never carries the password or its hash)."""

    name: str
    role: Role
    agency: str
    full_name: str = ""
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class SignInCheck:
    """A password check: the user when it passed; `locked` when the account is locked (no password was checked);
    `stamp` names the credentials that passed, so the hub can tell when they are changed."""

    user: User | None
    locked: bool = False
    stamp: str = ""


@dataclass(frozen=True, slots=True)
class Lockout:
    """An account locked after too many failed sign-ins, until a supervisor unlocks it."""

    user: str
    at: float
    failures: int
    address: str


def _stamp(password_hash: str) -> str:
    # A digest of the hash, not the hash: the hub keeps it per session only to notice a new password.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class UserStore:
    """The `users` table of a hub's database."""

    def __init__(self, path: str | Path) -> None:
        conn = connect(path)
        migrate(conn)
        self.db = sqlite_utils.Database(conn)

    def add(self, name: str, password: str, role: Role | str, agency: str, full_name: str = "",
            agencies: Iterable[str] = DEFAULT_AGENCIES) -> User:
        """Create an account; refuses a duplicate name, an unknown role or agency, or a short password."""
        role = Role(role)
        known = {*agencies, "*"}
        if agency not in known:
            raise ValueError(f"there is no agency {agency!r}; use one of {', '.join(sorted(known))}")
        if len(name) > MAX_NAME:
            raise ValueError(f"a user name has at most {MAX_NAME} characters")
        if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise ValueError("a user name may hold only letters, digits, '.', '-' and '_'")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
        if self.get(name) is not None:
            raise ValueError(f"user {name!r} already exists")
        self.db.table("users").insert({"name": name, "password_hash": _hasher.hash(password), "role": role.value,
                                 "agency": agency, "full_name": full_name, "disabled": 0,
                                 "created_at": time.time()})
        return User(name, role, agency, full_name)

    def get(self, name: str) -> User | None:
        """The account, or None."""
        rows = list(self.db["users"].rows_where("name = ?", [name]))
        if not rows:
            return None
        r = rows[0]
        return User(r["name"], Role(r["role"]), r["agency"], r["full_name"], bool(r["disabled"]))

    def list(self) -> list[User]:
        """Every account, by name."""
        return [User(r["name"], Role(r["role"]), r["agency"], r["full_name"], bool(r["disabled"]))
                for r in self.db["users"].rows_where(order_by="name")]

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        """Disable (or re-enable) an account; a disabled user cannot sign in."""
        if self.get(name) is None:
            raise ValueError(f"no user {name!r}")
        self.db.table("users").update(name, {"disabled": int(disabled)})
        self._bump_generation()

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password (their open sessions are closed by the hub)."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
        if self.get(name) is None:
            raise ValueError(f"no user {name!r}")
        self.db.table("users").update(name, {"password_hash": _hasher.hash(password)})
        self._bump_generation()

    def _bump_generation(self) -> None:
        # After the change itself: whoever reads the new generation also reads the new rows.
        self.db.conn.execute("INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE "
                             "SET value = CAST(value AS INTEGER) + 1", (GENERATION_KEY,))

    def generation(self) -> int:
        """A number that changes whenever an account is disabled, enabled or given a new password."""
        row = self.db.conn.execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,)).fetchone()
        return int(row[0]) if row else 0

    def stamps(self) -> dict[str, str]:
        """The credentials stamp of every enabled account (a disabled one is absent)."""
        return {name: _stamp(password_hash) for name, password_hash in self.db.conn.execute(
            "SELECT name, password_hash FROM users WHERE disabled = 0")}

    def sign_in(self, name: str, password: str) -> SignInCheck:
        """Check a sign-in: a locked account is refused before its password is checked (so a guess against
        it learns nothing); otherwise as `authenticate`."""
        if self.db.conn.execute("SELECT 1 FROM lockouts WHERE user = ?", (name,)).fetchone():
            return SignInCheck(None, locked=True)
        user, password_hash = self._verify(name, password)
        return SignInCheck(user, stamp=_stamp(password_hash) if user is not None else "")

    def lock(self, name: str, at: float, failures: int, address: str) -> bool:
        """Lock an existing account (True) until `unlock`; an unknown name is not stored (False)."""
        if self.get(name) is None:
            return False
        self.db.conn.execute("INSERT OR REPLACE INTO lockouts(user, at, failures, address) VALUES (?, ?, ?, ?)",
                             (name, at, failures, address[:100]))
        return True

    def unlock(self, name: str) -> bool:
        """Clear an account's lockout; False when it was not locked."""
        if self.get(name) is None:
            raise ValueError(f"no user {name!r}")
        return self.db.conn.execute("DELETE FROM lockouts WHERE user = ?", (name,)).rowcount > 0

    def audit(self, who: str, what: str, outcome: str = "ok", detail: str = "") -> None:
        """Record an account change made outside the hub (`watchfloor user`) in the access log."""
        record_access(self.db.conn, time.time(), who, "cli", what, outcome, detail)

    def lockouts(self) -> dict[str, Lockout]:
        """Every locked account."""
        return {r[0]: Lockout(*r) for r in self.db.conn.execute("SELECT user, at, failures, address FROM lockouts")}

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right and the account enabled; None otherwise (slow on purpose)."""
        return self._verify(name, password)[0]

    def _verify(self, name: str, password: str) -> tuple[User | None, str]:
        rows = list(self.db["users"].rows_where("name = ?", [name]))
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None, ""
        if not rows or rows[0]["disabled"]:
            return None, ""
        r = rows[0]
        return User(r["name"], Role(r["role"]), r["agency"], r["full_name"], False), stored

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()
