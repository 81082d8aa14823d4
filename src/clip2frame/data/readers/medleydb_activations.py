"""MedleyDB activation confidences (``<T>_ACTIVATION_CONF.lab``) and the events they give per label.

The activation file is CSV with header ``time,S01,S02,...``: one row per hop of 2048 samples at 44.1 kHz
(46.4 ms), a confidence in [0, 1] per stem. :mod:`.medleydb` finds the files and maps stems to labels.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...errors import DatasetError
from ...timebase import frame_boundaries
from ..events import binary_to_events
from ..manifest import Event
from ._common import Issues, numbered_rows, parse_float, read_text

ACTIVATION_HOP_S = 2048 / 44100
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Activations:
    """Activation confidences of one track: ``times`` [T] (s), ``conf`` [T, S], ``stems`` (S ids)."""

    times: np.ndarray
    conf: np.ndarray
    stems: tuple[str, ...]

    @property
    def hop_s(self) -> float:
        """Seconds between activation frames (median spacing; the MedleyDB hop for a single frame)."""
        if len(self.times) > 1:
            return float(np.median(np.diff(self.times)))
        return ACTIVATION_HOP_S

    @property
    def end_s(self) -> float:
        """End (s) of the last activation frame; 0 when there is none."""
        return float(self.times[-1] + self.hop_s) if len(self.times) else 0.0


def read_activation_conf(path: str | Path, *, issues: Issues | None = None) -> Activations:
    """Parse ``<T>_ACTIVATION_CONF.lab``. Malformed rows are skipped (recorded in ``issues``) when given,
    else raise :class:`DatasetError`; a bad header always raises."""
    path = Path(path)
    text, _ = read_text(path)
    rows = numbered_rows(csv.reader(io.StringIO(text)))
    if not rows:
        raise DatasetError(f"{path}: empty activation file")
    header = [h.strip() for h in rows[0][1]]
    if header[0].lower() != "time" or len(header) < 2:
        raise DatasetError(f"{path}: header must be 'time,S01,S02,...', got {','.join(header[:4])}")
    times, values = [], []
    for line, r in rows[1:]:
        problem = None
        if len(r) != len(header):
            problem = f"expected {len(header)} comma-separated values, got {len(r)}"
        else:
            try:
                nums = [parse_float(c) for c in r]
            except ValueError:
                problem = f"non-numeric value in {','.join(r)[:60]!r}"
            else:
                if any(not 0.0 <= v <= 1.0 for v in nums[1:]):
                    problem = "confidence outside [0, 1]"
        if problem:
            if issues is None:
                raise DatasetError(f"{path}:{line}: {problem}")
            issues.bad_row(path, line, problem)
            continue
        times.append(nums[0])
        values.append(nums[1:])
    t = np.asarray(times, dtype=np.float64)
    conf = np.asarray(values, dtype=np.float64).reshape(len(times), len(header) - 1)
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        order = np.argsort(t, kind="stable")
        t, conf = t[order], conf[order]
    return Activations(t, conf, tuple(header[1:]))


def label_curves(act: Activations, stem_labels: Mapping[str, Sequence[str]],
                 labels: Sequence[str]) -> np.ndarray:
    """Per-label confidence [T, K]: the max over the stems carrying that label (0 when none)."""
    out = np.zeros((len(act.times), len(labels)), dtype=np.float64)
    index = {lab: k for k, lab in enumerate(labels)}
    for s, sid in enumerate(act.stems):
        for lab in stem_labels.get(sid, ()):
            k = index.get(lab)
            if k is not None:
                out[:, k] = np.maximum(out[:, k], act.conf[:, s])
    return out


def resample_to_frames(act_times: np.ndarray, curves: np.ndarray, *, frame_rate_hz: float,
                       end_s: float) -> np.ndarray:
    """Confidence curves [T, K] sampled every ~46 ms → frames [F, K] at ``frame_rate_hz``.

    Frame ``j`` spans ``[j/fr, (j+1)/fr)``; its value is the max of the samples whose time falls in it,
    or — when none does (frames shorter than the hop) — the sample in force at the frame start.
    """
    if frame_rate_hz <= 0:
        raise ValueError("frame_rate_hz must be > 0")
    n_frames = max(int(np.ceil(end_s * frame_rate_hz - 1e-9)), 0)
    out = np.full((n_frames, curves.shape[1]), -1.0)
    if n_frames == 0 or len(act_times) == 0:
        return np.zeros((n_frames, curves.shape[1]))
    idx = np.floor(act_times * frame_rate_hz + 1e-9).astype(np.int64)
    ok = (idx >= 0) & (idx < n_frames)
    np.maximum.at(out, idx[ok], curves[ok])
    empty = out[:, 0] < 0
    if empty.any():
        starts = np.flatnonzero(empty) / frame_rate_hz
        held = np.clip(np.searchsorted(act_times, starts + 1e-9, side="right") - 1, 0, len(act_times) - 1)
        out[empty] = curves[held]
    return out


def activation_events(act: Activations, stem_labels: Mapping[str, Sequence[str]], labels: Sequence[str], *,
                      threshold: float = DEFAULT_THRESHOLD, frame_rate_hz: float | None = None) -> list[Event]:
    """Events per label from activation confidences ≥ ``threshold``.

    With ``frame_rate_hz=None`` each sample spans ``[t_i, t_i + hop)`` (native 46 ms resolution); else the
    curves are first brought to that frame grid (:func:`resample_to_frames`), so event boundaries fall on
    frame boundaries. The last boundary is clipped to the end of the annotation.
    """
    curves = label_curves(act, stem_labels, labels)
    end = act.end_s
    if frame_rate_hz is None:
        bounds = np.append(act.times, end)
    else:
        curves = resample_to_frames(act.times, curves, frame_rate_hz=frame_rate_hz, end_s=end)
        bounds = frame_boundaries(curves.shape[0], 1.0 / frame_rate_hz, duration_s=end)
    events: list[Event] = []
    for k, lab in enumerate(labels):
        events += binary_to_events(curves[:, k] >= threshold, bounds, lab)
    return sorted(events, key=lambda e: (e.onset, e.label))
