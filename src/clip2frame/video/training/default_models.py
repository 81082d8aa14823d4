"""The packaged video models (``assets/video_{sound,object,action}.safetensors``): how they are made.

:func:`train_default_models` renders the embedded audio-visual corpus and trains the sound, object and SOT0503
action models with the recipe of ``clip2frame demo --video`` (:func:`clip2frame.video.training.demo.demo_configs`),
evaluates them on the test split (Table 4.8 style) and stores them as float16 model files whose metadata
carry the command, every setting and a model card with the measured figures. Run it through
``scripts/train_default_video_models.sh``; nothing at run time downloads or trains anything.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import torch

from ...config import to_dict
from ...fileio import atomic_write_text
from ...models.io import load_model, load_visual_model, save_model
from ..rendering.corpus import render_corpus
from .demo import demo_configs, demo_settings
from .evaluate import evaluate_corpus, write_results
from .training import train

log = logging.getLogger(__name__)

ACTION_TARGET = "SOT0503"
#: run directory name -> model kind of the packaged file
RUNS = {"sound": "sound", "object": "object", ACTION_TARGET: "action"}


def _metrics(row: Any, keys: Sequence[str]) -> dict[str, float]:
    out = {}
    for k in keys:
        v = getattr(row, k)
        if isinstance(v, float) and not math.isnan(v):
            out[k] = round(v, 4)
    return out


def _action_alone(by: dict[str, Any]) -> str:
    """How the action map alone compares with the centre guess in the evaluation rows (issue 14, item 5)."""
    a, c, ao = by.get(f"{ACTION_TARGET} A"), by.get("Center"), by.get(f"{ACTION_TARGET} A*O")
    if a is None or c is None or math.isnan(a.spatial_px) or math.isnan(c.spatial_px):
        return "The action map alone was not evaluated spatially."
    rel = "less" if a.spatial_px > c.spatial_px else "more"
    fused = f"; fused with the object map (A·O) {ao.spatial_px:.1f} px" if ao is not None else ""
    return (f"The action map alone is {rel} precise than guessing the frame's centre on this corpus "
            f"({a.spatial_px:.1f} vs {c.spatial_px:.1f} px{fused}).")


def model_card(kind: str, rows: Sequence[Any], *, data: str, source: str) -> dict[str, Any]:
    """The model card of one packaged video model, its held-out figures taken from the evaluation ``rows``."""
    by = {r.method: r for r in rows}
    wanted = {"sound": ["Sound model"], "object": ["Object model", "Sound x Object"],
              "action": [f"{ACTION_TARGET} {f}" for f in ("A", "A*O", "A*S", "A*O*S")]}[kind]
    results = [{"data": f"{data}: {m}", "metrics": _metrics(by[m], ("temporal_auc", "spatial_px", "hit_rate")),
                "source": source} for m in [*wanted, "Center"] if m in by and _metrics(by[m], ("temporal_auc",
                                                                                             "spatial_px"))]
    use = {"sound": "Frame-level activity (0.512-s frames) of the 9 video instruments from a video's audio track; "
                    "the S stream of clip2frame detect.",
           "object": "Heat maps of where each of the 9 video instruments is in a frame (RGB, 256-pixel long "
                     "side); the O stream of clip2frame detect.",
           "action": "Heat maps of where each of the 9 video instruments is being played (optical flow, SOT0503 "
                     "target of thesis ch. 4); the A stream of clip2frame detect."}[kind]
    return {
        "intended_use": use + " Trained on synthetic videos only: a demonstration and a starting point for "
                              "fine-tuning, not a detector for real recordings.",
        "training_data": "The embedded audio-visual corpus (clip2frame video synth, the recipe of clip2frame demo "
                         "--video): rendered scenes of drawn players and instruments with FluidSynth audio; "
                         "weak labels (video tags) only.",
        "held_out_results": results,
        "known_limits": [
            "Learned the renderer's pictures: on videos of another look the visual streams transfer poorly "
            "(issue 14, item 6).",
            _action_alone(by),
            "Narrow networks (width 0.125) trained for minutes on a CPU; one seed.",
        ],
    }


def train_default_models(out_dir: str | Path, *, assets_dir: str | Path, quick: bool = False,
                         command: str = "bash scripts/train_default_video_models.sh") -> dict[str, Path]:
    """Render, train, evaluate and export the three packaged video models into ``assets_dir``.

    ``out_dir`` keeps the corpus, the run directories and ``evaluation/results.{md,csv,json}``; a rerun resumes
    every finished step. Returns model kind -> written file."""
    out, assets = Path(out_dir), Path(assets_dir)
    st = demo_settings(quick)
    cfgs = demo_configs(quick)
    data = render_corpus(out / "corpus", st["synth"], jobs=st["jobs"])
    runs = out / "runs"
    train(data, runs / "sound", cfgs["sound"], command=command)
    train(data, runs / "object", cfgs["object"], command=command)
    train(data, runs / ACTION_TARGET, cfgs[ACTION_TARGET], object_run=runs / "object", sound_run=runs / "sound",
          command=command)
    rows = evaluate_corpus(data, action_runs=[runs / ACTION_TARGET], object_run=runs / "object",
                           sound_run=runs / "sound", jobs=st["jobs"])
    write_results(out / "evaluation", rows, settings={"default_models": "quick" if quick else "full"})
    synth = to_dict(st["synth"])
    day = _dt.date.today().isoformat()
    source = f"{command}, evaluation/results.json, {day}"
    data_name = (f"embedded AV corpus test split ({st['synth'].n_test} videos of {st['synth'].duration_s:g} s, "
                 f"seed {st['synth'].seed})")
    written: dict[str, Path] = {}
    assets.mkdir(parents=True, exist_ok=True)
    for run_name, kind in RUNS.items():
        model: Any = (load_model(runs / run_name, kind="sound") if kind == "sound"
                      else load_visual_model(runs / run_name, kind=kind))
        model.name = f"clip2frame-video-{kind}"
        model.provenance = {**model.provenance, "command": command, "corpus": synth,
                            "recipe": "clip2frame demo --video" + (" --quick" if quick else ""),
                            "stored_as": "float16"}
        model.card = model_card(kind, rows, data=data_name, source=source)
        written[kind] = save_model(assets / f"video_{kind}.safetensors", model, dtype=torch.float16)
    atomic_write_text(out / "default_models.txt", "".join(f"{k}\t{p}\n" for k, p in written.items()))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m clip2frame.video.training.default_models --out WORK --assets DIR [--quick]`` (the script's entry)."""
    p = argparse.ArgumentParser(prog="python -m clip2frame.video.training.default_models", description=__doc__)
    p.add_argument("--out", required=True, help="work directory (corpus, runs, evaluation); resumable")
    p.add_argument("--assets", required=True, help="where the video_<kind>.safetensors files are written")
    p.add_argument("--quick", action="store_true", help="the demo's quick settings (a smoke run)")
    p.add_argument("--command", default="bash scripts/train_default_video_models.sh",
                   help="the command recorded in the models' provenance")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for kind, path in train_default_models(a.out, assets_dir=a.assets, quick=a.quick, command=a.command).items():
        print(f"{kind}\t{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
