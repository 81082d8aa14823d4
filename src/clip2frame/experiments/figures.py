"""Report figures: taggrams against truth, learned sigma per tag, per-tag F1."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..extras import require
from ..fileio import atomic_write_bytes


def _plt():
    require("matplotlib", what="report figures").use("Agg")
    return require("matplotlib.pyplot", what="report figures")


def _save(fig, path: Path) -> Path:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def taggram_figure(path: Path, *, title: str, labels: Sequence[str], probs: np.ndarray, truth: np.ndarray,
                   step_s: float, thresholds: np.ndarray | None = None) -> Path:
    """Predicted probabilities [T, K] above the frame truth [T, K] of one clip."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2 if thresholds is None else 3, figsize=(14, 0.28 * len(labels) + 1.6),
                             sharey=True)
    extent = (0, probs.shape[0] * step_s, len(labels) - 0.5, -0.5)
    panels = [("prediction", probs), ("truth", truth.astype(float))]
    if thresholds is not None:
        panels.insert(1, ("detections (thresholded)", (probs >= thresholds[None, :]).astype(float)))
    for ax, (name, m) in zip(axes, panels):
        ax.imshow(m.T, aspect="auto", interpolation="nearest", cmap="magma", vmin=0, vmax=1, extent=extent)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_yticks(range(len(labels)))
    axes[0].set_yticklabels(labels, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def bar_figure(path: Path, *, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float] | np.ndarray],
               ylabel: str) -> Path:
    """A grouped bar chart, one bar per label and series (NaN drawn as 0), saved to ``path``; returns ``path``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(labels) + 2), 3.6))
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        ax.bar(x + i * w - 0.4 + w / 2, np.nan_to_num(np.asarray(vals, float)), w, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
