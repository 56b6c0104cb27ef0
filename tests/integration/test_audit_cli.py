"""`watchfloor audit verify` on a log written by a real hub: intact, then one byte edited in the SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys

from app.client.connection import HubClient
from tests.integration.conftest import PASSWORD, ROOT, HubProcess


def audit(db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify", "--db", db], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})


def test_editing_one_byte_of_an_event_is_caught_and_named(hub: HubProcess) -> None:
    async def write_some() -> None:
        fire = HubClient(hub.url, "fire1", PASSWORD)
        fire.start()
        ack = await fire.call("incident.create", {"type": "burglary", "lat": 60.17, "lon": 24.94, "address": "A 1"})
        for text in ("door forced", "suspect left on foot", "K9 requested"):
            await fire.call("incident.note", {"incident": "1001", "text": text})
        assert ack.seqs == [1]
        await fire.close()

    asyncio.run(write_some())
    hub.stop()
    ok = audit(str(hub.db))
    assert ok.returncode == 0 and "4 events" in ok.stdout
    conn = sqlite3.connect(hub.db)
    conn.execute("UPDATE events SET data = replace(data, 'suspect', 'susPect') WHERE seq = 3")
    conn.commit()
    conn.close()
    broken = audit(str(hub.db))
    assert broken.returncode == 1
    assert "event 3" in broken.stderr and "incident.note by fire1" in broken.stderr
