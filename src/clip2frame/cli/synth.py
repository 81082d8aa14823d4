"""``clip2frame synth <kind>``: render the embedded corpora.

``music`` (here) renders the FluidSynth music corpus. Other kinds live in their own modules
``clip2frame/cli/synth_<kind>.py`` (e.g. ``synth_video``, ``synth_everyday``) exposing
``register(kind_subparsers)``, which adds one parser with ``handler=run``; they are picked up here when
present, so adding a kind touches no shared file.
"""
from __future__ import annotations

import argparse
import importlib

from .flags import flag_help

OTHER_KINDS = ("video", "everyday", "outside")


def register(subparsers) -> None:
    """Add the ``synth`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "synth", help="render an embedded training corpus (music, ...)",
        description="Render an embedded corpus with exact frame-level truth into a manifest directory.")
    kinds = p.add_subparsers(dest="synth_kind", metavar="KIND")
    m = kinds.add_parser(
        "music", help="FluidSynth + music21 music corpus (13 instruments + fast/slow)",
        description="Render clips mixing 1-5 of the 13 instruments (music21 corpus notes) with frame truth. "
                    "--timbres random (renderer synth-music-4, the default): each stem's sound drawn from a "
                    "pool of soundfonts, recorded drum kits and samples, with performance variety and "
                    "effects; splits train/validation/test and the held-out timbre splits heldout-musescore/"
                    "heldout-timgm/heldout-recorded/degraded (80/8/4/2/2/2/2 %% of --hours). --timbres fixed "
                    "(synth-music-3): FluidR3 for train/validation/test, TimGM6mb for shift "
                    "(70/10/10/10 %%). Resumable: rerun the same command to continue a killed render.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    m.add_argument("--out", required=True, metavar="DIR", help=flag_help("--out", "a manifest directory"))
    m.add_argument("--hours", type=float, default=1.0, help=flag_help("--hours", "over all splits"))
    m.add_argument("--seed", type=int, default=0, help=flag_help("--seed", "same audio bytes"))
    m.add_argument("--jobs", type=int, default=1, help=flag_help("--jobs", "render processes"))
    m.add_argument("--clip-seconds", type=float, default=29.1, help=flag_help("--clip-seconds", "default 29.1, the thesis' 911 frames"))
    m.add_argument("--splits", default=None,
                   help="comma-separated splits (default proportions renormalised) or name=fraction of --hours, "
                        "e.g. 'train,validation' or 'train=0.8,test=0.2' (default: all four)")
    m.add_argument("--timbres", choices=("random", "fixed"), default="random",
                   help="timbre-randomised renderer (synth-music-4) or one soundfont per split (synth-music-3)")
    m.add_argument("--production", default=None, metavar="FEATURES",
                   help="--timbres random: renderer synth-music-5 with these training production features: "
                        "'all', 'none' or a comma list of genres,levels,mastering,distractors,inserts,negatives "
                        "(default: synth-music-4)")
    m.add_argument("--soundfont", default=None, help=flag_help("--soundfont", "--timbres fixed: for train/"
                   "validation/test (default /usr/share/sounds/sf2/FluidR3_GM.sf2)"))
    m.add_argument("--shift-soundfont", default=None, help="--timbres fixed: SoundFont for the shift split "
                   "(default /usr/share/sounds/sf2/TimGM6mb.sf2)")
    m.add_argument("--cache-dir", default=None, help="music21 note cache (default $CLIP2FRAME_CACHE/synth "
                   "or ~/.cache/clip2frame/synth)")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(handler=run)
    for kind in OTHER_KINDS:
        try:
            mod = importlib.import_module(f"{__package__}.synth_{kind}")
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.synth_{kind}":
                continue
            raise
        mod.register(kinds)
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    """Run ``clip2frame synth``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import signal

    from ..data.synth import render_music_corpus

    # SIGTERM unwinds like Ctrl-C, so the worker pool is stopped; rerunning the command resumes.
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        man = render_music_corpus(
            args.out, hours=args.hours, seed=args.seed, jobs=args.jobs, clip_seconds=args.clip_seconds,
            splits=args.splits, soundfont=args.soundfont, shift_soundfont=args.shift_soundfont,
            cache_dir=args.cache_dir, progress=not (args.no_progress or args.quiet), timbres=args.timbres,
            production=args.production)
    finally:
        signal.signal(signal.SIGTERM, old)
    counts = ", ".join(f"{s} {len(man.split(s))}" for s in man.splits)
    print(f"{man.root}: {len(man.clips)} clips ({counts})")
    return 0
