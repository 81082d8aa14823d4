"""``clip2frame evaluate``: the thesis' protocol (clip AUC/AP, frame P/R/F1, frame AUC) and event-level metrics
(segment F1, event F1, PSDS) on a dataset split."""
from __future__ import annotations

import argparse

from .flags import add_device, add_model, add_resolution, flag_help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand's parser (stdlib imports only)."""
    p = sub.add_parser(
        "evaluate", help="score a model on a split with frame truth (clip AUC/AP, frame F1/AUC, baseline)",
        description="Evaluate a model on a manifest split: clip-level ROC-AUC/AP against clip tags, and frame-level "
                    "precision/recall/F1 (micro, macro; the model's thresholds) and ROC-AUC against the frame truth, "
                    "with the all-positive baseline; event level: segment-based F1 at 1 s, event-based F1 "
                    "with a 1-s onset collar (sed_eval) and PSDS (sed_scores_eval).",
    )
    add_model(p)
    p.add_argument("--data", required=True, help=flag_help("--data", "a manifest directory"))
    p.add_argument("--split", action="append", help=flag_help("--split", "repeatable (default: test)"))
    add_resolution(p)
    add_device(p)
    p.add_argument("--no-events", action="store_true",
                   help="skip event F1 and PSDS (they need sed_eval and sed_scores_eval; segment F1 stays)")
    p.add_argument("--per-tag", action="store_true", help="also print per-tag F1 and AUC")
    p.add_argument("--json", action="store_true", help=flag_help("--json"))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame evaluate``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json
    import sys
    import tempfile
    import warnings
    from pathlib import Path

    from ..data.manifest import load_manifest
    from ..eval.events import EventMetricsUnavailable, reference_libraries
    from ..eval.protocol import evaluate_split
    from ..infer.predict import resolve_device
    from ..models.io import load_model
    from ..train.data import load_split

    events = not args.no_events
    if events:
        try:
            reference_libraries()
        except EventMetricsUnavailable as e:
            print(f"note: {e}; event-level metrics left out", file=sys.stderr)
            events = False
    device = resolve_device(args.device)
    tagger = load_model(args.model)
    tagger.net.to(device)
    manifest = load_manifest(args.data)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for split in args.split or ["test"]:
            data = load_split(manifest, split, tagger.feature_spec, list(tagger.labels),
                              total_stride=tagger.total_stride, run_dir=Path(tmp), progress=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[split] = evaluate_split(tagger.net, tagger.standardizer, data, list(tagger.labels),
                                            tagger.thresholds, spec=tagger.feature_spec, resolution=args.resolution,
                                            events=events, device=device)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    keys = ["frame_micro_f1", "frame_macro_f1", "frame_auc", "baseline_micro_f1", "baseline_macro_f1",
            "clip_auc_tag", "clip_ap_tag", "segment_f1", "segment_macro_f1"]
    if events:
        keys += ["event_f1_micro", "event_f1_macro", "psds"]
    print("split\t" + "\t".join(keys))
    for split, r in out.items():
        print(split + "\t" + "\t".join(f"{r.get(k, float('nan')):.3f}" for k in keys))
    if args.per_tag:
        for split, r in out.items():
            cols = ["frame_f1", "frame_auc"] + (["event_f1"] if events else [])
            print(f"\n[{split}] tag\t" + "\t".join(cols))
            for lab in tagger.labels:
                print(lab + "".join(f"\t{r.get(f'{c}/{lab}', float('nan')):.3f}" for c in cols))
    return 0
