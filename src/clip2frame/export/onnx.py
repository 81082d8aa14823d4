"""ONNX export of a :class:`~clip2frame.models.io.TaggerModel`, from log-mel features onward.

The graph::

    logmel [B, S, M, T]   float32, raw ``MultiScaleLogMel`` output (log(1 + 10000·mel)), NOT standardised
      -> (x - mean) / std                     per scale and band, the model file's ``feature.mean/std``
      -> early convs, late 1x1 convs, sigmoid, Gaussian accumulation
      -> frame [B, K, T']                     frame probabilities after accumulation, T' = ceil(T / stride)
      -> clip  [B, K]                         mean (or max, per the model's pooling) of ``frame`` over time

* Standardisation is inside the graph (the default), so a consumer only has to reproduce the front-end
  described by ``feature_spec`` in the metadata; ``standardize=False`` exports a graph whose input is
  already standardised (the statistics then still travel in the metadata, ``feature_mean``/``feature_std``).
* Batch (``batch``) and time (``frames``; ``out_frames`` = ceil(frames / stride)) axes are dynamic. All
  items of one batch share ``T``; ``clip`` pools over every output frame, so for clips of different lengths
  run them one by one (or pool ``frame`` yourself over each clip's valid frames).
* The STFT/mel front-end is not in the graph: the features of any length are cheap and exact in numpy/torch,
  and ONNX's STFT op is not supported identically by every runtime.
* ``metadata_props`` key ``clip2frame`` holds JSON: the model file's metadata (``model_config``,
  ``feature_spec``, ``labels``, ``kinds``, ``thresholds``, ``provenance``) plus an ``onnx`` entry describing
  the inputs/outputs, the total stride, the output frame duration and whether standardisation is inside.
"""
from __future__ import annotations

import json
import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import Clip2FrameError, OutputError
from ..fileio import atomic_write_bytes

log = logging.getLogger(__name__)

ONNX_META_KEY = "clip2frame"
INPUT_NAME = "logmel"
OUTPUT_NAMES = ("frame", "clip")
DEFAULT_OPSET = 17


