"""experiments/stats.py against scipy (t and normal distributions, t-tests, noncentral-t power) and on
cases with known answers (Holm, verdicts, the two-level bootstrap, the seeds a decision needs)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from clip2frame.experiments import stats

sps = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 30, 200])
def test_t_distribution_matches_scipy(df):
    for p in (0.0005, 0.025, 0.1, 0.5, 0.8, 0.975, 0.9995):
        assert stats.t_quantile(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-7, abs=1e-9)
    for t in (-40.0, -3.1, -0.4, 0.0, 0.7, 2.2, 12.0):
        assert stats.t_cdf(t, df) == pytest.approx(sps.t.cdf(t, df), rel=1e-9, abs=1e-12)


def test_normal_quantile_matches_scipy():
    for p in (1e-6, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-6):
        assert stats.normal_quantile(p) == pytest.approx(sps.norm.ppf(p), rel=1e-9)
    with pytest.raises(ValueError):
        stats.t_quantile(1.0, 3)


def test_t_tests_and_interval_match_scipy():
    rng = np.random.default_rng(4)
    for n in (2, 3, 5, 12):
        a, b = rng.normal(0.6, 0.05, n), rng.normal(0.58, 0.05, n)
        c = stats.paired_over_seeds(list(a), list(b), thesis_effect=0.1)
        ref = sps.ttest_rel(a, b)
        assert c.p_value == pytest.approx(ref.pvalue, rel=1e-8)
        ci = ref.confidence_interval(0.95)
        assert (c.diff.low, c.diff.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
        assert c.p_thesis == pytest.approx(sps.ttest_1samp(a - b, 0.1).pvalue, rel=1e-8)
        assert c.spread == pytest.approx(np.std(a - b, ddof=1))
    lo, hi = sps.t.interval(0.9, 3, loc=0.62, scale=sps.sem([0.6, 0.61, 0.63, 0.64]))
    iv = stats.mean_ci([0.6, 0.61, 0.63, 0.64], level=0.9)
    assert (iv.low, iv.high) == (pytest.approx(lo), pytest.approx(hi))
    assert math.isnan(stats.one_sample_t([0.1, 0.1, 0.1])[1])  # no spread: no test


def test_holm_known_answer():
    # sorted 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 -> max(0.06, 0.04) = 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = stats.holm([0.01, math.nan, 0.02])          # NaN is not a test: m = 2
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert stats.holm([0.2]) == [0.2]


def test_power_against_the_noncentral_t():
    for effect, sd, n in ((0.05, 0.04, 5), (0.02, 0.03, 12), (0.1, 0.05, 3), (0.01, 0.02, 40), (0.03, 0.04, 16)):
        df, tc = n - 1, sps.t.ppf(0.975, n - 1)
        nc = effect / sd * math.sqrt(n)
        exact = 1 - sps.nct.cdf(tc, df, nc) + sps.nct.cdf(-tc, df, nc)
        assert stats.t_power(effect, sd, n) == pytest.approx(exact, abs=0.025)


def test_seeds_needed():
    n = stats.seeds_needed(0.03, 0.04)
    assert n is not None
    exact = [1 - sps.nct.cdf(sps.t.ppf(0.975, k - 1), k - 1, 0.03 / 0.04 * math.sqrt(k)) for k in (n - 1, n)]
    assert exact[1] >= 0.78 and exact[0] < 0.8
    assert stats.seeds_needed(1.0, 0.01) == 2
    assert stats.seeds_needed(0.0, 0.01) is None and stats.seeds_needed(0.1, math.nan) is None
    # a stricter level needs more seeds; test items add a floor more seeds cannot lower
    assert stats.seeds_needed(0.03, 0.04, alpha=0.01) > n
    assert stats.seeds_needed(0.03, 0.04, item_se=0.02) is None
    assert stats.seeds_needed(0.03, 0.04, item_se=0.005) > stats.seeds_needed(0.03, 0.04, item_se=1e-9)


def _cmp(mean, low, high, p, p_th, th=0.1, spread=0.05):
    return stats.Comparison(stats.Interval(mean, low, high, 5), p, "t", "", p_thesis=p_th, thesis_effect=th,
                            spread=spread)


def test_decide_reads_the_four_verdicts_with_holm():
    holds, opp = _cmp(0.12, 0.08, 0.16, 0.001, 0.3), _cmp(-0.05, -0.08, -0.02, 0.002, 1e-4)
    smaller = _cmp(0.01, -0.02, 0.04, 0.4, 0.0005)          # excludes the thesis' +0.1, contains 0
    unsure = _cmp(0.05, -0.05, 0.15, 0.3, 0.3)
    got = stats.decide([holds, opp, smaller, unsure])
    assert [c.verdict for c in got] == [stats.HOLDS, stats.OPPOSITE, stats.SMALLER, stats.INCONCLUSIVE]
    assert set(c.verdict for c in got) <= set(stats.FINDING_VERDICTS)
    assert got[3].seeds_needed == stats.seeds_needed(0.1, 0.05, alpha=0.05 / 4) and "seeds" in got[3].note
    assert got[0].p_holm == pytest.approx(0.004)
    # holds but below the thesis' effect: the verdict holds, the note says so
    assert stats.decide([_cmp(0.03, 0.02, 0.04, 0.001, 0.001)])[0].note == stats.SMALLER
    # Holm moves two verdicts: alone each holds, together neither survives (0.03 x 2 = 0.06)
    pair = [_cmp(0.05, 0.01, 0.09, 0.03, 0.2), _cmp(0.04, 0.005, 0.08, 0.04, 0.2)]
    assert [c.verdict for c in stats.decide(pair[:1])] == [stats.HOLDS]
    assert [c.verdict for c in stats.decide(pair)] == [stats.INCONCLUSIVE] * 2
    # no thesis figures: "smaller" never applies; the seeds needed come from the estimate
    none = stats.decide([_cmp(0.02, -0.01, 0.05, 0.2, math.nan, th=None)])[0]
    assert none.verdict == stats.INCONCLUSIVE and none.seeds_needed == stats.seeds_needed(0.02, 0.05)


def test_two_level_bootstrap():
    rng = np.random.default_rng(0)
    n_seeds, n_items = 5, 40
    item = rng.normal(0.0, 0.1, n_items)
    seed_eff = np.array([0.10, -0.02, 0.15, 0.0, 0.12])       # the difference varies a lot over seeds
    better = seed_eff[:, None] + item[None, :] + 0.6
    worse = np.broadcast_to(item[None, :] + 0.6, better.shape)

    def stat(s, i):
        return float(better[np.ix_(s, i)].mean()), float(worse[np.ix_(s, i)].mean())

    c = stats.two_level_bootstrap(stat, n_seeds, n_items, n_boot=800, seed=1, thesis_effect=0.2)
    assert c.diff.mean == pytest.approx(seed_eff.mean())
    assert c.spread == pytest.approx(np.std(seed_eff, ddof=1))
    again = stats.two_level_bootstrap(stat, n_seeds, n_items, n_boot=800, seed=1, thesis_effect=0.2)
    assert (again.diff.low, again.diff.high) == (c.diff.low, c.diff.high)      # seeded
    # the item-only bootstrap sees no spread here (the difference is the same on every item): seeds do
    one = stats.paired_bootstrap(lambda i: stat(np.arange(n_seeds), i), n_items, n_boot=800)
    assert one.diff.high - one.diff.low < 1e-9 < c.diff.high - c.diff.low
    # the seed level alone: the interval is that of the bootstrap of the 5 seeds' mean
    means = [seed_eff[rng.integers(0, 5, 5)].mean() for _ in range(4000)]
    assert c.diff.low == pytest.approx(np.percentile(means, 2.5), abs=0.012)
    assert c.diff.high == pytest.approx(np.percentile(means, 97.5), abs=0.012)
    assert c.p_thesis < 0.05 and c.item_se < 0.01
    iv = stats.two_level_ci(lambda s, i: float(better[np.ix_(s, i)].mean()), n_seeds, n_items, n_boot=300)
    assert iv.low < iv.mean < iv.high
