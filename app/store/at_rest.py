"""Data at rest: files only the hub's account may read, and the log encrypted with SQLCipher when a key is given.

The hub creates its database, the database's WAL and shared-memory files, its audit key and its checkpoints
0600, in a folder it creates 0700 (SQLite gives the -wal and -shm files the mode of the database file, so
creating that one 0600 is enough). With a key, every connection goes through SQLCipher (AES-256 pages, the WAL
included); the key comes from `--key-file FILE` (the commands that open a log) or, for every command and for
child processes, from the environment: `WATCHFLOOR_DB_KEY` (the key itself) or `WATCHFLOOR_DB_KEY_FILE`.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import cast

KEY_ENV, KEY_FILE_ENV = "WATCHFLOOR_DB_KEY", "WATCHFLOOR_DB_KEY_FILE"
#: A raw 256-bit key (64 hex digits) skips SQLCipher's PBKDF2 (256,000 rounds per connection opened).
_RAW_KEY = re.compile(r"[0-9a-fA-F]{64}")


class LogLockedError(sqlite3.DatabaseError):
    """The log cannot be read: it is encrypted and no (or a wrong) key was given, or it is not a database."""


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) 0700; a folder that exists already is left as its owner set it."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)


def create_private_file(path: Path) -> None:
    """Make sure `path` exists and only its owner may read or write it (0600)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)


def use_key_file(path: str | Path | None) -> None:
    """Open every log in this process (and its children) with the key in `path` (from `--key-file`); a key
    file that cannot be used ends the command with one sentence saying why."""
    if path is not None:
        try:
            read_key_file(Path(path))  # fail now, with the file named, rather than at the first connection
        except LogLockedError as exc:
            raise SystemExit(str(exc)) from None
        os.environ[KEY_FILE_ENV] = str(Path(path).resolve())
        os.environ.pop(KEY_ENV, None)


def read_key_file(path: Path) -> str:
    """The key held in a key file (its first line); refuses a file other accounts may read."""
    try:
        mode = path.stat().st_mode
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise LogLockedError(f"cannot read the database key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise LogLockedError(f"the database key file {path} may be read by other accounts: chmod 600 {path}")
    if not key:
        raise LogLockedError(f"the database key file {path} is empty")
    return key


def db_key() -> str | None:
    """The database key this process was given, or None (the log is plain SQLite)."""
    key = os.environ.get(KEY_ENV)
    if key:
        return key
    key_file = os.environ.get(KEY_FILE_ENV)
    return read_key_file(Path(key_file)) if key_file else None


def key_pragma(key: str) -> str:
    """The `PRAGMA key` statement for a key: raw hex as a blob literal, anything else as a passphrase."""
    if _RAW_KEY.fullmatch(key):
        return f"PRAGMA key = \"x'{key}'\""
    return "PRAGMA key = '{}'".format(key.replace("'", "''"))


def open_database(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to the log, through SQLCipher when a key is set; `LogLockedError` if it cannot be read."""
    key = db_key()
    if readonly:
        # On read-only media (a log copied off for an audit) SQLite cannot create the -shm file WAL reading
        # needs; with no -wal beside it everything is in the main file, which is then safe to read as immutable.
        wal = Path(f"{path}-wal")
        frozen = not os.access(path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size)
        target, uri = f"file:{path}?mode=ro{'&immutable=1' if frozen else ''}", True
    else:
        target, uri = str(path), False
    if key is None:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
    else:
        import sqlcipher3  # only a hub with an encrypted log needs it

        conn = cast(sqlite3.Connection, sqlcipher3.connect(target, uri=uri, isolation_level=None,
                                                            check_same_thread=False))
        conn.execute(key_pragma(key))
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except Exception as exc:  # sqlite3's or sqlcipher3's DatabaseError: two unrelated classes
        conn.close()
        if "not a database" not in str(exc):
            # Read-only media, a missing folder, a locked file: not a question of keys. Said as sqlite3's error,
            # so every command reports it the same way (app.cli.database_problem).
            raise sqlite3.OperationalError(str(exc)) from None
        if key is None:
            raise LogLockedError(f"{path} cannot be read: it is encrypted (give its key with --key-file or "
                                 f"{KEY_ENV}) or is not a database") from None
        raise LogLockedError(f"{path} cannot be read with the key given: a wrong key, or not a database "
                             f"({exc})") from None
    return conn


def tighten(path: Path) -> None:
    """Take away other accounts' access to an existing database and its WAL/SHM files (a log from before 0600)."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.stat().st_mode & 0o077 and name.stat().st_uid == os.getuid():
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue

