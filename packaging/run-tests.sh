#!/usr/bin/env bash
# The test suite: lint, layer contracts, types, then pytest (offscreen Qt; QtWebEngine without the sandbox as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
export QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu"
.venv/bin/ruff check app tests
.venv/bin/lint-imports
# the layers below the console, typed ([tool.mypy] in pyproject.toml)
.venv/bin/mypy app/domain app/protocol app/store app/feeds app/hub app/client app/city
exec .venv/bin/python -m pytest "$@"
