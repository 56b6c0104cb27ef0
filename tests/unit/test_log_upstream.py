"""The sequencer's upstream seam: each batch goes upstream first, in whole commands, then into the local copy;
a sequencer whose head is stale is refused, copies what the other appended, and goes on from the new head.

The upstream here is another real SQLite log (a second `EventLog`) behind the seam's contract; the JetStream
upstream is tested with real nats-server processes in tests/integration/test_clustered_log.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal
from app.domain.events import Event
from app.hub import sequencer as seq_module
from app.hub.sequencer import RecentCommands, Sequencer
from app.store.jetstream import StreamFenced, parse_log_url, whole_commands
from app.store.log import EventLog, LogReader, StoredEvent

SUPER = Actor("s1", Role.SUPERVISOR, "fire")
POLYGON = [(60.17, 24.94), (60.171, 24.94), (60.171, 24.942)]


class SqliteUpstream:
    """A log kept in another SQLite file, refusing any append that does not continue its head."""

    max_batch = 3

    def __init__(self, path: Path) -> None:
        self.log = EventLog(path)
        self.batches: list[list[StoredEvent]] = []

    def extend(self, rows: list[StoredEvent], digests: dict[str, str]) -> None:
        if rows[0].seq != self.log.head_seq + 1:
            raise StreamFenced(f"wrong last sequence: {self.log.head_seq}")
        self.log.append_rows(rows, list(digests.items()))
        self.batches.append(rows)

    def catch_up(self, log_: EventLog) -> int:
        reader = LogReader(self.log.path)
        try:
            rows = reader.stored_events(log_.head_seq, 10_000)
        finally:
            reader.close()
        log_.append_rows([r for r, _ in rows], [(r.command, d) for r, d in rows if r.command and d])
        return len(rows)


def sequencer_on(upstream: SqliteUpstream, local: Path, published: list[Event]) -> Sequencer:
    log = EventLog(local)
    upstream.catch_up(log)
    reader = LogReader(local)
    picture = reader.picture_at()
    reader.close()
    return Sequencer(log, picture, RecentCommands(lambda key: None), published.extend, lambda: 1_795_240_000.0,
                     frozenset({"fire"}), upstream=upstream)


def local_rows(path: Path) -> list[StoredEvent]:
    reader = LogReader(path)
    try:
        return [r for r, _ in reader.stored_events(0, 10_000)]
    finally:
        reader.close()


def test_batches_go_upstream_first_in_whole_commands_of_at_most_its_size(tmp_path: Path) -> None:
    async def scenario() -> None:
        upstream = SqliteUpstream(tmp_path / "upstream.db")
        published: list[Event] = []
        sequencer = sequencer_on(upstream, tmp_path / "local.db", published)
        futures = [sequencer.submit(SUPER, "zone.create", c.CreateZone(f"Cordon {i}", POLYGON), f"s1/{i}")
                   for i in range(7)]  # all sequenced before the flusher runs: one pending batch of 7
        flusher = asyncio.get_running_loop().create_task(sequencer.run())
        applied = await asyncio.gather(*futures)
        assert [a.seqs for a in applied] == [[i] for i in range(1, 8)]
        assert [len(b) for b in upstream.batches] == [3, 3, 1]
        assert local_rows(tmp_path / "local.db") == local_rows(tmp_path / "upstream.db")
        assert [e.seq for e in published] == list(range(1, 8))
        flusher.cancel()
        sequencer.close()

    asyncio.run(scenario())


def test_a_stale_sequencer_is_refused_then_carries_on_after_what_the_other_appended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seq_module, "PROBE_EVERY_S", 0.01)

    async def scenario() -> None:
        upstream = SqliteUpstream(tmp_path / "upstream.db")
        mine: list[Event] = []
        a = sequencer_on(upstream, tmp_path / "a.db", mine)
        b = sequencer_on(upstream, tmp_path / "b.db", [])
        loop = asyncio.get_running_loop()
        flushers = [loop.create_task(s.run()) for s in (a, b)]
        await b.submit(SUPER, "zone.create", c.CreateZone("From B", POLYGON), "s1/b1")
        stale = a.submit(SUPER, "zone.create", c.CreateZone("From a stale head", POLYGON), "s1/a1")
        with pytest.raises(Refusal) as refused:
            await stale
        assert refused.value.code == "unavailable" and "nothing was applied" in refused.value.reason
        while a.alarm is not None:  # the probe copies B's event in and clears the alarm
            await asyncio.sleep(0.01)
        applied = await a.submit(SUPER, "zone.create", c.CreateZone("From A", POLYGON), "s1/a2")
        assert applied.seqs == [2]
        assert [z.name for z in a.picture.zones.values()] == ["From B", "From A"]
        assert [e.seq for e in mine] == [1, 2]  # B's event reached A's consoles too
        assert local_rows(tmp_path / "a.db") == local_rows(tmp_path / "upstream.db")
        for flusher in flushers:
            flusher.cancel()
        for s in (a, b):
            s.close()

    asyncio.run(scenario())


def test_whole_commands_never_splits_a_command_between_appends() -> None:
    def row(seq: int, command: str | None) -> StoredEvent:
        return StoredEvent(seq, 0.0, "u", "k", "{}", None, command, "")

    rows = [row(1, "u/1"), row(2, "u/2"), row(3, "u/2"), row(4, "u/2"), row(5, None)]
    assert whole_commands(rows, 10) == 5
    assert whole_commands(rows, 3) == 1  # u/2's three events go together in the next append
    assert whole_commands(rows, 4) == 4
    assert whole_commands([row(1, None), row(2, None)], 1) == 1


def test_a_log_url_names_every_server_or_is_refused_with_a_sentence() -> None:
    assert parse_log_url("nats://h1:4222,h2:4223,h3") == ["nats://h1:4222", "nats://h2:4223", "nats://h3:4222"]
    assert parse_log_url("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    for wrong in ("h1:4222", "nats://", "nats://h1:port", "nats://h1,,h2", "sqlite:///x.db"):
        with pytest.raises(ValueError, match="--log"):
            parse_log_url(wrong)
