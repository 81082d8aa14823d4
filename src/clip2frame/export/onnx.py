"""ONNX export of a :class:`~clip2frame.models.io.TaggerModel`: from audio samples (the default) or from log-mel.

The graph (``audio_in=True``, the default)::

    audio [B, N]          float32, mono samples at feature_spec.sr (16 kHz), any N >= 0
      -> per scale: centred frames (win/2 zeros each side; T = 1 + N // hop), Hann window,
         the windowed DFT as two matmuls (Cooley-Tukey, win = N1·N2: a DFT of size N1, twiddles, a DFT of
         size N2 — the dense windowed-DFT kernel of 16384 samples would be 1 GB), |X|², the Slaney mel matrix
      -> log(1 + log_scale·mel)                   = MultiScaleLogMel, to float32 rounding
      -> (x - mean) / std, early convs, late 1x1 convs, sigmoid, Gaussian accumulation
      -> frame [B, K, T'], clip [B, K]            as below

and with ``audio_in=False`` (``--features-in``)::

    logmel [B, S, M, T]   float32, raw ``MultiScaleLogMel`` output (log(1 + 10000·mel)), NOT standardised
      -> (x - mean) / std                     per scale and band, the model file's ``feature.mean/std``
      -> early convs, late 1x1 convs, sigmoid, Gaussian accumulation
      -> frame [B, K, T']                     frame probabilities after accumulation, T' = ceil(T / stride)
      -> clip  [B, K]                         mean (or max, per the model's pooling) of ``frame`` over time

* Standardisation is inside the graph (the default); ``standardize=False`` (log-mel input only) exports a
  graph whose input is already standardised (the statistics then travel in the metadata,
  ``feature_mean``/``feature_std``).
* Batch (``batch``) and time (``samples`` or ``frames``; ``out_frames``) axes are dynamic. All items of one
  batch share their length; ``clip`` pools over every output frame, so for clips of different lengths run
  them one by one (or pool ``frame`` yourself over each clip's valid frames).
* The audio graph needs every window size to be a multiple of the hop (true of every preset) and no delta
  features (the urbansound preset has them: export it with ``audio_in=False``). ONNX's own STFT/DFT ops are
  not used: runtimes do not all support them alike; matmuls they all run.
* ``metadata_props`` key ``clip2frame`` holds JSON: the model file's metadata (``model_config``,
  ``feature_spec``, ``labels``, ``kinds``, ``thresholds``, ``provenance``) plus an ``onnx`` entry describing
  the inputs/outputs, the total stride, the output frame duration and whether standardisation is inside.
"""
from __future__ import annotations

import json
import logging
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio.features import FeatureSpec, MultiScaleLogMel, mel_filterbank
from ..data.toy import render_toy_clip
from ..errors import Clip2FrameError, ConfigError, OutputError
from ..fileio import atomic_write_bytes

log = logging.getLogger(__name__)

ONNX_META_KEY = "clip2frame"
INPUT_NAME = "logmel"
AUDIO_INPUT_NAME = "audio"
OUTPUT_NAMES = ("frame", "clip")
DEFAULT_OPSET = 17


def _factor(n: int) -> int:
    """The largest divisor of n at most sqrt(n): the first DFT size of the two-step (Cooley-Tukey) DFT."""
    return max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)


