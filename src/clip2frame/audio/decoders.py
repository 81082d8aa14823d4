"""The native-rate readers behind :mod:`clip2frame.audio.io`: an opened file as a :class:`Source` that
yields float32 ``[n, C]`` blocks at the file's own sample rate, between two sample offsets.

* :class:`SoundfileSource` reads what libsndfile decodes (WAV/FLAC/OGG/AIFF/...), seeking exactly;
* :class:`AVSource` reads everything else through PyAV (bundled FFmpeg): compressed audio and the audio track
  of videos; it seeks to a key frame ~2 s before a far offset and places samples by their timestamps, trims
  an mp4's codec padding to the declared length, and reports truncation where the container's length is
  exact (or an mp3 declares its frame count).

Which reader opens a file, and the checks before it (missing, empty, unreadable), are
:mod:`clip2frame.audio.io`'s (``_open``); resampling and down-mixing happen there too. Every decoding
problem raises :class:`clip2frame.errors.AudioError` naming the file.
"""
from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..errors import AudioError

logger = logging.getLogger(__name__)

__all__ = ["Source", "SoundfileSource", "AVSource", "error_line"]

# Container formats whose stream duration is exact (an index), so a shortfall of decoded samples means the
# file is truncated. Formats whose duration is an estimate (mp3, adts, raw streams) are not checked.
_EXACT_DURATION_FORMATS = ("mov", "mp4", "m4a", "3gp", "matroska", "webm", "wav", "aiff", "caf", "w64")
# Of those, the ones whose declared length is sample-accurate and excludes the codec's end padding
# (the mp4 edit list), so decoded audio is trimmed to it.
_TRIM_FORMATS = ("mov", "mp4", "m4a", "3gp")
_NATIVE_BLOCK = 65536  # samples per read at the native rate
_SEEK_MIN_S = 10.0  # offsets past this many seconds seek (compressed formats) instead of decoding through