class _ExportGraph(nn.Module):
    """logmel [B, S, M, T] -> (frame [B, K, T'], clip [B, K]); the module that is traced."""

    net: Any  # a Clip2FrameNet
    mean: torch.Tensor  # buffers, when standardising
    inv_std: torch.Tensor

    def __init__(self, net: nn.Module, mean: torch.Tensor | None, std: torch.Tensor | None):
        super().__init__()
        self.net = net
        self.standardize = mean is not None
        if mean is not None and std is not None:
            # [1, S, M, 1] so they broadcast over batch and time
            self.register_buffer("mean", mean.detach().float()[None, :, :, None].clone())
            self.register_buffer("inv_std", (1.0 / std.detach().float())[None, :, :, None].clone())

    def forward(self, logmel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (logmel - self.mean) * self.inv_std if self.standardize else logmel
        _, frame = self.net.forward_features(x)
        return frame, self.net.forward_head(frame)


def onnx_metadata(tagger: Any, *, standardize: bool, opset: int) -> dict[str, Any]:
    """The JSON stored under ``metadata_props['clip2frame']``."""
    meta = tagger.metadata()
    spec = tagger.feature_spec
    meta["onnx"] = {
        "input": {"name": INPUT_NAME, "shape": ["batch", spec.n_scales, spec.n_bands, "frames"],
                  "content": "raw log-mel log(1 + log_scale*mel) of feature_spec" if standardize
                  else "standardised log-mel ((logmel - feature_mean) / feature_std)"},
        "outputs": {"frame": ["batch", len(tagger.labels), "out_frames"], "clip": ["batch", len(tagger.labels)]},
        "standardization_in_graph": bool(standardize),
        "total_stride": int(tagger.total_stride),
        "frame_seconds": float(tagger.frame_seconds),
        "clip_pooling": tagger.net.cfg.pooling,
        "opset": int(opset),
    }
    if not standardize:
        meta["onnx"]["feature_mean"] = tagger.standardizer.mean.tolist()
        meta["onnx"]["feature_std"] = tagger.standardizer.std.tolist()
    return meta


def export_onnx(tagger: Any, out: str | Path, *, standardize: bool = True, opset: int = DEFAULT_OPSET,
                example_frames: int = 911) -> Path:
    """Write ``tagger`` as an ONNX model to ``out`` (atomically).

    Parameters
    ----------
    tagger : TaggerModel
        E.g. from :func:`clip2frame.models.io.load_model`.
    out : path
        The ``.onnx`` file to write.
    standardize : bool
        Put the per-band standardisation inside the graph (input = raw log-mel) — the default.
    opset : int
        ONNX opset (17 by default; MaxPool with ``ceil_mode`` and grouped Conv need >= 10).
    example_frames : int
        T of the example input used for tracing; the exported time axis is dynamic regardless.

    Returns
    -------
    Path
        ``out``.
    """
    import onnx

    out = Path(out)
    net = tagger.net
    was_training = net.training
    device = next(net.parameters()).device
    net = net.cpu().eval()
    std = tagger.standardizer
    graph = _ExportGraph(net, std.mean if standardize else None, std.std if standardize else None).eval()
    spec = tagger.feature_spec
    example = torch.zeros(2, spec.n_scales, spec.n_bands, max(int(example_frames), net.total_stride))
    meta = onnx_metadata(tagger, standardize=standardize, opset=opset)
    try:
        with tempfile.TemporaryDirectory(prefix="clip2frame-onnx-") as tmp:
            tmp_path = Path(tmp) / "model.onnx"
            with torch.no_grad(), warnings.catch_warnings():
                # Tracer warnings are about the static [S, M] shape check and constant-folding notes.
                warnings.simplefilter("ignore")
                # The TorchScript-based exporter: it needs no onnxscript and handles this all-static-op
                # network (pad, conv, ceil-mode max-pool, grouped conv1d) with symbolic batch/time axes.
                torch.onnx.export(
                    graph, (example,), str(tmp_path), dynamo=False, opset_version=opset,
                    input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                    dynamic_axes={INPUT_NAME: {0: "batch", 3: "frames"},
                                  "frame": {0: "batch", 2: "out_frames"}, "clip": {0: "batch"}},
                    do_constant_folding=True,
                )
            model = onnx.load(str(tmp_path))
    finally:
        net.to(device).train(was_training)
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_META_KEY, json.dumps(meta)
    model.producer_name = "clip2frame"
    model.doc_string = (f"clip2frame model '{tagger.name}': logmel [B,S,M,T] -> frame [B,K,ceil(T/"
                        f"{tagger.total_stride})], clip [B,K]; labels and feature spec in metadata_props")
    onnx.checker.check_model(model)
    try:
        atomic_write_bytes(out, model.SerializeToString())
    except OSError as e:
        raise OutputError(f"{out}: cannot write the ONNX file ({e.strerror or e})") from None
    log.info("%s: exported (%d labels, opset %d, standardisation %s)", out, len(tagger.labels), opset,
             "in graph" if standardize else "outside")
    return out


@dataclass
class OnnxTagger:
    """An exported model opened with onnxruntime: ``run(logmel) -> (frame, clip)`` and its metadata."""

    session: Any
    meta: dict[str, Any]
    path: Path

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def thresholds(self) -> np.ndarray:
        return np.asarray(self.meta["thresholds"], dtype=np.float32)

    def feature_spec(self):
        from ..audio.features import FeatureSpec

        return FeatureSpec.from_dict(self.meta["feature_spec"])

    def run(self, logmel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """logmel [B, S, M, T] float32 -> (frame [B, K, T'], clip [B, K])."""
        frame, clip = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: np.ascontiguousarray(logmel, np.float32)})
        return frame, clip


def verify_onnx(tagger: Any, onnx_path: str | Path, *, frames: tuple[int, ...] = (911, 3000), batch: int = 2,
                seed: int = 0) -> float:
    """Max abs difference between onnxruntime and torch outputs (frame and clip) on random log-mel
    inputs [batch, S, M, T] for each T in ``frames``."""
    sess = load_onnx(onnx_path)
    spec = tagger.feature_spec
    rng = np.random.default_rng(seed)
    worst = 0.0
    net = tagger.net.eval()
    dev = next(net.parameters()).device
    for T in frames:
        x = rng.uniform(0.0, 8.0, (batch, spec.n_scales, spec.n_bands, T)).astype(np.float32)
        xs = tagger.standardizer.apply(torch.from_numpy(x))
        frame, clip = sess.run(x if sess.meta["onnx"]["standardization_in_graph"] else xs.numpy())
        with torch.no_grad():
            ref = net(xs.to(dev))
        worst = max(worst, float(np.abs(frame - ref.frame.cpu().numpy()).max()),
                    float(np.abs(clip - ref.clip.cpu().numpy()).max()))
    return worst


def load_onnx(path: str | Path, *, threads: int = 0) -> OnnxTagger:
    """Open an exported model with onnxruntime (CPU); ``threads`` > 0 sets the intra-op thread count."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise Clip2FrameError(f"{path}: ONNX model file not found")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own error types for invalid graphs
        raise Clip2FrameError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0][:200]})") from None
    raw = sess.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
    if raw is None:
        raise Clip2FrameError(f"{path}: ONNX model has no '{ONNX_META_KEY}' metadata (not a clip2frame export)")
    return OnnxTagger(sess, json.loads(raw), path)
