"""Video decoding on the shared time base (thesis §4.2.2).

Output frame ``t`` of every model (sound, object, action) covers ``[t·d, (t+1)·d)`` with
``d = s·512/16000 = 0.512 s`` (1.953125 frames/s), ``s = 16`` the total stride of the sound model
(preset :data:`clip2frame.models.registry.SOUND_PRESET`): the video time base is derived from it, not
written again. Frames are picked **by timestamp**, so variable
frame rates, any size and any aspect ratio work:

* RGB frame ``t`` is the picture on screen at the centre of output frame ``t``: ``(t + 0.5)·d``;
* flow frames are sampled at 4× that rate, at ``k·d/4`` (7.8125 frames/s); flow frame ``4t + 2`` is the
  RGB frame's instant, so the stack of 5 flows ``4t … 4t+4`` (two before, the frame's own, two after —
  thesis §4.2.2) is centred on it.

Every picture is resized so that its long side is 256 pixels (aspect ratio kept) and turned upright by
the rotation metadata (display matrix side data, else the stream's ``rotate`` tag). Frames are decoded
one at a time (:func:`iter_frames_at`), so reading needs memory for a frame, not for the video.

:func:`write_mp4` is the one MP4 (H.264 + AAC) writer: corpus videos and detection overlays.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from ...audio.io import load_audio
from ...errors import AudioError, Clip2FrameError, VideoError
from ...fileio import atomic_path
from ...models.registry import SOUND_PRESET, get_preset
from ...timebase import SAMPLE_RATE, frame_seconds, n_frames, output_frames

log = logging.getLogger(__name__)

#: Input frames per output frame of every video stream: the sound model's total stride (16).
OUTPUT_STRIDE = get_preset(SOUND_PRESET).model.total_stride
FRAME_DURATION_S = frame_seconds(OUTPUT_STRIDE)  # 0.512 s
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
    """Output frames of the sound model for ``duration_s`` of audio: ``ceil((1 + N // 512) / 16)``
    (:func:`clip2frame.timebase.output_frames` of :func:`clip2frame.timebase.n_frames`)."""
    n_samples = int(math.floor(duration_s * SAMPLE_RATE + 1e-6))
    return output_frames(n_frames(n_samples), OUTPUT_STRIDE)


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
        """Time (s) of every decoded frame, shape [n_frames] (:func:`rgb_times`)."""
        return rgb_times(self.n_frames)


def display_turns(frame, stream) -> int:
    """Quarter turns counter-clockwise that show ``frame`` upright: the frame's display matrix
    (``VideoFrame.rotation``, counter-clockwise degrees), else the stream's ``rotate`` tag (clockwise)."""
    rot = float(getattr(frame, "rotation", 0) or 0)
    if not rot:
        try:
            rot = -float((stream.metadata or {}).get("rotate", 0) or 0)
        except (TypeError, ValueError):
            rot = 0.0
    return int(round(rot / 90.0)) % 4


def iter_frames_at(path: str | Path, times_s: np.ndarray, *, long_side: int = LONG_SIDE,
                   info: dict | None = None) -> Iterator[np.ndarray]:
    """The pictures on screen at ``times_s`` (sorted, seconds), one at a time, decoded in one pass.

    The frame shown at time τ is the last decoded frame whose timestamp is ≤ τ (the first frame for τ
    before it, the last frame for τ after the end), so any (variable) frame rate works. Pictures are
    resized so that their long side is ``long_side`` and turned upright by the rotation metadata
    (:func:`display_turns`). At most two decoded frames are held, whatever the video's length.

    Yields
    ------
    np.ndarray [H, W, 3] uint8, one per time (the same array for times that show the same frame).

    When the generator is exhausted, ``info`` (if given) holds ``duration_s`` (end of the last frame: its
    timestamp + the mean frame spacing) and ``n_decoded``.
    """
    p = Path(path)
    times = np.asarray(times_s, dtype=np.float64)
    if times.size and np.any(np.diff(times) < 0):
        raise ValueError("iter_frames_at: times_s must be sorted")
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
            a = fr.to_ndarray(format="rgb24", width=w, height=h)
            k = display_turns(fr, vs)
            return np.ascontiguousarray(np.rot90(a, k)) if k else a

        i = 0
        prev = None
        prev_arr: np.ndarray | None = None
        n_decoded = 0
        first_t = last_t = None
        frames = c.decode(vs)
        while True:
            try:
                fr = next(frames)
            except StopIteration:
                break
            except av.FFmpegError as e:
                if n_decoded == 0:
                    raise VideoError(p, f"corrupt video stream ({e})") from None
                log.warning("%s: decoding stopped after %d frames (%s)", p, n_decoded, e)
                break
            t = fr.time if fr.time is not None else (n_decoded / float(vs.average_rate or 25))
            n_decoded += 1
            if first_t is None:
                first_t = t
            last_t = t
            # Targets before this frame's timestamp are shown by the previous frame (or this one
            # when nothing came before).
            while i < len(times) and times[i] < t:
                if prev_arr is None:
                    prev_arr = convert(fr if prev is None else prev)
                yield prev_arr
                i += 1
            prev, prev_arr = fr, None
        if n_decoded == 0 or prev is None:
            raise VideoError(p, "video stream holds zero frames")
        if i < len(times):
            last_arr = convert(prev)
            while i < len(times):
                yield last_arr
                i += 1
        assert first_t is not None and last_t is not None  # set with the first decoded frame (n_decoded > 0)
        step = (last_t - first_t) / max(n_decoded - 1, 1) if n_decoded > 1 else 1.0 / float(vs.average_rate or 25)
        if info is not None:
            info.update(duration_s=float(last_t + step), n_decoded=n_decoded)


def read_frames_at(path: str | Path, times_s: np.ndarray, *, long_side: int = LONG_SIDE
                   ) -> tuple[np.ndarray, float]:
    """All pictures of :func:`iter_frames_at` at once.

    Returns
    -------
    frames : np.ndarray [N, H, W, 3] uint8
    duration_s : float   end of the last frame (its timestamp + its duration, or + the mean spacing).
    """
    info: dict = {}
    out = list(iter_frames_at(path, times_s, long_side=long_side, info=info))
    if not out:
        return np.zeros((0, 0, 0, 3), np.uint8), float(info["duration_s"])
    return np.stack(out), float(info["duration_s"])


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
    p = Path(path)
    info = probe_video(p)
    if not info.has_audio:
        raise AudioError(p, "video has no audio track (the sound model needs one)")
    wave = np.asarray(load_audio(p, sr=sr, mono=True), dtype=np.float32)
    if wave.size == 0:
        raise AudioError(p, "audio track holds zero samples")
    return wave


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], *, fps: float, audio: np.ndarray | None,
              sr: int = SAMPLE_RATE, crf: int = 20) -> None:
    """Write RGB frames (iterable of uint8 [H, W, 3]) and mono audio as H.264 + AAC MP4 (atomically)."""
    with atomic_path(path, suffix=".mp4") as tmp:
        with av.open(tmp, "w", format="mp4") as c:
            rate = Fraction(fps).limit_denominator(1001)
            vs = c.add_stream("libx264", rate=rate)
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
            first = True
            as_ = None
            for fr in frames:
                if first:
                    vs.height, vs.width = fr.shape[:2]
                    if audio is not None:
                        as_ = c.add_stream("aac", rate=sr)
                        as_.layout = "mono"
                    first = False
                for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(fr), format="rgb24")):
                    c.mux(pkt)
            for pkt in vs.encode():
                c.mux(pkt)
            if as_ is not None:
                a = np.asarray(audio, np.float32)
                step = 1024
                pts = 0
                for i in range(0, len(a), step):
                    chunk = a[i:i + step]
                    af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    af.sample_rate = sr
                    af.pts = pts
                    pts += len(chunk)
                    for pkt in as_.encode(af):
                        c.mux(pkt)
                for pkt in as_.encode():
                    c.mux(pkt)


__all__ = [
    "FRAME_DURATION_S", "OUTPUT_FPS", "FLOW_FPS", "LONG_SIDE", "VideoError", "VideoInfo", "DecodedVideo",
    "n_output_frames", "rgb_times", "flow_times", "resized_size", "probe_video", "read_frames_at",
    "decode_video", "load_video_audio", "Clip2FrameError", "iter_frames_at", "display_turns", "write_mp4",
]
