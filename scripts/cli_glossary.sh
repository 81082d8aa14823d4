#!/usr/bin/env bash
# Print the flag glossary table of docs/CLI.md, rendered from the command-line parsers
# (tests/test_cli_consistency.py checks that docs/CLI.md holds it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} "$PY" -c \
    'from clip2frame.cli import build_parser; from clip2frame.cli.flags import glossary_markdown; print(glossary_markdown(build_parser()), end="")'
