"""Detect instrument-playing actions in video files: the video detector of the one inference pipeline.

:func:`detect_video` runs the loaded :class:`VideoDetector` on one video and returns
:class:`~clip2frame.results.activations.FrameActivations` like audio tagging does: ``probs`` [T, K] are the
frame scores (:func:`clip2frame.video.inference.fusion.frame_scores`: the fused map's spatial max as the geometric mean
of its streams), thresholded into events; ``maps`` hold ``action`` / ``object`` / ``fused`` [T, K, h, w] and
``sound`` [T, K]. Frames and flow are streamed (:func:`clip2frame.video.inference.flow.iter_model_inputs`) in batches
of ``batch_size`` output frames, and the sound stream goes through :func:`clip2frame.infer.predict.predict`,
so memory does not grow with the video's length.

:func:`detect_files` is ``clip2frame detect``: the batch of :func:`clip2frame.infer.batch.tag_files`
(discovery, resume, ``--shard``, failures.tsv, exit codes, the combined events.tsv, atomic writes, progress)
with this detector; heat maps (``<key>.heatmaps.npz``) and the overlay (``<key>.overlay.mp4``) are writer
formats of :mod:`clip2frame.results.writers`.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..._version import __version__
from ...errors import ConfigError
from ...infer.batch import tag_files
from ...infer.options import TagOptions
from ...infer.predict import predict
from ...models.io import load_model, load_visual_model, weights_sha256
from ...results.activations import FrameActivations
from ...tags import VIDEO_INSTRUMENTS, VIDEO_KIND
from ...timebase import frame_boundaries
from .flow import iter_model_inputs
from .fusion import FUSIONS, frame_scores, fuse
from .io import FRAME_DURATION_S, OUTPUT_STRIDE, n_output_frames, probe_video, read_frames_at
from .overlay import write_overlay_format  # noqa: F401 - registers the overlay format
from .predict import VISUAL_BATCH, fit_len, predict_visual

log = logging.getLogger(__name__)

#: Seconds of audio per chunk of the sound stream.
SOUND_CHUNK_S = 60.0
#: What ``clip2frame detect`` writes per video unless told otherwise.
DETECT_FORMATS: tuple[str, ...] = ("events", "heatmaps", "overlay")


@dataclass
class VideoDetector:
    """The loaded models of a detection: an action model, optionally object and sound models, their fusion.

    ``threshold`` is the event threshold on the frame score (one for every instrument)."""

    action: Any                      # VisualModel (kind action)
    object: Any = None               # VisualModel (kind object) or None
    sound: Any = None                # TaggerModel (kind sound) or None
    fusion: str = "A"
    threshold: float = 0.5
    labels: list[str] = field(default_factory=lambda: list(VIDEO_INSTRUMENTS))
    name: str = "clip2frame-video"
    version: str = __version__
    kind: str = "video"

    @property
    def weights_sha256(self) -> str:
        """The detection's identity for provenance: SHA-256 of its streams' weight hashes
        (:func:`clip2frame.models.io.weights_sha256`), the fusion and the threshold."""
        parts = [f"{s}={weights_sha256(m) if m is not None else '-'}" for s, m in
                 (("action", self.action), ("object", self.object), ("sound", self.sound))]
        parts += [f"fusion={self.fusion}", f"threshold={float(self.threshold)!r}"]
        return hashlib.sha256(";".join(parts).encode("utf-8")).hexdigest()


def _use(spec: Any) -> bool:
    return spec is not None and str(spec).lower() not in ("", "none")


def load_detector(*, action: Any = "default", object: Any = "default", sound: Any = "default",
                  fusion: str | None = None, threshold: float = 0.5, device: str = "cpu") -> VideoDetector:
    """Load the models of a detection: ``"default"`` (the packaged model of that kind), a model file or a run
    directory, or ``None``/``"none"`` to leave a stream out (``action`` is required).

    ``fusion`` defaults to every stream loaded (``A*O*S`` with the defaults).

    Raises
    ------
    ConfigError, ModelFileError
        A fusion that needs a stream left out, a bad threshold, a missing or wrong-kind model file, a sound
        model whose frames are not the video time base's.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold {threshold}: must be in [0, 1]")
    if not _use(action):
        raise ConfigError("--action: the action model is required")
    if fusion is not None and fusion not in FUSIONS:
        raise ConfigError(f"--fusion {fusion}: expected one of {', '.join(FUSIONS)}")
    if fusion is not None:  # refuse before loading anything
        for stream, spec, what in (("O", object, "--object"), ("S", sound, "--sound")):
            if stream in fusion and not _use(spec):
                raise ConfigError(f"--fusion {fusion}: needs the {what[2:]} model ({what} none was given)")
    a = load_visual_model(action, kind="action", device=device)
    o = load_visual_model(object, kind="object", device=device) if _use(object) else None
    s = load_model(sound, kind="sound", device=device) if _use(sound) else None
    if s is not None and s.frame_seconds != FRAME_DURATION_S:
        raise ConfigError(f"{s.path}: a sound model of {s.frame_seconds:g}-s frames (total stride {s.total_stride}); "
                          f"the video time base is the sound preset's {FRAME_DURATION_S:g} s (stride {OUTPUT_STRIDE})")
    if fusion is None:
        fusion = "A" + ("*O" if o is not None else "") + ("*S" if s is not None else "")
    labels = list(a.labels)
    for m in (o, s):
        if m is not None and list(m.labels) != labels:
            raise ConfigError(f"{m.path}: labels {list(m.labels)} differ from the action model's {labels}")
    return VideoDetector(a, o if "O" in fusion else None, s if "S" in fusion else None, fusion, threshold, labels)


