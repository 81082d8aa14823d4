"""Detect instrument-playing actions in video files: heat maps (NPZ), DCASE events and an overlay MP4.

Per video ``<stem>``:

* ``<stem>.heatmaps.npz`` — ``times`` [T] (frame onsets, s), ``labels`` [K], ``action``/``object``/``fused``
  [T, K, h, w] float16, ``sound`` [T, K] float16 (absent streams are left out), ``frame_size`` (H, W) of
  the 256-long-side frames, ``fusion`` (the method of ``fused``);
* ``<stem>.events.tsv`` — DCASE ``filename onset offset event_label``: a frame is "playing" when its
  :func:`frame_scores` reach the threshold;
* ``<stem>.overlay.mp4`` — the frames at 1.953 fps with the heat map of the top instrument over them
  (colours relative to the video's maximum) and the top labels with their scores written on top.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..fileio import atomic_save_npz, atomic_write_text
from ..tags import VIDEO_INSTRUMENTS
from .fusion import fuse
from .io import FRAME_DURATION_S, OUTPUT_FPS, decode_video, load_video_audio
from .metrics import upsample_map

log = logging.getLogger(__name__)


@dataclass
class Detection:
    path: str
    times: np.ndarray
    frame_size: tuple[int, int]
    rgb: np.ndarray
    action: np.ndarray
    object: np.ndarray | None
    sound: np.ndarray | None
    fused: np.ndarray
    fusion: str


class Detector:
    """Loaded models; ``detect(path)`` runs them on one video."""

    def __init__(self, action_run, *, object_run=None, sound_run=None, fusion: str | None = None):
        from .train import load_sound_run, load_visual

        self.action, self.action_meta = load_visual(action_run)
        self.object = load_visual(object_run)[0] if object_run else None
        self.sound = load_sound_run(sound_run) if sound_run else None
        if fusion is None:
            fusion = "A" + ("*O" if self.object is not None else "") + ("*S" if self.sound is not None else "")
        if ("O" in fusion and self.object is None) or ("S" in fusion and self.sound is None):
            from ..errors import ConfigError

            raise ConfigError(f"--fusion {fusion}: needs the {'object' if 'O' in fusion else 'sound'} model")
        self.fusion = fusion

    def detect(self, path: str | Path) -> Detection:
        from .flow import flow_stacks
        from .train import _fit_len, predict_sound, predict_visual

        p = Path(path)
        wave = None
        dur = None
        if self.sound is not None:
            wave = load_video_audio(p)
            dur = len(wave) / 16000.0
        dv = decode_video(p, with_flow_frames=True, duration_s=dur)
        T = dv.n_frames
        assert dv.flow_frames is not None  # decoded with_flow_frames
        flow = flow_stacks(dv.flow_frames, T)
        A = predict_visual(self.action, flow)
        O = _fit_len(predict_visual(self.object, dv.rgb), T) if self.object is not None else None
        S = predict_sound(self.sound, wave, T) if self.sound is not None and wave is not None else None
        M = fuse(A, O=O, S=S, method=self.fusion)
        return Detection(str(p), np.arange(T) * FRAME_DURATION_S, dv.frame_size, dv.rgb, A, O, S, M, self.fusion)


def frame_scores(det: Detection) -> np.ndarray:
    """Per-frame score [T, K] of each instrument: the fused map's spatial max, as the geometric mean of its
    streams (the m-th root of a product of m streams).

    A product of m probabilities shrinks with m (three streams at 0.8 give 0.51), so one event threshold
    would mean something else for A, A·O and A·O·S; the root keeps the probability scale and the ranking
    (temporal AUC is unchanged)."""
    n_streams = det.fusion.count("*") + 1
    peak = det.fused.reshape(det.fused.shape[0], det.fused.shape[1], -1).max(-1).astype(np.float64)
    return np.power(np.clip(peak, 0.0, 1.0), 1.0 / n_streams)


def events_of(det: Detection, *, threshold: float = 0.5, filename: str | None = None) -> list[tuple]:
    """DCASE rows (filename, onset, offset, label) from :func:`frame_scores` >= ``threshold``."""
    from ..infer.activations import binary_to_events

    score = frame_scores(det)  # [T, K]
    T = score.shape[0]
    bounds = np.arange(T + 1) * FRAME_DURATION_S
    rows = []
    for k, lab in enumerate(VIDEO_INSTRUMENTS):
        for ev in binary_to_events(score[:, k] >= threshold, bounds, lab):
            rows.append((filename or Path(det.path).name, ev.onset, ev.offset, lab))
    rows.sort(key=lambda r: (r[1], r[3]))
    return rows


def overlay_frames(det: Detection, *, threshold: float = 0.5) -> list[np.ndarray]:
    """RGB frames [H, W, 3] with the top instrument's fused heat map blended in, labels written."""
    import cv2

    out = []
    score = frame_scores(det)
    # colours relative to the video's strongest response, so weak models still show where they look
    norm = max(float(det.fused.max()), 0.05)
    for t in range(len(det.fused)):
        img = det.rgb[t].copy()
        k = int(np.argmax(score[t]))
        hm = np.clip(upsample_map(det.fused[t, k], det.frame_size) / norm, 0, 1)
        hm8 = (hm * 255).astype(np.uint8)
        col = cv2.applyColorMap(hm8, cv2.COLORMAP_JET)[..., ::-1]
        a = (0.55 * hm)[..., None]
        img = (img * (1 - a) + col * a).astype(np.uint8)
        y = 12
        for j in np.argsort(-score[t])[:3]:
            if score[t, j] < threshold * 0.5:
                break
            txt = f"{VIDEO_INSTRUMENTS[j]} {score[t, j]:.2f}"
            colr = (255, 255, 255) if score[t, j] >= threshold else (180, 180, 180)
            cv2.putText(img, txt, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 2, cv2.LINE_AA)
            cv2.putText(img, txt, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colr, 1, cv2.LINE_AA)
            y += 13
        cv2.putText(img, f"{det.times[t]:.2f}s", (3, img.shape[0] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1, cv2.LINE_AA)
        out.append(img)
    return out


def write_detection(det: Detection, out_dir: str | Path, *, threshold: float = 0.5, overlay: bool = True) -> dict:
    """Write ``<stem>.heatmaps.npz``, ``<stem>.events.tsv`` (and ``<stem>.overlay.mp4``); returns the paths."""
    from .synth import write_mp4

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(det.path).stem
    arrays = {"times": det.times.astype(np.float64), "labels": np.array(VIDEO_INSTRUMENTS),
              "action": det.action.astype(np.float16), "fused": det.fused.astype(np.float16),
              "frame_size": np.array(det.frame_size, np.int32), "fusion": np.array(det.fusion)}
    if det.object is not None:
        arrays["object"] = det.object.astype(np.float16)
    if det.sound is not None:
        arrays["sound"] = det.sound.astype(np.float16)
    paths = {"heatmaps": out / f"{stem}.heatmaps.npz", "events": out / f"{stem}.events.tsv"}
    atomic_save_npz(paths["heatmaps"], **arrays)
    rows = events_of(det, threshold=threshold)
    atomic_write_text(paths["events"], "filename\tonset\toffset\tevent_label\n" +
                      "".join(f"{f}\t{a:.3f}\t{b:.3f}\t{lab}\n" for f, a, b, lab in rows))
    if overlay:
        paths["overlay"] = out / f"{stem}.overlay.mp4"
        frames = overlay_frames(det, threshold=threshold)
        h, w = frames[0].shape[:2]
        if h % 2 or w % 2:  # yuv420p needs even sizes
            frames = [np.pad(f, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") for f in frames]
        write_mp4(paths["overlay"], frames, fps=OUTPUT_FPS, audio=None)
    return paths


def detect_videos(paths: Sequence[str | Path], out_dir: str | Path, *, action_run, object_run=None, sound_run=None,
                  fusion: str | None = None, threshold: float = 0.5, overlay: bool = True) -> list[dict]:
    """Run :class:`Detector` on every video and write its outputs; returns the written paths per video."""
    det = Detector(action_run, object_run=object_run, sound_run=sound_run, fusion=fusion)
    return [write_detection(det.detect(p), out_dir, threshold=threshold, overlay=overlay) for p in paths]
