"""The thesis' ten findings (issues #15, #25) as recipes run over several seeds, with a verdict per claim.

``clip2frame experiment NAME --seeds N`` trains every row of a finding (or of a thesis table) once per seed
(``<out>/seed<k>/``: run directories, per-seed tables; a finished seed is reused, a killed one resumes),
then writes ``<out>/finding_<key>.{md,csv,json}`` (or ``seeds_table_X.*`` for a table): every cell as
mean ± 95% CI over the seeds, and for each claim the thesis makes the paired test over seeds, Holm-adjusted
within the finding, with its verdict (:func:`.stats.decide`: holds / opposite / smaller than the thesis'
effect / inconclusive with the seeds a decision needs), the trivial predictor beside it (always-on F1,
chance AUC, the centre guess) and the stopping epochs of the runs.

Findings 1-7 (chapter 3) reuse the rows of the table recipes (:mod:`.grids`) and run under the thesis'
protocol (:data:`~.runner.THESIS_PROTOCOL`: frame F1 over the thesis' 9 instruments with the all-label
figure beside it, target-domain thresholds on the target domain) until their validation score is flat
(patience :data:`PATIENCE`, cap :attr:`Finding.cap`); findings 8-10 (chapter 4) live in
:mod:`.video_findings` and use two-level bootstrap intervals over seeds and test (video, instrument) pairs.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import replace
from pathlib import Path

from ..fileio import atomic_write_text
from .claims import Claim, Finding, Side, finish_claims, interval_dict
from .findings_report import claims_markdown
from .grids import F1_AUC, PRF, Recipe, Row, get_recipe
from .runner import Runner, run_rows
from .stats import Interval, mean_ci, paired_over_seeds
from .video_findings import video_findings

log = logging.getLogger(__name__)


PATIENCE = 20  # findings 1-7: epochs without a better validation score before a run stops


def _always_on(row, split: str = "test", macro: bool = False) -> tuple[str, Side]:
    return "always-on", Side(row, f"thesis9_baseline_{'macro' if macro else 'micro'}_f1", split)


CHANCE = ("chance", 0.5)
F9, F9M, ALL_MICRO, ALL_MACRO = ("thesis9_frame_micro_f1", "thesis9_frame_macro_f1", "frame_micro_f1",
                                 "frame_macro_f1")


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
        Claim("learned Gaussian > none, frame micro F1", Side(learned, F9), Side(none, F9), (0.675, 0.557),
              trivial=_always_on(none), beside=ALL_MICRO),
        Claim("learned Gaussian > none, frame macro F1", Side(learned, F9M), Side(none, F9M), (0.633, 0.509),
              trivial=_always_on(none, macro=True), beside=ALL_MACRO),
        Claim("fixed Gaussian > none, frame micro F1", Side(fixed, F9), Side(none, F9), (0.595, 0.557),
              trivial=_always_on(none), beside=ALL_MICRO),
    ), rec)


def _f2() -> Finding:
    rec = _subset("3.4", lambda d: d["Early conv"] == "2", "F2", "Multi-scale inputs: 1 / 3 / 6 scales")
    one, six = _sel(Num_inputs="1"), _sel(Num_inputs="6")
    return Finding("2", "multiscale", "Table 3.4", "Multi-scale inputs beat a single scale", (
        Claim("6 scales > 1 scale, frame micro F1", Side(six, F9), Side(one, F9), (0.675, 0.605),
              trivial=_always_on(one), beside=ALL_MICRO),
        Claim("6 scales > 1 scale, clip AUC per tag", Side(six, "clip_auc_tag"), Side(one, "clip_auc_tag"),
              (0.893, 0.882), trivial=CHANCE),
    ), rec)


def _f3() -> Finding:
    rec = _subset("3.5", lambda d: d["Accumulation"] == "Adaptive Gaussian" and d["Final pooling"] == "Mean",
                  "F3", "Total stride 4 / 16 / 64 with the learned Gaussian, mean pooling (frames scored at the "
                  "input rate)")
    s4, s64 = _sel(Total_stride="4"), _sel(Total_stride="64")
    return Finding("3", "stride", "Table 3.5", "A larger stride helps clips and costs frames (with the Gaussian)", (
        Claim("stride 64 > stride 4, clip AUC per tag", Side(s64, "clip_auc_tag"), Side(s4, "clip_auc_tag"),
              (0.891, 0.885), trivial=CHANCE),
        Claim("stride 4 > stride 64, frame micro F1 (up-sampled)", Side(s4, F9), Side(s64, F9), (0.650, 0.638),
              trivial=_always_on(s64), beside=ALL_MICRO),
    ), rec)


def _f4() -> Finding:
    rec = _subset("3.2", lambda d: d["Final pooling"] == "Mean" and d["Early conv"] == "2", "F4",
                  "Thresholds fitted on the target domain vs on the source domain (whole clips vs their tags)")
    tgt = _sel(Threshold_source="target domain (part of shift)")
    src = _sel(Threshold_source="source domain (validation)")
    return Finding("4", "thresholds", "Table 3.2", "Target-domain thresholds beat source-domain ones", (
        Claim("target > source thresholds, frame micro F1", Side(tgt, F9, "shift"), Side(src, F9, "shift"),
              (0.675, 0.324), trivial=_always_on(src, "shift"), beside=ALL_MICRO),
        Claim("target > source thresholds, frame macro F1", Side(tgt, F9M, "shift"), Side(src, F9M, "shift"),
              (0.633, 0.300), trivial=_always_on(src, "shift", macro=True), beside=ALL_MACRO),
    ), rec)


SCARCE = ("supervision=frame", "select_metric=frame_auc", "threshold_source=frame", "model.accumulation=none",
          "model.late=[512, 512]")


def _f5() -> Finding:
    weak = _sel(Training="weak (clip tags), thesis-best")
    frame = _sel(Training="frame-supervised, scarce target-domain clips")
    t31, t36 = get_recipe("3.1").rows[0].thesis, get_recipe("3.6").rows[-2].thesis
    rows = (Row(weak, (), "thresholds:target", dict(t31)),
            Row(frame, SCARCE, "model", dict(t36), data="scarce"))
    rec = Recipe("F5", "Weakly supervised (clip tags of the training split, thresholds fitted on the target "
                 "domain as after Table 3.2) vs frame-supervised on scarce target-domain clips with frame truth "
                 "(an FCN without accumulation or pooling, late 512-512); both scored on the held-out half of "
                 "the domain-shift split", PRF, rows, splits=("target",),
                 note="Thesis: frame models trained on 80% of MedleyDB's validation songs (Table 3.6, late layers "
                      "512, 512 shown); here on --scarce-clips clips of the fitting half of 'shift'.")
    return Finding("5", "scarce", "Table 3.6", "Weak supervision beats scarce frame supervision", (
        Claim("weak > scarce frame-supervised, frame micro F1", Side(weak, F9, "target"), Side(frame, F9, "target"),
              (0.675, 0.595), trivial=_always_on(frame, "target"), beside=ALL_MICRO),
        Claim("weak > scarce frame-supervised, frame macro F1", Side(weak, F9M, "target"),
              Side(frame, F9M, "target"), (0.633, 0.471), trivial=_always_on(frame, "target", macro=True),
              beside=ALL_MACRO),
    ), rec)


def _f6() -> Finding:
    rec = replace(get_recipe("3.8"), name="F6")
    basic = _sel(Model="Basic")
    claims = tuple(Claim(f"{k} > basic, clip accuracy", Side(_sel(Model=k), "clip_accuracy"),
                         Side(basic, "clip_accuracy"), (v, 0.2593), trivial=("chance (10 classes)", 0.1))
                   for k, v in (("w/ Multiple scales", 0.3751), ("w/ Data augmentation", 0.3978),
                                ("w/ Gaussian filter", 0.5173)))
    return Finding("6", "everyday", "Table 3.8", "Gaussian, scales and augmentation each help on everyday sounds",
                   claims, rec, corpus="everyday", cap=300)


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
    """The ten findings: 1-7 (chapter 3) then 8-10 (chapter 4, :func:`.video_findings.video_findings`)."""
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
    """A runner per seed, each in its own directory ``<out>/seed<k>``."""
    return [(sd, runner.for_seed(sd, runner.s.out / f"seed{sd}")) for sd in seeds]


def run_over_seeds(recipe: Recipe, runner: Runner, seeds: list[int]) -> dict[int, list[dict | None]]:
    """:func:`~.runner.run_rows` for every seed (its own directory ``<out>/seed<k>``); finished seeds are
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