class _ScaleDFT(nn.Module):
    """One window size: frames [B, T, win] -> mel power [B, T, M] with matmuls only.

    With win = N1·N2 and n = N2·n1 + n2, k = k1 + N1·k2 (Cooley-Tukey)::

        X[k] = sum_n2 e^{-2πi n2 k2 / N2} · e^{-2πi n2 k1 / win} · sum_n1 x[n] e^{-2πi n1 k1 / N1}

    Only k2 <= N2 // 2 is computed (bins up to win/2, the one-sided spectrum); mel weights of bins past
    win/2 are zero. ~9.5 M multiply-adds a frame at 16384 instead of 268 M for the dense DFT kernel.
    """

    window: torch.Tensor
    c1: torch.Tensor
    ms1: torch.Tensor
    tw_r: torch.Tensor
    tw_i: torch.Tensor
    c2: torch.Tensor
    s2: torch.Tensor
    mel: torch.Tensor

    def __init__(self, spec: Any, win: int):
        super().__init__()

        n1 = _factor(win)
        n2 = win // n1
        k2 = n2 // 2 + 1
        self.win, self.n1, self.n2 = win, n1, n2
        i1, i2 = np.arange(n1), np.arange(n2)
        a1 = 2 * np.pi * np.outer(i1, i1) / n1  # [k1, n1]
        tw = -2 * np.pi * np.outer(i1, i2) / win  # [k1, n2]
        a2 = 2 * np.pi * np.outer(i2, np.arange(k2)) / n2  # [n2, k2]
        fb = mel_filterbank(sr=spec.sr, n_fft=win, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
        k = (i1[:, None] + n1 * np.arange(k2)[None, :]).reshape(-1)  # bin of (k1, k2), row-major
        mel = np.zeros((n1 * k2, spec.n_mels), dtype=np.float64)
        ok = k <= win // 2
        mel[ok] = fb[:, k[ok]].T
        f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        self.register_buffer("window", torch.hann_window(win, periodic=True, dtype=torch.float32))
        for name, a in (("c1", np.cos(a1)), ("ms1", -np.sin(a1)), ("tw_r", np.cos(tw)), ("tw_i", np.sin(tw)),
                        ("c2", np.cos(a2)), ("s2", np.sin(a2)), ("mel", mel)):
            self.register_buffer(name, f32(a))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        B, T = frames.shape[0], frames.shape[1]
        x = (frames * self.window).reshape(B, T, self.n1, self.n2)  # x[n1, n2] = frame[n2 + N2·n1]
        yr, yi = torch.matmul(self.c1, x), torch.matmul(self.ms1, x)  # DFT over n1: [B, T, k1, n2]
        zr = yr * self.tw_r - yi * self.tw_i  # twiddles e^{-2πi n2 k1 / win}
        zi = yr * self.tw_i + yi * self.tw_r
        xr = torch.matmul(zr, self.c2) + torch.matmul(zi, self.s2)  # DFT over n2: [B, T, k1, k2]
        xi = torch.matmul(zi, self.c2) - torch.matmul(zr, self.s2)
        power = (xr * xr + xi * xi).reshape(B, T, -1)  # [B, T, N1·K2]
        return torch.matmul(power, self.mel)  # [B, T, M]


class AudioFrontEnd(nn.Module):
    """``MultiScaleLogMel`` in ONNX-exportable ops: samples [B, N] -> raw log-mel [B, S, M, T], T = 1 + N // hop.

    Raises
    ------
    ConfigError
        A window size that is not a multiple of the hop, or delta features.
    """

    def __init__(self, spec: Any):
        super().__init__()
        bad = [w for w in spec.win_sizes if w % spec.hop_length]
        if bad or spec.delta:
            why = (f"window sizes {bad} are not multiples of the hop {spec.hop_length}" if bad
                   else "the feature spec has delta features")
            raise ConfigError(f"ONNX export from audio: {why}; export with --features-in (log-mel input)")
        self.hop, self.log_scale = spec.hop_length, float(spec.log_scale)
        self.scales = nn.ModuleList(_ScaleDFT(spec, w) for w in spec.win_sizes)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel of ``audio`` [B, N] (mono float32 samples) -> [B, S, M, T] with matrix products only (exportable)."""
        B, hop = audio.shape[0], self.hop
        T = audio.shape[1] // hop + 1
        out = []
        for sc in cast("list[_ScaleDFT]", list(self.scales)):
            r = sc.win // hop
            padded = F.pad(audio, (sc.win // 2, sc.win // 2))  # centred frames, zeros outside (as librosa)
            blocks = padded[:, :(T - 1 + r) * hop].reshape(B, T - 1 + r, hop)
            # frame t = blocks t .. t+r-1 (win = r·hop): r shifted slices side by side, no gather
            frames = torch.cat([blocks[:, i:i + T] for i in range(r)], dim=-1)  # [B, T, win]
            out.append(sc(frames).transpose(1, 2))  # [B, M, T]
        return torch.log1p(torch.stack(out, dim=1) * self.log_scale)  # [B, S, M, T]


class _ExportGraph(nn.Module):
    """(audio [B, N] or logmel [B, S, M, T]) -> (frame [B, K, T'], clip [B, K]); the module that is traced."""

    net: Any  # a Clip2FrameNet
    mean: torch.Tensor  # buffers, when standardising
    inv_std: torch.Tensor

    def __init__(self, net: nn.Module, mean: torch.Tensor | None, std: torch.Tensor | None,
                 front: AudioFrontEnd | None = None):
        super().__init__()
        self.net = net
        self.front = front
        self.standardize = mean is not None
        if mean is not None and std is not None:
            # [1, S, M, 1] so they broadcast over batch and time
            self.register_buffer("mean", mean.detach().float()[None, :, :, None].clone())
            self.register_buffer("inv_std", (1.0 / std.detach().float())[None, :, :, None].clone())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logmel = self.front(x) if self.front is not None else x
        feats = (logmel - self.mean) * self.inv_std if self.standardize else logmel
        _, frame = self.net.forward_features(feats)
        return frame, self.net.forward_head(frame)


def onnx_metadata(tagger: Any, *, standardize: bool, opset: int, audio_in: bool = False) -> dict[str, Any]:
    """The JSON stored under ``metadata_props['clip2frame']``."""
    meta = tagger.metadata()
    spec = tagger.feature_spec
    if audio_in:
        inp = {"name": AUDIO_INPUT_NAME, "shape": ["batch", "samples"],
               "content": f"mono float32 samples at {spec.sr} Hz; frames = 1 + samples // {spec.hop_length}"}
    else:
        inp = {"name": INPUT_NAME, "shape": ["batch", spec.n_scales, spec.n_bands, "frames"],
               "content": "raw log-mel log(1 + log_scale*mel) of feature_spec" if standardize
               else "standardised log-mel ((logmel - feature_mean) / feature_std)"}
    meta["onnx"] = {
        "input": inp,
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


def export_onnx(tagger: Any, out: str | Path, *, audio_in: bool = True, standardize: bool = True,
                opset: int = DEFAULT_OPSET, example_frames: int = 911) -> Path:
    """Write ``tagger`` as an ONNX model to ``out`` (atomically).

    Parameters
    ----------
    tagger : TaggerModel
        E.g. from :func:`clip2frame.models.io.load_model`.
    out : path
        The ``.onnx`` file to write.
    audio_in : bool
        Input mono samples [B, N] with the feature front-end in the graph (the default), or log-mel
        features [B, S, M, T] (``False``).
    standardize : bool
        Put the per-band standardisation inside the graph (input = raw log-mel) — the default; must be
        ``True`` with ``audio_in``.
    opset : int
        ONNX opset (17 by default; MaxPool with ``ceil_mode`` and grouped Conv need >= 10).
    example_frames : int
        T of the example input used for tracing; the exported time axis is dynamic regardless.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ConfigError
        ``audio_in`` with ``standardize=False``, or a feature spec the audio graph cannot hold.
    """
    import onnx

    if audio_in and not standardize:
        raise ConfigError("--standardized-input: only with --features-in (an audio graph standardises inside)")
    out = Path(out)
    net = tagger.net
    was_training = net.training
    device = next(net.parameters()).device
    net = net.cpu().eval()
    std = tagger.standardizer
    spec = tagger.feature_spec
    front = AudioFrontEnd(spec) if audio_in else None
    graph = _ExportGraph(net, std.mean if standardize else None, std.std if standardize else None, front).eval()
    T = max(int(example_frames), net.total_stride)
    if audio_in:  # a short example: tracing runs it once, and the time axis is dynamic anyway
        name, axes = AUDIO_INPUT_NAME, {0: "batch", 1: "samples"}
        example = torch.zeros(2, (min(T, 64) - 1) * spec.hop_length + 7)
    else:
        name, axes = INPUT_NAME, {0: "batch", 3: "frames"}
        example = torch.zeros(2, spec.n_scales, spec.n_bands, T)
    meta = onnx_metadata(tagger, standardize=standardize, opset=opset, audio_in=audio_in)
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
                    input_names=[name], output_names=list(OUTPUT_NAMES),
                    dynamic_axes={name: axes,
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
    model.doc_string = (f"clip2frame model '{tagger.name}': {'audio [B,N] (T = 1 + N // ' + str(spec.hop_length) + ')' if audio_in else 'logmel [B,S,M,T]'} "
                        f"-> frame [B,K,ceil(T/{tagger.total_stride})], clip [B,K]; labels and feature spec in "
                        f"metadata_props")
    onnx.checker.check_model(model)
    try:
        atomic_write_bytes(out, model.SerializeToString())
    except OSError as e:
        raise OutputError(f"{out}: cannot write the ONNX file ({e.strerror or e})") from None
    log.info("%s: exported (%s in, %d labels, opset %d, standardisation %s)", out, name, len(tagger.labels),
             opset, "in graph" if standardize else "outside")
    return out


@dataclass
class OnnxTagger:
    """An exported model opened with onnxruntime: ``run(audio or logmel) -> (frame, clip)`` and its metadata."""

    session: Any
    meta: dict[str, Any]
    path: Path

    @property
    def labels(self) -> list[str]:
        """The tags, in the order of the model's outputs."""
        return list(self.meta["labels"])

    @property
    def thresholds(self) -> np.ndarray:
        """Decision thresholds [K], one per tag."""
        return np.asarray(self.meta["thresholds"], dtype=np.float32)

    def feature_spec(self):
        """The :class:`~clip2frame.audio.features.FeatureSpec` the graph was exported with."""
        return FeatureSpec.from_dict(self.meta["feature_spec"])

    @property
    def audio_in(self) -> bool:
        """Whether the graph takes samples [B, N] (front-end inside) rather than log-mel [B, S, M, T]."""
        return self.session.get_inputs()[0].name == AUDIO_INPUT_NAME

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """audio [B, N] or logmel [B, S, M, T] float32 (as the graph takes) -> (frame [B, K, T'], clip [B, K])."""
        name = self.session.get_inputs()[0].name
        frame, clip = self.session.run(list(OUTPUT_NAMES), {name: np.ascontiguousarray(x, np.float32)})
        return frame, clip


def verify_onnx(tagger: Any, onnx_path: str | Path, *, frames: tuple[int, ...] = (911, 3000), batch: int = 2,
                seed: int = 0) -> float:
    """Max abs difference between onnxruntime and torch outputs (frame and clip probabilities).

    An audio graph gets rendered test audio (tones, noise bursts and click trains over near-silence,
    :func:`~clip2frame.data.toy.render_toy_clip`) of ``(T - 1)·hop + 100`` samples for each T in
    ``frames``, against ``MultiScaleLogMel`` + the model in torch; a log-mel graph gets random log-mel
    inputs [batch, S, M, T]."""
    sess = load_onnx(onnx_path)
    spec = tagger.feature_spec
    rng = np.random.default_rng(seed)
    worst = 0.0
    net = tagger.net.eval()
    dev = next(net.parameters()).device
    if sess.audio_in:
        front = MultiScaleLogMel(spec)
        for T in frames:
            n = (T - 1) * spec.hop_length + 100
            wave = np.stack([render_toy_clip(rng, duration_s=n / spec.sr, sr=spec.sr)[0] for _ in range(batch)])
            frame, clip = sess.run(wave)
            with torch.no_grad():
                ref = net(tagger.standardizer.apply(front(torch.from_numpy(wave))).to(dev))
            worst = max(worst, float(np.abs(frame - ref.frame.cpu().numpy()).max()),
                        float(np.abs(clip - ref.clip.cpu().numpy()).max()))
        return worst
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
