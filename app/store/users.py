"""User accounts: who may sign in, with which role and agency. Passwords are stored only as Argon2id hashes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.agencies import Role
from app.store.log import connect
from app.store.schema import migrate

#: Argon2id with 64 MiB of memory per hash: costly to brute-force offline, ~50 ms to check on this hardware.
_hasher = PasswordHasher(time_cost=2, memory_cost=64 * 1024, parallelism=1)
#: Checked against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("no such user")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in identity (never carries the password or its hash)."""

    name: str
    role: Role
    agency: str
    full_name: str = ""
    disabled: bool = False


class UserStore:
    """The `users` table of a hub's database."""

    def __init__(self, path: str | Path) -> None:
        conn = connect(path)
        migrate(conn)
        self.db = sqlite_utils.Database(conn)

    def add(self, name: str, password: str, role: Role | str, agency: str, full_name: str = "") -> User:
        """Create an account; refuses a duplicate name, an unknown role or a short password."""
        role = Role(role)
        if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise ValueError("a user name may hold only letters, digits, '.', '-' and '_'")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
        if self.get(name) is not None:
            raise ValueError(f"user {name!r} already exists")
        self.db["users"].insert({"name": name, "password_hash": _hasher.hash(password), "role": role.value,
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
        self.db["users"].update(name, {"disabled": int(disabled)})

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
        self.db["users"].update(name, {"password_hash": _hasher.hash(password)})

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right and the account enabled; None otherwise (slow on purpose)."""
        rows = list(self.db["users"].rows_where("name = ?", [name]))
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if not rows or rows[0]["disabled"]:
            return None
        r = rows[0]
        return User(r["name"], Role(r["role"]), r["agency"], r["full_name"], False)

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()
