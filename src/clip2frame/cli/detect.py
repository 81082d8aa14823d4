"""``clip2frame detect VIDEO... --out DIR``: where and when instruments are played (resumable batch)."""
from __future__ import annotations

import argparse

from ..results.formats import FORMATS
from .flags import add_device, flag_help, non_negative
from .tag import _format_parser, _positive_int, _shard

EPILOG = """\
outputs (a tree mirroring the inputs, as clip2frame tag writes it):
  OUT/<name>.events.tsv    DCASE filename onset offset event_label: a frame (0.512 s) is "playing" when
                           its frame score (the fused map's peak, geometric mean of the streams) reaches
                           --threshold
  OUT/<name>.heatmaps.npz  times, boundaries, labels, probs (frame scores) [T,K], action/object/fused heat
                           maps [T,K,h,w] and sound [T,K] float16, frame_size, fusion
  OUT/<name>.overlay.mp4   the frames with the top instrument's heat map and labels
  OUT/events.tsv           every video's events; OUT/failures.tsv: videos that could not be read
models: the packaged sound, object and SOT0503 action models unless --action/--object/--sound name a model
file or run directory ('none' leaves a stream out). A re-run skips videos whose outputs exist.
exit code: 0 all done; 1 some videos failed (failures.tsv); 2 usage or setup error, nothing written.
"""


def register(subparsers) -> None:
    """Add the ``detect`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "detect", help="detect instrument-playing actions in videos (events, heat maps, overlay; resumable batch)",
        description="Sound, object and action models (thesis ch. 4) fused per frame and position.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="VIDEO", help="video file, folder or @list.txt")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help=flag_help("--out", "a folder (created)"))
    p.add_argument("--action", default="default", metavar="default|RUN",
                   help=flag_help("--action", "default: packaged"))
    p.add_argument("--object", dest="object_run", default="default", metavar="default|RUN|none",
                   help=flag_help("--object", "default: packaged; none: leave it out"))
    p.add_argument("--sound", dest="sound_run", default="default", metavar="default|RUN|none",
                   help=flag_help("--sound", "default: packaged; none: leave it out"))
    p.add_argument("--fusion", default=None, choices=("A", "A*O", "A*S", "A*O*S"),
                   help="fusion of the streams (default: every stream given)")
    p.add_argument("--threshold", type=float, default=0.5, metavar="T",
                   help=flag_help("--threshold", "the events' threshold on the frame score (the video models "
                                                 "store none; default 0.5)"))
    p.add_argument("--format", dest="formats", type=_format_parser(FORMATS), default=("events", "heatmaps", "overlay"),
                   metavar="LIST", help=flag_help("--format", f"{','.join(FORMATS)} "
                                                             "(default events,heatmaps,overlay)"))
    p.add_argument("--no-overlay", action="store_true", help="leave the overlay out of the formats")
    add_device(p)
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N",
                   help=flag_help("--batch-size", "output frames of the visual models (default 16)"))
    p.add_argument("--min-event", dest="min_event", type=non_negative(float), default=0.0, metavar="S",
                   help=flag_help("--min-event", "default 0"))
    p.add_argument("--merge-gap", type=non_negative(float), default=0.0, metavar="S",
                   help=flag_help("--merge-gap", "default 0"))
    p.add_argument("--overwrite", action="store_true", help=flag_help("--overwrite"))
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="process every N-th input of the sorted list, starting at I (0-based)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame detect``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from ..infer.batch import report_json
    from ..video.inference.detect import detect_files

    formats = tuple(f for f in args.formats if not (args.no_overlay and f == "overlay"))
    report = detect_files(args.inputs, out_dir=args.out, action=args.action, object=args.object_run,
                          sound=args.sound_run, fusion=args.fusion, threshold=args.threshold, formats=formats,
                          min_duration=args.min_event, merge_gap=args.merge_gap, device=args.device,
                          batch_size=args.batch_size, overwrite=args.overwrite, shard=args.shard,
                          progress=not args.quiet)
    print(report_json(report), flush=True)
    return report.exit_code
