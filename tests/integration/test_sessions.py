"""Sign-ins and live sessions against a real hub process: throttling and lockout, sign-ins that a flood of
guesses cannot starve, sessions closed when their account changes, the demo kept to its own log, no password
kept from a feed's frames, and command ids that are bounded and cannot be reused for another command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.hub.sign_ins import PASSWORD_CHECKS
from app.protocol import codes
from app.store.log import LogReader
from app.store.users import UserStore
from tests.integration.conftest import PASSWORD, ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import signed_in, until


def watchfloor(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`watchfloor ARGS` as an operator runs it, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def hello(url: str, user: str, password: str, host: str = "127.0.0.1") -> tuple[int | None, str, dict]:
    """Sign in once from `host`: (None, "", welcome) when accepted, else the close code and reason."""
    ws = await connect(url, max_size=None, local_addr=(host, 0), open_timeout=60)
    try:
        await ws.send(json.dumps({"type": "hello", "v": 1, "user": user, "password": password}))
        try:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 120))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason, {}
        return None, "", welcome
    finally:
        await ws.close()


async def signed_in_raw(url: str, user: str) -> ClientConnection:
    ws = await connect(url, max_size=None)
    await ws.send(json.dumps({"type": "hello", "v": 1, "user": user, "password": PASSWORD}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def answer(ws: ClientConnection, frame: str) -> dict:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 20))


def command(name: str, args: dict, cid: str) -> str:
    return json.dumps({"type": "command", "id": cid, "name": name, "args": args})


@pytest.fixture
def strict_hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub that locks an account after 3 failures in a row and barely delays refusals (to keep tests quick)."""
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = HubProcess(db, free_port(), ["--lockout-after", "3", "--refusal-delay", "0.01"])
    process.start()
    yield process
    process.stop()
    process.kill()


def test_an_account_locks_after_failures_in_a_row_and_stays_locked_until_unlocked(strict_hub: HubProcess) -> None:
    async def attempts() -> list[int | None]:
        return [(await hello(strict_hub.url, "fire1", f"guess number {i}"))[0] for i in range(3)]

    assert asyncio.run(attempts()) == [codes.CLOSE_UNAUTHORIZED] * 3
    code, reason, _ = asyncio.run(hello(strict_hub.url, "fire1", PASSWORD))
    assert code == codes.CLOSE_LOCKED_OUT and reason.startswith("locked_out:")
    # Other accounts are not locked by it.
    assert asyncio.run(hello(strict_hub.url, "police1", PASSWORD))[0] is None
    # A restart does not clear the lock.
    strict_hub.stop()
    strict_hub.start()
    assert asyncio.run(hello(strict_hub.url, "fire1", PASSWORD))[0] == codes.CLOSE_LOCKED_OUT
    assert "fire1" in watchfloor("user", "--db", str(strict_hub.db), "list").stdout.split("locked")[0]
    unlocked = watchfloor("user", "--db", str(strict_hub.db), "unlock", "fire1")
    assert unlocked.returncode == 0 and "fire1 unlocked" in unlocked.stdout
    assert asyncio.run(hello(strict_hub.url, "fire1", PASSWORD))[0] is None
    # The account starts again from no failures: one mistake does not lock it at once.
    assert asyncio.run(hello(strict_hub.url, "fire1", "one typo"))[0] == codes.CLOSE_UNAUTHORIZED
    assert asyncio.run(hello(strict_hub.url, "fire1", PASSWORD))[0] is None
    reader = LogReader(strict_hub.db)
    try:
        outcomes = [(row["user"], row["what"], row["outcome"]) for row in reader.access_log(100)]
    finally:
        reader.close()
    assert ("fire1", "lockout", "locked") in outcomes and ("fire1", "sign_in", "locked_out") in outcomes
    assert any(what == "user unlock fire1" and outcome == "ok" for _, what, outcome in outcomes)


