"""Fusion of the streams after training (thesis §4.1.3): point-wise products.

``A`` [T, K, h, w] action map, ``O`` [T, K, h, w] object map, ``S`` [T, K] sound activations.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FUSIONS: tuple[str, ...] = ("A", "A*O", "A*S", "A*O*S")


def _match(O: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if O.shape[-2:] == tuple(shape[-2:]):
        return O
    t = torch.as_tensor(np.asarray(O, dtype=np.float32))
    return F.interpolate(t, size=tuple(shape[-2:]), mode="bilinear", align_corners=False).numpy()


def fuse(A: np.ndarray, *, O: np.ndarray | None = None, S: np.ndarray | None = None,
         method: str = "A*O*S") -> np.ndarray:
    """``A``, ``A·O``, ``A·S`` or ``A·O·S`` -> [T, K, h, w] (O resized bilinearly to A's map when needed)."""
    if method not in FUSIONS:
        raise ValueError(f"fusion '{method}': expected one of {FUSIONS}")
    M = np.asarray(A, dtype=np.float32)
    if "O" in method:
        if O is None:
            raise ValueError(f"fusion '{method}' needs the object map O")
        M = M * _match(np.asarray(O, dtype=np.float32), M.shape)
    if "S" in method:
        if S is None:
            raise ValueError(f"fusion '{method}' needs the sound activations S")
        M = M * np.asarray(S, dtype=np.float32)[..., None, None]
    return M


def n_streams(method: str) -> int:
    """How many streams a fusion multiplies (``A*O*S``: 3)."""
    if method not in FUSIONS:
        raise ValueError(f"fusion '{method}': expected one of {FUSIONS}")
    return method.count("*") + 1


def frame_scores(fused: np.ndarray, method: str) -> np.ndarray:
    """Per-frame score [T, K] of each instrument from the fused maps [T, K, h, w]: the spatial max, as the
    geometric mean of the ``method``'s streams (the m-th root of a product of m streams).

    A product of m probabilities shrinks with m (three streams at 0.8 give 0.51), so one event threshold
    would mean something else for A, A·O and A·O·S; the root keeps the probability scale and the ranking
    (temporal AUC is unchanged)."""
    f = np.asarray(fused)
    peak = f.reshape(f.shape[0], f.shape[1], -1).max(-1).astype(np.float64) if f.size else \
        np.zeros(f.shape[:2], np.float64)
    return np.power(np.clip(peak, 0.0, 1.0), 1.0 / n_streams(method))
