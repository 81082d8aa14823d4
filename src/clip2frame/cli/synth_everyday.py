"""``clip2frame synth everyday``: render the embedded everyday-sound corpus (the UrbanSound analogue)."""
from __future__ import annotations

from ..errors import ConfigError
from .flags import add_corpus_out, flag_help

DEFAULT_HOURS = 1.0


def register(kinds) -> None:
    """Add the ``everyday`` kind to a ``synth`` sub-parser group."""
    p = kinds.add_parser(
        "everyday", help="everyday-sound corpus: 10 GM sound-effect / percussion classes (UrbanSound analogue)",
        description="Render clips of 1-30 s holding one of 10 everyday-sound classes (one clip in 12: two) - gun "
                    "shot, door knock, ..., helicopter, seashore - over noise / music backgrounds at -5..+20 dB, "
                    "with exact onset/offset truth; splits train/validation/test (70/15/15 %). Resumable: rerun "
                    "the same command to continue a killed render.")
    add_corpus_out(p)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--hours", type=float, default=None,
                      help=flag_help("--hours", f"over all splits (default: {DEFAULT_HOURS:g} unless --clips)"))
    size.add_argument("--clips", type=int, default=None, metavar="N",
                      help="total number of clips, split 70/15/15 %% train/validation/test")
    p.add_argument("--jobs", type=int, default=1, help=flag_help("--jobs", "render processes (default: 1)"))
    p.add_argument("--sr", type=int, default=44100,
                   help="sample rate: 44100 (the thesis' UrbanSound rate; default) or 16000")
    p.add_argument("--folds", type=int, default=None,
                   help="also assign each clip a fold 1..FOLDS (metadata.json 'folds'; default: none)")
    p.add_argument("--soundfont", default=None,
                   help=flag_help("--soundfont", "default /usr/share/sounds/sf2/FluidR3_GM.sf2, on which the class timings were "
                        "measured; with another, check label_agreement in metadata.json)"))
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def clips_per_split(total: int, proportions: dict[str, float]) -> dict[str, int]:
    """``total`` clips split by ``proportions`` (the corpus' 70/15/15 %; validation and test get at least one each
    when total >= 3)."""
    if total < 1:
        raise ConfigError(f"--clips: must be >= 1, got {total}")
    out = {s: int(total * f) for s, f in proportions.items()}
    for s in ("validation", "test"):
        if total >= 3 and out[s] == 0:
            out[s] = 1
    out["train"] = total - out["validation"] - out["test"]
    return {s: n for s, n in out.items() if n > 0}


def run(args) -> int:
    """Run ``clip2frame synth everyday``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit
    codes")."""
    import signal

    from ..data.synth.everyday import DEFAULT_PROPORTIONS, render_everyday_corpus
    from .synth import _interrupt

    if args.clips is not None:
        n_clips, hours = clips_per_split(args.clips, DEFAULT_PROPORTIONS), None
    else:
        n_clips, hours = None, DEFAULT_HOURS if args.hours is None else args.hours
    # SIGTERM unwinds like Ctrl-C, so the worker pool is stopped; rerunning the command resumes.
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        man = render_everyday_corpus(args.out, n_clips=n_clips, hours=hours, seed=args.seed, jobs=args.jobs,
                                     sr=args.sr, folds=args.folds, soundfont=args.soundfont,
                                     progress=not (args.no_progress or args.quiet))
    finally:
        signal.signal(signal.SIGTERM, old)
    counts = ", ".join(f"{s} {len(man.split(s))}" for s in man.splits)
    agree = man.extra.get("label_agreement", {}).get("mean")
    tail = f"; label-vs-stem agreement {agree:.3f}" if agree is not None else ""
    print(f"{man.root}: {len(man.clips)} clips ({counts}){tail}")
    return 0
