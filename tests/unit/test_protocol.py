"""The wire protocol's sessions without sockets: what the hub and a console do with each frame."""

from __future__ import annotations

import json

import pytest

from app.domain.authority import QUERIES
from app.domain.picture import Picture
from app.protocol import codes
from app.protocol.client_session import ClientSession
from app.protocol.messages import (
    MAX_EVENTS_FRAME_BYTES,
    MAX_FRAME_BYTES,
    Caught,
    Snapshot,
    Welcome,
    encode,
    events_frame,
    events_frames,
)
from app.protocol.queries import HISTORY_PAGE, QUERY_ARGS, TRACK_POINTS, IncidentHistoryArgs
from app.protocol.server_session import (
    FLOOD_CLOSE_AFTER,
    Answer,
    Authenticate,
    Close,
    Execute,
    RateLimit,
    Send,
    ServerSession,
    StartSubscription,
)

HELLO = json.dumps({"type": "hello", "v": 1, "user": "f1", "password": "pw"})


def ready_session(limit: RateLimit | None = None) -> ServerSession:
    s = ServerSession(limit or RateLimit(rate=100, burst=100))
    assert isinstance(s.receive(HELLO, 0.0)[0], Authenticate)
    assert s.authenticated(True) == []
    return s


def reply(actions: list) -> dict:
    assert len(actions) == 1 and isinstance(actions[0], Send), actions
    return json.loads(actions[0].frame)


def test_hello_must_come_first_and_speak_our_version() -> None:
    s = ServerSession()
    close = s.receive(json.dumps({"type": "subscribe"}), 0.0)[0]
    assert isinstance(close, Close) and close.code == codes.CLOSE_UNAUTHORIZED
    s = ServerSession()
    close = s.receive(json.dumps({"type": "hello", "v": 99, "user": "a", "password": "b"}), 0.0)[0]
    assert isinstance(close, Close) and close.code == codes.CLOSE_UNSUPPORTED_VERSION
    assert "protocol 1" in close.reason
    s = ServerSession()
    assert isinstance(s.receive(b"{not json", 0.0)[0], Close)


def test_bad_credentials_close_with_a_reason() -> None:
    s = ServerSession()
    s.receive(HELLO, 0.0)
    close = s.authenticated(False)[0]
    assert isinstance(close, Close) and close.code == codes.CLOSE_UNAUTHORIZED
    assert s.receive(json.dumps({"type": "ping"}), 0.0) == []


@pytest.mark.parametrize(("frame", "code"), [
    ("{oops", "bad_json"),
    ("[1, 2]", "bad_message"),
    (json.dumps({"type": "teleport"}), "unknown_type"),
    (json.dumps({"type": "command", "name": "unit.position"}), "bad_message"),
    (json.dumps({"type": "subscribe", "since": "yesterday"}), "bad_message"),
])
def test_malformed_frames_get_an_error_with_a_stable_code(frame: str, code: str) -> None:
    s = ready_session()
    first, second = reply(s.receive(frame, 1.0)), reply(s.receive(frame, 1.0))
    assert first["type"] == "error" and first["code"] == code and first["id"] is None and first["message"]
    assert second == first  # the session keeps serving after a bad frame
    assert s.counters[code] == 2


@pytest.mark.parametrize(("args", "code"), [
    ({"unit": 5, "lat": 60, "lon": 24}, "bad_args"),
    ({"unit": "E1", "lat": 60}, "bad_args"),
    ({"unit": "E1", "lat": 60, "lon": 24, "altitude": 3}, "bad_args"),
])
def test_wrong_arguments_reject_the_command_by_id(args: dict, code: str) -> None:
    s = ready_session()
    answer = reply(s.receive(json.dumps({"type": "command", "id": "c1", "name": "unit.position", "args": args}), 1.0))
    assert answer["type"] == "reject" and answer["id"] == "c1" and answer["code"] == code
    answer = reply(s.receive(json.dumps({"type": "command", "id": "c2", "name": "unit.fly", "args": {}}), 1.0))
    assert answer["code"] == "unknown_command" and answer["id"] == "c2"


def test_valid_command_and_subscription_become_actions() -> None:
    s = ready_session()
    frame = {"type": "command", "id": "c1", "name": "unit.status", "args": {"unit": "E1", "status": "en_route"}}
    action = s.receive(json.dumps(frame), 1.0)[0]
    assert isinstance(action, Execute) and action.args.unit == "E1" and action.command.id == "c1"
    assert s.receive(json.dumps({"type": "subscribe", "since": 41}), 1.0) == [StartSubscription(41)]
    assert reply(s.receive(json.dumps({"type": "subscribe"}), 1.0))["code"] == "already_subscribed"
    assert reply(s.receive(json.dumps({"type": "ping", "t": 7}), 1.0)) == {"type": "pong", "t": 7}


