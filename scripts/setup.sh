#!/usr/bin/env bash
# Set up clip2frame on a fresh Debian/Ubuntu machine (idempotent): system packages, .venv, pinned deps.
#   bash scripts/setup.sh            set up
#   CLIP2FRAME_SKIP_APT=1 ...        never touch system packages
#   CLIP2FRAME_APT_LOCK_TIMEOUT=S    seconds to wait for a dpkg lock held by another apt (default 600)
# Python packages come from requirements.lock (every package pinned, hash-checked); to change them, edit
# requirements.in and run scripts/lock.sh (CONTRIBUTING.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# Soundfonts and drum kits of the timbre-randomised renderer (synth-music-4); MuseScore General and TimGM6mb
# are held out (evaluation splits only). See src/clip2frame/data/synth/timbres.py.
APT_PACKAGES=(fluidsynth libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont fluidr3mono-gm-soundfont
              csound-soundfont opl3-soundfont musescore-general-soundfont-small hydrogen-drumkits
              chromium fonts-noto-color-emoji)
missing=()
# PostgreSQL server binaries: the event-index tests start a throwaway cluster (tests/pg_cluster.py)
APT_PACKAGES+=(postgresql)
# Evaluation-only material of the outside-renderer axes (issue #24; `clip2frame synth real|nonmusic`; the
# timbre pools refuse it for training): recorded samples and speech synthesisers.
APT_PACKAGES+=(freepats sonic-pi-samples lmms-common espeak-ng festival festvox-kallpc16k)
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && [ -z "${CLIP2FRAME_SKIP_APT:-}" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "[setup] apt-get install ${missing[*]}" >&2
    # On a machine just booted, unattended upgrades may hold the dpkg lock: wait for it, don't fail.
    lock_wait=(-o "DPkg::Lock::Timeout=${CLIP2FRAME_APT_LOCK_TIMEOUT:-600}")
    echo "[setup] (waiting up to ${CLIP2FRAME_APT_LOCK_TIMEOUT:-600} s for the apt/dpkg lock if another package manager holds it)" >&2
    apt-get "${lock_wait[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive apt-get "${lock_wait[@]}" install -y -qq "${missing[@]}" >/dev/null
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
  echo "[setup] installing the locked dependencies (requirements.lock, hash-checked)" >&2
  .venv/bin/python -m pip install -q "pip==26.3"
  # torch==2.13.0+cpu is the local CPU wheel of the project's machines (pip's find-links); its hash is in
  # the lock, so no CUDA build can come instead.
  if ! .venv/bin/python -m pip install -q --require-hashes -r requirements.lock; then
    echo "[setup] installing requirements.lock failed (a torch 2.13.0+cpu error means its CPU wheel is not" \
         "in pip's find-links, e.g. PIP_FIND_LINKS=/opt/wheels)" >&2
    exit 1
  fi
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import clip2frame, torch; print(f'[setup] clip2frame {clip2frame.__version__}, torch {torch.__version__}')" >&2
