"""Training data: cached per-clip arrays (log-mel features, video flow stacks), clip labels and frame truth.

The cache (:func:`cache_clips`, the one per-clip store of every trainer): each clip's array is computed
once and kept as one float16 ``.npy`` file; audio features per (feature spec, gain) under
``<data>/.clip2frame-cache/<key>/clips/`` (or ``feature-cache/`` in the run directory when the dataset is
read-only), so every run and experiment on the same corpus shares them; the video trainer's flow stacks
under ``<corpus>/cache/`` (:mod:`clip2frame.video.training.cache` names the files). A split is never held
in memory: :class:`ClipFeatures` maps one clip's file at a time (``np.load(mmap_mode="r")``) and lets go of
it after use, so memory does not grow with the corpus. A clip's frames lie on its array's time axis
(:attr:`SplitData.time_axis`: -1 for [S, M, T] log-mels, 0 for [T, 10, H, W] flow stacks).

Every clip's file is written atomically when it is done, so a killed cache build resumes where it
stopped; ``jobs > 1`` computes the missing clips in that many worker processes. A clip that cannot be
read is remembered as ``<name>.skip`` (the reason), so it is not decoded again on the next run.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..audio.features import MultiScaleLogMel
from ..audio.io import load_audio
from ..config import to_dict
from ..data.events import events_to_frames
from ..data.manifest import ClipRecord, Manifest
from ..errors import Clip2FrameError
from ..fileio import atomic_write_bytes, atomic_write_text
from ..timebase import frame_boundaries, frame_seconds, output_frames

log = logging.getLogger(__name__)


class ClipFeatures(Sequence):
    """Per-clip arrays (features [S, M, T_i], flow stacks [T_i, 10, H, W]) float16 read on demand from ``.npy``
    files.

    ``feats[i]`` is a read-only memory map of clip ``i`` (dropped, and its pages with it, when the caller
    lets go of it); ``feats.lengths[i]`` is its T_i without opening the file; ``feats[a:b]`` and
    ``feats.take(idx)`` are stores of a subset.
    """

    def __init__(self, paths: Sequence[str | Path], lengths: Sequence[int] | np.ndarray):
        self.paths = [str(p) for p in paths]
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if len(self.paths) != len(self.lengths):
            raise ValueError("ClipFeatures: one length per path")

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        return np.load(self.paths[i], mmap_mode="r", allow_pickle=False)

    def take(self, idx) -> "ClipFeatures":
        """The clips ``idx`` (in that order), still on disk."""
        idx = [int(i) for i in idx]
        return ClipFeatures([self.paths[i] for i in idx], self.lengths[idx] if idx else [])


def feature_lengths(feats: Sequence, time_axis: int = -1) -> np.ndarray:
    """T_i of every clip of a feature sequence (a :class:`ClipFeatures` or a list of arrays whose frames lie
    on ``time_axis``)."""
    if isinstance(feats, ClipFeatures):
        return feats.lengths
    return np.array([f.shape[time_axis] for f in feats], dtype=np.int64)


def read_crop(feats: Sequence, i: int, start: int, n: int, time_axis: int = -1) -> np.ndarray:
    """Frames ``[start, start + n)`` (on ``time_axis``) of clip ``i`` as float32 (only those are read from a
    memory map)."""
    f = feats[i]
    ax = time_axis % f.ndim
    out = np.array(f[(slice(None),) * ax + (slice(start, start + n),)], dtype=np.float32)
    del f
    return out


@dataclass
class SplitData:
    """One split. ``feats[i]`` is [S, M, T_i] float16 (a :class:`ClipFeatures` when loaded with
    :func:`load_split`, read clip by clip; any list of arrays works too), or any per-clip array whose frames
    lie on ``time_axis`` (the video trainer's flow stacks [T_i, 10, H, W], RGB frames [T_i, H, W, 3]);
    labels in model label order."""

    clip_ids: list[str]
    feats: Sequence                      # N x [S, M, T_i]
    clip_labels: np.ndarray              # [N, K] float32
    frame_truth: list[np.ndarray] | None  # N x [T'_i, K] bool at the model frame rate, when known
    skipped: list[tuple[str, str]]        # (clip, reason) left out
    events: list | None = None            # N x tuple[Event, ...] when known (truth at any frame rate)
    time_axis: int = -1                   # the frames' axis of feats[i]

    def __len__(self) -> int:
        return len(self.clip_ids)

    @property
    def lengths(self) -> np.ndarray:
        """Frames T_i of every clip, shape [N]."""
        return feature_lengths(self.feats, self.time_axis)

    def subset(self, idx: Sequence[int]) -> "SplitData":
        """The clips ``idx`` (in that order); features stay on disk."""
        idx = [int(i) for i in idx]
        feats = self.feats.take(idx) if isinstance(self.feats, ClipFeatures) else [self.feats[i] for i in idx]
        return SplitData([self.clip_ids[i] for i in idx], feats,
                         self.clip_labels[idx] if idx else self.clip_labels[:0],
                         None if self.frame_truth is None else [self.frame_truth[i] for i in idx], self.skipped,
                         None if self.events is None else [self.events[i] for i in idx], self.time_axis)

    @staticmethod
    def concat(parts: Sequence["SplitData"]) -> "SplitData":
        """The clips of every part in turn (skipped: the first part's)."""
        if len(parts) == 1:
            return parts[0]
        disk = [p.feats for p in parts if isinstance(p.feats, ClipFeatures)]
        feats: Sequence
        if len(disk) == len(parts):
            feats = ClipFeatures([q for f in disk for q in f.paths], np.concatenate([f.lengths for f in disk]))
        else:
            feats = [f for p in parts for f in p.feats]
        ft = None if any(p.frame_truth is None for p in parts) else [t for p in parts for t in p.frame_truth or ()]
        ev = None if any(p.events is None for p in parts) else [e for p in parts for e in p.events or ()]
        return SplitData([c for p in parts for c in p.clip_ids], feats,
                         np.concatenate([p.clip_labels for p in parts]), ft, parts[0].skipped, ev, parts[0].time_axis)


def _spec_key(spec, gain_db: float) -> str:
    text = json.dumps({"spec": to_dict(spec), "gain_db": gain_db}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _cache_dir(manifest: Manifest, fallback: Path, key: str) -> Path:
    for base in (manifest.root / ".clip2frame-cache", fallback / "feature-cache"):
        try:
            base.mkdir(parents=True, exist_ok=True)
            if os.access(base, os.W_OK):
                return base / key
        except OSError:
            continue
    raise Clip2FrameError(f"{fallback}: cannot create a feature cache directory")


def _clip_stem(clip_id: str) -> str:
    return hashlib.sha1(clip_id.encode()).hexdigest()[:20]


def clip_cache_path(manifest: Manifest, spec, clip_id: str, *, run_dir: Path, gain_db: float = 0.0) -> Path:
    """Where the features of ``clip_id`` are cached (a float16 [S, M, T] ``.npy``; it may not exist yet)."""
    return _cache_dir(manifest, run_dir, _spec_key(spec, gain_db)) / "clips" / f"{_clip_stem(clip_id)}.npy"


def _cached_length(path: Path, shape: tuple[int | None, ...], time_axis: int) -> int | None:
    """T of a cached clip file, or None when it is missing or not a float16 array of ``shape`` (None: any size)."""
    try:
        f = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header; maps, touches no data
        got, dtype = f.shape, f.dtype
        del f
    except (OSError, ValueError):
        return None
    if dtype != np.float16 or len(got) != len(shape) or any(s is not None and g != s for g, s in zip(got, shape)):
        return None
    return int(got[time_axis])


class LogMelClip:
    """The audio cache's clip array: ``LogMelClip(spec, gain_db)(audio_path)`` -> log-mel [S, M, T] float16
    (:class:`~clip2frame.audio.features.MultiScaleLogMel` of the file at ``gain_db``)."""

    def __init__(self, spec, gain_db: float = 0.0):
        self.spec, self.gain_db = spec, gain_db

    def __call__(self, audio_path: str) -> np.ndarray:
        spec = self.spec
        wave = load_audio(audio_path, sr=spec.sr)
        if wave.size < spec.hop_length:
            raise Clip2FrameError(f"{audio_path}: clip is empty (shorter than one frame)")
        with torch.no_grad():
            f = MultiScaleLogMel(spec)(torch.from_numpy(wave * 10.0 ** (self.gain_db / 20.0))[None])[0]
        return f.numpy().astype(np.float16)


def _compute_clip(job: tuple[str, Any, str], compute: Callable[[Any], np.ndarray],
                  time_axis: int) -> tuple[str, int | None, str | None]:
    """``compute(source)`` of ``(clip_id, source, out_path)`` written to ``out_path`` as a float16 ``.npy``:
    ``(clip_id, T, None)``, or ``(clip_id, None, reason)`` for a source that cannot be read (the reason also
    written as ``<out>.skip``)."""
    clip_id, source, path = job
    try:
        f = np.asarray(compute(source)).astype(np.float16, copy=False)
    except Clip2FrameError as e:
        atomic_write_text(Path(path).with_suffix(".skip"), str(e))
        return clip_id, None, str(e)
    buf = io.BytesIO()
    np.save(buf, f, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())
    return clip_id, int(f.shape[time_axis]), None


class _CacheJobs(torch.utils.data.Dataset):
    """Item ``j``: compute and write clip ``todo[j]``; run by a DataLoader's worker processes."""

    def __init__(self, todo: list[tuple[str, Any, str]], compute: Callable[[Any], np.ndarray], time_axis: int):
        self.todo, self.compute, self.time_axis = todo, compute, time_axis

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, j: int):
        return _compute_clip(self.todo[j], self.compute, self.time_axis)


def _as_is(item):
    return item


def _remove_stale_temps(base: Path, age_s: float = 3600.0) -> None:
    """Temp files of clip writes killed mid-way (an hour old: no live writer, on any node, still owns them)."""
    now = time.time()
    for tmp in base.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > age_s:
                tmp.unlink()
        except OSError:
            continue


@dataclass
class CachedClips:
    """What :func:`cache_clips` found or computed: the kept clips' ids and arrays (in the order asked), the
    skipped ``(clip, reason)`` and how many clips were computed now."""

    clip_ids: list[str]
    feats: ClipFeatures
    skipped: list[tuple[str, str]]
    computed: int


def cache_clips(todo: Sequence[tuple[str, Any, str | Path]], compute: Callable[[Any], np.ndarray], *,
                shape: tuple[int | None, ...], time_axis: int = -1, jobs: int = 1, progress: bool = True,
                desc: str = "features") -> CachedClips:
    """The per-clip array cache of every trainer (audio log-mels, video flow stacks).

    Parameters
    ----------
    todo : sequence of (clip_id, source, out_path)
        ``out_path`` is the clip's ``.npy`` file (its folder is created); ``source`` what ``compute`` reads.
    compute : callable
        ``source -> array`` of ``shape`` (cast to float16); raises :class:`~clip2frame.errors.Clip2FrameError`
        for a source it cannot read: that clip is skipped and remembered as ``<out>.skip`` (the reason).
        It runs in worker processes when ``jobs > 1``, so it must pickle (a module-level class or function).
    shape : tuple of int or None
        The array shape; None where any size goes (the time axis, a video's frame size). A cached file of
        another shape or dtype is computed again.
    time_axis : int
        The axis of the clip's frames (its T): -1 for [S, M, T] log-mels, 0 for [T, 10, H, W] flow stacks.
    jobs : int
        Processes computing the clips not cached yet (a DataLoader's workers, results in order).

    Returns
    -------
    CachedClips
        The kept clips as a :class:`ClipFeatures` (memory-mapped on access), the skipped ones, the count
        computed now. Each file is written atomically when done, so a killed build resumes where it stopped.
    """
    state: dict[str, tuple[int | None, str | None]] = {}
    paths = {cid: Path(p) for cid, _, p in todo}
    work = []
    for cid, source, p in todo:
        path = paths[cid]
        T = _cached_length(path, shape, time_axis)
        if T is not None:
            state[cid] = (T, None)
        elif path.with_suffix(".skip").is_file():
            state[cid] = (None, path.with_suffix(".skip").read_text())
        else:
            work.append((cid, source, str(path)))
    if work:
        for base in sorted({Path(p).parent for _, _, p in work}):
            base.mkdir(parents=True, exist_ok=True)
            _remove_stale_temps(base)
        log.info("computing %s of %d clip(s) (%d cached) in %s", desc, len(work), len(todo) - len(work),
                 Path(work[0][2]).parent)
        # A DataLoader runs the workers (forked, one torch thread each) and hands back their results in order.
        loader = torch.utils.data.DataLoader(_CacheJobs(work, compute, time_axis), batch_size=None,
                                             collate_fn=_as_is, num_workers=jobs if jobs > 1 else 0,
                                             generator=torch.Generator())  # leaves the global RNG alone
        for cid, T, why in tqdm(loader, total=len(work), desc=desc, disable=not progress, leave=False):
            state[cid] = (T, why)
    kept = [cid for cid, _, _ in todo if state[cid][0] is not None]
    skipped = [(cid, str(state[cid][1])) for cid, _, _ in todo if state[cid][0] is None]
    feats = ClipFeatures([paths[c] for c in kept], [int(state[c][0] or 0) for c in kept])
    return CachedClips(kept, feats, skipped, len(work))


def cache_features(manifest: Manifest, clips: list[ClipRecord], spec, *, run_dir: Path, gain_db: float = 0.0,
                   jobs: int = 1, progress: bool = True) -> tuple[list[ClipRecord], ClipFeatures,
                                                                   list[tuple[str, str]]]:
    """The cached log-mel features of ``clips`` (:func:`cache_clips`, computing those not cached yet): kept
    clips, their features and the skipped ``(clip, reason)``."""
    todo = [(c.clip_id, str(c.audio_path),
             clip_cache_path(manifest, spec, c.clip_id, run_dir=run_dir, gain_db=gain_db)) for c in clips]
    got = cache_clips(todo, LogMelClip(spec, gain_db), shape=(spec.n_scales, spec.n_bands, None), jobs=jobs,
                      progress=progress, desc=f"features{'' if not gain_db else f' {gain_db:+g} dB'}")
    kept = set(got.clip_ids)
    return [c for c in clips if c.clip_id in kept], got.feats, got.skipped


def load_split(manifest: Manifest, split: str, spec, labels: list[str], *, total_stride: int,
               run_dir: Path, gain_db: float = 0.0, max_clips: int = 0, progress: bool = True,
               jobs: int = 1) -> SplitData:
    """Features (on disk, see :class:`ClipFeatures`), clip labels and (when the manifest has it) frame truth
    of ``split``. ``jobs``: processes computing clips not cached yet."""
    clips = manifest.split(split)
    if not clips:
        raise Clip2FrameError(f"{manifest.root}: split '{split}' has no clips")
    if max_clips:
        clips = clips[:max_clips]
    kept_clips, feats, skipped = cache_features(manifest, clips, spec, run_dir=run_dir, gain_db=gain_db,
                                                jobs=jobs, progress=progress)
    index = {lab: k for k, lab in enumerate(labels)}
    y = np.zeros((len(kept_clips), len(labels)), dtype=np.float32)
    unknown: set[str] = set()
    for i, c in enumerate(kept_clips):
        for t in c.tags:
            if t in index:
                y[i, index[t]] = 1.0
            else:
                unknown.add(t)
    if unknown:
        log.warning("%s/%s: tags not in the model vocabulary ignored: %s", manifest.root, split, sorted(unknown))
    frame_truth = None
    if kept_clips and all(c.events is not None for c in kept_clips):
        frame_truth = []
        step = frame_seconds(total_stride, hop_length=spec.hop_length, sr=spec.sr)
        for c, T in zip(kept_clips, feats.lengths):
            bounds = frame_boundaries(output_frames(T, total_stride), step)
            frame_truth.append(events_to_frames([e for e in c.events or () if e.label in index], labels, bounds))
    for cid, why in skipped:
        log.warning("skipped %s: %s", cid, why)
    events = [c.events for c in kept_clips] if frame_truth is not None else None
    return SplitData([c.clip_id for c in kept_clips], feats, y, frame_truth, skipped, events)


def write_skipped(run_dir: Path, skipped: list[tuple[str, str, str]]) -> None:
    """Write ``run_dir/skipped.tsv`` (split, clip, reason) when any clip was skipped."""
    if skipped:
        atomic_write_text(run_dir / "skipped.tsv", "split\tclip\treason\n" +
                          "".join(f"{s}\t{c}\t{r}\n" for s, c, r in skipped))
