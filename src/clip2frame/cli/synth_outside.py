"""``clip2frame synth outside|real|nonmusic``: the evaluation-only corpora of :mod:`clip2frame.data.outside`."""
from __future__ import annotations

from .flags import add_corpus_out, flag_help


def register(kinds) -> None:
    """Add the ``outside``, ``real`` and ``nonmusic`` kinds to a ``synth`` sub-parser group."""
    o = kinds.add_parser(
        "outside", help="EVALUATION ONLY: held-out arrangements and production, held-out soundfonts",
        description="Render arrangements from a second, separately written generator (genre templates, voicing, "
                    "entrances/exits, registers) mixed by a separate producer (levels with a part buried "
                    "15-25 dB under the lead, effects, panning folded to mono, bus compression, mastering), each "
                    "rendered with MuseScore General and with TimGM6mb; splits val and test (disjoint seeds), "
                    "exact frame truth. Never for training or fitting. Resumable.")
    add_corpus_out(o)
    o.add_argument("--test-clips", type=int, default=48, help="arrangements in test (x2 soundfonts; default 48)")
    o.add_argument("--val-clips", type=int, default=16, help="arrangements in val (x2 soundfonts; default 16)")
    o.add_argument("--clip-seconds", type=float, default=30.0, help=flag_help("--clip-seconds", "default 30"))
    o.set_defaults(handler=run_outside)
    r = kinds.add_parser(
        "real", help="EVALUATION ONLY: real recorded samples (sonic-pi, lmms, freepats) sequenced into parts",
        description="Sequence real one-shots, phrases and loops of Debian's sonic-pi-samples, lmms-common and "
                    "freepats into parts of held-out arrangements; truth where a part's stem, as mixed, is within "
                    "40 dB of the mix's active level. Split 'real'. Never for training or fitting. Resumable.")
    add_corpus_out(r)
    r.add_argument("--minutes", type=float, default=32.0, help="total minutes (default 32)")
    r.add_argument("--clip-seconds", type=float, default=30.0, help=flag_help("--clip-seconds", "default 30"))
    r.set_defaults(handler=run_real)
    n = kinds.add_parser(
        "nonmusic", help="EVALUATION ONLY: silence, noise, hum, speech, applause, everyday sounds, tones, sweeps",
        description="Clips without any instrument (empty frame truth), family per clip in metadata.json "
                    "'family_of'. Split 'nonmusic'.")
    add_corpus_out(n)
    n.add_argument("--clips-per-family", type=int, default=3, help="clips per family (default 3)")
    n.add_argument("--clip-seconds", type=float, default=10.0, help=flag_help("--clip-seconds", "default 10"))
    n.add_argument("--families", default=None, help="comma-separated families (default: all)")
    n.set_defaults(handler=run_nonmusic)


def _report(man) -> int:
    counts = ", ".join(f"{s} {len(man.split(s))}" for s in man.splits)
    print(f"{man.root}: {len(man.clips)} clips ({counts})")
    return 0


def run_outside(args) -> int:
    """Run ``clip2frame synth outside``; the exit code."""
    from ..data.outside.render import render_outside_corpus

    return _report(render_outside_corpus(args.out, seed=args.seed, test_clips=args.test_clips,
                                         val_clips=args.val_clips, clip_seconds=args.clip_seconds))


def run_real(args) -> int:
    """Run ``clip2frame synth real``; the exit code."""
    from ..data.outside.real import render_real_corpus

    return _report(render_real_corpus(args.out, seed=args.seed, minutes=args.minutes, clip_seconds=args.clip_seconds))


def run_nonmusic(args) -> int:
    """Run ``clip2frame synth nonmusic``; the exit code."""
    from ..data.outside.nonmusic import FAMILIES, render_nonmusic_corpus

    fams = tuple(f.strip() for f in args.families.split(",")) if args.families else FAMILIES
    return _report(render_nonmusic_corpus(args.out, seed=args.seed, clips_per_family=args.clips_per_family,
                                          clip_seconds=args.clip_seconds, families=fams))
