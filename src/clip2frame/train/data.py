"""Training data: a manifest split turned into cached log-mel features, clip labels and frame truth.

Features are computed once per (feature spec, gain) and cached as float16 next to the dataset
(``<data>/.clip2frame-cache/``), or in the run directory when the dataset is read-only, so every run and
experiment on the same corpus shares them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import to_dict
from ..data.manifest import ClipRecord, Manifest
from ..errors import Clip2FrameError
from ..fileio import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class SplitData:
    """One split in memory. ``feats[i]`` is [S, M, T_i] float16; labels in model label order."""

    clip_ids: list[str]
    feats: list[np.ndarray]
    clip_labels: np.ndarray              # [N, K] float32
    frame_truth: list[np.ndarray] | None  # N x [T'_i, K] bool at the model frame rate, when known
    skipped: list[tuple[str, str]]        # (clip, reason) left out
    events: list | None = None            # N x tuple[Event, ...] when known (truth at any frame rate)

    def __len__(self) -> int:
        return len(self.clip_ids)


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


def _compute(clips: list[ClipRecord], spec, gain_db: float, progress: bool):
    from tqdm import tqdm

    from ..audio.features import MultiScaleLogMel
    from ..audio.io import load_audio

    front = MultiScaleLogMel(spec)
    gain = 10.0 ** (gain_db / 20.0)
    feats, ok, skipped = [], [], []
    for c in tqdm(clips, desc=f"features{'' if not gain_db else f' {gain_db:+g} dB'}", disable=not progress,
                  leave=False):
        try:
            wave = load_audio(c.audio_path, sr=spec.sr)
        except Clip2FrameError as e:
            skipped.append((c.clip_id, str(e)))
            continue
        if wave.size < spec.hop_length:
            skipped.append((c.clip_id, f"{c.audio_path}: clip is empty (shorter than one frame)"))
            continue
        f = front(torch.from_numpy(wave * gain)[None])[0]  # [S, M, T]
        feats.append(f.numpy().astype(np.float16))
        ok.append(c)
    return feats, ok, skipped


def load_split(manifest: Manifest, split: str, spec, labels: list[str], *, total_stride: int,
               run_dir: Path, gain_db: float = 0.0, max_clips: int = 0, progress: bool = True) -> SplitData:
    """Features, clip labels and (when the manifest has it) frame truth of ``split``."""
    from ..eval.metrics import events_to_frames

    clips = manifest.split(split)
    if not clips:
        raise Clip2FrameError(f"{manifest.root}: split '{split}' has no clips")
    if max_clips:
        clips = clips[:max_clips]
    cache = _cache_dir(manifest, run_dir, _spec_key(spec, gain_db)) / f"{split}.npz"
    ids = [c.clip_id for c in clips]
    feats = None
    skipped: list[tuple[str, str]] = []
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if list(z["ids"]) == ids:
                offs = z["offsets"]
                allf = z["feats"]
                keep = set(z["kept"].tolist())
                feats = [allf[..., offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
                skipped = json.loads(str(z["skipped"]))
                kept_clips = [c for c in clips if c.clip_id in keep]
    if feats is None:
        feats, kept_clips, skipped = _compute(clips, spec, gain_db, progress)
        offs = np.cumsum([0] + [f.shape[-1] for f in feats])
        import io

        buf = io.BytesIO()
        np.savez(buf, ids=np.array(ids), kept=np.array([c.clip_id for c in kept_clips]),
                 offsets=offs, feats=np.concatenate(feats, axis=-1) if feats else np.zeros((0, 0, 0), np.float16),
                 skipped=json.dumps(skipped))
        atomic_write_bytes(cache, buf.getvalue())
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
        step = total_stride * spec.hop_length / spec.sr
        for c, f in zip(kept_clips, feats):
            n_out = -(-f.shape[-1] // total_stride)
            bounds = np.arange(n_out + 1) * step
            frame_truth.append(events_to_frames([e for e in c.events or () if e.label in index], labels, bounds))
    for cid, why in skipped:
        log.warning("skipped %s: %s", cid, why)
    events = [c.events for c in kept_clips] if frame_truth is not None else None
    return SplitData([c.clip_id for c in kept_clips], feats, y, frame_truth, skipped, events)


def write_skipped(run_dir: Path, skipped: list[tuple[str, str, str]]) -> None:
    if skipped:
        atomic_write_text(run_dir / "skipped.tsv", "split\tclip\treason\n" +
                          "".join(f"{s}\t{c}\t{r}\n" for s, c, r in skipped))
