"""``clip2frame demo``: render the embedded corpus, train on clip tags, evaluate per frame, report.

The thesis' MagnaTagATune -> MedleyDB experiment, fully reproducible on a laptop: the network learns from
clip-level tags only and is measured frame by frame against the renderer's exact truth, on a test split
(same soundfont) and a domain-shift split (another soundfont and mix), against the all-positive baseline
and a frame-supervised oracle (the same network trained on the frame truth).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.events import events_to_frames
from ..data.synth import render_music_corpus
from ..errors import Clip2FrameError
from ..eval.metrics import MetricWarning
from ..eval.protocol import evaluate_split, split_outputs
from ..fileio import atomic_write_text
from ..timebase import frame_boundaries
from ..train.config import resolve_config
from ..train.data import load_split
from ..train.trainer import train
from .figures import bar_figure, taggram_figure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSettings:
    """The settings of ``clip2frame demo``: corpus hours, training budget, seed, preset, figures."""

    hours: float = 1.0
    epochs: int = 30
    oracle_epochs: int = 30  # same budget as the weak model, so the weak/oracle ratio is fair
    patience: int = 10
    seed: int = 0
    jobs: int = 2
    preset: str = "thesis-best"
    n_taggrams: int = 3
    timbres: str = "random"    # renderer synth-music-4 with held-out timbre splits; "fixed": synth-music-3
    # the default model v2 recipe (scripts/train_default_model.sh): sigma free to move, frame thresholds
    recipe: tuple[str, ...] = ("sigma_lr_mult=30", "model.sigma_init_input_frames=64", "threshold_source=frame")


QUICK = DemoSettings(hours=0.25, epochs=4, oracle_epochs=3, patience=4)
# The demo's splits of a timbre-randomised corpus: held-in train/validation/test and the two held-out
# soundfonts (MuseScore General, TimGM6mb) rendering the same unseen scores.
DEMO_SPLITS = "train=0.7,validation=0.1,test=0.1,heldout-musescore=0.05,heldout-timgm=0.05"
SPLIT_TITLES = {
    "heldout-musescore": "held-out timbres: MuseScore General (never trained or fitted on), unseen scores",
    "heldout-timgm": "held-out timbres: TimGM6mb (never trained or fitted on), the same unseen scores",
    "test": "test (held-in timbres, unseen scores)",
    "shift": "domain shift (other soundfont and mix)",
}


def _step(msg: str) -> None:
    log.info("== %s", msg)


def run_demo(out_dir: str | Path, settings: DemoSettings = DemoSettings(), *, progress: bool = True) -> Path:
    """Run the whole demo into ``out_dir``; returns the path of ``report.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    timings: dict[str, float] = {}
    _step(f"rendering {settings.hours:g} h of music (seed {settings.seed})")
    manifest = render_music_corpus(out / "corpus", hours=settings.hours, seed=settings.seed, jobs=settings.jobs,
                                   progress=progress, timbres=settings.timbres,
                                   splits=DEMO_SPLITS if settings.timbres == "random" else None)
    timings["render"] = time.time() - t0
    base = [f"data={out / 'corpus'}", f"preset={settings.preset}", f"seed={settings.seed}",
            f"patience={settings.patience}", *settings.recipe]
    _step(f"training {settings.preset} on clip tags ({settings.epochs} epochs max)")
    t = time.time()
    weak = train(resolve_config(overrides=base + [f"out={out / 'runs' / 'weak'}", f"epochs={settings.epochs}"]),
                 progress=progress, command="clip2frame demo")
    timings["train_weak"] = time.time() - t
    _step("training the frame-supervised oracle (same network, frame truth)")
    t = time.time()
    oracle = train(resolve_config(overrides=base + [
        f"out={out / 'runs' / 'oracle'}", f"epochs={settings.oracle_epochs}", "supervision=frame",
        "select_metric=frame_auc", "threshold_source=frame"]), progress=progress, command="clip2frame demo (oracle)")
    timings["train_oracle"] = time.time() - t
    _step("evaluating on the held-out timbre and test splits")
    t = time.time()
    results = evaluate_models({"weak": weak.tagger, "oracle": oracle.tagger}, manifest, out, progress=progress)
    timings["evaluate"] = time.time() - t
    shutil.copyfile(weak.model_path, out / "model.safetensors")
    figs = make_figures(weak.tagger, manifest, out / "figures", results, n_taggrams=settings.n_taggrams)
    timings["total"] = time.time() - t0
    summary = {"settings": settings.__dict__, "corpus": manifest.summary(), "results": results,
               "timings_s": {k: round(v, 1) for k, v in timings.items()},
               "weak_best_epoch": weak.best_epoch, "oracle_best_epoch": oracle.best_epoch}
    atomic_write_text(out / "results.json", json.dumps(summary, indent=1))
    report = out / "report.md"
    atomic_write_text(report, render_report(summary, weak.tagger, figs))
    _step(f"done in {timings['total'] / 60:.1f} min: {report}")
    return report


