"""`watchfloor bench sim` smoke test: a tiny load end to end (hub process, simulator, consoles, bench hub).

It prints figures; nothing here asserts a time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("transport", ["field", "ws"])
def test_bench_sim_prints_the_table_with_deliveries(transport: str) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "bench", "sim", "--units", "50", "--seconds", "3",
                           "--consoles", "2", "--transport", transport], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    sim = re.search(rf"^sim {transport} +in +(\d+) ev/s +deliveries +(\d+)/s", done.stdout, re.M)
    hub = re.search(r"^bench hub +in +(\d+) ev/s +deliveries +(\d+)/s", done.stdout, re.M)
    assert sim and hub, done.stdout
    assert int(sim.group(1)) > 0 and int(sim.group(2)) > 0 and int(hub.group(2)) > 0
    assert "ratio sim/hub" in done.stdout
    sent = "cot_tcp" if transport == "field" else "ws"
    assert re.search(rf"by transport \(sent/logged\): .*{sent} \d+/\d+", done.stdout)
