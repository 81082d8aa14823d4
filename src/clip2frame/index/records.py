"""What a row of the event index is: :class:`FileRecord` (everything the index keeps of one tagged file), the
stored frame-score encoding (uint16 blobs: :func:`encode_scores`, :func:`quantise`, :func:`decode_scores`) and
the per-event statistics (:func:`event_stats`: peak and mean score of an event).

Pure numpy, no database: :mod:`.store` writes a :class:`FileRecord` with these (``IndexStore.put``) and reads the
scores back (``IndexStore.frame_scores``); :mod:`.ingest` makes a :class:`FileRecord` from a result's output
files; :mod:`.query` decodes stored scores for a per-query threshold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Frame scores are stored as uint16: probability * SCORE_SCALE, rounded.
SCORE_SCALE = 65535


@dataclass
class FileRecord:
    """Everything the index keeps of one tagged file.

    ``path`` is the result's id in the catalogue (its output stem relative to the catalogue folder, e.g.
    ``live/a``); ``probs`` [T, K] and ``boundaries`` [T+1] are the frame scores; ``events`` are
    ``(label, onset_s, offset_s)`` as the events file has them; ``thresholds`` [K] made those events.
    """

    path: str
    name: str
    labels: list[str]
    probs: np.ndarray
    boundaries: np.ndarray
    thresholds: np.ndarray
    events: list[tuple[str, float, float]]
    kinds: dict[str, str] = field(default_factory=dict)
    kind: str = "tagging"
    source: str | None = None
    content_hash: str | None = None
    model_name: str = ""
    model_version: str = ""
    model_sha256: str = ""
    tagged_at: float = 0.0
    outputs_mtime_ns: int | None = None

    @property
    def duration_s(self) -> float:
        """The recording's duration in seconds (its last frame boundary; 0 without frames)."""
        return float(self.boundaries[-1]) if len(self.boundaries) else 0.0


def encode_scores(p: np.ndarray) -> bytes:
    """Probabilities [T] -> little-endian uint16 bytes (``round(p * 65535)``, clipped to [0, 1])."""
    return quantise(p).tobytes()


def quantise(p: np.ndarray) -> np.ndarray:
    """Probabilities (any shape) -> uint16 ``round(p * 65535)``, NaN -> 0, clipped to [0, 1]."""
    q = np.asarray(p, dtype=np.float32) * np.float32(SCORE_SCALE)
    np.nan_to_num(q, copy=False, nan=0.0)
    np.clip(q, 0.0, SCORE_SCALE, out=q)
    return np.rint(q).astype("<u2")


def decode_scores(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_scores` -> float32 [T]."""
    return np.frombuffer(bytes(data), dtype="<u2").astype(np.float32) / SCORE_SCALE


def event_stats(probs: np.ndarray, boundaries: np.ndarray, tag_index: np.ndarray, onsets: np.ndarray,
                offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak and mean score of each event over the frames that start inside ``[onset, offset)``.

    ``probs`` [T, K], ``boundaries`` [T+1]; events given as arrays (tag column, onset, offset). An event
    shorter than a frame uses the frame it starts in. Vectorised: cumulative sums for the means,
    ``maximum.reduceat`` on the tag-major flattened scores for the peaks."""
    T, K = probs.shape
    if len(onsets) == 0 or T == 0:
        return np.zeros(len(onsets)), np.zeros(len(onsets))
    starts = np.asarray(boundaries[:-1], dtype=np.float64)
    i0 = np.clip(np.searchsorted(starts, onsets - 1e-6, side="left"), 0, T - 1)
    i1 = np.clip(np.searchsorted(starts, offsets - 1e-6, side="left"), 0, T)
    i1 = np.maximum(i1, i0 + 1)
    p = np.asarray(probs, dtype=np.float64)
    cs = np.concatenate([np.zeros((1, K)), np.cumsum(p, axis=0)])
    mean = (cs[i1, tag_index] - cs[i0, tag_index]) / (i1 - i0)
    flat = np.concatenate([p.T.ravel(), [0.0]])
    idx = np.empty(2 * len(i0), dtype=np.int64)
    idx[0::2] = tag_index * T + i0
    idx[1::2] = tag_index * T + i1
    peak = np.maximum.reduceat(flat, idx)[0::2]
    return peak, mean
