"""The thesis' ten findings (issue #15) as recipes run over several seeds, with a verdict per claim.

``clip2frame experiment NAME --seeds N`` trains every row of a finding (or of a thesis table) once per seed
(``<out>/seed<k>/``: run directories, per-seed tables; a finished seed is reused, a killed one resumes),
then writes ``<out>/finding_<key>.{md,csv,json}`` (or ``seeds_table_X.*`` for a table): every cell as
mean ± 95% CI over the seeds, and for each comparison the thesis claims the paired test over seeds with its
verdict (:mod:`.stats`: holds / does not hold / inconclusive, from the interval of the difference).

Findings 1-7 (chapter 3) reuse the rows of the table recipes (:mod:`.recipes`) and run under the thesis'
protocol (:data:`~.recipes.THESIS_PROTOCOL`, fixed epoch budgets); findings 8-10 (chapter 4) live in
:mod:`.video_findings` and use bootstrap intervals over the test (video, instrument) pairs.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..fileio import atomic_write_text
from .recipes import (F1_AUC, PRF, THESIS_PROTOCOL, THESIS_TRAINING, US_CLIP, Recipe, Row, Runner, get_recipe,
                      run_rows)
from .stats import Interval, mean_ci, paired_over_seeds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the row whose label contains ``row``, its ``metric`` on ``split``."""

    row: tuple[tuple[str, str], ...]
    metric: str
    split: str = "test"

    def describe(self) -> str:
        return ", ".join(v for _, v in self.row) + f": {self.metric} ({self.split})"


@dataclass(frozen=True)
class Claim:
    text: str
    better: Side
    worse: Side
    thesis: tuple[float | None, float | None] = (None, None)  # the thesis' (better, worse) figures
    lower_is_better: bool = False


@dataclass(frozen=True)
class Finding:
    key: str                    # "1" .. "10"
    name: str                   # short name, also accepted on the command line
    source: str                 # thesis table / figure
    title: str
    claims: tuple[Claim, ...]
    recipe: Recipe | None = None  # chapter 3; None for the video findings
    corpus: str = "embedded"    # embedded | everyday | video
    protocol: dict = field(default_factory=lambda: dict(THESIS_PROTOCOL))
    training: tuple[str, ...] = THESIS_TRAINING


