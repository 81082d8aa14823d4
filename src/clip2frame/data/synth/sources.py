"""What a clip of the music corpus is drawn from: its corpus work and the renderer of each timbre source.

Below both the clip renderer (``render.py``) and the production features (``production.py``), which use
these two and nothing else of each other's level.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from ...timebase import SAMPLE_RATE
from . import compose, corpus, samplers, timbres
from .engine import get_engine

WORK_POOL = 128          # works drawn from per split and composer group (parsed lazily, only when a clip picks one)

_SAMPLERS: dict[tuple[str, int], object] = {}


def stem_renderer(source_name: str, *, sr: int = SAMPLE_RATE):
    """The per-process cached renderer of a timbre source: a :class:`SynthEngine` or a sampler."""
    src = timbres.source(source_name)
    if src.kind == "soundfont":
        return get_engine(src.path, sr=sr)
    key = (src.name, int(sr))
    if key not in _SAMPLERS:
        cls = samplers.DrumKitSampler if src.kind == "drumkit" else samplers.PianoSampler
        _SAMPLERS[key] = cls(src.path, sr=sr)
    return _SAMPLERS[key]


# Composer groups a clip's work is drawn from (weights renormalised over the groups a split has), so
# the 1,300 Palestrina masses and 1,000 folk tunes do not crowd out Bach and the classical quartets.
WORK_GROUPS: dict[str, tuple[tuple[str, ...], float]] = {
    "bach": (("bach",), 0.30),
    "renaissance": (("palestrina", "monteverdi"), 0.25),
    "classical": (("mozart", "haydn", "beethoven", "schumann_robert"), 0.20),
    "folk": (("ryansMammoth",), 0.25),
}


@lru_cache(maxsize=64)
def _work_pools(split: str, seed: int) -> tuple[tuple[tuple[str, ...], float], ...]:
    pools = []
    works = corpus.works_for_split(split)
    for composers, weight in WORK_GROUPS.values():
        ws = sorted((w for w in works if w.split("/")[0] in composers),
                    key=lambda w: hashlib.sha1(f"{seed}:{w}".encode()).digest())[:WORK_POOL]
        if ws:
            pools.append((tuple(ws), weight))
    return tuple(pools)


def pick_work(split: str, *, seed: int, index: int, cache_dir=None) -> corpus.Work | None:
    """The corpus work a clip draws its lines from (only works of ``split``; None if none parses)."""
    pools = _work_pools(split, int(seed))
    if not pools:
        return None
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, compose.split_code(split), int(index), 7])
    weights = np.array([w for _, w in pools])
    cands = pools[int(rng.choice(len(pools), p=weights / weights.sum()))][0]
    j = int(rng.integers(len(cands)))
    for k in range(8):
        w = corpus.load_work(cands[(j + k) % len(cands)], cache_dir=cache_dir)
        if w is not None:
            return w
    return None
