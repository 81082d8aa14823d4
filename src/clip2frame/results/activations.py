"""``FrameActivations``: what inference returns, what every writer writes and every reader of the result
files (:mod:`clip2frame.results.readers`: the index, the viewer) gives back."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..data.events import binary_to_events
from ..data.manifest import Event
from ..errors import Clip2FrameError
from .writers import write_outputs


@dataclass
class FrameActivations:
    """Frame-level tag probabilities of one recording.

    Attributes
    ----------
    labels : list[str]            K tag names, in model order.
    probs : np.ndarray [T, K]     probabilities in [0, 1].
    boundaries : np.ndarray [T+1] frame edges in seconds; frame t covers [boundaries[t], boundaries[t+1]).
    thresholds : np.ndarray [K]   per-tag decision thresholds (from the model file).
    kinds : dict[str, str]        tag -> kind (instrument family, tempo, ...), for grouping.
    source : str | None           the input file, when there is one.
    meta : dict                   model name/version and anything writers should record.
    maps : dict[str, np.ndarray]  per-stream outputs of a detector that has them, by stream name: spatial
                                  heat maps [T, K, h, w] (video: ``action``, ``object``, ``fused``) or
                                  frame activations [T, K] (video: ``sound``); empty for audio tagging.
    """

    labels: list[str]
    probs: np.ndarray
    boundaries: np.ndarray
    thresholds: np.ndarray
    kinds: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.probs = np.asarray(self.probs, dtype=np.float32)
        self.boundaries = np.asarray(self.boundaries, dtype=np.float64)
        self.thresholds = np.asarray(self.thresholds, dtype=np.float32)
        T, K = self.probs.shape
        if K != len(self.labels) or self.boundaries.shape != (T + 1,) or self.thresholds.shape != (K,):
            raise ValueError(
                f"FrameActivations: probs {self.probs.shape}, {len(self.labels)} labels, "
                f"boundaries {self.boundaries.shape}, thresholds {self.thresholds.shape} disagree"
            )
        for name, m in self.maps.items():
            if m.ndim not in (2, 4) or m.shape[:2] != (T, K):
                raise ValueError(f"FrameActivations: map {name!r} has shape {m.shape}, expected [T={T}, K={K}, ...]")

    @property
    def times(self) -> np.ndarray:
        """Frame onsets in seconds [T]."""
        return self.boundaries[:-1]

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.probs.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered: the last frame boundary."""
        return float(self.boundaries[-1])

    def active(self, thresholds: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
        """Binary activity [T, K] from the stored (or the given) per-tag thresholds: ``probs >= threshold``.
        Given thresholds are compared at their own precision (float64), so a threshold read from a file
        (6 decimals in the sidecar) decides a frame exactly as written."""
        thr = self.thresholds if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        return self.probs >= thr[None, :]

    def to_events(self, *, min_duration: float = 0.0, merge_gap: float = 0.0,
                  thresholds: Sequence[float] | np.ndarray | None = None) -> list[Event]:
        """Threshold each tag and turn runs of active frames into events, sorted by onset."""
        act = self.active(thresholds)
        events: list[Event] = []
        for k, label in enumerate(self.labels):
            events += binary_to_events(act[:, k], self.boundaries, label,
                                       min_duration=min_duration, merge_gap=merge_gap)
        return sorted(events, key=lambda e: (e.onset, e.label))

    def clip_scores(self, pooling: str = "mean") -> np.ndarray:
        """Clip-level score per tag [K] (mean or max over frames)."""
        if self.n_frames == 0:
            return np.zeros(len(self.labels), dtype=np.float32)
        return self.probs.max(0) if pooling == "max" else self.probs.mean(0)

    def top_tags(self, time_s: float, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` most confident tags at ``time_s`` (as in the thesis' GUI)."""
        t = int(np.clip(np.searchsorted(self.boundaries, time_s, side="right") - 1, 0, self.n_frames - 1))
        order = np.argsort(-self.probs[t])[:n]
        return [(self.labels[k], float(self.probs[t, k])) for k in order]

    def to_dataframe(self):
        """A pandas DataFrame with ``onset``, ``offset`` and one column per tag (needs pandas)."""
        try:
            import pandas as pd  # optional, no extra declares it (issue #26: listed in tests/test_layers.py)
        except ImportError:  # pragma: no cover - depends on the environment
            raise Clip2FrameError("to_dataframe() needs pandas: pip install pandas") from None
        df = pd.DataFrame(self.probs, columns=self.labels)
        df.insert(0, "offset", self.boundaries[1:])
        df.insert(0, "onset", self.boundaries[:-1])
        return df

    def save(self, out_dir: str | Path, *, formats: Iterable[str] = ("scores", "events"),
             stem: str | None = None, min_duration: float = 0.0, merge_gap: float = 0.0) -> dict[str, Path]:
        """Write the chosen formats as ``<out_dir>/<stem>.<suffix>`` (atomically); returns format -> path."""
        return write_outputs(self, Path(out_dir), formats=formats, stem=stem,
                             min_duration=min_duration, merge_gap=merge_gap)