def _sel(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple((k.replace("_", " "), v) for k, v in kw.items())


def _subset(table: str, keep, name: str, title: str, splits: tuple[str, ...] | None = None,
            evaluation: str | None = None) -> Recipe:
    r = get_recipe(table)
    rows = tuple(row if evaluation is None else replace(row, evaluation=evaluation)
                 for row in r.rows if keep(dict(row.label)))
    return replace(r, name=name, title=title, rows=rows, splits=splits or r.splits)


def _f1() -> Finding:
    rec = _subset("3.3", lambda d: d["Final pooling"] == "Mean" and d["Early conv"] == "2", "F1",
                  "Gaussian accumulation vs none (thesis-best, mean pooling, 2 early layers)")
    none, fixed, learned = (_sel(Accum=a) for a in ("None", "Fixed", "Adaptive"))
    return Finding("1", "gaussian", "Table 3.3", "A Gaussian accumulation layer beats none at frame level", (
        Claim("learned Gaussian > none, frame micro F1", Side(learned, "frame_micro_f1"), Side(none, "frame_micro_f1"),
              (0.675, 0.557)),
        Claim("learned Gaussian > none, frame macro F1", Side(learned, "frame_macro_f1"), Side(none, "frame_macro_f1"),
              (0.633, 0.509)),
        Claim("fixed Gaussian > none, frame micro F1", Side(fixed, "frame_micro_f1"), Side(none, "frame_micro_f1"),
              (0.595, 0.557)),
    ), rec)


def _f2() -> Finding:
    rec = _subset("3.4", lambda d: d["Early conv"] == "2", "F2", "Multi-scale inputs: 1 / 3 / 6 scales")
    one, six = _sel(Num_inputs="1"), _sel(Num_inputs="6")
    return Finding("2", "multiscale", "Table 3.4", "Multi-scale inputs beat a single scale", (
        Claim("6 scales > 1 scale, frame micro F1", Side(six, "frame_micro_f1"), Side(one, "frame_micro_f1"),
              (0.675, 0.605)),
        Claim("6 scales > 1 scale, clip AUC per tag", Side(six, "clip_auc_tag"), Side(one, "clip_auc_tag"),
              (0.893, 0.882)),
    ), rec)


def _f3() -> Finding:
    rec = _subset("3.5", lambda d: d["Accumulation"] == "Adaptive Gaussian" and d["Final pooling"] == "Mean",
                  "F3", "Total stride 4 / 16 / 64 with the learned Gaussian, mean pooling (frames scored at the "
                  "input rate)")
    s4, s64 = _sel(Total_stride="4"), _sel(Total_stride="64")
    return Finding("3", "stride", "Table 3.5", "A larger stride helps clips and costs frames (with the Gaussian)", (
        Claim("stride 64 > stride 4, clip AUC per tag", Side(s64, "clip_auc_tag"), Side(s4, "clip_auc_tag"),
              (0.891, 0.885)),
        Claim("stride 4 > stride 64, frame micro F1 (up-sampled)", Side(s4, "frame_micro_f1"),
              Side(s64, "frame_micro_f1"), (0.650, 0.638)),
    ), rec)


def _f4() -> Finding:
    rec = _subset("3.2", lambda d: d["Final pooling"] == "Mean" and d["Early conv"] == "2", "F4",
                  "Thresholds fitted on the target domain vs on the source domain (whole clips vs their tags)")
    tgt = _sel(Threshold_source="target domain (part of shift)")
    src = _sel(Threshold_source="source domain (validation)")
    return Finding("4", "thresholds", "Table 3.2", "Target-domain thresholds beat source-domain ones", (
        Claim("target > source thresholds, frame micro F1", Side(tgt, "frame_micro_f1", "shift"),
              Side(src, "frame_micro_f1", "shift"), (0.675, 0.324)),
        Claim("target > source thresholds, frame macro F1", Side(tgt, "frame_macro_f1", "shift"),
              Side(src, "frame_macro_f1", "shift"), (0.633, 0.300)),
    ), rec)


SCARCE = ("supervision=frame", "select_metric=frame_auc", "threshold_source=frame", "model.accumulation=none",
          "model.late=[512, 512]")


def _f5() -> Finding:
    weak = _sel(Training="weak (clip tags), thesis-best")
    frame = _sel(Training="frame-supervised, scarce target-domain clips")
    t31, t36 = get_recipe("3.1").rows[0].thesis, get_recipe("3.6").rows[-2].thesis
    rows = (Row(weak, (), "model", dict(t31)),
            Row(frame, SCARCE, "model", dict(t36), data="scarce"))
    rec = Recipe("F5", "Weakly supervised (clip tags of the training split) vs frame-supervised on scarce "
                 "target-domain clips with frame truth (an FCN without accumulation or pooling, late 512-512); "
                 "both scored on the held-out half of the domain-shift split", PRF, rows, splits=("target",),
                 note="Thesis: frame models trained on 80% of MedleyDB's validation songs (Table 3.6, late layers "
                      "512, 512 shown); here on --scarce-clips clips of the fitting half of 'shift'.")
    return Finding("5", "scarce", "Table 3.6", "Weak supervision beats scarce frame supervision", (
        Claim("weak > scarce frame-supervised, frame micro F1", Side(weak, "frame_micro_f1", "target"),
              Side(frame, "frame_micro_f1", "target"), (0.675, 0.595)),
        Claim("weak > scarce frame-supervised, frame macro F1", Side(weak, "frame_macro_f1", "target"),
              Side(frame, "frame_macro_f1", "target"), (0.633, 0.471)),
    ), rec)


def _f6() -> Finding:
    rec = replace(get_recipe("3.8"), name="F6")
    basic = _sel(Model="Basic")
    claims = tuple(Claim(f"{k} > basic, clip accuracy", Side(_sel(Model=k), "clip_accuracy"),
                         Side(basic, "clip_accuracy"), (v, 0.2593))
                   for k, v in (("w/ Multiple scales", 0.3751), ("w/ Data augmentation", 0.3978),
                                ("w/ Gaussian filter", 0.5173)))
    return Finding("6", "everyday", "Table 3.8", "Gaussian, scales and augmentation each help on everyday sounds",
                   claims, rec, corpus="everyday")


def _f7() -> Finding:
    best = _sel(Final_pooling="Mean", Early_conv="2", Accum="Adaptive")
    rec = _subset("3.3", lambda d: d == dict(best), "F7", "Learned sigma per tag of the best model (Fig. 3.4)",
                  splits=("test",), evaluation="sigma")
    rec = replace(rec, metrics=(("sigma tempo (s)", "sigma_tempo_mean"),
                                ("sigma instruments (s)", "sigma_instrument_mean")))
    return Finding("7", "sigma", "Fig. 3.4", "Tempo tags learn a wider Gaussian than instrument tags", (
        Claim("sigma of tempo tags > sigma of instrument tags (mean, seconds)", Side(best, "sigma_tempo_mean"),
              Side(best, "sigma_instrument_mean")),
    ), rec)


AUDIO_FINDINGS = (_f1, _f2, _f3, _f4, _f5, _f6, _f7)


def all_findings() -> list[Finding]:
    from .video_findings import video_findings

    return [f() for f in AUDIO_FINDINGS] + video_findings()


def find(name: str) -> Finding | None:
    """A finding by number ("1", "F1", "finding1") or name ("gaussian"); None when ``name`` is not one."""
    key = name.lower().removeprefix("finding").removeprefix("f").strip("-_ ")
    for f in all_findings():
        if key == f.key or name.lower() == f.name:
            return f
    return None


# ---- running over seeds (chapter 3) ---------------------------------------------------------------------
def seed_runners(runner: Runner, seeds: list[int]) -> list[tuple[int, Runner]]:
    return [(sd, runner.for_seed(sd, runner.s.out / f"seed{sd}")) for sd in seeds]


def run_over_seeds(recipe: Recipe, runner: Runner, seeds: list[int]) -> dict[int, list[dict | None]]:
    """:func:`~.recipes.run_rows` for every seed (its own directory ``<out>/seed<k>``); finished seeds are
    reused from their run directories and cached evaluations."""
    out = {}
    for sd, r in seed_runners(runner, seeds):
        log.info("%s: seed %d", recipe.name, sd)
        out[sd] = run_rows(recipe, r)
    return out


def _row_index(recipe: Recipe, sel: tuple[tuple[str, str], ...]) -> int:
    hits = [i for i, r in enumerate(recipe.rows) if set(sel) <= set(r.label)]
    if len(hits) != 1:
        raise ValueError(f"recipe {recipe.name}: selector {sel} matches {len(hits)} rows")
    return hits[0]


def _values(per_seed: dict[int, list[dict | None]], i: int, split: str, metric: str) -> list[float]:
    vals = []
    for sd in sorted(per_seed):
        res = per_seed[sd][i]
        v = None if res is None else res["scores"].get(split, {}).get(metric)
        vals.append(math.nan if v is None else float(v))
    return vals


def claim_rows(claims, get_values) -> list[dict]:
    """One dict per claim: both sides' intervals, the paired comparison and its verdict."""
    out = []
    for c in claims:
        a, b = get_values(c.better), get_values(c.worse)
        cmp = paired_over_seeds(a, b, lower_is_better=c.lower_is_better)
        out.append({"claim": c.text, "thesis_better": c.thesis[0], "thesis_worse": c.thesis[1],
                    "better": mean_ci(a), "worse": mean_ci(b), "diff": cmp.diff, "p_value": cmp.p_value,
                    "test": cmp.test, "verdict": cmp.verdict, "values_better": a, "values_worse": b})
    return out


def run_finding(f: Finding, runner: Runner, seeds: list[int]) -> tuple[Path, Path]:
    """Run a chapter-3 finding over ``seeds`` and write ``finding_<key>.{md,csv,json}``."""
    recipe = f.recipe
    if recipe is None:
        raise ValueError(f"finding {f.key} is a video finding (clip2frame.experiments.video_findings)")
    per_seed = run_over_seeds(recipe, runner, seeds)
    claims = claim_rows(f.claims, lambda side: _values(per_seed, _row_index(recipe, side.row), side.split,
                                                       side.metric))
    return write_report(f"finding_{f.key}", f"Finding {f.key} ({f.source}): {f.title}", recipe, per_seed,
                        claims, runner.s)


def run_table_seeds(recipe: Recipe, runner: Runner, seeds: list[int]) -> tuple[Path, Path]:
    """A thesis table over ``seeds``: every cell as mean ± 95% CI (no claims)."""
    per_seed = run_over_seeds(recipe, runner, seeds)
    return write_report(f"seeds_table_{recipe.name.replace('.', '_')}", f"Table {recipe.name}: {recipe.title}",
                        recipe, per_seed, [], runner.s)


EVENT_METRICS = (("Segment F1 micro", "segment_f1"), ("Event F1 micro", "event_f1_micro"), ("PSDS", "psds"))


def _num(v) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4f}"


