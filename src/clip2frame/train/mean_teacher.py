"""Mean-teacher adaptation on unlabelled audio (config ``mean_teacher``; off by default).

As in the DCASE Task 4 baseline (Tarvainen & Valpola 2017; Turpault et al. 2019): a *teacher* network is
an exponential moving average of the student's weights, updated after every optimiser step,

    θ_teacher ← α · θ_teacher + (1 − α) · θ_student        (α = ``ema_decay``; buffers copied),

and the student is trained on its supervised loss plus ``w(epoch) · consistency``, where *consistency* is
the mean squared difference between the student's and the teacher's sigmoid outputs (clip and frame
outputs, averaged) on a batch of unlabelled crops, the teacher's under ``no_grad``. Both networks run with
dropout on, so the two outputs see different noise. ``w`` ramps up as ``weight · exp(−5 (1 − t)²)``,
``t = min(1, epoch / rampup_epochs)`` (Laine & Aila's sigmoid ramp-up; the DCASE baseline's schedule).

The unlabelled data is any manifest split (its tags, if any, are ignored): e.g. real recorded music cut
into clips by :func:`clip2frame.data.unlabelled.build_unlabelled_manifest`. Unlabelled crops are drawn in
an order fixed by ``(seed, epoch)``, so a resumed run trains on the same batches; the teacher's weights
live in the run's ``train_state.pt``. The checkpoint kept is the student's; ``train_loss`` in ``metrics.csv``
includes the weighted consistency term. One process only (no DDP).
"""
from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass

import torch

from ..config import check_keys
from .loader import CropDataset, collate, epoch_plan


@dataclass(frozen=True)
class MeanTeacherConfig:
    """Mean-teacher training on unlabelled clips (``mean_teacher.*`` keys; off when ``data`` is empty)."""

    data: str = ""                # manifest directory of unlabelled clips ("" = mean teacher off)
    split: str = "unlabelled"     # its split
    ema_decay: float = 0.999      # α of the teacher's moving average (DCASE baseline: 0.999)
    weight: float = 2.0           # consistency weight after the ramp-up (DCASE baseline: 2)
    rampup_epochs: int = 5        # epochs of the sigmoid ramp-up (0: full weight from the start)
    batch_size: int = 0           # unlabelled crops per step (0: the labelled batch size)
    max_clips: int = 0            # use only the first N unlabelled clips (0 = all)

    @property
    def enabled(self) -> bool:
        """Whether mean teacher is on (an unlabelled manifest is given)."""
        return bool(self.data)

    def validate(self) -> "MeanTeacherConfig":
        """``self`` when every field is in range; :class:`ConfigError` naming the key otherwise."""
        check_keys([
            ("ema_decay", 0.0 <= self.ema_decay < 1.0, f"must be in [0, 1), got {self.ema_decay}"),
            ("weight", self.weight >= 0, f"must be >= 0, got {self.weight}"),
            ("rampup_epochs", self.rampup_epochs >= 0, f"must be >= 0, got {self.rampup_epochs}"),
            ("batch_size", self.batch_size >= 0, f"must be >= 0, got {self.batch_size}"),
            ("max_clips", self.max_clips >= 0, f"must be >= 0, got {self.max_clips}"),
        ], prefix="mean_teacher.")
        return self


def rampup_weight(epoch: float, *, weight: float, rampup_epochs: int) -> float:
    """``weight · exp(−5 (1 − t)²)`` with ``t = clip(epoch / rampup_epochs, 0, 1)`` (``weight`` at t = 1)."""
    if rampup_epochs <= 0:
        return float(weight)
    t = min(1.0, max(0.0, float(epoch) / rampup_epochs))
    return float(weight * math.exp(-5.0 * (1.0 - t) ** 2))


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, decay: float) -> None:
    """``θ_t ← decay · θ_t + (1 − decay) · θ_s`` for every parameter; buffers are copied from the student."""
    for pt, ps in zip(teacher.parameters(), student.parameters()):
        pt.mul_(decay).add_(ps.detach(), alpha=1.0 - decay)
    for bt, bs in zip(teacher.buffers(), student.buffers()):
        bt.copy_(bs)


def consistency_loss(student_out, teacher_out, n_valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference of clip outputs [B, K] plus that of frame outputs [B, K, T'] (valid frames
    only when ``n_valid`` [B] is given), halved: the two terms weigh the same."""
    clip = torch.mean((student_out.clip.float() - teacher_out.clip.float()) ** 2)
    d = (student_out.frame.float() - teacher_out.frame.float()) ** 2
    if n_valid is None:
        return 0.5 * (clip + d.mean())
    t = torch.arange(d.shape[-1], device=d.device)
    mask = (t[None, :] < n_valid[:, None]).float()[:, None, :].expand_as(d)
    return 0.5 * (clip + (d * mask).sum() / mask.sum().clamp_min(1.0))


class MeanTeacher:
    """The teacher of one run and its unlabelled crops.

    Parameters
    ----------
    cfg : MeanTeacherConfig
    student : torch.nn.Module
        The network being trained; the teacher starts as its copy.
    data : clip2frame.train.data.SplitData
        The unlabelled clips (features [S, M, T_i]).
    std : Standardizer
        The labelled training set's standardisation (the teacher sees what the student sees).
    stride : int
        The model's total stride (crops start on its grid).
    crop_frames, batch_size : int
        Crop length in input frames (0: whole clips) and the labelled batch size.
    """

    def __init__(self, cfg: MeanTeacherConfig, student: torch.nn.Module, data, std, *, stride: int,
                 crop_frames: int, batch_size: int):
        self.cfg = cfg
        self.teacher = copy.deepcopy(student)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.dataset = CropDataset(data, std, stride)
        self.stride, self.crop = stride, crop_frames
        self.batch = cfg.batch_size or batch_size
        self._items: list = []

    def start_epoch(self, seed: int) -> None:
        """The epoch's unlabelled crops: a permutation and crop starts drawn from ``seed``."""
        gen = torch.Generator().manual_seed(int(seed) + 0x5EED)
        plan = epoch_plan(self.dataset.lengths, self.batch, self.crop, self.stride, gen)
        self._items = plan

    def batch_for(self, step: int, device: torch.device):
        """Unlabelled batch ``step`` of the epoch (cycling when the labelled epoch is longer)."""
        items = self._items[step % len(self._items)]
        x, n_valid, _, _ = collate([self.dataset[it] for it in items])
        return x.to(device), n_valid.to(device)

    def loss(self, student: torch.nn.Module, step: int, epoch: int, device: torch.device,
             autocast_dtype=None) -> torch.Tensor:
        """``w(epoch) · consistency`` on unlabelled batch ``step`` (a differentiable scalar)."""
        w = rampup_weight(epoch, weight=self.cfg.weight, rampup_epochs=self.cfg.rampup_epochs)
        x, n_valid = self.batch_for(step, device)
        self.teacher.train(student.training)
        ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None \
            else contextlib.nullcontext()
        with ctx:
            s_out = student(x, n_valid)
            with torch.no_grad():
                t_out = self.teacher(x, n_valid)
        return w * consistency_loss(s_out, t_out, n_valid)

    def update(self, student: torch.nn.Module) -> None:
        """Move the teacher's weights towards ``student``'s (exponential moving average, ``ema_decay``)."""
        ema_update(self.teacher, student, self.cfg.ema_decay)

    def state_dict(self) -> dict:
        """The teacher's weights (CPU copies), for the resume state."""
        return {k: v.detach().cpu().clone() for k, v in self.teacher.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the teacher's weights from :meth:`state_dict`."""
        self.teacher.load_state_dict(state)
