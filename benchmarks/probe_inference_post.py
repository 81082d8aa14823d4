"""Probe (issue #24): can inference alone close the gap outside the renderer? Two post-hoc changes, no
retraining, scored on the outside-renderer axes by the same code as ``bench_generalisation.py``:

* ``levelnorm``: each clip's log-mel input shifted, per scale, so that its mean equals the training mean of
  the model's standardiser (a per-clip gain normalisation: a gain is a constant shift of log-mel);
* ``median<W>`` / ``mean<W>``: the frame probabilities filtered over ``W`` model frames (DCASE-style
  post-processing; ``median1`` is the model as it is).

Frame macro-AUC, macro-F1 at the model's own thresholds and segment F1 (1 s) per model, axis and variant;
deterministic (no seed: the models are fixed). Needs the corpora of ``clip2frame synth real|outside``.

    .venv/bin/python benchmarks/probe_inference_post.py --model v2=default \\
        --model v3=training/default-model-v3/model.safetensors --real WORK/eval/real \\
        --outside WORK/eval/outside --work WORK/eval/probe --json results/outside/probe_inference_post.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import print_machine_info  # noqa: E402
from _outside_axes import outside_splits, score_axis  # noqa: E402

from clip2frame.data.manifest import load_manifest  # noqa: E402
from clip2frame.eval.protocol import split_outputs  # noqa: E402
from clip2frame.models.io import load_model  # noqa: E402
from clip2frame.train.data import SplitData, load_split  # noqa: E402

WINDOWS = (3, 5, 9, 15)
KEYS = ("frame_auc", "frame_macro_f1", "segment_f1")


def level_normalised(data: SplitData, target: np.ndarray) -> SplitData:
    """``data`` with each clip's features [S, M, T] shifted per scale to the mean ``target`` [S]."""
    feats = []
    for f in data.feats:
        f = np.asarray(f, np.float32)
        feats.append(f + (target - f.reshape(f.shape[0], -1).mean(1))[:, None, None])
    return SplitData(data.clip_ids, feats, data.clip_labels, data.frame_truth, data.skipped, data.events,
                     data.time_axis)


def variants(tagger, data: SplitData) -> dict[str, list[np.ndarray]]:
    """Frame probabilities of every variant (name -> N x [T_i, K])."""
    _, frames = split_outputs(tagger.net, tagger.standardizer, data)
    out = {"median1": frames}
    for w in WINDOWS:
        out[f"median{w}"] = [median_filter(fr, size=(w, 1), mode="nearest") for fr in frames]
        out[f"mean{w}"] = [uniform_filter1d(fr, w, axis=0, mode="nearest") for fr in frames]
    target = tagger.standardizer.mean.numpy().mean(1)
    out["levelnorm"] = split_outputs(tagger.net, tagger.standardizer, level_normalised(data, target))[1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, metavar="NAME=MODEL")
    ap.add_argument("--real", required=True)
    ap.add_argument("--outside", required=True)
    ap.add_argument("--work", required=True, help="feature cache")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print_machine_info()
    axes = [("real", load_manifest(args.real), "real"),
            ("outside-test", outside_splits(load_manifest(args.outside))["outside-test"], "outside-test")]
    res: dict[str, dict] = {}
    for spec in args.model:
        name, _, path = spec.partition("=")
        tagger = load_model(path)
        for axis, man, split in axes:
            data = load_split(man, split, tagger.feature_spec, tagger.labels, total_stride=tagger.total_stride,
                              run_dir=Path(args.work), progress=False)
            for var, frames in variants(tagger, data).items():
                r, _ = score_axis(tagger, data, frames, man.labels)
                res[f"{name}/{axis}/{var}"] = {k: float(r[k]) for k in KEYS}
    names = ["median1", "levelnorm"] + [f"{f}{w}" for f in ("median", "mean") for w in WINDOWS]
    print("\n| model | axis | " + " | ".join(names) + " |\n|---|---|" + "---|" * len(names))
    for spec in args.model:
        name = spec.partition("=")[0]
        for axis, _, _ in axes:
            cells = [" / ".join(f"{res[f'{name}/{axis}/{v}'][k]:.3f}" for k in KEYS) for v in names]
            print(f"| {name} | {axis} | " + " | ".join(cells) + " |")
    print(f"\ncells: {' / '.join(KEYS)}; median1 = the model as it is")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
