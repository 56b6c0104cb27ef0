"""The event log on a three-node NATS JetStream cluster: real nats-server processes and real hubs on loopback.

A hub on the cluster keeps its log in the replicated stream (contiguous sequence, a chain that verifies); a
second hub on the same stream cannot extend it from a stale head; killing the stream's leader while commands
flow loses no acknowledged command.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.client.connection import CommandRefused, HubClient
from app.hub.nats_cluster import Cluster, Node
from app.store.chain import GENESIS_HASH, chain_hash
from app.store.jetstream import EventStream, parse_log_url
from app.store.log import LogReader, StoredEvent
from tests.integration.conftest import PASSWORD, ROOT, HubProcess, free_port, make_accounts


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = [Node(f"n{i}", free_port(), free_port(), free_port()) for i in (1, 2, 3)]
    running = Cluster(tmp_path / "nats", nodes)
    running.start()
    yield running
    running.stop()


def hub_on(cluster: Cluster, db: Path) -> HubProcess:
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--log", cluster.url])
    hub.start()
    return hub


def stream_rows(cluster: Cluster) -> list[StoredEvent]:
    """Every event the stream holds, read from the cluster itself."""
    async def read() -> list[StoredEvent]:
        stream = EventStream(parse_log_url(cluster.url))
        await stream.open(create=False)
        try:
            head, rows = await stream.last_seq(), []
            while len(rows) < head:
                rows += [row for row, _ in await stream.fetch(len(rows), head)]
            return rows
        finally:
            await stream.close()
    return asyncio.run(read())


def assert_log_is_whole(rows: list[StoredEvent]) -> None:
    """Sequence 1..n with no gap, each event linked to the one before by its SHA-256."""
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS_HASH
    for r in rows:
        prev = chain_hash(prev, r.seq, r.ts, r.actor, r.kind, r.data.encode(),
                          r.audience.encode() if r.audience is not None else None)
        assert r.hash == prev, f"event {r.seq} breaks the chain"


def audit(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify", "--db", str(db)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_hub_on_the_cluster_keeps_its_log_in_the_stream(cluster: Cluster, tmp_path: Path) -> None:
    hub = hub_on(cluster, tmp_path / "hub.db")
    try:
        async def scenario() -> list[str]:
            fire = HubClient(hub.url, "fire1", PASSWORD)
            feed = HubClient(hub.url, "feed1", PASSWORD, subscribe=False)
            for c in (fire, feed):
                c.start()
                await c.wait_for(lambda c=c: c.state == "connected", 30)
            await feed.call("unit.register", {"id": "E11", "agency": "fire", "kind": "engine", "lat": 60.17,
                                              "lon": 24.94})
            ids = []
            for i in range(20):
                ids.append(fire.submit("message.send", {"channel": "all", "text": f"note {i}"})[0])
                assert feed.report("unit.position", {"unit": "E11", "lat": 60.17 + (i + 1) * 1e-4, "lon": 24.94,
                                                     "t": time.time()})
                await fire.wait_for(lambda i=i: "E11" in fire.picture.units and
                                    fire.picture.units["E11"].lat == pytest.approx(60.17 + (i + 1) * 1e-4))
            head = (await fire.call("incident.create", {"type": "structure_fire", "lat": 60.168, "lon": 24.944,
                                                        "address": "Aleksanterinkatu 15"})).seqs[-1]
            await fire.wait_for(lambda: fire.picture.seq >= head)
            assert [m.text for m in fire.picture.messages][-1] == "note 19"
            for c in (fire, feed):
                await c.close()
            return ids
        ids = asyncio.run(scenario())
    finally:
        hub.stop()
    rows = stream_rows(cluster)
    assert_log_is_whole(rows)
    assert [r.kind for r in rows].count("unit.position") == 20
    commands = [r.command for r in rows if r.command is not None and r.kind == "message.posted"]
    assert commands == [f"fire1/{i}" for i in ids]  # every acknowledged message once, in order
    verified = audit(tmp_path / "hub.db")  # the hub's own copy: the same chain, signed at shutdown
    assert verified.returncode == 0, verified.stderr
    assert f"ok: {len(rows)} events" in verified.stdout


def test_a_second_hub_cannot_extend_the_stream_from_a_stale_head(cluster: Cluster, tmp_path: Path) -> None:
    first = hub_on(cluster, tmp_path / "first.db")
    second = hub_on(cluster, tmp_path / "second.db")
    try:
        async def scenario() -> None:
            fire = HubClient(first.url, "fire1", PASSWORD)
            police = HubClient(second.url, "police1", PASSWORD)
            for c in (fire, police):
                c.start()
                await c.wait_for(lambda c=c: c.state == "connected", 30)
            await fire.call("message.send", {"channel": "all", "text": "from the first hub"})
            # The second hub's head is the one it started from: the stream refuses its append.
            with pytest.raises(CommandRefused) as refused:
                await police.call("message.send", {"channel": "all", "text": "from a stale head"})
            assert refused.value.code == "unavailable"
            # It copies what the first hub appended, then sequences after it.
            while True:
                try:
                    await police.call("message.send", {"channel": "all", "text": "after catching up"})
                    break
                except CommandRefused as again:
                    assert again.code == "unavailable"
                    await police.wait_for(lambda: police.picture.seq >= 1, 5)
            await police.wait_for(lambda: [m.text for m in police.picture.messages][-2:] ==
                                  ["from the first hub", "after catching up"])
            for c in (fire, police):
                await c.close()
        asyncio.run(scenario())
    finally:
        first.stop()
        second.stop()
    rows = stream_rows(cluster)
    assert_log_is_whole(rows)
    texts = [r.data for r in rows if r.kind == "message.posted"]
    assert len(texts) == 2 and "from the first hub" in texts[0] and "after catching up" in texts[1]


def test_killing_the_stream_leader_loses_no_acknowledged_command(cluster: Cluster, tmp_path: Path) -> None:
    hub = hub_on(cluster, tmp_path / "hub.db")
    acked: dict[str, list[int]] = {}
    ack_times: list[float] = []
    try:
        async def scenario() -> str:
            fire = HubClient(hub.url, "fire1", PASSWORD, subscribe=False)
            fire.start()
            await fire.wait_for(lambda: fire.state == "connected", 30)
            stop = asyncio.Event()

            async def flow() -> None:
                n = 0
                while not stop.is_set():
                    pending = [fire.submit("message.send", {"channel": "all", "text": f"m{n + k}"})
                               for k in range(5)]
                    n += 5
                    for command_id, future in pending:
                        ack = await asyncio.wait_for(future, 60)
                        acked[command_id] = ack.seqs
                        ack_times.append(time.monotonic())

            task = asyncio.create_task(flow())
            await fire.wait_for(lambda: len(acked) >= 50, 30)
            leader = await leader_name(cluster)
            before = len(acked)
            cluster.kill(cluster.node(leader))
            killed_at = time.monotonic()
            await fire.wait_for(lambda: len(acked) >= before + 100, 60)  # commands go on with two nodes
            stop.set()
            await task
            await fire.close()
            gap = max(b - a for a, b in itertools.pairwise(ack_times) if b >= killed_at)
            print(f"leader {leader} killed: longest wait between two acks after it {gap:.3f} s")
            return leader
        leader = asyncio.run(scenario())
        cluster.start_node(cluster.node(leader))  # back: it catches up from the others
    finally:
        hub.stop()
    rows = stream_rows(cluster)
    assert_log_is_whole(rows)
    in_log = [r.command for r in rows if r.command is not None]
    assert len(in_log) == len(set(in_log))  # no command twice
    by_command = {r.command: r.seq for r in rows if r.command is not None}
    for command_id, seqs in acked.items():
        assert by_command[f"fire1/{command_id}"] == seqs[0]  # every acknowledged command, where it was acked


async def leader_name(cluster: Cluster) -> str:
    stream = EventStream(parse_log_url(cluster.url))
    await stream.open(create=False)
    try:
        state = await stream.state()
    finally:
        await stream.close()
    assert state.leader is not None
    return state.leader


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_a_log_moves_into_the_cluster_and_back_with_its_chain_intact(cluster: Cluster, tmp_path: Path) -> None:
    embedded = tmp_path / "embedded.db"
    make_accounts(embedded)
    hub = HubProcess(embedded, free_port())
    hub.start()

    try:
        asyncio.run(send_messages(hub.url, [f"embedded {i}" for i in range(30)]))
    finally:
        hub.stop()
    assert audit(embedded).returncode == 0
    original = LogReader(embedded)
    before = [row for row, _ in original.stored_events(0, 10_000)]
    original.close()

    moved = cli("log", "import", "--db", str(embedded), "--log", cluster.url)
    assert moved.returncode == 0, moved.stderr
    assert f"imported {len(before)} events" in moved.stdout
    again = cli("log", "import", "--db", str(embedded), "--log", cluster.url)  # resumes: nothing left to move
    assert again.returncode == 0 and "imported 0 events" in again.stdout
    other = tmp_path / "other.db"
    make_accounts(other)
    refused = cli("log", "import", "--db", str(other), "--log", cluster.url)
    assert refused.returncode == 1 and "not this log's" in refused.stderr

    # A hub on the cluster carries the imported log on.
    clustered = hub_on(cluster, tmp_path / "clustered.db")
    try:
        asyncio.run(send_messages(clustered.url, ["on the cluster"]))
    finally:
        clustered.stop()

    exported = tmp_path / "exported.db"
    out = cli("log", "export", "--log", cluster.url, "--db", str(exported))
    assert out.returncode == 0, out.stderr
    assert cli("log", "export", "--log", cluster.url, "--db", str(exported)).returncode == 1  # never overwrites
    assert cli("audit", "checkpoint", "--new-anchor", "--db", str(exported)).returncode == 0
    verified = audit(exported)
    assert verified.returncode == 0, verified.stderr
    assert f"ok: {len(before) + 1} events" in verified.stdout
    back = LogReader(exported)
    after = [row for row, _ in back.stored_events(0, 10_000)]
    back.close()
    assert after[:len(before)] == before  # the same events, the same links
    assert "on the cluster" in after[-1].data


def free_base_port() -> int:
    """A base port whose client, route and monitoring ports (base+i, +100+i, +200+i) are all free now."""
    import socket

    for _ in range(50):
        base = free_port()
        if base > 65_000:
            continue
        try:
            with contextlib.ExitStack() as held:
                for offset in (0, 1, 2, 100, 101, 102, 200, 201, 202):
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no free run of ports")


def test_cluster_up_status_down_on_this_machine(tmp_path: Path) -> None:
    folder = tmp_path / "cluster"
    base = free_base_port()
    running = None
    try:
        up = cli("cluster", "up", "--dir", str(folder), "--base-port", str(base))
        assert up.returncode == 0, up.stderr
        assert f"--log nats://127.0.0.1:{base},127.0.0.1:{base + 1},127.0.0.1:{base + 2}" in up.stdout
        config = (folder / "n1.conf").read_text()
        assert "sync_interval: always" in config and "127.0.0.1" in config
        # A hub makes the stream; status then names its leader and replicas.
        running = Cluster.load(folder)
        stop = hub_on(running, tmp_path / "hub.db")
        stop.stop()
        status = cli("cluster", "status", "--dir", str(folder))
        assert status.returncode == 0, status.stderr
        for name in ("n1", "n2", "n3"):
            assert f"{name}  nats://127.0.0.1:" in status.stdout and "healthy" in status.stdout
        assert "stream WATCHFLOOR_EVENTS: 0 events, leader n" in status.stdout
        assert status.stdout.count("replica n") == 2
    finally:
        down = cli("cluster", "down", "--dir", str(folder))
    assert down.returncode == 0, down.stderr
    assert running is not None and all(n.pid > 0 for n in running.nodes)
    assert not any(running.running(n) for n in running.nodes)  # the processes it started are gone
    assert "down" in cli("cluster", "status", "--dir", str(folder)).stdout


def test_a_hub_whose_cluster_cannot_be_reached_says_so_and_exits(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")
    wrong = cli("hub", "--db", db, "--port", "0", "--log", "127.0.0.1:4222")
    assert wrong.returncode != 0 and "expected nats://HOST:PORT" in wrong.stderr
    nobody = cli("hub", "--db", db, "--port", "0", "--log", f"nats://127.0.0.1:{free_port()}")
    assert nobody.returncode == 1
    assert "cannot reach a NATS server" in nobody.stderr and "Traceback" not in nobody.stderr


def test_a_hub_whose_copy_is_another_log_refuses_to_start_on_the_stream(cluster: Cluster, tmp_path: Path) -> None:
    first = hub_on(cluster, tmp_path / "first.db")
    try:
        asyncio.run(send_messages(first.url, ["on the stream"]))
    finally:
        first.stop()
    elsewhere = tmp_path / "elsewhere.db"  # an embedded log with events of its own
    make_accounts(elsewhere)
    embedded = HubProcess(elsewhere, free_port())
    embedded.start()
    try:
        asyncio.run(send_messages(embedded.url, ["not on the stream", "nor this"]))
    finally:
        embedded.stop()
    ahead = cli("hub", "--db", str(elsewhere), "--port", "0", "--log", cluster.url)
    assert ahead.returncode == 1 and "holds 2 events and the stream WATCHFLOOR_EVENTS only 1" in ahead.stderr
    other = tmp_path / "other.db"
    make_accounts(other)
    lone = HubProcess(other, free_port())
    lone.start()
    try:
        asyncio.run(send_messages(lone.url, ["a different first event"]))
    finally:
        lone.stop()
    differs = cli("hub", "--db", str(other), "--port", "0", "--log", cluster.url)
    assert differs.returncode == 1 and "is not a copy of the stream" in differs.stderr
    assert_log_is_whole(stream_rows(cluster))
    assert len(stream_rows(cluster)) == 1


async def send_messages(url: str, texts: list[str]) -> None:
    fire = HubClient(url, "fire1", PASSWORD, subscribe=False)
    fire.start()
    await fire.wait_for(lambda: fire.state == "connected", 30)
    for text in texts:
        await fire.call("message.send", {"channel": "all", "text": text})
    await fire.close()
