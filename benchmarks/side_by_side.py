"""Two or more models side by side on the issue-#24 axes: one markdown table per axis from their
``bench_generalisation.py --json`` files (same corpora, same code), per tag with always-on, oracle and musicnn.

    python benchmarks/side_by_side.py v2=results/outside/bench_generalisation_v2.json \
        v3=training/default-model-v3/generalisation.json > results/outside/v2_v3.md

Columns per model: frame ROC-AUC and F1 at the model's own thresholds; once per axis: the tag's always-on F1
(the all-positive predictor: it depends only on the truth, so it is the same for every model on a shared axis),
the oracle's AUC and musicnn's AUC where the JSONs hold them (first model that has them). The held-in axis is
each model's own training renderer (its first 48 test clips), so it is listed per model, not compared. The
non-music axis: the share of frames where any instrument fires, per family. One seed per model: differences
of a few hundredths on a tag with few clips are within draw noise (BENCHMARKS.md gives the clip counts).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

#: Axes compared across models (same corpora); held-in and non-music have their own tables.
SHARED_AXES = ("outside-test-musescore", "outside-test-timgm", "outside-test", "real")


def _f(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def load(specs: list[str]) -> dict[str, dict]:
    """``NAME=PATH`` pairs -> ``{name: the JSON's "axes"}``."""
    out = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        if not path:
            raise SystemExit(f"{spec}: expected NAME=PATH")
        try:
            out[name] = json.loads(Path(path).read_text())["axes"]
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"{path}: not a bench_generalisation.py --json file with axes ({e})") from None
    return out


def _first(models: dict[str, dict], axis: str, who: str) -> dict:
    return next((m[axis][who] for m in models.values() if axis in m and m[axis].get(who)), {})


def summary(models: dict[str, dict]) -> list[str]:
    names = list(models)
    lines = ["| axis | " + " | ".join(f"{n} AUC | {n} macro-F1" for n in names) + " | always-on macro-F1 | "
             "musicnn AUC (shared tags) |", "|---|" + "---|---|" * len(names) + "---|---|"]
    for axis in ("heldin-test", *SHARED_AXES):
        if not any(axis in m for m in models.values()):
            continue
        cells = []
        for n in names:
            r = models[n].get(axis, {}).get("model", {})
            cells += [_f(r.get("frame_auc")), _f(r.get("frame_macro_f1"))]
        own = axis == "heldin-test"   # each model's own renderer: its baselines are in its own JSON
        base = {} if own else _first(models, axis, "model")
        mn = {} if own else _first(models, axis, "musicnn")
        label = f"{axis} (each its own renderer)" if axis == "heldin-test" else axis
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_f(base.get('allpos_macro_f1'))} | "
                     f"{_f(mn.get('frame_auc'))} |")
    for n in names:
        gap = models[n].get("renderer_gap", {}).get("outside-test")
        if gap:
            lines.append(f"\nRenderer gap of {n} (held-in test minus outside-test): AUC {_f(gap['frame_auc'])}, "
                         f"macro-F1 {_f(gap['frame_macro_f1'])}.")
    return lines


def per_tag(models: dict[str, dict], axis: str) -> list[str]:
    names = list(models)
    base, oracle, mn = _first(models, axis, "model"), _first(models, axis, "oracle"), _first(models, axis, "musicnn")
    labels = [k.split("/", 1)[1] for k in base if k.startswith("frame_auc/")]
    lines = [f"\n#### {axis} ({base.get('clips', '?')} clips)\n",
             "| tag | " + " | ".join(f"{n} AUC / F1" for n in names) + " | always-on F1 | oracle AUC | musicnn AUC |",
             "|---|" + "---|" * len(names) + "---|---|---|"]
    for t in labels:
        cells = [f"{_f(models[n].get(axis, {}).get('model', {}).get(f'frame_auc/{t}'))} / "
                 f"{_f(models[n].get(axis, {}).get('model', {}).get(f'frame_f1/{t}'))}" for n in names]
        lines.append(f"| {t} | " + " | ".join(cells) + f" | {_f(base.get(f'allpos_f1/{t}'))} | "
                     f"{_f(oracle.get(f'frame_auc/{t}'))} | {_f(mn.get(f'frame_auc/{t}'))} |")
    return lines


def nonmusic(models: dict[str, dict]) -> list[str]:
    names = [n for n in models if models[n].get("nonmusic")]
    if not names:
        return []
    fams = list(models[names[0]]["nonmusic"])
    lines = ["\n#### non-music: share of frames with any instrument at or above the model's thresholds\n",
             "| family | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for f in fams:
        lines.append(f"| {f} | " + " | ".join(_f(models[n]["nonmusic"].get(f, {}).get("any_instrument"))
                                             for n in names) + " |")
    return lines


def render(models: dict[str, dict]) -> str:
    """The whole markdown: summary, per-tag tables of every shared axis, non-music."""
    lines = summary(models)
    for axis in SHARED_AXES:
        if axis in next(iter(models.values())):
            lines += per_tag(models, axis)
    lines += nonmusic(models)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", metavar="NAME=JSON")
    args = ap.parse_args(argv)
    sys.stdout.write(render(load(args.models)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
