"""Training data: a manifest split turned into cached log-mel features, clip labels and frame truth.

Features are computed once per (feature spec, gain) and cached as one float16 ``.npy`` file per clip
(``<data>/.clip2frame-cache/<key>/clips/``, or ``feature-cache/`` in the run directory when the dataset
is read-only), so every run and experiment on the same corpus shares them. A split is never held in
memory: :class:`ClipFeatures` maps one clip's file at a time (``np.load(mmap_mode="r")``) and lets go of
it after use, so memory does not grow with the corpus.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import to_dict
from ..data.manifest import ClipRecord, Manifest
from ..errors import Clip2FrameError
from ..fileio import atomic_write_bytes, atomic_write_text
from ..timebase import frame_boundaries, frame_seconds, output_frames

log = logging.getLogger(__name__)


class ClipFeatures(Sequence):
    """Per-clip features [S, M, T_i] float16 read on demand from ``.npy`` files.

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
        idx = [int(i) for i in idx]
        return ClipFeatures([self.paths[i] for i in idx], self.lengths[idx] if idx else [])


def feature_lengths(feats: Sequence) -> np.ndarray:
    """T_i of every clip of a feature sequence (a :class:`ClipFeatures` or a list of arrays)."""
    if isinstance(feats, ClipFeatures):
        return feats.lengths
    return np.array([f.shape[-1] for f in feats], dtype=np.int64)


def read_crop(feats: Sequence, i: int, start: int, n: int) -> np.ndarray:
    """Frames ``[start, start + n)`` of clip ``i`` as float32 (only those are read from a memory map)."""
    f = feats[i]
    out = np.array(f[..., start:start + n], dtype=np.float32)
    del f
    return out


@dataclass
class SplitData:
    """One split. ``feats[i]`` is [S, M, T_i] float16 (a :class:`ClipFeatures` when loaded with
    :func:`load_split`, read clip by clip; any list of arrays works too); labels in model label order."""

    clip_ids: list[str]
    feats: Sequence                      # N x [S, M, T_i]
    clip_labels: np.ndarray              # [N, K] float32
    frame_truth: list[np.ndarray] | None  # N x [T'_i, K] bool at the model frame rate, when known
    skipped: list[tuple[str, str]]        # (clip, reason) left out
    events: list | None = None            # N x tuple[Event, ...] when known (truth at any frame rate)

    def __len__(self) -> int:
        return len(self.clip_ids)

    @property
    def lengths(self) -> np.ndarray:
        return feature_lengths(self.feats)

    def subset(self, idx: Sequence[int]) -> "SplitData":
        """The clips ``idx`` (in that order); features stay on disk."""
        idx = [int(i) for i in idx]
        feats = self.feats.take(idx) if isinstance(self.feats, ClipFeatures) else [self.feats[i] for i in idx]
        return SplitData([self.clip_ids[i] for i in idx], feats,
                         self.clip_labels[idx] if idx else self.clip_labels[:0],
                         None if self.frame_truth is None else [self.frame_truth[i] for i in idx], self.skipped,
                         None if self.events is None else [self.events[i] for i in idx])

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
                         np.concatenate([p.clip_labels for p in parts]), ft, parts[0].skipped, ev)


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


def _cached_length(path: Path, n_scales: int, n_bands: int) -> int | None:
    """T of a cached clip file, or None when it is missing or not a [S, M, T] float16 array."""
    try:
        f = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header; maps, touches no data
        shape, dtype = f.shape, f.dtype
        del f
    except (OSError, ValueError):
        return None
    if dtype != np.float16 or len(shape) != 3 or tuple(shape[:2]) != (n_scales, n_bands):
        return None
    return int(shape[2])


def _compute_clips(jobs: list[tuple[str, str, str]], spec, gain_db: float) -> list[tuple[str, int | None, str | None]]:
    """Features of ``(clip_id, audio_path, out_path)`` written to ``out_path`` (one ``.npy`` per clip).

    Returns ``(clip_id, T, None)`` per written clip and ``(clip_id, None, reason)`` per unreadable one (its
    reason also written as ``<out>.skip``).
    """
    from ..audio.features import MultiScaleLogMel
    from ..audio.io import load_audio

    front = MultiScaleLogMel(spec)
    gain = 10.0 ** (gain_db / 20.0)
    out: list[tuple[str, int | None, str | None]] = []
    for clip_id, audio_path, path in jobs:
        try:
            wave = load_audio(audio_path, sr=spec.sr)
            if wave.size < spec.hop_length:
                raise Clip2FrameError(f"{audio_path}: clip is empty (shorter than one frame)")
        except Clip2FrameError as e:
            atomic_write_text(Path(path).with_suffix(".skip"), str(e))
            out.append((clip_id, None, str(e)))
            continue
        with torch.no_grad():
            f = front(torch.from_numpy(wave * gain)[None])[0].numpy().astype(np.float16)  # [S, M, T]
        buf = io.BytesIO()
        np.save(buf, f, allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())
        out.append((clip_id, int(f.shape[-1]), None))
    return out


