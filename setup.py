"""Build hook: the wheel carries `resources/` (city extracts, the map's web assets, schemas) as `app/resources`.

The folder stays at the repository's root, where the code has always found it in a checkout (and where other
branches edit it); a wheel has no root, so `build_py` copies the folder into the built package, where
`app.shipped` looks first. Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithResources(build_py):
    """`build_py`, then `resources/` into the built `app` package (an editable install reads the checkout's)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = Path(__file__).resolve().parent / "resources"
        shutil.copytree(source, Path(self.build_lib) / "app" / "resources", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithResources})
