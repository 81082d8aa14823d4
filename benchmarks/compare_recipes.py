"""Training recipes compared over seeds on the generalisation benchmark (issue #12: what each recipe change did).

Each recipe is a list of ``bench_generalisation.py --json`` files, one per training seed, in the same seed
order for every recipe (seed i of one recipe is paired with seed i of the others). Per split and metric: the
mean and 95% t interval over seeds of every recipe, and for each recipe against ``--baseline`` the paired
difference over seeds (t interval, paired t-test) with its verdict — the statistics of the chapter-3
findings (:mod:`clip2frame.experiments.stats`): "holds" when the whole interval is above 0 (better),
"opposite" when below, else "inconclusive".

    python benchmarks/compare_recipes.py --baseline v2 \
        --recipe v2=S11/generalisation.json,S12/generalisation.json,S13/generalisation.json \
        --recipe eq=E11/...,E12/...,E13/... --out results/recipes

Issue #24's ablations: ``--ablations training/recipes-v3.yaml --runs WORK/runs --seeds 11,12,13`` takes every
recipe listed there (each v3 with one training switch off, and v2) from
``WORK/runs/<recipe>/seed<N>/generalisation.json`` (v3 seed 11: also its committed run directory), baseline
``v3``. The outside-renderer axes of ``bench_generalisation.py`` (``axes`` in its JSON: the held-out
arrangement test split, pooled and per soundfont, the real recordings, non-music) are compared first when
the files have them; for non-music the score is ``no_detection``, the share of frames where no instrument is
detected (higher is better, like every other row).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from clip2frame.experiments.stats import Interval, mean_ci, paired_over_seeds
from clip2frame.fileio import atomic_write_text

OUTSIDE_AXES = ("outside-test", "outside-test-musescore", "outside-test-timgm", "real", "nonmusic")  # issue #24
SPLITS = OUTSIDE_AXES + ("heldout-musescore", "heldout-timgm", "heldout-recorded", "degraded", "test")
METRICS = (("frame_auc", "frame macro-AUC"), ("frame_macro_f1", "macro-F1"), ("segment_f1", "segment F1"),
           ("event_f1_macro", "event F1"), ("psds", "PSDS1"))


NONMUSIC_METRICS = (("no_detection", "frames with no instrument"),)


def axes_as_splits(axes: dict) -> dict:
    """The ``axes`` of a bench_generalisation.py JSON as ``{split: {"model": {metric: value}}}``; non-music
    becomes ``no_detection`` (pooled over its families, and ``no_detection/<family>``)."""
    out = {k: v for k, v in axes.items() if k in OUTSIDE_AXES and k != "nonmusic"}
    fams = axes.get("nonmusic") or {}
    if fams:
        nd = {f"no_detection/{f}": 1.0 - float(r["any_instrument"]) for f, r in fams.items()}
        frames = sum(int(r.get("frames", 1)) for r in fams.values())
        pooled = sum((1.0 - float(r["any_instrument"])) * int(r.get("frames", 1)) for r in fams.values()) / frames
        out["nonmusic"] = {"model": {"no_detection": pooled, **nd}}
    return out


def load_recipe(spec: str) -> tuple[str, list[dict]]:
    name, _, paths = spec.partition("=")
    if not name or not paths:
        raise SystemExit(f"--recipe {spec!r}: expected NAME=path1,path2,...")
    runs = []
    for p in paths.split(","):
        try:
            doc = json.loads(Path(p).read_text())
            runs.append({**doc["splits"], **axes_as_splits(doc.get("axes") or {})})
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"{p}: not a bench_generalisation.py --json file ({e})")
    return name, runs


def ablation_specs(recipes_yaml: str, runs_dir: str, seeds: list[int]) -> list[str]:
    """``NAME=json,...`` for every recipe of ``recipes_yaml`` whose runs exist for all ``seeds``."""
    import yaml

    doc = yaml.safe_load(Path(recipes_yaml).read_text())
    committed = doc.get("committed_run", {})
    specs = []
    for name in doc["recipes"]:
        paths = []
        for s in seeds:
            p = Path(runs_dir) / name / f"seed{s}" / "generalisation.json"
            alt = committed.get(name, {}).get(s) if isinstance(committed.get(name), dict) else None
            if not p.is_file() and alt:
                p = Path(alt) / "generalisation.json"
            paths.append(p)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            print(f"recipe {name}: left out, missing {', '.join(missing)}")
            continue
        specs.append(f"{name}=" + ",".join(str(p) for p in paths))
    return specs


def values(runs: list[dict], split: str, key: str) -> list[float]:
    return [float(r.get(split, {}).get("model", {}).get(key, math.nan)) for r in runs]


def present(recipes: dict[str, list[dict]], baseline: str) -> list[str]:
    """The splits the baseline's runs have (the outside axes only where bench_generalisation.py made them)."""
    return [s for s in SPLITS if any(s in r for r in recipes[baseline])]


