"""``clip2frame demo``: render -> train -> evaluate -> report, on the embedded corpus."""
from __future__ import annotations

import argparse

from .flags import flag_help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand's parser (stdlib imports only)."""
    p = sub.add_parser(
        "demo", help="render the embedded corpus, train on clip tags, evaluate per frame, write a report",
        description="The thesis' weak-to-frame experiment on the embedded music corpus: 1.3-3 minutes on a "
                    "2-core CPU (--quick: under 1.5 minutes).",
    )
    p.add_argument("--out", default="demo_report", help=flag_help("--out", "the report directory (default: "
                                                                          "demo_report)"))
    p.add_argument("--quick", action="store_true", help="a small corpus and a few epochs (smoke run)")
    p.add_argument("--hours", type=float, help=flag_help("--hours"))
    p.add_argument("--epochs", type=int, help=flag_help("--epochs", "at most, of the weak model"))
    p.add_argument("--seed", type=int, default=0, help=flag_help("--seed", "default 0"))
    p.add_argument("--jobs", type=int, default=2, help=flag_help("--jobs", "render processes (default 2)"))
    p.add_argument("--video", action="store_true",
                   help="the video demo (thesis ch. 4) instead: 22-24 minutes on a 2-core CPU (--quick: under 1)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame demo``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from dataclasses import replace

    if args.video:
        from ..video.training.demo import run_video_demo

        print(run_video_demo(args.out, quick=args.quick))
        return 0
    from ..experiments.demo import QUICK, DemoSettings, run_demo

    s = QUICK if args.quick else DemoSettings()
    s = replace(s, seed=args.seed, jobs=args.jobs)
    if args.hours:
        s = replace(s, hours=args.hours)
    if args.epochs:
        s = replace(s, epochs=args.epochs)
    report = run_demo(args.out, s, progress=not args.quiet)
    print(report)
    return 0