def test_a_real_user_signs_in_while_64_connections_guess_from_one_address(hub: HubProcess) -> None:
    async def scenario() -> None:
        checked: list[str] = []  # what each answered hello was, in the order the answers came

        async def guesser(n: int) -> None:
            attempt = 0
            while True:
                attempt += 1
                code, _, _ = await hello(hub.url, f"guess{n}-{attempt}", "not the password")
                checked.append("busy" if code == codes.CLOSE_SIGN_IN_BUSY else "guess")
                if code == codes.CLOSE_SIGN_IN_BUSY:
                    await asyncio.sleep(0.05)  # the attacker's own pace after "busy", so the machine keeps up

        guessers = [asyncio.create_task(guesser(n)) for n in range(64)]
        await until(lambda: checked.count("guess") >= 4, timeout=120)
        before = checked.count("guess")
        code, _, welcome = await hello(hub.url, "super1", PASSWORD, host="127.0.0.2")
        during = checked.count("guess") - before
        for task in guessers:  # the guesses still waiting for their (delayed) refusal are simply dropped
            task.cancel()
        await asyncio.gather(*guessers, return_exceptions=True)
        assert code is None and welcome["type"] == "welcome"
        # The flood from 127.0.0.1 could put only its address's couple of checks ahead of the real sign-in
        # (the rest wait their turn, or are told the hub is busy), not 64 Argon2 checks.
        assert during <= 6, f"{during} guesses were answered while the real sign-in waited"
        assert "busy" in checked

    asyncio.run(scenario())


#: Argon2's memory per password check (app.store.users: memory_cost 64 MiB).
ARGON2_MIB = 64


