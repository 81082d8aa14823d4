"""The one threshold-fit policy of a trained network (thesis §3.1.2, §3.3.3): which predictions are fitted
against which truth. Training, ``clip2frame thresholds`` and the experiment runner all call
:func:`fit_model_thresholds`.

Sources (:data:`THRESHOLD_SOURCES`):

* ``clip320`` — clip scores of 320-frame cuts of every clip (:func:`clip2frame.eval.thresholds.cut_clips`)
  against the cut's frame truth (a tag active in any of its frames), or the clip's tags without frame truth
  (the thesis' target-domain thresholds);
* ``frame`` — frame probabilities against frame truth;
* ``clips`` — whole clips' pooled scores against their clip tags (thesis Table 3.2, source domain).

Per tag, the F1-optimal candidate of :func:`clip2frame.eval.thresholds.fit_thresholds`' grid
(``threshold_steps`` candidates), as float32 (the model file's dtype).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from ..errors import Clip2FrameError
from ..eval.protocol import split_outputs, standardised
from ..eval.thresholds import cut_clips, fit_thresholds
from ..timebase import output_frames
from .config import TrainConfig
from .data import SplitData

#: What thresholds are fitted on (see the module docstring).
THRESHOLD_SOURCES: tuple[str, ...] = ("clip320", "frame", "clips")
#: Input frames of a cut of the ``clip320`` source (the thesis' clip length).
CUT_FRAMES = 320


def fit_model_thresholds(net: Any, std: Any, data: SplitData, cfg: TrainConfig, device: Any, *,
                         source: str | None = None) -> np.ndarray:
    """Per-tag F1-optimal thresholds float32 [K] of ``net`` on a loaded split.

    Parameters
    ----------
    net, std : the network (a ``Clip2FrameNet``) and its feature standardiser.
    data : the split (features, clip labels, frame truth when the split has events).
    cfg : ``threshold_steps`` (grid size), ``threshold_source`` (the default source), ``data`` and
        ``val_split`` (named in errors).
    device : where the network runs.
    source : one of :data:`THRESHOLD_SOURCES`; ``None`` takes ``cfg.threshold_source``.

    Raises
    ------
    Clip2FrameError
        ``frame`` on a split without frame truth, or an unknown source.
    """
    source = cfg.threshold_source if source is None else source
    if source not in THRESHOLD_SOURCES:
        raise Clip2FrameError(f"threshold source {source!r}: expected one of {', '.join(THRESHOLD_SOURCES)}")
    net.eval()
    if source == "frame":
        if data.frame_truth is None:
            raise Clip2FrameError(f"{cfg.data}: threshold_source 'frame' needs frame truth in '{cfg.val_split}'")
        _, frames = split_outputs(net, std, data, device=device)
        y = np.concatenate([t[: f.shape[0]] for t, f in zip(data.frame_truth, frames)])
        scores = np.concatenate(frames)
    elif source == "clips":
        scores, _ = split_outputs(net, std, data, device=device)
        y = data.clip_labels > 0
    else:
        scores, y = _cut_scores(net, std, data, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_thresholds(y, scores, n_steps=cfg.threshold_steps).astype(np.float32)


@torch.no_grad()
def _cut_scores(net: Any, std: Any, data: SplitData, device: Any) -> tuple[np.ndarray, np.ndarray]:
    """Clip scores [N_cuts, K] of the 320-frame cuts and their truth [N_cuts, K] (frame truth, else clip tags)."""
    s = net.total_stride
    ys, ss = [], []
    for i, f in enumerate(data.feats):
        x = standardised(std, f, device)
        for a, b in cut_clips(f.shape[-1], clip_frames=CUT_FRAMES, min_frames=s):
            ss.append(net(x[..., a:b]).clip[0].cpu().numpy())
            if data.frame_truth is not None:
                ys.append(data.frame_truth[i][a // s:output_frames(b, s)].any(axis=0))
            else:
                ys.append(data.clip_labels[i] > 0)
    return np.stack(ss), np.stack(ys)
