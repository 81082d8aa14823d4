"""Running the thesis' table recipes: rows trained (or reused) and evaluated, with the threshold policy.

A recipe is a grid of :class:`~clip2frame.train.config.TrainConfig` overrides (one :class:`Row` each) plus
the thesis' figures for the same rows. Running it trains every row (a run directory is named after its
resolved config, so a row shared by two tables is trained once, and a run directory that already holds
``model.safetensors`` is reused: recipes are resumable), evaluates it on the ``test`` split (and ``shift``
when the dataset has one, the domain-shift split of the embedded corpus) and writes ``table_X.csv`` and
``table_X.md`` with the thesis' numbers side by side. The table files are rewritten after every row, so
an interrupted recipe leaves the rows it finished.

Evaluation follows :mod:`clip2frame.eval.protocol` and the demo (:mod:`.demo`): frame-level
precision/recall/F1 micro and macro with the model's per-tag thresholds (fitted on clip predictions of
320-frame cuts of the validation split, thesis §3.3), clip-level ROC-AUC and AP per tag and per clip.
Frame-level scores cover every label of the dataset; under ``frame_labels="thesis9"`` (the findings'
protocol) also the thesis' 9 frame-level instruments the dataset has (:func:`thesis9_labels`), as
``thesis9_<key>`` (the thesis: 9 instrument tags of MedleyDB).

Thresholds (:meth:`Runner._thresholds`): the run's own (fitted at training), or refitted per
:class:`Settings` (``thresholds="frame"``: on validation frame truth; ``source_thresholds="clips"``:
:func:`clip2frame.train.thresholds.fit_model_thresholds`, source ``clips``: whole clips against their
tags), then floored at ``threshold_floor``;
Table 3.2's target-domain rows fit on one half of the target split and score the other.
The scarce frame-supervised set of Table 3.6 is derived here from the settings
(:func:`make_scarce_manifest`). Tables are written by :mod:`.tables`, datasets prepared by :mod:`.datasets`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..config import to_dict
from ..data.manifest import load_manifest
from ..data.readers.medleydb import MTT9_MAP
from ..errors import ConfigError, DatasetError
from ..eval.protocol import evaluate_split, split_outputs
from ..fileio import atomic_write_text
from ..models.inspect import describe
from ..models.io import load_model
from ..models.registry import get_preset
from ..train.config import PLACEMENT_KEYS, resolve_config, settings_dict
from ..train.data import load_split
from ..train.thresholds import fit_model_thresholds
from ..train.trainer import train
from .datasets import write_manifest_abs
from .grids import Recipe, Row
from .tables import write_table

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """What every row of a recipe shares: data, output directory, training budget, seed, overrides, row filters
    and the evaluation protocol switches.
    """

    data: str                      # manifest directory
    out: Path
    epochs: int | None = None
    patience: int | None = None
    seed: int = 0
    preset: str | None = None      # base preset (Table 3.4 rows set their own)
    overrides: tuple[str, ...] = ()  # extra --set applied to every row (before the row's own)
    progress: bool = False
    # (column, value) filters: only matching rows are trained; others are shown when already trained
    where: tuple[tuple[str, str], ...] = ()
    # ---- evaluation protocol switches (defaults: the behaviour before issue #15; THESIS_PROTOCOL below)
    frame_scoring: str = "model"        # model: output frames | upsampled: repeated to 32-ms input frames
    source_thresholds: str = "clip320"  # Table 3.2 source domain: clip320 cuts | clips: whole clips vs tags
    thresholds: str = "model"           # model: the run's own | frame: refit on validation frame truth
    threshold_floor: float = 0.0        # no threshold below this (applied at evaluation)
    events: bool = False                # add event F1 and PSDS (clip2frame.eval.events; segment F1 always)
    frame_labels: str = "all"           # all | thesis9: add frame scores over the thesis' 9 instruments
    scarce_clips: int = 40              # training clips of the scarce frame-supervised baseline (Table 3.6)
    # the manifest split that plays the target domain ("shift" of the tables): ``shift`` in a synth-music-3
    # corpus, a held-out-timbre split (e.g. heldout-musescore) in a synth-music-4 one
    shift_split: str = "shift"
    shared: Path | None = None          # where data derived once for all seeds lives (default: out)

    def selects(self, row: Row) -> bool:
        """Whether ``row`` matches every ``where`` filter (only those rows are trained)."""
        lab = dict(row.label)
        return all(lab.get(k) == v for k, v in self.where)

    def protocol(self) -> dict:
        """The evaluation switches that differ from the defaults (part of every cached evaluation's key)."""
        return {k: getattr(self, k) for k, v in PROTOCOL_DEFAULTS.items() if getattr(self, k) != v}


PROTOCOL_DEFAULTS = {"frame_scoring": "model", "source_thresholds": "clip320", "thresholds": "model",
                     "threshold_floor": 0.0, "events": False, "shift_split": "shift", "frame_labels": "all"}
# The thesis' protocol (issues #15, #25): frames scored at the input rate, source-domain thresholds from whole
# clips and their tags, event-level metrics beside the frame metrics, frame scores over the thesis' 9
# instruments beside those over every label; runs train until their validation score is flat (early
# stopping with a patience, ``epochs`` the cap; best-on-validation checkpoint kept).
THESIS_PROTOCOL = {"frame_scoring": "upsampled", "source_thresholds": "clips", "events": True,
                   "frame_labels": "thesis9"}
THESIS_TRAINING = ("early_stopping=true", "checkpoint=best")


def thesis9_labels(labels) -> list[str]:
    """The labels of a dataset that are among the thesis' 9 frame-level instruments (chapter 3, MedleyDB
    names or their MagnaTagATune tags, :data:`clip2frame.data.readers.medleydb.MTT9_MAP`; the embedded
    corpus spells 6 of them the same way and has no singers), in the dataset's order."""
    names = set(MTT9_MAP) | set(MTT9_MAP.values())
    return [lab for lab in labels if lab in names]


def _early_override(preset_name: str, n: int) -> str:
    layer = get_preset(preset_name).model.early[0]
    one = f"{{filters: {layer.filters}, kernel: {layer.kernel}, pool: {layer.pool}}}"
    return "model.early=[" + ", ".join([one] * n) + "]"


def row_config(row: Row, s: Settings):
    """The row's resolved TrainConfig and its run directory (named after the config itself)."""
    data = s.data
    if row.data == "scarce":
        data = str(scarce_manifest_dir(s))
    base = [f"data={data}", f"seed={s.seed}"]
    if s.preset:
        base.append(f"preset={s.preset}")
    if s.epochs:
        base.append(f"epochs={s.epochs}")
    if s.patience:
        base.append(f"patience={s.patience}")
    ov = base + list(s.overrides) + list(row.overrides)
    if row.early_layers:
        preset = next((o.split("=", 1)[1] for o in reversed(ov) if o.startswith("preset=")), "thesis-best")
        ov.append(_early_override(preset, row.early_layers))
    cfg = resolve_config(overrides=ov)
    m = cfg.model
    slug = (f"{cfg.preset}-{m.pooling}-s{m.total_stride}-{m.accumulation}"
            + (f"-frame-late{'x'.join(map(str, m.late))}" if cfg.supervision == "frame" else "")
            + ("-scarce" if row.data == "scarce" else ""))
    runs = s.out / "runs"
    run = runs / f"{slug}-{_digest(settings_dict(cfg, drop=PLACEMENT_KEYS))}"
    # Names before 2026-12-07 hashed the whole config but ``out`` (threads, workers and device too): a run
    # of such a name is reused. (They had no ``augment`` key, so only unaugmented runs can have one.)
    if not run.exists() and not cfg.augment.enabled:
        old = to_dict(replace(cfg, out=""))
        old.pop("augment")
        if (runs / f"{slug}-{_digest(old)}").exists():
            run = runs / f"{slug}-{_digest(old)}"
    return replace(cfg, out=str(run)), ov


def _digest(ident: dict) -> str:
    return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:8]


