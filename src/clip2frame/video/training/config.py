"""The configuration of a video training run (:func:`clip2frame.video.training.training.train`):
:class:`VideoTrainConfig` (every setting, written to the run's ``config.yaml``), the thesis' defaults per
model kind (:func:`default_config`) and the settings a resumed run may change (:data:`RUNTIME_KEYS`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ...config import from_dict
from ...errors import ConfigError


@dataclass(frozen=True)
class VideoTrainConfig:
    """Everything a video training run depends on (written to ``config.yaml``)."""

    model: Literal["sound", "object", "action"] = "action"
    target: Literal["VT", "OT", "ST", "SOT"] = "VT"
    sound_threshold: float | None = None
    object_threshold: float | None = None
    width: float = 0.125
    batch_norm: bool = False
    conv6_padding: int = 1
    epochs: int = 30
    freeze_epochs: int = 0
    optimizer: Literal["sgd", "adam", "adagrad"] = "sgd"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0
    sub_clip_frames: int = 10
    # "subclip": a mini-batch = one video's random 5-s sub-clip (thesis §4.2.4); "frames": the same number of
    # frames drawn from different videos (more label diversity per step; learns faster on small corpora).
    batch_mode: Literal["subclip", "frames"] = "subclip"
    batches_per_epoch: int = 0     # 0 = one per training video (thesis)
    flip: bool = False             # random horizontal flips (flow: dx negated); not in the thesis
    dropout: float = 0.5
    pos_weight: float = 1.0        # action targets: weight of positive cells/frames in the BCE (thesis: 1)
    batch_clips: int = 10          # sound model: clips per batch
    sound_preset: str = "thesis-sound-ch4"
    # object model: this many rendered instrument stills (video/rendering/stills.py: instruments apart from their players,
    # the stand-in for the thesis' ImageNet pre-training) join the training frames; 0 = video frames only
    stills: int = 0
    seed: int = 0
    threads: int = 2
    max_train_videos: int = 0      # 0 = all
    max_validation_videos: int = 0


#: Settings a run may change when it resumes: the epoch budget, and how many CPU threads it uses (not part of
#: what the run trains).
RUNTIME_KEYS = ("epochs", "threads")


def default_config(model: str, **overrides: Any) -> VideoTrainConfig:
    """Thesis defaults per model kind (sound: Adagrad 0.01; object: two-step 20 + 30 epochs; action: SGD
    momentum 0.9, lr 0.001, 100 epochs), then ``overrides``."""
    base: dict[str, Any] = {"model": model}
    if model == "sound":
        base.update(optimizer="adagrad", lr=0.01, epochs=100)
    elif model == "object":
        base.update(optimizer="sgd", lr=0.001, epochs=50, freeze_epochs=20)
    elif model == "action":
        base.update(optimizer="sgd", lr=0.001, epochs=100)
    else:
        raise ConfigError(f"config key 'model': expected sound, object or action, got '{model}'")
    base.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(VideoTrainConfig, base)
