"""Stem processing (gate, EQ), mixing (compression, noise, loudness) and label-vs-stem agreement."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...extras import require
from ...timebase import HOP_LENGTH, SAMPLE_RATE

EPS = 1e-12


def _lfilter() -> Any:
    """``scipy.signal.lfilter`` (the IIR filters of the mixer; scipy comes with the 'synth' extra)."""
    return require("scipy.signal", what="corpus rendering", extra="synth").lfilter


def gate(stem: np.ndarray, spans, *, sr: int, fade_s: float = 0.02) -> np.ndarray:
    """Zero ``stem`` outside ``spans`` (seconds), with a raised-cosine fade ending at each span end.

    Onsets need no fade: the stem is silent before a note-on.
    """
    g = np.zeros(len(stem), dtype=np.float32)
    nf = max(1, int(round(fade_s * sr)))
    fade = (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, nf))).astype(np.float32)
    for a, b in spans:
        i0, i1 = max(0, int(round(a * sr))), min(len(stem), int(round(b * sr)))
        if i1 <= i0:
            continue
        g[i0:i1] = 1.0
        k = min(nf, i1 - i0)
        g[i1 - k:i1] = fade[nf - k:]
    return stem * g


def shelf_eq(x: np.ndarray, *, sr: int, low_db: float, high_db: float, split_hz: float = 800.0) -> np.ndarray:
    """Light tilt EQ: a one-pole low/high band split at ``split_hz``, each band scaled by its gain."""
    if abs(low_db) < 1e-3 and abs(high_db) < 1e-3:
        return x
    nz = np.flatnonzero(x)
    if nz.size == 0:
        return x
    # only the sounding region is filtered (the rest is exact silence, and stays so)
    i0, i1 = int(nz[0]), min(len(x), int(nz[-1]) + 1 + int(0.05 * sr))
    a = np.float32(np.exp(-2.0 * np.pi * split_hz / sr))
    seg = x[i0:i1].astype(np.float32)
    low = _lfilter()(np.array([1.0 - a], np.float32), np.array([1.0, -a], np.float32), seg)
    gl, gh = np.float32(10 ** (low_db / 20)), np.float32(10 ** (high_db / 20))
    out = np.zeros_like(x, dtype=np.float32)
    out[i0:i1] = gh * seg + (gl - gh) * low
    return out


def active_rms(x: np.ndarray, *, hop: int = HOP_LENGTH, threshold_db: float = -60.0) -> float:
    """RMS over the frames above ``threshold_db`` re the loudest frame (the level while playing)."""
    e = frame_energy(x, hop=hop)
    if e.size == 0 or e.max() <= 0:
        return 0.0
    on = e > e.max() * 10 ** (threshold_db / 10)
    return float(np.sqrt(e[on].mean()))


def compress(x: np.ndarray, *, sr: int, ratio: float, threshold_db: float = -10.0,
             window_s: float = 0.05) -> np.ndarray:
    """Feed-forward RMS compressor (``ratio`` : 1 above ``threshold_db`` re the signal's active RMS)."""
    if ratio <= 1.0:
        return x
    ref = active_rms(x) + EPS
    n = max(1, int(window_s * sr))
    a = float(np.exp(-1.0 / n))
    p = np.square(x, dtype=np.float32)
    env = np.sqrt(np.maximum(_lfilter()(np.array([1.0 - a], np.float32), np.array([1.0, -a], np.float32), p), 0) + EPS)
    level_db = 20 * np.log10(env / ref)
    over = np.maximum(0.0, level_db - threshold_db)
    gain = 10 ** (-over * (1.0 - 1.0 / ratio) / 20)
    return (x * gain).astype(np.float32)


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white, pink (1/f) or brown (1/f²) noise."""
    w = rng.standard_normal(n)
    if colour == "pink":
        # Paul Kellet's economy pink filter
        w = _lfilter()([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                    [1.0, -2.494956002, 2.017265875, -0.522189400], w)
    elif colour == "brown":
        w = _lfilter()([1.0], [1.0, -0.995], w)
    w = w - w.mean()
    return (w / (np.sqrt(np.mean(w ** 2)) + EPS)).astype(np.float32)


def frame_energy(x: np.ndarray, *, hop: int = HOP_LENGTH) -> np.ndarray:
    """Mean square per non-overlapping frame ``[t·hop, (t+1)·hop)``; shape ``(len(x) // hop,)``."""
    t = len(x) // hop
    if t == 0:
        return np.zeros(0)
    y = x[: t * hop].reshape(t, hop)
    return np.einsum("ij,ij->i", y, y, dtype=np.float64) / hop


def label_agreement(stems: dict[str, np.ndarray], events, *, sr: int = SAMPLE_RATE, hop: int = HOP_LENGTH,
                    threshold_db: float = -60.0) -> dict[str, float]:
    """Fraction of frames where "label active" agrees with "stem energy above threshold".

    Parameters
    ----------
    stems : {tag: np.ndarray of shape (N,)}
        The rendered stems (as mixed, before noise).
    events : iterable of ``Event`` (or ``(onset, offset, label)``)
        Frame truth; only the labels present in ``stems`` are scored.
    hop : int
        Frame length in samples (512: the model's input frame; 8192: its 0.512-s output frame).
    threshold_db : float
        A frame is audible when its energy exceeds the stem's loudest frame by this many dB (negative).

    Returns
    -------
    dict
        ``{"all": fraction over all (tag, frame) pairs, <tag>: fraction for that tag}``; a frame is
        labelled active when its centre lies inside an event of that tag.
    """
    per_tag: dict[str, float] = {}
    agree_total, n_total = 0, 0
    evs = [(e.onset, e.offset, e.label) if hasattr(e, "onset") else tuple(e) for e in events]
    for tag, x in stems.items():
        e = frame_energy(x, hop=hop)
        if e.size == 0:
            continue
        audible = e > (e.max() * 10 ** (threshold_db / 10) if e.max() > 0 else np.inf)
        centres = (np.arange(e.size) + 0.5) * hop / sr
        labelled = np.zeros(e.size, dtype=bool)
        for a, b, lab in evs:
            if lab == tag:
                labelled |= (centres >= a) & (centres < b)
        agree = int(np.sum(audible == labelled))
        per_tag[tag] = agree / e.size
        agree_total += agree
        n_total += e.size
    return {"all": agree_total / n_total if n_total else float("nan"), **per_tag}
