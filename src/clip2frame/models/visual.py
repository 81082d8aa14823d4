"""Object and action FCNs of thesis Table 4.2 (VGG_CNN_M_2048-like), with a width multiplier.

Layer plan (channels × ``width``)::

    conv1  96  7×7 /2 pad 3  ReLU  LRN(5)  max-pool 2
    conv2 256  5×5 /2 pad 2  ReLU          max-pool 2
    conv3 512  3×3    pad 1  ReLU
    conv4 512  3×3    pad 1  ReLU
    conv5 512  3×3    pad 1  ReLU          max-pool 2
    conv6 2048 3×3    pad p  ReLU  dropout
    conv7 1024 1×1           ReLU  dropout
    conv8 K    1×1           sigmoid         -> heat map [B, K, h, w] at stride 32; clip score = global max

The thesis pads conv6 with 0, which trims one cell on each border so the map no longer sits on the
stride-32 grid; the default here is ``conv6_padding=1`` so a map up-sampled bilinearly to the frame is
aligned with it (set 0 for the thesis layout). Pool layers use ``ceil_mode`` so any input size works.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from ..tags import VIDEO_INSTRUMENTS

STRIDE = 32


@dataclass(frozen=True)
class VisualFCNConfig:
    """Config of the object (``in_channels=3``) or action (``in_channels=10``) model."""

    kind: Literal["object", "action"] = "action"
    in_channels: int = 10
    width: float = 1.0
    conv6_padding: int = 1
    dropout: float = 0.5
    lrn: bool = True
    batch_norm: bool = False  # not in the thesis; helps from-scratch training of narrow nets on CPU

    @staticmethod
    def for_object(width: float = 1.0, **kw) -> "VisualFCNConfig":
        """The object FCN's config (RGB input, 3 channels)."""
        return VisualFCNConfig(kind="object", in_channels=3, width=width, **kw)

    @staticmethod
    def for_action(width: float = 1.0, **kw) -> "VisualFCNConfig":
        """The action FCN's config (5 stacked flow fields, 10 channels)."""
        return VisualFCNConfig(kind="action", in_channels=10, width=width, **kw)


class ChannelLRN(nn.Module):
    """Local response normalisation across channels, ``x / (k + α/n · Σ_window x²)^β``, numerically the
    same as :class:`torch.nn.LocalResponseNorm` but computed with a banded channel matrix, which is
    several times faster on CPU for the few channels of a narrow net."""

    def __init__(self, size: int = 5, alpha: float = 5e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> normalised across channels, same shape."""
        C = x.shape[1]
        idx = torch.arange(C, device=x.device)
        d = idx[None, :] - idx[:, None]  # [C_in, C_out]: input c contributes to output c' when in window
        band = ((d >= -(self.size // 2)) & (d <= (self.size - 1) // 2)).to(x.dtype)
        s = torch.einsum("bchw,cd->bdhw", x * x, band)
        return x / (self.k + self.alpha / self.size * s).pow(self.beta)


class VisualOutput(NamedTuple):
    """``heatmap`` [B, K, h, w] probabilities; ``raw`` the same before the sigmoid; ``clip`` [B, K] global max."""

    raw: torch.Tensor
    heatmap: torch.Tensor
    clip: torch.Tensor


def _c(n: int, width: float) -> int:
    return max(4, int(round(n * width)))


class VisualFCN(nn.Module):
    """The FCN of Table 4.2. ``forward(x [B, C, H, W]) -> VisualOutput``."""

    def __init__(self, cfg: VisualFCNConfig, n_labels: int = len(VIDEO_INSTRUMENTS)):
        super().__init__()
        self.cfg = cfg
        self.n_labels = n_labels
        w = cfg.width

        def block(cin: int, cout: int, k: int, s: int, p: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, p)]
            if cfg.batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            return layers

        c1, c2, c3, c6, c7 = _c(96, w), _c(256, w), _c(512, w), _c(2048, w), _c(1024, w)
        early: list[nn.Module] = block(cfg.in_channels, c1, 7, 2, 3)
        if cfg.lrn:
            early.append(ChannelLRN(5, alpha=5e-4, beta=0.75, k=2.0))
        early.append(nn.MaxPool2d(2, ceil_mode=True))
        early += block(c1, c2, 5, 2, 2) + [nn.MaxPool2d(2, ceil_mode=True)]
        early += block(c2, c3, 3, 1, 1) + block(c3, c3, 3, 1, 1) + block(c3, c3, 3, 1, 1)
        early.append(nn.MaxPool2d(2, ceil_mode=True))
        self.early = nn.Sequential(*early)
        late: list[nn.Module] = block(c3, c6, 3, 1, cfg.conv6_padding) + [nn.Dropout(cfg.dropout)]
        late += block(c6, c7, 1, 1, 0) + [nn.Dropout(cfg.dropout)]
        late.append(nn.Conv2d(c7, n_labels, 1))
        self.late = nn.Sequential(*late)

    @property
    def conv1(self) -> nn.Conv2d:
        """The first convolution (its input channels say RGB or flow)."""
        return self.early[0]  # type: ignore[return-value]

    def early_parameters(self):
        """Parameters of the early (pretrained-in-the-thesis) layers."""
        return self.early.parameters()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> raw heat map (logits) [B, K, h, w]."""
        return self.late(self.early(x))

    @staticmethod
    def forward_head(heatmap: torch.Tensor) -> torch.Tensor:
        """Clip score = global spatial max: [B, K, h, w] -> [B, K]."""
        return heatmap.amax(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> VisualOutput:
        """``x`` [B, C, H, W] -> :class:`VisualOutput` (raw logits and heat map [B, K, h, w], clip scores [B, K])."""
        raw = self.forward_features(x)
        hm = torch.sigmoid(raw)
        return VisualOutput(raw, hm, self.forward_head(hm))


def heatmap_size(height: int, width: int, *, conv6_padding: int = 1) -> tuple[int, int]:
    """Output map size for an input of ``height × width``."""
    def f(n: int) -> int:
        n = (n + 2 * 3 - 7) // 2 + 1
        n = -(-n // 2)
        n = (n + 2 * 2 - 5) // 2 + 1
        n = -(-n // 2)
        n = -(-n // 2)
        return n + 2 * conv6_padding - 2
    return f(height), f(width)


# Per-frame input normalisation (no ImageNet statistics offline: a fixed mid-grey mean for RGB).
RGB_MEAN = 127.5
RGB_SCALE = 1.0 / 64.0
FLOW_SCALE = 1.0 / 4.0


def rgb_to_input(rgb) -> torch.Tensor:
    """uint8 RGB [T, H, W, 3] (numpy or tensor) -> float [T, 3, H, W] (minus mean, scaled)."""
    x = torch.as_tensor(rgb).permute(0, 3, 1, 2).float()
    return (x - RGB_MEAN) * RGB_SCALE


def flow_to_input(flow) -> torch.Tensor:
    """Flow stacks [T, 10, H, W] -> float input [T, 10, H, W] (scaled)."""
    if isinstance(flow, np.ndarray):
        flow = np.asarray(flow, np.float32)  # float16 (maybe a read-only memory map) -> a new float32 array
    return torch.as_tensor(flow).float() * FLOW_SCALE
