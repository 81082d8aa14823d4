"""Resolve a recipe of training/recipes-v3.yaml for scripts/train_default_model.sh (RECIPE=v3).

    python scripts/recipe_v3.py prepare    --recipe NAME --work DIR [--quick]   # data (resumable)
    python scripts/recipe_v3.py train-args --recipe NAME --work DIR --seed N [--quick]
    python scripts/recipe_v3.py heldin-args --recipe NAME --work DIR      # the held-in reference (benchmark)

``prepare`` renders what the recipe trains and selects on, each step resumable (files already written
are kept): the training corpus (``synth-music-5`` with the recipe's production features, or
``synth-music-4`` when ``production`` is null) under ``DIR/corpus-<features>``, the outside-generator
selection set (``DIR/selection``, training soundfonts) and the unlabelled real music
(``DIR/unlabelled``) when the recipe uses them. ``train-args`` prints the ``clip2frame train`` arguments
(``--data``, ``--preset`` and one ``--set`` per setting; one argument a line). ``--quick``: a few seconds of everything and 2
epochs, to smoke-test the recipe (QUICK=1). ``heldin-args`` prints the ``clip2frame synth music`` arguments of
the benchmark's held-in reference: the first 48 test clips of the recipe's own corpus (the same seed and
production rendered with ``--splits test=1.0``; v2's reference is drawn the same way), under ``DIR/eval``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes-v3.yaml"
QUICK = {"hours": 16 * 8.0 / 3600, "clip_seconds": 8.0, "selection_clips": 3, "unlabelled_clips": 4,
         "set": ["epochs=2", "patience=2", "crop_frames=0", "batch_size=4", "threshold_steps=50",
                 "mean_teacher.rampup_epochs=1"]}


def load(path: Path = RECIPES) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def recipe(doc: dict, name: str) -> dict:
    if name not in doc["recipes"]:
        raise SystemExit(f"{RECIPES}: no recipe '{name}' (have {', '.join(doc['recipes'])})")
    return doc["recipes"][name]


def corpus_dir(work: Path, production: str | None) -> Path:
    return work / f"corpus-{'v4' if production is None else production.replace(',', '+')}"


def uses(r: dict, what: str) -> bool:
    return any(f"{{{what}}}" in s for s in r["set"])


def prepare(doc: dict, name: str, work: Path, quick: bool) -> None:
    from clip2frame.data.selection_val import render_selection_val
    from clip2frame.data.synth import render_music_corpus
    from clip2frame.data.unlabelled import UNLABELLED_MUSIC, build_unlabelled_manifest

    r, c = recipe(doc, name), doc["corpus"]
    hours, secs = (QUICK["hours"], QUICK["clip_seconds"]) if quick else (c["hours"], c["clip_seconds"])
    splits = "train=0.75,validation=0.25" if quick else None
    render_music_corpus(corpus_dir(work, r["production"]), hours=hours, seed=c["seed"], clip_seconds=secs,
                        splits=splits, timbres="random", production=r["production"], progress=not quick)
    if uses(r, "selection"):
        s = doc["selection"]
        render_selection_val(work / "selection", seed=s["seed"], clips=QUICK["selection_clips"] if quick else s["clips"],
                             clip_seconds=secs if quick else s["clip_seconds"])
    if uses(r, "unlabelled"):
        u = doc["unlabelled"]
        dirs = [UNLABELLED_MUSIC[p][0] for p in u["packages"]]
        build_unlabelled_manifest(dirs, work / "unlabelled", clip_seconds=secs if quick else u["clip_seconds"],
                                  max_clips=QUICK["unlabelled_clips"] if quick else 0)


def train_args(doc: dict, name: str, work: Path, seed: int, quick: bool) -> list[str]:
    r = recipe(doc, name)
    fill = {"selection": str(work / "selection"), "unlabelled": str(work / "unlabelled")}
    sets = [s for s in doc["base"] if not s.startswith("preset=")] + [s.format(**fill) for s in r["set"]]
    sets += [f"seed={seed}"] + (QUICK["set"] if quick else [])
    preset = next((s.split("=", 1)[1] for s in doc["base"] if s.startswith("preset=")), "thesis-best")
    return ["--data", str(corpus_dir(work, r["production"])), "--preset", preset] + \
        [a for s in sets for a in ("--set", s)]


def heldin_args(doc: dict, name: str, work: Path) -> list[str]:
    r, c = recipe(doc, name), doc["corpus"]
    out = work / "eval" / f"heldin-{corpus_dir(work, r['production']).name.removeprefix('corpus-')}"
    prod = [] if r["production"] is None else ["--production", r["production"]]
    return ["--out", str(out), "--hours", "0.39", "--seed", str(c["seed"]), "--splits", "test=1.0",
            "--clip-seconds", str(c["clip_seconds"]), "--timbres", "random", *prod]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=("prepare", "train-args", "heldin-args", "names"))
    p.add_argument("--recipe", default="v3")
    p.add_argument("--work", default="default_model_work")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    doc = load()
    if a.step == "names":
        print(" ".join(doc["recipes"]))
    elif a.step == "prepare":
        prepare(doc, a.recipe, Path(a.work), a.quick)
    elif a.step == "heldin-args":
        print("\n".join(heldin_args(doc, a.recipe, Path(a.work))))
    else:
        print("\n".join(train_args(doc, a.recipe, Path(a.work), a.seed, a.quick)))  # one argument a line
    return 0


if __name__ == "__main__":
    sys.exit(main())