def memory_mib(pid: int) -> dict[str, int]:
    """A process's resident memory now (VmRSS) and at its peak so far (VmHWM), in MiB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    return {name: int(value.split()[0]) // 1024 for name, value in fields.items()}


def test_64_sign_ins_at_once_from_16_addresses_take_the_memory_of_the_check_pool_not_of_64(hub: HubProcess) -> None:
    assert hub.proc is not None
    assert asyncio.run(hello(hub.url, "fire1", PASSWORD))[0] is None
    single = memory_mib(hub.proc.pid)["VmHWM"]  # the peak with one Argon2 check (or start-up's own, if higher)

    async def at_once() -> list[tuple[int | None, str, dict]]:
        return await asyncio.gather(*(hello(hub.url, "fire1", PASSWORD, host=f"127.0.0.{2 + i % 16}")
                                      for i in range(64)))

    answers = asyncio.run(at_once())
    assert [code for code, _, _ in answers] == [None] * 64  # within the queue's bounds every one waits its turn
    peak = memory_mib(hub.proc.pid)["VmHWM"]
    # At most PASSWORD_CHECKS checks hold their 64 MiB at once: one more than the single sign-in's peak had,
    # plus room for 64 connections' buffers. A pool sized by the core count, or a thread per sign-in, goes over.
    assert peak <= single + (PASSWORD_CHECKS - 1) * ARGON2_MIB + 24, (single, peak)


def test_disabling_an_account_or_changing_its_password_closes_its_connections(hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(hub.url, "fire1", "police1", "medical1") as (fire, police, medical):
            done = watchfloor("user", "--db", str(hub.db), "disable", "fire1")
            assert done.returncode == 0, done.stderr
            await fire.wait_for(lambda: fire.state == "refused", 30)
            assert "account_disabled" in fire.detail
            done = watchfloor("user", "--db", str(hub.db), "passwd", "police1", "--password-stdin",
                              stdin="a brand new password\n")
            assert done.returncode == 0, done.stderr
            await police.wait_for(lambda: police.state == "refused", 30)
            assert "password_changed" in police.detail
            ack = await medical.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94})
            assert ack.seqs and medical.state == "connected"  # nobody else was touched
        assert (await hello(hub.url, "police1", "a brand new password"))[0] is None
        assert (await hello(hub.url, "fire1", PASSWORD))[0] == codes.CLOSE_UNAUTHORIZED

    asyncio.run(scenario())


def test_the_demo_refuses_a_log_that_is_not_its_own(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    done = watchfloor("demo", "--db", str(db))
    assert done.returncode != 0 and "is not a demo log" in done.stderr
    users = UserStore(db)
    try:
        assert sorted(u.name for u in users.list()) == sorted(["fire1", "police1", "medical1", "super1", "feed1",
                                                               "observer1"])
    finally:
        users.close()


def test_user_add_refuses_an_unknown_agency(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    done = watchfloor("user", "--db", str(db), "add", "coast1", "--role", "dispatcher", "--agency", "coastguard",
                      "--password-stdin", stdin="long enough password\n")
    assert done.returncode == 1 and "no agency 'coastguard'" in done.stderr
    ok = watchfloor("user", "--db", str(db), "add", "fire9", "--role", "dispatcher", "--agency", "fire",
                    "--password-stdin", stdin="long enough password\n")
    assert ok.returncode == 0, ok.stderr


def test_a_feed_that_repeats_its_hello_has_no_password_kept_or_shown(hub: HubProcess) -> None:
    async def scenario() -> None:
        feed = await signed_in_raw(hub.url, "feed1")
        again = await answer(feed, json.dumps({"type": "hello", "v": 1, "user": "feed1", "password": PASSWORD}))
        assert again["code"] == "unexpected"
        cut_short = await answer(feed, '{"type": "hello", "v": 1, "user": "feed1", "password": "' + PASSWORD[:12])
        assert cut_short["code"] == "bad_json"
        reader = LogReader(hub.db)
        try:
            await until(lambda: len(reader.quarantined("websocket")) >= 2)
            rows = reader.quarantined("websocket")
        finally:
            reader.close()
        supervisor = await signed_in_raw(hub.url, "super1")
        report = await answer(supervisor, json.dumps({"type": "query", "id": "q1", "what": "feeds"}))
        assert report["type"] == "result"
        for text in [repr(row) for row in rows] + [json.dumps(report)]:
            assert PASSWORD[:12] not in text
        assert all(b"[redacted]" in row["raw"] for row in rows)

    asyncio.run(scenario())


def test_long_command_ids_are_refused(hub: HubProcess) -> None:
    async def scenario() -> None:
        ws = await signed_in_raw(hub.url, "fire1")
        args = {"type": "burglary", "lat": 60.17, "lon": 24.94}
        refused = await answer(ws, command("incident.create", args, "x" * 200_000))
        assert refused["type"] == "reject" and refused["code"] == "bad_id"
        assert "at most 128 characters" in refused["message"]
        accepted = await answer(ws, command("incident.create", args, "y" * 128))
        assert accepted["type"] == "ack" and accepted["seqs"] == [1]  # the long one applied nothing

    asyncio.run(scenario())


def test_an_id_reused_for_another_command_is_refused_across_restarts(hub: HubProcess) -> None:
    first = command("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94}, "c-1")
    other = command("incident.create", {"type": "assault", "lat": 60.18, "lon": 24.95}, "c-1")

    async def before_restart() -> None:
        ws = await signed_in_raw(hub.url, "fire1")
        applied = await answer(ws, first)
        assert applied["type"] == "ack" and applied["duplicate"] is False
        again = await answer(ws, first)
        assert again["type"] == "ack" and again["duplicate"] is True and again["seqs"] == applied["seqs"]
        reused = await answer(ws, other)
        assert reused["type"] == "reject" and reused["code"] == "id_reused" and reused["id"] == "c-1"

    async def after_restart() -> None:
        ws = await signed_in_raw(hub.url, "fire1")
        again = await answer(ws, first)
        assert again["type"] == "ack" and again["duplicate"] is True and again["seqs"] == [1]
        reused = await answer(ws, other)
        assert reused["type"] == "reject" and reused["code"] == "id_reused"

    asyncio.run(before_restart())
    hub.kill()  # SIGKILL: nothing but the log survives
    hub.start()
    asyncio.run(after_restart())
    reader = LogReader(hub.db)
    try:
        assert reader.head() == 1
    finally:
        reader.close()
