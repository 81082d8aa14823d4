"""``clip2frame export --model MODEL --onnx OUT.onnx``: a model file as an ONNX graph (audio or log-mel in, frame/clip out)."""
from __future__ import annotations

import argparse

from .flags import add_model, add_model_positional_deprecated, model_of

EPILOG = """\
graph:
  input  audio  [batch, samples]       float32 mono samples at the model's rate (16 kHz); the front-end
                                       (framing, Hann window, DFT as matmuls, mel, log compression,
                                       standardisation) is inside the graph; frames = 1 + samples // hop
   or, with --features-in:
         logmel [batch, S, M, frames]  float32, the raw MultiScaleLogMel output of the model's feature
                                       spec (log(1 + 10000*mel)); standardisation is inside the graph
                                       unless --standardized-input
  output frame  [batch, K, out_frames] frame probabilities after the accumulation layer,
                                       out_frames = ceil(frames / total_stride)
         clip   [batch, K]             clip scores (mean or max of frame over time, as the model pools)
  batch and time axes are dynamic; one batch shares one length.

metadata:
  metadata_props['clip2frame'] is JSON: model_config, feature_spec, labels, kinds, thresholds,
  provenance of the model file, plus 'onnx' (input/output shapes, total_stride, frame_seconds,
  standardization_in_graph, opset).

stdout: one line of JSON {"onnx", "input", "labels", "max_abs_diff"} (max_abs_diff with --verify: at most
  1e-3 in probabilities for an audio graph, on rendered test audio; 1e-4 for a log-mel graph).
"""


def register(subparsers) -> None:
    """Add the ``export`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "export", help="export a model file to ONNX (log-mel features -> frame and clip probabilities)",
        description="Export a clip2frame model (.safetensors) to ONNX, from log-mel features onward, with "
                    "dynamic batch and time axes and the labels, thresholds and feature spec in its metadata.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model(p)
    add_model_positional_deprecated(p)
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="ONNX file to write")
    p.add_argument("--features-in", action="store_true",
                   help="the graph takes log-mel features instead of audio samples (the front-end stays outside)")
    p.add_argument("--standardized-input", action="store_true",
                   help="with --features-in: leave the per-band standardisation out of the graph")
    p.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset (default 17)")
    p.add_argument("--verify", action="store_true",
                   help="check onnxruntime against torch on inputs of 911 and 3000 frames (rendered test "
                        "audio, or random log-mel with --features-in)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame export``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json
    import sys

    from ..errors import Clip2FrameError
    from ..extras import require
    from ..models.io import load_model

    require("onnx", what="--onnx")
    from ..export.onnx import export_onnx, verify_onnx

    if args.standardized_input and not args.features_in:
        raise Clip2FrameError("--standardized-input: only with --features-in (an audio graph standardises inside)")
    tagger = load_model(model_of(args))
    audio_in = not args.features_in
    out = export_onnx(tagger, args.onnx, audio_in=audio_in, standardize=not args.standardized_input,
                      opset=args.opset)
    result: dict[str, object] = {"onnx": str(out), "input": "audio" if audio_in else "logmel",
                                 "labels": len(tagger.labels), "max_abs_diff": None}
    if args.verify:
        diff = verify_onnx(tagger, out)
        limit = 1e-3 if audio_in else 1e-4
        result["max_abs_diff"] = float(f"{diff:.3g}")
        if diff > limit:
            print(json.dumps(result), flush=True)
            print(f"error: {out}: onnxruntime differs from torch by {diff:.3g} (> {limit:g})", file=sys.stderr)
            return 1
    print(json.dumps(result), flush=True)
    return 0
