"""Watchfloor as a real package: the wheel carries the city data, web assets and schemas, and an installation
from it (not the source tree) runs the hub and an offscreen console.

The wheel is built from a copy of the sources and installed, non-editable and without its dependencies, into a
fresh virtual environment; the dependencies come from this test's own environment through a path file, so the
test does not download the whole stack again. What is checked is that Watchfloor's own files come from the
wheel: every child runs outside the source tree, without PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import venv
import zipfile
from pathlib import Path

import pytest

from tests.integration.conftest import PASSWORD, ROOT, make_accounts

pytestmark = pytest.mark.slow
SOURCES = ["app", "resources", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md"]


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(
            ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
                   check=True, cwd=tmp_path, timeout=300)
    (wheel,) = tmp_path.glob("watchfloor-*.whl")
    return wheel


def install(wheel: Path, where: Path) -> Path:
    """A fresh venv with the wheel installed; returns its python. Dependencies: this environment's, by .pth."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel)], check=True, timeout=300)
    # After the install (so pip never sees this environment's editable Watchfloor): the dependencies.
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return python


def test_the_wheel_carries_its_files_and_runs_installed(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("app/resources/city/liechtenstein-2015.osm.pbf", "app/resources/city/Helsinki.osm.pbf",
                    "app/resources/web/watchfloor/wf-map.js", "app/resources/web/leaflet/leaflet.js",
                    "app/resources/schemas/CAP-v1.2.xsd", "app/resources/schemas/NENA-EIDO-STA-021.1b-openapi.yaml"):
        assert shipped in names

    python = install(wheel, tmp_path / "venv")
    site = python.parents[1]
    work = tmp_path / "run"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(WATCHFLOOR_DATA_DIR=str(tmp_path / "data"), WATCHFLOOR_CITY="helsinki", QT_QPA_PLATFORM="offscreen",
               WATCHFLOOR_PASSWORD=PASSWORD)

    # Installed, not the checkout: the package and the files it finds (a CAP alert parses against the schema).
    probe = subprocess.run([str(python), "-c", "import app, app.shipped, app.feeds.cap as cap; "
                            "print(app.__file__); print(app.shipped.shipped('city')); print(cap.SCHEMA_PATH)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    for line in probe.stdout.splitlines():
        assert Path(line).is_relative_to(site) and Path(line).exists(), probe.stdout

    # The city is built from the wheel's extract (found where the probe showed).
    watchfloor = site / "bin" / "watchfloor"
    subprocess.run([str(watchfloor), "city", "use", "helsinki"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=300)
    built = json.loads((tmp_path / "data" / "cities" / "helsinki" / "city.json").read_text(encoding="utf-8"))
    assert built["source"]["file"] == "Helsinki.osm.pbf"

    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = subprocess.Popen([str(watchfloor), "hub", "--db", str(db), "--port", "0"], cwd=work, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url: list[str] = []
    listening = threading.Event()

    def read() -> None:
        assert hub.stdout is not None
        for line in hub.stdout:
            if "watchfloor hub listening on " in line:
                url.append(line.rsplit(" ", 1)[1].strip())
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listening.wait(60), "the installed hub did not start"
        console = subprocess.run([str(python), str(Path(__file__).parent / "installed_console.py"), url[0], "90"],
                                 cwd=work, env=env, capture_output=True, text=True, timeout=150)
        assert console.returncode == 0, console.stdout + console.stderr[-3000:]
        report = dict(part.split("=", 1) for part in console.stdout.split("ready ", 1)[1].split())
        assert Path(report["package"]).is_relative_to(site)
        assert Path(report["web"]).is_relative_to(site) and (Path(report["web"]) / "watchfloor" / "wf-map.js").exists()
        assert Path(report["basemap"]).is_relative_to(tmp_path / "data")
        assert report["blocked"] == "0"
    finally:
        hub.terminate()
        assert hub.wait(30) == 0
