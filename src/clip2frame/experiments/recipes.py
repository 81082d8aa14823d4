"""Recipes regenerating the thesis' chapter-3 tables (``clip2frame experiment NAME``).

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
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.manifest import EVENTS_HEADER, WEAK_HEADER
from ..fileio import atomic_write_text

log = logging.getLogger(__name__)

# Thesis metric names (column headers of its tables) -> keys of clip2frame.eval.protocol.evaluate_split.
PRF = (("Precision Micro", "frame_micro_precision"), ("Precision Macro", "frame_macro_precision"),
       ("Recall Micro", "frame_micro_recall"), ("Recall Macro", "frame_macro_recall"),
       ("F1 Micro", "frame_micro_f1"), ("F1 Macro", "frame_macro_f1"))
F1_AUC = (("F1 Micro", "frame_micro_f1"), ("F1 Macro", "frame_macro_f1"),
          ("Average AUC Per-class", "clip_auc_tag"), ("Average AUC Per-clip", "clip_auc_clip"))
CLIP = (("Average AUC Per-class", "clip_auc_tag"), ("Average AUC Per-clip", "clip_auc_clip"),
        ("MAP Per-class", "clip_ap_tag"), ("MAP Per-clip", "clip_ap_clip"))
US_CLIP = (("Clip accuracy", "clip_accuracy"), ("Frame AUC", "frame_auc"))


@dataclass(frozen=True)
class Row:
    """One row of a table: what it shows, how it is trained, how it is evaluated, what the thesis got."""

    label: tuple[tuple[str, str], ...]          # (column, value) pairs naming the row, thesis wording
    overrides: tuple[str, ...] = ()             # TrainConfig --set overrides on top of the base
    # model | patching | baseline | thresholds:validation | thresholds:target | sigma (learned sigma per tag)
    evaluation: str = "model"
    thesis: dict[str, float] = field(default_factory=dict)  # thesis metric name -> value
    early_layers: int = 0                       # > 0: repeat the base preset's first early layer n times
    data: str = ""                              # "" = the experiment's dataset; "scarce" = the scarce
    #                                             target-domain frame-truth set (make_scarce_manifest)


@dataclass(frozen=True)
class Recipe:
    name: str                   # "3.3"
    title: str
    metrics: tuple[tuple[str, str], ...]
    rows: tuple[Row, ...]
    note: str = ""
    needs: str = "music"        # music | urbansound
    splits: tuple[str, ...] = ("test", "shift")


def _L(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple((k.replace("_", " "), v) for k, v in kw.items())


def _thesis(names: tuple[tuple[str, str], ...], values: tuple[float, ...]) -> dict[str, float]:
    return {n: v for (n, _), v in zip(names, values)}


_POOL = {"Max": "model.pooling=max", "Mean": "model.pooling=mean"}
_ACC = {"None": "model.accumulation=none", "Fixed": "model.accumulation=fixed",
        "Adaptive": "model.accumulation=learned"}

# ---- thesis figures (copied from the thesis text, Tables 3.1-3.8) -----------------------------------------
T31A = {"Upscaling": (0.561, 0.539, 0.846, 0.791, 0.675, 0.633),
        "Patching": (0.560, 0.538, 0.847, 0.793, 0.674, 0.633),
        "Baseline": (0.350, 0.350, 1.000, 1.000, 0.519, 0.495)}
T31B = {"50": (0.896, 0.932, 0.406, 0.680), "188 (All)": (0.880, 0.952, 0.183, 0.592)}
T32 = {("Max", 2, "MedleyDB"): (0.530, 0.523, 0.830, 0.806, 0.647, 0.617),
       ("Max", 2, "MagnaTagATune"): (0.554, 0.506, 0.150, 0.215, 0.236, 0.241),
       ("Max", 3, "MedleyDB"): (0.462, 0.447, 0.916, 0.883, 0.614, 0.578),
       ("Max", 3, "MagnaTagATune"): (0.546, 0.566, 0.182, 0.245, 0.273, 0.261),
       ("Mean", 2, "MedleyDB"): (0.561, 0.539, 0.846, 0.791, 0.675, 0.633),
       ("Mean", 2, "MagnaTagATune"): (0.606, 0.489, 0.221, 0.273, 0.324, 0.300),
       ("Mean", 3, "MedleyDB"): (0.498, 0.474, 0.888, 0.844, 0.638, 0.594),
       ("Mean", 3, "MagnaTagATune"): (0.530, 0.540, 0.183, 0.244, 0.273, 0.258)}
T33 = {("Max", 2, "None"): (0.401, 0.313, 0.878, 0.922), ("Max", 2, "Fixed"): (0.654, 0.606, 0.891, 0.928),
       ("Max", 2, "Adaptive"): (0.647, 0.617, 0.891, 0.931), ("Max", 3, "None"): (0.601, 0.525, 0.885, 0.925),
       ("Max", 3, "Fixed"): (0.648, 0.621, 0.886, 0.926), ("Max", 3, "Adaptive"): (0.614, 0.578, 0.894, 0.930),
       ("Mean", 2, "None"): (0.557, 0.509, 0.893, 0.931), ("Mean", 2, "Fixed"): (0.595, 0.558, 0.894, 0.932),
       ("Mean", 2, "Adaptive"): (0.675, 0.633, 0.893, 0.931), ("Mean", 3, "None"): (0.591, 0.533, 0.896, 0.930),
       ("Mean", 3, "Fixed"): (0.651, 0.606, 0.894, 0.931), ("Mean", 3, "Adaptive"): (0.638, 0.594, 0.891, 0.929)}
T34 = {(2, 1): (0.605, 0.585, 0.882, 0.921), (2, 3): (0.628, 0.608, 0.892, 0.930),
       (2, 6): (0.675, 0.633, 0.893, 0.931), (3, 1): (0.628, 0.585, 0.884, 0.922),
       (3, 3): (0.642, 0.606, 0.892, 0.928), (3, 6): (0.638, 0.594, 0.891, 0.929)}
T35 = {("None", "Max", 1): (0.189, 0.141, 0.872, 0.915), ("None", "Max", 2): (0.401, 0.313, 0.878, 0.922),
       ("None", "Max", 3): (0.601, 0.525, 0.885, 0.925), ("None", "Max", 4): (0.601, 0.554, 0.885, 0.923),
       ("None", "Mean", 1): (0.488, 0.463, 0.886, 0.926), ("None", "Mean", 2): (0.557, 0.509, 0.893, 0.931),
       ("None", "Mean", 3): (0.591, 0.533, 0.896, 0.930), ("None", "Mean", 4): (0.614, 0.562, 0.889, 0.926),
       ("Adaptive", "Max", 1): (0.658, 0.637, 0.887, 0.926), ("Adaptive", "Max", 2): (0.647, 0.617, 0.891, 0.931),
       ("Adaptive", "Max", 3): (0.614, 0.578, 0.894, 0.930), ("Adaptive", "Max", 4): (0.601, 0.541, 0.889, 0.926),
       ("Adaptive", "Mean", 1): (0.650, 0.628, 0.885, 0.925), ("Adaptive", "Mean", 2): (0.675, 0.633, 0.893, 0.931),
       ("Adaptive", "Mean", 3): (0.638, 0.594, 0.891, 0.929), ("Adaptive", "Mean", 4): (0.600, 0.540, 0.891, 0.926)}
T36 = {"128": (0.572, 0.481, 0.627, 0.549, 0.598, 0.471), "512": (0.565, 0.485, 0.632, 0.548, 0.597, 0.469),
       "128, 128": (0.571, 0.480, 0.617, 0.540, 0.593, 0.468),
       "512, 512": (0.560, 0.478, 0.634, 0.555, 0.595, 0.471)}
T37_TOTAL = {"Frame AUC": 0.738, "Clip accuracy": 0.594}   # US frame AUC, US8K accuracy (all three on)
T37_CLASSES = {  # class: (sigma, US frame AUC, US8K accuracy)
    "air_conditioner": (2.93, 0.612, 0.767), "car_horn": (1.32, 0.807, 0.690),
    "children_playing": (1.08, 0.594, 0.418), "dog_bark": (0.96, 0.790, 0.795),
    "drilling": (2.05, 0.764, 0.523), "engine_idling": (2.97, 0.688, 0.518), "gun_shot": (1.13, 0.921, 0.944),
    "jackhammer": (1.93, 0.704, 0.398), "siren": (2.09, 0.763, 0.590), "street_music": (1.51, 0.737, 0.613)}
T38 = {"Basic": 0.2593, "w/ Multiple scales": 0.3751, "w/ Data augmentation": 0.3978, "w/ Gaussian filter": 0.5173}


def _grid_31() -> Recipe:
    rows = [Row(_L(Up_sampling=k, Top_N_tags="all"), (), {"Upscaling": "model", "Patching": "patching",
                                                        "Baseline": "baseline"}[k], _thesis(PRF, v))
            for k, v in T31A.items()]
    return Recipe("3.1", "Best frame-level model (thesis-best): upsampling (upscaling) vs patching, "
                  "all-positive baseline; clip-level scores in the same rows",
                  PRF + CLIP, tuple(rows),
                  note="Thesis 3.1b clip-level (top 50 tags / 188 tags): AUC per-class 0.896 / 0.880, per-clip "
                       "0.932 / 0.952, MAP per-class 0.406 / 0.183, per-clip 0.680 / 0.592. Here: all labels of "
                       "the dataset. Baseline precision is derived from its F1 (recall 1): micro only.")


def _grid_32() -> Recipe:
    rows = []
    for pool in ("Max", "Mean"):
        for early in (2, 3):
            for src, ours in (("MedleyDB", "target"), ("MagnaTagATune", "validation")):
                name = "target domain (part of shift)" if ours == "target" else "source domain (validation)"
                rows.append(Row(_L(Final_pooling=pool, Early_conv=str(early), Threshold_source=name,
                                   Thesis_source=src),
                                (_POOL[pool], "model.accumulation=learned"), f"thresholds:{ours}",
                                _thesis(PRF, T32[(pool, early, src)]), early_layers=early))
    return Recipe("3.2", "Threshold source: fitted on the source domain's validation split vs on the target "
                  "domain (half of the shift split; all rows evaluated on the other half)", PRF, tuple(rows),
                  note="No retraining: the rows of one model differ only in their thresholds. Thesis: MedleyDB "
                       "(target) vs MagnaTagATune (source) thresholds.", splits=("shift",))


def _grid_33() -> Recipe:
    rows = [Row(_L(Final_pooling=pool, Early_conv=str(early), Accum=acc),
                (_POOL[pool], _ACC[acc]), "model", _thesis(F1_AUC, T33[(pool, early, acc)]), early_layers=early)
            for pool in ("Mean", "Max") for early in (2, 3) for acc in ("None", "Fixed", "Adaptive")]
    return Recipe("3.3", "Accumulation layer: none / fixed Gaussian / learned (adaptive) Gaussian", F1_AUC,
                  tuple(rows))


def _grid_34() -> Recipe:
    presets = {1: "thesis-1scale", 3: "thesis-3scale", 6: "thesis-best"}
    rows = [Row(_L(Early_conv=str(early), Num_inputs=str(n)), (f"preset={presets[n]}",), "model",
                _thesis(F1_AUC, T34[(early, n)]), early_layers=early)
            for early in (2, 3) for n in (1, 3, 6)]
    return Recipe("3.4", "Multi-scale inputs: 1 / 3 / 6 scales (presets thesis-1scale, thesis-3scale, "
                  "thesis-best), learned Gaussian", F1_AUC, tuple(rows))


def _grid_35() -> Recipe:
    rows = [Row(_L(Accumulation="Adaptive Gaussian" if acc == "Adaptive" else acc, Final_pooling=pool,
                   Early_conv_layers=str(n), Total_stride=str(4 ** n)),
                (_POOL[pool], _ACC[acc]), "model", _thesis(F1_AUC, T35[(acc, pool, n)]), early_layers=n)
            for acc in ("Adaptive", "None") for pool in ("Mean", "Max") for n in (1, 2, 3)]
    return Recipe("3.5", "Total stride 4 / 16 / 64 (1 / 2 / 3 early layers of pool 4) x mean / max pooling, "
                  "with and without the learned Gaussian", F1_AUC, tuple(rows),
                  note="The thesis also has 4 early layers (stride 256): 0.601/0.554 (none, max), 0.614/0.562 "
                       "(none, mean), 0.601/0.541 (adaptive, max), 0.600/0.540 (adaptive, mean) micro/macro F1.")


def _grid_36() -> Recipe:
    frame = ("supervision=frame", "select_metric=frame_auc", "threshold_source=frame")
    rows = [Row(_L(Training="frame-supervised", Late_layers=late),
                frame + (f"model.late=[{late}]",), "model", _thesis(PRF, T36[late]))
            for late in T36]
    rows.append(Row(_L(Training="weak (clip tags), thesis-best", Late_layers="512, 512"), (), "model",
                    _thesis(PRF, T31A["Upscaling"])))
    return Recipe("3.6", "Frame-supervised training (the oracle: the same network trained on frame truth, "
                  "late layers varied) vs the weakly-supervised model", PRF, tuple(rows),
                  note="Thesis: frame models trained on 80% of MedleyDB validation songs; here on the train "
                       "split's frame truth (the embedded corpus has exact truth), thresholds on validation frames.")


_US = ("preset=thesis-urbansound",)
_US_BASIC = _US + ("features.win_sizes=[1024]", "volume_aug_db=0", "model.accumulation=none")


def _grid_37() -> Recipe:
    rows = [Row(_L(Model="multi-scale + volume augmentation + Gaussian"), _US, "model", dict(T37_TOTAL))]
    return Recipe("3.7", "UrbanSound: the full everyday-sound model (3 scales, +-5 dB volume augmentation, "
                  "learned Gaussian): frame AUC and clip accuracy", US_CLIP, tuple(rows), needs="urbansound",
                  splits=("test",),
                  note="Thesis: frame AUC on UrbanSound 0.738, clip accuracy on UrbanSound8K 59.4% (per class: "
                       + ", ".join(f"{k} sigma {v[0]} AUC {v[1]} acc {v[2]}" for k, v in T37_CLASSES.items())
                       + "). Here both are measured on the dataset's test split.")


def _grid_38() -> Recipe:
    variants = {"Basic": _US_BASIC,
                "w/ Multiple scales": _US_BASIC + ("features.win_sizes=[1024, 4096, 16384]",),
                "w/ Data augmentation": _US_BASIC + ("volume_aug_db=5",),
                "w/ Gaussian filter": _US_BASIC + ("model.accumulation=learned",)}
    rows = [Row(_L(Model=k), v, "model", {"Clip accuracy": T38[k]}) for k, v in variants.items()]
    return Recipe("3.8", "UrbanSound clip accuracy: basic vs + multi-scale vs + volume augmentation vs "
                  "+ Gaussian", US_CLIP, tuple(rows), needs="urbansound", splits=("test",))


RECIPES: dict[str, Callable[[], Recipe]] = {
    "3.1": _grid_31, "3.2": _grid_32, "3.3": _grid_33, "3.4": _grid_34, "3.5": _grid_35, "3.6": _grid_36,
    "3.7": _grid_37, "3.8": _grid_38,
}

VIDEO_TABLES = {
    "4.6": "sound models for instrument sound detection (AudioSet / YouTube-8M / MagnaTagATune)",
    "4.7": "object models: hit rate with / without pre-training",
    "4.8": "action models (VT / OT / ST / SOT): temporal AUC, spatial pixel distance",
    "4.9": "instrument-wise temporal AUC of the action models",
    "4.10": "instrument-wise spatial distance of the action models",
    "4.11": "ST action models with the AudioSet vs MagnaTagATune sound model",
    "4.12": "fusion after training (temporal)",
    "4.13": "fusion after training (spatial)",
    "4.14": "action models trained with a Faster R-CNN object model",
}
VIDEO_NOTE = ("requires the video pipeline: not a recipe here; 'clip2frame video evaluate' "
              "(clip2frame.video.evaluate.evaluate_corpus) scores Table 4.8-style rows on a video corpus; "
              "findings 8-10 ('clip2frame experiment 8 9 10 --seeds N') decide the claims of Tables 4.8, "
              "4.11-4.13")


def list_recipes() -> list[tuple[str, str]]:
    """(name, one line) for every thesis table: the recipes, then the video tables."""
    out = []
    for name, make in RECIPES.items():
        r = make()
        data = ("--corpus embedded or --data" if r.needs == "music"
                else "--corpus everyday (UrbanSound analogue) or --data ROOT --dataset urbansound")
        out.append((name, f"Table {name}: {r.title} [{len(r.rows)} rows; {data}]"))
    for name, what in VIDEO_TABLES.items():
        out.append((name, f"Table {name}: {what} [{VIDEO_NOTE}]"))
    return out


def get_recipe(name: str) -> Recipe:
    from ..errors import ConfigError

    key = name.removeprefix("table_").removeprefix("table").removeprefix("Table").strip().replace("_", ".")
    if key in VIDEO_TABLES:
        raise ConfigError(f"experiment '{name}': Table {key} {VIDEO_NOTE}")
    if key not in RECIPES:
        raise ConfigError(f"experiment '{name}': unknown table (known: {', '.join(RECIPES)}; "
                          f"video tables {', '.join(VIDEO_TABLES)} need the video pipeline)")
    return RECIPES[key]()


# ---- running ----------------------------------------------------------------------------------------------
@dataclass
class Settings:
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
    from ..data.readers.medleydb import MTT9_MAP

    names = set(MTT9_MAP) | set(MTT9_MAP.values())
    return [lab for lab in labels if lab in names]


def _early_override(preset_name: str, n: int) -> str:
    from ..models.registry import get_preset

    layer = get_preset(preset_name).model.early[0]
    one = f"{{filters: {layer.filters}, kernel: {layer.kernel}, pool: {layer.pool}}}"
    return "model.early=[" + ", ".join([one] * n) + "]"


def row_config(row: Row, s: Settings):
    """The row's resolved TrainConfig and its run directory (named after the config itself)."""
    from dataclasses import replace

    from ..config import to_dict
    from ..train.config import PLACEMENT_KEYS, resolve_config, settings_dict

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
        from ..data.manifest import load_manifest

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
        from dataclasses import replace

        s = replace(self.s, seed=seed, out=out, shared=self.s.shared or self.s.out)
        return Runner(s, _shared=(self.manifest, self._splits, self._models))

    # -- training
    def model(self, cfg):
        from ..models.io import load_model
        from ..train.trainer import train

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
        from ..config import to_dict
        from ..train.data import load_split

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
        import torch

        from ..train.trainer import fit_model_thresholds

        thr = np.asarray(tagger.thresholds, dtype=np.float64)
        if cfg.data != self.s.data:  # trained on another set (the scarce one): keep its own held-in thresholds
            pass
        elif how == "source" and self.s.source_thresholds == "clips":
            thr = fit_clip_thresholds(tagger, self.split(cfg.val_split, tagger), cfg.threshold_steps)
        elif how != "source" and self.s.thresholds == "frame":
            from dataclasses import replace

            thr = fit_model_thresholds(tagger.net, tagger.standardizer, self.split(cfg.val_split, tagger),
                                       replace(cfg, threshold_source="frame"), torch.device("cpu"))
        return np.maximum(np.asarray(thr, dtype=np.float64), self.s.threshold_floor)

    def _evaluate(self, how: str, tagger, cfg, split: str) -> dict[str, float]:
        from ..eval.protocol import evaluate_split

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
                import torch

                from ..train.trainer import fit_model_thresholds

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


