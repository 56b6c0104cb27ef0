"""wss:// end to end: `watchfloor cert` makes the control room's CA and the hub's certificate, the hub serves
wss:// with it and prints its fingerprint, and every client verifies the hub: with `--ca` it connects; without
the CA, or at an address the certificate does not name, it stops with a clear reason instead of retrying; plain
ws:// is refused. The README's production commands run as written, with a real console signing in over wss://."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app.client.connection import HubClient, client_tls_context
from app.store.log import LogReader
from tests.integration.conftest import PASSWORD, ROOT, HubProcess, free_port, make_accounts
from tests.integration.waiting import until

DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "feeds"
FINGERPRINT = re.compile(r"SHA-256 fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")


def watchfloor(*args: str, cwd: Path = ROOT, stdin: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The `watchfloor` command line as an operator runs it (in a session of its own: no terminal to prompt on,
    so a password prompt reads standard input)."""
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120, start_new_session=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def fingerprint_in(text: str) -> str:
    found = FINGERPRINT.search(text)
    assert found, text
    return found.group(1)


@pytest.fixture
def tls_hub(tmp_path: Path):
    """A hub serving wss:// with a certificate for the name "localhost" from a CA made by `watchfloor cert`."""
    tls = tmp_path / "tls"
    made = watchfloor("cert", "ca", "--dir", str(tls))
    assert made.returncode == 0, made.stderr
    issued = watchfloor("cert", "hub", "--dir", str(tls), "--name", "localhost")
    assert issued.returncode == 0, issued.stderr
    assert (tls / "ca.key").stat().st_mode & 0o777 == 0o600 and (tls / "hub.key").stat().st_mode & 0o777 == 0o600
    again = watchfloor("cert", "hub", "--dir", str(tls), "--name", "localhost")
    assert again.returncode == 1 and "already exist" in again.stderr  # a key is never overwritten
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cert", str(tls / "hub.pem"), "--key", str(tls / "hub.key")])
    hub.start()
    assert fingerprint_in("".join(hub.output)) == fingerprint_in(issued.stdout)
    yield hub, tls
    hub.stop()
    hub.kill()


def test_clients_verify_the_hub_and_an_untrusted_one_is_told_why(tls_hub: tuple[HubProcess, Path]) -> None:
    hub, tls = tls_hub
    secure_url = f"wss://localhost:{hub.port}"

    async def scenario() -> None:
        secure = HubClient(secure_url, "fire1", PASSWORD, ssl_context=client_tls_context(secure_url, tls / "ca.pem"))
        secure.start()
        ack = await secure.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94})
        await secure.wait_for(lambda: secure.picture.seq >= ack.seqs[-1])
        assert secure.state == "connected" and "1001" in secure.picture.incidents
        await secure.close()
        # Without the control room's CA the system trust store does not know the hub: refused, not retried.
        stranger = HubClient(secure_url, "fire1", PASSWORD, backoff_base=0.05)
        stranger.start()
        await stranger.wait_for(lambda: stranger.state == "refused", 30)
        assert "not trusted" in stranger.detail and "--ca" in stranger.detail and stranger.attempts == 0
        await stranger.close()
        # The CA is right but the certificate names "localhost", not 127.0.0.1.
        by_address = f"wss://127.0.0.1:{hub.port}"
        elsewhere = HubClient(by_address, "fire1", PASSWORD, ssl_context=client_tls_context(by_address, tls / "ca.pem"))
        elsewhere.start()
        await elsewhere.wait_for(lambda: elsewhere.state == "refused", 30)
        assert "not for this address" in elsewhere.detail and "127.0.0.1" in elsewhere.detail
        await elsewhere.close()
        plain = HubClient(f"ws://127.0.0.1:{hub.port}", "fire1", PASSWORD, backoff_base=0.05)
        plain.start()
        await plain.wait_for(lambda: plain.attempts >= 2, 30)
        assert plain.state != "connected" and plain.picture.seq == 0
        await plain.close()

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="wss://"):  # a CA for a ws:// URL: the password would go in clear
        client_tls_context(f"ws://localhost:{hub.port}", tls / "ca.pem")


def test_simulator_plays_over_wss_with_the_ca_and_stops_at_once_without(tls_hub: tuple[HubProcess, Path],
                                                                        tmp_path: Path) -> None:
    hub, tls = tls_hub
    password = tmp_path / "pw.txt"
    password.write_text(PASSWORD + "\n")
    sim = ["sim", "--url", f"wss://localhost:{hub.port}", "--user", "feed1", "--password-file", str(password),
           "--units", "3", "--duration", "60", "--speed", "60", "--calls-per-hour", "0"]
    refused = watchfloor(*sim)
    assert refused.returncode == 1 and "not trusted" in refused.stdout, refused.stdout + refused.stderr
    played = watchfloor(*sim, "--ca", str(tls / "ca.pem"))
    assert played.returncode == 0, played.stdout + played.stderr
    registered = re.search(r"^sent: .*\bunit\.register (\d+)", played.stdout, re.M)
    assert registered and int(registered.group(1)) == 3, played.stdout
    reader = LogReader(hub.db)
    try:
        assert len(reader.picture_at().units) == 3
    finally:
        reader.close()


