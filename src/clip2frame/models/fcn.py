"""The clip-to-frame fully-convolutional network (thesis Fig. 3.2, Table 4.1).

Read top to bottom, it is the thesis' table::

    per scale s:  log-mel [B, M, T] -> early conv stack -> [B, C, T']       (T' = ceil(T / total_stride))
    concat scales                                        -> [B, S*C, T']
    late 1x1 convs (dropout, ReLU) ... -> 1x1 conv K, sigmoid -> frame_raw [B, K, T']
    accumulation (Gaussian per tag, or identity)          -> frame     [B, K, T']
    clip pooling (mean or max over valid frames)          -> clip      [B, K]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import AudioModelConfig
from .layers import EarlyConvStack, GaussianAccumulation


@dataclass
class ModelOutput:
    """Output of :class:`Clip2FrameNet`: ``frame_raw`` [B, K, T'] before accumulation, ``frame`` [B, K, T'] after
    it, ``clip`` [B, K]; all probabilities."""
    frame_raw: torch.Tensor  # [B, K, T'] before accumulation
    frame: torch.Tensor      # [B, K, T'] after accumulation (== frame_raw without accumulation)
    clip: torch.Tensor       # [B, K]


def _late_block(in_ch: int, out_ch: int, *, dropout: float, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Dropout(dropout), nn.Conv1d(in_ch, out_ch, 1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(out_ch))
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Clip2FrameNet(nn.Module):
    """The fully convolutional tagger: log-mel [B, S, M, T] -> frame activations [B, K, T'] (``T' = ceil(T /
    total_stride)``) and clip scores [B, K]."""
    def __init__(self, cfg: AudioModelConfig, n_labels: int):
        super().__init__()
        cfg.validate(n_labels)
        self.cfg = cfg
        self.n_labels = n_labels
        stacks = [EarlyConvStack(cfg.in_bands, cfg.early, batch_norm=cfg.batch_norm) for _ in range(cfg.n_scales)]
        self.scales = nn.ModuleList(stacks)
        ch = sum(s.out_channels for s in stacks)
        late: list[nn.Module] = []
        for size in cfg.late:
            late.append(_late_block(ch, size, dropout=cfg.dropout, batch_norm=cfg.batch_norm))
            ch = size
        late += [nn.Dropout(cfg.dropout), nn.Conv1d(ch, n_labels, 1)]
        self.late = nn.Sequential(*late)
        self.accumulation: nn.Module
        if cfg.accumulation == "none":
            self.accumulation = nn.Identity()
        else:
            self.accumulation = GaussianAccumulation(
                n_labels, sigma_init=cfg.sigma_init, kernel_frames=cfg.kernel_frames,
                learned=cfg.accumulation == "learned", renormalize=cfg.renormalize_kernel,
            )

    @property
    def total_stride(self) -> int:
        """Input frames per output frame (the product of the early pool sizes)."""
        return self.cfg.total_stride

    def sigma(self) -> torch.Tensor | None:
        """Per-tag sigma of the accumulation layer in output frames [K], or None without one."""
        if isinstance(self.accumulation, GaussianAccumulation):
            return self.accumulation.sigma.detach()
        return None

    def forward_pre_accumulation(self, feats: torch.Tensor) -> torch.Tensor:
        """feats [B, S, M, T] -> frame probabilities before accumulation [B, K, T']."""
        if feats.dim() != 4 or feats.shape[1] != self.cfg.n_scales or feats.shape[2] != self.cfg.in_bands:
            raise ValueError(
                f"expected features [B, {self.cfg.n_scales}, {self.cfg.in_bands}, T], got {tuple(feats.shape)}"
            )
        per_scale = [stack(feats[:, s]) for s, stack in enumerate(self.scales)]  # S x [B, C, T']
        h = torch.cat(per_scale, dim=1)  # [B, S*C, T']
        return torch.sigmoid(self.late(h))  # [B, K, T']

    def forward_features(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame-level output: (frame_raw, frame), each [B, K, T']."""
        raw = self.forward_pre_accumulation(feats)
        return raw, self.accumulation(raw)

    def forward_head(self, frame: torch.Tensor, n_valid: torch.Tensor | None = None) -> torch.Tensor:
        """Clip pooling over time: frame [B, K, T'] -> clip [B, K]. ``n_valid`` [B] masks padded frames."""
        if n_valid is None:
            return frame.mean(-1) if self.cfg.pooling == "mean" else frame.amax(-1)
        t = torch.arange(frame.shape[-1], device=frame.device)
        mask = (t[None, :] < n_valid[:, None]).to(frame.dtype)[:, None, :]  # [B, 1, T']
        if self.cfg.pooling == "mean":
            return (frame * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
        return (frame * mask + (mask - 1.0)).amax(-1)  # padded frames pushed to <= -1

    def forward(self, feats: torch.Tensor, n_valid: torch.Tensor | None = None) -> ModelOutput:
        """``feats`` [B, S, M, T] (``n_valid`` [B]: frames of each clip before padding) -> :class:`ModelOutput`."""
        raw, frame = self.forward_features(feats)
        return ModelOutput(frame_raw=raw, frame=frame, clip=self.forward_head(frame, n_valid))
