"""Multi-scale log-mel front-end (DESIGN.md §2) and per-band standardisation.

``MultiScaleLogMel(spec)(wave [B, N]) -> [B, S, M, T]`` with ``T = 1 + N // hop`` for every scale:
each scale is a centred STFT (periodic Hann window, zero padding of ``win // 2`` on both sides — the
``pad_mode='constant'`` default of ``librosa.stft``/``melspectrogram`` since librosa 0.10), power 2,
Slaney mel filterbank identical to ``librosa.filters.mel`` defaults, then ``log(1 + log_scale · mel)``.

Because the padding is with zeros, any input length works, including inputs shorter than the window
(10 ms of audio, or even zero samples): the missing samples are zeros, exactly as librosa computes them.

Speed (measured by ``benchmarks/bench_features.py``; 60 s, one thread, 2-core Xeon: 0.15 s CPU, about
0.6x the time of six bare ``torch.stft`` calls and 6x faster than librosa):

* The mel filterbank is sparse. Consecutive bands are grouped into a few blocks, each projected with a dense
  matmul over only the FFT bins where that block has non-zero weight; the grouping is chosen by dynamic
  programming (multiply-adds plus a per-matmul overhead). At 16384 samples that is ~50 k instead of ~1 M
  multiply-adds per frame.
* ``|X|²`` is never reduced separately: (re, im) are squared in place and the block weights are stored
  twice per bin, so the matmul adds ``re² + im²`` itself (a strided re²+im² reduction costs as much as the
  FFT at 16384 samples).
* Frames are processed in chunks of ~8 MB of complex spectrum (512 MB on accelerators): they stay in cache
  and in the allocator's free lists (the six whole-signal STFTs of 60 s took 2.7x the CPU time of the same
  FFTs done in such chunks: page faults and cache misses on outputs up to 120 MB), and memory stays
  bounded for recordings of any length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, cast

import numpy as np
import torch
from torch import Tensor

from .. import timebase
from ..config import from_dict, to_dict
from ..errors import ConfigError
from ..timebase import DEFAULT_WIN_SIZES, HOP_LENGTH, N_MELS, SAMPLE_RATE

__all__ = [
    "FeatureSpec", "MultiScaleLogMel", "Standardizer", "fit_standardizer", "mel_filterbank",
    "hz_to_mel", "mel_to_hz", "DELTA_WIDTH",
]

#: Width (frames) of the regression window of the delta features (librosa.feature.delta default).
DELTA_WIDTH = 9


@dataclass(frozen=True)
class FeatureSpec:
    """What the front-end computes; stored in every model file (``feature_spec``).

    Attributes
    ----------
    sr : int                      sample rate of the input waveform, Hz.
    hop_length : int              frame hop, samples (512 → 31.25 frames/s at 16 kHz).
    n_mels : int                  mel bands per scale.
    win_sizes : tuple[int, ...]   STFT window (= FFT) sizes, samples; one scale each.
    fmin, fmax : float            mel filterbank range, Hz (``fmax=None`` → ``sr / 2``).
    log_scale : float             compression ``log(1 + log_scale · mel)``.
    delta : bool                  append the first time-derivative of every log-mel band (M = 2·n_mels).
    """

    sr: int = SAMPLE_RATE
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    win_sizes: tuple[int, ...] = DEFAULT_WIN_SIZES
    fmin: float = 0.0
    fmax: float | None = None
    log_scale: float = 10000.0
    delta: bool = False

    def __post_init__(self) -> None:
        def pos_int(key: str, v: Any) -> None:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ConfigError(f"config key '{key}': expected a positive integer, got {v!r}")

        pos_int("sr", self.sr)
        pos_int("hop_length", self.hop_length)
        pos_int("n_mels", self.n_mels)
        if isinstance(self.win_sizes, (str, bytes)) or not isinstance(self.win_sizes, (tuple, list)):
            raise ConfigError(f"config key 'win_sizes': expected a list of window sizes, got {self.win_sizes!r}")
        if len(self.win_sizes) == 0:
            raise ConfigError("config key 'win_sizes': at least one window size is needed")
        for i, w in enumerate(self.win_sizes):
            pos_int(f"win_sizes[{i}]", w)
            if w < 2:
                raise ConfigError(f"config key 'win_sizes[{i}]': window size must be >= 2, got {w!r}")
        if len(set(self.win_sizes)) != len(self.win_sizes):
            raise ConfigError(f"config key 'win_sizes': duplicate window sizes in {list(self.win_sizes)}")
        if isinstance(self.win_sizes, list):  # frozen: keep it hashable
            object.__setattr__(self, "win_sizes", tuple(int(w) for w in self.win_sizes))
        nyq = self.sr / 2.0
        if not isinstance(self.fmin, (int, float)) or isinstance(self.fmin, bool) or not 0.0 <= self.fmin < nyq:
            raise ConfigError(f"config key 'fmin': expected 0 <= fmin < sr/2 = {nyq:g} Hz, got {self.fmin!r}")
        if self.fmax is not None:
            if (not isinstance(self.fmax, (int, float)) or isinstance(self.fmax, bool)
                    or not self.fmin < self.fmax <= nyq):
                raise ConfigError(
                    f"config key 'fmax': expected fmin < fmax <= sr/2 = {nyq:g} Hz (or null), got {self.fmax!r}")
        if (not isinstance(self.log_scale, (int, float)) or isinstance(self.log_scale, bool)
                or not math.isfinite(self.log_scale) or self.log_scale <= 0):
            raise ConfigError(f"config key 'log_scale': expected a positive number, got {self.log_scale!r}")
        if not isinstance(self.delta, bool):
            raise ConfigError(f"config key 'delta': expected true/false, got {self.delta!r}")

    @property
    def n_scales(self) -> int:
        """S, the number of scales (window sizes)."""
        return len(self.win_sizes)

    @property
    def n_bands(self) -> int:
        """M, bands per scale in the output (``2·n_mels`` with the delta)."""
        return self.n_mels * (2 if self.delta else 1)

    def n_frames(self, n_samples: int) -> int:
        """T for an input of ``n_samples`` samples: ``1 + n_samples // hop_length``."""
        return timebase.n_frames(n_samples, self.hop_length)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a plain dict (the model file's ``feature_spec``)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureSpec":
        """The spec of a dict written by :meth:`to_dict` (unknown keys refused)."""
        return from_dict(cls, dict(data))


# ---------------------------------------------------------------------------------------------------------
# Slaney mel filterbank (numpy, float64; identical to librosa.filters.mel(htk=False, norm='slaney'))

_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freqs: np.ndarray | float) -> np.ndarray:
    """Slaney (auditory toolbox) mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(freqs, dtype=np.float64)
    mels = f / _F_SP
    log_t = f >= _MIN_LOG_HZ
    return np.where(log_t, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    freqs = _F_SP * m
    log_t = m >= _MIN_LOG_MEL
    return np.where(log_t, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), freqs)


def mel_filterbank(*, sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filters, float32 [n_mels, 1 + n_fft // 2].

    Same construction as ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)``
    (htk=False, norm='slaney'): computed in float64, returned as float32. Bands narrower than one FFT bin
    (low bands at small ``n_fft``) are all-zero, as in librosa.
    """
    if fmax is None:
        fmax = sr / 2.0
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_pts = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    mel_f = mel_to_hz(mel_pts)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).astype(np.float32)


