"""Event-level metrics beside the thesis' frame metrics (issue #12 item 3), through the reference libraries.

(The segment-based F1 at 1 s is :func:`clip2frame.eval.segments.segment_f1`, equal to sed_eval's
``SegmentBasedMetrics`` by test; :func:`clip2frame.eval.protocol.segment_scores` adds it to every split.)

* **Event-based F1, 1-s onset collar** — ``sed_eval.sound_event.EventBasedMetrics(t_collar=1.0,
  evaluate_onset=True, evaluate_offset=False)``: an estimated event matches a reference event of its class
  when their onsets differ by at most 1 s (offsets not evaluated).
* **PSDS** — ``sed_scores_eval.intersection_based.psds`` on the stored frame scores (no threshold: the
  whole operating-point curve), DCASE 2021-2023 scenario 1 by default: DTC = GTC = 0.7, no cross-trigger
  (``cttc_threshold=None``, ``alpha_ct=0``), ``alpha_st=1``, eFPR up to 100 per hour.

Estimated events for the event-based F1 are the runs of frames whose score is ``>= threshold`` (the
model's per-tag thresholds), converted by :meth:`clip2frame.results.activations.FrameActivations.to_events`, as
``clip2frame tag`` writes them (no merging, no minimum duration).

``sed_eval`` / ``sed_scores_eval`` are optional dependencies (``pip install clip2frame[eval]``); without
them :func:`event_metrics` raises :class:`EventMetricsUnavailable` (a one-line
:class:`~clip2frame.errors.Clip2FrameError`).
"""
from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from typing import Mapping, Sequence

import numpy as np

from ..data.manifest import Event
from ..errors import Clip2FrameError
from ..results.activations import FrameActivations

__all__ = ["EventMetricsUnavailable", "PSDS1", "event_metrics", "estimated_events", "reference_libraries"]

# DCASE scenario 1 of the polyphonic sound detection score (Bilen et al. 2020; DCASE 2021-2023 task 4)
PSDS1 = dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0,
             max_efpr=100.0)


class EventMetricsUnavailable(Clip2FrameError):
    """sed_eval / sed_scores_eval are not installed."""


#: the start of the warning setuptools >= 67.5 gives when ``pkg_resources`` is imported (regex for ``filterwarnings``)
PKG_RESOURCES_WARNING = r"pkg_resources is deprecated"


