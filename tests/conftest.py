"""Session-wide test settings.

Built cities go to a fresh data folder of the session (not the user's), and the suite's current city is central
Helsinki, which most tests are written against; tests of other cities name them (`load_city("porto")`).
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure() -> None:
    """Before any test module is imported: isolate city data, pin the city the suite assumes."""
    os.environ.setdefault("WATCHFLOOR_DATA_DIR", tempfile.mkdtemp(prefix="watchfloor-test-data-"))
    os.environ.setdefault("WATCHFLOOR_CITY", "helsinki")