def test_a_flood_is_refused_then_closed_and_a_calm_client_is_not() -> None:
    s = ready_session(RateLimit(rate=10, burst=20))
    ping = json.dumps({"type": "ping"})
    answers = [s.receive(ping, 5.0) for _ in range(25)]
    assert sum(1 for a in answers if reply(a).get("code") == "rate_limited") == 5
    closes = [a for _ in range(FLOOD_CLOSE_AFTER) for a in s.receive(ping, 5.0) if isinstance(a, Close)]
    assert len(closes) == 1 and closes[0].code == codes.CLOSE_FLOOD
    assert s.receive(ping, 100.0) == []  # closed: nothing more is handled
    calm = ready_session(RateLimit(rate=10, burst=20))
    assert all(reply(calm.receive(ping, i * 0.2)).get("type") == "pong" for i in range(100))


def test_frame_limit_is_large_enough_for_real_commands_and_small_enough_to_matter() -> None:
    assert 64 * 1024 <= MAX_FRAME_BYTES <= 1024 * 1024


def test_events_frames_stay_within_a_1_mib_client_limit_and_keep_order() -> None:
    big = [json.dumps({"seq": i, "kind": "message.posted", "data": {"text": "x" * 5000}}).encode()
           for i in range(1, 1001)]
    frames = events_frames(big)
    assert len(frames) > 1 and all(len(f) <= MAX_EVENTS_FRAME_BYTES for f in frames)
    seqs = [e["seq"] for f in frames for e in json.loads(f)["events"]]
    assert seqs == list(range(1, 1001))
    small = [json.dumps({"seq": i}).encode() for i in range(1, 5001)]
    assert [len(json.loads(f)["events"]) for f in events_frames(small)] == [2000, 2000, 1000]


def welcome() -> bytes:
    return encode(Welcome(v=1, user="f1", role="dispatcher", agency="fire", head=0, agencies=[]))


def test_client_resends_its_outbox_after_every_welcome_under_the_same_ids() -> None:
    cs = ClientSession("f1", "pw")
    queued = cs.new_command("incident.note", {"incident": "1001", "text": "typed offline"})
    _, replies = cs.receive(welcome())
    assert json.loads(replies[0]) == {"type": "subscribe", "since": None}
    assert json.loads(replies[1])["id"] == queued.id
    # The connection drops before the ack: the next welcome resends the same command, same id.
    _, replies = cs.receive(welcome())
    assert json.loads(replies[1])["id"] == queued.id
    update, _ = cs.receive(json.dumps({"type": "ack", "id": queued.id, "seqs": [5]}))
    assert update.acks[0].seqs == [5] and not cs.outbox


def test_a_held_outbox_waits_for_the_dispatcher_then_goes_under_its_ids_or_never() -> None:
    cs = ClientSession("f1", "pw", hold_outbox=True)
    keep = cs.new_command("unit.assign", {"unit": "E1", "incident": "1001"})
    drop = cs.new_command("unit.assign", {"unit": "E2", "incident": "1001"})
    update, replies = cs.receive(welcome())
    assert [json.loads(r)["type"] for r in replies] == ["subscribe"]  # nothing resent unasked
    assert [o.id for o in update.held] == [keep.id, drop.id] and cs.held == {keep.id, drop.id}
    assert [json.loads(f)["id"] for f in cs.release([keep.id])] == [keep.id]
    assert [o.id for o in cs.drop([drop.id])] == [drop.id]
    assert list(cs.outbox) == [keep.id] and not cs.held
    assert cs.drop([keep.id]) == []  # a confirmed command can no longer be dropped
    # The link drops before the ack: the confirmed command goes again with the next welcome, same id, unasked.
    update, replies = cs.receive(welcome())
    assert update.held == [] and json.loads(replies[1])["id"] == keep.id and len(replies) == 2
    cs.receive(json.dumps({"type": "ack", "id": keep.id, "seqs": [7]}))
    assert not cs.outbox


def test_client_resumes_from_the_last_sequence_and_ignores_repeats() -> None:
    cs = ClientSession("f1", "pw")
    cs.receive(welcome())
    cs.receive(encode(Snapshot(seq=3, picture=Picture(seq=3))))
    event = {"seq": 4, "ts": 10.0, "actor": "f1", "kind": "zone.removed", "data": {"id": "Z-1"}, "audience": None}
    update, _ = cs.receive(events_frame([json.dumps(event).encode()]))
    assert [e.seq for e in update.events] == [4]
    update, _ = cs.receive(events_frame([json.dumps(event).encode()]))
    assert update.events == []  # seen already
    _, replies = cs.receive(welcome())
    assert json.loads(replies[0]) == {"type": "subscribe", "since": 4}
    assert cs.receive(encode(Caught(seq=4)))[0].caught_up


def test_command_and_query_ids_are_bounded() -> None:
    s = ready_session()
    args = {"unit": "E1", "status": "en_route"}
    long_id = "x" * 129
    answer = reply(s.receive(json.dumps({"type": "command", "id": long_id, "name": "unit.status", "args": args}), 1.0))
    assert answer["type"] == "reject" and answer["code"] == "bad_id" and answer["id"] == long_id
    answer = reply(s.receive(json.dumps({"type": "query", "id": long_id, "what": "feeds"}), 1.0))
    assert answer["code"] == "bad_id"
    action = s.receive(json.dumps({"type": "command", "id": "y" * 128, "name": "unit.status", "args": args}), 1.0)[0]
    assert isinstance(action, Execute)


