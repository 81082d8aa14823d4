#!/usr/bin/env bash
# Print the flag glossary table of docs/CLI.md, rendered from the command-line parsers
# (tests/test_cli_consistency.py checks that docs/CLI.md holds it). With --write, replace the table at the
# end of docs/CLI.md (from its '| flag | meaning | commands |' line on) with the current one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
table=$(PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} "$PY" -c \
    'from clip2frame.cli import build_parser; from clip2frame.cli.flags import glossary_markdown; print(glossary_markdown(build_parser()), end="")')
if [ "${1:-}" = "--write" ]; then
  head=$(grep -n '^| flag | meaning | commands |$' docs/CLI.md | cut -d: -f1)
  { head -n $((head - 1)) docs/CLI.md; printf '%s\n' "$table"; } > docs/CLI.md.tmp && mv docs/CLI.md.tmp docs/CLI.md
else
  printf '%s\n' "$table"
fi
