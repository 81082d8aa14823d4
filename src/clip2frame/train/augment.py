"""Training-time augmentation of the cached log-mel features (config ``augment``; off by default).

A timbre the model never heard differs from the training timbres first in its spectral envelope, so the
augmentation that matters here is a random equaliser. Both kinds act on one crop of raw features
``f = log(1 + C · mel)`` [S, M, L] (C = ``features.log_scale``, mel in power), before standardisation:

* **random EQ** (``eq_db``, ``eq_points``): a gain curve ``g[m]`` in dB, drawn uniformly in
  ``[-eq_db, +eq_db]`` at ``eq_points`` control points spread evenly over the mel bands and interpolated
  linearly between them, the same for every scale and frame of the crop. It is applied exactly as an
  equaliser acts on the power spectrum: ``f' = log(1 + (exp(f) - 1) · 10^(g/10))`` (C cancels).
* **SpecAugment masks** (Park et al. 2019; ``freq_masks`` x up to ``freq_mask_bands`` bands,
  ``time_masks`` x up to ``time_mask_frames`` frames): the masked cells are set to the band's training
  mean, i.e. to 0 after standardisation, which is also what the padding of a short crop holds.

Every draw comes from one ``numpy`` generator seeded per crop (the seed travels in the epoch plan), so a
batch is the same with 0 or N loader workers, on any rank, and on a resumed run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..config import check_keys


@dataclass(frozen=True)
class AugmentConfig:
    """Feature augmentation of the training crops: random EQ and SpecAugment masks (all off by default)."""

    eq_db: float = 0.0            # random EQ: control-point gains uniform in [-eq_db, +eq_db] dB (0 = off)
    eq_points: int = 8            # control points over the mel bands (linear interpolation between them)
    freq_masks: int = 0           # SpecAugment frequency masks per crop
    freq_mask_bands: int = 16     # each up to this many mel bands wide
    time_masks: int = 0           # SpecAugment time masks per crop
    time_mask_frames: int = 32    # each up to this many input frames long

    @property
    def enabled(self) -> bool:
        """Whether any augmentation is on."""
        return self.eq_db > 0 or self.freq_masks > 0 or self.time_masks > 0

    def validate(self) -> "AugmentConfig":
        """``self`` when every field is in range; :class:`ConfigError` naming the key otherwise."""
        checks = [
            ("eq_db", self.eq_db >= 0, f"must be >= 0, got {self.eq_db}"),
            ("eq_points", self.eq_points >= 2, f"must be >= 2, got {self.eq_points}"),
            ("freq_masks", self.freq_masks >= 0, f"must be >= 0, got {self.freq_masks}"),
            ("freq_mask_bands", self.freq_mask_bands >= 1, f"must be >= 1, got {self.freq_mask_bands}"),
            ("time_masks", self.time_masks >= 0, f"must be >= 0, got {self.time_masks}"),
            ("time_mask_frames", self.time_mask_frames >= 1, f"must be >= 1, got {self.time_mask_frames}"),
        ]
        check_keys(checks, prefix="augment.")
        return self


def eq_curve_db(rng: np.random.Generator, n_bands: int, max_db: float, n_points: int) -> np.ndarray:
    """A random gain curve [n_bands] in dB: uniform control-point gains, linearly interpolated."""
    gains = rng.uniform(-max_db, max_db, n_points)
    return np.interp(np.arange(n_bands), np.linspace(0, n_bands - 1, n_points), gains)


def apply_eq(feats: np.ndarray, gain_db: np.ndarray) -> np.ndarray:
    """``feats`` [S, M, L] = log(1 + C · mel) with mel scaled by ``10^(gain_db[m] / 10)`` per band:
    ``log(1 + (exp(f) - 1) · 10^(g/10))`` (C cancels), in float32."""
    out = np.expm1(feats.astype(np.float32))
    out *= (10.0 ** (np.asarray(gain_db) / 10.0)).astype(np.float32)[None, :, None]
    return np.log1p(out, out=out)


def spec_masks(rng: np.random.Generator, n_bands: int, n_frames: int,
               cfg: AugmentConfig) -> tuple[list[slice], list[slice]]:
    """The band ranges and frame ranges to mask in one crop of ``n_frames`` valid frames."""
    bands = []
    for _ in range(cfg.freq_masks):
        w = int(rng.integers(0, min(cfg.freq_mask_bands, n_bands) + 1))
        a = int(rng.integers(0, n_bands - w + 1))
        bands.append(slice(a, a + w))
    frames = []
    for _ in range(cfg.time_masks):
        w = int(rng.integers(0, min(cfg.time_mask_frames, n_frames) + 1))
        a = int(rng.integers(0, n_frames - w + 1))
        frames.append(slice(a, a + w))
    return bands, frames


class CropAugmenter:
    """Augments a raw crop [S, M, n] and returns it standardised (by ``standardise``), masks set to 0 (the
    band mean)."""

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg

    def __call__(self, feats: np.ndarray, seed: int,
                 standardise: Callable[[np.ndarray], torch.Tensor]) -> torch.Tensor:
        rng = np.random.default_rng(seed)
        n_bands, n = feats.shape[1], feats.shape[2]
        if self.cfg.eq_db > 0:
            feats = apply_eq(feats, eq_curve_db(rng, n_bands, self.cfg.eq_db, self.cfg.eq_points))
        x = standardise(feats)
        bands, frames = spec_masks(rng, n_bands, n, self.cfg)
        for b in bands:
            x[:, b, :] = 0.0
        for t in frames:
            x[:, :, t] = 0.0
        return x


def with_seeds(plan: Sequence[Sequence[tuple[int, ...]]], epoch_seed: int) -> list[list[tuple[int, ...]]]:
    """The epoch plan with one augmentation seed per item, derived from the epoch's seed and the item's place
    in the plan (no draw from the plan's generator: the crops stay those of an unaugmented run)."""
    out: list[list[tuple[int, ...]]] = []
    k = 0
    for batch in plan:
        items: list[tuple[int, ...]] = []
        for it in batch:
            items.append((*it, (epoch_seed * 1_000_003 + k) % (2**63 - 1)))
            k += 1
        out.append(items)
    return out
