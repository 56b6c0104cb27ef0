"""Signed checkpoints: the anchor of the log's hash chains, kept apart from the log.

A checkpoint names the head of each chain (events, snapshots, access log, quarantine: key and hash), when it
was taken and by which key, and carries an Ed25519 signature over all of it. The hub appends one to
`<db>.audit/checkpoints.jsonl` at a regular interval and when it stops; its private key is
`<db>.audit/hub.key` (0600, in a 0700 folder), the public half `hub.pub`. Against a checkpoint, removing the
newest rows (the chain ends before the signed head) and recomputing every hash after an edit (the signed hash
no longer matches) both show; a checkpoint edited by hand fails its signature.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.store.at_rest import create_private_file, make_private_dir
from app.store.chain import (
    CHAINS,
    EVENTS,
    GENESIS_HASH,
    SNAPSHOTS,
    Chain,
    blob_digest,
    chain_start,
    link_before,
    row_hash,
    snapshot_fields,
    walk,
)

KEY_NAME, PUBLIC_NAME, CHECKPOINTS_NAME = "hub.key", "hub.pub", "checkpoints.jsonl"
#: The `meta` row that remembers which key anchors this log (a swapped key folder is then noticed).
META_KEY = "audit_public_key"
#: Problems listed at most (one broken link is enough to act; thousands would bury it).
MAX_PROBLEMS = 50


def audit_dir(db: str | Path) -> Path:
    """Where a log's audit key and checkpoints live: a folder beside the database, `<db>.audit`."""
    return Path(f"{db}.audit")


@dataclass(slots=True)
class Checkpoint:
    """The signed heads of the chains at one moment. `heads`: chain name -> [key, hash]."""

    heads: dict[str, list[Any]]
    at: float
    key: str  # the signer's Ed25519 public key, hex
    sig: str = ""  # base64 Ed25519 signature of `signed_bytes()`

    def signed_bytes(self) -> bytes:
        """The canonical text the signature covers (every field but the signature)."""
        return json.dumps({"heads": self.heads, "at": self.at, "key": self.key}, sort_keys=True,
                          separators=(",", ":")).encode()

    def anchor(self, chain: Chain) -> tuple[int, str]:
        """The key and hash this checkpoint signed for `chain` ((0, genesis) if it names none)."""
        key, link = self.heads.get(chain.name, [0, GENESIS_HASH])
        return int(key), str(link)

    def line(self) -> str:
        """The checkpoint as one line of the checkpoint file."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def valid(self) -> bool:
        """Whether the signature is the one `key` made over this content."""
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.key)).verify(base64.b64decode(self.sig),
                                                                               self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(slots=True)
class CheckpointFile:
    """The checkpoints read from a file: those whose signature holds, and what was wrong with the rest."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def newest(self) -> Checkpoint | None:
        """The checkpoint furthest along every chain (the one a hub checks from), or None."""
        return max(self.checkpoints, key=lambda c: [c.anchor(chain)[0] for chain in CHAINS], default=None)


def read_checkpoints(path: Path, public_key: str | None = None) -> CheckpointFile:
    """Parse and check a checkpoint file: every line signed by one key (`public_key` if given). A missing file
    reads as no checkpoints. Lines need not be in order (`audit checkpoint` may sign beside a running hub): each
    checkpoint holds the log to what it signed on its own."""
    result = CheckpointFile()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return result
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
            checkpoint = Checkpoint(dict(raw["heads"]), float(raw["at"]), str(raw["key"]), str(raw["sig"]))
        except (ValueError, KeyError, TypeError):
            result.problems.append(f"checkpoint line {number} is not a checkpoint")
            continue
        expected = public_key or (result.checkpoints[0].key if result.checkpoints else checkpoint.key)
        if checkpoint.key != expected:
            result.problems.append(f"checkpoint line {number} is signed by another key ({checkpoint.key[:16]}…, "
                                   f"expected {expected[:16]}…)")
        elif not checkpoint.valid():
            result.problems.append(f"checkpoint line {number}: the signature does not verify (the line was edited)")
        else:
            result.checkpoints.append(checkpoint)
    return result


