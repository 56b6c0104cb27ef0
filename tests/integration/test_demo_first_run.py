"""The first run: `watchfloor demo` on a machine without a display, and `watchfloor demo --headless`.

Both run the real command line in a child process, as a user would.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from app.client.connection import HubClient
from app.ui.cli_demo import DEMO_PASSWORD
from tests.integration.conftest import ROOT, free_port


def no_display_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a server reached over ssh: no X, no Wayland, no Qt platform chosen."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}


def test_demo_without_a_display_says_what_to_do_in_one_sentence(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--db", str(tmp_path / "demo.db")],
                          cwd=ROOT, env=no_display_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr  # not Qt's abort (134)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no display" in lines[0] and "watchfloor demo --headless" in lines[0]
    assert "xcb" not in done.stderr and not (tmp_path / "demo.db").exists()  # nothing started


def test_console_without_a_display_says_so_too(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "console", "--url", "ws://127.0.0.1:1", "--user",
                           "fire1"], cwd=ROOT, env=no_display_env(tmp_path), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "watchfloor console: there is no display (DISPLAY and WAYLAND_DISPLAY are not set), so no window can "
        "open; run it on a machine with a screen (or under `xvfb-run`)."]


def test_headless_demo_serves_consoles_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "demo", "--headless", "--port", str(port),
                             "--db", str(tmp_path / "demo.db"), "--speed", "30"],
                            cwd=ROOT, env=no_display_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("Ctrl-C stops it"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(90), "".join(output)
        text = "".join(output)
        assert f"--url ws://127.0.0.1:{port} --user fire1" in text
        accounts = re.search(r"accounts \(password (\S+)\): (.*)", text)
        assert accounts and accounts.group(1) == DEMO_PASSWORD
        assert all(name in accounts.group(2) for name in ("fire1", "police1", "medical1", "supervisor1", "pilot1"))

        async def console() -> None:
            # A console as on another machine: signs in with the printed account and sees the live fleet.
            client = HubClient(f"ws://127.0.0.1:{port}", "police1", accounts.group(1))
            client.start()
            try:
                await client.wait_for(lambda: client.state == "connected", 30)
                await client.wait_for(lambda: len(client.picture.units) >= 40, 60)
            finally:
                await client.close()

        asyncio.run(console())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, "".join(output)
        assert "Traceback" not in "".join(output)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


#: What Qt's multimedia and WebEngine, PulseAudio, Vulkan, VA-API and Chromium print on a machine without sound,
#: GPU or session bus (CI's): none of it may reach the demo's terminal.
NOISE = ("qt.multimedia", "PulseAudioService", "Vulkan", "GPU vendor", "GPUInfo", "libva", ":ERROR:")


def test_demo_window_keeps_library_noise_off_the_terminal_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**no_display_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("QT_LOGGING_RULES", None)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "demo", "--db", str(tmp_path / "demo.db"),
                             "--speed", "30"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    flying, open_ = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "drone UAV1 video at" in line:  # the video player loaded
                flying.set()
            if "console open" in line:  # the console is up and Ctrl-C is a clean stop
                open_.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert flying.wait(90) and open_.wait(90), "".join(output)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, "".join(output)
        noisy = [line for line in output if any(word in line for word in NOISE)]
        assert not noisy, "".join(noisy)
        assert "Traceback" not in "".join(output)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
