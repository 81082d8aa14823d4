"""``clip2frame synth video`` (and ``clip2frame video synth``): render the embedded audio-visual corpus."""
from __future__ import annotations

import argparse

from .flags import flag_help


def add_synth_arguments(p: argparse.ArgumentParser) -> None:
    """Add the flags of ``clip2frame video synth`` to ``p``."""
    p.add_argument("--out", required=True, metavar="DIR", help=flag_help("--out", "the corpus directory"))
    p.add_argument("--train", type=int, default=36, help="training videos")
    p.add_argument("--validation", type=int, default=9, help="validation videos")
    p.add_argument("--test", type=int, default=18, help="test videos")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each video")
    p.add_argument("--fps", type=float, default=20.0, help="video frame rate")
    p.add_argument("--size", default="256x192", help="WIDTHxHEIGHT of the videos")
    p.add_argument("--seed", type=int, default=0, help=flag_help("--seed"))
    p.add_argument("--appearance", choices=("fixed", "random"), default="fixed",
                   help="fixed: every video looks alike; random: each video draws its pictures, background, "
                        "players, scale, frame size (--size is then ignored), frame rate, camera and encoding "
                        "from the training pool (clip2frame.video.rendering.appearance)")
    p.add_argument("--heldout-style", type=int, default=0, metavar="N",
                   help="with --appearance random: N more videos in the held-out style (split 'heldout-style')")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=flag_help("--set", "any VideoSynthConfig field, e.g. --set p_offscreen=0.5"))
    p.add_argument("--jobs", type=int, default=1, help=flag_help("--jobs", "render processes (the corpus does not "
                                                                           "depend on it)"))
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register_synth(subparsers) -> None:
    """Add the ``video`` kind to a ``synth`` sub-parser group."""
    p = subparsers.add_parser(
        "video", help="audio-visual corpus: nine instruments being played, with exact truth",
        description="Render scenes of the nine video instruments being played (H.264 + AAC MP4) with per-frame "
                    "sound activity, instrument boxes and playing key points; splits train/validation/test.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_synth_arguments(p)
    p.set_defaults(handler=run)


register = register_synth


def run(args) -> int:
    """Run ``clip2frame video synth``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from ..config import apply_overrides, from_dict, to_dict
    from ..errors import ConfigError
    from ..video.rendering.corpus import render_corpus
    from ..video.rendering.settings import VideoSynthConfig

    try:
        w, h = (int(v) for v in str(args.size).lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size '{args.size}': expected WIDTHxHEIGHT, e.g. 256x192") from None
    if w % 2 or h % 2 or max(w, h) != 256:
        raise ConfigError(f"--size '{args.size}': width and height must be even and the long side 256")
    base = to_dict(VideoSynthConfig(n_train=args.train, n_validation=args.validation, n_test=args.test,
                                    duration_s=args.seconds, fps=args.fps, width=w, height=h, seed=args.seed,
                                    appearance=args.appearance, n_heldout_style=args.heldout_style))
    cfg = from_dict(VideoSynthConfig, apply_overrides(base, args.set))
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: expected at least 1")
    out = render_corpus(args.out, cfg, progress=not (args.no_progress or args.quiet), jobs=args.jobs)
    print(f"wrote {cfg.n_train + cfg.n_validation + cfg.n_test + cfg.n_heldout_style} videos to {out}")
    return 0
