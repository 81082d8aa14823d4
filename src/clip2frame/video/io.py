"""Video decoding on the shared time base (thesis §4.2.2).

Output frame ``t`` of every model (sound, object, action) covers ``[t·d, (t+1)·d)`` with
``d = 16·512/16000 = 0.512 s`` (1.953125 frames/s). Frames are picked **by timestamp**, so variable
frame rates, any size and any aspect ratio work:

* RGB frame ``t`` is the picture on screen at the centre of output frame ``t``: ``(t + 0.5)·d``;
* flow frames are sampled at 4× that rate, at ``k·d/4`` (7.8125 frames/s); flow frame ``4t + 2`` is the
  RGB frame's instant, so the stack of 5 flows ``4t … 4t+4`` (two before, the frame's own, two after —
  thesis §4.2.2) is centred on it.

Every picture is resized so that its long side is 256 pixels (aspect ratio kept). Rotation side-data
is not applied.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AudioError, Clip2FrameError, VideoError
from ..timebase import HOP_LENGTH, SAMPLE_RATE

log = logging.getLogger(__name__)

OUTPUT_STRIDE = 16
FRAME_DURATION_S = OUTPUT_STRIDE * HOP_LENGTH / SAMPLE_RATE  # 0.512 s
OUTPUT_FPS = 1.0 / FRAME_DURATION_S  # 1.953125 frames/s
FLOW_RATE_FACTOR = 4
FLOW_FPS = OUTPUT_FPS * FLOW_RATE_FACTOR  # 7.8125 frames/s
LONG_SIDE = 256


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about a video."""

    path: str
    width: int
    height: int
    duration_s: float
    has_audio: bool
    average_fps: float | None