def _stops(per_seed: dict[int, list[dict | None]], i: int) -> list[int | None]:
    return [(r or {}).get("stop_epoch") for r in (per_seed[sd][i] for sd in sorted(per_seed))]


def chapter3_claims(f: Finding, per_seed: dict[int, list[dict | None]]) -> list[dict]:
    """Every claim of a chapter-3 finding from its rows' per-seed evaluations."""
    recipe = f.recipe
    assert recipe is not None

    def get(src) -> tuple[list[float], Interval]:
        if isinstance(src, Side):
            v = _values(per_seed, _row_index(recipe, src.row), src.split, src.metric)
        else:
            v = [float(src)] * len(per_seed)
        return v, mean_ci(v)

    comps, extra = [], []
    for c in f.claims:
        (a, _), (b, _) = get(c.better), get(c.worse)
        comps.append(paired_over_seeds(a, b, lower_is_better=c.lower_is_better, thesis_effect=c.thesis_effect))
        ib, iw = _row_index(recipe, c.better.row), _row_index(recipe, c.worse.row)
        ex = {"better": interval_dict(mean_ci(a)), "worse": interval_dict(mean_ci(b)),
              "values_better": a, "values_worse": b,
              "n_seeds": len(per_seed), "stop_epochs": {"better": _stops(per_seed, ib), "worse": _stops(per_seed, iw)},
              "best_in_last_10pct": len({(sd, r["run"]) for sd in per_seed for j in (ib, iw)
                                         if (r := per_seed[sd][j]) and r.get("best_in_last_10pct")})}
        if c.beside:
            ex["beside"] = {"metric": c.beside, "better": interval_dict(get(replace(c.better, metric=c.beside))[1]),
                            "worse": interval_dict(get(replace(c.worse, metric=c.beside))[1])}
        extra.append(ex)
    return finish_claims(f.claims, comps, get, extra)


