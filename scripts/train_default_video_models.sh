#!/usr/bin/env bash
# Build the packaged video models (src/clip2frame/assets/video_{sound,object,action}.safetensors): the sound,
# object and SOT0503 action models of thesis ch. 4, trained with the recipe of `clip2frame demo --video` on
# the embedded audio-visual corpus (240 train / 16 validation / 18 test videos of 8 s, seed 2), evaluated on
# its test split (WORK/evaluation/results.md) and stored as float16 with their command, settings and model
# card in the metadata (`clip2frame inspect --model src/clip2frame/assets/video_action.safetensors`).
# About 15-20 minutes on a 2-core CPU; every step resumes (render skips written videos, runs resume from
# train_state.pt). QUICK=1: the demo's quick settings (a smoke run of a minute, models not worth shipping).
#   bash scripts/train_default_video_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${CLIP2FRAME_WORK:-default_video_models_work}
"$PY" -m clip2frame.video.training.default_models --out "$WORK" --assets src/clip2frame/assets ${QUICK:+--quick}
