"""The registry of the model family: every model kind, and the named presets of the audio networks.

**Kinds** (:data:`KINDS`, the one place that resolves a kind): ``music`` (the clip-to-frame tagger of
ch. 3) and ``sound`` (the same network on a video's audio track) are of the ``audio`` family
(:class:`~clip2frame.models.fcn.Clip2FrameNet`, loaded by :func:`clip2frame.models.io.load_model`);
``object`` and ``action`` (the FCNs of ch. 4) of the ``visual`` family
(:class:`~clip2frame.models.visual.VisualFCN`, :func:`clip2frame.models.io.load_visual_model`). Each kind
names its network, its config type and its packaged model file.

**Presets** (the timm idea: a registry of named configurations): a preset bundles the feature front-end,
the network and training defaults the thesis used for it. ``clip2frame train --set preset=thesis-sound-ch4``
picks one; any field can still be overridden.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal

from torch import nn

from ..config import from_dict
from ..errors import ConfigError
from ..timebase import DEFAULT_WIN_SIZES
from .config import AudioModelConfig, EarlyLayer
from .fcn import Clip2FrameNet
from .visual import VisualFCN, VisualFCNConfig

#: Where the packaged models live (``src/clip2frame/assets``).
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class ModelKind:
    """One kind of model file.

    Attributes
    ----------
    name : str
        The kind as written in a model file's metadata (``music``, ``sound``, ``object``, ``action``).
    family : {"audio", "visual"}
        Which loader takes it: ``audio`` -> ``TaggerModel`` (with a feature front-end), ``visual`` ->
        ``VisualModel``.
    config_type, network_type : type
        The network's config dataclass (read by :meth:`config`) and the network built from it with
        ``network_type(cfg, n_labels)``.
    packaged_file : str
        File name of the packaged model of this kind under :data:`ASSETS_DIR`.
    """

    name: str
    family: Literal["audio", "visual"]
    config_type: type
    network_type: Callable[[Any, int], nn.Module]
    packaged_file: str

    @property
    def default_path(self) -> Path:
        """The packaged model file of this kind (it may not be installed)."""
        return ASSETS_DIR / self.packaged_file

    def config(self, model_config: dict[str, Any]) -> Any:
        """The network config of a model file's ``model_config`` (unknown keys refused: ``ConfigError``)."""
        return from_dict(self.config_type, model_config)


#: Every kind of model file, in the order of the model file's documentation.
KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind("music", "audio", AudioModelConfig, Clip2FrameNet, "default_model.safetensors"),
    ModelKind("sound", "audio", AudioModelConfig, Clip2FrameNet, "video_sound.safetensors"),
    ModelKind("object", "visual", VisualFCNConfig, VisualFCN, "video_object.safetensors"),
    ModelKind("action", "visual", VisualFCNConfig, VisualFCN, "video_action.safetensors"),
)}
MODEL_KINDS: tuple[str, ...] = tuple(KINDS)
AUDIO_KINDS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v.family == "audio")
VISUAL_KINDS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v.family == "visual")
#: The packaged music model (``clip2frame tag``'s default).
DEFAULT_MODEL_PATH = KINDS["music"].default_path


def model_kind(kind: str) -> ModelKind:
    """The registered :class:`ModelKind` of ``kind``; :class:`~clip2frame.errors.ConfigError` for another."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ConfigError(f"model kind {kind!r}: expected one of {', '.join(MODEL_KINDS)}") from None


def default_model_path(kind: str = "music") -> Path:
    """The packaged model of ``kind``: ``default_model.safetensors`` (music) or ``video_<kind>.safetensors``."""
    return model_kind(kind).default_path


@dataclass(frozen=True)
class Preset:
    """A named configuration of the audio network: feature front-end, network config, training defaults."""

    name: str
    description: str
    features: dict[str, Any]
    model: AudioModelConfig
    train: dict[str, Any] = field(default_factory=dict)


_SIX = DEFAULT_WIN_SIZES

PRESETS: dict[str, Preset] = {}


def register(preset: Preset) -> Preset:
    """Add ``preset`` to :data:`PRESETS` (by its name) and return it."""
    PRESETS[preset.name] = preset
    return preset


register(Preset(
    "thesis-best",
    "Thesis §3.3.2 best frame-level model: 6 scales, 2 early layers 32x8 pool 4, late 512-512-K, "
    "learned Gaussian, mean pooling.",
    features={"win_sizes": _SIX},
    model=AudioModelConfig(n_scales=6),
))
register(Preset(
    "thesis-1scale", "Table 3.4: one scale (window 1024), otherwise thesis-best.",
    features={"win_sizes": (1024,)}, model=AudioModelConfig(n_scales=1),
))
register(Preset(
    "thesis-3scale", "Table 3.4: three scales (1024, 4096, 16384), otherwise thesis-best.",
    features={"win_sizes": (1024, 4096, 16384)}, model=AudioModelConfig(n_scales=3),
))
register(Preset(
    "thesis-sound-ch4",
    "Thesis Table 4.1 sound model: 3 scales (512, 2048, 8192), 256 filters x 5 with batch norm, "
    "pool 4 twice, late 512-512-K, no Gaussian (sharper boundaries), mean pooling.",
    features={"win_sizes": (512, 2048, 8192)},
    model=AudioModelConfig(
        n_scales=3, early=(EarlyLayer(256, 5, 4), EarlyLayer(256, 5, 4)), batch_norm=True,
        late=(512, 512), accumulation="none", pooling="mean",
    ),
))
register(Preset(
    "thesis-urbansound",
    "Thesis §3.5 everyday sounds: 44.1 kHz, 128 mel + first derivative, 3 scales (1024, 4096, 16384), "
    "2 early layers 60x5 pool 4, late 128-128-K, Gaussian kernel 32 with sigma init 2, max pooling, "
    "volume augmentation +-5 dB, Adagrad 0.006, batch 1 over clips of varying length.",
    features={"sr": 44100, "win_sizes": (1024, 4096, 16384), "delta": True},
    model=AudioModelConfig(
        n_scales=3, in_bands=256, early=(EarlyLayer(60, 5, 4), EarlyLayer(60, 5, 4)), late=(128, 128),
        accumulation="learned", sigma_init_input_frames=2.0 * 16, kernel_frames=32, pooling="max",
    ),
    train={"lr": 0.006, "batch_size": 1, "epochs": 300, "volume_aug_db": 5.0, "crop_frames": 0},
))
register(Preset(
    "tiny",
    "A small, fast member of the family for tests and quick demos: 2 scales, 32 mel bands, "
    "2 early layers 16x8 pool 4, late 64-K, learned Gaussian.",
    features={"win_sizes": (512, 2048), "n_mels": 32},
    model=AudioModelConfig(
        n_scales=2, in_bands=32, early=(EarlyLayer(16, 8, 4), EarlyLayer(16, 8, 4)), late=(64,),
        dropout=0.2,
    ),
))


#: The preset of the video sound model (thesis Table 4.1). Its total stride is the video time base's
#: (:data:`clip2frame.video.inference.io.OUTPUT_STRIDE`): every video stream is cut on the sound model's frames.
SOUND_PRESET = "thesis-sound-ch4"


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`~clip2frame.errors.ConfigError` naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"config key 'preset': unknown preset '{name}' (known: {', '.join(PRESETS)})") from None


def fit_model_to_features(model: AudioModelConfig, *, n_scales: int, n_bands: int) -> AudioModelConfig:
    """The model's input geometry follows the feature front-end (changing window sizes changes S)."""
    return replace(model, n_scales=n_scales, in_bands=n_bands)