ROWS = (("baseline", "all-positive baseline"), ("weak", "weak (clip tags), upsampling"),
        ("weak_patch", "weak (clip tags), patching"), ("oracle", "frame-supervised oracle"))


def evaluate_models(models: dict, manifest, out: Path, *, progress: bool = False) -> dict:
    """Frame/clip scores per split for each model, plus the all-positive baseline and patching."""
    # Tags absent from a small split make some scores undefined: the report shows them as "–".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        return {split: _evaluate_split_rows(models, manifest, split, out, progress)
                for split in SPLIT_TITLES if manifest.split(split)}


def _evaluate_split_rows(models: dict, manifest, split: str, out: Path, progress: bool) -> dict:
    weak = models["weak"]
    data = load_split(manifest, split, weak.feature_spec, list(weak.labels), total_stride=weak.total_stride,
                      run_dir=out, progress=progress)
    res: dict[str, dict[str, float]] = {}
    for name, tagger in models.items():
        res[name] = evaluate_split(tagger.net, tagger.standardizer, data, list(tagger.labels),
                                   tagger.thresholds, spec=tagger.feature_spec)
    res["weak_patch"] = evaluate_split(weak.net, weak.standardizer, data, list(weak.labels), weak.thresholds,
                                       spec=weak.feature_spec, resolution="frame")
    w = res["weak"]
    res["baseline"] = {"frame_micro_f1": w["baseline_micro_f1"], "frame_macro_f1": w["baseline_macro_f1"],
                       "frame_auc": 0.5}
    return res


def make_figures(tagger, manifest, fig_dir: Path, results: dict, *, n_taggrams: int) -> dict[str, list[Path]]:
    """The demo's figures in ``fig_dir``: taggrams of the first ``n_taggrams`` test clips against their frame
    truth, and bar charts of ``results``; returns their paths by kind (``taggrams``, ``other``).
    """
    figs: dict[str, list[Path]] = {"taggrams": [], "other": []}
    labels = list(tagger.labels)
    data = load_split(manifest, "test", tagger.feature_spec, labels, total_stride=tagger.total_stride,
                      run_dir=fig_dir.parent, progress=False)
    sub = min(n_taggrams, len(data))
    _, frames = split_outputs(tagger.net, tagger.standardizer, data)
    if data.events is None:
        raise Clip2FrameError(f"{manifest.root}: the test split has no frame truth to draw taggrams against")
    for i in range(sub):
        fr = frames[i]
        bounds = frame_boundaries(fr.shape[0], tagger.frame_seconds)
        truth = events_to_frames(list(data.events[i]), labels, bounds)
        figs["taggrams"].append(taggram_figure(fig_dir / f"taggram_{data.clip_ids[i]}.png",
                                               title=f"{data.clip_ids[i]} (test)", labels=labels, probs=fr,
                                               truth=truth, step_s=tagger.frame_seconds,
                                               thresholds=tagger.thresholds))
    sigma = tagger.net.sigma()
    if sigma is not None:
        figs["other"].append(bar_figure(fig_dir / "sigma_per_tag.png", title="Learned sigma of the accumulation layer",
                                        labels=labels, series={"sigma (s)": (sigma.numpy() * tagger.frame_seconds)},
                                        ylabel="seconds"))
    for split, res in results.items():
        series = {name: [res[name].get(f"frame_f1/{lab}", np.nan) for lab in labels]
                  for name in ("weak", "oracle") if name in res}
        figs["other"].append(bar_figure(fig_dir / f"f1_per_tag_{split}.png", title=f"Frame F1 per tag ({split})",
                                        labels=labels, series=series, ylabel="F1"))
    return figs


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def _listing(d: dict, unit: str = "") -> str:
    """``{'train': 87, 'test': 12}`` -> ``train 87, test 12`` (a mapping as report prose)."""
    return ", ".join(f"{k} {v:g}{unit}" if isinstance(v, float) else f"{k} {v}{unit}" for k, v in d.items())


