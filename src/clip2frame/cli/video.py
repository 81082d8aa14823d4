"""``clip2frame video synth|train|evaluate``: instrument-playing action detection (thesis ch. 4)."""
from __future__ import annotations

import argparse
import sys

from . import synth_video
from .flags import flag_help
from .synth_video import add_synth_arguments


def register(subparsers) -> None:
    """Add the ``video`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "video", help="instrument-playing action detection in video (render, train, evaluate)",
        description="Thesis ch. 4: sound, object and action models; action targets VT / OT / ST / SOT.")
    sub = p.add_subparsers(dest="video_command", metavar="STEP")
    s = sub.add_parser("synth", help="render the embedded audio-visual corpus",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_synth_arguments(s)
    s.set_defaults(handler=synth_video.run)

    t = sub.add_parser(
        "train", help="train the sound, object or action model",
        description="Train on a video corpus. Action targets: VT (video tags), OT (object map >= u), ST (sound "
                    ">= v), SOT (both); OT/SOT need --object RUN, ST/SOT need --sound RUN. Rerunning the same "
                    "command resumes from RUN/train_state.pt.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--kind", required=True, choices=("sound", "object", "action"), help="which model to train")
    t.add_argument("--data", required=True, metavar="DIR", help=flag_help("--data", "a video corpus (clip2frame "
                                                                                    "video synth)"))
    t.add_argument("--out", required=True, metavar="RUN", help=flag_help("--out", "the run directory"))
    t.add_argument("--target", default="VT", help="action target: VT, OT, ST, SOT or a name like SOT0503")
    t.add_argument("--sound-threshold", type=float, default=None, help="v for ST/SOT")
    t.add_argument("--object-threshold", type=float, default=None, help="u for OT/SOT")
    t.add_argument("--object", dest="object_run", default=None, metavar="RUN",
                   help=flag_help("--object", "for OT, SOT; 'oracle' = boxes from the corpus truth (diagnostic)"))
    t.add_argument("--sound", dest="sound_run", default=None, metavar="RUN",
                   help=flag_help("--sound", "for ST, SOT"))
    t.add_argument("--epochs", type=int, default=None, help=flag_help("--epochs", "default: thesis value per model"))
    t.add_argument("--width", type=float, default=None, help="channel multiplier of the visual FCNs (default 0.125)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=flag_help("--set", "any VideoTrainConfig field, e.g. --set optimizer=adam --set lr=0.001"))
    t.add_argument("--no-resume", action="store_true", help="start over even if RUN/train_state.pt exists")
    t.set_defaults(handler=run_train)

    e = sub.add_parser(
        "evaluate", help="Table 4.8-style evaluation (temporal AUC, pixel distance, hit rate)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--data", required=True, metavar="DIR", help=flag_help("--data", "a video corpus with truth"))
    e.add_argument("--action", nargs="*", default=[], metavar="RUN", help=flag_help("--action"))
    e.add_argument("--object", dest="object_run", default=None, metavar="RUN", help=flag_help("--object"))
    e.add_argument("--sound", dest="sound_run", default=None, metavar="RUN", help=flag_help("--sound"))
    e.add_argument("--split", default="test", help=flag_help("--split"))
    e.add_argument("--stills", type=int, default=0, metavar="N",
                   help="also score the object model's hit rate on N rendered instrument stills (Table 4.7 style)")
    e.add_argument("--out", default=None, metavar="DIR", help=flag_help("--out", "results.{md,csv,json} in DIR"))
    e.set_defaults(handler=run_evaluate)
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])


def run_train(args) -> int:
    """Run ``clip2frame video train``; the exit code."""
    from ..config import apply_overrides, from_dict, to_dict
    from ..video.training.targets import make_target, parse_target
    from ..video.training.config import VideoTrainConfig, default_config
    from ..video.training.training import train

    kw: dict = {}
    if args.kind == "action":
        tgt = args.target.strip().upper()
        if tgt in ("VT", "OT", "ST", "SOT"):
            spec = make_target(tgt, sound_threshold=args.sound_threshold, object_threshold=args.object_threshold)
        else:
            spec = parse_target(tgt)
        kw.update(target=spec.kind, sound_threshold=spec.sound_threshold, object_threshold=spec.object_threshold)
    cfg = default_config(args.kind, epochs=args.epochs, width=args.width, **kw)
    if args.set:
        cfg = from_dict(VideoTrainConfig, apply_overrides(to_dict(cfg), args.set))
    path = train(args.data, args.out, cfg, object_run=args.object_run, sound_run=args.sound_run,
                 command=" ".join(sys.argv), resume=not args.no_resume)
    print(f"best model: {path}")
    return 0


def run_evaluate(args) -> int:
    """Run ``clip2frame video evaluate``; the exit code."""
    from ..errors import ConfigError
    from ..video.training.evaluate import evaluate_corpus, evaluate_stills, format_table, write_results

    if not (args.action or args.object_run or args.sound_run):
        raise ConfigError("video evaluate: give at least one of --action, --object, --sound")
    rows = evaluate_corpus(args.data, action_runs=args.action, object_run=args.object_run,
                           sound_run=args.sound_run, split=args.split)
    if args.stills:
        if not args.object_run:
            raise ConfigError("video evaluate: --stills scores an object model; give --object RUN")
        rows.append(evaluate_stills(args.object_run, n=args.stills))
    print(format_table(rows))
    if args.out:
        path = write_results(args.out, rows, settings={"data": args.data, "action": args.action,
                                                       "object": args.object_run, "sound": args.sound_run,
                                                       "split": args.split})
        print(f"wrote {path}")
    return 0
