"""A finding's claims: what a claim compares (:class:`Side`, :class:`Claim`), a :class:`Finding`, and the
report dicts of its claims (:func:`finish_claims`, the dict described in :mod:`.findings_report`).

Shared by the chapter-3 findings (:mod:`.findings`) and the chapter-4 ones (:mod:`.video_findings`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .grids import Recipe
from .runner import THESIS_PROTOCOL, THESIS_TRAINING
from .stats import Comparison, Interval, decide


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the row whose label contains ``row``, its ``metric`` on ``split``."""

    row: tuple[tuple[str, str], ...]
    metric: str
    split: str = "test"

    def describe(self) -> str:
        """The side as text: the row's label values, the metric and the split."""
        return ", ".join(v for _, v in self.row) + f": {self.metric} ({self.split})"


@dataclass(frozen=True)
class Claim:
    """One claim of a finding: ``better`` beats ``worse`` (on the metric's direction), the thesis' figures,
    the trivial predictor and other baselines shown beside it.
    """

    text: str
    better: Side
    worse: Side
    thesis: tuple[float | None, float | None] = (None, None)  # the thesis' (better, worse) figures
    lower_is_better: bool = False
    # the trivial predictor of the metric (always-on F1, chance AUC, the centre guess): a side of the
    # worse row, or a constant; a claim whose baseline loses to it is marked
    trivial: tuple[str, "Side | float"] | None = None
    refs: tuple[tuple[str, "Side | float"], ...] = ()  # other baselines shown beside (e.g. sound alone)
    beside: str | None = None   # another metric of the same rows shown beside (the all-label frame F1)
    check: bool = False         # a manipulation check: reported, decided alone (not in the Holm family)

    @property
    def thesis_effect(self) -> float | None:
        """The thesis' difference in the claim's direction (> 0 when the thesis found the claim)."""
        b, w = self.thesis
        if b is None or w is None:
            return None
        return (w - b) if self.lower_is_better else (b - w)


@dataclass(frozen=True)
class Finding:
    """One of the thesis' ten findings: its claims and how to produce their rows (a recipe for chapter 3,
    the video corpus for chapter 4), the protocol and the epoch cap.
    """

    key: str                    # "1" .. "10"
    name: str                   # short name, also accepted on the command line
    source: str                 # thesis table / figure
    title: str
    claims: tuple[Claim, ...]
    recipe: Recipe | None = None  # chapter 3; None for the video findings
    corpus: str = "embedded"    # embedded | everyday | video
    protocol: dict = field(default_factory=lambda: dict(THESIS_PROTOCOL))
    training: tuple[str, ...] = THESIS_TRAINING
    cap: int = 200              # epochs at most (the thesis: 200 epochs, 300 on everyday sounds)


def interval_dict(x: Interval) -> dict:
    """An :class:`~.stats.Interval` as the report's dict (``mean``, ``low``, ``high``, ``n``)."""
    return vars(x)


def finish_claims(claims, comparisons: list[Comparison], get_values, extra: list[dict]) -> list[dict]:
    """The report dicts of one finding's claims: Holm within the finding (manipulation checks decided
    alone), each side's interval, the trivial predictor and other baselines beside, and a mark when the
    claim's baseline (or its better side) does not beat the trivial predictor.

    ``get_values(side_or_constant)`` -> (per-seed values, their :class:`Interval`)."""
    fam = [i for i, c in enumerate(claims) if not c.check]
    decided = dict(zip(fam, decide([comparisons[i] for i in fam])))
    for i, c in enumerate(claims):
        if c.check:
            decided[i] = decide([comparisons[i]])[0]
    out = []
    for i, (c, ex) in enumerate(zip(claims, extra)):
        d = decided[i]
        sign = -1.0 if c.lower_is_better else 1.0
        row = {"claim": c.text, "check": c.check, "thesis_better": c.thesis[0], "thesis_worse": c.thesis[1],
               "thesis_effect": c.thesis_effect, "lower_is_better": c.lower_is_better,
               **{k: (interval_dict(v) if isinstance(v, Interval) else v) for k, v in vars(d).items()},
               "trivial": None, "mark": "", "refs": [], **ex}
        better, worse = row["better"]["mean"], row["worse"]["mean"]
        marks = []
        if c.trivial is not None:
            name, src = c.trivial
            tv = get_values(src)[1]
            row["trivial"] = {"name": name, **interval_dict(tv)}
            if math.isfinite(tv.mean):
                if math.isfinite(worse) and sign * (worse - tv.mean) <= 0:
                    marks.append(f"the baseline ({worse:.3f}) does not beat {name} ({tv.mean:.3f})")
                if math.isfinite(better) and sign * (better - tv.mean) <= 0:
                    marks.append(f"the better side ({better:.3f}) does not beat {name} ({tv.mean:.3f})")
        for name, src in c.refs:
            rv = get_values(src)[1]
            above = math.isfinite(rv.mean) and math.isfinite(better) and sign * (better - rv.mean) > 0
            row["refs"].append({"name": name, **interval_dict(rv), "better_above": above})
            if math.isfinite(rv.mean) and not above:
                marks.append(f"not above {name} ({rv.mean:.3f})")
        row["mark"] = "; ".join(marks)
        out.append(row)
    return out