def public_key_hex(path: Path) -> str:
    """The raw public key (hex) in a PEM public-key file such as `hub.pub`."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read the public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SystemExit(f"{path} is not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class Notary:
    """A log's signing key and checkpoint file (created on first use, 0600 in a 0700 folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.checkpoints = folder / CHECKPOINTS_NAME
        make_private_dir(folder)
        key_path = folder / KEY_NAME
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise SystemExit(f"{key_path} is not an Ed25519 private key")
            self._key = loaded
        else:
            self._key = Ed25519PrivateKey.generate()
            create_private_file(key_path)
            key_path.write_bytes(self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        self.public_key = self._key.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw).hex()
        public_path = folder / PUBLIC_NAME
        if not public_path.exists():
            create_private_file(public_path)  # public, but nothing in the folder is anyone else's business
            public_path.write_bytes(self._key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        create_private_file(self.checkpoints)

    def sign(self, heads: dict[str, tuple[int, str]], at: float) -> Checkpoint:
        """Sign these chain heads and append the checkpoint to the file (one write, then fsync)."""
        checkpoint = Checkpoint({name: [key, link] for name, (key, link) in heads.items()}, at, self.public_key)
        checkpoint.sig = base64.b64encode(self._key.sign(checkpoint.signed_bytes())).decode()
        fd = os.open(self.checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (checkpoint.line() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return checkpoint


@dataclass(slots=True)
class Audit:
    """What an audit found: rows checked per chain, the problems, and the snapshot a checkpoint vouches for."""

    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    anchored_snapshot: tuple[int, str] | None = None  # (seq, picture digest)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)  # the last row checked in each chain

    def problem(self, text: str) -> None:
        """Note a problem (at most MAX_PROBLEMS of them)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


def _check_anchor(chain: Chain, anchor: tuple[int, str], stored: str | None,
                  last_key: int, what: str, audit: Audit, start_key: int = 0) -> None:
    key, link = anchor
    if key <= start_key:  # nothing signed, or a row since pruned from the chain's start by policy
        return
    if last_key < key:
        audit.problem(f"{chain.name}: the log ends at {chain.key} {last_key} but {what} signed {chain.key} {key}: "
                      "the newest rows were removed")
    elif stored is None:
        audit.problem(f"{chain.name}: {chain.key} {key}, signed by {what}, is missing")
    elif stored != link:
        audit.problem(f"{chain.name}: {chain.key} {key} does not match {what}: the chain was rewritten "
                      "(an edit and every hash after it recomputed), or rows were removed")


def audit_log(conn: sqlite3.Connection, checkpoints: list[Checkpoint]) -> Audit:
    """The full audit: walk every chain from its start and hold each to every checkpoint."""
    audit = Audit()
    for chain in CHAINS:
        anchors = [(checkpoint.anchor(chain), f"the checkpoint of {_when(checkpoint)}") for checkpoint in checkpoints]
        start_key = chain_start(conn, chain)[0]
        result = walk(conn, chain, want=frozenset(key for (key, _), _ in anchors))
        audit.checked[chain.name] = result.checked
        audit.heads[chain.name] = (result.last_key, result.last_hash)
        if result.broken is not None:
            audit.problem(f"{chain.name}: {result.broken.reason}")
        for anchor, what in anchors:
            if result.broken is None or anchor[0] < result.broken.seq:
                _check_anchor(chain, anchor, result.stored.get(anchor[0]), result.last_key, what, audit, start_key)
    return audit


def audit_since(conn: sqlite3.Connection, last: Checkpoint) -> Audit:
    """The incremental audit a hub runs at start: each chain's signed head still stands and the rows after it
    (written since that checkpoint) link up. The anchored snapshot's picture is checked too, so it may be served."""
    audit = Audit()
    for chain in CHAINS:
        key, link = last.anchor(chain)
        start_key, start_hash = chain_start(conn, chain)
        before_key, before_hash = link_before(conn, chain, key) if key > start_key else (start_key, start_hash)
        result = walk(conn, chain, before_key, before_hash, want=frozenset({key}))
        audit.checked[chain.name] = result.checked
        audit.heads[chain.name] = (result.last_key, result.last_hash)
        if result.broken is not None:
            audit.problem(f"{chain.name}: {result.broken.reason}")
        if result.broken is None or key < result.broken.seq:
            _check_anchor(chain, (key, link), result.stored.get(key), result.last_key,
                          f"the last checkpoint ({_when(last)})", audit, start_key)
        if chain is SNAPSHOTS and key and result.stored.get(key) == link:
            audit.anchored_snapshot = vouch_for_snapshot(conn, key, link)
    return audit


def vouch_for_snapshot(conn: sqlite3.Connection, seq: int, link: str) -> tuple[int, str] | None:
    """(seq, picture digest) of the snapshot at `seq` if its row still hashes to `link`, else None. Read once
    more and held to the link again, so the digest a hub trusts is of the picture that was checked."""
    row = conn.execute("SELECT ts, picture FROM snapshots WHERE seq = ?", (seq,)).fetchone()
    if row is None or row_hash(link_before(conn, SNAPSHOTS, seq)[1], snapshot_fields(seq, *row)) != link:
        return None
    return seq, blob_digest(row[1])


def vouch_for_earlier_snapshots(conn: sqlite3.Connection, head_seq: int, head_link: str) -> dict[int, str] | None:
    """seq -> picture digest of every snapshot up to `head_seq`, if the snapshots' chain recomputed from its
    start reaches `head_link` there (a link the hub already vouches for: checked against a signed checkpoint, or
    written by the hub itself); None if it does not. One pass over the snapshots, so a hub can serve pictures of
    any moment from the snapshot nearest it, not only from the newest it checked at start."""
    prev = chain_start(conn, SNAPSHOTS)[1]
    digests: dict[int, str] = {}
    for seq, ts, picture in conn.execute("SELECT seq, ts, picture FROM snapshots WHERE seq <= ? ORDER BY seq",
                                         (head_seq,)):
        prev = row_hash(prev, snapshot_fields(seq, ts, picture))
        digests[seq] = blob_digest(picture)
    return digests if prev == head_link else None


def _when(checkpoint: Checkpoint) -> str:
    seq = checkpoint.anchor(EVENTS)[0]
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(checkpoint.at))}, event {seq}"