def fit_clip_thresholds(tagger, data, n_steps: int = 1000) -> np.ndarray:
    """The thesis' source-domain thresholds (Table 3.2, MagnaTagATune rows): per-tag F1-optimal thresholds
    of whole clips' pooled scores against their clip tags."""
    import warnings

    from ..eval.protocol import split_outputs
    from ..eval.thresholds import fit_thresholds

    scores, _ = split_outputs(tagger.net, tagger.standardizer, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_thresholds(data.clip_labels > 0, scores, n_steps=n_steps)


def sigma_summary(tagger) -> dict[str, float]:
    """Learned sigma per tag (seconds) and its mean over tempo tags and over the other tags (Fig. 3.4);
    empty when the model has no Gaussian."""
    from ..models.inspect import describe

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
    from dataclasses import replace

    from ..errors import DatasetError

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
    from ..eval.protocol import split_outputs

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
    have = set(runner.manifest.splits) - {"shift"}
    if runner.s.shift_split in runner.manifest.splits:  # "shift" and its halves name the target-domain split
        have |= {"shift", "target"}
    splits = [sp for sp in recipe.splits if sp in have]
    if not splits:
        from ..errors import DatasetError

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
        from ..errors import ConfigError

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


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def write_table(recipe: Recipe, results: list[dict | None], splits: list[str], out: Path) -> None:
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


# ---- datasets ----------------------------------------------------------------------------------------------
def prepare_embedded(out: Path, *, hours: float, seed: int, jobs: int = 1, progress: bool = False) -> Path:
    """Render (or resume, or reuse) the embedded corpus shared by all recipes: ``<out>/corpus``."""
    from ..data.synth import render_music_corpus

    root = out / "corpus"
    meta = root / "metadata.json"
    if meta.is_file() and json.loads(meta.read_text()).get("complete", True):
        return root
    render_music_corpus(root, hours=hours, seed=seed, jobs=jobs, progress=progress)
    return root


def prepare_everyday(out: Path, *, hours: float, seed: int, jobs: int = 1, progress: bool = False) -> Path:
    """Render (or resume, or reuse) the embedded everyday-sound corpus (the UrbanSound analogue, 44.1 kHz)
    for Tables 3.7/3.8: ``<out>/corpus-everyday``."""
    from ..data.synth.everyday import render_everyday_corpus

    root = out / "corpus-everyday"
    meta = root / "metadata.json"
    if meta.is_file() and json.loads(meta.read_text()).get("complete", True):
        return root
    render_everyday_corpus(root, hours=hours, seed=seed, jobs=jobs, progress=progress)
    return root


def prepare_dataset(name: str, root: str, out: Path, *, options: dict | None = None, seed: int = 0) -> Path:
    """Read a real dataset through ``READERS[name]`` and write it as a manifest directory under
    ``<out>/data/<name>`` (absolute audio paths), adding ``validation`` / ``test`` splits carved from
    ``train`` (every 10th / every 5th clip per label) when the reader does not provide them."""
    from ..data.manifest import ClipRecord
    from ..data.readers import get_reader

    m = get_reader(name)(root, **(options or {}))
    clips = list(m.clips)
    if "train" in m.splits and ("validation" not in m.splits or "test" not in m.splits):
        per_label: dict[str, int] = {}
        new = []
        for c in clips:
            if c.split == "train":
                k = per_label.get(c.tags[0] if c.tags else "", 0)
                per_label[c.tags[0] if c.tags else ""] = k + 1
                if "test" not in m.splits and k % 5 == 4:
                    c = ClipRecord(c.clip_id, c.audio_path, c.tags, "test", c.events, c.duration)
                elif "validation" not in m.splits and k % 10 == 3:
                    c = ClipRecord(c.clip_id, c.audio_path, c.tags, "validation", c.events, c.duration)
            new.append(c)
        clips = new
    return write_manifest_abs(out / "data" / name, name=m.name, labels=m.labels, kinds=m.kinds, clips=clips,
                              source={"reader": name, "root": str(Path(root).resolve())})


def write_manifest_abs(dest: Path, *, name: str, labels, kinds, clips, source: dict) -> Path:
    """A manifest directory at ``dest`` whose TSVs name the clips' audio by absolute path (the audio stays
    where it is), with ``source`` recorded in metadata.json."""
    dest.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list] = {}
    for c in clips:
        splits.setdefault(c.split, []).append(c)
    for sp, cs in splits.items():
        weak = ["\t".join(WEAK_HEADER)] + [f"{Path(c.audio_path).resolve()}\t{','.join(c.tags)}" for c in cs]
        atomic_write_text(dest / f"{sp}.weak.tsv", "\n".join(weak) + "\n")
        if any(c.events is not None for c in cs):
            strong = ["\t".join(EVENTS_HEADER)] + [
                f"{Path(c.audio_path).resolve()}\t{e.onset:.3f}\t{e.offset:.3f}\t{e.label}"
                for c in cs for e in (c.events or ())]
            atomic_write_text(dest / f"{sp}.strong.tsv", "\n".join(strong) + "\n")
    meta = {"name": name, "labels": list(labels), "kinds": dict(kinds), "splits": list(splits), "source": source,
            "durations": {str(Path(c.audio_path).resolve()): c.duration for c in clips if c.duration}}
    ids = {str(Path(c.audio_path).resolve()): c.clip_id for c in clips if c.clip_id != Path(c.audio_path).stem}
    if ids:
        meta["clip_ids"] = ids
    atomic_write_text(dest / "metadata.json", json.dumps(meta, indent=1))
    return dest