def write_report(stem: str, title: str, recipe: Recipe, per_seed: dict[int, list[dict | None]], claims: list[dict],
                 s) -> tuple[Path, Path]:
    seeds = sorted(per_seed)
    metrics = list(recipe.metrics) + (list(EVENT_METRICS) if s.events and recipe.metrics in (PRF, F1_AUC) else [])
    splits = list(dict.fromkeys(sp for res in per_seed.values() for r in res if r for sp in r["scores"]))
    labels = [k for k, _ in recipe.rows[0].label]
    cells: list[dict] = []
    for i, row in enumerate(recipe.rows):
        for sp in splits:
            for name, key in metrics:
                iv = mean_ci(_values(per_seed, i, sp, key))
                cells.append({**dict(row.label), "split": sp, "metric": name, "key": key, "mean": iv.mean,
                              "ci_low": iv.low, "ci_high": iv.high, "n_seeds": iv.n,
                              "thesis": row.thesis.get(name), "fmt": iv.fmt()})
    md = [f"# {title}", "", f"Seeds {', '.join(map(str, seeds))}; cells are mean ± 95% CI (t interval over seeds). "
          f"Protocol: {json.dumps(s.protocol(), sort_keys=True) or 'defaults'}; training overrides: "
          f"{' '.join(s.overrides) or 'none'}; epochs: {s.epochs or 'preset'}.", ""]
    if recipe.note:
        md += [recipe.note, ""]
    if claims:
        md += ["## Claims", "", "| claim | thesis | better | worse | difference (95% CI) | p | verdict |",
               "|---|---|---|---|---|---|---|"]
        for c in claims:
            th = "–" if c["thesis_better"] is None else f"{c['thesis_better']:.3f} vs {c['thesis_worse']:.3f}"
            p = "–" if not math.isfinite(c["p_value"]) else f"{c['p_value']:.3f}"
            d: Interval = c["diff"]
            dtxt = d.fmt() if not (math.isfinite(d.low) and math.isfinite(d.high)) else \
                f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
            md.append(f"| {c['claim']} | {th} | {c['better'].fmt()} | {c['worse'].fmt()} | {dtxt} | {p} | "
                      f"**{c['verdict']}** |")
        md += ["", f"Test: {claims[0]['test']}; verdict from the 95% interval of the difference (holds: above 0, "
               "does not hold: below 0, inconclusive: contains 0 or fewer than 2 seeds).", ""]
    for sp in splits:
        md += [f"## {sp}: ours (mean ± CI) / thesis", "",
               "| " + " | ".join(labels + [n for n, _ in metrics]) + " |",
               "|" + "---|" * (len(labels) + len(metrics))]
        for row in recipe.rows:
            cs = {c["key"]: c for c in cells if c["split"] == sp and all(c[k] == v for k, v in row.label)}
            md.append("| " + " | ".join([v for _, v in row.label] + [
                f"{cs[k]['fmt']} / {'–' if cs[k]['thesis'] is None else format(cs[k]['thesis'], '.3f')}"
                for _, k in metrics]) + " |")
        md.append("")
    md += ["## Runs", "", "| seed | row | run directory | best epoch | epochs run |", "|---|---|---|---|---|"]
    for sd in seeds:
        for row, res in zip(recipe.rows, per_seed[sd]):
            if res:
                md.append(f"| {sd} | {', '.join(v for _, v in row.label)} | seed{sd}/runs/{res['run']} | "
                          f"{res['best_epoch']} | {res['epochs_run']} |")
    md.append("")
    out = Path(s.out)
    buf = io.StringIO()
    cols = labels + ["split", "metric", "mean", "ci_low", "ci_high", "n_seeds", "thesis"]
    w = csv.writer(buf)
    w.writerow(cols)
    for c in cells:
        w.writerow([c[k] if k in labels + ["split", "metric", "n_seeds"] else _num(c[k]) for k in cols])
    atomic_write_text(out / f"{stem}.csv", buf.getvalue())
    atomic_write_text(out / f"{stem}.md", "\n".join(md))
    atomic_write_text(out / f"{stem}.json", json.dumps({
        "title": title, "seeds": seeds, "protocol": s.protocol(), "overrides": list(s.overrides),
        "claims": [{k: (vars(v) if isinstance(v, Interval) else v) for k, v in c.items()} for c in claims],
        "cells": [{k: v for k, v in c.items() if k != "fmt"} for c in cells]}, indent=1, default=str))
    return out / f"{stem}.csv", out / f"{stem}.md"

