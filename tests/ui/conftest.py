"""Shared set-up for UI tests: headless Qt, Qt WebEngine without a sandbox, and a JS-evaluation helper."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

# Qt WebEngine needs its URL schemes declared and its module imported before the QApplication exists.
import app.ui.map  # noqa: F401


@pytest.fixture
def js_eval(qtbot) -> Callable[..., Any]:
    """``js_eval(page, script)``: run a script in a QWebEnginePage and return its decoded result.

    Scripts must return a JSON string (Qt hands JS objects back as '').
    """

    def evaluate(page, script: str, timeout: int = 5000) -> Any:
        box: list[Any] = []
        page.runJavaScript(script, 0, box.append)
        qtbot.waitUntil(lambda: bool(box), timeout=timeout)
        return json.loads(box[0]) if isinstance(box[0], str) and box[0] else box[0]

    return evaluate
