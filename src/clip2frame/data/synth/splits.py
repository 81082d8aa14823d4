"""The splits of the music corpus: their default proportions (``timbres="fixed"`` and ``"random"``), what
each split of the timbre-randomised corpus renders (scores, timbre pool, effects profile), and the number of
clips per split a render plans (:func:`plan_clips`).
"""
from __future__ import annotations

import math
from typing import Sequence

from ...errors import ConfigError

DEFAULT_PROPORTIONS: dict[str, float] = {"train": 0.70, "validation": 0.10, "test": 0.10, "shift": 0.10}
V4_PROPORTIONS: dict[str, float] = {"train": 0.80, "validation": 0.08, "test": 0.04, "heldout-musescore": 0.02,
                                    "heldout-timgm": 0.02, "heldout-recorded": 0.02, "degraded": 0.02}
# v4 split -> (score split: whose works and notes, timbre pool, master effects profile). The two held-out
# soundfont splits and ``degraded`` render the same unseen scores (works of the ``shift`` partition).
V4_SPLITS: dict[str, tuple[str, str, str]] = {
    "train": ("train", "train", "default"),
    "validation": ("validation", "train", "default"),
    "test": ("test", "train", "default"),
    "heldout-musescore": ("heldout", "heldout-musescore", "default"),
    "heldout-timgm": ("heldout", "heldout-timgm", "default"),
    "heldout-recorded": ("heldout-recorded", "heldout-recorded", "default"),
    "degraded": ("heldout", "heldout-musescore", "degraded"),
}
HELDOUT_SPLITS = tuple(s for s, (_, pool, _) in V4_SPLITS.items() if pool != "train")
SPLIT_ORDER = tuple(DEFAULT_PROPORTIONS) + tuple(s for s in V4_PROPORTIONS if s not in DEFAULT_PROPORTIONS)


def parse_splits(splits: str | Sequence[str] | dict[str, float] | None, *,
                 defaults: dict[str, float] = DEFAULT_PROPORTIONS) -> dict[str, float]:
    """Split proportions from ``None`` (defaults), names (default proportions, renormalised) or ``name=frac``."""
    if splits is None:
        return dict(defaults)
    items: list[tuple[str, float | None]]
    if isinstance(splits, dict):
        items = list(splits.items())
    else:
        if isinstance(splits, str):
            splits = [s for s in splits.replace(" ", "").split(",") if s]
        items = []
        for s in splits:
            if "=" in s:
                name, text = s.split("=", 1)
                try:
                    items.append((name, float(text)))
                except ValueError:
                    raise ConfigError(f"splits: '{s}' is not name=fraction") from None
            else:
                items.append((s, None))
    if not items:
        raise ConfigError("splits: no split given")
    out: dict[str, float] = {}
    for name, frac in items:
        if name not in defaults:
            raise ConfigError(f"splits: unknown split '{name}' (expected one of {', '.join(defaults)})")
        f = defaults[name] if frac is None else frac
        if not (f > 0 and math.isfinite(f)):
            raise ConfigError(f"splits: fraction of '{name}' must be > 0, got {f}")
        out[name] = f
    if any(frac is not None for _, frac in items):
        return out  # explicit fractions of --hours, as given
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}


def plan_clips(*, hours: float, clip_seconds: float, splits=None,
               defaults: dict[str, float] = DEFAULT_PROPORTIONS) -> dict[str, int]:
    """Number of clips per split: ``round(hours·3600·fraction / clip_seconds)``, at least 1."""
    if not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
        raise ConfigError(f"hours: must be a positive number, got {hours}")
    if not (math.isfinite(clip_seconds) and 1.0 <= clip_seconds <= 600):
        raise ConfigError(f"clip_seconds: must be in [1, 600] s, got {clip_seconds}")
    props = parse_splits(splits, defaults=defaults)
    return {s: max(1, int(round(hours * 3600 * props[s] / clip_seconds))) for s in SPLIT_ORDER if s in props}
