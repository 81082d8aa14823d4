#!/usr/bin/env bash
# Run every benchmarks/bench_*.py one after the other and collect what they print.
#
#   bash benchmarks/run_all.sh [OUT_DIR]          # modest settings (a few minutes on 2 cores)
#   FULL=1 bash benchmarks/run_all.sh [OUT_DIR]   # each script's own defaults (tagging up to 3 h of audio)
#
# OUT_DIR (default /tmp/clip2frame-bench-<UTC stamp>) gets <script>.txt per script and all.txt with every
# command line, its output and its exit status. Scripts are run with `timeout` (BENCH_TIMEOUT seconds, default
# 1800) and the run goes on when one fails; the exit status is the number of scripts that failed.
# bench_tagging.py needs a model file: MODEL=path.safetensors, else a randomly initialised thesis-best model
# is written to OUT_DIR (speed does not depend on the weights). Scripts added later are picked up with
# no arguments unless they are listed in args_for below.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=${1:-/tmp/clip2frame-bench-$(date -u +%Y%m%dT%H%M%SZ)}
TIMEOUT=${BENCH_TIMEOUT:-1800}
mkdir -p "$OUT"
ALL="$OUT/all.txt"
: > "$ALL"

if [ -z "${MODEL:-}" ]; then
  MODEL="$OUT/thesis-best-random.safetensors"
  "$PY" - "$MODEL" <<'EOF'
import sys

import numpy as np
import torch

from clip2frame.audio.features import FeatureSpec, Standardizer
from clip2frame.models import PRESETS, Clip2FrameNet
from clip2frame.models.io import TaggerModel, save_model
from clip2frame.tags import MUSIC_TAGS

p = PRESETS["thesis-best"]
spec = FeatureSpec(**p.features)
torch.manual_seed(0)
labels = list(MUSIC_TAGS)
save_model(sys.argv[1], TaggerModel(Clip2FrameNet(p.model, len(labels)).eval(), spec,
                                    Standardizer.identity(spec.n_scales, spec.n_bands), labels, {},
                                    np.full(len(labels), 0.5, np.float32), name="thesis-best-random"))
EOF
fi

args_for() {  # modest settings per script; FULL=1 runs the scripts' defaults
  local name=$1
  if [ -n "${FULL:-}" ]; then
    case $name in
      bench_tagging.py) echo "--model $MODEL" ;;
      *) echo "" ;;
    esac
    return
  fi
  case $name in
    bench_features.py) echo "--seconds 60 --repeats 3 --librosa-repeats 1 --threads 1" ;;
    bench_tagging.py)  echo "--model $MODEL --lengths 60,600 --threads 1" ;;
    bench_synth.py)    echo "--clips 2" ;;
    bench_video.py)    echo "--seconds 5 --threads 1" ;;
    bench_onnx.py)     echo "--minutes 10 --repeats 5 --threads 1" ;;
    bench_train.py)    echo "--steps 3 --threads 1" ;;
    bench_search.py)   echo "--files 2000 --repeats 10" ;;
    bench_ddp.py)      echo "--steps 3 --rounds 2 --nproc 2" ;;
    *) echo "" ;;
  esac
}

failed=0
for script in benchmarks/bench_*.py; do
  name=$(basename "$script")
  cmd="$PY $script $(args_for "$name")"
  {
    echo "================================================================ $name"
    echo "\$ $cmd"
    echo "# started $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  } | tee -a "$ALL"
  start=$(date +%s)
  # shellcheck disable=SC2086
  timeout "$TIMEOUT" $cmd > "$OUT/${name%.py}.txt" 2>&1
  rc=$?
  cat "$OUT/${name%.py}.txt" >> "$ALL"
  tail -n 12 "$OUT/${name%.py}.txt"
  echo "# exit status $rc after $(( $(date +%s) - start )) s" | tee -a "$ALL"
  [ $rc -eq 0 ] || failed=$((failed + 1))
done
echo "# outputs in $OUT ($failed script(s) failed)" | tee -a "$ALL"
exit $failed
