"""Session-wide test settings.

Built cities go to a fresh data folder of the session (not the user's), removed at the end; the suite's current
city is central Helsinki, which most tests are written against; tests of other cities name them
(`load_city("porto")`).
"""

from __future__ import annotations

import os
import shutil
import tempfile

_made: list[str] = []


def pytest_configure() -> None:
    """Before any test module is imported: isolate city data, pin the city the suite assumes."""
    if "WATCHFLOOR_DATA_DIR" not in os.environ:
        _made.append(tempfile.mkdtemp(prefix="watchfloor-test-data-"))
        os.environ["WATCHFLOOR_DATA_DIR"] = _made[-1]
    os.environ.setdefault("WATCHFLOOR_CITY", "helsinki")


def pytest_unconfigure() -> None:
    """Remove the session's data folder (the cities built in it)."""
    for path in _made:
        shutil.rmtree(path, ignore_errors=True)
