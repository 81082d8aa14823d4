#!/usr/bin/env bash
# Set up clip2frame on a fresh Debian/Ubuntu machine (idempotent): system packages, .venv, pinned deps.
#   bash scripts/setup.sh            set up
#   CLIP2FRAME_SKIP_APT=1 ...        never touch system packages
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(fluidsynth libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont chromium fonts-noto-color-emoji)
missing=()
# PostgreSQL server binaries: the event-index tests start a throwaway cluster (tests/pg_cluster.py)
APT_PACKAGES+=(postgresql)
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && [ -z "${CLIP2FRAME_SKIP_APT:-}" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "[setup] apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "[setup] missing system packages; run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    echo "[setup] (continuing: rendering and browser tests need them)" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.clip2frame-deps
want=$(cat requirements.lock pyproject.toml | sha1sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing pinned dependencies (requirements.lock)" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and alone: on this project's machines 2.13.0 CPU comes from a local wheel.
  .venv/bin/python -m pip install -q "$(grep '^torch==' requirements.lock)"
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import clip2frame, torch; print(f'[setup] clip2frame {clip2frame.__version__}, torch {torch.__version__}')" >&2
