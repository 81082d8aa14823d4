"""Clip- and frame-level metrics of thesis ch. 3 (DESIGN.md §2), as pure numpy functions.

Every metric validates its input first (mir_eval style) and returns plain floats / arrays; the
``evaluate_*`` wrappers return flat ``{name: float}`` dicts for ``metrics.csv`` and report tables.

Conventions
-----------
* **Errors.** Malformed input (wrong shapes, NaN/inf scores, non-binary truth, unknown labels, negative
  event times) raises :class:`clip2frame.errors.MetricInputError` (re-exported here). It subclasses both
  :class:`clip2frame.errors.Clip2FrameError` (the CLI prints it as ``error: ...`` and exits 2 when a
  user's file caused it) and :class:`ValueError`
  (what numpy/scikit-learn/mir_eval raise, so code written against those keeps working). Its message
  starts with the name of the offending argument.
* **Degenerate but valid input never raises.** A tag (or clip) whose metric is undefined — e.g. AUC with
  no positives or no negatives — gets ``NaN`` in the per-item array and is left out of the mean; a single
  :class:`MetricWarning` says how many were left out. When nothing is left, the mean is ``NaN`` (with a
  warning). Filter them with ``warnings.simplefilter("ignore", MetricWarning)``.
* **Decisions.** A score ``s`` fires for threshold ``θ`` when ``s >= θ`` (as
  :meth:`clip2frame.results.activations.FrameActivations.active`).
* **Shapes.** ``N`` items (clips or frames) × ``K`` tags; frame-level arrays are the frames of all test
  files concatenated along the first axis (the thesis' protocol).
"""
from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..data.events import check_events
from ..data.manifest import Event
from ..errors import MetricInputError

__all__ = [
    "MetricInputError", "MetricWarning", "validate_scores", "validate_predictions", "validate_events",
    "roc_auc", "average_precision", "clip_auc_ap", "frame_prf", "frame_auc", "all_positive_baseline",
    "evaluate_frames", "evaluate_clips", "evaluate",
]

# Above this many matrix elements, column-wise metrics work on blocks of columns to bound memory.
_BLOCK_ELEMENTS = 1 << 22


class MetricWarning(UserWarning):
    """A metric is undefined for some tags/clips (or for all of them) and was left out of a mean."""


def _warn(message: str) -> None:
    # point the warning at the first caller outside clip2frame.eval (Python 3.12's skip_file_prefixes)
    level = 2
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("clip2frame.eval"):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, MetricWarning, stacklevel=level)


# --------------------------------------------------------------------------------------------- validation


def _as_binary(y: np.ndarray | Sequence, name: str) -> np.ndarray:
    a = np.asarray(y)
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "biuf":
        raise MetricInputError(f"{name}: expected a binary (0/1 or bool) array, got dtype {a.dtype}")
    if a.size and not np.all((a == 0) | (a == 1)):
        bad = a[(a != 0) & (a != 1)].ravel()[0]
        raise MetricInputError(f"{name}: expected binary values 0/1, found {bad!r}")
    return a.astype(bool)


def _check_2d_or_1d(a: np.ndarray, name: str) -> None:
    if a.ndim not in (1, 2):
        raise MetricInputError(f"{name}: expected shape [N] or [N, K], got {a.shape}")


