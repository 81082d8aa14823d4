"""``clip2frame train``: train a model on clip tags (or, for the oracle, on frame truth)."""
from __future__ import annotations

import argparse

from .flags import flag_help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand's parser (stdlib imports only)."""
    p = sub.add_parser(
        "train", help="train a clip-to-frame model on a dataset's clip tags",
        description="Train on clip-level tags; the run directory gets config.yaml, metrics.csv, "
                    "train_state.pt (resumable) and model.safetensors. Settings: preset -> --config -> --set. "
                    "Data-parallel: torchrun --nproc_per_node=N -m clip2frame train ... (global batch = "
                    "batch_size, split over the N processes; gloo on CPU, nccl on CUDA). Features are cached "
                    "per clip (memory-mapped, resumable); --set num_workers=N reads batches and fills the "
                    "cache in N processes; --set amp=true [amp_dtype=bf16|fp16] for mixed precision on CUDA.",
    )
    p.add_argument("--config", help="YAML file with TrainConfig keys")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=flag_help("--set", "a TrainConfig key, e.g. --set model.pooling=max"))
    p.add_argument("--data", help=flag_help("--data", "a manifest directory (shortcut for --set data=...)"))
    p.add_argument("--out", help=flag_help("--out", "the run directory (shortcut for --set out=...)"))
    p.add_argument("--preset", help=flag_help("--preset", "shortcut for --set preset=..."))
    p.add_argument("--list-presets", action="store_true", help="list the named presets and exit")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame train``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json
    import os

    if args.list_presets:
        from ..models.registry import PRESETS

        for name, p in PRESETS.items():
            print(f"{name}\t{p.description}")
        return 0
    from ..train.config import resolve_config
    from ..train.trainer import train

    overrides = list(args.overrides)
    for key in ("data", "out", "preset"):
        if getattr(args, key):
            overrides.insert(0, f"{key}={getattr(args, key)}")
    cfg = resolve_config(args.config, overrides)
    result = train(cfg, progress=not args.quiet, command="clip2frame train " + " ".join(
        f"--set {o}" for o in overrides))
    if os.environ.get("RANK", "0") != "0":  # torchrun: one summary line, from rank 0
        return 0
    print(json.dumps({"model": str(result.model_path), "best_epoch": result.best_epoch,
                      "best_score": round(result.best_score, 4)}))
    return 0
