"""Evaluation: clip AUC/AP, frame P/R/F1 and AUC, segment F1, and per-tag thresholds (thesis ch. 3).

Pure numpy; each metric validates its input and returns floats/arrays, the ``evaluate*`` functions flat
``{name: float}`` dicts. See :mod:`clip2frame.eval.metrics` for the conventions on errors and warnings.
"""
from __future__ import annotations

from .metrics import (
    MetricInputError,
    MetricWarning,
    all_positive_baseline,
    average_precision,
    clip_auc_ap,
    evaluate,
    evaluate_clips,
    evaluate_frames,
    frame_auc,
    frame_prf,
    roc_auc,
    validate_events,
    validate_predictions,
    validate_scores,
)
from .segments import segment_f1
from .thresholds import clip_labels, cut_clips, f1_curves, fit_thresholds, pool_clips, threshold_grid

__all__ = [
    "MetricInputError", "MetricWarning", "validate_scores", "validate_predictions", "validate_events",
    "roc_auc", "average_precision", "clip_auc_ap", "frame_prf", "frame_auc", "all_positive_baseline",
    "segment_f1", "evaluate_frames", "evaluate_clips", "evaluate",
    "threshold_grid", "f1_curves", "fit_thresholds", "cut_clips", "clip_labels", "pool_clips",
]
