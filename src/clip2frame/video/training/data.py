"""The data of video training and evaluation: a corpus' truth (:func:`load_truth`), its videos decoded with
on-disk caches (:class:`VideoItem`, :func:`load_item`, :func:`load_split`: RGB frames and flow stacks in
``<corpus>/cache``, see :func:`corpus_cache_dir`), a visual model's training split on the trainers' shared
data path (:func:`visual_split`: a :class:`clip2frame.train.data.SplitData` for
:class:`clip2frame.train.loader.CropDataset`, with :class:`VisualInput` as its input transform) and the
oracle object maps made from the truth.

The corpus is a manifest directory of videos (:mod:`clip2frame.video.rendering.corpus` writes one):
``<split>.weak.tsv`` and, for the embedded corpus, ``truth/<id>.json``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import Clip2FrameError, DatasetError
from ...fileio import atomic_save_npz
from ...models.visual import flow_to_input, rgb_to_input
from ...tags import VIDEO_INSTRUMENTS
from ...train.data import ClipFeatures, SplitData
from ..inference.io import SAMPLE_RATE, decode_video, load_video_audio
from .cache import cache_flows, cache_key, cache_sound_features, cached_flow, flow_cache_file

log = logging.getLogger(__name__)


def load_truth(data_dir: str | Path, split: str) -> list[dict]:
    """The truth JSON of every video of ``split`` (in weak.tsv order)."""
    root = Path(data_dir)
    weak = root / f"{split}.weak.tsv"
    if not weak.is_file():
        raise DatasetError(f"{weak}: split file not found (is {root} a video corpus from 'clip2frame video synth'?)")
    out = []
    for line in weak.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        fn = line.split("\t")[0]
        tj = root / "truth" / (Path(fn).stem + ".json")
        if not tj.is_file():
            raise DatasetError(f"{tj}: truth file missing for {fn}")
        d = json.loads(tj.read_text())
        d["path"] = str(root / fn)
        out.append(d)
    return out


@dataclass
class VideoItem:
    """One video, decoded and cached: ``rgb`` [T, H, W, 3] uint8, ``flow`` [T, 10, H, W] float16 or None
    (``flow_file``: its cache file when it was read from the flow cache), ``wave`` [N] float32 or None,
    ``tags`` multi-hot [K], and its truth (dict) when known."""

    vid: str
    path: str
    tags: np.ndarray
    rgb: np.ndarray | None = None
    flow: np.ndarray | None = None
    wave: np.ndarray | None = None
    truth: dict | None = None
    flow_file: str | None = None

    def loaded(self, name: str) -> np.ndarray:
        """The decoded ``rgb``, ``flow`` or ``wave`` (an error naming the video when it was not loaded)."""
        a = getattr(self, name)
        if a is None:
            raise Clip2FrameError(f"{self.path}: {name} was not loaded (or already released)")
        return a

    @property
    def n_frames(self) -> int:
        """Frames T of the decoded RGB or flow arrays (axis 0); 0 when neither is loaded."""
        for a in (self.rgb, self.flow):
            if a is not None:
                return int(a.shape[0])
        return 0


def corpus_cache_dir(data_dir: str | Path) -> Path:
    """Where decoded RGB frames and flow stacks of a corpus are cached: ``<corpus>/cache``."""
    return Path(data_dir) / "cache"


def load_item(path: str | Path, *, need: set[str], cache_dir: Path | None, tags=(), truth: dict | None = None,
              vid: str | None = None) -> VideoItem:
    """Decode what ``need`` asks for (``rgb``, ``flow``, ``wave``) using the on-disk caches."""
    p = Path(path)
    vid = vid or p.stem
    y = np.zeros(len(VIDEO_INSTRUMENTS), np.float32)
    for t in tags:
        y[VIDEO_INSTRUMENTS.index(t)] = 1.0
    item = VideoItem(vid, str(p), y, truth=truth)
    dur = None
    if truth is not None:
        dur = float(truth["duration_s"])
    if "wave" in need:
        item.wave = load_video_audio(p)
        dur = dur if dur is not None else len(item.wave) / SAMPLE_RATE
    if "rgb" in need:
        f = cache_dir / f"{p.stem}.{cache_key(p)}.rgb.npz" if cache_dir else None
        if f is not None and f.is_file():
            with np.load(f) as z:
                item.rgb = z["rgb"]
        else:
            item.rgb = decode_video(p, with_flow_frames=False, duration_s=dur).rgb
            if f is not None:
                f.parent.mkdir(parents=True, exist_ok=True)
                atomic_save_npz(f, rgb=item.rgb)
    if "flow" in need:
        item.flow = cached_flow(p, cache_dir=cache_dir, duration_s=dur)
        item.flow_file = None if cache_dir is None else str(flow_cache_file(p, cache_dir))
    return item


def load_split(data_dir: str | Path, split: str, *, need: set[str], limit: int = 0, jobs: int = 1) -> list[VideoItem]:
    """Every video of ``split`` of a corpus written by :func:`clip2frame.video.rendering.render_corpus`
    (or any manifest directory of videos with ``<split>.weak.tsv``); missing flow is computed in ``jobs``
    processes first, and a video whose flow cannot be computed is left out (a warning names it)."""
    root = Path(data_dir)
    weak = root / f"{split}.weak.tsv"
    if not weak.is_file():
        raise DatasetError(f"{weak}: split file not found (is {root} a video corpus from 'clip2frame video synth'?)")
    truths = {Path(d["path"]).stem: d for d in load_truth(root, split)} if (root / "truth").is_dir() else {}
    rows = []
    for line in weak.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        parts = line.split("\t")
        fn, tags = parts[0], [t for t in (parts[1] if len(parts) > 1 else "").split(",") if t]
        for t in tags:
            if t not in VIDEO_INSTRUMENTS:
                raise DatasetError(f"{weak}: unknown tag '{t}' for {fn} (known: {', '.join(VIDEO_INSTRUMENTS)})")
        rows.append((root / fn, tags, truths.get(Path(fn).stem)))
    rows = rows[:limit] if limit else rows
    if "flow" in need:
        got = cache_flows([(p, tr["duration_s"] if tr else None) for p, _, tr in rows],
                          cache_dir=corpus_cache_dir(root), jobs=jobs)
        kept = set(got.clip_ids)
        rows = [r for r in rows if str(r[0]) in kept]
    items = [load_item(p, need=need, cache_dir=corpus_cache_dir(root), tags=tags, truth=tr) for p, tags, tr in rows]
    if not items:
        raise DatasetError(f"{weak}: no videos listed")
    return items


def visual_frames(item: VideoItem, kind: str) -> np.ndarray:
    """What the ``kind`` model sees of ``item``: RGB frames [T, H, W, 3] (object) or flow stacks [T, 10, H, W]."""
    return item.loaded("rgb" if kind == "object" else "flow")


class VisualInput:
    """The :class:`~clip2frame.train.loader.InputTransform` of a visual model: a crop of RGB frames
    [1, L, H, W, 3] (object) or flow stacks [1, L, 10, H, W] (action) -> the net's input [1, L, C, H, W]
    (:func:`~clip2frame.models.visual.rgb_to_input` / :func:`~clip2frame.models.visual.flow_to_input`)."""

    def __init__(self, kind: str):
        self.kind = kind

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """One item's frames [1, ...] -> the network's input (:func:`rgb_to_input` or :func:`flow_to_input`)."""
        return (rgb_to_input if self.kind == "object" else flow_to_input)(x[0])[None]


def visual_split(items: list[VideoItem], kind: str) -> SplitData:
    """The training split of the object (``kind`` "object") or action model on the trainers' data path:
    frames on axis 0 of RGB frames [T_i, H, W, 3] in memory (object) or of the cached flow stacks
    [T_i, 10, H, W] (action: a :class:`~clip2frame.train.data.ClipFeatures` of the flow cache's memory
    maps); clip labels = the video tags [N, K]; no frame truth."""
    feats: list[np.ndarray] | ClipFeatures
    if kind == "action":
        missing = [it.path for it in items if it.flow_file is None]
        if missing:
            raise Clip2FrameError(f"{missing[0]}: flow not read from the flow cache (no cache directory)")
        feats = ClipFeatures([str(it.flow_file) for it in items], [it.n_frames for it in items])
    else:
        feats = [it.loaded("rgb") for it in items]
    tags = np.stack([it.tags for it in items]) if items else np.zeros((0, len(VIDEO_INSTRUMENTS)), np.float32)
    return SplitData([it.vid for it in items], feats, tags, None, [], time_axis=0)


def sound_split(data_dir: str | Path, split: str, spec, *, limit: int = 0, jobs: int = 1) -> SplitData:
    """The sound model's split on the trainers' data path: the cached log-mel features [S, M, T_i] of the
    videos' audio tracks (a :class:`~clip2frame.train.data.ClipFeatures`, cache in ``<corpus>/cache``), clip
    labels = the video tags [N, K]; videos whose audio cannot be read are left out (``skipped``)."""
    items = load_split(data_dir, split, need=set(), limit=limit)
    got = cache_sound_features([it.path for it in items], cache_dir=corpus_cache_dir(data_dir), spec=spec, jobs=jobs)
    kept = set(got.clip_ids)
    items = [it for it in items if it.path in kept]
    if not items:
        raise DatasetError(f"{data_dir}: no video of split '{split}' has a readable audio track")
    return SplitData([it.vid for it in items], got.feats, np.stack([it.tags for it in items]), None, got.skipped)


def oracle_object_maps(truth: dict, n_frames: int, map_hw: tuple[int, int]) -> np.ndarray:
    """Diagnostic object stream from the corpus truth: O[t, k, i, j] = 1 where the centre of cell (i, j)
    lies in a box of instrument k at frame t (``--object oracle``; a perfect object model, not weak)."""
    h, w = map_hw
    H, W = truth["frame_size"]
    ys = (np.arange(h) + 0.5) * H / h
    xs = (np.arange(w) + 0.5) * W / w
    O = np.zeros((n_frames, len(VIDEO_INSTRUMENTS), h, w), np.float32)
    for t, f in enumerate(truth["frames"][:n_frames]):
        for inst, boxes in f["boxes"].items():
            k = VIDEO_INSTRUMENTS.index(inst)
            for x0, y0, x1, y1 in boxes:
                O[t, k] = np.maximum(O[t, k], ((ys[:, None] >= y0) & (ys[:, None] <= y1) &
                                               (xs[None, :] >= x0) & (xs[None, :] <= x1)).astype(np.float32))
    return O
