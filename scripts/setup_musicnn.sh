#!/usr/bin/env bash
# The peer tagger for benchmarks/bench_generalisation.py: musicnn (MTT_musicnn; its weights ship inside
# the wheel) in its own virtual environment — a benchmark dependency only, never of the package or tests.
#   bash scripts/setup_musicnn.sh [VENV_DIR]      (default .venv-musicnn; Python <= 3.11)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-musicnn}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then "$PY" -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c "import musicnn, tensorflow" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "tensorflow-cpu==2.15.*"
  "$VENV/bin/python" -m pip install -q --no-deps musicnn==0.1.0
  "$VENV/bin/python" -m pip install -q librosa "numpy==1.26.4" soundfile
fi
"$VENV/bin/python" -c "import musicnn, tensorflow as tf; print('[musicnn] ready, tensorflow', tf.__version__)"
