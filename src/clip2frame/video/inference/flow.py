"""Dense optical flow (OpenCV Farneback) and the 10-channel stacks of the action model (thesis §4.2.2).

Channel layout of a stack (documented contract): **interleaved**, ``[dx₀, dy₀, dx₁, dy₁, …, dx₄, dy₄]``
where flow ``j`` of output frame ``t`` goes from flow frame ``4t + j`` to ``4t + j + 1`` (so flows 0–1 lie
before the RGB frame's instant, flow 2 starts at it, 3–4 after). Values are pixels per flow-frame step
(1/7.8125 s) at the 256-long-side resolution, clipped to ±128.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ...extras import require
from .io import FLOW_RATE_FACTOR, LONG_SIDE, flow_times, iter_frames_at, rgb_times

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
    cv2 = require("cv2", what="video detection")

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def farneback(prev_grey: np.ndarray, next_grey: np.ndarray, *, params: FlowParams = FlowParams()) -> np.ndarray:
    """Dense flow from ``prev_grey`` to ``next_grey`` (uint8 [H, W]) -> float32 [H, W, 2] (dx, dy), clipped."""
    cv2 = require("cv2", what="video detection")

    # None: cv2 allocates the output
    flow = cv2.calcOpticalFlowFarneback(prev_grey, next_grey, None,
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
    the video's length. ``info`` as for :func:`~clip2frame.video.inference.io.iter_frames_at`.
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
