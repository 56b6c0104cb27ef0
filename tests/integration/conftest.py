"""A real hub in its own process on 127.0.0.1, over a real SQLite file, that tests can SIGKILL and restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.store.users import UserStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
#: name -> (role, agency): one of each kind of account the tests use.
ACCOUNTS = {
    "fire1": ("dispatcher", "fire"), "police1": ("dispatcher", "police"), "medical1": ("dispatcher", "medical"),
    "super1": ("supervisor", "fire"), "feed1": ("feed", "*"), "observer1": ("observer", "police"),
}


#: Ports handed out below Linux's ephemeral range (32768-60999 by default). A port the kernel picks for
#: ``bind(0)`` comes from that range, which every outgoing connection also draws on; between the test closing its
#: probe socket and the hub binding, a client socket could take it ("Address already in use"). Below the range
#: only listeners bind, and each port is handed out once per test run.
_PORTS = iter(range(20000 + (os.getpid() % 50) * 200, 32768))


def free_port() -> int:
    """A loopback port that is free for both TCP and UDP (feeds listen on both) and not handed out before."""
    for port in _PORTS:
        try:
            with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
                tcp.bind(("127.0.0.1", port))
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port left below the ephemeral range")


class HubProcess:
    """`watchfloor hub` as a child process, restartable on the same database and port."""

    def __init__(self, db: Path, port: int, extra: list[str] | None = None) -> None:
        self.db, self.port, self.extra = db, port, extra or []
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "hub", "--db", str(self.db), "--port", str(self.port), *self.extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def read(proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.output.append(line)
                if "watchfloor hub listening on" in line:  # printed once feeds and feed I/O are up
                    ready.set()

        threading.Thread(target=read, args=(self.proc,), daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise RuntimeError("hub did not start:\n" + "".join(self.output))

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or a power cut of the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


def make_accounts(db: Path) -> None:
    users = UserStore(db)
    for name, (role, agency) in ACCOUNTS.items():
        users.add(name, PASSWORD, role, agency)
    users.close()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    process = HubProcess(db, free_port())
    process.start()
    yield process
    process.stop()
    process.kill()
