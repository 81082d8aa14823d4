"""Layers of the clip-to-frame network: early convolution stacks and the accumulation layer."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import EarlyLayer


class TimeConv(nn.Module):
    """Convolution over time with the thesis' "same" padding: k//2 frames before, k-1-k//2 after
    (4 before, 3 after for k = 8), so frame t of the output is centred on input frame t."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, bias: bool = True):
        super().__init__()
        self.pad = (kernel // 2, kernel - 1 - kernel // 2)
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C', T]
        """[B, C, T] -> [B, C', T] (same length, frame t centred)."""
        return self.conv(F.pad(x, self.pad))


class EarlyConvStack(nn.Module):
    """One scale's early layers: conv over time (the first spans all mel bands) + [BN] + ReLU + max-pool.

    Pooling uses ``ceil_mode`` so every input frame belongs to an output frame: T' = ceil(T / stride).
    """

    def __init__(self, in_bands: int, layers: tuple[EarlyLayer, ...], *, batch_norm: bool):
        super().__init__()
        blocks: list[nn.Module] = []
        ch = in_bands
        for layer in layers:
            blocks.append(TimeConv(ch, layer.filters, layer.kernel, bias=not batch_norm))
            if batch_norm:
                blocks.append(nn.BatchNorm1d(layer.filters))
            blocks.append(nn.ReLU())
            if layer.pool > 1:
                blocks.append(nn.MaxPool1d(layer.pool, ceil_mode=True))
            ch = layer.filters
        self.out_channels = ch
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, M, T] -> [B, C, T']
        """One scale's log-mel [B, M, T] -> features [B, C, T'] (T' after the pools)."""
        return self.net(x)


def gaussian_kernel(sigma: torch.Tensor, length: int, *, renormalize: bool = False) -> torch.Tensor:
    """Gaussian pdf sampled at integer offsets centred in a window of ``length`` frames.

    sigma: [K] (output frames) -> kernel [K, length]. The thesis uses the pdf as is (not renormalised):
    for sigma small against the window its taps sum to ~1, and zero padding makes edge frames quieter.
    """
    offsets = torch.arange(length, dtype=sigma.dtype, device=sigma.device) - (length // 2)
    s = sigma[:, None]
    k = torch.exp(-0.5 * (offsets[None, :] / s) ** 2) / (s * math.sqrt(2 * math.pi))
    if renormalize:
        k = k / k.sum(dim=1, keepdim=True)
    return k


class GaussianAccumulation(nn.Module):
    """The accumulation layer: each tag's activation is smoothed over time by its own Gaussian.

    sigma is stored as log sigma (one per tag), learned or fixed; zero padding at the ends.
    """

    def __init__(self, n_labels: int, *, sigma_init: float, kernel_frames: int, learned: bool,
                 renormalize: bool = False):
        super().__init__()
        log_sigma = torch.full((n_labels,), math.log(sigma_init))
        self.log_sigma = nn.Parameter(log_sigma, requires_grad=learned)
        self.kernel_frames = kernel_frames
        self.renormalize = renormalize

    @property
    def sigma(self) -> torch.Tensor:
        """Each tag's Gaussian width [K], in output frames."""
        return self.log_sigma.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, K, T'] -> [B, K, T']
        """Activations [B, K, T'] smoothed over time by each tag's Gaussian -> [B, K, T']."""
        L = self.kernel_frames
        kernel = gaussian_kernel(self.sigma, L, renormalize=self.renormalize)  # [K, L]
        # conv1d correlates: with L//2 frames of left padding, frame t collects x[t + d] * g(d) for
        # d = j - L//2, exactly the offsets of ``gaussian_kernel`` (no flip needed, g is even).
        weight = kernel[:, None, :]  # [K, 1, L]
        x = F.pad(x, (L // 2, L - 1 - L // 2))  # zero padding
        return F.conv1d(x, weight.to(x.dtype), groups=x.shape[1])