def n_output_frames(duration_s: float) -> int:
    """Output frames of the sound model for ``duration_s`` of audio: ``ceil((1 + N // 512) / 16)``."""
    n_samples = int(math.floor(duration_s * SAMPLE_RATE + 1e-6))
    return int(math.ceil((1 + n_samples // HOP_LENGTH) / OUTPUT_STRIDE))


def rgb_times(n_frames: int) -> np.ndarray:
    """Instants (s) of the RGB frames [n_frames]: the centres of the output frames."""
    return (np.arange(n_frames) + 0.5) * FRAME_DURATION_S


def flow_times(n_frames: int) -> np.ndarray:
    """Instants (s) of the flow frames [4·n_frames + 2]; flow ``k`` goes from frame ``k`` to ``k+1``."""
    return np.arange(FLOW_RATE_FACTOR * n_frames + 2) * (FRAME_DURATION_S / FLOW_RATE_FACTOR)


def resized_size(width: int, height: int, *, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """(width, height) after scaling the long side to ``long_side`` (each at least 1 pixel)."""
    scale = long_side / max(width, height)
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def _open(path: Path):
    import av

    if not path.is_file():
        raise VideoError(path, "file not found")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as e:
        raise VideoError(path, f"cannot open as a video ({type(e).__name__}: {e})") from None


def probe_video(path: str | Path) -> VideoInfo:
    """Size, duration and audio presence of a video, from its container."""
    p = Path(path)
    with _open(p) as c:
        if not c.streams.video:
            raise VideoError(p, "no video stream")
        vs = c.streams.video[0]
        dur = None
        if vs.duration is not None and vs.time_base is not None:
            dur = float(vs.duration * vs.time_base)
        if not dur and c.duration is not None:
            dur = c.duration / 1e6
        fps = float(vs.average_rate) if vs.average_rate else None
        return VideoInfo(str(p), int(vs.codec_context.width), int(vs.codec_context.height), float(dur or 0.0),
                         bool(c.streams.audio), fps)


@dataclass
class DecodedVideo:
    """Frames of one video on the model time base.

    Attributes
    ----------
    path : str
    duration_s : float              duration of the video stream (last frame end) in seconds.
    n_frames : int                  T, number of output frames.
    rgb : np.ndarray [T, H, W, 3]   uint8 RGB at ``rgb_times(T)``, long side 256.
    flow_frames : np.ndarray | None [4T+2, H, W, 3] uint8 RGB at ``flow_times(T)`` (when asked for).
    frame_size : tuple[int, int]    (H, W) of the resized frames.
    """

    path: str
    duration_s: float
    n_frames: int
    rgb: np.ndarray
    flow_frames: np.ndarray | None
    frame_size: tuple[int, int]

    @property
    def times(self) -> np.ndarray:
        return rgb_times(self.n_frames)


def read_frames_at(path: str | Path, times_s: np.ndarray, *, long_side: int = LONG_SIDE
                   ) -> tuple[np.ndarray, float]:
    """The pictures on screen at ``times_s`` (sorted, seconds), resized to ``long_side``.

    The frame shown at time τ is the last decoded frame whose timestamp is ≤ τ (the first frame for τ
    before it, the last frame for τ after the end), so any (variable) frame rate works.

    Returns
    -------
    frames : np.ndarray [N, H, W, 3] uint8
    duration_s : float   end of the last frame (its timestamp + its duration, or + the mean spacing).
    """
    import av

    p = Path(path)
    times = np.asarray(times_s, dtype=np.float64)
    if times.size and np.any(np.diff(times) < 0):
        raise ValueError("read_frames_at: times_s must be sorted")
    out: list[np.ndarray | None] = [None] * len(times)
    with _open(p) as c:
        if not c.streams.video:
            raise VideoError(p, "no video stream")
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        w0, h0 = int(vs.codec_context.width), int(vs.codec_context.height)
        if w0 <= 0 or h0 <= 0:
            raise VideoError(p, "video stream has no picture size")
        w, h = resized_size(w0, h0, long_side=long_side)

        def convert(fr) -> np.ndarray:
            return fr.to_ndarray(format="rgb24", width=w, height=h)

        i = 0
        prev = None
        prev_arr: np.ndarray | None = None
        n_decoded = 0
        first_t = last_t = None
        try:
            for fr in c.decode(vs):
                t = fr.time if fr.time is not None else (n_decoded / float(vs.average_rate or 25))
                n_decoded += 1
                if first_t is None:
                    first_t = t
                last_t = t
                # Targets before this frame's timestamp are shown by the previous frame (or this one
                # when nothing came before).
                while i < len(times) and times[i] < t:
                    if prev is None:
                        prev_arr = convert(fr)
                        out[i] = prev_arr
                    else:
                        if prev_arr is None:
                            prev_arr = convert(prev)
                        out[i] = prev_arr
                    i += 1
                prev, prev_arr = fr, None
        except av.FFmpegError as e:
            if n_decoded == 0:
                raise VideoError(p, f"corrupt video stream ({e})") from None
            log.warning("%s: decoding stopped after %d frames (%s)", p, n_decoded, e)
        if n_decoded == 0 or prev is None:
            raise VideoError(p, "video stream holds zero frames")
        last_arr = convert(prev)
        while i < len(times):
            out[i] = last_arr
            i += 1
        assert first_t is not None and last_t is not None  # set with the first decoded frame (n_decoded > 0)
        step = (last_t - first_t) / max(n_decoded - 1, 1) if n_decoded > 1 else 1.0 / float(vs.average_rate or 25)
        duration = float(last_t + step)
    if not out:
        return np.zeros((0, h, w, 3), np.uint8), duration
    return np.stack(out), duration  # type: ignore[arg-type]


def decode_video(path: str | Path, *, with_flow_frames: bool = True, long_side: int = LONG_SIDE,
                 duration_s: float | None = None) -> DecodedVideo:
    """Decode ``path`` into RGB frames at 1.953 fps (and flow frames at 7.8 fps) in one pass.

    ``duration_s`` fixes the number of output frames (e.g. to the audio track's); by default it is the
    video stream's duration from the container, or the decoded one when the container has none.
    """
    p = Path(path)
    info = probe_video(p)
    dur = duration_s if duration_s is not None else info.duration_s
    if not dur or dur <= 0:
        # Unknown container duration: decode once to find it.
        _, dur = read_frames_at(p, np.zeros(0), long_side=long_side)
    T = max(1, n_output_frames(dur))
    rt = rgb_times(T)
    if with_flow_frames:
        ft = flow_times(T)
        all_t = np.unique(np.concatenate([rt, ft]))
    else:
        all_t = rt
    frames, real_dur = read_frames_at(p, all_t, long_side=long_side)
    idx = {round(float(t), 9): k for k, t in enumerate(all_t)}
    rgb = frames[[idx[round(float(t), 9)] for t in rt]]
    flow_frames = frames[[idx[round(float(t), 9)] for t in flow_times(T)]] if with_flow_frames else None
    return DecodedVideo(str(p), float(dur), T, rgb, flow_frames, (int(rgb.shape[1]), int(rgb.shape[2])))


def load_video_audio(path: str | Path, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The audio track of a video as mono float32 at ``sr`` [N] (:func:`clip2frame.audio.io.load_audio`).

    Raises :class:`AudioError` naming the file when there is no audio stream.
    """
    from ..audio.io import load_audio

    p = Path(path)
    info = probe_video(p)
    if not info.has_audio:
        raise AudioError(p, "video has no audio track (the sound model needs one)")
    wave = np.asarray(load_audio(p, sr=sr, mono=True), dtype=np.float32)
    if wave.size == 0:
        raise AudioError(p, "audio track holds zero samples")
    return wave


__all__ = [
    "FRAME_DURATION_S", "OUTPUT_FPS", "FLOW_FPS", "LONG_SIDE", "VideoError", "VideoInfo", "DecodedVideo",
    "n_output_frames", "rgb_times", "flow_times", "resized_size", "probe_video", "read_frames_at",
    "decode_video", "load_video_audio", "Clip2FrameError",
]
