"""Evaluation of playing-action detection (thesis §4.3.2–4.3.3).

* temporal: per video, for its own instrument, frame score = spatial max of the map; ROC-AUC over the
  video's frames (positive = the frame has playing key points); mean over videos of an instrument, then
  over instruments. Videos whose frames are all positive or all negative have no AUC and are skipped.
* spatial: on frames with key points, the map is up-sampled bilinearly to the (256-long-side) frame; the
  distance in pixels from its arg-max to the nearest key point (Eq. 4.3); mean per instrument, then over
  instruments.
* hit rate: the arg-max falls inside a ground-truth box of the instrument.
* centre baseline: always predict the frame's centre.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ...eval import metrics as eval_metrics
from ...extras import require


def defined_auc(y_true, y_score) -> float:
    """:func:`clip2frame.eval.metrics.roc_auc` (the one ROC-AUC), ``nan`` without a warning when ``y_true``
    holds one class only: a video whose frames all play (or none does) simply has no temporal AUC."""
    y = np.asarray(y_true).astype(bool).ravel()
    if y.all() or not y.any():
        return float("nan")
    return eval_metrics.roc_auc(y, np.asarray(y_score, dtype=np.float64).ravel())


def upsample_map(heatmap: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Bilinear up-sampling of one map [h, w] to the frame (H, W) (half-pixel centres)."""
    cv2 = require("cv2", what="video detection")

    H, W = frame_size
    return cv2.resize(np.asarray(heatmap, dtype=np.float32), (int(W), int(H)), interpolation=cv2.INTER_LINEAR)


def argmax_location(heatmap: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float]:
    """(x, y) of the maximum of the up-sampled map.

    Bilinear up-sampling turns a border cell into a flat plateau (and a constant map is flat
    everywhere), so ties (within 1e-6 relative) are resolved by the centroid of the maximal pixels rather
    than the first one — otherwise every border maximum would land on the frame's corner pixel. A constant
    map therefore scores exactly like the centre baseline.
    """
    up = upsample_map(heatmap, frame_size)
    m = float(up.max())
    ys, xs = np.nonzero(up >= m - 1e-6 * abs(m))  # relative: tiny-valued maps keep their ranking
    return float(xs.mean()), float(ys.mean())


def point_distance(point: tuple[float, float], keypoints: Iterable[Sequence[float]]) -> float:
    """min over key points of the Euclidean distance (px) to ``point`` (Eq. 4.3)."""
    kp = np.asarray(list(keypoints), dtype=np.float64).reshape(-1, 2)
    if kp.size == 0:
        raise ValueError("point_distance: no key points")
    return float(np.sqrt(((kp - np.asarray(point)) ** 2).sum(axis=1)).min())


def spatial_distance(heatmap: np.ndarray, frame_size: tuple[int, int], keypoints) -> float:
    """Distance (px) from the arg-max of the up-sampled map to the nearest key point."""
    return point_distance(argmax_location(heatmap, frame_size), keypoints)


def centre_distance(frame_size: tuple[int, int], keypoints) -> float:
    """The centre baseline's distance: frame centre to the nearest key point."""
    H, W = frame_size
    return point_distance(((W - 1) / 2.0, (H - 1) / 2.0), keypoints)


def inside_box(point: tuple[float, float], boxes: Iterable[Sequence[float]]) -> bool:
    """``True`` when (x, y) lies in any box ``[x0, y0, x1, y1]`` (inclusive)."""
    x, y = point
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


def hit(heatmap: np.ndarray, frame_size: tuple[int, int], boxes) -> bool:
    """Object hit: the arg-max of the up-sampled map lies inside a ground-truth box."""
    return inside_box(argmax_location(heatmap, frame_size), boxes)


def _mean_of_means(per_inst: dict[str, list[float]]) -> float:
    vals = [float(np.mean(v)) for v in per_inst.values() if len(v)]
    return float(np.mean(vals)) if vals else float("nan")