def validate_scores(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert a truth/score pair.

    Parameters
    ----------
    y_true : array-like [N] or [N, K]
        Binary truth (bool, or numbers that are all 0 or 1).
    y_score : array-like, same shape
        Real-valued scores (any range), all finite.

    Returns
    -------
    y_true : np.ndarray of bool, y_score : np.ndarray of float64 (same shapes).

    Raises
    ------
    MetricInputError
        Shapes differ or are not 1-D/2-D, truth not binary, scores not finite/numeric.
    """
    t = _as_binary(y_true, "y_true")
    s = np.asarray(y_score)
    if s.dtype.kind not in "biuf":
        raise MetricInputError(f"y_score: expected real numbers, got dtype {s.dtype}")
    s = s.astype(np.float64, copy=False)
    _check_2d_or_1d(t, "y_true")
    if t.shape != s.shape:
        raise MetricInputError(f"y_score: shape {s.shape} differs from y_true's {t.shape}")
    if s.size and not np.all(np.isfinite(s)):
        raise MetricInputError(f"y_score: {int((~np.isfinite(s)).sum())} values are NaN or infinite")
    return t, s


def validate_predictions(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Check a truth/decision pair: both binary, same shape [N] or [N, K]; returns two bool arrays."""
    t = _as_binary(y_true, "y_true")
    p = _as_binary(y_pred, "y_pred")
    _check_2d_or_1d(t, "y_true")
    if t.shape != p.shape:
        raise MetricInputError(f"y_pred: shape {p.shape} differs from y_true's {t.shape}")
    return t, p


def validate_events(events: Mapping[str, Iterable[Event]], labels: Sequence[str], name: str) -> None:
    """Check an event dict ``{filename: [Event, ...]}``: known labels, ``0 <= onset <= offset``, finite.
    ``name`` (the argument's name) starts the error message, then the file name."""
    if not isinstance(events, Mapping):
        raise MetricInputError(f"{name}: expected a dict filename -> list of Event, got {type(events).__name__}")
    known = set(labels)
    for fname, evs in events.items():
        check_events(evs, known, f"{name}: {fname}")


# ----------------------------------------------------------------------------------- column-wise kernels


def _tie_bounds(sorted_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last row index of each element's tie group, for a matrix sorted along axis 0."""
    n = sorted_s.shape[0]
    rows = np.arange(n).reshape((n,) + (1,) * (sorted_s.ndim - 1))
    change = sorted_s[1:] != sorted_s[:-1]
    start = np.concatenate([np.ones_like(sorted_s[:1], dtype=bool), change])
    end = np.concatenate([change, np.ones_like(sorted_s[:1], dtype=bool)])
    first = np.maximum.accumulate(np.where(start, rows, 0), axis=0)
    last = np.minimum.accumulate(np.where(end, rows, n)[::-1], axis=0)[::-1]
    return first, last


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(n_rows, 1))
    for c in range(0, n_cols, step):
        yield slice(c, min(c + step, n_cols))


def _auc_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column of ``y``/``s`` [N, M] (Mann-Whitney U, ties count 1/2); NaN if undefined."""
    n, m = s.shape
    out = np.full(m, np.nan)
    for sl in _blocks(n, m):
        ys, ss = y[:, sl], s[:, sl]
        order = np.argsort(ss, axis=0)  # any order within ties: mid-ranks and tie groups ignore it
        ss = np.take_along_axis(ss, order, axis=0)
        ys = np.take_along_axis(ys, order, axis=0)
        first, last = _tie_bounds(ss)
        ranks = (first + last) / 2.0 + 1.0  # 1-based mid-ranks; half-integers, exact in float64
        n_pos = ys.sum(axis=0).astype(np.float64)
        n_neg = n - n_pos
        u = np.where(ys, ranks, 0.0).sum(axis=0) - n_pos * (n_pos + 1) / 2.0
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)
    return out


def _ap_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Step-wise average precision of each column (scikit-learn's definition, tied scores form one
    operating point); NaN for a column without positives."""
    n, m = s.shape
    out = np.full(m, np.nan)
    for sl in _blocks(n, m):
        ys, ss = y[:, sl], -s[:, sl]  # ascending in -s = descending in s
        order = np.argsort(ss, axis=0)  # any order within ties: mid-ranks and tie groups ignore it
        ss = np.take_along_axis(ss, order, axis=0)
        ys = np.take_along_axis(ys, order, axis=0)
        _, last = _tie_bounds(ss)
        tps = np.cumsum(ys, axis=0)
        # each positive adds 1/P recall at the operating point closing its tie group
        prec_at_group_end = np.take_along_axis(tps, last, axis=0) / (last + 1.0)
        n_pos = ys.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = np.where(n_pos > 0, np.where(ys, prec_at_group_end, 0.0).sum(axis=0) / n_pos, np.nan)
    return out


def _mean_defined(values: np.ndarray, what: str, items: str) -> float:
    """Mean over the non-NaN entries, warning when some (or all) are left out."""
    ok = ~np.isnan(values)
    n_bad = int((~ok).sum())
    if not ok.any():
        _warn(f"{what}: undefined for all {values.size} {items}; returning NaN")
        return float("nan")
    if n_bad:
        idx = np.flatnonzero(~ok)
        shown = ", ".join(map(str, idx[:10])) + (", ..." if n_bad > 10 else "")
        _warn(f"{what}: undefined for {n_bad} of {values.size} {items} (indices {shown}); left out of the mean")
    return float(values[ok].mean())


# ---------------------------------------------------------------------------------------- ranking metrics


def _one_problem(name: str, y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Validated truth and scores of one binary problem as columns [N, 1] (``name`` in the shape error)."""
    t, s = validate_scores(y_true, y_score)
    if t.ndim != 1:
        raise MetricInputError(f"y_true: {name} expects shape [N], got {t.shape}")
    return t[:, None], s[:, None]


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve of one binary problem (equals ``sklearn.metrics.roc_auc_score``).

    Tied scores are one operating point (the trapezoid between them), i.e. a tied positive/negative pair
    counts 1/2. Without positives or without negatives the AUC is undefined: ``NaN`` with a
    :class:`MetricWarning` (scikit-learn raises instead).

    Parameters
    ----------
    y_true : array-like [N], binary.
    y_score : array-like [N], real.
    """
    t, s = _one_problem("roc_auc", y_true, y_score)
    auc = _auc_columns(t, s)[0]
    if np.isnan(auc):
        _warn(f"roc_auc: y_true has {int(t.sum())} positives and {int((~t).sum())} negatives; AUC undefined, NaN")
    return float(auc)


def average_precision(y_true, y_score) -> float:
    """Average precision ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, highest first
    (equals ``sklearn.metrics.average_precision_score``; no interpolation, ties are one threshold).

    ``NaN`` with a :class:`MetricWarning` when ``y_true`` has no positives; 1.0 when it has no negatives.

    Parameters
    ----------
    y_true : array-like [N], binary.
    y_score : array-like [N], real.
    """
    t, s = _one_problem("average_precision", y_true, y_score)
    ap = _ap_columns(t, s)[0]
    if np.isnan(ap):
        _warn(f"average_precision: y_true has no positives among {t.size} items; AP undefined, NaN")
    return float(ap)


def _as_2d(t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if t.ndim == 1:
        return t[:, None], s[:, None]
    return t, s


def clip_auc_ap(y_true, y_score) -> dict:
    """Clip-level ROC-AUC and AP, per tag (averaged over tags) and per clip (averaged over clips).

    A tag (column) or clip (row) with no positives or no negatives is undefined for both AUC and AP (AP
    would be trivially 1 without negatives): ``NaN`` in the ``*_values`` array, left out of the mean
    with one :class:`MetricWarning`; the same items are left out of AUC and AP.

    Parameters
    ----------
    y_true : array-like [N_clips, K], binary clip tags.
    y_score : array-like [N_clips, K], clip scores.

    Returns
    -------
    dict
        ``auc_per_tag``, ``ap_per_tag`` (floats, means over tags), ``auc_per_tag_values``,
        ``ap_per_tag_values`` ([K]); ``auc_per_clip``, ``ap_per_clip`` (means over clips),
        ``auc_per_clip_values``, ``ap_per_clip_values`` ([N_clips]); ``n_tags``, ``n_clips`` evaluated.
    """
    t, s = _as_2d(*validate_scores(y_true, y_score))
    out: dict = {}
    for axis_name, yt, ys, items in (("tag", t, s, "tags"), ("clip", t.T, s.T, "clips")):
        auc = _auc_columns(yt, ys)
        ap = _ap_columns(yt, ys)
        ap[np.isnan(auc)] = np.nan
        out[f"auc_per_{axis_name}"] = _mean_defined(auc, f"clip_auc_ap: AUC per {axis_name}", items)
        with warnings.catch_warnings():  # the same items as for AUC; one warning is enough
            warnings.simplefilter("ignore", MetricWarning)
            out[f"ap_per_{axis_name}"] = _mean_defined(ap, f"clip_auc_ap: AP per {axis_name}", items)
        out[f"auc_per_{axis_name}_values"] = auc
        out[f"ap_per_{axis_name}_values"] = ap
        out[f"n_{items}"] = int((~np.isnan(auc)).sum())
    return out


# ------------------------------------------------------------------------------------ frame-level metrics


def frame_prf(y_true, y_pred) -> dict:
    """Frame-level precision, recall and F1, micro and macro over tags (thesis §3.3).

    Micro pools the (frame, tag) decisions of all tags; macro computes P/R/F1 per tag, then averages.
    Per tag: ``P = tp/(tp+fp)``, ``R = tp/(tp+fn)``, ``F1 = 2tp/(2tp+fp+fn)``; a zero denominator of P
    or R gives 0 (scikit-learn's ``zero_division=0``), so a tag that is predicted but never present
    scores F1 = 0 (its false alarms count). A tag with **neither positives nor predictions** has nothing
    to score: NaN in the per-tag arrays, left out of the macro means with a :class:`MetricWarning`
    (with these tags left out, the macro values equal scikit-learn's ``average='macro',
    zero_division=0``). Micro values are NaN (with a warning) only when no tag has anything to score.

    Parameters
    ----------
    y_true : array-like [T, K] (or [T]), binary frame truth, frames of all files concatenated.
    y_pred : array-like, same shape, binary decisions.

    Returns
    -------
    dict
        ``micro_precision``, ``micro_recall``, ``micro_f1``, ``macro_precision``, ``macro_recall``,
        ``macro_f1`` (floats); ``precision_values``, ``recall_values``, ``f1_values`` ([K] float);
        ``tp``, ``fp``, ``fn`` ([K] int).
    """
    t, p = validate_predictions(y_true, y_pred)
    t, p = _as_2d(t, p)
    tp = (t & p).sum(axis=0)
    fp = (~t & p).sum(axis=0)
    fn = (t & ~p).sum(axis=0)
    scored = (tp + fp + fn) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        rec = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        f1 = np.where(scored, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)
    prec = np.where(scored, prec, np.nan)
    rec = np.where(scored, rec, np.nan)
    out: dict = {}
    TP, FP, FN = int(tp.sum()), int(fp.sum()), int(fn.sum())
    if TP + FP + FN == 0:
        _warn(f"frame_prf: no positive frames and no predictions in {t.shape[0]} frames; micro P/R/F1 NaN")
        out.update(micro_precision=float("nan"), micro_recall=float("nan"), micro_f1=float("nan"))
    else:
        out.update(micro_precision=TP / (TP + FP) if TP + FP else 0.0,
                   micro_recall=TP / (TP + FN) if TP + FN else 0.0,
                   micro_f1=2 * TP / (2 * TP + FP + FN))
    out["macro_f1"] = _mean_defined(f1, "frame_prf: F1 (no positives and no predictions)", "tags")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        out["macro_precision"] = _mean_defined(prec, "", "tags")
        out["macro_recall"] = _mean_defined(rec, "", "tags")
    out.update(precision_values=prec, recall_values=rec, f1_values=f1, tp=tp, fp=fp, fn=fn)
    return out


def frame_auc(y_true, y_score) -> dict:
    """Frame-level ROC-AUC per tag over all (concatenated) frames, and its mean over tags.

    Parameters
    ----------
    y_true : array-like [T, K] (or [T]), binary frame truth.
    y_score : array-like, same shape, frame scores.

    Returns
    -------
    dict
        ``auc`` (mean over tags with both positive and negative frames; the others are NaN in
        ``auc_values`` [K] and left out with a :class:`MetricWarning`), ``n_tags`` evaluated.
    """
    t, s = _as_2d(*validate_scores(y_true, y_score))
    auc = _auc_columns(t, s)
    return {"auc": _mean_defined(auc, "frame_auc: AUC (no positive or no negative frames)", "tags"),
            "auc_values": auc, "n_tags": int((~np.isnan(auc)).sum())}


def all_positive_baseline(y_true) -> dict:
    """The thesis' baseline: every frame predicted positive for every tag; returns :func:`frame_prf`'s dict.

    Its recall is 1 and its per-tag precision the tag's frame prior (0 for a tag never present).
    """
    t = _as_binary(y_true, "y_true")
    return frame_prf(t, np.ones_like(t, dtype=bool))


# --------------------------------------------------------------------------------------- named scores


def evaluate_frames(y_true, y_score, thresholds, *, labels: Sequence[str] | None = None) -> dict[str, float]:
    """Frame-level scores as a flat dict of floats (for ``metrics.csv`` and report tables).

    Parameters
    ----------
    y_true : array-like [T, K], binary frame truth of all test files concatenated.
    y_score : array-like [T, K], frame scores.
    thresholds : array-like [K], per-tag thresholds; a frame fires when ``score >= threshold``.
    labels : sequence of str [K], optional; adds per-tag keys ``frame_f1/<tag>`` and ``frame_auc/<tag>``.

    Returns
    -------
    dict
        ``frame_micro_precision``, ``frame_micro_recall``, ``frame_micro_f1``, ``frame_macro_precision``,
        ``frame_macro_recall``, ``frame_macro_f1``, ``frame_auc``, ``baseline_micro_f1``,
        ``baseline_macro_f1`` (the all-positive baseline) [, per-tag keys].
    """
    t, s = _as_2d(*validate_scores(y_true, y_score))
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thr.shape != (t.shape[1],):
        raise MetricInputError(f"thresholds: expected shape ({t.shape[1]},), got {np.shape(thresholds)}")
    if labels is not None and len(labels) != t.shape[1]:
        raise MetricInputError(f"labels: {len(labels)} names for {t.shape[1]} tags")
    prf = frame_prf(t, s >= thr[None, :])
    auc = frame_auc(t, s)
    base = all_positive_baseline(t)
    out = {f"frame_{k}": float(prf[k]) for k in ("micro_precision", "micro_recall", "micro_f1",
                                                  "macro_precision", "macro_recall", "macro_f1")}
    out["frame_auc"] = auc["auc"]
    out["baseline_micro_f1"] = base["micro_f1"]
    out["baseline_macro_f1"] = base["macro_f1"]
    if labels is not None:
        for k, lab in enumerate(labels):
            out[f"frame_f1/{lab}"] = float(prf["f1_values"][k])
            out[f"frame_auc/{lab}"] = float(auc["auc_values"][k])
    return out


def evaluate_clips(y_true, y_score, *, labels: Sequence[str] | None = None) -> dict[str, float]:
    """Clip-level scores as a flat dict: ``clip_auc_tag``, ``clip_ap_tag`` (per tag, averaged over tags),
    ``clip_auc_clip``, ``clip_ap_clip`` (per clip, averaged over clips) [, ``clip_auc/<tag>``,
    ``clip_ap/<tag>`` when ``labels`` is given]. Shapes as :func:`clip_auc_ap`."""
    r = clip_auc_ap(y_true, y_score)
    out = {"clip_auc_tag": r["auc_per_tag"], "clip_ap_tag": r["ap_per_tag"],
           "clip_auc_clip": r["auc_per_clip"], "clip_ap_clip": r["ap_per_clip"]}
    if labels is not None:
        if len(labels) != r["auc_per_tag_values"].size:
            raise MetricInputError(f"labels: {len(labels)} names for {r['auc_per_tag_values'].size} tags")
        for k, lab in enumerate(labels):
            out[f"clip_auc/{lab}"] = float(r["auc_per_tag_values"][k])
            out[f"clip_ap/{lab}"] = float(r["ap_per_tag_values"][k])
    return out


def evaluate(*, clip_true=None, clip_score=None, frame_true=None, frame_score=None, thresholds=None,
             labels: Sequence[str] | None = None) -> dict[str, float]:
    """Every score the inputs allow, as one flat dict (mir_eval's ``evaluate``): clip scores when
    ``clip_true``/``clip_score`` are given, frame scores when ``frame_true``/``frame_score``/
    ``thresholds`` are given."""
    out: dict[str, float] = {}
    if (clip_true is None) != (clip_score is None):
        raise MetricInputError("clip_true/clip_score: give both or neither")
    if (frame_true is None) != (frame_score is None):
        raise MetricInputError("frame_true/frame_score: give both or neither")
    if clip_true is not None:
        out.update(evaluate_clips(clip_true, clip_score, labels=labels))
    if frame_true is not None:
        if thresholds is None:
            raise MetricInputError("thresholds: needed for frame-level scores")
        out.update(evaluate_frames(frame_true, frame_score, thresholds, labels=labels))
    return out
