#!/usr/bin/env bash
# Sets up everything Watchfloor needs on Debian 12: system packages (when run as root) and a virtual
# environment in .venv with the project installed. `--test` adds the test extras and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

apt_packages=(
  # Qt's xcb platform plugin, QtWebEngine and QtMultimedia on a bare Debian 12
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xkb1
  libx11-xcb1 libglib2.0-0 libgl1 libegl1 libnss3 libxkbcommon-x11-0 libxcb-cursor0 libxcomposite1
  libxdamage1 libxrandr2 libxtst6 libasound2 libfontconfig1 libdbus-1-3 libpulse0 fonts-dejavu-core
  # a display for `watchfloor demo` on a headless box, and screenshots
  xvfb
  # the demo drone's camera (and any simulated drone's): ffmpeg encodes its live H.264 stream
  ffmpeg
)
if [ "$want_tests" = 1 ]; then
  # PDF rendering; a real browser for the residents' web app tests (driven by Selenium through Debian's driver)
  apt_packages+=(poppler-utils chromium chromium-driver)
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$want_tests" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi
