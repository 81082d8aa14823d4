"""Statistics of repeated experiments: intervals over seeds and test items, paired comparisons, Holm's
multiplicity control, equivalence against the thesis' effect, and the seeds a decision would need.

* Over seeds (chapter 3): the t interval ``mean ± t(0.975, n-1) · sd / sqrt(n)`` of the per-seed values,
  and for a comparison the paired t-test with the t interval of the per-seed differences.
* Over seeds and test items (chapter 4): the two-level percentile bootstrap — resample the seeds with
  replacement, then the test items (the same items for every seed and both methods), recompute both
  methods' statistic and take the percentiles of their difference (:func:`two_level_bootstrap`).
* The t and normal distributions are computed here (:func:`t_cdf`, :func:`t_quantile`,
  :func:`normal_quantile`), so this module needs numpy only; the tests check them against scipy.

Verdicts, one vocabulary for every comparison. :func:`verdict_of` reads one interval of a difference
(holds above 0, opposite below 0, else inconclusive). A *finding's* claims are decided together by :func:`decide`: the p-values of
"difference = 0" and of "difference = the thesis' effect" are Holm-adjusted within the finding, and each
claim reads

* **holds** — the difference is in the claimed direction (adjusted p of 0 below ``alpha``);
* **opposite** — it is significantly the other way;
* **smaller than the thesis' effect** — neither, but the thesis' effect is excluded (adjusted p of the
  thesis' effect below ``alpha``, the estimate below it): the thesis' effect is not reproduced at this size;
* **inconclusive** — none of these, with the number of seeds a decision would need (power 0.8 at the
  Holm level ``alpha / m`` for an effect the size of the thesis', from the measured spread).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Callable, Sequence

import numpy as np

HOLDS, OPPOSITE, INCONCLUSIVE = "holds", "opposite", "inconclusive"
SMALLER = "smaller than the thesis' effect"
#: The verdicts of a finding's claims (:func:`decide`).
FINDING_VERDICTS = (HOLDS, OPPOSITE, SMALLER, INCONCLUSIVE)


# ---- distributions ---------------------------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)`` for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t cumulative distribution ``P(T <= t)`` with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p}")
    if p == 0.5:
        return 0.0
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


def normal_quantile(p: float) -> float:
    """The ``p`` quantile of the standard normal distribution."""
    return NormalDist().inv_cdf(p)


def normal_cdf(x: float) -> float:
    """The standard normal distribution function at ``x``."""
    return NormalDist().cdf(x)


# ---- intervals --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A mean with its interval ``[low, high]`` over ``n`` values."""

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


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> Interval:
    """Mean and t interval of ``values`` (NaNs dropped); the bounds are NaN for fewer than 2 values."""
    v = _finite(values)
    n = v.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    m = float(v.mean())
    if n < 2:
        return Interval(m, math.nan, math.nan, 1)
    half = t_quantile(0.5 + level / 2, n - 1) * float(v.std(ddof=1)) / math.sqrt(n)
    return Interval(m, m - half, m + half, n)


@dataclass(frozen=True)
class Comparison:
    """``better - worse`` (sign-flipped when lower is better, so > 0 always means the claim's direction).

    ``p_value`` tests a difference of 0, ``p_thesis`` a difference equal to ``thesis_effect`` (the thesis'
    difference in the claim's direction; None when the thesis gives no figures), both two-sided; ``p_holm``
    and ``p_thesis_holm`` are their Holm adjustments within a finding (set by :func:`decide`).
    ``spread``: the per-seed standard deviation of the difference; ``item_se``: the standard error the
    test items add (chapter 4); ``seeds_needed``: seeds for a decision (None: not computed, or out of
    reach of more seeds alone)."""

    diff: Interval
    p_value: float
    test: str
    verdict: str
    p_thesis: float = math.nan
    thesis_effect: float | None = None
    spread: float = math.nan
    item_se: float = 0.0
    p_holm: float = math.nan
    p_thesis_holm: float = math.nan
    seeds_needed: int | None = None
    note: str = ""


def verdict_of(diff: Interval) -> str:
    """The plain verdict of one interval of a difference: holds above 0, opposite below 0."""
    if not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        return INCONCLUSIVE
    if diff.low > 0:
        return HOLDS
    if diff.high < 0:
        return OPPOSITE
    return INCONCLUSIVE


def one_sample_t(d: Sequence[float], mu: float = 0.0) -> tuple[float, float]:
    """Two-sided one-sample t-test of ``mean(d) = mu``: ``(t, p)``; NaNs for fewer than 2 values or no
    spread. A paired t-test is this on the differences."""
    v = _finite(d)
    if v.size < 2 or float(v.std(ddof=1)) <= 1e-12 * max(1.0, float(abs(v).max())):
        return math.nan, math.nan
    t = (float(v.mean()) - mu) / (float(v.std(ddof=1)) / math.sqrt(v.size))
    df = v.size - 1
    return t, float(_betainc(df / 2.0, 0.5, df / (df + t * t)))