def metrics_of(split: str, tags: list[str]) -> tuple[tuple[str, str], ...]:
    if split == "nonmusic":
        return NONMUSIC_METRICS
    return METRICS + tuple((f"frame_auc/{t}", t) for t in tags)


def compare(recipes: dict[str, list[dict]], baseline: str, tags: list[str]) -> dict:
    out: dict = {"baseline": baseline, "seeds": {n: len(r) for n, r in recipes.items()}, "splits": {}}
    for split in present(recipes, baseline):
        rows = {}
        for key, _ in metrics_of(split, tags):
            row = {n: vars(mean_ci(values(r, split, key))) for n, r in recipes.items()}
            for n, r in recipes.items():
                if n != baseline:
                    c = paired_over_seeds(values(r, split, key), values(recipes[baseline], split, key))
                    row[f"{n} - {baseline}"] = {**vars(c.diff), "p_value": c.p_value, "verdict": c.verdict}
            rows[key] = row
        out["splits"][split] = rows
    return out


def markdown(res: dict, names: list[str], tags: list[str]) -> str:
    base = res["baseline"]
    others = [n for n in names if n != base]
    lines = [f"Seeds per recipe: {res['seeds']}; mean ± 95% t interval over seeds; differences paired by seed "
             f"(verdict: holds = better than {base}, opposite = worse, else inconclusive).", ""]
    for split in res["splits"]:
        rows = res["splits"][split]
        lines += [f"### {split}", "", "| metric | " + " | ".join(names) + " | "
                  + " | ".join(f"{n} − {base}" for n in others) + " |",
                  "|---" * (1 + len(names) + len(others)) + "|"]
        for key, label in metrics_of(split, tags):
            label = f"AUC {label}" if key.startswith("frame_auc/") else label
            cells = [Interval(**{k: rows[key][n][k] for k in ("mean", "low", "high", "n")}).fmt() for n in names]
            diffs = []
            for n in others:
                d = rows[key][f"{n} - {base}"]
                diffs.append(f"{Interval(d['mean'], d['low'], d['high'], d['n']).fmt()} ({d['verdict']})")
            lines.append(f"| {label} | " + " | ".join(cells + diffs) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", action="append", default=[], help="NAME=json1,json2,... (one file per seed)")
    p.add_argument("--baseline", default=None, help="the recipe the others are compared with (--ablations: v3)")
    p.add_argument("--ablations", default=None, help="a recipes YAML (training/recipes-v3.yaml): its recipes")
    p.add_argument("--runs", default=None, help="--ablations: the runs directory (RUNS/<recipe>/seed<N>/)")
    p.add_argument("--seeds", default="11,12,13", help="--ablations: the seeds, paired in this order")
    p.add_argument("--out", required=True, help="directory for comparison.md and comparison.json")
    a = p.parse_args(argv)
    specs = list(a.recipe)
    if a.ablations:
        if not a.runs:
            raise SystemExit("--ablations needs --runs DIR")
        specs += ablation_specs(a.ablations, a.runs, [int(s) for s in a.seeds.split(",")])
        a.baseline = a.baseline or "v3"
    if not specs or not a.baseline:
        raise SystemExit("give --recipe NAME=... (and --baseline), or --ablations YAML --runs DIR")
    recipes = dict(load_recipe(s) for s in specs)
    if a.baseline not in recipes:
        raise SystemExit(f"--baseline {a.baseline!r}: not one of {sorted(recipes)}")
    tags = list(dict.fromkeys(k.split("/", 1)[1] for s in present(recipes, a.baseline) if s != "nonmusic"
                              for k in recipes[a.baseline][0].get(s, {}).get("model", {}) if k.startswith("frame_auc/")))
    res = compare(recipes, a.baseline, tags)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "comparison.json", json.dumps(res, indent=1))
    md = markdown(res, list(recipes), tags)
    atomic_write_text(out / "comparison.md", md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
