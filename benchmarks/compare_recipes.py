"""Training recipes compared over seeds on the generalisation benchmark (issue #12: what each recipe change did).

Each recipe is a list of ``bench_generalisation.py --json`` files, one per training seed, in the same seed
order for every recipe (seed i of one recipe is paired with seed i of the others). Per split and metric: the
mean and 95% t interval over seeds of every recipe, and for each recipe against ``--baseline`` the paired
difference over seeds (t interval, paired t-test) with its verdict — the statistics of the chapter-3
findings (:mod:`clip2frame.experiments.stats`): "holds" when the whole interval is above 0 (better), "does
not hold" when below, else "inconclusive".

    python benchmarks/compare_recipes.py --baseline v2 \
        --recipe v2=S11/generalisation.json,S12/generalisation.json,S13/generalisation.json \
        --recipe eq=E11/...,E12/...,E13/... --out results/recipes
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from clip2frame.experiments.stats import Interval, mean_ci, paired_over_seeds
from clip2frame.fileio import atomic_write_text

SPLITS = ("heldout-musescore", "heldout-timgm", "heldout-recorded", "degraded", "test")  # held-out first
METRICS = (("frame_auc", "frame macro-AUC"), ("frame_macro_f1", "macro-F1"), ("segment_f1", "segment F1"),
           ("event_f1_macro", "event F1"), ("psds", "PSDS1"))


def load_recipe(spec: str) -> tuple[str, list[dict]]:
    name, _, paths = spec.partition("=")
    if not name or not paths:
        raise SystemExit(f"--recipe {spec!r}: expected NAME=path1,path2,...")
    runs = []
    for p in paths.split(","):
        try:
            runs.append(json.loads(Path(p).read_text())["splits"])
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"{p}: not a bench_generalisation.py --json file ({e})")
    return name, runs


def values(runs: list[dict], split: str, key: str) -> list[float]:
    return [float(r.get(split, {}).get("model", {}).get(key, math.nan)) for r in runs]


def compare(recipes: dict[str, list[dict]], baseline: str, tags: list[str]) -> dict:
    out: dict = {"baseline": baseline, "seeds": {n: len(r) for n, r in recipes.items()}, "splits": {}}
    for split in SPLITS:
        rows = {}
        for key, _ in METRICS + tuple((f"frame_auc/{t}", t) for t in tags):
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
             f"(verdict: holds = better than {base}, does not hold = worse, else inconclusive).", ""]
    for split in SPLITS:
        rows = res["splits"][split]
        lines += [f"### {split}", "", "| metric | " + " | ".join(names) + " | "
                  + " | ".join(f"{n} − {base}" for n in others) + " |",
                  "|---" * (1 + len(names) + len(others)) + "|"]
        for key, label in METRICS + tuple((f"frame_auc/{t}", f"AUC {t}") for t in tags):
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
    p.add_argument("--recipe", action="append", required=True, help="NAME=json1,json2,... (one file per seed)")
    p.add_argument("--baseline", required=True, help="the recipe the others are compared with")
    p.add_argument("--out", required=True, help="directory for comparison.md and comparison.json")
    a = p.parse_args(argv)
    recipes = dict(load_recipe(s) for s in a.recipe)
    if a.baseline not in recipes:
        raise SystemExit(f"--baseline {a.baseline!r}: not one of {sorted(recipes)}")
    first = recipes[a.baseline][0].get(SPLITS[0], {}).get("model", {})
    tags = [k.split("/", 1)[1] for k in first if k.startswith("frame_auc/")]
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
