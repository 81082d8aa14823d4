"""Segment-based metrics (DCASE): F1, precision, recall and error rate on fixed-length segments.

:func:`segment_f1` equals ``sed_eval.sound_event.SegmentBasedMetrics`` fed file by file (checked by
``tests/test_metrics.py`` against fixtures that ``scripts/regen_metric_fixtures.py`` generates with
sed_eval). It follows the conventions of :mod:`clip2frame.eval.metrics` (input errors raise
:class:`~clip2frame.errors.MetricInputError`, undefined values are ``NaN`` with one
:class:`~clip2frame.eval.metrics.MetricWarning`); :func:`clip2frame.eval.protocol.segment_scores` adds it to
every evaluated split, at 1-s segments.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..data.manifest import Event
from ..errors import MetricInputError
from .metrics import MetricWarning, _mean_defined, _warn, validate_events

__all__ = ["segment_f1"]


def _event_roll(events: Iterable[Event], label_index: Mapping[str, int], n_segments: int,
                segment_s: float) -> np.ndarray:
    """Boolean activity [n_segments, K] of ``events``: a segment is active when an event touches it."""
    roll = np.zeros((n_segments, len(label_index)), dtype=bool)
    for e in events:
        # sed_eval's convention: a segment is active if the event touches it (floor onset, ceil offset)
        on = int(math.floor(e.onset * 1 / float(segment_s)))
        off = int(math.ceil(e.offset * 1 / float(segment_s)))
        roll[on:min(off, n_segments), label_index[e.label]] = True
    return roll


def _file_segments(f: str, ref: list[Event], est: list[Event], durations: Mapping[str, float] | None,
                   segment_s: float) -> int:
    """Number of segments of file ``f``: ``ceil(duration / segment_s)``, the duration given or the last offset."""
    if durations is not None:
        if f not in durations:
            raise MetricInputError(f"durations: no duration for file '{f}'")
        length = float(durations[f])
        if not (math.isfinite(length) and length >= 0):
            raise MetricInputError(f"durations: '{f}' has duration {length}")
    else:
        length = max([0.0] + [e.offset for e in ref] + [e.offset for e in est])
    return int(math.ceil(length * 1 / float(segment_s)))


class _Counts:
    """Segment counts summed over files: per class [K] TP/FP/FN/reference/system, and S/D/I totals."""

    def __init__(self, K: int):
        self.tp, self.fp, self.fn = (np.zeros(K, np.int64) for _ in range(3))
        self.n_ref, self.n_sys = np.zeros(K, np.int64), np.zeros(K, np.int64)
        self.S = self.D = self.I = 0
        self.n_segments = 0

    def add(self, r: np.ndarray, e: np.ndarray) -> None:
        """Add one file's reference and estimated rolls [n, K]."""
        self.n_segments += r.shape[0]
        self.tp += (r & e).sum(0)
        self.fp += (~r & e).sum(0)
        self.fn += (r & ~e).sum(0)
        self.n_ref += r.sum(0)
        self.n_sys += e.sum(0)
        nr, ns, nt = r.sum(1), e.sum(1), (r & e).sum(1)
        self.S += int((np.minimum(nr, ns) - nt).sum())
        self.D += int(np.maximum(0, nr - ns).sum())
        self.I += int(np.maximum(0, ns - nr).sum())


