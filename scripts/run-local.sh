#!/usr/bin/env bash
# `make run`: all of Text311 on this machine, no AWS account (docs/local-run.md).
# PORT (default 8311), DATA_DIR (default .local-data), SMTP_PORT (2525) and AWS_PORT (4566) are honoured.
# exec, here and in the Makefile's recipe: no shell stays between make and the run, so make's SIGTERM and
# a terminal's Ctrl-C reach the Python process itself, which stops everything it started (servers and
# threads; it starts no other process) and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  # The Makefile builds .venv before `run`; this covers running the script on its own.
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
fi
exec .venv/bin/python -m localrun --port "${PORT:-8311}" --data-dir "${DATA_DIR:-.local-data}" \
  --smtp-port "${SMTP_PORT:-2525}" --aws-port "${AWS_PORT:-4566}"
