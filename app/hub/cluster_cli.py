"""`watchfloor cluster up|down|status`: a three-node NATS JetStream cluster on this machine's loopback.

For development and tests of the clustered log (`watchfloor hub --log nats://...`); a real deployment puts one
node per site (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from app.city.loader import data_dir


def default_dir() -> Path:
    """Where the development cluster lives unless --dir says otherwise: under Watchfloor's data folder."""
    return data_dir() / "cluster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor cluster`."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = sub.add_parser("up", help="start three nats-server nodes with JetStream (file storage) on 127.0.0.1")
    up.add_argument("--base-port", type=int, default=4222,
                    help="client ports BASE..BASE+2, routes BASE+100.., monitoring BASE+200.. (4222)")
    sub.add_parser("down", help="stop the nodes (their stores are kept)")
    sub.add_parser("status", help="each node, and the event stream's leader and replicas")
    for action in sub.choices.values():
        action.add_argument("--dir", type=Path, default=None,
                            help="the cluster's folder: configurations, stores, logs (default: "
                                 "<data dir>/watchfloor/cluster)")


def run(args: argparse.Namespace) -> int:
    """0 on success; 1 with a sentence on stderr otherwise."""
    from app.hub.nats_cluster import Cluster, ClusterError

    folder: Path = args.dir or default_dir()
    try:
        if args.action == "up":
            try:
                cluster = Cluster.load(folder)
            except ClusterError:
                cluster = Cluster.plan(folder, args.base_port)
            cluster.start()
            print(f"cluster up in {folder}: nodes {', '.join(n.name for n in cluster.nodes)}")
            print(f"run a hub on it: watchfloor hub --db HUB.db --log {cluster.url}")
            return 0
        cluster = Cluster.load(folder)
        if args.action == "down":
            cluster.stop()
            print(f"cluster down ({folder}; the stores are kept)")
            return 0
        return _status(cluster)
    except ClusterError as exc:
        print(f"watchfloor cluster {args.action}: {exc}", file=sys.stderr)
        return 1


def _status(cluster: object) -> int:
    from app.hub.nats_cluster import Cluster
    from app.store.jetstream import EventStream, StreamUnavailable, parse_log_url

    assert isinstance(cluster, Cluster)
    up = 0
    for node in cluster.nodes:
        varz = cluster.varz(node) if cluster.running(node) else None
        if varz is None:
            print(f"{node.name}  {node.url}  down")
        else:
            up += 1
            print(f"{node.name}  {node.url}  up (pid {node.pid}, {varz.get('connections', 0)} connections, "
                  f"{'healthy' if cluster.healthy(node) else 'not ready'})")
    if not up:
        return 1

    async def stream() -> None:
        events = EventStream(parse_log_url(cluster.url), deadline=5.0)
        try:
            await events.open(create=False)
            state = await events.state()
            print(f"stream {events.stream}: {state.last_seq} events, leader {state.leader}")
            for name, current, offline in state.replicas:
                print(f"  replica {name}: {'offline' if offline else 'current' if current else 'catching up'}")
        except StreamUnavailable as exc:
            print(f"stream: {exc}")
        except Exception as exc:  # no quorum, no stream yet: status reports, it does not fail
            print(f"stream {events.stream}: not available ({type(exc).__name__}: {exc})")
        finally:
            await events.close()

    asyncio.run(stream())
    return 0