def test_a_hello_refused_for_another_reason_closes_with_its_code() -> None:
    s = ServerSession()
    s.receive(HELLO, 0.0)
    close = s.refused(codes.CLOSE_LOCKED_OUT, "locked_out: a supervisor must unlock this account")[0]
    assert isinstance(close, Close) and close.code == codes.CLOSE_LOCKED_OUT
    assert s.state == "closed" and s.counters["locked_out"] == 1


@pytest.mark.parametrize("frame", [
    '{"type": "command", "id": "d1", "name": "incident.note", "args": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"type": "ping", "t": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"type": "ping", "t": ' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}",
])
def test_json_nested_100k_deep_is_refused_as_too_deep_and_the_session_goes_on(frame: str) -> None:
    """Such a frame once crashed its connection (RecursionError out of the decoder: close 1011)."""
    s = ready_session()
    answer = reply(s.receive(frame, 1.0))
    assert answer["type"] == "error" and answer["code"] == "too_deep" and "nested" in answer["message"]
    assert reply(s.receive(json.dumps({"type": "ping", "t": 1}), 1.0)) == {"type": "pong", "t": 1}
    deep_hello = ServerSession().receive('{"type": "hello", "v": ' + "[" * 100_000 + "]" * 100_000 + "}", 0.0)
    assert isinstance(deep_hello[0], Close) and deep_hello[0].code == codes.CLOSE_PROTOCOL


@pytest.mark.parametrize("polygon", [[[]], [[60.1]], [[60.1, 24.9, 7]], [["a", "b"]]])
def test_a_polygon_corner_that_is_not_a_lat_lon_pair_is_bad_args(polygon: list) -> None:
    s = ready_session()
    frame = {"type": "command", "id": "z1", "name": "zone.create", "args": {"name": "Cordon", "polygon": polygon}}
    answer = reply(s.receive(json.dumps(frame), 1.0))
    assert answer["type"] == "reject" and answer["id"] == "z1" and answer["code"] == "bad_args"


def test_a_client_far_over_its_rate_is_closed_even_though_tokens_trickle_back() -> None:
    """Refusals pile up faster than they drain: a real socket can never send 2,000 frames in the 20 ms one
    token takes to come back, so counting refusals "in a row" never reached the close."""
    s = ready_session(RateLimit(rate=50, burst=200))
    ping = json.dumps({"type": "ping"})
    now, closed = 0.0, None
    for _ in range(20_000):
        now += 0.0002  # 5,000 frames a second, 100 times the limit
        closed = next((a for a in s.receive(ping, now) if isinstance(a, Close)), None)
        if closed is not None:
            break
    assert closed is not None and closed.code == codes.CLOSE_FLOOD
    steady = ready_session(RateLimit(rate=50, burst=200))  # 60/s: refused now and then, never closed
    assert not any(isinstance(a, Close) for i in range(20_000) for a in steady.receive(ping, i / 60))


def test_queries_are_decoded_with_their_arguments_and_bad_ones_refused_by_id() -> None:
    s = ready_session()
    action = s.receive(json.dumps({"type": "query", "id": "q1", "what": "history.incident",
                                   "args": {"incident": "1001", "limit": 50}}), 1.0)[0]
    assert isinstance(action, Answer) and isinstance(action.args, IncidentHistoryArgs)
    assert (action.args.incident, action.args.after, action.args.limit) == ("1001", 0, 50)
    assert isinstance(s.receive(json.dumps({"type": "query", "id": "q2", "what": "feeds"}), 1.0)[0], Answer)
    for query, code, words in [
            ({"what": "history.all"}, "unknown_query", "there is no query 'history.all'"),
            ({"what": "history.picture"}, "bad_args", "missing required field `at`"),
            ({"what": "history.picture", "args": {"at": 1.0, "x": 1}}, "bad_args", "unknown field `x`"),
            ({"what": "history.events", "args": {"t0": 5.0, "t1": 1.0}}, "bad_args", "ends (1.0) before it starts"),
            ({"what": "history.events", "args": {"t0": 0, "t1": 1, "limit": HISTORY_PAGE + 1}}, "bad_args",
             f"limit must be 1 to {HISTORY_PAGE}"),
            ({"what": "history.tracks", "args": {"t0": 0, "t1": 1, "limit": TRACK_POINTS + 1}}, "bad_args",
             f"limit must be 1 to {TRACK_POINTS}"),
            ({"what": "history.incident", "args": {"incident": "1001", "after": -1}}, "bad_args", "after must"),
            ({"what": "feeds", "args": {"verbose": True}}, "bad_args", "unknown field `verbose`")]:
        answer = reply(s.receive(json.dumps({"type": "query", "id": "q3", **query}), 1.0))
        assert (answer["type"], answer["id"], answer["code"]) == ("reject", "q3", code), answer
        assert words in answer["message"], answer


def test_every_query_has_arguments_and_a_role_entry() -> None:
    assert set(QUERY_ARGS) == set(QUERIES)
    assert all(QUERIES[what] for what in QUERIES)
