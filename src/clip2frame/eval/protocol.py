"""The thesis' evaluation protocol applied to a model and a dataset split (ch. 3.3).

Clip level: the model's pooled clip score against clip tags (ROC-AUC, AP per tag and per clip).
Frame level: frames of all test clips concatenated; precision/recall/F1 micro and macro with the model's
per-tag thresholds, frame ROC-AUC per tag, against the all-positive baseline. Beyond the thesis, the
DCASE segment-based F1 and error rate (1-s segments) of the thresholded frames turned into events.
"""
from __future__ import annotations

import numpy as np
import torch

from ..infer.activations import FrameActivations
from ..infer.predict import frames_from_features
from .metrics import evaluate_clips, evaluate_frames, events_to_frames, segment_f1


def standardised(tagger_or_std, feats: np.ndarray, device="cpu") -> torch.Tensor:
    std = getattr(tagger_or_std, "standardizer", tagger_or_std)
    x = torch.from_numpy(np.asarray(feats, dtype=np.float32))[None].to(device)  # [1, S, M, T]
    return std.apply(x)


@torch.no_grad()
def split_outputs(net, std, data, *, resolution: str = "model", device="cpu") -> tuple[np.ndarray, list[np.ndarray]]:
    """Clip scores [N, K] and per-clip frame probabilities (N x [T_i, K]) of a loaded split."""
    net.eval()
    clip_scores, frames = [], []
    for f in data.feats:
        x = standardised(std, f, device)
        fr = frames_from_features(net, x, resolution=resolution)
        frames.append(fr)
        model_rate = fr if resolution == "model" else frames_from_features(net, x)
        clip_scores.append(net.forward_head(torch.from_numpy(model_rate.T[None]).to(device))[0].cpu().numpy())
    return np.stack(clip_scores) if clip_scores else np.zeros((0, net.n_labels)), frames


def frame_truth_at(data, labels, frames: list[np.ndarray], step_s: float) -> list[np.ndarray]:
    """Frame truth on the grid of ``frames`` (step ``step_s`` seconds) from the split's events."""
    out = []
    for ev, fr in zip(data.events, frames):
        bounds = np.arange(fr.shape[0] + 1) * step_s
        out.append(events_to_frames([e for e in ev if e.label in labels], labels, bounds))
    return out


def evaluate_split(net, std, data, labels: list[str], thresholds: np.ndarray, *, spec, resolution: str = "model",
                   device="cpu") -> dict[str, float]:
    """Every clip- and frame-level score the split's truth allows, as one flat dict."""
    clip_scores, frames = split_outputs(net, std, data, resolution=resolution, device=device)
    out = evaluate_clips(data.clip_labels, clip_scores, labels=labels)
    if data.events is not None:
        step = spec.hop_length / spec.sr * (net.total_stride if resolution == "model" else 1)
        truth = frame_truth_at(data, labels, frames, step)
        out.update(evaluate_frames(np.concatenate(truth), np.concatenate(frames), thresholds, labels=labels))
        out.update(segment_scores(data, labels, frames, thresholds, step, clip_s=spec.hop_length / spec.sr))
    return out


def segment_scores(data, labels: list[str], frames: list[np.ndarray], thresholds: np.ndarray, step_s: float, *,
                   clip_s: float, segment_s: float = 1.0) -> dict[str, float]:
    """``segment_f1``, ``segment_macro_f1``, ``segment_error_rate``: the events of the thresholded
    ``frames`` (step ``step_s``) against the split's events, in ``segment_s`` segments (DCASE,
    :func:`~clip2frame.eval.metrics.segment_f1`); a clip lasts its feature frames × ``clip_s`` seconds."""
    reference, estimated, durations = {}, {}, {}
    for i, (ev, fr, feats) in enumerate(zip(data.events, frames, data.feats)):
        acts = FrameActivations(list(labels), fr, np.arange(fr.shape[0] + 1) * step_s, thresholds)
        reference[str(i)] = [e for e in ev if e.label in labels]
        estimated[str(i)] = acts.to_events()
        durations[str(i)] = feats.shape[-1] * clip_s
    seg = segment_f1(reference, estimated, labels=labels, segment_s=segment_s, durations=durations)
    return {"segment_f1": seg["micro_f1"], "segment_macro_f1": seg["macro_f1"],
            "segment_error_rate": seg["error_rate"]}
