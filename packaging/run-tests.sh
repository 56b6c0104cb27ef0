#!/usr/bin/env bash
# The test suite: lint, layer contracts, then pytest (offscreen Qt; QtWebEngine without the sandbox as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
export QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu"
.venv/bin/ruff check app tests
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
