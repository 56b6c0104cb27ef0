"""Accounts, lockouts and the command-id memory over real SQLite files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.domain.agencies import Actor, Role
from app.domain.commands import CreateIncident
from app.domain.errors import Refusal
from app.domain.picture import Picture
from app.hub.sequencer import Known, RecentCommands, Sequencer
from app.hub.server import redacted
from app.store.log import EventLog, LogReader, claim_demo_log
from app.store.users import UserStore

PASSWORD = "correct horse battery"


@pytest.fixture
def users(tmp_path: Path):
    store = UserStore(tmp_path / "hub.db")
    yield store
    store.close()


def test_unknown_agencies_and_overlong_names_are_refused(users: UserStore) -> None:
    with pytest.raises(ValueError, match="no agency 'coastguard'"):
        users.add("c1", PASSWORD, Role.DISPATCHER, "coastguard")
    with pytest.raises(ValueError, match="at most 64"):
        users.add("n" * 65, PASSWORD, Role.DISPATCHER, "fire")
    assert users.add("feed9", PASSWORD, Role.FEED, "*").agency == "*"
    assert users.add("coast1", PASSWORD, Role.DISPATCHER, "coast", agencies=["coast"]).agency == "coast"


def test_a_locked_account_is_refused_without_a_password_check_until_unlocked(users: UserStore) -> None:
    users.add("anna", PASSWORD, Role.DISPATCHER, "fire")
    assert users.sign_in("anna", PASSWORD).user is not None
    assert users.lock("anna", 1.0, 10, "192.0.2.7") is True
    assert users.lock("nobody", 1.0, 10, "192.0.2.7") is False  # made-up names are not stored
    check = users.sign_in("anna", PASSWORD)
    assert check.locked and check.user is None
    assert set(users.lockouts()) == {"anna"}
    assert users.unlock("anna") is True and users.unlock("anna") is False
    assert users.sign_in("anna", PASSWORD).user is not None


def test_disable_and_new_password_move_the_generation_and_the_stamp(users: UserStore) -> None:
    users.add("anna", PASSWORD, Role.DISPATCHER, "fire")
    first, stamp = users.generation(), users.sign_in("anna", PASSWORD).stamp
    assert users.stamps() == {"anna": stamp} and len(stamp) == 16 and stamp not in PASSWORD
    users.set_password("anna", "another long password")
    assert users.generation() > first and users.stamps()["anna"] != stamp
    second = users.generation()
    users.set_disabled("anna")
    assert users.generation() > second and "anna" not in users.stamps()


def test_the_demo_claims_only_a_new_log_or_its_own(tmp_path: Path) -> None:
    mine = tmp_path / "demo.db"
    claim_demo_log(mine)  # new: created and marked
    claim_demo_log(mine)  # marked: still the demo's
    foreign = tmp_path / "hub.db"
    UserStore(foreign).close()
    with pytest.raises(ValueError, match="not a demo log"):
        claim_demo_log(foreign)
    claim_demo_log(foreign, own=True)  # the demo's default file, from before logs were marked
    claim_demo_log(foreign)
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, but long enough to have a header of some sort" * 20)
    with pytest.raises(ValueError, match="not a"):
        claim_demo_log(junk)


def test_passwords_are_redacted_from_kept_frames() -> None:
    hello = b'{"type":"hello","v":1,"user":"feed1","password":"s3cret \\" pass"}'
    assert b"s3cret" not in redacted(hello) and b'"password":"[redacted]"' in redacted(hello)
    cut_short = b'{"type": "hello", "password" : "s3cret pa'
    assert b"s3cret" not in redacted(cut_short)
    position = b'{"type":"command","name":"unit.position","args":{"unit":"E1"}}'
    assert redacted(position) == position


def test_command_ids_beyond_memory_are_found_in_the_log_with_their_body(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"

    async def scenario() -> None:
        log = EventLog(db)
        reader = LogReader(db)

        def lookup(key: str) -> Known | None:
            record = reader.command_record(key)
            return Known(*record) if record is not None else None

        recent = RecentCommands(lookup, capacity=2)
        sequencer = Sequencer(log, Picture(), recent, lambda events: None, lambda: 1_700_000_000.0,
                              frozenset({"fire", "police", "medical"}))
        runner = asyncio.create_task(sequencer.run())
        anna = Actor("anna", Role.DISPATCHER, "fire")
        bodies = [CreateIncident("burglary", 60.17 + i / 100, 24.94) for i in range(5)]
        first = [await sequencer.submit(anna, "incident.create", body, f"anna/c{i}") for i, body in enumerate(bodies)]
        assert len(recent) == 2  # only the newest two in memory
        again = await sequencer.submit(anna, "incident.create", bodies[0], "anna/c0")
        assert again.duplicate and again.seqs == first[0].seqs
        with pytest.raises(Refusal) as refused:
            sequencer.submit(anna, "incident.create", bodies[1], "anna/c0")
        assert refused.value.code == "id_reused"
        assert sequencer.committed_seq == 5  # nothing more was applied
        runner.cancel()
        sequencer.close()
        log.close()
        reader.close()

    asyncio.run(scenario())
