"""Frame-level inference of any length: ``predict(path_or_array) -> FrameActivations``.

Long audio is processed in chunks. Each chunk's features are computed with enough context (window
half-width, delta width) and each chunk goes through the early and late layers with enough context
(the receptive field), so the pre-accumulation activations equal a whole-file pass. The accumulation
layer then runs once over the whole (tiny: [K, T']) sequence. Memory is flat in the file's length and
chunked output equals whole-file output.

Frame output:
* ``resolution="model"`` — one frame per total stride (0.512 s for the thesis models);
* ``resolution="upsampled"`` — the model frames repeated ``total_stride`` times, one value per 32 ms
  feature frame (the thesis' frame scoring, no extra network passes);
* ``resolution="frame"`` — the thesis' *patching*: the network runs on ``total_stride`` inputs shifted
  by 0..s-1 feature frames and the outputs are interleaved, giving one value per 32 ms feature frame.
"""
from __future__ import annotations

import functools
import logging
import math
import os
from pathlib import Path
from typing import Iterator, Union, overload

import numpy as np
import soxr
import torch

from ..audio.features import MultiScaleLogMel
from ..audio.io import iter_audio_blocks
from ..errors import Clip2FrameError, ConfigError
from ..models.io import TaggerModel, load_model, weights_sha256
from ..results.activations import FrameActivations
from ..timebase import RESOLUTIONS, frame_boundaries, n_frames, output_frames

log = logging.getLogger(__name__)

ModelLike = Union[str, Path, TaggerModel, None]
PathLike = Union[str, "os.PathLike[str]"]

#: Device names every command accepts (plus ``cuda:N``).
DEVICES = ("auto", "cpu", "cuda")
#: Loaded models and feature front-ends kept per process (least recently used dropped first): a server
#: or a batch uses one or two, and each model holds its weights on the device.
MODEL_CACHE_SIZE = 4
FRONT_END_CACHE_SIZE = 8


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The one device rule of the project: ``auto`` -> ``cuda`` when available, else ``cpu``.

    Raises
    ------
    ConfigError
        An unknown device name, or ``cuda``/``cuda:N`` on a machine without a CUDA device.
    """
    if isinstance(device, torch.device):
        dev = device
    else:
        name = str(device)
        if name == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if name not in DEVICES and not name.startswith("cuda:"):
            raise ConfigError(f"--device {name!r}: choose from {', '.join(DEVICES)} (or cuda:N)")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise ConfigError(f"--device {name!r}: not a device name (choose from {', '.join(DEVICES)} "
                              "or cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA device is available (use --device cpu or auto)")
    return dev


def load_tagger(model: ModelLike = "default", *, device: str | torch.device = "cpu"):
    """A :class:`~clip2frame.models.io.TaggerModel` from a path, ``"default"`` or an instance.

    Loaded files are cached (the :data:`MODEL_CACHE_SIZE` most recently used; a file that changed on
    disk is loaded again).
    """
    dev = resolve_device(device)
    if isinstance(model, TaggerModel):
        return model.__class__(**{**model.__dict__, "net": model.net.to(dev).eval()})
    name = str(model or "default")
    try:
        st = os.stat(name)
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None  # "default", or a missing file (load_model raises the error)
    return _load_cached(name, str(dev), stamp)


@functools.lru_cache(maxsize=MODEL_CACHE_SIZE)
def _load_cached(name: str, device: str, stamp: tuple[int, int] | None):
    return load_model(name, device=torch.device(device))


# --------------------------------------------------------------------------------------------- sources
class _Samples:
    """Random access to a monotonically advancing window of samples, from an array or a block stream."""

    def __init__(self, blocks: Iterator[np.ndarray]):
        self._blocks = blocks
        self._buf = np.zeros(0, dtype=np.float32)
        self._start = 0  # global index of _buf[0]
        self.eof = False

    @property
    def available(self) -> int:
        return self._start + len(self._buf)

    def fill_to(self, end: int) -> None:
        parts = [self._buf]
        have = self.available
        while have < end and not self.eof:
            try:
                block = next(self._blocks)
            except StopIteration:
                self.eof = True
                break
            parts.append(np.asarray(block, dtype=np.float32).reshape(-1))
            have += len(parts[-1])
        if len(parts) > 1:
            self._buf = np.concatenate(parts)

    def get(self, start: int, end: int) -> np.ndarray:
        self.fill_to(end)
        return self._buf[start - self._start:min(end, self.available) - self._start]

    def drop_before(self, start: int) -> None:
        if start > self._start:
            self._buf = self._buf[start - self._start:]
            self._start = start


def _source(audio, *, sr_in: int | None, sr: int) -> tuple[_Samples, str | None]:
    if isinstance(audio, (str, os.PathLike)):
        audio = Path(audio)

        return _Samples(iter(iter_audio_blocks(audio, sr=sr))), str(audio)
    wave = np.asarray(audio, dtype=np.float32)
    if wave.ndim == 2:  # [C, N] -> mono
        wave = wave.mean(axis=0)
    if wave.ndim != 1:
        raise Clip2FrameError(f"audio array: expected [N] or [C, N] samples, got shape {wave.shape}")
    if sr_in is None:
        raise Clip2FrameError("audio array: pass sr= (its sample rate) along with the samples")
    if not np.isfinite(wave).all():
        raise Clip2FrameError("audio array: contains NaN or inf samples")
    if sr_in != sr:
        wave = soxr.resample(wave, sr_in, sr).astype(np.float32)
    return _Samples(iter([wave])), None


# --------------------------------------------------------------------------------------------- engine
def _context_frames(tagger) -> int:
    """Input frames of context each side so a chunk's kept outputs equal a whole-file pass."""
    cfg = tagger.net.cfg
    ctx, res = 0, 1
    for layer in cfg.early:
        ctx += layer.kernel * res + layer.pool * res
        res *= layer.pool
    s = cfg.total_stride
    return s * output_frames(ctx + s, s)


