#!/usr/bin/env bash
# What the browser tests need beyond requirements-dev.txt, installed once: Debian's chromium and the
# Python Playwright client. `make test` runs this before pytest; running it again does nothing.
# Playwright drives the system chromium (executable_path=/usr/bin/chromium): never `playwright install`,
# whose browser downloads are not available here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
PLAYWRIGHT_VERSION="1.65.2"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "e2e-deps: installing Debian's chromium (once)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # fonts-liberation and fonts-dejavu-core: screenshots show text, not boxes.
  $SUDO apt-get install -y -qq chromium fonts-liberation fonts-dejavu-core >/dev/null
fi

if ! "$PY" -c "import playwright.sync_api" 2>/dev/null; then
  echo "e2e-deps: installing playwright==$PLAYWRIGHT_VERSION into $PY's environment (once)"
  "$PY" -m pip install --quiet "playwright==$PLAYWRIGHT_VERSION"
fi
