"""Dense optical flow (OpenCV Farneback) and the 10-channel stacks of the action model (thesis §4.2.2).

Channel layout of a stack (documented contract): **interleaved**, ``[dx₀, dy₀, dx₁, dy₁, …, dx₄, dy₄]``
where flow ``j`` of output frame ``t`` goes from flow frame ``4t + j`` to ``4t + j + 1`` (so flows 0–1 lie
before the RGB frame's instant, flow 2 starts at it, 3–4 after). Values are pixels per flow-frame step
(1/7.8125 s) at the 256-long-side resolution, clipped to ±128.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .io import FLOW_RATE_FACTOR, LONG_SIDE, decode_video, flow_times, iter_frames_at, rgb_times

log = logging.getLogger(__name__)

STACK_LENGTH = 5
FLOW_CHANNELS = 2 * STACK_LENGTH


@dataclass(frozen=True)
class FlowParams:
    """Farneback settings (thesis §4.2.2) and the clipping bound."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    clip: float = 128.0


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 [H, W, 3] -> grey uint8 [H, W] (``cv2.COLOR_RGB2GRAY``)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def farneback(prev_grey: np.ndarray, next_grey: np.ndarray, *, params: FlowParams = FlowParams()) -> np.ndarray:
    """Dense flow from ``prev_grey`` to ``next_grey`` (uint8 [H, W]) -> float32 [H, W, 2] (dx, dy), clipped."""
    import cv2

    # None: cv2 allocates the output (its stubs want an array there)
    flow = cv2.calcOpticalFlowFarneback(prev_grey, next_grey, None,  # type: ignore[call-overload]
                                        params.pyr_scale, params.levels,
                                        params.winsize, params.iterations, params.poly_n,
                                        params.poly_sigma, 0)
    return np.clip(flow, -params.clip, params.clip).astype(np.float32)


def flow_stacks(flow_frames: np.ndarray, n_frames: int, *, params: FlowParams = FlowParams()) -> np.ndarray:
    """Stacks of 5 consecutive flows for each output frame.

    Parameters
    ----------
    flow_frames : np.ndarray [4T+2, H, W, 3] uint8 RGB (or [4T+2, H, W] grey) at 7.8125 frames/s.
    n_frames : int  T.

    Returns
    -------
    np.ndarray [T, 10, H, W] float32, channels interleaved (dx, dy) × 5.
    """
    need = FLOW_RATE_FACTOR * n_frames + 2
    if len(flow_frames) < need:
        raise ValueError(f"flow_stacks: need {need} flow frames for {n_frames} output frames, got {len(flow_frames)}")
    greys = [f if f.ndim == 2 else to_grey(f) for f in flow_frames[:need]]
    flows = np.stack([farneback(greys[k], greys[k + 1], params=params) for k in range(need - 1)])  # [4T+1,H,W,2]
    H, W = flows.shape[1:3]
    out = np.empty((n_frames, FLOW_CHANNELS, H, W), np.float32)
    for t in range(n_frames):
        s = flows[FLOW_RATE_FACTOR * t: FLOW_RATE_FACTOR * t + STACK_LENGTH]  # [5,H,W,2]
        out[t] = s.transpose(0, 3, 1, 2).reshape(FLOW_CHANNELS, H, W)
    return out


def iter_model_inputs(path: str | Path, n_frames: int, *, rgb: bool = True, flow: bool = True,
                      params: FlowParams = FlowParams(), long_side: int = LONG_SIDE, info: dict | None = None
                      ) -> Iterator[tuple[int, np.ndarray | None, np.ndarray | None]]:
    """The model inputs of output frames ``0 … n_frames-1`` of a video, streamed in one decoding pass.

    Yields ``(t, rgb [H, W, 3] uint8 or None, stack [10, H, W] float32 or None)`` in order of ``t``, each as
    soon as its frames are decoded: the RGB frame at ``rgb_times`` and the flow stack of
    :func:`flow_stacks` (the same numbers as ``flow_stacks(decode_video(path).flow_frames, n_frames)``).
    Only the receptive field of one stack (6 flow frames, 5 flows) is held, so memory does not grow with
    the video's length. ``info`` as for :func:`~clip2frame.video.io.iter_frames_at`.
    """
    T = int(n_frames)
    rt = rgb_times(T) if rgb else np.zeros(0)
    ft = flow_times(T) if flow else np.zeros(0)
    all_t = np.unique(np.concatenate([rt, ft]))
    pos = {round(float(x), 9): j for j, x in enumerate(all_t)}
    rgb_of = {pos[round(float(x), 9)]: t for t, x in enumerate(rt)}
    flow_of = {pos[round(float(x), 9)]: k for k, x in enumerate(ft)}
    pictures: dict[int, np.ndarray] = {}
    flows: dict[int, np.ndarray] = {}  # flow k: flow frame k -> k+1, [H, W, 2]
    prev_grey: np.ndarray | None = None
    t = 0
    for j, frame in enumerate(iter_frames_at(path, all_t, long_side=long_side, info=info)):
        if j in rgb_of:
            pictures[rgb_of[j]] = frame
        if j in flow_of:
            grey = to_grey(frame)
            if prev_grey is not None:
                flows[flow_of[j] - 1] = farneback(prev_grey, grey, params=params)
            prev_grey = grey
        while t < T and (not rgb or t in pictures) and (not flow or FLOW_RATE_FACTOR * t + STACK_LENGTH - 1 in flows):
            stack = None
            if flow:
                k0 = FLOW_RATE_FACTOR * t
                s = np.stack([flows[k0 + i] for i in range(STACK_LENGTH)])  # [5, H, W, 2]
                stack = s.transpose(0, 3, 1, 2).reshape(FLOW_CHANNELS, *s.shape[1:3])
                for k in [k for k in flows if k < k0 + FLOW_RATE_FACTOR]:
                    del flows[k]
            yield t, pictures.pop(t, None), stack
            t += 1


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
    from ..data.synth.render import run_tasks

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

    from ..fileio import atomic_write_bytes

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