def paired_over_seeds(better: Sequence[float], worse: Sequence[float], *, lower_is_better: bool = False,
                      level: float = 0.95, thesis_effect: float | None = None) -> Comparison:
    """Paired t-test and t interval of the per-seed differences (seeds where both values are finite);
    with ``thesis_effect`` also the test of a difference equal to it."""
    pairs = [(a, b) for a, b in zip(better, worse)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    sign = -1.0 if lower_is_better else 1.0
    d = [sign * (a - b) for a, b in pairs]
    diff = mean_ci(d, level)
    p = one_sample_t(d)[1]
    p_th = one_sample_t(d, thesis_effect)[1] if thesis_effect is not None else math.nan
    sd = float(np.std(d, ddof=1)) if len(d) >= 2 else math.nan
    return Comparison(diff, p, "paired t-test over seeds", verdict_of(diff), p_thesis=p_th,
                      thesis_effect=thesis_effect, spread=sd)


def _boot_p(ds: np.ndarray, at: float) -> float:
    """Two-sided percentile-bootstrap p-value of ``difference = at``."""
    return float(min(1.0, 2 * min((ds <= at).mean(), (ds >= at).mean())))


def paired_bootstrap(stat: Callable[[np.ndarray], tuple[float, float]], n_items: int, *, n_boot: int = 2000,
                     seed: int = 0, lower_is_better: bool = False, level: float = 0.95) -> Comparison:
    """Paired percentile bootstrap over ``n_items`` test items.

    ``stat(idx)`` returns ``(better, worse)`` computed on the items ``idx`` (an index array, repeats
    allowed); the point estimate uses every item once. The p-value is the two-sided bootstrap estimate
    ``2 · min(P(d <= 0), P(d >= 0))``.
    """
    return two_level_bootstrap(lambda _s, idx: stat(idx), 1, n_items, n_boot=n_boot, seed=seed,
                               lower_is_better=lower_is_better, level=level)


def two_level_bootstrap(stat: Callable[[np.ndarray, np.ndarray], tuple[float, float]], n_seeds: int,
                        n_items: int, *, n_boot: int = 2000, seed: int = 0, lower_is_better: bool = False,
                        level: float = 0.95, thesis_effect: float | None = None,
                        per_seed: Sequence[float] | None = None) -> Comparison:
    """Paired two-level percentile bootstrap over seeds and test items.

    Parameters
    ----------
    stat : ``stat(seeds, items)`` -> ``(better, worse)``, each method's statistic averaged over the seed
        indices ``seeds`` [k] and computed on the item indices ``items`` [n_items] (repeats allowed; the
        same items for every seed and both methods).
    n_seeds, n_items : how many seeds and test items there are.
    thesis_effect : the thesis' difference in the claim's direction; adds ``p_thesis``.
    per_seed : the per-seed differences on all items (claim direction), for the seed spread and the
        seeds a decision needs; default: computed with ``stat``.

    Each resample draws ``n_seeds`` seeds with replacement, then ``n_items`` items with replacement
    (one level only when ``n_seeds`` is 1). The point estimate uses every seed and item once.
    """
    sign = -1.0 if lower_is_better else 1.0
    seeds_all, items_all = np.arange(n_seeds), np.arange(n_items)
    a, b = stat(seeds_all, items_all)
    point = sign * (a - b)
    rng = np.random.default_rng(seed)
    found: list[float] = []
    for _ in range(n_boot):
        sd_idx = rng.integers(0, n_seeds, n_seeds) if n_seeds > 1 else seeds_all
        x, y = stat(sd_idx, rng.integers(0, n_items, n_items))
        if math.isfinite(x) and math.isfinite(y):
            found.append(sign * (x - y))
    what = (f"two-level bootstrap over {n_seeds} seeds and {n_items} test items" if n_seeds > 1
            else f"paired bootstrap over {n_items} test items")
    if len(found) < 2 or not math.isfinite(point):
        return Comparison(Interval(point, math.nan, math.nan, n_items), math.nan, what, INCONCLUSIVE,
                          thesis_effect=thesis_effect)
    ds = np.asarray(found)
    lo, hi = np.percentile(ds, [50 * (1 - level), 50 * (1 + level)])
    diff = Interval(float(point), float(lo), float(hi), n_items)
    if per_seed is None:
        per_seed = [sign * float(np.subtract(*stat(np.array([k]), items_all))) for k in range(n_seeds)]
    v = _finite(per_seed)
    spread = float(v.std(ddof=1)) if v.size >= 2 else 0.0
    # the items' share of the bootstrap variance (the seeds' share is about spread^2 / n_seeds)
    item_var = max(0.0, float(ds.var(ddof=1)) - spread ** 2 / max(1, n_seeds))
    return Comparison(diff, _boot_p(ds, 0.0), f"{what} ({len(ds)} resamples)", verdict_of(diff),
                      p_thesis=_boot_p(ds, thesis_effect) if thesis_effect is not None else math.nan,
                      thesis_effect=thesis_effect, spread=spread, item_se=math.sqrt(item_var))


def bootstrap_ci(stat: Callable[[np.ndarray], float], n_items: int, *, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of ``stat`` over ``n_items`` test items (point estimate: all items)."""
    return two_level_ci(lambda _s, idx: stat(idx), 1, n_items, n_boot=n_boot, seed=seed, level=level)


def two_level_ci(stat: Callable[[np.ndarray, np.ndarray], float], n_seeds: int, n_items: int, *,
                 n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Two-level percentile bootstrap interval of ``stat(seeds, items)`` (see :func:`two_level_bootstrap`)."""
    point = stat(np.arange(n_seeds), np.arange(n_items))
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        sd_idx = rng.integers(0, n_seeds, n_seeds) if n_seeds > 1 else np.arange(n_seeds)
        v = stat(sd_idx, rng.integers(0, n_items, n_items))
        if math.isfinite(v):
            vals.append(v)
    if len(vals) < 2:
        return Interval(point, math.nan, math.nan, n_items)
    lo, hi = np.percentile(np.asarray(vals), [50 * (1 - level), 50 * (1 + level)])
    return Interval(float(point), float(lo), float(hi), n_items)


# ---- multiplicity, power, decisions -----------------------------------------------------------------------
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order; NaNs stay NaN and do
    not count as tests."""
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out = [math.nan] * len(p_values)
    m, run = len(idx), 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: p_values[j])):
        run = max(run, min(1.0, (m - rank) * float(p_values[i])))
        out[i] = run
    return out


def t_power(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Approximate power of a two-sided one-sample (paired) t-test at level ``alpha`` with ``n`` values of
    standard deviation ``sd`` when the true mean is ``effect``: the noncentral t's upper tail by the
    Jennett-Welch normal approximation ``1 - Φ((t_c (1 - 1/(4ν)) - δ) / sqrt(1 + t_c² / (2ν)))``,
    ``δ = effect / sd · sqrt(n)``, ``ν = n - 1`` (within 0.025 of the exact power from 3 values on)."""
    if n < 2:
        return 0.0
    if sd <= 0:
        return 1.0
    nu, tc = n - 1, t_quantile(1 - alpha / 2, n - 1)
    delta = abs(effect) / sd * math.sqrt(n)
    return 1.0 - normal_cdf((tc * (1 - 1 / (4 * nu)) - delta) / math.sqrt(1 + tc * tc / (2 * nu)))


def seeds_needed(effect: float, sd: float, *, alpha: float = 0.05, power: float = 0.8, item_se: float = 0.0,
                 max_seeds: int = 1000) -> int | None:
    """The fewest seeds (>= 2) at which a difference of ``effect`` is detected with ``power``.

    Without ``item_se``: the paired t-test over seeds (:func:`t_power`), ``sd`` the per-seed spread of the
    difference. With ``item_se`` (chapter 4: the standard error the fixed test items add, which more seeds
    do not shrink): a normal test of standard error ``sqrt(sd² / n + item_se²)``. None when ``effect`` is
    0 or not finite, or when no number of seeds up to ``max_seeds`` reaches the power (with test items:
    more test items are needed)."""
    if not (math.isfinite(effect) and math.isfinite(sd)) or effect == 0:
        return None
    z = normal_quantile(1 - alpha / 2)
    for n in range(2, max_seeds + 1):
        if item_se > 0:
            pw = normal_cdf(abs(effect) / math.sqrt(sd * sd / n + item_se * item_se) - z)
        else:
            pw = t_power(effect, sd, n, alpha)
        if pw >= power:
            return n
    return None


def decide(comparisons: Sequence[Comparison], *, alpha: float = 0.05, power: float = 0.8) -> list[Comparison]:
    """The verdicts of one finding's claims (see the module docstring): Holm within the finding on both
    families of p-values, then holds / opposite / smaller than the thesis' effect / inconclusive; for an
    inconclusive claim the seeds a decision needs (the thesis' effect, or the measured difference when the
    thesis gives none, at ``alpha`` over the number of claims)."""
    p0 = holm([c.p_value for c in comparisons])
    pt = holm([c.p_thesis for c in comparisons])
    m = max(1, sum(math.isfinite(p) for p in p0))
    out = []
    for c, a, b in zip(comparisons, p0, pt):
        est, th = c.diff.mean, c.thesis_effect
        smaller = th is not None and math.isfinite(b) and b < alpha and est < th
        note, need = "", None
        if math.isfinite(a) and a < alpha and est > 0:
            verdict = HOLDS
            note = "smaller than the thesis' effect" if smaller else ""
        elif math.isfinite(a) and a < alpha and est < 0:
            verdict = OPPOSITE
        elif smaller:
            verdict = SMALLER
        else:
            verdict = INCONCLUSIVE
            effect = th if th is not None else est
            need = seeds_needed(effect, c.spread, alpha=alpha / m, power=power, item_se=c.item_se)
            if need is not None:
                note = f"a decision needs about {need} seeds"
            elif not math.isfinite(c.spread):
                note = "no spread measured (fewer than 2 seeds)"
            elif c.item_se > 0:
                note = "more seeds alone cannot decide it (more test items needed)"
            else:
                note = "no effect to detect (no thesis figures, estimate 0)"
        out.append(replace(c, verdict=verdict, p_holm=a, p_thesis_holm=b, seeds_needed=need, note=note))
    return out
