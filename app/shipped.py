"""Files shipped with Watchfloor (city extracts, the map's web assets, schemas): the one place that finds them.

An installed wheel carries them inside the package as `app/resources` (setup.py copies them there at build
time); a source checkout or an editable install keeps them in `resources/` at the repository's root. Callers get
real paths: osmium, lxml and Qt WebEngine read files, so Watchfloor is installed unzipped (as pip does).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(*parts: str) -> Path:
    """The path of a shipped file or folder, e.g. `shipped("city", "Helsinki.osm.pbf")`."""
    return _root().joinpath(*parts)


def _root() -> Path:
    installed = Path(str(files("app"))) / "resources"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / "resources"  # the checkout's
