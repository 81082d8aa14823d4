"""The caches of a video corpus for training and evaluation, one memory-mapped float16 ``.npy`` per video,
written and read through the trainers' per-clip cache (:func:`clip2frame.train.data.cache_clips`: atomic
writes, resumable, worker processes, ``.skip`` files for videos that cannot be decoded): flow stacks
[T, 10, H, W] (action model, :func:`cache_flows`) and the log-mel features [S, M, T] of the audio track
(sound model, :func:`cache_sound_features`). This module owns what is video-specific: the arrays
(:class:`FlowClip`, :class:`SoundClip`) and the file names, ``<cache_dir>/<stem>.<key>.flow.npy`` with the key
hashed from file, size, mtime, flow parameters and resolution (:func:`cache_key`), and
``<cache_dir>/<stem>.<key>.logmel.npy`` (key: file, size, mtime and feature spec). Inference does not cache:
it streams (:func:`clip2frame.video.inference.flow.iter_model_inputs`).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ...audio.features import FeatureSpec, MultiScaleLogMel
from ...config import to_dict
from ...errors import Clip2FrameError
from ...train.data import CachedClips, cache_clips
from ..inference.flow import FLOW_CHANNELS, FlowParams, flow_stacks
from ..inference.io import FLOW_RATE_FACTOR, decode_video, load_video_audio

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
    """Where :func:`cache_flows` caches the flow of ``path`` under ``cache_dir``."""
    return Path(cache_dir) / f"{Path(path).stem}.{cache_key(path, params)}.flow.npy"


class FlowClip:
    """The flow cache's clip array: ``FlowClip(params)((path, duration_s or None))`` -> flow stacks
    [T, 10, H, W] float16 of the video file (T output frames, ``duration_s`` fixing T when given)."""

    def __init__(self, params: FlowParams = FlowParams()):
        self.params = params

    def __call__(self, source: tuple[str, float | None]) -> np.ndarray:
        path, duration_s = source
        dv = decode_video(path, with_flow_frames=True, duration_s=duration_s)
        assert dv.flow_frames is not None  # decoded with_flow_frames
        return flow_stacks(dv.flow_frames, dv.n_frames, params=self.params).astype(np.float16)


def cache_flows(videos: list[tuple[str | Path, float | None]], *, cache_dir: str | Path,
                params: FlowParams = FlowParams(), jobs: int = 1) -> CachedClips:
    """The cached flow of every ``(path, duration_s or None)``, computing those not cached yet in ``jobs``
    processes (flow is the costliest step of action training: ~1 s per 8-s video on one core).

    Returns
    -------
    clip2frame.train.data.CachedClips
        Clip ids = the paths as given (``str``); ``feats[i]`` the memory-mapped [T_i, 10, H, W] float16 of
        the i-th kept video; ``skipped`` the videos that could not be decoded, with the reason.
    """
    todo = [(str(p), (str(p), d), flow_cache_file(p, cache_dir, params)) for p, d in videos]
    got = cache_clips(todo, FlowClip(params), shape=(None, FLOW_CHANNELS, None, None), time_axis=0,
                      jobs=max(1, min(jobs, len(todo))), progress=False, desc="optical flow")
    for path, why in got.skipped:
        log.warning("skipped %s: %s", path, why)
    return got


def video_flow(path: str | Path, *, cache_dir: str | Path | None = None, params: FlowParams = FlowParams(),
               duration_s: float | None = None) -> np.ndarray:
    """Flow stacks [T, 10, H, W] (float32) of a video file, read from / written to ``cache_dir``."""
    return cached_flow(path, cache_dir=cache_dir, params=params, duration_s=duration_s).astype(np.float32)


def cached_flow(path: str | Path, *, cache_dir: str | Path | None = None, params: FlowParams = FlowParams(),
                duration_s: float | None = None) -> np.ndarray:
    """Flow stacks [T, 10, H, W] as float16, the cache's precision: a read-only memory map of the cached
    file (computed first when missing), or computed in memory when ``cache_dir`` is None. A video that
    cannot be decoded raises :class:`~clip2frame.errors.Clip2FrameError` naming it."""
    if cache_dir is None:
        return FlowClip(params)((str(path), duration_s))
    got = cache_flows([(path, duration_s)], cache_dir=cache_dir, params=params)
    if got.skipped:
        raise Clip2FrameError(got.skipped[0][1])
    return got.feats[0]


def sound_cache_file(path: str | Path, cache_dir: str | Path, spec: FeatureSpec) -> Path:
    """Where :func:`cache_sound_features` caches the log-mel features of ``path``'s audio track."""
    p = Path(path).resolve()
    st = p.stat()
    blob = json.dumps({"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "spec": to_dict(spec)},
                      sort_keys=True)
    return Path(cache_dir) / f"{Path(path).stem}.{hashlib.sha256(blob.encode()).hexdigest()[:24]}.logmel.npy"


class SoundClip:
    """The sound cache's clip array: ``SoundClip(spec)(path)`` -> log-mel [S, M, T] float16 of the video's
    audio track (:func:`~clip2frame.video.inference.io.load_video_audio` at ``spec.sr``, then
    :class:`~clip2frame.audio.features.MultiScaleLogMel`)."""

    def __init__(self, spec: FeatureSpec):
        self.spec = spec

    def __call__(self, path: str) -> np.ndarray:
        wave = load_video_audio(path, sr=self.spec.sr)
        with torch.no_grad():
            f = MultiScaleLogMel(self.spec)(torch.from_numpy(wave)[None])[0]
        return f.numpy().astype(np.float16)


def cache_sound_features(videos: list[str | Path], *, cache_dir: str | Path, spec: FeatureSpec,
                         jobs: int = 1) -> CachedClips:
    """The cached log-mel features [S, M, T_i] of every video's audio track (clip ids: the paths as given),
    computing those not cached yet in ``jobs`` processes; videos without a readable audio track skipped."""
    todo = [(str(p), str(p), sound_cache_file(p, cache_dir, spec)) for p in videos]
    got = cache_clips(todo, SoundClip(spec), shape=(spec.n_scales, spec.n_bands, None), time_axis=-1,
                      jobs=max(1, min(jobs, len(todo))), progress=False, desc="sound features")
    for path, why in got.skipped:
        log.warning("skipped %s: %s", path, why)
    return got
