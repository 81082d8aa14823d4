"""Events on a frame grid, both ways: the one mask → runs (:func:`mask_runs`), a boolean frame vector →
events (:func:`binary_to_events`, what every thresholded output and the MedleyDB reader use) and events →
frame truth (:func:`events_to_frames`, what the readers, training and evaluation score against).

Frame ``t`` covers ``[boundaries[t], boundaries[t+1])`` (seconds); ``boundaries`` has ``T + 1`` entries.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from ..errors import MetricInputError
from ..timebase import frame_boundaries
from .manifest import Event


def mask_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of ``True`` in a boolean vector.

    Parameters
    ----------
    mask : array-like of bool [T]

    Returns
    -------
    starts, stops : np.ndarray of int64 [R]
        Run ``r`` covers frames ``starts[r] <= t < stops[r]``, runs in order.
    """
    d = np.diff(np.concatenate([[0], np.asarray(mask, dtype=bool).astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def binary_to_events(active: np.ndarray, boundaries: np.ndarray, label: str, *,
                     min_duration: float = 0.0, merge_gap: float = 0.0) -> list[Event]:
    """Runs of ``True`` in ``active`` [T] -> events, gaps <= ``merge_gap`` s merged, then events shorter
    than ``min_duration`` s dropped (merging first, so a flickering tag becomes one event).

    Parameters
    ----------
    active : array-like of bool [T]
    boundaries : array-like [T+1]
        Frame edges in seconds.
    label : str
    min_duration, merge_gap : float
        Seconds.

    Returns
    -------
    list of Event
        In time order, onsets and offsets rounded to 1 ms.
    """
    starts, stops = mask_runs(active)
    spans = [[float(boundaries[s]), float(boundaries[e])] for s, e in zip(starts, stops)]
    merged: list[list[float]] = []
    for s in spans:
        if merged and s[0] - merged[-1][1] <= merge_gap + 1e-9:
            merged[-1][1] = s[1]
        else:
            merged.append(s)
    return [Event(round(on, 3), round(off, 3), label) for on, off in merged if off - on >= min_duration - 1e-9]


def check_events(events: Iterable[Event], known: set[str], where: str) -> None:
    """Each event's label is in ``known`` and ``0 <= onset <= offset``, finite; a
    :class:`~clip2frame.errors.MetricInputError` starting with ``where`` otherwise."""
    for e in events:
        if e.label not in known:
            raise MetricInputError(f"{where}: event label '{e.label}' is not in labels")
        if not (math.isfinite(e.onset) and math.isfinite(e.offset)) or e.onset < 0 or e.offset < e.onset:
            raise MetricInputError(f"{where}: event '{e.label}' has onset {e.onset} / offset {e.offset} "
                                   "(need 0 <= onset <= offset)")


def _merged_spans(events: Iterable[Event], label: str) -> list[tuple[float, float]]:
    spans = sorted((e.onset, e.offset) for e in events if e.label == label and e.offset > e.onset)
    merged: list[list[float]] = []
    for on, off in spans:
        if merged and on <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], off)
        else:
            merged.append([on, off])
    return [(a, b) for a, b in merged]


def events_to_frames(events: Iterable[Event], labels: Sequence[str], boundaries=None, *,
                     n_frames: int | None = None, frame_duration_s: float | None = None,
                     min_overlap: float = 0.5) -> np.ndarray:
    """Rasterise events onto a frame grid (the inverse of :func:`binary_to_events`); the one
    events → frame-truth conversion of the project.

    Frame ``t`` covers ``[boundaries[t], boundaries[t+1])`` of duration ``d_t``. For each label the
    events are first merged (their union), then frame ``t`` is active when the union overlaps it by at
    least ``min_overlap · d_t`` seconds (default: half the frame, so a frame takes the majority state).
    Two overlapping events of one label count once: together ``[0, 0.3)`` and ``[0.1, 0.3)`` cover
    0.3 s of a 1-s frame, not 0.5 s. ``min_overlap=0`` means *any* overlap: active when the overlap is
    > 0. Zero-length events never activate a frame.

    Parameters
    ----------
    events : iterable of Event
        Events of one file (labels must be in ``labels``).
    labels : sequence of str [K]
        Column order of the result.
    boundaries : array-like [T+1]
        Non-decreasing frame edges in seconds. Or, instead, a regular grid:
    n_frames, frame_duration_s : int, float
        ``T`` frames of ``d`` seconds, frame ``t`` spanning ``[t·d, (t+1)·d)``.
    min_overlap : float in [0, 1]
        Fraction of a frame the events must cover.

    Returns
    -------
    np.ndarray [T, K] of bool
    """
    if boundaries is None:
        if n_frames is None or frame_duration_s is None:
            raise MetricInputError("boundaries: give the frame edges, or n_frames and frame_duration_s")
        if not (frame_duration_s > 0 and math.isfinite(frame_duration_s)):
            raise MetricInputError(f"frame_duration_s: must be > 0, got {frame_duration_s}")
        if n_frames < 0:
            raise MetricInputError(f"n_frames: must be >= 0, got {n_frames}")
        boundaries = frame_boundaries(int(n_frames), float(frame_duration_s))
    elif n_frames is not None or frame_duration_s is not None:
        raise MetricInputError("boundaries: give either the frame edges or n_frames/frame_duration_s, not both")
    b = np.asarray(boundaries, dtype=np.float64)
    if b.ndim != 1 or b.size < 1:
        raise MetricInputError(f"boundaries: expected shape [T+1] with T >= 0, got {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(np.diff(b) < 0):
        raise MetricInputError("boundaries: must be finite and non-decreasing")
    if not 0.0 <= min_overlap <= 1.0:
        raise MetricInputError(f"min_overlap: expected a fraction in [0, 1], got {min_overlap}")
    events = list(events)
    check_events(events, set(labels), "events")
    T = b.size - 1
    out = np.zeros((T, len(labels)), dtype=bool)
    lo, hi = b[:-1], b[1:]
    dur = hi - lo
    for k, label in enumerate(labels):
        covered = np.zeros(T)
        for on, off in _merged_spans(events, label):
            # only frames whose span can intersect [on, off)
            t0 = max(int(np.searchsorted(hi, on, side="right")), 0)
            t1 = min(int(np.searchsorted(lo, off, side="left")), T)
            if t1 > t0:
                covered[t0:t1] += np.clip(np.minimum(off, hi[t0:t1]) - np.maximum(on, lo[t0:t1]), 0.0, None)
        if min_overlap == 0.0:
            out[:, k] = covered > 0
        else:
            # tolerance: event times are written with 3 decimals, frame edges are k·0.512 s
            out[:, k] = (covered >= min_overlap * dur - 1e-9) & (dur > 0)
    return out