def render_report(summary: dict, tagger, figs: dict[str, list[Path]]) -> str:
    """The demo report (Markdown) from the run's ``summary``, the weak model and the figures."""
    s = summary["settings"]
    clips = summary["corpus"]["clips"]
    lines = [
        "# clip2frame demo report", "",
        f"Corpus: {sum(clips.values())} clips ({_listing(clips)}) rendered with seed {s['seed']} ({s['hours']} h). "
        f"Model: preset `{s['preset']}` trained on clip tags only (best epoch {summary['weak_best_epoch']}); "
        f"oracle: the same network trained on frame truth (best epoch {summary['oracle_best_epoch']}). "
        f"Thresholds: per tag, fitted on the frame truth of held-in validation clips. Training recipe: "
        f"{', '.join(s.get('recipe') or ()) or 'the preset as is'}. Held-out splits come first.",
        "", f"Timings: {_listing(summary['timings_s'], ' s')}.", "",
    ]
    cols = [("frame_micro_f1", "frame micro-F1"), ("frame_macro_f1", "frame macro-F1"), ("frame_auc", "frame AUC"),
            ("clip_auc_tag", "clip AUC (tag)"), ("clip_ap_tag", "clip AP (tag)")]
    for split, res in summary["results"].items():
        title = SPLIT_TITLES[split]
        lines += [f"## Frame- and clip-level results: {title}", "",
                  "| model | " + " | ".join(c[1] for c in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for key, name in ROWS:
            r = res.get(key, {})
            lines.append(f"| {name} | " + " | ".join(_fmt(r.get(c)) for c, _ in cols) + " |")
        w, o = res["weak"], res["oracle"]
        if o.get("frame_macro_f1"):
            lines += ["", f"Weak / oracle frame macro-F1: {w['frame_macro_f1'] / o['frame_macro_f1']:.2f} "
                          f"(target >= 0.9)."]
        lines += ["", "| tag | weak F1 | oracle F1 | weak frame AUC |", "|---|---|---|---|"]
        for lab in tagger.labels:
            lines.append(f"| {lab} | {_fmt(w.get(f'frame_f1/{lab}'))} | {_fmt(o.get(f'frame_f1/{lab}'))} | "
                         f"{_fmt(w.get(f'frame_auc/{lab}'))} |")
        lines.append("")
    sigma = tagger.net.sigma()
    if sigma is not None:
        lines += ["## Learned sigma per tag", "", "| tag | sigma (s) | threshold |", "|---|---|---|"]
        for k, lab in enumerate(tagger.labels):
            lines.append(f"| {lab} | {float(sigma[k]) * tagger.frame_seconds:.2f} | {tagger.thresholds[k]:.3f} |")
        lines.append("")
    lines += ["## Figures", ""]
    for p in figs["other"] + figs["taggrams"]:
        lines.append(f"![{p.stem}](figures/{p.name})")
    lines.append("")
    return "\n".join(lines)
