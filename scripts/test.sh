#!/usr/bin/env bash
# Install multiexpect with its test extra (and the Debian packages some tests need), then run
# ruff and the whole test suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
python3 -m ruff check src tests benchmarks examples
python3 -m pytest -q "$@"
