#!/usr/bin/env bash
# Issue #24's ablation grid (training/recipes-v3.yaml: every recipe x seeds 11, 12, 13), one run at a time
# (two cores: runs side by side cost far more than their sum), in an order that makes each finished run
# useful as early as possible: first the seeds of v3 itself (every ablation is paired with v3 seed by seed),
# then no-negatives and v2 (v3 loses to v2 on real recordings: is it the negatives, and v2's own spread?),
# then the other switches that share v3's corpus, then those that need a corpus of their own.
# A run is finished when its generalisation.json exists (the outside axes compare_recipes.py reads), in its
# run directory or in its committed copy: a finished run's small files (config, curve, summary, the two
# benchmark JSONs; not the weights) are copied to training/ablations/<recipe>/seed<N>/ to be committed
# (training/recipes-v3.yaml's committed_run names them). Every step of a run resumes, so a killed queue is
# restarted with the same command and goes on.
#   CLIP2FRAME_WORK=/work/v3work bash scripts/ablations_v3.sh          # the whole grid, resumably
#   ONLY="v3:12 no-negatives:11" bash scripts/ablations_v3.sh          # just these runs, in this order
#   DRY=1 bash scripts/ablations_v3.sh                                 # print what is finished / left
# Then: python benchmarks/compare_recipes.py --ablations training/recipes-v3.yaml --runs training/ablations --seeds 11,12,13
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${CLIP2FRAME_WORK:-default_model_work}
ORDER=(v3:11 v3:12 v3:13
       no-negatives:11 v2:11 no-negatives:12 v2:12 no-negatives:13 v2:13
       no-mean-teacher:11 heldin-selection:11 no-mean-teacher:12 heldin-selection:12
       no-mean-teacher:13 heldin-selection:13
       no-inserts:11 no-distractors:11 no-variety:11
       no-inserts:12 no-distractors:12 no-variety:12
       no-inserts:13 no-distractors:13 no-variety:13)
if [ -n "${ONLY:-}" ]; then read -r -a ORDER <<< "$ONLY"; fi
run_dir() {  # recipe seed -> the run directory train_default_model.sh uses
    if [ "$1" = v3 ] && [ "$2" = 11 ]; then echo training/default-model-v3; else echo "$WORK/runs/$1/seed$2"; fi
}
for item in "${ORDER[@]}"; do
    abl=${item%%:*}; seed=${item##*:}
    dir=$(run_dir "$abl" "$seed")
    kept=training/ablations/$abl/seed$seed
    if [ -f "$dir/generalisation.json" ] || [ -f "$kept/generalisation.json" ]; then
        echo "[ablations] $abl seed $seed: finished ($dir)"; continue
    fi
    if [ -n "${DRY:-}" ]; then echo "[ablations] $abl seed $seed: left ($dir)"; continue; fi
    echo "[ablations] $abl seed $seed: $(date -u +%FT%TZ) start -> $dir" >&2
    RECIPE=v3 ABLATION="$abl" SEED="$seed" CLIP2FRAME_WORK="$WORK" bash scripts/train_default_model.sh
    if [ "$dir" != training/default-model-v3 ]; then
        mkdir -p "$kept"
        for f in config.yaml metrics.csv summary.json generalisation.json generalisation-splits.json; do
            if [ -f "$dir/$f" ]; then cp "$dir/$f" "$kept/$f"; fi
        done
    fi
    echo "[ablations] $abl seed $seed: $(date -u +%FT%TZ) done" >&2
done
