"""Mini-batches of the object and action models (thesis §4.2.4, and the demo's frame batches), as the
trainers' shared data path takes them: :func:`epoch_batches` draws one epoch's (video, frame) batches,
:func:`visual_plan` turns them into :class:`clip2frame.train.loader.CropDataset` items, :func:`flip_batch`
mirrors half a batch, :func:`still_items` adds rendered instrument stills to the object model's videos.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from ...errors import ConfigError
from ...train.loader import Item
from ..rendering.stills import render_stills
from .config import VideoTrainConfig
from .data import VideoItem, visual_frames

log = logging.getLogger(__name__)


def visual_plan(train: list[VideoItem], kind: str, cfg: VideoTrainConfig,
                gen: np.random.Generator) -> list[list[Item]]:
    """One epoch of :func:`epoch_batches` as :class:`~clip2frame.train.loader.CropDataset` items: a sub-clip
    is one item ``(video, first frame, sub_clip_frames)``, a frame batch one item ``(video, frame, 1)`` per
    frame."""
    plan: list[list[Item]] = []
    for batch in epoch_batches(train, kind, cfg, gen):
        if not batch:
            continue
        if cfg.batch_mode == "subclip":
            plan.append([(batch[0][0], batch[0][1], cfg.sub_clip_frames)])
        else:
            plan.append([(vi, t, 1) for vi, t in batch])
    return plan


def still_items(cfg: VideoTrainConfig) -> list[VideoItem]:
    """``cfg.stills`` rendered instrument stills as one-frame training items of the object model (frame
    batches only: a still has no sub-clip), seeded by ``cfg.seed``."""
    if cfg.model != "object":
        raise ConfigError(f"config key 'stills': only the object model trains on stills, not the {cfg.model} model")
    if cfg.batch_mode != "frames":
        raise ConfigError("config key 'stills': needs batch_mode=frames (a still is one frame, not a sub-clip)")
    t0 = time.time()
    stills = render_stills([cfg.seed, 5], cfg.stills)
    log.info("rendered %d instrument stills in %.1f s", cfg.stills, time.time() - t0)
    return [VideoItem(f"still-{i:05d}", f"<instrument still {i} of seed {cfg.seed}>", st.tags, rgb=st.image[None])
            for i, st in enumerate(stills)]


def epoch_batches(train: list[VideoItem], kind: str, cfg: VideoTrainConfig, gen: np.random.Generator):
    """One epoch of mini-batches as lists of (video index, frame index): ``len(train)`` batches of
    ``sub_clip_frames`` frames, either one video's sub-clip each or frames drawn across videos."""
    L = cfg.sub_clip_frames
    n_batches = cfg.batches_per_epoch or len(train)
    lengths = [len(visual_frames(it, kind)) for it in train]
    if cfg.batch_mode == "subclip":
        order = np.concatenate([gen.permutation(len(train)) for _ in range(-(-n_batches // len(train)))])
        for vi in order[:n_batches]:
            s0 = int(gen.integers(0, max(1, lengths[vi] - L + 1)))
            yield [(int(vi), t) for t in range(s0, min(lengths[vi], s0 + L))]
        return
    # frame size (H, W): RGB is [T, H, W, 3], flow stacks [T, 10, H, W]
    shapes = [visual_frames(it, kind).shape[1:3] if kind == "object" else visual_frames(it, kind).shape[-2:]
              for it in train]
    yield from _frame_batches(lengths, shapes, n_batches, L, gen)


def _frame_batches(lengths: list[int], shapes: list, n_batches: int, L: int, gen: np.random.Generator):
    """``n_batches`` batches of ``L`` frames drawn across videos, each batch from videos of one frame size (frames
    of different sizes do not stack: an appearance-randomised corpus). Each batch's size is drawn in proportion
    to its number of frames; within a size, frames follow back-to-back random permutations of all its frames.
    All draws are made before the first batch (the trainer draws flips from ``gen`` between batches); with a
    single size no size is drawn."""
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for vi, (n, shp) in enumerate(zip(lengths, shapes)):
        groups.setdefault(tuple(shp), []).extend((vi, t) for t in range(n))
    keys = sorted(groups)
    if len(keys) == 1:
        which = np.zeros(n_batches, np.int64)
    else:
        weights = np.array([len(groups[k]) for k in keys], np.float64)
        which = gen.choice(len(keys), size=n_batches, p=weights / weights.sum())
    order: dict[int, np.ndarray] = {}
    for g, k in enumerate(keys):
        need = int((which == g).sum()) * L
        pool = groups[k]
        order[g] = np.concatenate([gen.permutation(len(pool)) for _ in range(-(-need // len(pool)))]) if need else \
            np.zeros(0, np.int64)
    used = dict.fromkeys(order, 0)
    for g in map(int, which):
        yield [groups[keys[g]][int(i)] for i in order[g][used[g]:used[g] + L]]
        used[g] += L


def flip_batch(x: torch.Tensor, O: torch.Tensor | None, kind: str, gen: np.random.Generator):
    """Mirror a random half of the batch left-right (flow: dx channels change sign; O maps follow)."""
    m = torch.as_tensor(gen.random(len(x)) < 0.5)
    if not bool(m.any()):
        return x, O
    x = x.clone()
    xf = x[m].flip(-1)
    if kind == "action":
        xf[:, 0::2] = -xf[:, 0::2]
    x[m] = xf
    if O is not None:
        O = O.clone()
        O[m] = O[m].flip(-1)
    return x, O
