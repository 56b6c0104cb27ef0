"""`watchfloor audit`: verify the log against its signed checkpoints, and take (and export) a checkpoint.

`verify` walks every hash chain (events, snapshots, access log, quarantine) and holds it to every signed
checkpoint: an edited row, a removed tail and a chain recomputed after an edit all fail, and so does a
checkpoint edited by hand. `checkpoint` does the same check, then signs the heads it checked with the hub's key
and can write the checkpoint file elsewhere (`-o`), to keep a copy off the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor audit`."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="check that no stored row was altered, removed or inserted")
    verify.add_argument("--checkpoints", help="a checkpoint file kept elsewhere (default <db>.audit/checkpoints.jsonl)")
    verify.add_argument("--public-key", help="the hub's public key (PEM, a copy of <db>.audit/hub.pub kept elsewhere)")
    checkpoint = sub.add_parser("checkpoint", help="verify, then sign the current heads and append a checkpoint")
    checkpoint.add_argument("-o", "--output", help="also write every checkpoint to this file (to keep elsewhere)")
    checkpoint.add_argument("--new-anchor", action="store_true",
                            help="with the hub stopped, after an investigation or to change the audit key: set the "
                                 "old checkpoints aside as evidence and anchor the log as it stands now with the key "
                                 "in <db>.audit (made if missing)")
    for action in (verify, checkpoint):
        action.add_argument("--db", required=True, help="the hub's SQLite database")
        action.add_argument("--key-file", help="the database key, if the log is encrypted (or WATCHFLOOR_DB_KEY)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when everything checks out, 1 (naming what is wrong) otherwise."""
    from app.store.at_rest import LogLockedError, use_key_file
    from app.store.checkpoints import (
        CHECKPOINTS_NAME,
        META_KEY,
        PUBLIC_NAME,
        Notary,
        audit_dir,
        audit_log,
        public_key_hex,
        read_checkpoints,
    )
    from app.store.log import LogReader, connect

    use_key_file(args.key_file)
    if not Path(args.db).is_file():
        print(f"there is no log file {args.db}", file=sys.stderr)
        return 1
    try:
        reader = LogReader(args.db)
    except LogLockedError as exc:
        print(exc, file=sys.stderr)
        return 1
    folder = audit_dir(args.db)
    public_key = getattr(args, "public_key", None)
    expected = public_key_hex(Path(public_key)) if public_key else reader.meta(META_KEY)
    source = Path(args.checkpoints) if getattr(args, "checkpoints", None) else folder / CHECKPOINTS_NAME
    signed = read_checkpoints(source, expected)
    audit = audit_log(reader.conn, signed.checkpoints)
    if getattr(args, "new_anchor", False):
        for problem in signed.problems + audit.problems:
            print(f"set aside: {problem}", file=sys.stderr)
        signed, audit = read_checkpoints(Path(os.devnull)), audit_log(reader.conn, [])
        if audit.problems:
            print("a broken chain cannot be anchored; restore the log from a backup", file=sys.stderr)
    reader.close()
    problems = signed.problems + audit.problems
    if not signed.checkpoints and args.action == "verify":
        problems.append(f"no signed checkpoint in {source}: a removed tail or a recomputed chain could not be seen")
    if problems:
        for problem in problems:
            print(f"BROKEN: {problem}", file=sys.stderr)
        return 1
    checked = audit.checked
    print(f"ok: {checked['events']} events, hash chain intact; {checked['snapshots']} snapshots, "
          f"{checked['access']} access-log rows, {checked['quarantine']} quarantined inputs intact; "
          f"anchored by {len(signed.checkpoints)} signed checkpoints")
    if args.action == "checkpoint":
        if args.new_anchor:
            _set_aside(folder / CHECKPOINTS_NAME)
        notary = Notary(folder)
        if args.new_anchor:
            writer = connect(args.db)
            writer.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (META_KEY, notary.public_key))
            writer.close()
        notary.sign(audit.heads, time.time())
        print(f"signed a checkpoint at event {audit.heads['events'][0]} in {folder / CHECKPOINTS_NAME}")
        if args.output:
            shutil.copyfile(folder / CHECKPOINTS_NAME, args.output)
            print(f"wrote the checkpoints to {args.output}; verify with --checkpoints {args.output} "
                  f"--public-key (a copy of {folder / PUBLIC_NAME})")
    return 0



def _set_aside(checkpoints: Path) -> None:
    """Keep the old checkpoint file, renamed by the time it was set aside (it is the evidence)."""
    if checkpoints.exists():
        aside = checkpoints.with_name(f"{checkpoints.name}.set-aside-{time.strftime('%Y%m%dT%H%M%S')}")
        checkpoints.rename(aside)
        print(f"the old checkpoints are kept in {aside}")
