"""Inference of the three video streams on the shared time base (0.512-s output frames).

* sound: :func:`predict_sound` runs a sound :class:`~clip2frame.models.io.TaggerModel` through
  :func:`clip2frame.infer.predict.predict` (chunked, equal to a whole-file pass), so the video's audio track is
  treated exactly like any audio file that ``clip2frame tag`` reads;
* object / action: :func:`predict_visual` runs an object (RGB frames) or action (flow stacks) FCN over frames
  in batches and returns its heat maps.

Training (:mod:`clip2frame.video.training.training`), evaluation and detection all call these; nothing here imports a
training or rendering module.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...errors import ConfigError
from ...infer.predict import predict
from ...models.visual import flow_to_input, rgb_to_input
from ...timebase import SAMPLE_RATE

#: Frames per forward pass of a visual model.
VISUAL_BATCH = 16


def fit_len(a: np.ndarray, n: int, *, what: str = "stream") -> np.ndarray:
    """``a`` [T, ...] cut, or padded by repeating its last frame, to ``n`` frames (zeros when empty).

    Streams on the one time base differ by at most a frame (the audio track and the pictures end at different
    instants); more than that means another time base (a model of another stride or frame rate), which is
    refused rather than stretched.

    Raises
    ------
    ConfigError
        ``T`` and ``n`` more than one frame apart (the message starts with ``what``).
    """
    if abs(len(a) - n) > 1:
        raise ConfigError(f"{what}: {len(a)} frames where the video time base has {n} (more than a frame apart: "
                          "a model of another stride or frame rate?)")
    if len(a) >= n:
        return a[:n]
    if not len(a):
        return np.zeros((n, *a.shape[1:]), a.dtype)
    return np.concatenate([a, np.repeat(a[-1:], n - len(a), axis=0)])


def visual_net(model: Any) -> Any:
    """The :class:`~clip2frame.models.visual.VisualFCN` of a loaded :class:`~clip2frame.models.io.VisualModel`
    (or the network itself)."""
    return getattr(model, "net", model)


def predict_visual(model: Any, frames: np.ndarray, *, batch: int = VISUAL_BATCH) -> np.ndarray:
    """Heat maps [T, K, h, w] float32 of an object model (``frames`` RGB uint8 [T, H, W, 3]) or an action
    model (flow stacks [T, 10, H, W]); ``model`` a VisualModel or a VisualFCN."""
    net = visual_net(model)
    net.eval()
    dev = next(net.parameters()).device
    outs = []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            chunk = frames[i:i + batch]
            x = rgb_to_input(chunk) if net.cfg.kind == "object" else flow_to_input(chunk)
            outs.append(net(x.to(dev)).heatmap.float().cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, net.n_labels, 1, 1), np.float32)


def predict_sound(model: Any, audio: Any, n_frames: int | None = None, *, sr: int | None = None,
                  device: str = "cpu", chunk_s: float = 600.0) -> np.ndarray:
    """Sound activations S [T, K] float32 of a sound model for a waveform [N] (``sr`` default 16 kHz) or a file (a
    video's audio track is streamed from the file), cut or edge-padded to ``n_frames``.

    Goes through :func:`clip2frame.infer.predict.predict`, so the result does not depend on ``chunk_s``."""
    if sr is None and isinstance(audio, np.ndarray):
        sr = SAMPLE_RATE  # what load_video_audio returns
    acts = predict(audio, model=model, sr=sr, device=device, chunk_s=chunk_s)
    S = acts.probs
    return fit_len(S, n_frames, what=f"{getattr(model, 'path', None) or 'sound model'}: sound stream") \
        if n_frames is not None else S
