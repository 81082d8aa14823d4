"""Typed configuration of the clip-to-frame network family (thesis ch. 3, Table 4.1).

Every variant the thesis tests is a value here, never a copy of the model:

=====================  =============================================================
scales                 ``n_scales`` (1, 3 or 6 window sizes; set from the FeatureSpec)
early convolutions     ``early`` — one ``EarlyLayer`` per layer (filters, kernel, pool)
batch norm             ``batch_norm`` (ch. 4 sound model)
late 1x1 convolutions  ``late`` sizes + ``dropout``
accumulation layer     ``accumulation``: none / fixed / learned Gaussian
clip pooling           ``pooling``: mean / max
=====================  =============================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError


@dataclass(frozen=True)
class EarlyLayer:
    """One early convolution over time (+ ReLU, + max-pool over time)."""

    filters: int = 32
    kernel: int = 8
    pool: int = 4


@dataclass(frozen=True)
class AudioModelConfig:
    """The audio network's settings (typed, frozen): every thesis variant is a field value."""
    n_scales: int = 6
    in_bands: int = 128
    early: tuple[EarlyLayer, ...] = field(default_factory=lambda: (EarlyLayer(), EarlyLayer()))
    batch_norm: bool = False
    late: tuple[int, ...] = (512, 512)
    dropout: float = 0.5
    accumulation: Literal["none", "fixed", "learned"] = "learned"
    # Thesis: sigma initialised so that total_stride * sigma = 256 input frames.
    sigma_init_input_frames: float = 256.0
    kernel_frames: int = 256
    renormalize_kernel: bool = False
    pooling: Literal["mean", "max"] = "mean"

    @property
    def total_stride(self) -> int:
        """Product of the early layers' pool sizes: input frames per output frame."""
        s = 1
        for layer in self.early:
            s *= layer.pool
        return s

    @property
    def sigma_init(self) -> float:
        """Initial sigma in *output* frames."""
        return self.sigma_init_input_frames / self.total_stride

    def validate(self, n_labels: int | None = None) -> "AudioModelConfig":
        """``self`` when consistent (for ``n_labels`` tags when given); else a :class:`ConfigError` naming the
        ``model.*`` key."""
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"config key 'model.{key}': {why}")

        if n_labels is not None and n_labels < 1:
            raise ConfigError("model: K (number of labels) must be >= 1, got 0")
        if self.n_scales < 1:
            raise bad("n_scales", f"must be >= 1, got {self.n_scales}")
        if self.in_bands < 1:
            raise bad("in_bands", f"must be >= 1, got {self.in_bands}")
        if not 1 <= len(self.early) <= 6:
            raise bad("early", f"needs 1-6 layers, got {len(self.early)}")
        for i, layer in enumerate(self.early):
            for name in ("filters", "kernel", "pool"):
                if getattr(layer, name) < 1:
                    raise bad(f"early[{i}].{name}", f"must be >= 1, got {getattr(layer, name)}")
        if any(n < 1 for n in self.late):
            raise bad("late", f"sizes must be >= 1, got {list(self.late)}")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", f"must be in [0, 1), got {self.dropout}")
        if self.sigma_init_input_frames <= 0:
            raise bad("sigma_init_input_frames", f"sigma must be positive, got {self.sigma_init_input_frames}")
        if self.kernel_frames < 1:
            raise bad("kernel_frames", f"must be >= 1, got {self.kernel_frames}")
        return self
