"""The training configuration: one typed, frozen dataclass, resolved from preset -> YAML -> --set."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Literal

from ..audio.features import FeatureSpec
from ..config import apply_overrides, check_keys, from_dict, load_yaml, to_dict
from ..errors import ConfigError
from ..models.config import AudioModelConfig
from ..models.registry import fit_model_to_features, get_preset
from .augment import AugmentConfig
from .mean_teacher import MeanTeacherConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run uses (the ``train --config`` YAML): data, model, features, optimiser, budget,
    selection, thresholds and the optional training switches.
    """

    data: str = ""                       # manifest directory (clip2frame synth music, or a reader's output)
    out: str = "runs/clip2frame"         # run directory
    preset: str = "thesis-best"
    features: FeatureSpec = field(default_factory=FeatureSpec)
    model: AudioModelConfig = field(default_factory=AudioModelConfig)
    supervision: Literal["clip", "frame"] = "clip"   # "frame" = the frame-supervised oracle (Table 3.6)
    optimizer: Literal["adagrad", "adam"] = "adagrad"
    lr: float = 0.01
    # Learning rate of the Gaussians' log sigma as a multiple of ``lr`` (thesis: 1). With Adagrad a
    # parameter moves by at most ~lr per step, so at 1 log sigma barely leaves its initial value in a
    # few hundred steps; the default model v2 uses 30.
    sigma_lr_mult: float = 1.0
    batch_size: int = 10
    epochs: int = 100
    patience: int = 20                   # early stopping: epochs without a better validation score
    early_stopping: bool = True          # False: a fixed budget of `epochs` epochs (the thesis' protocol)
    checkpoint: Literal["best", "last"] = "best"  # the model kept: best on validation (thesis) or last epoch
    crop_frames: int = 911               # training crops (input frames); 0 = whole clips
    volume_aug_db: float = 0.0           # +-dB copies of every training clip (thesis §3.5: 5)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # random EQ, SpecAugment (train/augment.py)
    seed: int = 0
    device: str = "auto"
    amp: bool = False                    # mixed precision on CUDA (off on CPU): autocast to amp_dtype
    amp_dtype: Literal["bf16", "fp16"] = "bf16"  # fp16 adds a GradScaler (loss scaling)
    num_workers: int = 0                 # processes reading batches (DataLoader) and filling the feature cache
    train_split: str = "train"
    val_split: str = "validation"
    select_metric: Literal["clip_auc", "frame_auc", "loss"] = "clip_auc"
    threshold_source: Literal["clip320", "frame"] = "clip320"
    threshold_steps: int = 1000
    max_clips: int = 0                   # use only the first N training clips (0 = all)
    num_threads: int = 0                 # torch intra-op threads (0 = torch's default)
    # issue #24 switches (train/domains.py, train/mean_teacher.py); their defaults keep the earlier behaviour
    keep_untagged: bool = False          # clip supervision: keep clips with every tag 0 (negatives)
    extra_val: tuple[str, ...] = ()      # more validation sets, "MANIFEST_DIR:SPLIT" each
    select_on: Literal["held-in", "extra", "all"] = "held-in"     # the data select_metric is scored on
    threshold_on: Literal["held-in", "extra", "all"] = "held-in"  # the data thresholds are fitted on
    mean_teacher: MeanTeacherConfig = field(default_factory=MeanTeacherConfig)

    def validate(self) -> "TrainConfig":
        """``self`` when every field is in range; :class:`ConfigError` naming the key otherwise."""
        checks = [
            ("lr", self.lr > 0, f"must be > 0, got {self.lr}"),
            ("sigma_lr_mult", self.sigma_lr_mult > 0, f"must be > 0, got {self.sigma_lr_mult}"),
            ("batch_size", self.batch_size >= 1, f"must be >= 1, got {self.batch_size}"),
            ("epochs", self.epochs >= 1, f"must be >= 1, got {self.epochs}"),
            ("patience", self.patience >= 1, f"must be >= 1, got {self.patience}"),
            ("crop_frames", self.crop_frames >= 0, f"must be >= 0, got {self.crop_frames}"),
            ("volume_aug_db", self.volume_aug_db >= 0, f"must be >= 0, got {self.volume_aug_db}"),
            ("threshold_steps", self.threshold_steps >= 2, f"must be >= 2, got {self.threshold_steps}"),
            ("num_workers", self.num_workers >= 0, f"must be >= 0, got {self.num_workers}"),
        ]
        check_keys(checks)
        if self.crop_frames and self.crop_frames < self.model.total_stride:
            raise ConfigError(f"config key 'crop_frames': {self.crop_frames} frames is shorter than the "
                              f"model's total stride {self.model.total_stride}")
        if self.crop_frames and max(self.features.win_sizes) > self.crop_frames * self.features.hop_length * 4:
            raise ConfigError(f"config key 'features.win_sizes': window {max(self.features.win_sizes)} is far "
                              f"longer than a {self.crop_frames}-frame training clip")
        if (self.select_on != "held-in" or self.threshold_on != "held-in") and not self.extra_val:
            raise ConfigError("config key 'extra_val': select_on/threshold_on "
                              f"'{self.select_on}'/'{self.threshold_on}' need at least one extra validation set")
        self.model.validate()
        self.augment.validate()
        self.mean_teacher.validate()
        return self


def resolve_config(yaml_path: str | None = None, overrides: list[str] | None = None,
                   base: dict[str, Any] | None = None) -> TrainConfig:
    """Preset defaults, then the YAML file, then ``key=value`` overrides; unknown keys are refused."""
    user: dict[str, Any] = dict(base or {})
    if yaml_path:
        user = {**user, **load_yaml(yaml_path)}
    user = apply_overrides(user, list(overrides or []))
    preset = get_preset(str(user.get("preset", TrainConfig.preset)))
    merged: dict[str, Any] = {"preset": preset.name, **preset.train}
    merged["features"] = {**preset.features, **(user.pop("features", None) or {})}
    merged["model"] = {**to_dict(preset.model), **(user.pop("model", None) or {})}
    merged.update(user)
    cfg = from_dict(TrainConfig, merged)
    cfg = replace(cfg, model=fit_model_to_features(cfg.model, n_scales=cfg.features.n_scales,
                                                   n_bands=cfg.features.n_bands))
    return cfg.validate()


# Where and how fast a run trains, not what it learns.
PLACEMENT_KEYS = ("out", "device", "num_threads", "num_workers")


def settings_dict(cfg: TrainConfig, *, drop: Iterable[str] = ()) -> dict[str, Any]:
    """``cfg`` as the dict that identifies a run (its resume hash, an experiment's run name), less ``drop``.

    Keys added after runs were named are left out while they hold their "off" value, so such runs keep
    their names and resumable states: ``sigma_lr_mult`` at 1, ``augment`` when off, and the issue-#24
    switches (``keep_untagged``, ``extra_val``, ``select_on``, ``threshold_on``, ``mean_teacher``) when off.
    """
    d = to_dict(cfg)
    if d.get("sigma_lr_mult") == 1.0:
        d.pop("sigma_lr_mult")
    if not cfg.augment.enabled:
        d.pop("augment")
    for k, off in (("keep_untagged", False), ("extra_val", []), ("select_on", "held-in"),
                   ("threshold_on", "held-in")):
        if d.get(k) == off:
            d.pop(k)
    if not cfg.mean_teacher.enabled:
        d.pop("mean_teacher")
    for k in drop:
        d.pop(k, None)
    return d
