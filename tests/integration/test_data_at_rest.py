"""Data at rest on a real hub's files: 0600 files in 0700 folders, and the log encrypted with SQLCipher."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.review.replay import Replay, ReviewError
from app.store.at_rest import KEY_ENV, KEY_FILE_ENV
from app.store.checkpoints import audit_dir
from tests.integration.conftest import ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import signed_in

#: What a restricted call leaves in the log: none of it may be readable in the files of an encrypted log.
ADDRESS, CALLER, NOTE = "Vuorikatu 17 B 23", "Jane Quietcaller", "the safe is behind the painting"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def file_bytes(db: Path) -> bytes:
    """The database and its WAL as they lie on disk."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def write_restricted_call(url: str) -> None:
    async def call() -> None:
        async with signed_in(url, "police1") as (police,):
            ack = await police.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94,
                                                        "address": ADDRESS, "caller": CALLER, "restricted": True})
            await police.call("incident.note", {"incident": "1001", "text": NOTE})
            assert ack.seqs == [1]

    asyncio.run(call())


def audit(db: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify", "--db", str(db), *extra], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), **(env or {})})


def test_the_hub_creates_its_files_0600_in_a_0700_folder(tmp_path: Path) -> None:
    db = tmp_path / "new" / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port())
    hub.start()
    try:
        write_restricted_call(hub.url)
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()  # the hub is running: the WAL holds the newest commits
        folder = audit_dir(db)
        for path in (db, wal, shm, folder / "hub.key", folder / "hub.pub", folder / "checkpoints.jsonl"):
            assert mode(path) == 0o600, path
        assert mode(db.parent) == 0o700 and mode(folder) == 0o700
    finally:
        hub.stop()


def test_a_log_from_before_is_made_private_when_the_hub_opens_it(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    os.chmod(db, 0o644)
    hub = HubProcess(db, free_port())
    hub.start()
    hub.stop()
    assert mode(db) == 0o600


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "sqlcipher"])
def test_an_encrypted_log_holds_none_of_the_plaintext(tmp_path: Path, encrypted: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db, key_file = tmp_path / "hub.db", tmp_path / "db.key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    key_file.chmod(0o600)
    if encrypted:
        monkeypatch.setenv(KEY_FILE_ENV, str(key_file))  # the accounts go in encrypted too
    make_accounts(db)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)  # the hub gets its key from --key-file alone
    hub = HubProcess(db, free_port(), ["--key-file", str(key_file)] if encrypted else [])
    hub.start()
    try:
        write_restricted_call(hub.url)
        while_running = file_bytes(db)
    finally:
        hub.stop()
    at_rest = file_bytes(db)
    for secret in (ADDRESS, CALLER, NOTE, "argon2id"):
        for content in (while_running, at_rest):
            assert (secret.encode() in content) is not encrypted, secret
    if not encrypted:
        return  # the plain log shows that the check above can see the plaintext
    with_key = audit(db, "--key-file", str(key_file))
    assert with_key.returncode == 0 and "2 events" in with_key.stdout, with_key.stderr
    assert audit(db, env={KEY_ENV: key_file.read_text().strip()}).returncode == 0
    without = audit(db)
    assert without.returncode == 1
    assert without.stderr.strip() == (f"{db} cannot be read: it is encrypted (give its key with --key-file or "
                                      f"{KEY_ENV}) or is not a database")
    wrong = audit(db, env={KEY_ENV: secrets.token_hex(32)})
    assert wrong.returncode == 1 and "cannot be read with the key given" in wrong.stderr
    refused = subprocess.run([sys.executable, "-m", "app.cli", "hub", "--db", str(db), "--port", "0"], cwd=ROOT,
                             capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert refused.returncode == 1 and "it is encrypted" in refused.stderr
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))  # review reads it through the same key
    with Replay(db) as replay:
        assert replay.picture_at(replay.span()[1]).incidents["1001"].caller == CALLER
    monkeypatch.delenv(KEY_FILE_ENV)
    with pytest.raises(ReviewError, match="it is encrypted"):
        Replay(db)


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "db.key"
    key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o644)
    refused = subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify", "--db", str(tmp_path / "x.db"),
                              "--key-file", str(key_file)], cwd=ROOT, capture_output=True, text=True,
                             env={"PYTHONPATH": str(ROOT)})
    assert refused.returncode == 1 and f"chmod 600 {key_file}" in refused.stderr
