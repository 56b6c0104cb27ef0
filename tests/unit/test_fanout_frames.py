"""Frames by time, not by commit: the real `FanOut` and `Subscriber` pumps on an asyncio loop, sending into lists
(the websocket's place); every guarantee of the per-commit fan-out kept."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import msgspec

from app.domain.events import Event
from app.domain.picture import Viewer
from app.hub.fanout import FRAME_INTERVAL, MAX_FRAME_INTERVAL, FanOut, Subscriber
from app.protocol.messages import Events, decode_hub


async def never(*_: object) -> None:
    raise AssertionError("not closed")


def position(seq: int, unit: str = "E1") -> Event:
    return Event(seq, float(seq), "gw", "unit.position", {"unit": unit, "lat": 60.0 + seq / 1e4, "lon": 24.9,
                                                          "t": float(seq)})


def note(seq: int) -> Event:
    return Event(seq, float(seq), "fire1", "message.sent", {"channel": "all", "text": f"note {seq}"})


def collector(into: list[bytes], delay: float = 0.0) -> Callable[[bytes], Awaitable[None]]:
    async def send(frame: bytes) -> None:
        if delay:
            await asyncio.sleep(delay)  # a slow link: the send takes this long
        into.append(frame)
    return send


def delivered(sent: list[bytes], seq: int) -> bool:
    return seq in {s for frame in sent for s in seqs(frame)}


def seqs(frame: bytes) -> list[int]:
    message = decode_hub(frame)
    assert isinstance(message, Events)
    return [e.seq for e in message.events]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def console(fanout: FanOut, sent: list[bytes], viewer: Viewer, interval: float = FRAME_INTERVAL,
            delay: float = 0.0) -> tuple[Subscriber, asyncio.Task[None]]:
    subscriber = Subscriber(viewer, collector(sent, delay), never, 0, 10**6, interval=interval, frames=fanout.frames)
    fanout.subscribers.add(subscriber)
    subscriber.go_live()
    return subscriber, asyncio.get_running_loop().create_task(subscriber.pump())


def test_twenty_commits_within_an_interval_reach_each_console_as_one_shared_frame() -> None:
    async def scenario() -> None:
        fanout = FanOut(lambda _: None)
        fire: list[bytes] = []
        police: list[bytes] = []
        tasks = [console(fanout, fire, Viewer("fire"), interval=1.0)[1],
                 console(fanout, police, Viewer("police"), interval=1.0)[1]]
        for seq in range(1, 21):  # twenty group commits, one event each
            fanout.publish([note(seq) if seq % 5 == 0 else position(seq, f"E{seq % 3}")])
            await asyncio.sleep(0)
        await until(lambda: bool(fire) and bool(police))
        # Per commit, each console would have had twenty frames; by time it has one, positions coalesced per
        # unit (the last fix of each of E0, E1, E2) and every message kept, in commit order.
        assert len(fire) == 1 and seqs(fire[0]) == [5, 10, 15, 17, 18, 19, 20]
        assert police[0] is fire[0]  # the same events in the same form: one frame, built once
        for task in tasks:
            task.cancel()

    asyncio.run(scenario())


def test_an_answer_goes_at_once_behind_the_events_before_it() -> None:
    async def scenario() -> None:
        fanout = FanOut(lambda _: None)
        sent: list[bytes] = []
        subscriber, task = console(fanout, sent, Viewer("fire"), interval=3600.0)  # the tick would be an hour
        fanout.publish([note(1), note(2)])
        subscriber.reply(b'{"type":"ack","id":"c1","seqs":[2]}')
        await until(lambda: len(sent) == 2)
        assert seqs(sent[0]) == [1, 2] and sent[1].startswith(b'{"type":"ack"')
        task.cancel()

    asyncio.run(scenario())


def test_a_console_whose_sends_take_long_gets_longer_intervals_and_shorter_again_when_it_keeps_up() -> None:
    async def scenario() -> None:
        fanout = FanOut(lambda _: None)
        sent: list[bytes] = []
        slow, task = console(fanout, sent, Viewer("fire"), delay=MAX_FRAME_INTERVAL)
        seq = 0
        while slow.interval < MAX_FRAME_INTERVAL:  # each send outlasts the interval: it is behind
            seq += 1
            fanout.publish([note(seq)])
            await until(functools.partial(delivered, sent, seq))
        assert slow.interval == MAX_FRAME_INTERVAL and len(sent) <= 3
        task.cancel()
        fast, task = console(fanout, [], Viewer("fire"))
        fast.interval = MAX_FRAME_INTERVAL
        while fast.interval > FRAME_INTERVAL:  # sends that take no time: back to the shortest
            seq += 1
            fanout.publish([note(seq)])
            await until(lambda: fast.frames_sent >= 1 and not fast.queue)
            await asyncio.sleep(0)
        assert fast.interval == FRAME_INTERVAL
        task.cancel()

    asyncio.run(scenario())


def test_frames_hold_what_a_console_may_see_in_its_own_form() -> None:
    async def scenario() -> None:
        fanout = FanOut(lambda _: None)
        fire: list[bytes] = []
        police: list[bytes] = []
        tasks = [console(fanout, fire, Viewer("fire"), interval=0.2)[1],
                 console(fanout, police, Viewer("police"), interval=0.2)[1]]
        secret = Event(1, 1.0, "fire1", "message.sent", {"channel": "all", "text": "fire only"}, audience=["fire"])
        fanout.publish([secret, note(2)])
        await until(lambda: bool(fire) and bool(police))
        assert seqs(fire[0]) == [1, 2]
        shown = [msgspec.json.decode(frame)["events"] for frame in police]
        assert all("fire only" not in str(events) for events in shown)
        for task in tasks:
            task.cancel()

    asyncio.run(scenario())