def _band_groups(fb: np.ndarray, *, overhead_macs: float) -> list[tuple[int, int, int, int]]:
    """Split bands into consecutive groups ``(m0, m1, f0, f1)`` minimising Σ (m1-m0)(f1-f0) + overhead·G.

    Each group is later projected with one dense matmul over bins ``f0:f1``; empty bands fall inside a
    neighbour's group (their zero rows cost nothing extra but a row)."""
    M = fb.shape[0]
    nz = fb != 0
    lo = np.where(nz.any(1), nz.argmax(1), fb.shape[1])
    hi = np.where(nz.any(1), fb.shape[1] - nz[:, ::-1].argmax(1), 0)
    best = np.full(M + 1, np.inf)
    best[0] = 0.0
    prev = np.zeros(M + 1, dtype=np.int64)
    for j in range(1, M + 1):
        f0, f1 = fb.shape[1], 0
        for i in range(j - 1, -1, -1):  # group = bands i..j-1
            f0, f1 = min(f0, lo[i]), max(f1, hi[i])
            width = max(f1 - f0, 0)
            c = best[i] + (j - i) * width + overhead_macs
            if c < best[j]:
                best[j], prev[j] = c, i
    groups = []
    j = M
    while j > 0:
        i = int(prev[j])
        f0, f1 = int(lo[i:j].min()), int(hi[i:j].max())
        if f1 <= f0:
            f0, f1 = 0, 0
        groups.append((i, j, f0, f1))
        j = i
    return groups[::-1]


