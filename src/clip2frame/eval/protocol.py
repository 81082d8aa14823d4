"""The thesis' evaluation protocol applied to a model and a dataset split (ch. 3.3).

Clip level: the model's pooled clip score against clip tags (ROC-AUC, AP per tag and per clip).
Frame level: frames of all test clips concatenated; precision/recall/F1 micro and macro with the model's
per-tag thresholds, frame ROC-AUC per tag, against the all-positive baseline. ``resolution`` says on which
grid frames are scored:

* ``"model"`` — the model's output frames against majority-vote truth on that grid (0.512 s at stride 16);
* ``"upsampled"`` — the thesis' scoring: every output frame repeated ``total_stride`` times (its
  "upscaling"), scored against truth on the 32-ms input frames, so a large stride pays for its coarse
  boundaries (Table 3.5);
* ``"frame"`` — the thesis' "patching": the network run on ``total_stride`` shifted inputs, 32-ms frames.

Beyond the thesis, always: the DCASE segment-based F1 and error rate (1-s segments) of the thresholded
frames turned into events (:func:`segment_scores`); with ``events=True`` (:mod:`.events`) also the
event-based F1 with a 1-s onset collar (sed_eval) and PSDS (sed_scores_eval) of the frame scores.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.events import events_to_frames
from ..errors import Clip2FrameError
from ..infer.predict import frames_from_features
from ..results.activations import FrameActivations
from ..timebase import RESOLUTIONS, frame_boundaries
from .events import event_metrics
from .metrics import evaluate_clips, evaluate_frames
from .segments import segment_f1


def standardised(tagger_or_std, feats: np.ndarray, device="cpu") -> torch.Tensor:
    """Features [S, M, T] of one clip standardised (a tagger's or a bare standardizer's statistics), as a [1, S, M,
    T] tensor on ``device``."""
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
        bounds = frame_boundaries(fr.shape[0], step_s)
        out.append(events_to_frames([e for e in ev if e.label in labels], labels, bounds))
    return out


def evaluate_split(net, std, data, labels: list[str], thresholds: np.ndarray, *, spec, resolution: str = "model",
                   events: bool = False, device="cpu", subsets: dict[str, list[str]] | None = None
                   ) -> dict[str, float]:
    """Every clip- and frame-level score the split's truth allows, as one flat dict (and the event-level
    scores of :func:`split_event_metrics` when ``events``). ``subsets``: name -> labels; adds the frame
    scores over those labels only as ``<name>_<key>`` (e.g. ``thesis9_frame_micro_f1``)."""
    if resolution not in RESOLUTIONS:
        raise Clip2FrameError(f"resolution: expected one of {', '.join(RESOLUTIONS)}, got '{resolution}'")
    clip_scores, frames = split_outputs(net, std, data, resolution="frame" if resolution == "frame" else "model",
                                        device=device)
    out = evaluate_clips(data.clip_labels, clip_scores, labels=labels)
    if data.events is not None:
        hop_s = spec.hop_length / spec.sr
        step = hop_s * (net.total_stride if resolution == "model" else 1)
        scored = frames
        if resolution == "upsampled":
            scored = [np.repeat(fr, net.total_stride, axis=0)[:f.shape[-1]] for fr, f in zip(frames, data.feats)]
        truth = frame_truth_at(data, labels, scored, step)
        y, sc = np.concatenate(truth), np.concatenate(scored)
        out.update(evaluate_frames(y, sc, thresholds, labels=labels))
        for name, subset in (subsets or {}).items():
            cols = [labels.index(lab) for lab in subset if lab in labels]
            if cols:
                sub = evaluate_frames(y[:, cols], sc[:, cols], np.asarray(thresholds)[cols])
                out.update({f"{name}_{k}": v for k, v in sub.items()})
                out[f"{name}_n_labels"] = float(len(cols))
        # events come from the computed frames (up-sampling repeats frames: the same events)
        ev_step = hop_s * (1 if resolution == "frame" else net.total_stride)
        out.update(segment_scores(data, labels, frames, thresholds, ev_step, clip_s=hop_s))
        if events:
            out.update(split_event_metrics(data, labels, frames, ev_step, thresholds, hop_s))
    return out


def segment_scores(data, labels: list[str], frames: list[np.ndarray], thresholds: np.ndarray, step_s: float, *,
                   clip_s: float, segment_s: float = 1.0) -> dict[str, float]:
    """``segment_f1``, ``segment_macro_f1``, ``segment_error_rate``: the events of the thresholded
    ``frames`` (step ``step_s``) against the split's events, in ``segment_s`` segments (DCASE,
    :func:`~clip2frame.eval.segments.segment_f1`); a clip lasts its feature frames × ``clip_s`` seconds."""
    reference, estimated, durations = {}, {}, {}
    for i, (ev, fr, feats) in enumerate(zip(data.events, frames, data.feats)):
        acts = FrameActivations(list(labels), fr, frame_boundaries(fr.shape[0], step_s), thresholds)
        reference[str(i)] = [e for e in ev if e.label in labels]
        estimated[str(i)] = acts.to_events()
        durations[str(i)] = feats.shape[-1] * clip_s
    seg = segment_f1(reference, estimated, labels=labels, segment_s=segment_s, durations=durations)
    return {"segment_f1": seg["micro_f1"], "segment_macro_f1": seg["macro_f1"],
            "segment_error_rate": seg["error_rate"]}


def split_event_metrics(data, labels: list[str], frames: list[np.ndarray], step_s: float, thresholds,
                        hop_s: float, **kw) -> dict[str, float]:
    """:func:`clip2frame.eval.events.event_metrics` of a loaded split: ``frames`` its per-clip frame scores
    on a grid of ``step_s`` seconds; clip ``i`` lasts ``T_i · hop_s`` seconds (its input frames), the last
    frame boundary clipped to that."""
    ref, scores, durations = {}, {}, {}
    for cid, ev, fr, f in zip(data.clip_ids, data.events, frames, data.feats):
        dur = f.shape[-1] * hop_s
        ref[cid] = [e for e in ev if e.label in labels]
        scores[cid] = (frame_boundaries(fr.shape[0], step_s, duration_s=dur), fr)
        durations[cid] = dur
    return event_metrics(ref, scores, thresholds, labels, durations, **kw)
