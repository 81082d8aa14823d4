"""A tiny procedural corpus (tones, noise bursts, click trains at known times) for tests and smoke runs.

Unlike the embedded music corpus it needs no soundfont and renders in milliseconds; it is *not* music,
only a fixture with exact frame truth.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_bytes
from ..timebase import SAMPLE_RATE
from .manifest import ClipRecord, Event, Manifest, load_manifest, write_manifest

TOY_LABELS = ("tone", "noise", "clicks")
TOY_KINDS = {"tone": "pitched", "noise": "noise", "clicks": "percussive"}


def _source(label: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    if label == "tone":
        f = rng.uniform(300, 900)
        return 0.3 * np.sin(2 * np.pi * f * t) + 0.15 * np.sin(4 * np.pi * f * t)
    if label == "noise":
        x = rng.standard_normal(n)
        k = np.ones(8) / 8.0  # low-passed noise
        return 0.25 * np.convolve(x, k, mode="same")
    x = np.zeros(n)
    period = int(sr * rng.uniform(0.08, 0.2))
    x[::period] = 0.9
    return np.convolve(x, np.exp(-np.arange(200) / 30.0), mode="same")


def render_toy_clip(rng: np.random.Generator, *, duration_s: float, sr: int = SAMPLE_RATE,
                    p_active: float = 0.6) -> tuple[np.ndarray, list[Event]]:
    """One toy clip: noise plus each toy label's sound with probability ``p_active``.

    Returns
    -------
    wave : np.ndarray, shape (int(duration_s·sr),), float32
    events : list of Event
        Onsets and offsets in seconds.
    """
    n = int(duration_s * sr)
    wave = 0.003 * rng.standard_normal(n)
    events: list[Event] = []
    for label in TOY_LABELS:
        if rng.random() > p_active:
            continue
        length = rng.uniform(0.25, 0.7) * duration_s
        on = rng.uniform(0, duration_s - length)
        a, b = int(on * sr), int((on + length) * sr)
        wave[a:b] += _source(label, b - a, sr, rng)
        events.append(Event(round(a / sr, 3), round(b / sr, 3), label))
    return wave.astype(np.float32), events


def make_toy_corpus(root: str | Path, *, n_clips: dict[str, int] | None = None, duration_s: float = 6.0,
                    sr: int = SAMPLE_RATE, seed: int = 0) -> Manifest:
    """Write a manifest directory of procedurally rendered clips with exact event truth."""
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    root = Path(root)
    n_clips = n_clips or {"train": 24, "validation": 8, "test": 8}
    rng = np.random.default_rng(seed)
    clips = []
    for split, n in n_clips.items():
        for i in range(n):
            wave, events = render_toy_clip(rng, duration_s=duration_s, sr=sr)
            path = root / "audio" / split / f"{split}_{i:04d}.wav"
            buf = io.BytesIO()
            sf.write(buf, wave, sr, format="WAV", subtype="PCM_16")
            atomic_write_bytes(path, buf.getvalue())
            tags = tuple(sorted({e.label for e in events}, key=TOY_LABELS.index))
            clips.append(ClipRecord(path.stem, path, tags, split, tuple(events), duration_s))
    write_manifest(root, name="toy", labels=TOY_LABELS, kinds=TOY_KINDS, clips=clips, extra={"seed": seed})
    return load_manifest(root)