def detect_video(path: str | Path, *, model: VideoDetector, device: str = "cpu", batch_size: int = VISUAL_BATCH,
                 **_: Any) -> Any:
    """Detect playing instruments in one video -> :class:`~clip2frame.results.activations.FrameActivations`.

    The number of output frames T is the audio track's (``ceil((1 + N // 512) / 16)``) when the sound model
    is used, else the video stream's duration's. A video without an audio track is detected without the
    sound stream (warning; its fusion, in ``meta``, then lacks ``S``).

    Parameters
    ----------
    path : a video file.
    model : the loaded :class:`VideoDetector`.
    batch_size : output frames per forward pass of the visual models (results do not depend on it).

    Raises
    ------
    VideoError, AudioError
        The file cannot be decoded (one line naming it).
    """
    p = Path(path)
    info = probe_video(p)
    fusion = model.fusion
    S = None
    if model.sound is not None and not info.has_audio:
        log.warning("%s: no audio track; detected without the sound stream", p)
        fusion = fusion.replace("*S", "")
    use_o = "O" in fusion and model.object is not None
    # The sound stream first (streamed in chunks), then the visual one, whose frames are decoded and flow
    # computed in a producer thread while this one runs the networks (OpenCV, PyAV and torch release the
    # GIL). Running the two streams side by side is faster still, but the sound's memory would add to the
    # visual's (measured: 16% more peak memory at 10 minutes than at 1).
    if "S" in fusion:
        S, duration = _sound_stream(p, model.sound, device)
    else:
        duration = info.duration_s
    if not duration or duration <= 0:  # the container does not say: decode once to find out
        _none, duration = read_frames_at(p, np.zeros(0))
    T = max(1, n_output_frames(duration))
    A, O, frame_size = _visual_streams(p, model, T, use_o=use_o, batch_size=batch_size)
    A = A[:T]
    O = O[:T] if O is not None else None
    S = fit_len(S, T, what=f"{p}: sound stream") if S is not None else None
    M = fuse(A, O=O, S=S, method=fusion)
    probs = frame_scores(M, fusion).astype(np.float32)
    bounds = frame_boundaries(T, FRAME_DURATION_S, duration_s=duration)
    maps = {"action": A, "fused": M}
    if O is not None:
        maps["object"] = O
    if S is not None:
        maps["sound"] = S
    meta = {"model": model.name, "model_version": model.version, "fusion": fusion, "frame_size": list(frame_size),
            "duration": duration, "models": {k: str(getattr(getattr(model, k), "path", "") or "")
                                             for k in ("action", "object", "sound") if getattr(model, k) is not None}}
    return FrameActivations(list(model.labels), probs, bounds, np.full(len(model.labels), model.threshold, np.float32),
                            {lab: VIDEO_KIND for lab in model.labels}, str(p), meta, maps)


