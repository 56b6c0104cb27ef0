"""Bad input against a real hub: each gets a clear error or a close with a reason, is counted, and the hub
keeps serving everyone else with nothing lost."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.client.connection import CommandRefused, HubClient
from app.protocol import codes
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, HubProcess


async def signed_in(hub: HubProcess, user: str = "fire1") -> ClientConnection:
    ws = await connect(hub.url, max_size=None)
    await ws.send(json.dumps({"type": "hello", "v": 1, "user": user, "password": PASSWORD}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def answer(ws: ClientConnection, frame: str | bytes) -> dict:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(10):
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


def command(name: str, args: dict, cid: str | None = "c1") -> str:
    return json.dumps({"type": "command", "id": cid, "name": name, "args": args})


def run(coro) -> None:
    asyncio.run(coro)


def test_malformed_frames_get_clear_errors_and_the_connection_keeps_working(hub: HubProcess) -> None:
    async def scenario() -> None:
        ws = await signed_in(hub)
        assert (await answer(ws, "{not json"))["code"] == "bad_json"
        assert (await answer(ws, '{"type": "warp"}'))["code"] == "unknown_type"
        assert (await answer(ws, '{"type": "command", "id": "x1", "name": 7, "args": {}}'))["code"] == "bad_message"
        wrong_type = await answer(ws, command("incident.create", {"type": "assault", "lat": "north", "lon": 24}, "x2"))
        assert wrong_type == {"type": "reject", "id": "x2", "code": "bad_args", "message": wrong_type["message"]}
        assert "lat" in wrong_type["message"]
        missing = await answer(ws, command("incident.create", {"type": "assault"}, "x3"))
        assert missing["code"] == "bad_args" and "lat" in missing["message"]
        assert (await answer(ws, command("incident.explode", {}, "x4")))["code"] == "unknown_command"
        bad = {"type": "assault", "lat": 123.0, "lon": 24.9}
        out_of_range = await answer(ws, command("incident.create", bad, "x5"))
        assert out_of_range["code"] == "bad_coordinates" and "123" in out_of_range["message"]
        unknown = await answer(ws, command("incident.note", {"incident": "999999", "text": "hello"}, "x6"))
        assert unknown["code"] == "unknown_incident"
        ok = await answer(ws, command("incident.create", {"type": "assault", "lat": 60.17, "lon": 24.94}, "x7"))
        assert ok["type"] == "ack" and ok["id"] == "x7"
        await ws.close()
        reader = LogReader(hub.db)
        assert reader.head() == 1  # only the valid command reached the log

    run(scenario())


def test_wrong_version_bad_password_and_silence_are_closed_with_reasons(hub: HubProcess) -> None:
    async def scenario() -> None:
        ws = await connect(hub.url)
        await ws.send(json.dumps({"type": "hello", "v": 2, "user": "fire1", "password": PASSWORD}))
        code, reason = await closed_with(ws)
        assert code == codes.CLOSE_UNSUPPORTED_VERSION and "protocol 1" in reason
        ws = await connect(hub.url)
        await ws.send(json.dumps({"type": "hello", "v": 1, "user": "fire1", "password": "guess"}))
        code, reason = await closed_with(ws)
        assert code == codes.CLOSE_UNAUTHORIZED and "bad_credentials" in reason
        ws = await connect(hub.url)
        await ws.send(json.dumps({"type": "subscribe"}))
        assert (await closed_with(ws))[0] == codes.CLOSE_UNAUTHORIZED
        await asyncio.sleep(0)
        reader = LogReader(hub.db)
        # The refused sign-in is in the access log (written by the hub's writer thread).
        for _ in range(50):
            if any(r["what"] == "sign_in" and r["outcome"] == "refused" for r in reader.access_log()):
                break
            await asyncio.sleep(0.1)
        assert any(r["user"] == "fire1" and r["outcome"] == "refused" for r in reader.access_log())

    run(scenario())


def test_an_oversize_frame_closes_only_its_sender(hub: HubProcess) -> None:
    async def scenario() -> None:
        bystander = HubClient(hub.url, "police1", PASSWORD)
        bystander.start()
        await bystander.wait_for(lambda: bystander.state == "connected")
        ws = await signed_in(hub)
        huge = command("incident.note", {"incident": "1001", "text": "x" * 400_000})
        await ws.send(huge)
        assert (await closed_with(ws))[0] == codes.CLOSE_TOO_BIG
        ack = await bystander.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94})
        assert ack.seqs == [1]
        await bystander.close()

    run(scenario())


def test_forbidden_commands_are_refused_and_audited(hub: HubProcess) -> None:
    async def scenario() -> None:
        observer = await signed_in(hub, "observer1")
        refused = await answer(observer, command("incident.create", {"type": "assault", "lat": 60.1, "lon": 24.9}))
        assert refused["code"] == "forbidden" and "observer" in refused["message"]
        police = await signed_in(hub, "police1")
        refused = await answer(police, command("alert.issue", {"headline": "x", "areas": []}))
        assert refused["code"] == "forbidden"
        reader = LogReader(hub.db)
        for _ in range(50):
            if len([r for r in reader.access_log() if r["outcome"] == "forbidden"]) >= 2:
                break
            await asyncio.sleep(0.1)
        assert {r["user"] for r in reader.access_log() if r["outcome"] == "forbidden"} == {"observer1", "police1"}
        assert reader.head() == 0

    run(scenario())


def test_a_flooding_client_is_throttled_while_others_are_served(hub: HubProcess) -> None:
    async def scenario() -> None:
        calm = HubClient(hub.url, "police1", PASSWORD)
        calm.start()
        await calm.wait_for(lambda: calm.state == "connected")
        flood = await signed_in(hub, "fire1")
        for _ in range(5000):
            await flood.send('{"type": "ping"}')
        limited, answered, closed = 0, 0, None
        try:
            while answered < 5000:
                message = json.loads(await asyncio.wait_for(flood.recv(), 10))
                answered += 1
                limited += message.get("code") == "rate_limited"
        except ConnectionClosed as exc:
            closed = exc.rcvd.code if exc.rcvd else None
        # Every ping was answered (pong or rate_limited) unless the hub gave up on the flood and closed it.
        assert limited > 1000
        assert answered == 5000 or closed == codes.CLOSE_FLOOD
        ack = await calm.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94})
        assert ack.seqs == [1]
        await calm.close()

    run(scenario())


def test_a_resent_command_is_applied_once_even_after_a_vanished_client(hub: HubProcess) -> None:
    async def scenario() -> None:
        ws = await signed_in(hub)
        frame = command("incident.create", {"type": "gas_leak", "lat": 60.17, "lon": 24.94}, "once-1")
        await ws.send(frame)
        ws.transport.abort()  # vanishes mid-command, before reading the ack
        ws = await signed_in(hub)
        first = await answer(ws, frame)  # the resend after reconnecting
        again = await answer(ws, frame)
        assert first["type"] == again["type"] == "ack" and again["duplicate"] is True
        assert first["seqs"] == again["seqs"] == [1]
        reader = LogReader(hub.db)
        assert reader.head() == 1 and reader.command_seqs("fire1/once-1") == [1]
        # The same id from another user is another command.
        other = await signed_in(hub, "police1")
        assert (await answer(other, frame))["seqs"] == [2]

    run(scenario())


def test_refusals_reach_the_client_api_with_code_and_reason(hub: HubProcess) -> None:
    async def scenario() -> None:
        fire = HubClient(hub.url, "fire1", PASSWORD)
        fire.start()
        with pytest.raises(CommandRefused) as info:
            await fire.call("unit.assign", {"unit": "E99", "incident": "1001"})
        assert info.value.code in ("unknown_incident", "unknown_unit") and info.value.message
        assert not fire.session.outbox  # a refused command is answered, not retried forever
        await fire.close()

    run(scenario())
