#!/usr/bin/env bash
# Set up (idempotent), type-check the package (mypy, config in pyproject.toml), then run the whole test
# suite. Extra arguments go to pytest. A type error fails the run before any test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] mypy src/clip2frame" >&2
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