class _Scale(torch.nn.Module):
    """One window size: window + grouped sparse mel projection (non-persistent buffers)."""

    window: Tensor  # buffers, declared for the type checker
    fb: Tensor

    def __init__(self, spec: FeatureSpec, win: int, overhead_macs: float):
        super().__init__()
        self.win = int(win)
        fb = mel_filterbank(sr=spec.sr, n_fft=win, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
        self.groups = _band_groups(fb, overhead_macs=overhead_macs)
        self.register_buffer("window", torch.hann_window(win, periodic=True, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)
        for g, (m0, m1, f0, f1) in enumerate(self.groups):
            # [m1-m0, 2·(f1-f0)]: each bin's weight twice, matching the interleaved (re, im) layout of the
            # squared spectrum, so |X|² = re² + im² is summed by the matmul itself.
            w = np.repeat(fb[m0:m1, f0:f1], 2, axis=1)
            self.register_buffer(f"fb{g}", torch.from_numpy(np.ascontiguousarray(w)), persistent=False)


class MultiScaleLogMel(torch.nn.Module):
    """Multi-scale log-mel spectrogram: ``forward(wave [B, N]) -> [B, S, M, T]``, ``T = 1 + N // hop``.

    Parameters
    ----------
    spec : FeatureSpec
        Window sizes, mel bands, hop, sample rate, compression, delta.
    chunk_frames : int
        At most this many frames per internal chunk.
    chunk_bytes : int or None
        About this many bytes of complex spectrum per internal chunk (``None``: 8 MB on CPU, 512 MB on an
        accelerator). Small chunks stay in cache and in the allocator's free lists — bounded memory for long
        inputs, and faster than one big STFT. Results do not depend on either setting.

    Notes
    -----
    Frames are centred (frame ``t`` is centred on sample ``t·hop``) and the signal is padded with
    ``win // 2`` zeros on both sides, as ``librosa.feature.melspectrogram(center=True)`` with its default
    ``pad_mode='constant'``. Inputs shorter than the window are therefore valid; ``N = 0`` gives one
    all-zero frame. The output is float32 on the input's device. No gradient is tracked.
    """

    def __init__(self, spec: FeatureSpec = FeatureSpec(), *, chunk_frames: int = 4096,
                 chunk_bytes: int | None = None):
        super().__init__()
        if not isinstance(spec, FeatureSpec):
            raise ConfigError(f"feature spec: expected a FeatureSpec, got {type(spec).__name__}")
        self.spec = spec
        self.chunk_frames = int(chunk_frames)
        # None: 8 MB on CPU (measured best on a 2-core Xeon: cache- and allocator-friendly), 512 MB on
        # accelerators (fewer kernel launches; memory is reused by the caching allocator anyway).
        self.chunk_bytes = None if chunk_bytes is None else int(chunk_bytes)
        # Charge each extra matmul call this many multiply-adds per frame when grouping bands. On one thread
        # 2048..8192 are equally fast; 8192 halves the calls (64 -> 33 for the 6 scales), which matters with
        # several threads on a busy machine, where every call is a parallel region waiting for a thread.
        self.scales = torch.nn.ModuleList(_Scale(spec, w, overhead_macs=8192.0) for w in spec.win_sizes)

    def extra_repr(self) -> str:
        """The settings shown by ``repr(module)``."""
        return f"win_sizes={self.spec.win_sizes}, n_mels={self.spec.n_mels}, hop={self.spec.hop_length}"

    @torch.no_grad()
    def forward(self, wave: Tensor) -> Tensor:
        """Log-mel of mono waves: ``wave`` [B, N] (or [N]) samples at ``spec.sr`` -> [B, S, M, T], ``T = 1 + N //
        hop``."""
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)
        if wave.dim() != 2:
            raise ValueError(f"expected a waveform [B, N], got shape {tuple(wave.shape)}")
        wave = wave.to(torch.float32)
        B, N = wave.shape
        hop = self.spec.hop_length
        T = 1 + N // hop
        out = wave.new_zeros((B, len(self.scales), self.spec.n_mels, T))
        if B == 0:
            return out if not self.spec.delta else torch.cat([out, out], dim=2)
        for s, sc in enumerate(cast("list[_Scale]", list(self.scales))):
            half = sc.win // 2
            # pad so every frame t covers padded[t·hop : t·hop + win]; zero beyond the signal on the right too
            need = (T - 1) * hop + sc.win
            right = max(need - half - N, 0)
            padded = torch.nn.functional.pad(wave, (half, right))
            # Frames per chunk: the complex spectrum of one chunk stays a few MB, so it is reused from the
            # allocator's cache instead of being page-faulted in fresh (that alone costs more than the FFT).
            per_frame = B * (sc.win // 2 + 1) * 8
            budget = self.chunk_bytes or ((8 << 20) if wave.device.type == "cpu" else (512 << 20))
            step = max(1, min(self.chunk_frames, budget // per_frame))
            for t0 in range(0, T, step):
                t1 = min(T, t0 + step)
                seg = padded[:, t0 * hop:(t1 - 1) * hop + sc.win]
                self._mel_power(seg, sc, out[:, s, :, t0:t1])
        out = torch.log1p(out.mul_(self.spec.log_scale))
        if self.spec.delta:
            out = torch.cat([out, _delta(out)], dim=2)
        return out

    def _mel_power(self, seg: Tensor, sc: _Scale, dest: Tensor) -> None:
        """Mel power of ``seg`` [B, (T-1)·hop + win] (padded, frames uncentred) into ``dest`` [B, n_mels, T]."""
        spec = torch.stft(seg, n_fft=sc.win, hop_length=self.spec.hop_length, window=sc.window,
                          center=False, return_complex=True)  # [B, F, T], memory laid out as [B, T, F]
        # Square (re, im) in place in their natural memory order, then let the grouped matmul add re² + im²:
        # this avoids a strided reduction that costs as much as the FFT itself at 16384 samples.
        sq = torch.view_as_real(spec.transpose(1, 2))  # [B, T, F, 2]
        if not sq.is_contiguous():
            sq = sq.contiguous()
        B, T = sq.shape[0], sq.shape[1]
        sq = sq.square_().reshape(B * T, -1)  # [B·T, 2F]
        # Plain 2-D matmuls only (a batched matmul here runs a slow generic kernel, badly so with threads).
        for g, (m0, m1, f0, f1) in enumerate(sc.groups):
            if f1 <= f0:
                dest[:, m0:m1, :] = 0.0
                continue
            w = getattr(sc, f"fb{g}")  # [m, 2w]
            if B == 1:  # straight into the output (a strided view): no temporary
                torch.mm(w, sq[:, 2 * f0:2 * f1].T, out=dest[0, m0:m1, :])
            else:
                r = torch.mm(sq[:, 2 * f0:2 * f1], w.T)  # [B·T, m]
                dest[:, m0:m1, :] = r.view(B, T, m1 - m0).transpose(1, 2)


def _delta(x: Tensor, width: int = DELTA_WIDTH) -> Tensor:
    """First time-derivative along the last axis, [..., T] -> [..., T].

    Interior: the least-squares slope over ``width`` frames, Σ n·x[t+n] / Σ n². Edges: the slope of the first
    (last) full window, which is what ``librosa.feature.delta(x, width=9, order=1)`` (Savitzky–Golay, polyorder
    1, mode='interp') returns, so the two agree whenever T >= width. Shorter inputs (where librosa refuses)
    repeat the edge frames to fill the window.
    """
    half = width // 2
    T = x.shape[-1]
    n = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    denom = float((n * n).sum())
    if T >= width:
        xp = x
    else:
        xp = torch.nn.functional.pad(x.reshape(-1, 1, T), (half, half), mode="replicate").reshape(*x.shape[:-1], -1)
    frames = xp.unfold(-1, width, 1)  # [..., T', width]
    d = torch.matmul(frames, n) / denom
    if T >= width:
        d = torch.nn.functional.pad(d.reshape(-1, 1, d.shape[-1]), (half, half), mode="replicate").reshape(x.shape)
    return d


# ---------------------------------------------------------------------------------------------------------
# Standardisation


class Standardizer:
    """Per-scale, per-band standardisation ``(x - mean) / std`` with mean/std float32 [S, M].

    Stored inside the model file as the tensors ``feature.mean`` and ``feature.std``.
    """

    MEAN_KEY = "feature.mean"
    STD_KEY = "feature.std"

    def __init__(self, mean: Tensor | np.ndarray, std: Tensor | np.ndarray):
        mean_t = torch.as_tensor(np.asarray(mean) if not isinstance(mean, Tensor) else mean).to(torch.float32)
        std_t = torch.as_tensor(np.asarray(std) if not isinstance(std, Tensor) else std).to(torch.float32)
        if mean_t.dim() != 2 or mean_t.shape != std_t.shape:
            raise ValueError(f"Standardizer: mean and std must both be [S, M], got {tuple(mean_t.shape)} "
                             f"and {tuple(std_t.shape)}")
        if not bool(torch.isfinite(mean_t).all() and torch.isfinite(std_t).all() and (std_t > 0).all()):
            raise ValueError("Standardizer: mean/std must be finite and std > 0")
        self.mean = mean_t.detach().cpu().contiguous()
        self.std = std_t.detach().cpu().contiguous()

    @property
    def shape(self) -> tuple[int, int]:
        """``(S, M)``: scales by mel bands of the statistics."""
        return tuple(self.mean.shape)  # type: ignore[return-value]

    def apply(self, feats: Tensor) -> Tensor:
        """Standardise ``feats`` [B, S, M, T] (or [S, M, T]); returns a new tensor on feats' device."""
        if tuple(feats.shape[-3:-1]) != self.shape:
            raise ValueError(f"Standardizer: features have [S, M] = {tuple(feats.shape[-3:-1])}, "
                             f"statistics are {self.shape}")
        mean = self.mean.to(device=feats.device, dtype=feats.dtype)[..., None]
        std = self.std.to(device=feats.device, dtype=feats.dtype)[..., None]
        return (feats - mean) / std

    __call__ = apply

    def to_tensors(self) -> dict[str, Tensor]:
        """``{'feature.mean': [S, M], 'feature.std': [S, M]}`` float32, contiguous, CPU (safetensors-ready)."""
        return {self.MEAN_KEY: self.mean.clone(), self.STD_KEY: self.std.clone()}

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Tensor]) -> "Standardizer":
        """Inverse of :meth:`to_tensors`; ``tensors`` may hold other keys (the network weights)."""
        missing = [k for k in (cls.MEAN_KEY, cls.STD_KEY) if k not in tensors]
        if missing:
            raise KeyError(f"Standardizer: missing tensor(s) {missing}")
        return cls(tensors[cls.MEAN_KEY], tensors[cls.STD_KEY])

    @classmethod
    def identity(cls, n_scales: int, n_bands: int) -> "Standardizer":
        """mean 0, std 1 (no-op) — for a model whose statistics are not fitted yet."""
        return cls(torch.zeros(n_scales, n_bands), torch.ones(n_scales, n_bands))

    def __repr__(self) -> str:
        return f"Standardizer(S={self.shape[0]}, M={self.shape[1]})"


STD_FLOOR = 1e-5


def fit_standardizer(batches: Iterable[Tensor], *, std_floor: float = STD_FLOOR) -> Standardizer:
    """Per-scale, per-band mean and (population) std over every frame of every batch, streaming.

    Parameters
    ----------
    batches : iterable of Tensor [B, S, M, T]
        Feature batches (T may differ between batches). Only running statistics are kept.
    std_floor : float
        Lower bound of std, so silent bands do not divide by zero.

    Notes
    -----
    Batch means and centred sums of squares are merged in float64 (Chan et al.), which stays accurate
    where a plain Σx² − n·mean² would cancel for large offsets.
    """
    count = 0
    mean: Tensor | None = None
    m2: Tensor | None = None
    for b in batches:
        x = torch.as_tensor(b).detach().to(device="cpu", dtype=torch.float64)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4:
            raise ValueError(f"fit_standardizer: expected batches [B, S, M, T], got {tuple(x.shape)}")
        x = x.permute(1, 2, 0, 3).reshape(x.shape[1], x.shape[2], -1)  # [S, M, B·T]
        n = x.shape[-1]
        if n == 0:
            continue
        bmean = x.mean(-1)
        bm2 = ((x - bmean[..., None]) ** 2).sum(-1)
        if mean is None or m2 is None:
            mean, m2, count = bmean, bm2, n
            continue
        if bmean.shape != mean.shape:
            raise ValueError(f"fit_standardizer: batch has [S, M] = {tuple(bmean.shape)}, "
                             f"earlier batches {tuple(mean.shape)}")
        tot = count + n
        delta = bmean - mean
        mean = mean + delta * (n / tot)
        m2 = m2 + bm2 + delta * delta * (count * n / tot)
        count = tot
    if mean is None or m2 is None:
        raise ValueError("fit_standardizer: no frames in the given batches")
    std = torch.sqrt(m2 / count).clamp_min(std_floor)
    return Standardizer(mean.to(torch.float32), std.to(torch.float32))
