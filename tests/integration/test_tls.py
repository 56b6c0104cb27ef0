"""wss:// end to end: a hub started with a certificate serves consoles over TLS, and plain ws:// is refused."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from app.client.connection import HubClient
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts


@pytest.fixture
def tls_hub(tmp_path: Path):
    cert, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cert", str(cert), "--key", str(key)])
    hub.start()
    yield hub, cert
    hub.stop()
    hub.kill()


def test_consoles_connect_over_tls_and_plain_text_is_refused(tls_hub: tuple[HubProcess, Path]) -> None:
    hub, cert = tls_hub
    trust = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        secure = HubClient(f"wss://127.0.0.1:{hub.port}", "fire1", PASSWORD, ssl_context=trust)
        secure.start()
        ack = await secure.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94})
        await secure.wait_for(lambda: secure.picture.seq >= ack.seqs[-1])
        assert secure.state == "connected" and "1001" in secure.picture.incidents
        await secure.close()
        plain = HubClient(f"ws://127.0.0.1:{hub.port}", "fire1", PASSWORD, backoff_base=0.05)
        plain.start()
        await plain.wait_for(lambda: plain.attempts >= 2, 30)
        assert plain.state != "connected" and plain.picture.seq == 0
        await plain.close()

    asyncio.run(scenario())