@dataclass
class VideoTruth:
    """Truth of one evaluated (video, instrument) pair on the output frames.

    ``active`` [T] bool (frame has playing key points), ``keypoints`` T lists of (x, y),
    ``boxes`` T lists of [x0, y0, x1, y1]; coordinates on the 256-long-side frame of ``frame_size`` (H, W).
    """

    video: str
    instrument: str
    active: np.ndarray
    keypoints: list[list[tuple[float, float]]]
    boxes: list[list[list[float]]]
    frame_size: tuple[int, int]


@dataclass
class Scores:
    """Map metrics of a set of videos: temporal AUC, mean spatial distance (px), hit rate, and the same
    per instrument, with the counts of videos and frames they average over.
    """

    temporal_auc: float
    spatial_px: float
    hit_rate: float
    per_instrument: dict[str, dict[str, float]] = field(default_factory=dict)
    n_videos_auc: int = 0
    n_frames_spatial: int = 0


def evaluate_maps(truths: Sequence[VideoTruth], maps: Sequence[np.ndarray | None],
                  frame_scores: Sequence[np.ndarray | None] | None = None) -> Scores:
    """Temporal AUC, spatial distance and hit rate of one method.

    Parameters
    ----------
    truths : one :class:`VideoTruth` per (video, instrument) pair.
    maps : per pair the method's map for that instrument [T, h, w], or ``None`` (no spatial output).
    frame_scores : per pair [T] temporal scores; default = spatial max of ``maps``.
    """
    auc_i: dict[str, list[float]] = defaultdict(list)
    dist_i: dict[str, list[float]] = defaultdict(list)
    hit_i: dict[str, list[float]] = defaultdict(list)
    n_spatial = 0
    for k, tr in enumerate(truths):
        m = maps[k]
        fs = frame_scores[k] if frame_scores is not None else None
        if fs is None and m is not None:
            fs = np.asarray(m).reshape(len(m), -1).max(axis=1)
        if fs is not None:
            a = defined_auc(tr.active, fs)
            if not np.isnan(a):
                auc_i[tr.instrument].append(a)
        if m is None:
            continue
        for t in range(len(tr.active)):
            if tr.keypoints[t]:
                loc = argmax_location(m[t], tr.frame_size)
                dist_i[tr.instrument].append(point_distance(loc, tr.keypoints[t]))
                n_spatial += 1
            if tr.boxes[t]:
                loc = argmax_location(m[t], tr.frame_size)
                hit_i[tr.instrument].append(float(inside_box(loc, tr.boxes[t])))
    per = {inst: {"temporal_auc": float(np.mean(auc_i[inst])) if auc_i[inst] else float("nan"),
                  "spatial_px": float(np.mean(dist_i[inst])) if dist_i[inst] else float("nan"),
                  "hit_rate": float(np.mean(hit_i[inst])) if hit_i[inst] else float("nan")}
           for inst in sorted({t.instrument for t in truths})}
    return Scores(_mean_of_means(auc_i), _mean_of_means(dist_i), _mean_of_means(hit_i), per,
                  sum(len(v) for v in auc_i.values()), n_spatial)


def centre_baseline(truths: Sequence[VideoTruth]) -> Scores:
    """Spatial distance and hit rate of always predicting the frame centre."""
    dist_i: dict[str, list[float]] = defaultdict(list)
    hit_i: dict[str, list[float]] = defaultdict(list)
    for tr in truths:
        H, W = tr.frame_size
        c = ((W - 1) / 2.0, (H - 1) / 2.0)
        for t in range(len(tr.active)):
            if tr.keypoints[t]:
                dist_i[tr.instrument].append(point_distance(c, tr.keypoints[t]))
            if tr.boxes[t]:
                hit_i[tr.instrument].append(float(inside_box(c, tr.boxes[t])))
    return Scores(float("nan"), _mean_of_means(dist_i), _mean_of_means(hit_i),
                  n_frames_spatial=sum(len(v) for v in dist_i.values()))