class Runner:
    """Trains (or reuses) rows and caches their evaluations; shared by every recipe of one invocation."""

    def __init__(self, s: Settings, *, _shared: tuple | None = None):
        self.s = s
        if _shared is None:
            self.manifest = load_manifest(s.data)
            self._splits: dict[tuple, object] = {}
            self._models: dict[str, object] = {}
        else:
            self.manifest, self._splits, self._models = _shared

    def for_seed(self, seed: int, out: Path) -> "Runner":
        """The same experiment for another seed, its runs and tables under ``out``; loaded splits and
        models are shared, data derived once (the scarce set) stays under the first runner's ``shared``."""
        s = replace(self.s, seed=seed, out=out, shared=self.s.shared or self.s.out)
        return Runner(s, _shared=(self.manifest, self._splits, self._models))

    # -- training
    def model(self, cfg):
        """The trained model of ``cfg`` (loaded from its run directory when there, trained otherwise), cached."""
        run = Path(cfg.out)
        if cfg.out not in self._models:
            if (run / "model.safetensors").is_file():
                log.info("reusing %s", run)
                tagger = load_model(run / "model.safetensors")
            else:
                log.info("training %s", run)
                tagger = train(cfg, progress=self.s.progress, command="clip2frame experiment").tagger
            self._models[cfg.out] = tagger
        return self._models[cfg.out]

    def split(self, name: str, tagger):
        """A loaded split; ``"target"`` is the held-out half of ``shift`` (the target domain's test songs)."""
        if name == "target":
            return _halves(self.split("shift", tagger))[1]
        if name == "shift":
            name = self.s.shift_split
        key = (name, json.dumps(to_dict(tagger.feature_spec), sort_keys=True), tagger.total_stride)
        if key not in self._splits:
            self._splits[key] = load_split(self.manifest, name, tagger.feature_spec, list(tagger.labels),
                                           total_stride=tagger.total_stride, run_dir=self.s.shared or self.s.out,
                                           progress=self.s.progress)
        return self._splits[key]

    # -- evaluation (cached per run directory in eval.json)
    def evaluate(self, row: Row, cfg, split: str) -> dict[str, float]:
        """Scores of ``row`` on ``split`` under the settings' protocol, cached in the run's ``eval.json``."""
        run = Path(cfg.out)
        cache_path = run / "eval.json"
        cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
        proto = self.s.protocol()
        key = f"{split}/{row.evaluation}" + (f" {json.dumps(proto, sort_keys=True)}" if proto else "")
        if key in cache:
            return cache[key]
        if row.evaluation == "baseline":  # the all-positive baseline comes with the model's own evaluation
            res = _baseline(self.evaluate(Row(row.label, row.overrides, "model"), cfg, split))
        else:
            res = self._evaluate(row.evaluation, self.model(cfg), cfg, split)
        res = {k: float(v) for k, v in res.items() if isinstance(v, (int, float, np.floating))}
        cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
        cache[key] = res
        atomic_write_text(cache_path, json.dumps(cache, indent=1))
        return res

    def _thresholds(self, tagger, cfg, how: str) -> np.ndarray:
        """The thresholds an evaluation uses: the run's own, or refitted (Settings.thresholds /
        source_thresholds), then floored at Settings.threshold_floor."""
        thr = np.asarray(tagger.thresholds, dtype=np.float64)
        if cfg.data != self.s.data:  # trained on another set (the scarce one): keep its own held-in thresholds
            pass
        elif how == "source" and self.s.source_thresholds == "clips":
            thr = fit_model_thresholds(tagger.net, tagger.standardizer, self.split(cfg.val_split, tagger), cfg,
                                       torch.device("cpu"), source="clips")
        elif how != "source" and self.s.thresholds == "frame":
            thr = fit_model_thresholds(tagger.net, tagger.standardizer, self.split(cfg.val_split, tagger), cfg,
                                       torch.device("cpu"), source="frame")
        return np.maximum(np.asarray(thr, dtype=np.float64), self.s.threshold_floor)

    def _evaluate(self, how: str, tagger, cfg, split: str) -> dict[str, float]:
        if how == "sigma":
            return sigma_summary(tagger)
        data = self.split(split, tagger)
        labels = list(tagger.labels)
        kw: dict = dict(spec=tagger.feature_spec, events=self.s.events)
        if self.s.frame_labels == "thesis9":
            kw["subsets"] = {"thesis9": thesis9_labels(labels)}
        if how.startswith("thresholds:"):
            # "target" is already the held-out half of the target-domain split: fit on the other half
            fit, held = _halves(self.split("shift", tagger) if split == "target" else data)
            if how == "thresholds:target":
                thr = fit_model_thresholds(tagger.net, tagger.standardizer, fit, cfg, torch.device("cpu"))
                thr = np.maximum(thr, self.s.threshold_floor)
            else:
                thr = self._thresholds(tagger, cfg, "source")
            res = evaluate_split(tagger.net, tagger.standardizer, held, labels, thr,
                                 resolution=self.s.frame_scoring, **kw)
            res["n_fit_clips"], res["n_eval_clips"] = len(fit), len(held)
            return res
        thr = self._thresholds(tagger, cfg, "model")
        if how == "patching":
            return evaluate_split(tagger.net, tagger.standardizer, data, labels, thr, resolution="frame", **kw)
        res = evaluate_split(tagger.net, tagger.standardizer, data, labels, thr, resolution=self.s.frame_scoring,
                             **kw)
        res.update(_clip_accuracy(tagger, data))
        return res


