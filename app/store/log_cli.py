"""`watchfloor log export|import`: move an event log between a SQLite file and a NATS JetStream cluster.

`import` appends a file's events to the cluster's stream exactly as stored (same sequence numbers, same chain
links), so the hash chain carries on; it resumes where an earlier import stopped, and refuses a stream that holds
anything else. `export` writes the stream into a new SQLite file, checking every link; `watchfloor audit
checkpoint --new-anchor --db FILE` then anchors it, and `watchfloor audit verify` checks it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor log`."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="write a cluster's event stream into a new SQLite log file")
    export.add_argument("--log", required=True, metavar="nats://HOST:PORT,...", help="the cluster")
    export.add_argument("--db", required=True, help="the SQLite file to write (must not exist yet)")
    into = sub.add_parser("import", help="append a SQLite log's events to a cluster's (empty or partly "
                                         "imported) event stream")
    into.add_argument("--db", required=True, help="the SQLite log to read")
    into.add_argument("--log", required=True, metavar="nats://HOST:PORT,...", help="the cluster")
    for action in (export, into):
        action.add_argument("--replicas", type=int, default=3, help="replicas of a stream made here (3)")
        action.add_argument("--key-file", help="the database key, if the file is encrypted (or WATCHFLOOR_DB_KEY)")


def run(args: argparse.Namespace) -> int:
    """0 when every event was moved with its chain intact; 1 with a sentence otherwise."""
    from app.store.at_rest import use_key_file
    from app.store.jetstream import StreamFenced, StreamUnavailable, parse_log_url

    use_key_file(args.key_file)
    try:
        servers = parse_log_url(args.log)
        moved = asyncio.run((_export if args.action == "export" else _import)(servers, Path(args.db),
                                                                                 args.replicas))
    except (ValueError, StreamFenced, StreamUnavailable) as exc:
        print(f"watchfloor log {args.action}: {exc}", file=sys.stderr)
        return 1
    print(moved)
    return 0


async def _export(servers: list[str], db: Path, replicas: int) -> str:
    from app.store.jetstream import EventStream, copy_stream
    from app.store.log import EventLog

    if db.exists() and db.stat().st_size > 0:
        raise ValueError(f"{db} exists: export writes a new file")
    stream = EventStream(servers, replicas)
    await stream.open(create=False)
    log_ = EventLog(db)
    try:
        copied = await copy_stream(stream, log_)
        return (f"exported {copied} events to {db}; the last is {log_.head_seq} with link {log_.head_hash}; "
                f"anchor it with: watchfloor audit checkpoint --new-anchor --db {db}")
    finally:
        log_.close()
        await stream.close()


async def _import(servers: list[str], db: Path, replicas: int) -> str:
    from app.store.chain import GENESIS_HASH, chain_hash
    from app.store.jetstream import MAX_BATCH, EventStream, whole_commands
    from app.store.log import LogReader

    if not db.is_file():
        raise ValueError(f"there is no log file {db}")
    reader = LogReader(db)
    stream = EventStream(servers, replicas)
    await stream.open()
    try:
        start = await stream.last_seq()
        if start:  # resuming: the stream must hold this file's events so far, link for link
            ours = reader.stored_events(start - 1, 1)
            theirs = await stream.fetch(start - 1, start)
            if not ours or not theirs or ours[0][0].hash != theirs[0][0].hash:
                raise ValueError(f"the stream already holds {start} events that are not this log's: import goes "
                                 "only into an empty stream (or one this file was partly imported into)")
        moved = 0
        prev = ours[0][0].hash if start else GENESIS_HASH
        while True:
            rows = reader.stored_events(start + moved, MAX_BATCH + 1)
            if not rows:
                break
            take = whole_commands([r for r, _ in rows])
            batch = rows[:take]
            for row, _ in batch:  # the file's own chain, checked before any of it leaves
                prev = chain_hash(prev, row.seq, row.ts, row.actor, row.kind, row.data.encode(),
                                  row.audience.encode() if row.audience is not None else None)
                if row.hash != prev:
                    raise ValueError(f"event {row.seq} of {db} breaks its hash chain: nothing after it was "
                                     "imported; run watchfloor audit verify")
            await stream.extend([r for r, _ in batch], {r.command: d for r, d in batch if r.command and d})
            moved += take
        return f"imported {moved} events into {stream.stream} (now {start + moved}); the last link is {prev}"
    finally:
        reader.close()
        await stream.close()