class _CacheJobs(torch.utils.data.Dataset):
    """Item ``j``: compute and write clip ``todo[j]``; run by a DataLoader's worker processes."""

    def __init__(self, todo: list[tuple[str, str, str]], spec, gain_db: float):
        self.todo, self.spec, self.gain_db = todo, spec, gain_db

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, j: int):
        return _compute_clips([self.todo[j]], self.spec, self.gain_db)[0]


def _as_is(item):
    return item


def _fill_cache(todo: list[tuple[str, str, str]], spec, gain_db: float, *, jobs: int, progress: bool) -> dict:
    """Compute the clips of ``todo``, in ``jobs`` worker processes when > 1: clip_id -> (T, reason)."""
    from tqdm import tqdm

    # A DataLoader runs the workers (forked, one torch thread each) and hands back their results in order.
    loader = torch.utils.data.DataLoader(_CacheJobs(todo, spec, gain_db), batch_size=None, collate_fn=_as_is,
                                         num_workers=jobs if jobs > 1 else 0,
                                         generator=torch.Generator())  # leaves the global RNG alone
    done: dict[str, tuple[int | None, str | None]] = {}
    desc = f"features{'' if not gain_db else f' {gain_db:+g} dB'}"
    for cid, T, why in tqdm(loader, total=len(todo), desc=desc, disable=not progress, leave=False):
        done[cid] = (T, why)
    return done


def _remove_stale_temps(base: Path, age_s: float = 3600.0) -> None:
    """Temp files of clip writes killed mid-way (an hour old: no live writer, on any node, still owns them)."""
    import time

    now = time.time()
    for tmp in base.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > age_s:
                tmp.unlink()
        except OSError:
            continue


def cache_features(manifest: Manifest, clips: list[ClipRecord], spec, *, run_dir: Path, gain_db: float = 0.0,
                   jobs: int = 1, progress: bool = True) -> tuple[list[ClipRecord], ClipFeatures,
                                                                   list[tuple[str, str]]]:
    """The cached features of ``clips`` (computing those not cached yet): kept clips, their features and
    the skipped ``(clip, reason)``."""
    paths = {c.clip_id: clip_cache_path(manifest, spec, c.clip_id, run_dir=run_dir, gain_db=gain_db)
             for c in clips}
    base = clip_cache_path(manifest, spec, "", run_dir=run_dir, gain_db=gain_db).parent
    base.mkdir(parents=True, exist_ok=True)
    S, M = spec.n_scales, spec.n_bands
    state: dict[str, tuple[int | None, str | None]] = {}
    todo = []
    for c in clips:
        p = paths[c.clip_id]
        T = _cached_length(p, S, M)
        if T is not None:
            state[c.clip_id] = (T, None)
        elif p.with_suffix(".skip").is_file():
            state[c.clip_id] = (None, p.with_suffix(".skip").read_text())
        else:
            todo.append((c.clip_id, str(c.audio_path), str(p)))
    if todo:
        _remove_stale_temps(base)
        log.info("%s: computing features of %d clip(s) (%d cached) in %s", manifest.root, len(todo),
                 len(clips) - len(todo), base.parent)
        state.update(_fill_cache(todo, spec, gain_db, jobs=jobs, progress=progress))
    kept = [c for c in clips if state[c.clip_id][0] is not None]
    skipped = [(c.clip_id, str(state[c.clip_id][1])) for c in clips if state[c.clip_id][0] is None]
    feats = ClipFeatures([paths[c.clip_id] for c in kept], [int(state[c.clip_id][0] or 0) for c in kept])
    return kept, feats, skipped


def load_split(manifest: Manifest, split: str, spec, labels: list[str], *, total_stride: int,
               run_dir: Path, gain_db: float = 0.0, max_clips: int = 0, progress: bool = True,
               jobs: int = 1) -> SplitData:
    """Features (on disk, see :class:`ClipFeatures`), clip labels and (when the manifest has it) frame truth
    of ``split``. ``jobs``: processes computing clips not cached yet."""
    from ..data.events import events_to_frames

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
    if skipped:
        atomic_write_text(run_dir / "skipped.tsv", "split\tclip\treason\n" +
                          "".join(f"{s}\t{c}\t{r}\n" for s, c, r in skipped))
