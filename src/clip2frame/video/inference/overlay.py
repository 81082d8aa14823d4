"""The overlay video of a detection: the frames at 1.953 fps with the top instrument's fused heat map blended
in (colours relative to the video's maximum, so weak models still show where they look) and the top labels
with their frame scores written on top.

Frames are read again from the source video one at a time (:func:`clip2frame.video.inference.io.iter_frames_at`) and
encoded as they come, so the overlay needs memory for a frame, not for the video.

This module is the writer of the ``overlay`` output format: importing it registers :func:`write_overlay_format`
with :func:`clip2frame.results.writers.register_writer` (``clip2frame detect`` imports it), so the results
layer never imports video code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ...errors import OutputError
from ...extras import require
from ...results.writers import register_writer
from .io import OUTPUT_FPS, iter_frames_at, rgb_times, write_mp4
from .metrics import upsample_map


def overlay_frame(img: np.ndarray, fused_t: np.ndarray, score_t: np.ndarray, labels: list[str], *, norm: float,
                  threshold: float, time_s: float) -> np.ndarray:
    """One RGB frame [H, W, 3] with the top instrument's map ``fused_t`` [K, h, w] blended in, labels written."""
    cv2 = require("cv2", what="video detection")

    H, W = img.shape[:2]
    k = int(np.argmax(score_t))
    hm = np.clip(upsample_map(fused_t[k], (H, W)) / norm, 0, 1)
    col = cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    a = (0.55 * hm)[..., None]
    out = (img * (1 - a) + col * a).astype(np.uint8)
    y = 12
    for j in np.argsort(-score_t)[:3]:
        if score_t[j] < threshold * 0.5:
            break
        txt = f"{labels[j]} {score_t[j]:.2f}"
        colr = (255, 255, 255) if score_t[j] >= threshold else (180, 180, 180)
        cv2.putText(out, txt, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, txt, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colr, 1, cv2.LINE_AA)
        y += 13
    cv2.putText(out, f"{time_s:.2f}s", (3, H - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    if H % 2 or W % 2:  # yuv420p needs even sizes
        out = np.pad(out, ((0, H % 2), (0, W % 2), (0, 0)), mode="edge")
    return out


def overlay_frames(acts: Any) -> Iterator[np.ndarray]:
    """The overlay frames of a video detection (``acts.maps["fused"]`` [T, K, h, w], ``acts.source``)."""
    fused = acts.maps.get("fused")
    if fused is None or fused.ndim != 4 or not acts.source:
        raise OutputError(f"{acts.source or 'activations'}: overlay needs a video detection (fused heat maps "
                          "and the source video)")
    T = acts.n_frames
    norm = max(float(fused.max()) if fused.size else 0.0, 0.05)
    for t, img in enumerate(iter_frames_at(acts.source, rgb_times(T))):
        yield overlay_frame(img, fused[t], acts.probs[t], list(acts.labels), norm=norm,
                            threshold=float(acts.thresholds[int(np.argmax(acts.probs[t]))]), time_s=float(acts.times[t]))


def write_overlay(acts: Any, path: str | Path) -> None:
    """``<stem>.overlay.mp4`` (H.264, 1.953 fps, no audio), written atomically."""
    write_mp4(path, overlay_frames(acts), fps=OUTPUT_FPS, audio=None)


def write_overlay_format(acts: Any, path: Path, **_: object) -> None:
    """The ``overlay`` format's writer as :func:`clip2frame.results.writers.write_outputs` calls it."""
    write_overlay(acts, path)


register_writer("overlay", write_overlay_format)