@functools.lru_cache(maxsize=FRONT_END_CACHE_SIZE)
def _front_end(spec, device: torch.device) -> torch.nn.Module:
    """The feature front-end for ``spec`` on ``device``, built once (its filterbanks cost ~0.4 s)."""
    return MultiScaleLogMel(spec).to(device)


def _run_views(net, views: list[torch.Tensor], batch_size: int) -> list[torch.Tensor]:
    """forward_pre_accumulation over views [1, S, M, L_i]; views of equal length share a forward pass."""
    out: list[torch.Tensor | None] = [None] * len(views)
    by_len: dict[int, list[int]] = {}
    for i, v in enumerate(views):
        by_len.setdefault(v.shape[-1], []).append(i)
    for idx in by_len.values():
        for k in range(0, len(idx), batch_size):
            part = idx[k:k + batch_size]
            raw = net.forward_pre_accumulation(torch.cat([views[i] for i in part]))  # [b, K, T']
            for j, i in enumerate(part):
                out[i] = raw[j]
    return out  # type: ignore[return-value]


@torch.no_grad()
def _pre_accumulation(tagger, samples: _Samples, *, device: torch.device, shifts: list[int],
                      chunk_frames: int, batch_size: int = 8) -> tuple[list[torch.Tensor], int]:
    """Run features + early/late layers chunk by chunk. Returns, per shift, frame_raw [K, T'_r]
    (before accumulation), and the number of samples read. With patching, up to ``batch_size``
    shifted views of a chunk go through the network together."""
    spec = tagger.feature_spec
    hop, s = spec.hop_length, tagger.total_stride
    front = _front_end(spec, device)
    ctx = _context_frames(tagger)
    pad_frames = math.ceil(max(spec.win_sizes) / 2 / hop) + 8  # window half-width + delta width
    chunk = max(s, chunk_frames // s * s)
    outs: list[list[torch.Tensor]] = [[] for _ in shifts]
    a = 0  # first input frame of the chunk (a multiple of s)
    n_samples = None
    while True:
        b = a + chunk
        f0 = max(0, a - ctx - pad_frames)
        f1 = b + ctx + s + pad_frames
        wave = samples.get(f0 * hop, f1 * hop)
        if samples.eof:
            n_samples = samples.available
        t_in = None if n_samples is None else n_frames(n_samples, hop)  # whole-file frame count, once known
        feats = front(torch.from_numpy(np.ascontiguousarray(wave)).to(device)[None])  # [1, S, M, Tseg]
        # Segment frame i is global frame f0 + i; frames near a cut edge (not a file edge) are unreliable.
        lo = f0 + (pad_frames if f0 > 0 else 0)
        hi = f0 + feats.shape[-1] - (pad_frames if t_in is None or f0 + feats.shape[-1] < t_in else 0)
        if t_in is not None:
            hi = min(hi, t_in)
        feats = tagger.standardizer.apply(feats)
        last = t_in is not None and b >= t_in
        todo: list[tuple[int, int, int]] = []  # (shift index, r, v0)
        views: list[torch.Tensor] = []
        for i, r in enumerate(shifts):
            v0 = max(a + r - ctx, r)  # first input frame of this shift's view
            v1 = hi if last else min(b + r + ctx, hi)
            if v1 <= v0 or v0 < lo:
                continue
            todo.append((i, r, v0))
            views.append(feats[..., v0 - f0:v1 - f0])  # [1, S, M, v1 - v0]
        for (i, r, v0), raw in zip(todo, _run_views(tagger.net, views, max(1, batch_size))):  # raw [K, T'_view]
            skip = (a + r - v0) // s if a + r >= v0 else 0
            total_r = None if t_in is None else output_frames(t_in - r, s)
            j_end = (b // s) if not last else total_r
            outs[i].append(raw[:, skip:skip + (j_end - a // s)])
        if last:
            break
        samples.drop_before(max(0, a + chunk - ctx - pad_frames - s) * hop)
        a = b
    assert n_samples is not None  # the loop ends at the last chunk, known once the source hit its end
    return [torch.cat(o, dim=-1) if o else torch.zeros(tagger.net.n_labels, 0) for o in outs], n_samples


def predict(audio, *, model: ModelLike = "default", sr: int | None = None, resolution: str = "model",
            device: str | torch.device = "cpu", chunk_s: float = 600.0, batch_size: int = 8) -> FrameActivations:
    """Frame-level tag probabilities of a file or a waveform, of any length.

    Parameters
    ----------
    audio : path or np.ndarray [N] / [C, N]
        A file (decoded block by block, so a 3-hour file never sits in memory) or samples.
    model : "default", path or TaggerModel
    sr : int, optional
        Sample rate of ``audio`` when it is an array (resampled to the model's rate).
    resolution : {"model", "upsampled", "frame"}
        One value per model output frame; per feature frame (32 ms) with the model frames repeated
        (``upsampled``) or by patching (``frame``); see :data:`clip2frame.timebase.RESOLUTIONS`.
    chunk_s : float
        Seconds per inference chunk; results do not depend on it.
    batch_size : int
        With ``resolution="frame"``, shifted views run through the network this many at a time
        (more is faster on a GPU, costs memory); results do not depend on it.
    """
    if resolution not in RESOLUTIONS:
        raise Clip2FrameError(f"resolution: expected one of {', '.join(RESOLUTIONS)}, got '{resolution}'")
    dev = resolve_device(device)
    tagger = load_tagger(model, device=dev)
    spec = tagger.feature_spec
    samples, source = _source(audio, sr_in=sr, sr=spec.sr)
    s = tagger.total_stride
    shifts = list(range(s)) if resolution == "frame" else [0]
    chunk_frames = int(chunk_s * spec.sr / spec.hop_length)
    raws, n_samples = _pre_accumulation(tagger, samples, device=dev, shifts=shifts, chunk_frames=chunk_frames,
                                        batch_size=batch_size)
    with torch.no_grad():
        frames = [tagger.net.accumulation(r[None])[0].float().cpu().numpy() for r in raws]  # [K, T'_r]
    duration = n_samples / spec.sr
    if resolution == "model":
        probs = frames[0].T  # [T', K]
        step = tagger.frame_seconds
    elif resolution == "upsampled":
        t_in = n_frames(n_samples, spec.hop_length)
        probs = np.repeat(frames[0].T, s, axis=0)[:t_in]  # input frame i <- output frame i // s
        step = spec.hop_length / spec.sr
    else:
        t_in = n_frames(n_samples, spec.hop_length)
        probs = np.zeros((t_in, tagger.net.n_labels), dtype=np.float32)
        for r, fr in zip(shifts, frames):
            probs[r::s][: fr.shape[1]] = fr.T  # input frame s*j + r <- shift r, output j
        step = spec.hop_length / spec.sr
    bounds = frame_boundaries(probs.shape[0], step, duration_s=duration)

    meta = {"model": tagger.name, "model_version": tagger.version, "weights_sha256": weights_sha256(tagger),
            "resolution": resolution, "duration": duration}
    return FrameActivations(list(tagger.labels), probs, bounds, tagger.thresholds.copy(), dict(tagger.kinds),
                            source, meta)


def _is_path_list(obj: object) -> bool:
    """A list or tuple of paths (a batch of files), as opposed to samples given as a list."""
    return isinstance(obj, (list, tuple)) and len(obj) > 0 and all(isinstance(x, (str, os.PathLike)) for x in obj)


@overload
def tag(audio: PathLike | np.ndarray, *, sr: int | None = ..., model: ModelLike = ..., resolution: str = ...,
        device: str | torch.device = ..., chunk_s: float = ..., batch_size: int = ...) -> FrameActivations: ...
@overload
def tag(audio: list[PathLike] | tuple[PathLike, ...], *, sr: int | None = ..., model: ModelLike = ..., resolution: str = ...,
        device: str | torch.device = ..., chunk_s: float = ..., batch_size: int = ...) -> list[FrameActivations]: ...
def tag(audio: PathLike | np.ndarray | list[PathLike] | tuple[PathLike, ...], *, sr: int | None = None, model: ModelLike = "default",
        resolution: str = "model", device: str | torch.device = "cpu", chunk_s: float = 600.0,
        batch_size: int = 8) -> FrameActivations | list[FrameActivations]:
    """Frame-level tag probabilities of a file, a waveform or a list of files, with the packaged default
    model (or the one given).

    Parameters
    ----------
    audio : path, np.ndarray [N] or [C, N], or list of paths
        An audio/video file (decoded block by block, so its length does not matter), samples (with ``sr``;
        channels are averaged), or a list/tuple of files: one result per file, in order, the model loaded once.
    sr : int, optional
        Sample rate in Hz of ``audio`` when it holds samples (resampled to the model's 16 kHz); ignored for files.
    model : "default", path or TaggerModel
        ``"default"``: the packaged model (``clip2frame inspect default``); or a ``.safetensors`` model file.
    resolution : {"model", "upsampled", "frame"}
        Rows of ``probs``: one per model output frame (0.512 s for the packaged model), or one per 32-ms
        input frame, the model frames repeated (``upsampled``) or by patching (``frame``, ``total_stride``
        network passes); see :data:`clip2frame.timebase.RESOLUTIONS`.
    device : {"cpu", "auto", "cuda", "cuda:N"}
        Where the network runs (``auto``: CUDA when available).
    chunk_s : float
        Seconds of audio per inference chunk (memory only; results do not depend on it).
    batch_size : int
        With ``resolution="frame"``, shifted views per forward pass (speed/memory only).

    Returns
    -------
    FrameActivations or list of FrameActivations
        ``labels`` [K], ``probs`` [T, K] in [0, 1], ``boundaries`` [T+1] in seconds, ``thresholds`` [K]
        (the model's); ``.to_events()``, ``.save(out_dir)``. A list for a list of files.

    Raises
    ------
    Clip2FrameError
        A file that cannot be read (the message names it), a bad array, option or model file. For a
        catalogue where one bad file must not stop the rest (failures listed, resumable), use
        :func:`clip2frame.infer.batch.tag_files` (``clip2frame tag``).

    Examples
    --------
    >>> acts = clip2frame.tag("song.wav")                     # doctest: +SKIP
    >>> [a.to_events() for a in clip2frame.tag(["a.wav", "b.flac"])]  # doctest: +SKIP
    """
    def one(item) -> FrameActivations:
        return predict(item, model=model, sr=sr, resolution=resolution, device=device, chunk_s=chunk_s,
                       batch_size=batch_size)

    if isinstance(audio, (list, tuple)) and _is_path_list(audio):
        return [one(path) for path in audio]
    return one(audio)


@torch.no_grad()
def frames_from_features(net, feats: torch.Tensor, *, resolution: str = "model") -> np.ndarray:
    """Frame probabilities [T_out, K] of one clip's standardised features [1, S, M, T] held in memory
    (evaluation on cached features; :func:`predict` streams from audio instead)."""
    if resolution == "model":
        return net.forward_features(feats)[1][0].float().cpu().numpy().T
    s, T = net.total_stride, feats.shape[-1]
    out = np.zeros((T, net.n_labels), dtype=np.float32)
    for r in range(min(s, T)):
        fr = net.forward_features(feats[..., r:])[1][0].float().cpu().numpy().T  # [ceil((T-r)/s), K]
        out[r::s][: fr.shape[0]] = fr
    return out
