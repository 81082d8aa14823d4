"""On-disk caches of a video corpus for training and evaluation: flow stacks (``.flow.npy``, float16,
memory-mapped) keyed by file, size, mtime, flow parameters and resolution, computed in several processes
(:func:`cache_flows`). Inference does not cache: it streams (:func:`clip2frame.video.inference.flow.iter_model_inputs`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..inference.flow import FLOW_CHANNELS, FlowParams, flow_stacks
from ..inference.io import FLOW_RATE_FACTOR, decode_video

log = logging.getLogger(__name__)


def cache_key(path: str | Path, params: FlowParams = FlowParams(), *, long_side: int = 256) -> str:
    """Hash of (resolved path, size, mtime, flow parameters, resolution)."""
    p = Path(path).resolve()
    st = p.stat()
    blob = json.dumps({"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                       "params": asdict(params), "long_side": long_side, "rate": FLOW_RATE_FACTOR,
                       "layout": "interleaved-v1"}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def flow_cache_file(path: str | Path, cache_dir: str | Path, params: FlowParams = FlowParams()) -> Path:
    """Where :func:`video_flow` caches the flow of ``path`` under ``cache_dir``."""
    return Path(cache_dir) / f"{Path(path).stem}.{cache_key(path, params)}.flow.npy"


def _cache_flow_task(task: tuple) -> None:
    path, cache_dir, params, duration_s = task
    cached_flow(path, cache_dir=cache_dir, params=params, duration_s=duration_s)


def cache_flows(videos: list[tuple[str | Path, float | None]], *, cache_dir: str | Path,
                params: FlowParams = FlowParams(), jobs: int = 1) -> int:
    """Compute and cache the flow of every ``(path, duration_s or None)`` not cached yet, in ``jobs``
    processes (flow is the costliest step of action training: ~1 s per 8-s video on one core).
    Returns the number of videos computed."""
    from ...data.synth.driver import run_tasks

    todo = [(str(p), str(cache_dir), params, d) for p, d in videos
            if not flow_cache_file(p, cache_dir, params).is_file()]
    if todo:
        log.info("computing optical flow of %d videos (%d processes)", len(todo), jobs)
    for _ in run_tasks(_cache_flow_task, todo, max(1, min(jobs, len(todo)))):
        pass
    return len(todo)


def video_flow(path: str | Path, *, cache_dir: str | Path | None = None, params: FlowParams = FlowParams(),
               duration_s: float | None = None) -> np.ndarray:
    """Flow stacks [T, 10, H, W] (float32) of a video file, read from / written to ``cache_dir``."""
    return cached_flow(path, cache_dir=cache_dir, params=params, duration_s=duration_s).astype(np.float32)


def cached_flow(path: str | Path, *, cache_dir: str | Path | None = None, params: FlowParams = FlowParams(),
                duration_s: float | None = None) -> np.ndarray:
    """Flow stacks [T, 10, H, W] as float16, the cache's precision. A cached file is memory-mapped
    (``.npy``, read-only): training several action models over one corpus then costs no reloading."""
    import io as _io

    from ...fileio import atomic_write_bytes

    cache_file = None
    if cache_dir is not None:
        cache_file = flow_cache_file(path, cache_dir, params)
        if cache_file.is_file():
            try:
                flow = np.load(cache_file, mmap_mode="r")
                if flow.ndim == 4 and flow.shape[1] == FLOW_CHANNELS and flow.dtype == np.float16:
                    return flow
                log.warning("%s: flow cache has shape %s %s, recomputing", cache_file, flow.shape, flow.dtype)
            except (OSError, ValueError) as e:
                log.warning("%s: unreadable flow cache (%s), recomputing", cache_file, e)
    dv = decode_video(path, with_flow_frames=True, duration_s=duration_s)
    assert dv.flow_frames is not None  # decoded with_flow_frames
    flow = flow_stacks(dv.flow_frames, dv.n_frames, params=params).astype(np.float16)
    if cache_file is not None:
        os.makedirs(cache_file.parent, exist_ok=True)
        buf = _io.BytesIO()
        np.save(buf, flow)
        atomic_write_bytes(cache_file, buf.getvalue())
    return flow