class Source:
    """An opened file: native rate, channels, (estimated) frame count, and a block iterator."""

    def __init__(self, path: Path, sr: int, channels: int, frames: int | None, exact: bool):
        self.path = path
        self.sr = sr
        self.channels = channels
        self.frames = frames  # None when unknown
        self.exact = exact  # frames is exact (not an estimate)

    def span(self, offset_s: float, duration_s: float | None) -> tuple[int, int | None]:
        """``[start, stop)`` in native samples (``stop`` None: to the end), at the current ``sr``."""
        start = int(round(offset_s * self.sr))
        return start, (None if duration_s is None else start + max(int(round(duration_s * self.sr)), 1))

    def blocks(self, offset_s: float, duration_s: float | None) -> Iterator[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass


class SoundfileSource(Source):
    def __init__(self, path: Path, f):  # f: soundfile.SoundFile
        super().__init__(path, int(f.samplerate), int(f.channels), int(f.frames), exact=True)
        self._f = f
        self.n_frames = int(f.frames)  # exact, never None

    def blocks(self, offset_s: float, duration_s: float | None) -> Iterator[np.ndarray]:
        import soundfile as sf  # lazy: see tests/test_layers.py LAZY_IMPORTS_KEPT (libsndfile load order)

        start, stop = self.span(offset_s, duration_s)
        f = self._f
        end = self.n_frames if stop is None else min(stop, self.n_frames)
        pos = start
        try:
            if start:
                f.seek(start)
            while pos < end:
                n = min(_NATIVE_BLOCK, end - pos)
                x = f.read(n, dtype="float32", always_2d=True)
                if len(x) == 0:
                    raise AudioError(self.path, f"truncated or corrupt data: no samples after {pos / self.sr:.3f} s "
                                                f"of {self.n_frames / self.sr:.3f} s")
                pos += len(x)
                yield x
        except (sf.LibsndfileError, RuntimeError) as e:
            if isinstance(e, AudioError):
                raise
            raise AudioError(self.path, f"corrupt or truncated data after {pos / self.sr:.3f} s "
                                        f"({error_line(e, self.path)})") from None

    def close(self) -> None:
        self._f.close()


class AVSource(Source):
    def __init__(self, path: Path, container, stream):
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 0)
        fmt = container.format.name or ""
        self._declared_s: float | None = None
        exact = trim = False
        names = fmt.split(",")
        if stream.duration is not None and stream.time_base is not None:
            self._declared_s = float(stream.duration * stream.time_base)
            exact = any(f in names for f in _EXACT_DURATION_FORMATS)
            trim = any(f in names for f in _TRIM_FORMATS)
        elif container.duration is not None:
            self._declared_s = container.duration / 1_000_000
        frames = None if self._declared_s is None or not rate else int(round(self._declared_s * rate))
        super().__init__(path, rate, channels, frames, exact)
        # Indexed containers (mp4/mov) declare the true length: trim the codec's end padding to it.
        self._trim = trim
        # mp3 with a Xing/Info/VBRI header declares its frame count too: check truncation, but leave the
        # delay/padding trimming to FFmpeg (it reads the LAME tag).
        self._check = exact or (fmt == "mp3" and frames is not None and _mp3_has_frame_count(path))
        self._container = container
        self._stream = stream

    def _frames(self) -> Iterator[tuple[int | None, np.ndarray]]:
        """Every decoded frame as (its first sample's index from its pts, or None; float32 [n, C])."""
        resampler = av.AudioResampler(format="fltp")  # float planar only: same rate, so no delay, pts kept
        tb = self._stream.time_base
        t0 = self._stream.start_time or 0
        first = True
        for packet in self._container.demux(self._stream):
            for frame in packet.decode():
                at = None if frame.pts is None or tb is None else float((frame.pts - t0) * tb)
                for conv in resampler.resample(frame):
                    if first and conv.sample_rate != self.sr:
                        # e.g. HE-AAC headers report half the rate until the first frame is decoded
                        self.sr = int(conv.sample_rate)
                        if self._declared_s is not None:
                            self.frames = int(round(self._declared_s * self.sr))
                    first = False
                    yield (None if at is None else int(round(at * self.sr))), conv.to_ndarray().T
                    at = None
        for conv in resampler.resample(None):
            yield None, conv.to_ndarray().T

    def _seek_before(self, offset_s: float) -> bool:
        """Seek to a key frame ~2 s before ``offset_s`` (decoders need a run-in); False if not possible."""
        tb = self._stream.time_base
        # Timestamps coarser than one sample (matroska/webm: 1 ms) cannot place the samples after a seek.
        if tb is None or float(tb) > 1.0 / self.sr or offset_s < _SEEK_MIN_S:
            return False
        target = int((offset_s - 2.0) / float(tb)) + (self._stream.start_time or 0)
        try:
            self._container.seek(max(target, 0), stream=self._stream, backward=True, any_frame=False)
        except (av.error.FFmpegError, ValueError, RuntimeError):
            return False
        return True

    def blocks(self, offset_s: float, duration_s: float | None) -> Iterator[np.ndarray]:
        pos = 0  # absolute position (native samples) of the next decoded sample
        try:
            seeked = self._seek_before(offset_s)
            frames = self._frames()
            first = next(frames, None)  # decoding one frame settles the true sample rate (HE-AAC)
            start, stop = self.span(offset_s, duration_s)
            if seeked:
                at = None if first is None else first[0]
                if at is None or at > start or at < 0:
                    # cannot place the first frame after the seek, or landed past the target: decode from 0
                    logger.debug("%s: seek not usable, decoding from the start", self.path)
                    self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
                    frames = self._frames()
                    first = next(frames, None)
                else:
                    pos = at
            if first is not None:
                frames = itertools.chain([first], frames)
            for _, x in frames:
                n = len(x)
                end = stop
                if self._trim and self.frames:
                    end = self.frames if end is None else min(end, self.frames)
                lo, hi = max(start - pos, 0), n if end is None else min(end - pos, n)
                pos += n
                if hi > lo:
                    yield np.ascontiguousarray(x[lo:hi], dtype=np.float32)
                if end is not None and pos >= end:
                    return
        except (av.error.FFmpegError, ValueError, RuntimeError) as e:  # FFmpegError is a ValueError
            raise AudioError(self.path, f"corrupt or truncated data after {pos / max(self.sr, 1):.3f} s "
                                        f"({error_line(e, self.path)})") from None
        if self._check and self.frames and pos < self.frames - max(0.02 * self.frames, 0.1 * self.sr):
            raise AudioError(self.path, f"truncated: decoded {pos / self.sr:.3f} s of the "
                                        f"{self.frames / self.sr:.3f} s the file declares")

    def close(self) -> None:
        self._container.close()


def _mp3_has_frame_count(path: Path) -> bool:
    """Whether an mp3 starts (after any ID3v2 tag) with a Xing/Info/VBRI header, i.e. declares its length."""
    try:
        with open(path, "rb") as f:
            head = f.read(10)
            skip = 0
            if len(head) == 10 and head[:3] == b"ID3":
                size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
                skip = 10 + size + (10 if head[5] & 0x10 else 0)
            f.seek(skip)
            frame = f.read(256)
    except OSError:
        return False
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def error_line(e: BaseException, path: Path | None = None) -> str:
    """The first line of an exception's message, without the file name the caller already prints."""
    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    if path is not None:
        for form in (f"Error opening '{path}': ", f"Error opening {str(path)!r}: "):
            msg = msg.replace(form, "")
        msg = msg.replace(f": '{path}'", "").replace(f": {str(path)!r}", "")
    msg = re.sub(r"^\[Errno -?\d+\]\s*", "", msg)
    msg = re.sub(r"^Error\s*:\s*", "", msg).strip().rstrip(".")
    return msg or type(e).__name__