def converging(f: Finding, runner: Runner) -> Runner:
    """``runner`` with the finding's convergence rule where none is given: patience :data:`PATIENCE`,
    at most ``f.cap`` epochs."""
    s = replace(runner.s, epochs=runner.s.epochs or f.cap, patience=runner.s.patience or PATIENCE)
    return Runner(s, _shared=(runner.manifest, runner._splits, runner._models))


def run_finding(f: Finding, runner: Runner, seeds: list[int]) -> tuple[Path, Path]:
    """Run a chapter-3 finding over ``seeds`` and write ``finding_<key>.{md,csv,json}``."""
    recipe = f.recipe
    if recipe is None:
        raise ValueError(f"finding {f.key} is a video finding (clip2frame.experiments.video_findings)")
    runner = converging(f, runner)
    per_seed = run_over_seeds(recipe, runner, seeds)
    return write_report(f"finding_{f.key}", f"Finding {f.key} ({f.source}): {f.title}", recipe, per_seed,
                        chapter3_claims(f, per_seed), runner.s)


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
    """Write ``<stem>.csv``, ``<stem>.md`` and ``<stem>.json`` (every cell as mean and 95% CI over seeds, then
    the claims); returns the CSV and Markdown paths.
    """
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
        md += ["## Claims", ""] + claims_markdown(title.split()[1], claims, claims[0]["test"])
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
    md += ["## Runs", "", "| seed | row | run directory | best epoch | stopped at (by) | best in last 10% |",
           "|---|---|---|---|---|---|"]
    for sd in seeds:
        for row, res in zip(recipe.rows, per_seed[sd]):
            if res:
                md.append(f"| {sd} | {', '.join(v for _, v in row.label)} | seed{sd}/runs/{res['run']} | "
                          f"{res['best_epoch']} | {res.get('stop_epoch')} ({res.get('stopped_by')}) | "
                          f"{'yes' if res.get('best_in_last_10pct') else 'no'} |")
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

