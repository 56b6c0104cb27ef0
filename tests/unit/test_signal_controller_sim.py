"""The traffic controller simulator's priority policy, sans-I/O: SREM bytes in, SSEM bytes out."""

from __future__ import annotations

from app.feeds.signal_priority import PriorityRequest, SignalRequest, decode_ssem, encode_srem, its_time
from app.sim.signal_controller import SignalControllers

NOW = 1_795_240_000.0


def srem(station: int, role: str, importance: int, *requests: tuple[int, int, str, float]) -> bytes:
    """(intersection, request id, kind, seconds from NOW the 20 s window opens) per request."""
    parts = []
    for intersection, request_id, kind, opens_in in requests:
        minute, ms = its_time(NOW + opens_in)
        parts.append(PriorityRequest(intersection, request_id, kind, 1, minute, ms, 20_000))
    minute, ms = its_time(NOW)
    return encode_srem(SignalRequest(station, minute, ms, 1, role, importance, f"S{station}", tuple(parts)))


def answers(controllers: SignalControllers, data: bytes, now: float = NOW) -> list[tuple[int, int, str]]:
    reply = controllers.receive(data, now)
    return [] if reply is None else [(s.intersection, s.station, s.status) for s in decode_ssem(reply).statuses]


def test_a_free_intersection_is_granted_and_an_update_extends_the_green() -> None:
    controllers = SignalControllers()
    assert answers(controllers, srem(1, "fire", 14, (7, 1, "request", 10))) == [(7, 1, "granted")]
    first = controllers.held[7].until
    assert answers(controllers, srem(1, "fire", 14, (7, 1, "update", 25))) == [(7, 1, "granted")]
    assert controllers.held[7].until == first + 15


def test_the_more_important_takes_the_crossing_and_the_less_important_is_refused() -> None:
    controllers = SignalControllers()
    assert answers(controllers, srem(2, "police", 10, (7, 1, "request", 10))) == [(7, 2, "granted")]
    assert answers(controllers, srem(1, "fire", 14, (7, 4, "request", 12))) == [(7, 2, "rejected"), (7, 1, "granted")]
    assert answers(controllers, srem(2, "police", 10, (7, 2, "request", 12))) == [(7, 2, "rejected")]
    assert answers(controllers, srem(3, "ambulance", 14, (7, 1, "request", 12))) == [(7, 3, "rejected")]  # equal


def test_a_cancel_or_a_window_gone_by_frees_the_crossing() -> None:
    controllers = SignalControllers()
    answers(controllers, srem(1, "fire", 14, (7, 1, "request", 10), (8, 2, "request", 20)))
    assert answers(controllers, srem(1, "fire", 14, (7, 1, "cancel", 10))) == []  # cancels are not answered
    assert set(controllers.held) == {8}
    assert answers(controllers, srem(2, "police", 10, (8, 1, "request", 60)), now=NOW + 41) == [(8, 2, "granted")]


def test_bad_datagrams_are_counted_and_answer_nothing() -> None:
    controllers = SignalControllers()
    assert controllers.receive(b"\x00\x01garbage", NOW) is None
    assert controllers.refused == 1 and controllers.held == {} and controllers.received == []
