"""``clip2frame detect VIDEO... --out DIR``: where and when instruments are played (resumable batch)."""
from __future__ import annotations

import argparse

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
    from .tag import _formats, _non_negative, _positive_int, _shard

    p = subparsers.add_parser(
        "detect", help="detect instrument-playing actions in videos (events, heat maps, overlay; resumable batch)",
        description="Sound, object and action models (thesis ch. 4) fused per frame and position.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="VIDEO", help="video file, folder or @list.txt")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--action", default="default", metavar="default|RUN", help="action model (default: packaged)")
    p.add_argument("--object", dest="object_run", default="default", metavar="default|RUN|none",
                   help="object model (default: packaged)")
    p.add_argument("--sound", dest="sound_run", default="default", metavar="default|RUN|none",
                   help="sound model (default: packaged)")
    p.add_argument("--fusion", default=None, choices=("A", "A*O", "A*S", "A*O*S"),
                   help="fusion of the streams (default: every stream given)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="event threshold on the frame score (default 0.5)")
    p.add_argument("--format", dest="formats", type=_formats, default=("events", "heatmaps", "overlay"),
                   metavar="LIST", help="comma-separated: events,heatmaps,overlay,scores,npz,audacity,jams "
                                        "(default events,heatmaps,overlay)")
    p.add_argument("--no-overlay", action="store_true", help="leave the overlay out of the formats")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default auto)")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N",
                   help="output frames per forward pass of the visual models (default 16)")
    p.add_argument("--min-duration", type=_non_negative(float), default=0.0, metavar="S",
                   help="drop events shorter than S seconds (after merging) (default 0)")
    p.add_argument("--merge-gap", type=_non_negative(float), default=0.0, metavar="S",
                   help="merge events of an instrument separated by at most S seconds (default 0)")
    p.add_argument("--overwrite", action="store_true", help="redo videos whose outputs already exist")
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="process every N-th input of the sorted list, starting at I (0-based)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..infer.batch import report_json
    from ..video.detect import detect_files

    formats = tuple(f for f in args.formats if not (args.no_overlay and f == "overlay"))
    report = detect_files(args.inputs, out_dir=args.out, action=args.action, object=args.object_run,
                          sound=args.sound_run, fusion=args.fusion, threshold=args.threshold, formats=formats,
                          min_duration=args.min_duration, merge_gap=args.merge_gap, device=args.device,
                          batch_size=args.batch_size, overwrite=args.overwrite, shard=args.shard,
                          progress=not args.quiet)
    print(report_json(report), flush=True)
    return report.exit_code