def _sound_stream(path: Path, sound: Any, device: str) -> tuple[np.ndarray, float]:
    """S [T, K] of the video's audio track and the track's duration (s), through infer.predict."""
    # chunks of a minute: memory stays flat in the length (the result does not depend on chunk_s)
    acts = predict(path, model=sound, device=device, chunk_s=SOUND_CHUNK_S)
    return acts.probs, float(acts.duration)


def _visual_streams(path: Path, model: VideoDetector, n_frames: int, *, use_o: bool, batch_size: int
                    ) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Action maps A [T, K, h, w] (and object maps O when ``use_o``) of output frames ``0 … n_frames-1``, and the
    frame size (H, W). The inputs are decoded and their flow computed in a producer thread, in batches of
    ``batch_size`` frames at most two batches ahead of the networks, so memory holds a few batches."""
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            batch: list = []
            for _t, rgb, stack in iter_model_inputs(path, n_frames, rgb=use_o, flow=True):
                batch.append((rgb, stack))
                if len(batch) >= batch_size:
                    put(batch)
                    batch = []
                if stop.is_set():
                    return
            if batch:
                put(batch)
            put(None)
        except BaseException as e:  # handed to the consumer, which raises it
            put(e)

    A_parts: list[np.ndarray] = []
    O_parts: list[np.ndarray] = []
    frame_size: tuple[int, int] | None = None
    producer = threading.Thread(target=produce, name="clip2frame-frames", daemon=True)
    producer.start()
    try:
        while True:
            item = q.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            stacks = np.stack([st for _, st in item])
            frame_size = (int(stacks.shape[2]), int(stacks.shape[3]))
            A_parts.append(predict_visual(model.action, stacks, batch=batch_size))
            if use_o:
                O_parts.append(predict_visual(model.object, np.stack([r for r, _ in item]), batch=batch_size))
    finally:
        stop.set()
        producer.join()
    assert frame_size is not None  # n_frames >= 1 stacks were read
    return np.concatenate(A_parts), (np.concatenate(O_parts) if use_o else None), frame_size


def _pass_path(path: Any, **_: Any) -> Any:
    """The batch's "decoder" for videos: the path itself (the detector streams from the file)."""
    return Path(path)


def detect_files(inputs: Sequence[str | Path], *, out_dir: str | Path, action: Any = "default",
                 object: Any = "default", sound: Any = "default", fusion: str | None = None, threshold: float = 0.5,
                 formats: Any = DETECT_FORMATS, min_duration: float = 0.0, merge_gap: float = 0.0,
                 device: str = "auto", batch_size: int = VISUAL_BATCH, overwrite: bool = False,
                 shard: Any = None, progress: bool = False, result_hook: Any = None, on_result: Any = None) -> Any:
    """``clip2frame detect``: every input video -> its outputs in a tree mirroring the inputs under ``out_dir``.

    The batch is :func:`clip2frame.infer.batch.tag_files` (see there: resume, shards, failures.tsv, the
    combined events.tsv, exit code 1 when a video failed); the detector is loaded once, before anything is
    written, and only when some video is still to do. ``result_hook``: the batch's
    (:class:`~clip2frame.infer.options.ResultHook`). Returns the :class:`~clip2frame.infer.batch.BatchReport`.
    """
    def load(_model: Any, *, device: str) -> VideoDetector:
        return load_detector(action=action, object=object, sound=sound, fusion=fusion, threshold=threshold,
                             device=device)

    options = TagOptions(model="video detector", formats=formats, min_duration=min_duration, merge_gap=merge_gap,
                         device=device, batch_size=batch_size, jobs=0, overwrite=overwrite, shard=shard,
                         progress=progress, progress_desc="detecting")
    return tag_files(inputs, out_dir=out_dir, options=options, on_result=on_result, result_hook=result_hook,
                     load_model_fn=load, predict_fn=detect_video, load_audio_fn=_pass_path)
