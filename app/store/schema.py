"""The log's schema and its migrations. A database records its version in `meta`; opening it migrates it."""

from __future__ import annotations

import sqlite3

#: Each step takes the database from version N to N+1. Append steps; never edit one that has shipped.
MIGRATIONS: list[str] = [
    # 1: events, snapshots, users, quarantine, access log
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        audience TEXT,
        command TEXT,
        hash TEXT NOT NULL
    );
    CREATE INDEX events_ts ON events(ts);
    CREATE UNIQUE INDEX events_command ON events(command, seq) WHERE command IS NOT NULL;
    CREATE TABLE snapshots (
        seq INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        picture BLOB NOT NULL
    );
    CREATE INDEX snapshots_ts ON snapshots(ts);
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT NOT NULL,
        full_name TEXT NOT NULL DEFAULT '',
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        feed TEXT NOT NULL,
        source TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw BLOB NOT NULL
    );
    CREATE INDEX quarantine_feed ON quarantine(feed, at);
    CREATE TABLE access_log (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        user TEXT NOT NULL,
        peer TEXT NOT NULL,
        what TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: the review's time index without positions (a busy day is 99% positions): timelines, incident
    # histories and figures read only the rest.
    """
    CREATE INDEX events_ts_not_position ON events(ts) WHERE kind != 'unit.position';
    """,
    # 3: snapshots, the access log and the quarantine are hash chains too (app/store/chain.py), so the signed
    # checkpoints that anchor the events anchor them as well. Rows from before are sealed when a hub opens the log.
    """
    ALTER TABLE snapshots ADD COLUMN hash TEXT;
    ALTER TABLE access_log ADD COLUMN hash TEXT;
    ALTER TABLE quarantine ADD COLUMN hash TEXT;
    """,
    # 4: sign-in lockouts that survive a restart (a supervisor clears them), and a digest of each command's
    # name and arguments under its id, so an id reused for a different command is refused, not acked.
    """
    CREATE TABLE IF NOT EXISTS lockouts (
        user TEXT PRIMARY KEY,
        at REAL NOT NULL,
        failures INTEGER NOT NULL,
        address TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS command_digests (
        command TEXT PRIMARY KEY,
        digest TEXT NOT NULL
    );
    """,
    # 5: bounded quarantine: one row per refused datagram or frame with a prefix of its bytes, how big it was,
    # and how many more like it (same feed, source and code) followed until `last_at`.
    """
    ALTER TABLE quarantine ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE quarantine ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE quarantine ADD COLUMN last_at REAL;
    UPDATE quarantine SET size = length(raw), last_at = at
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it had before."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    before = int(row[0]) if row else 0
    if before > SCHEMA_VERSION:
        raise RuntimeError(f"database schema {before} is newer than this Watchfloor ({SCHEMA_VERSION})")
    for version in range(before, SCHEMA_VERSION):
        # The connection is in autocommit mode: one explicit transaction per step, DDL included.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                         (str(version + 1),))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return before