def sigma_summary(tagger) -> dict[str, float]:
    """Learned sigma per tag (seconds) and its mean over tempo tags and over the other tags (Fig. 3.4);
    empty when the model has no Gaussian."""
    info = describe(tagger)
    out: dict[str, float] = {}
    tempo: list[float] = []
    other: list[float] = []
    for t in info["tags"]:
        if t["sigma_s"] is None:
            return {}
        out[f"sigma_s/{t['tag']}"] = t["sigma_s"]
        (tempo if t["kind"] == "tempo" else other).append(t["sigma_s"])
    out["sigma_tempo_mean"] = float(np.mean(tempo)) if tempo else math.nan
    out["sigma_instrument_mean"] = float(np.mean(other)) if other else math.nan
    return out


def scarce_manifest_dir(s: Settings) -> Path:
    """Where the scarce frame-supervised training set of Table 3.6 lives (made by :func:`make_scarce_manifest`)."""
    tail = "" if s.shift_split == "shift" else f"-{s.shift_split}"
    return Path(s.shared or s.out) / f"scarce-{s.scarce_clips}{tail}"


def make_scarce_manifest(s: Settings, manifest) -> Path:
    """The thesis' frame-supervised baseline data (Table 3.6: a frame model trained on about 40 target-domain
    songs with frame truth): the first half of ``shift`` (every other clip by id, the half the target-domain
    thresholds of Table 3.2 are fitted on) gives ``train`` (exactly ``s.scarce_clips`` clips) and
    ``validation`` (up to a quarter as many more, at least 1); ``test`` is the other half (the ``target``
    split every row is scored on). A fitting half too small for that is a :class:`DatasetError`."""
    dest = scarce_manifest_dir(s)
    if (dest / "metadata.json").is_file():
        return dest
    shift = sorted(manifest.split(s.shift_split), key=lambda c: c.clip_id)
    if not shift or any(c.events is None for c in shift):
        raise DatasetError(f"{manifest.root}: the scarce frame-supervised baseline needs a '{s.shift_split}' split "
                           "with frame truth (choose the target-domain split with --shift-split)")
    fit, held = shift[0::2], shift[1::2]
    if len(fit) < s.scarce_clips + 1:  # the stated size or nothing: a smaller set is another experiment
        raise DatasetError(f"{manifest.root}: the scarce frame-supervised set needs {s.scarce_clips} training "
                           f"clips + 1 validation clip from the fitting half of '{s.shift_split}', which has "
                           f"{len(fit)} (give a larger target-domain split or a smaller --scarce-clips)")
    n_train = s.scarce_clips
    n_val = max(1, min(s.scarce_clips // 4, len(fit) - n_train))
    clips = ([replace(c, split="train") for c in fit[:n_train]]
             + [replace(c, split="validation") for c in fit[n_train:n_train + n_val]]
             + [replace(c, split="test") for c in held])
    write_manifest_abs(dest, name=f"{manifest.name}-scarce{s.scarce_clips}", labels=manifest.labels,
                       kinds=manifest.kinds, clips=clips,
                       source={"derived_from": str(Path(manifest.root).resolve()), "rule": "shift halves"})
    return dest


def _baseline(res: dict[str, float]) -> dict[str, float]:
    """The all-positive baseline's scores (recall 1, so micro precision = F1 / (2 - F1))."""
    mi, ma = res.get("baseline_micro_f1", math.nan), res.get("baseline_macro_f1", math.nan)
    return {"frame_micro_f1": mi, "frame_macro_f1": ma, "frame_micro_recall": 1.0, "frame_macro_recall": 1.0,
            "frame_micro_precision": mi / (2.0 - mi), "frame_auc": 0.5}


def _halves(data):
    """Split a loaded split in two halves by clip id (every other clip): (fit, held out)."""
    order = sorted(range(len(data)), key=lambda i: data.clip_ids[i])
    return data.subset(order[0::2]), data.subset(order[1::2])


def _clip_accuracy(tagger, data) -> dict[str, float]:
    """Single-label accuracy (thesis §3.5: UrbanSound8K), over clips with exactly one tag."""
    one = np.flatnonzero(data.clip_labels.sum(axis=1) == 1)
    if len(data) == 0 or len(one) < 0.9 * len(data):
        return {}
    scores, _ = split_outputs(tagger.net, tagger.standardizer, data)
    hit = scores[one].argmax(axis=1) == data.clip_labels[one].argmax(axis=1)
    return {"clip_accuracy": float(hit.mean())}


def run_recipe(recipe: Recipe, runner: Runner) -> tuple[Path, Path]:
    """Train/evaluate every row (rewriting the table after each) and return (csv, md) paths."""
    run_rows(recipe, runner)
    stem = runner.s.out / f"table_{recipe.name.replace('.', '_')}"
    return stem.with_suffix(".csv"), stem.with_suffix(".md")


def recipe_splits(recipe: Recipe, runner: Runner) -> list[str]:
    """The splits of ``recipe`` the runner's dataset has (``shift``/``target`` when its target-domain split
    is there); :class:`~clip2frame.errors.DatasetError` when none is."""
    have = set(runner.manifest.splits) - {"shift"}
    if runner.s.shift_split in runner.manifest.splits:  # "shift" and its halves name the target-domain split
        have |= {"shift", "target"}
    splits = [sp for sp in recipe.splits if sp in have]
    if not splits:
        raise DatasetError(f"{runner.s.data}: none of the splits {list(recipe.splits)} needed by Table {recipe.name}")
    return splits


def run_rows(recipe: Recipe, runner: Runner) -> list[dict | None]:
    """Train/evaluate every selected row, rewriting the table after each; per row ``None`` (not selected,
    not trained) or ``{"run", "seed", "best_epoch", "epochs_run", "overrides", "scores": {split: {...}}}``."""
    s = runner.s
    splits = recipe_splits(recipe, runner)
    columns = {k for k, _ in recipe.rows[0].label}
    bad = [k for k, _ in s.where if k not in columns]
    if bad:
        raise ConfigError(f"--where '{bad[0]}': Table {recipe.name} has no such column "
                          f"(columns: {', '.join(sorted(columns))})")
    results: list[dict | None] = [None] * len(recipe.rows)
    for i, row in enumerate(recipe.rows):
        if row.data == "scarce":
            make_scarce_manifest(s, runner.manifest)
        cfg, ov = row_config(row, s)
        if not s.selects(row) and not (Path(cfg.out) / "model.safetensors").is_file():
            log.info("Table %s: row %s not selected by --where and not trained yet", recipe.name, dict(row.label))
            continue
        runner.model(cfg)
        res = {sp: runner.evaluate(row, cfg, sp) for sp in splits}
        training = training_record(Path(cfg.out))
        results[i] = {"run": Path(cfg.out).name, "seed": cfg.seed, **training, "overrides": " ".join(ov[1:]),
                      "scores": res}
        write_table(recipe, results, splits, s.out)
    if not any(results):
        write_table(recipe, results, splits, s.out)
    return results


TRAINING_KEYS = ("best_epoch", "epochs_run", "stopped_by", "stop_epoch", "epochs_cap", "patience",
                 "best_in_last_10pct")


def training_record(run: Path) -> dict:
    """How a run trained (its ``summary.json``: best and stopping epoch, cap, patience), also kept in its
    ``eval.json`` under ``"training"`` so the small per-run files carry it; missing keys are None."""
    summary = run / "summary.json"
    info = json.loads(summary.read_text()) if summary.is_file() else {}
    rec = {k: info.get(k) for k in TRAINING_KEYS}
    cache_path = run / "eval.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    if info and cache.get("training") != rec:
        cache["training"] = rec
        atomic_write_text(cache_path, json.dumps(cache, indent=1))
    return rec
