#!/usr/bin/env bash
# Regenerate requirements.lock from requirements.in: every package, transitive ones included, pinned with
# its hashes (pip-tools' pip-compile, run from a throwaway venv, never from .venv). Non-interactive.
#   bash scripts/lock.sh                     re-resolve; pins already in the lock are kept where possible
#   bash scripts/lock.sh --upgrade           newest versions requirements.in allows
#   bash scripts/lock.sh -P PACKAGE          upgrade one package (any pip-compile option passes through)
# After adding a package to requirements.in (and to pyproject.toml's dependencies or extras), run this,
# then `bash scripts/setup.sh` and commit requirements.in + requirements.lock together.
#
# torch: requirements.in pins 2.13.0, which on the project's machines is the local CPU wheel found through
# pip's find-links (/opt/wheels); the lock then pins torch==2.13.0+cpu with that file's hash, so an install
# from the lock can never pull a CUDA build. Without that wheel the resolver would pick PyPI's CUDA build
# and its nvidia-* packages: this script refuses to write such a lock.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_VERSION=26.3
PIP_TOOLS_VERSION=7.7.0
PY=${PYTHON:-python3}
tool=${CLIP2FRAME_LOCK_VENV:-${TMPDIR:-/tmp}/clip2frame-lock-venv}
if ! "$tool/bin/pip-compile" --version 2>/dev/null | grep -q "version $PIP_TOOLS_VERSION\b"; then
  echo "[lock] creating the lock tool venv $tool (pip-tools $PIP_TOOLS_VERSION)" >&2
  "$PY" -m venv --clear "$tool"
  "$tool/bin/python" -m pip install -q "pip==$PIP_VERSION" "pip-tools==$PIP_TOOLS_VERSION"
fi

new=$(mktemp requirements.lock.XXXXXX)
trap 'rm -f "$new"' EXIT
[ -f requirements.lock ] && cp requirements.lock "$new"  # existing pins are preferred
echo "[lock] resolving requirements.in (a few minutes on a cold cache)" >&2
CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" "$tool/bin/pip-compile" --quiet --generate-hashes \
  --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --output-file "$new" "$@" \
  requirements.in 2> >(grep -v "^WARNING: Location 'file://" >&2)

if ! grep -q '^torch==[^ ]*+cpu ' "$new" || grep -qiE '^(nvidia-|triton==)' "$new"; then
  echo "[lock] refused: torch did not resolve to the local CPU wheel ($(grep '^torch==' "$new" | cut -d' ' -f1));" \
       "is the torch 2.13.0 CPU wheel in pip's find-links?" >&2
  exit 1
fi
mv "$new" requirements.lock
trap - EXIT
echo "[lock] requirements.lock: $(grep -c '^[A-Za-z0-9]' requirements.lock) packages pinned with hashes" >&2
