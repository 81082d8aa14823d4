"""Writing a thesis table: ``table_X.csv`` and ``table_X.md`` (ours beside the thesis' figures per split,
and the run directories), rewritten atomically after every row so an interrupted recipe keeps its rows."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ..fileio import atomic_write_text
from .grids import Recipe


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def write_table(recipe: Recipe, results: list[dict | None], splits: list[str], out: Path) -> None:
    """Write ``out/table_<name>.csv`` and ``.md`` for ``recipe``: one line per row with a result (``results``
    as :func:`clip2frame.experiments.runner.run_rows` returns them), metrics per split of ``splits``."""
    stem = f"table_{recipe.name.replace('.', '_')}"
    label_cols = [k for k, _ in recipe.rows[0].label]
    header = label_cols + ["run", "seed", "best_epoch", "epochs_run"]
    for sp in splits:
        for name, _ in recipe.metrics:
            header += [f"{sp}: {name}"]
    header += [f"thesis: {name}" for name, _ in recipe.metrics] + ["overrides"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row, res in zip(recipe.rows, results):
        if res is None:
            continue
        line = [v for _, v in row.label] + [res["run"], res["seed"], res["best_epoch"], res["epochs_run"]]
        for sp in splits:
            line += [_csvnum(res["scores"][sp].get(key)) for _, key in recipe.metrics]
        line += [_csvnum(row.thesis.get(name)) for name, _ in recipe.metrics] + [res["overrides"]]
        w.writerow(line)
    atomic_write_text(out / f"{stem}.csv", buf.getvalue())

    md = [f"# Table {recipe.name}: {recipe.title}", ""]
    if recipe.note:
        md += [recipe.note, ""]
    for sp in splits:
        what = {"test": "test split", "shift": "domain-shift split",
                "target": "held-out half of the domain-shift split"}.get(sp, f"split {sp}")
        if recipe.name == "3.2":
            what = "held-out half of the domain-shift split"
        md += [f"## {what}: ours / thesis", "",
               "| " + " | ".join(label_cols + [n for n, _ in recipe.metrics]) + " |",
               "|" + "---|" * (len(label_cols) + len(recipe.metrics))]
        for row, res in zip(recipe.rows, results):
            cells = [v for _, v in row.label]
            for name, key in recipe.metrics:
                ours = _fmt(res["scores"][sp].get(key)) if res else "(not run)"
                cells.append(f"{ours} / {_fmt(row.thesis.get(name))}")
            md.append("| " + " | ".join(cells) + " |")
        md.append("")
    md += ["## Runs", "", "| row | run directory (config.yaml inside) | seed | best epoch | epochs run |",
           "|---|---|---|---|---|"]
    for row, res in zip(recipe.rows, results):
        if res:
            md.append(f"| {', '.join(v for _, v in row.label)} | runs/{res['run']} | {res['seed']} | "
                      f"{res['best_epoch']} | {res['epochs_run']} |")
    md.append("")
    atomic_write_text(out / f"{stem}.md", "\n".join(md))


def _csvnum(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return f"{v:.4f}" if isinstance(v, float) else v
