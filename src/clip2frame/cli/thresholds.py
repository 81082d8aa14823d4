"""``clip2frame thresholds``: refit per-tag thresholds on a new target domain (thesis Table 3.2)."""
from __future__ import annotations

import argparse

from .flags import add_model, flag_help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``thresholds`` subcommand's parser (stdlib imports only)."""
    p = sub.add_parser(
        "thresholds", help="refit a model's per-tag thresholds on another dataset",
        description="Fit F1-optimal per-tag thresholds on a split of DATA (on clip predictions of 320-frame "
                    "cuts, the thesis' way, or on frame truth) and write a new model file.",
    )
    add_model(p)
    p.add_argument("--data", required=True, help=flag_help("--data", "a manifest directory"))
    p.add_argument("--split", default="validation", help=flag_help("--split", "fit on it (default: validation)"))
    p.add_argument("--source", choices=("clip320", "frame"), default="clip320")
    p.add_argument("--steps", type=int, default=1000, help="grid size over [0, 1]")
    p.add_argument("--out", required=True, help=flag_help("--out", "the new model file"))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame thresholds``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json
    from dataclasses import replace
    from pathlib import Path

    from ..data.manifest import load_manifest
    from ..models.io import load_model, save_model
    from ..train.config import TrainConfig
    from ..train.data import load_split
    from ..train.thresholds import fit_model_thresholds

    tagger = load_model(args.model)
    manifest = load_manifest(args.data)
    if list(manifest.labels) != list(tagger.labels):
        missing = [t for t in tagger.labels if t not in manifest.labels]
        if missing:
            from ..errors import Clip2FrameError

            raise Clip2FrameError(f"{args.data}: labels differ from the model's (missing {missing[:5]})")
    data = load_split(manifest, args.split, tagger.feature_spec, list(tagger.labels),
                      total_stride=tagger.total_stride, run_dir=Path(args.out).parent)
    cfg = replace(TrainConfig(), data=str(args.data), val_split=args.split, threshold_source=args.source,
                  threshold_steps=args.steps)
    thr = fit_model_thresholds(tagger.net, tagger.standardizer, data, cfg, "cpu")
    new = tagger.with_thresholds(thr, source=f"{args.source} on {args.data}:{args.split}")
    save_model(args.out, new)
    print(json.dumps({"model": args.out, "thresholds": dict(zip(tagger.labels, [round(float(t), 4) for t in thr]))}))
    return 0
