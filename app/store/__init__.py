"""The event log: append-only SQLite store, snapshots, users, command dedupe, quarantine."""