def reference_libraries():
    """``(sed_eval, sed_scores_eval)``, imported. dcase_util (sed_eval's dependency) imports
    ``pkg_resources`` at module level but only uses it in functions never called here; setuptools >= 81
    no longer ships it, so an empty stand-in module is registered when it is missing."""
    with warnings.catch_warnings():
        # setuptools' own deprecation notice, printed on import (evaluate's stderr stays clean)
        warnings.filterwarnings("ignore", message=PKG_RESOURCES_WARNING, category=UserWarning)
        if importlib.util.find_spec("pkg_resources") is None:
            sys.modules.setdefault("pkg_resources", types.ModuleType("pkg_resources"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import sed_eval
            import sed_scores_eval
    except ImportError as e:
        raise EventMetricsUnavailable(f"event metrics: {e.name} is not installed "
                                      "(pip install 'clip2frame[eval]', or sed_eval sed_scores_eval)") from None
    _writeable_score_arrays()
    return sed_eval, sed_scores_eval


def _writeable_score_arrays() -> None:
    """sed_scores_eval 0.0.4 passes ``DataFrame.to_numpy()`` slices to a Cython kernel that needs writeable
    buffers; under pandas >= 3 (copy-on-write) they are read-only and PSDS fails with "buffer source array is
    read-only". Hand the kernel copies (same values, same result)."""
    from sed_scores_eval.base_modules import statistics

    kernel = statistics.onset_offset_curves
    if getattr(kernel, "clip2frame_copies", False):
        return

    def onset_offset_curves(scores, timestamps, change_point_candidates=None):
        cpc = None if change_point_candidates is None else np.array(change_point_candidates)
        return kernel(np.array(scores), np.array(timestamps), cpc)

    setattr(onset_offset_curves, "clip2frame_copies", True)
    statistics.onset_offset_curves = onset_offset_curves


def estimated_events(scores: np.ndarray, boundaries: np.ndarray, thresholds, labels: Sequence[str]) -> list[Event]:
    """Events of one file: runs of frames with ``scores[:, k] >= thresholds[k]``, per label
    (:meth:`clip2frame.results.activations.FrameActivations.to_events`)."""
    return FrameActivations(list(labels), np.asarray(scores, dtype=np.float32), np.asarray(boundaries),
                            np.asarray(thresholds, dtype=np.float32)).to_events()


def _dicts(fname: str, events: Sequence[Event]) -> list[dict]:
    return [{"filename": fname, "event_onset": float(e.onset), "event_offset": float(e.offset),
             "event_label": e.label} for e in events if e.offset > e.onset]


def event_metrics(reference: Mapping[str, Sequence[Event]], scores: Mapping[str, tuple[np.ndarray, np.ndarray]],
                  thresholds, labels: Sequence[str], durations: Mapping[str, float], *,
                  collar_s: float = 1.0, psds: bool = True, psds_params: Mapping | None = None) -> dict[str, float]:
    """Event-based F1 (onset collar) and PSDS of a set of files.

    Parameters
    ----------
    reference : filename -> the file's reference events (labels outside ``labels`` are ignored).
    scores : filename -> (boundaries [T+1] in seconds, frame scores [T, K] in [0, 1]); every file of
        ``reference``.
    thresholds : [K] per-tag thresholds for the event-based F1.
    labels : [K] class names (column order of the scores).
    durations : filename -> seconds (PSDS).
    collar_s : onset collar in seconds (1 s).
    psds : also compute PSDS (the slower of the two).
    psds_params : keyword arguments of ``sed_scores_eval.intersection_based.psds`` (default :data:`PSDS1`).

    Returns
    -------
    dict
        ``event_f1_micro``, ``event_f1_macro`` [, ``psds``]; per class ``event_f1/<label>``. sed_eval
        leaves a class without reference events out of the macro mean; a class with reference but no
        output scores 0 (``empty_system_output_handling="zero_score"``).
    """
    sed_eval, _ = reference_libraries()
    labels = list(labels)
    missing = [f for f in reference if f not in scores]
    if missing:
        raise Clip2FrameError(f"{missing[0]}: no frame scores for this file")
    evb = sed_eval.sound_event.EventBasedMetrics(event_label_list=labels, t_collar=collar_s,
                                                 evaluate_onset=True, evaluate_offset=False)
    ref_kept = {f: [e for e in evs if e.label in labels] for f, evs in reference.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a class the system never outputs scores 0 (not NaN, sed_eval's default), so silence is not rewarded
        evb.empty_system_output_handling = "zero_score"
        for f, evs in ref_kept.items():
            bounds, s = scores[f]
            est = _dicts(f, estimated_events(s, bounds, thresholds, labels))
            ref = _dicts(f, evs)
            evb.evaluate(ref, est)
        re_ = evb.results()
    out = {"event_f1_micro": float(re_["overall"]["f_measure"]["f_measure"]),
           "event_f1_macro": float(re_["class_wise_average"]["f_measure"]["f_measure"])}
    for lab in labels:
        out[f"event_f1/{lab}"] = float(re_["class_wise"][lab]["f_measure"]["f_measure"])
    if psds:
        out["psds"] = psds_score(ref_kept, scores, labels, durations, **dict(psds_params or PSDS1))
    return out


def psds_score(reference: Mapping[str, Sequence[Event]], scores: Mapping[str, tuple[np.ndarray, np.ndarray]],
               labels: Sequence[str], durations: Mapping[str, float], **params) -> float:
    """PSDS of the frame scores (``sed_scores_eval.intersection_based.psds``; ``params`` as :data:`PSDS1`).
    NaN when no file has a reference event (the score is undefined)."""
    _, sse = reference_libraries()
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    labels = list(labels)
    gt = {f: [(float(e.onset), float(e.offset), e.label) for e in evs if e.label in labels and e.offset > e.onset]
          for f, evs in reference.items()}
    if not any(gt.values()):
        return float("nan")
    present = sorted({lab for evs in gt.values() for _, _, lab in evs})
    cols = [labels.index(lab) for lab in present]  # PSDS averages over classes with reference events
    dfs = {f: create_score_dataframe(np.asarray(scores[f][1], dtype=np.float64)[:, cols],
                                     np.asarray(scores[f][0], dtype=np.float64), present) for f in gt}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sse.intersection_based.psds(dfs, gt, {f: float(durations[f]) for f in gt}, **params)
    return float(res[0])
