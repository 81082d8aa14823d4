"""Statistics of repeated experiments: mean ± 95% CI over seeds, paired comparisons, verdicts.

* Over seeds (chapter 3): the t interval ``mean ± t(0.975, n-1) · sd / sqrt(n)`` of the per-seed values,
  and for a comparison the paired t-test (``scipy.stats.ttest_rel``) with the t interval of the per-seed
  differences.
* Over test items (chapter 4: the test (video, instrument) pairs): the paired percentile bootstrap —
  resample items with replacement, the same items for both methods, recompute the statistic of each and
  take the 2.5 / 97.5 percentiles of their difference.

Verdicts follow the interval of the difference in the claimed direction: **holds** when it lies wholly
above 0, **does not hold** when wholly below 0, **inconclusive** when it contains 0 (or cannot be
computed, e.g. one seed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


def _scipy_stats() -> Any:
    from ..extras import require

    return require("scipy.stats", what="t intervals over seeds (clip2frame experiment)", extra="stats")


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def fmt(self, nd: int = 3, *, bracket: bool = False) -> str:
        """``mean ± half-width`` for a symmetric (t) interval, ``mean [low, high]`` otherwise or when
        ``bracket`` (bootstrap intervals)."""
        if not math.isfinite(self.mean):
            return "–"
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{self.mean:.{nd}f} (n={self.n})"
        if not bracket and abs((self.high - self.mean) - (self.mean - self.low)) < 1e-9:  # a t interval
            return f"{self.mean:.{nd}f} ± {(self.high - self.low) / 2:.{nd}f}"
        return f"{self.mean:.{nd}f} [{self.low:.{nd}f}, {self.high:.{nd}f}]"  # a bootstrap interval


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and t interval of ``values`` (NaNs dropped); the bounds are NaN for fewer than 2 values."""
    stats = _scipy_stats()

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    n = v.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    m = float(v.mean())
    if n < 2:
        return Interval(m, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return Interval(m, m - half, m + half, n)


@dataclass(frozen=True)
class Comparison:
    """``better - worse`` (sign-flipped when lower is better, so > 0 always means the claim's direction)."""

    diff: Interval
    p_value: float
    test: str
    verdict: str


def verdict_of(diff: Interval) -> str:
    if not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        return INCONCLUSIVE
    if diff.low > 0:
        return HOLDS
    if diff.high < 0:
        return FAILS
    return INCONCLUSIVE


def paired_over_seeds(better: Sequence[float], worse: Sequence[float], *, lower_is_better: bool = False,
                      level: float = 0.95) -> Comparison:
    """Paired t-test and t interval of the per-seed differences (seeds where both values are finite)."""
    stats = _scipy_stats()

    pairs = [(a, b) for a, b in zip(better, worse)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    sign = -1.0 if lower_is_better else 1.0
    d = [sign * (a - b) for a, b in pairs]
    diff = mean_ci(d, level)
    p = math.nan
    if len(d) >= 2 and np.std(d) > 0:
        p = float(stats.ttest_rel([sign * a for a, _ in pairs], [sign * b for _, b in pairs]).pvalue)
    return Comparison(diff, p, "paired t-test over seeds", verdict_of(diff))


def paired_bootstrap(stat: Callable[[np.ndarray], tuple[float, float]], n_items: int, *, n_boot: int = 2000,
                     seed: int = 0, lower_is_better: bool = False, level: float = 0.95) -> Comparison:
    """Paired percentile bootstrap over ``n_items`` test items.

    ``stat(idx)`` returns ``(better, worse)`` computed on the items ``idx`` (an index array, repeats
    allowed); the point estimate uses every item once. The p-value is the two-sided bootstrap estimate
    ``2 · min(P(d <= 0), P(d >= 0))``.
    """
    sign = -1.0 if lower_is_better else 1.0
    a, b = stat(np.arange(n_items))
    point = sign * (a - b)
    rng = np.random.default_rng(seed)
    found: list[float] = []
    for _ in range(n_boot):
        x, y = stat(rng.integers(0, n_items, n_items))
        if math.isfinite(x) and math.isfinite(y):
            found.append(sign * (x - y))
    if len(found) < 2 or not math.isfinite(point):
        diff = Interval(point, math.nan, math.nan, n_items)
        return Comparison(diff, math.nan, "paired bootstrap over test items", INCONCLUSIVE)
    ds = np.asarray(found)
    lo, hi = np.percentile(ds, [50 * (1 - level), 50 * (1 + level)])
    p = float(min(1.0, 2 * min((ds <= 0).mean(), (ds >= 0).mean())))
    diff = Interval(float(point), float(lo), float(hi), n_items)
    return Comparison(diff, p, f"paired bootstrap over {n_items} test items ({len(ds)} resamples)", verdict_of(diff))


def bootstrap_ci(stat: Callable[[np.ndarray], float], n_items: int, *, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of ``stat`` over ``n_items`` test items (point estimate: all items)."""
    point = stat(np.arange(n_items))
    rng = np.random.default_rng(seed)
    vals = np.asarray([v for v in (stat(rng.integers(0, n_items, n_items)) for _ in range(n_boot))
                       if math.isfinite(v)])
    if vals.size < 2:
        return Interval(point, math.nan, math.nan, n_items)
    lo, hi = np.percentile(vals, [50 * (1 - level), 50 * (1 + level)])
    return Interval(float(point), float(lo), float(hi), n_items)
