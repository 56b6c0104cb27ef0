"""PySide6 6.12.0 on CPython 3.11 crashes after a few thousand Signal.emit calls (`bool_dealloc`, exit 134;
see docs/architecture.md). The console emits a frame signal several times a second for a 12-hour shift, so a
PySide6 bump must pass this: 50,000 emits in a fresh interpreter, then a clean exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Source(QObject):
        fired = Signal(object, bool)

    app = QCoreApplication([])
    source = Source()
    seen = []
    source.fired.connect(lambda payload, flag: seen.append(flag))
    for n in range(50_000):
        source.fired.emit({"n": n}, n % 2 == 0)
    assert len(seen) == 50_000, len(seen)
    print("ok")
""")


def test_fifty_thousand_signals_and_a_clean_exit() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
