"""``clip2frame detect VIDEO... --out DIR``: instrument-playing action heat maps, events and overlays."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "detect", help="detect instrument-playing actions in videos (heat maps, events, overlay)",
        description="Per video: <stem>.heatmaps.npz (times, labels, action/object/sound/fused [T,K,h,w]/[T,K] "
                    "float16, frame_size), <stem>.events.tsv (DCASE) and <stem>.overlay.mp4.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--action", required=True, metavar="RUN", help="action run directory or model file")
    p.add_argument("--object", dest="object_run", default=None, metavar="RUN")
    p.add_argument("--sound", dest="sound_run", default=None, metavar="RUN")
    p.add_argument("--fusion", default=None, choices=("A", "A*O", "A*S", "A*O*S"),
                   help="fusion of the streams (default: every stream given)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="event threshold on the frame score (geometric mean of the fused streams at the best cell)")
    p.add_argument("--no-overlay", action="store_true", help="skip the overlay MP4")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..video.detect import detect_videos

    res = detect_videos(args.videos, args.out, action_run=args.action, object_run=args.object_run,
                        sound_run=args.sound_run, fusion=args.fusion, threshold=args.threshold,
                        overlay=not args.no_overlay)
    for r in res:
        print("\t".join(str(v) for v in r.values()))
    return 0