def readme_commands() -> list[list[str]]:
    """The command lines of README.md's "Running it for real" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Running it for real\n+```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no 'Running it for real' sh block"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_readme_production_commands_run_as_written(tmp_path: Path) -> None:
    """CA, hub certificate, an account, the hub and a real console over wss:// (offscreen); then an EIDO import."""
    port = str(free_port())
    # Only what cannot be the same on a test machine changes: directories, the port, the host name (the only
    # one that resolves here is localhost) and the listening address (a test listens on loopback only).
    swaps = {"/var/lib/watchfloor/": f"{tmp_path}/var/", "/etc/watchfloor/": f"{tmp_path}/etc/", "8765": port,
             "hub.example": "localhost", "0.0.0.0": "127.0.0.1"}
    commands = readme_commands()
    written = " ".join(" ".join(c) for c in commands)
    assert all(original in written for original in swaps), written

    def swapped(word: str) -> str:
        for original, here in swaps.items():
            word = word.replace(original, here)
        return word

    steps: dict[str, list[str]] = {}
    for command in commands:
        assert command[0] == ".venv/bin/watchfloor", command
        args = [swapped(word) for word in command[1:]]
        steps[" ".join(args[:2]) if args[0] == "cert" else args[0]] = args
    assert list(steps) == ["cert ca", "cert hub", "user", "hub", "console"], list(steps)
    (tmp_path / "var").mkdir()
    issued = ""
    for name in ("cert ca", "cert hub", "user"):
        done = watchfloor(*steps[name], cwd=tmp_path, stdin=f"{PASSWORD}\n{PASSWORD}\n")  # `user add` prompts twice
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        issued = done.stdout if name == "cert hub" else issued

    hub_args = steps["hub"]
    db = Path(hub_args[hub_args.index("--db") + 1])
    assert hub_args[hub_args.index("--port") + 1] == port
    options = hub_args[1:]
    for flag in ("--db", "--port"):  # HubProcess passes these two itself
        at = options.index(flag)
        del options[at:at + 2]
    hub = HubProcess(db, int(port), options)
    hub.start()
    console_log = tmp_path / "console.log"
    try:
        # HubProcess is ready at websockets' own "listening on" log line; the hub's line with its URL follows.
        asyncio.run(until(lambda: any("watchfloor hub listening on" in line for line in hub.output)))
        started = "".join(hub.output)
        assert f"watchfloor hub listening on wss://127.0.0.1:{port}" in started
        assert fingerprint_in(started) == fingerprint_in(issued)
        with console_log.open("w") as out:
            console = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *steps["console"]], cwd=tmp_path, stdout=out, stderr=out,
                env={**os.environ, "PYTHONPATH": str(ROOT), "WATCHFLOOR_PASSWORD": PASSWORD,
                     "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --disable-gpu",
                     "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                     "XDG_DATA_HOME": str(tmp_path / "data")})
        try:
            def console_signed_in() -> bool:
                assert console.poll() is None, console_log.read_text()
                reader = LogReader(db)
                try:
                    return any(line["user"] == "anna" and line["what"] == "sign_in" and line["outcome"] == "ok"
                               and line["detail"].startswith("watchfloor-console") for line in reader.access_log())
                finally:
                    reader.close()

            asyncio.run(until(console_signed_in, 90))
        finally:
            console.terminate()
            console.wait(15)
        # The same hub takes an EIDO import over wss:// from the same account, trusting the same CA.
        ca = steps["console"][steps["console"].index("--ca") + 1]
        password = tmp_path / "pw.txt"
        password.write_text(PASSWORD + "\n")
        imported = watchfloor("eido", "import", str(DATA / "eido_helsinki_fire.json"), "--hub",
                              f"wss://localhost:{port}", "--ca", ca, "--user", "anna", "--password-file",
                              str(password), "--type", "structure_fire")
        assert imported.returncode == 0 and "created incident 1001" in imported.stdout, imported.stderr
        untrusting = watchfloor("eido", "import", str(DATA / "eido_helsinki_fire.json"), "--hub",
                                f"wss://localhost:{port}", "--user", "anna", "--password-file", str(password))
        assert untrusting.returncode == 1 and "not trusted" in untrusting.stderr, untrusting.stderr
    finally:
        hub.stop()
        hub.kill()
