"""Training batches through a torch ``DataLoader``: an epoch plan drawn from the seed, crops read from disk.

The one data path of every trainer: the audio tagger (:mod:`clip2frame.train.trainer`) and the video
object / action models (:mod:`clip2frame.video.training.training`) both read their batches as
:class:`CropDataset` items ``(clip, start, length)`` of a :class:`~clip2frame.train.data.SplitData` (per-clip
memory maps from :func:`~clip2frame.train.data.cache_clips`, or in-memory arrays), batched by a
:class:`PlanSampler` through :func:`make_loader`, with every epoch's randomness drawn from
:func:`epoch_seed` ``(seed, epoch)``, so a resumed run ends with the same weights as an uninterrupted one.

The randomness of an epoch lives in its *plan*, drawn in the main process from the epoch's generator exactly
as the trainer always drew it: the permutation of the clips first, then, batch by batch and item by item,
one crop start (on the model's stride grid) for every clip longer than the crop. The plan's items
``(clip, start, length)`` go to the ``DataLoader`` as batches (:class:`PlanSampler`); a
:class:`CropDataset` reads just those frames from the clip's memory-mapped feature file, standardises and
zero-pads them. Reading holds no randomness, so the batches are the same with 0 or N worker processes; when
the feature augmentation is on (:mod:`clip2frame.train.augment`) each item carries its own seed in the plan.

Under DDP every rank draws the same plan and its sampler yields only the rank's contiguous share of each
global batch (:meth:`clip2frame.train.distributed.Distributed.shard`): a rank reads only what it trains on,
and the global batch stays ``batch_size`` (a share may be empty; every rank still yields one batch per
global batch, so the collectives stay in step).
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np
import torch

from ..timebase import output_frames
from .augment import CropAugmenter
from .data import SplitData, read_crop

# (clip index, first input frame, crop length L of its batch[, augmentation seed])
Item = tuple[int, ...]


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of everything random in epoch ``epoch`` (0-based) of a run seeded ``seed``: the plan's
    generator, and the global torch RNG (dropout) set from it at the epoch's start."""
    return (seed * 1_000_003 + epoch * 7919) % (2**31 - 1)


class InputTransform(Protocol):
    """What turns a read crop into the model's input: ``apply(x [1, *crop]) -> [1, *input]`` (float32), the
    time axis kept (a fitted :class:`~clip2frame.audio.features.Standardizer` is one)."""

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """One batch's features -> the network's input."""
        ...


def epoch_plan(lengths: Sequence[int] | np.ndarray, batch_size: int, crop: int, stride: int,
               gen: torch.Generator) -> list[list[Item]]:
    """The batches of one epoch: clip order and crops drawn from ``gen`` (``crop`` 0: whole clips, each
    batch as long as its longest clip)."""
    perm = torch.randperm(len(lengths), generator=gen).tolist()
    plan = []
    for a in range(0, len(perm), batch_size):
        idx = perm[a:a + batch_size]
        L = crop or int(max(lengths[i] for i in idx))
        items: list[Item] = []
        for i in idx:
            T = int(lengths[i])
            # Start on the stride grid so the frame truth lines up with the output frames.
            start = int(torch.randint(0, (T - L) // stride + 1, (1,), generator=gen)) * stride if T > L else 0
            items.append((i, start, L))
        plan.append(items)
    return plan


class PlanSampler:
    """A batch sampler yielding the current plan's batches (``plan`` is set before every epoch), or only
    this rank's share of each when ``shard`` (``n -> slice``) is given."""

    def __init__(self, shard: Callable[[int], slice] | None = None):
        self.shard = shard
        self.plan: list[list[Item]] = []

    def __iter__(self):
        for batch in self.plan:
            yield batch[self.shard(len(batch))] if self.shard else batch

    def __len__(self) -> int:
        return len(self.plan)


class CropDataset(torch.utils.data.Dataset):
    """``dataset[(clip, start, L)]`` -> (input crop, its valid output frames, clip labels [K], frame labels
    [K, ceil(L/stride)] or None).

    The crop: frames ``[start, start + L)`` of clip ``clip`` (on ``data.time_axis``) read from its memory map,
    turned into the model's input by ``std`` (:class:`InputTransform`; audio: standardised [S, M, L]; video:
    flow or RGB input [L, C, H, W]) and zero-padded to ``L`` frames after it (audio: at the band mean). With
    an ``augment``, an item's fourth element seeds its augmentation."""

    def __init__(self, data: SplitData, std: InputTransform, stride: int, frame_truth: bool = False,
                 augment: CropAugmenter | None = None):
        self.data, self.std, self.stride = data, std, stride
        self.lengths = data.lengths
        self.time_axis = data.time_axis
        self.frame_truth = frame_truth
        self.augment = augment

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, item: Item):
        i, start, L = item[:3]
        n = min(L, int(self.lengths[i]) - start)
        raw = read_crop(self.data.feats, i, start, n, self.time_axis)
        if self.augment is not None and len(item) > 3:
            xn = self.augment(raw, item[3], lambda f: self.std.apply(torch.from_numpy(f)[None])[0])
        else:
            xn = self.std.apply(torch.from_numpy(raw)[None])[0]
        ax = self.time_axis % xn.dim()
        x = torch.zeros((*xn.shape[:ax], L, *xn.shape[ax + 1:]))
        x.narrow(ax, 0, n).copy_(xn)
        y = torch.from_numpy(self.data.clip_labels[i])
        yf = None
        if self.frame_truth:
            n_out = output_frames(L, self.stride)
            yf = torch.zeros((y.shape[0], n_out))
            truth = self.data.frame_truth
            if truth is None:
                raise ValueError("CropDataset: frame labels asked for a split without frame truth")
            ft = truth[i][start // self.stride:start // self.stride + n_out]
            yf[:, :ft.shape[0]] = torch.from_numpy(ft.T.astype(np.float32))
        return x, output_frames(n, self.stride), y, yf


def collate(items) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(x [B, *input] (audio [B, S, M, L]), valid output frames [B], clip labels [B, K], frame labels [B, K, L'] or None);
    B may be 0 (an idle rank's share of a last, small batch)."""
    if not items:
        return torch.zeros((0,)), torch.zeros((0,), dtype=torch.long), torch.zeros((0, 0)), None
    x, n_valid, y, yf = zip(*items)
    return (torch.stack(x), torch.tensor(n_valid, dtype=torch.long), torch.stack(y),
            None if yf[0] is None else torch.stack(yf))


def make_loader(dataset: CropDataset, sampler: PlanSampler, *, num_workers: int = 0,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """The training ``DataLoader``: ``num_workers`` persistent worker processes (0: read in this process),
    pinned host memory for a CUDA device."""
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                       num_workers=num_workers, pin_memory=pin_memory,
                                       persistent_workers=num_workers > 0,
                                       prefetch_factor=2 if num_workers > 0 else None,
                                       generator=torch.Generator())  # its base seed leaves the global RNG alone


def build_batch(data: SplitData, items: list[Item], std, stride: int, frame_truth: bool = False,
                augment: CropAugmenter | None = None):
    """One batch of ``items`` read in this process (what a loader yields for them)."""
    return collate([CropDataset(data, std, stride, frame_truth, augment)[it] for it in items])
