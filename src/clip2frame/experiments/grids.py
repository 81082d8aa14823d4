"""The thesis' chapter-3 tables as recipes (``clip2frame experiment NAME``): table definitions only.

A recipe is a grid of :class:`~clip2frame.train.config.TrainConfig` overrides (one :class:`Row` each) plus
the thesis' figures for the same rows (copied from the thesis text, Tables 3.1-3.8) and the metrics its table
shows. :mod:`.runner` trains and evaluates the rows, :mod:`.tables` writes the tables, :mod:`.datasets`
prepares the data they run on. The video tables (4.x) are listed but need the video pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import ConfigError

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
    """A thesis table as rows to train and evaluate: its metrics, the dataset it needs and the splits shown."""

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
              "(clip2frame.video.training.evaluate.evaluate_corpus) scores Table 4.8-style rows on a video corpus; "
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
    """The recipe of a table name (``3.1``, ``table_3_1``, ``Table3.1``); :class:`ConfigError` for an
    unknown or a video table."""
    key = name.removeprefix("table_").removeprefix("table").removeprefix("Table").strip().replace("_", ".")
    if key in VIDEO_TABLES:
        raise ConfigError(f"experiment '{name}': Table {key} {VIDEO_NOTE}")
    if key not in RECIPES:
        raise ConfigError(f"experiment '{name}': unknown table (known: {', '.join(RECIPES)}; "
                          f"video tables {', '.join(VIDEO_TABLES)} need the video pipeline)")
    return RECIPES[key]()
