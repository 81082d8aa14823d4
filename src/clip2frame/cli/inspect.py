"""``clip2frame inspect``: what a model file holds — model card, tags, learned sigma, thresholds, provenance."""
from __future__ import annotations

import argparse

from ..errors import ConfigError
from .flags import add_model, add_model_positional_deprecated, flag_help, model_of


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` subcommand's parser (stdlib imports only)."""
    p = sub.add_parser("inspect", help="print a model's card, tags, learned sigma, thresholds and provenance")
    add_model(p)
    add_model_positional_deprecated(p)
    p.add_argument("--json", action="store_true", help=flag_help("--json"))
    p.add_argument("--plot", metavar="PNG", help="plot sigma against training-set tag count (thesis Fig. 3.4)")
    p.add_argument("--write-card", metavar="CARD.yaml",
                   help="store this model card (YAML or JSON: intended_use, training_data, held_out_results, "
                        "known_limits) in the model file, then print it; the weights are not touched")
    p.add_argument("--out", metavar="PATH", help=flag_help("--out", "with --write-card: a carded copy of the "
                                                                     "model file instead of changing it"))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame inspect``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json

    from ..models.inspect import describe, format_card, plot_sigma
    from ..models.io import read_card, write_card

    model = model_of(args)
    if args.out and not args.write_card:
        raise ConfigError("--out: only with --write-card")
    if args.write_card:
        model = str(write_card(model, read_card(args.write_card, where="--write-card"), out=args.out))
    info = describe(model)
    if args.plot:
        plot_sigma(info, args.plot)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"model      {info['name']} ({info['kind']} model, clip2frame {info['version']})  file: {info['path']}")
    if "network" in info:  # object / action
        print(f"network    {info['network']}" + (f"  target {info['target']}" if info.get("target") else ""))
    else:
        print(f"preset     {info['preset']}  scales {info['win_sizes']}  total stride {info['total_stride']} "
              f"({info['frame_seconds']:.3f} s/frame)  accumulation {info['accumulation']}  pooling {info['pooling']}")
    if "stream_latency" in info:
        lat = info["stream_latency"]
        print(f"listen     latency bound {lat['default_s']:.2f} s (look-ahead {lat['default_lookahead_frames']} "
              f"frames = 4 sigma), exact {lat['exact_s']:.2f} s ({lat['exact_lookahead_frames']} frames), "
              f"minimum {lat['minimum_s']:.2f} s (--max-latency)")
    print(f"trained    {info['provenance'].get('created', '?')}  on {info['provenance'].get('dataset', '?')}  "
          f"best epoch {info['provenance'].get('best_epoch', '?')}")
    print(f"command    {info['provenance'].get('command', '?')}")
    print("\n" + format_card(info["card"]))
    print(f"\n{'tag':28s} {'kind':16s} {'sigma (s)':>9s} {'threshold':>9s} {'train clips':>11s}")
    for t in info["tags"]:
        sig = "-" if t["sigma_s"] is None else f"{t['sigma_s']:.2f}"
        cnt = "" if t["train_count"] is None else str(t["train_count"])
        print(f"{t['tag']:28s} {t['kind']:16s} {sig:>9s} {t['threshold']:9.3f} {cnt:>11s}")
    return 0