def _prf(tp: int, n_sys: int, n_ref: int, empty_output: str) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts (sed_eval's conventions for empty reference / output)."""
    p = (0.0 if empty_output == "zero" else np.nan) if n_sys == 0 else tp / n_sys
    r = np.nan if n_ref == 0 else tp / n_ref
    f = 0.0 if (p == 0 and r == 0) else 2 * p * r / (p + r)
    return p, r, f


def _scores(c: _Counts, labels: list[str], empty_output: str) -> dict[str, Any]:
    """The micro, error-rate and macro scores of :func:`segment_f1` from the summed counts."""
    K = len(labels)
    eps = np.spacing(1)  # sed_eval's guard in the rate denominators
    TP, SYS, REF = int(c.tp.sum()), int(c.n_sys.sum()), int(c.n_ref.sum())
    mp, mr, mf = _prf(TP, SYS, REF, empty_output)
    if math.isnan(mf):
        _warn(f"segment_f1: {REF} reference and {SYS} estimated active segments; micro F1 undefined, NaN")
    per = np.array([_prf(int(c.tp[k]), int(c.n_sys[k]), int(c.n_ref[k]), empty_output) for k in range(K)],
                   dtype=float).reshape(K, 3)
    er_k = (c.fn + c.fp) / (c.n_ref + eps)
    out: dict[str, Any] = {
        "micro_f1": float(mf), "micro_precision": float(mp), "micro_recall": float(mr),
        "error_rate": float(c.S / (REF + eps) + c.D / (REF + eps) + c.I / (REF + eps)),
        "substitution_rate": float(c.S / (REF + eps)), "deletion_rate": float(c.D / (REF + eps)),
        "insertion_rate": float(c.I / (REF + eps)),
    }
    undefined = [labels[k] for k in range(K) if np.isnan(per[k, 2])]
    if undefined and len(undefined) < K:
        _warn(f"segment_f1: class-wise F1 undefined (no reference or no output segments) for "
              f"{', '.join(undefined)}; left out of the macro mean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        out["macro_f1"] = _mean_defined(per[:, 2], "", "classes")
        out["macro_precision"] = _mean_defined(per[:, 0], "", "classes")
        out["macro_recall"] = _mean_defined(per[:, 1], "", "classes")
        out["macro_error_rate"] = _mean_defined(er_k.astype(float), "", "classes")
    if len(undefined) == K and K:
        _warn("segment_f1: class-wise F1 undefined for every class; macro F1 NaN")
    out.update(precision_values=per[:, 0], recall_values=per[:, 1], f1_values=per[:, 2])
    return out


def segment_f1(reference: Mapping[str, Sequence[Event]], estimated: Mapping[str, Sequence[Event]], *,
               labels: Sequence[str], segment_s: float = 1.0,
               durations: Mapping[str, float] | None = None, empty_output: str = "nan") -> dict:
    """Segment-based F1 / precision / recall / error rate (DCASE; equals ``sed_eval.sound_event.
    SegmentBasedMetrics(event_label_list=labels, time_resolution=segment_s)`` fed file by file).

    Each file is cut into segments ``[i·segment_s, (i+1)·segment_s)``; a label is active in a segment
    when any of its events touches it (onset floored, offset ceiled, as sed_eval). The number of
    segments of a file is ``ceil(duration / segment_s)`` with ``duration = durations[file]`` when given
    (events beyond it are cut), else — sed_eval's default — the largest event offset in the reference
    and estimated lists of that file, so trailing silence is not counted: pass ``durations`` whenever
    you know them. Files present in only one of the two dicts count with an empty list in the other.

    Counts are summed over all files, then: micro P = ΣTP/ΣSys, R = ΣTP/ΣRef, F1 from P and R; the
    error rate ER = (S + D + I) / (ΣRef + eps) from per-segment substitutions/deletions/insertions.
    Macro F1 is the mean of per-class F1 over classes where it is defined. Like sed_eval, a class
    without reference segments, or (with ``empty_output="nan"``, sed_eval's default) without any
    output segments, has F1 NaN and is left out of the macro mean (a :class:`MetricWarning` names
    them); ``empty_output="zero"`` (sed_eval's ``empty_system_output_handling='zero_score'``) scores
    precision 0 for an empty output instead, so a missed class counts F1 = 0.

    Parameters
    ----------
    reference, estimated : dict filename -> list of Event
    labels : sequence of str, the K classes evaluated (every event label must be one of them).
    segment_s : float, segment length in seconds (DESIGN.md: 1 s).
    durations : dict filename -> seconds, optional (see above).
    empty_output : {"nan", "zero"}

    Returns
    -------
    dict
        ``micro_f1``, ``micro_precision``, ``micro_recall``, ``error_rate``, ``substitution_rate``,
        ``deletion_rate``, ``insertion_rate``, ``macro_f1``, ``macro_precision``, ``macro_recall``,
        ``macro_error_rate`` (floats); ``f1_values``, ``precision_values``, ``recall_values`` ([K]);
        ``n_files``, ``n_segments``.
    """
    if not segment_s > 0:
        raise MetricInputError(f"segment_s: must be > 0, got {segment_s}")
    if empty_output not in ("nan", "zero"):
        raise MetricInputError(f"empty_output: expected 'nan' or 'zero', got {empty_output!r}")
    labels = list(labels)
    if len(set(labels)) != len(labels):
        raise MetricInputError("labels: contains duplicates")
    validate_events(reference, labels, "reference")
    validate_events(estimated, labels, "estimated")
    label_index = {lab: k for k, lab in enumerate(labels)}
    files = list(dict.fromkeys([*reference, *estimated]))
    counts = _Counts(len(labels))
    for f in files:
        ref, est = list(reference.get(f, ())), list(estimated.get(f, ()))
        n = _file_segments(f, ref, est, durations, segment_s)
        counts.add(_event_roll(ref, label_index, n, segment_s), _event_roll(est, label_index, n, segment_s))
    out = _scores(counts, labels, empty_output)
    out.update(n_files=len(files), n_segments=counts.n_segments)
    return out
