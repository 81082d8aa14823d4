"""Decode any audio (or a video's audio track) to float32 at the model rate, whole or in blocks.

Order of decoders (DESIGN.md §4): soundfile (libsndfile: WAV/FLAC/OGG/AIFF/… at any bit depth) first for
the formats it owns; PyAV (bundled FFmpeg) for everything else — mp3, m4a/aac, opus, webm, and the audio
track of mp4/mkv/mov/webm/avi videos — and as a fallback when libsndfile does not recognise a file.
Resampling is soxr's streaming resampler, used for whole-file loads too, so
``np.concatenate(list(iter_audio_blocks(p))) == load_audio(p)`` (up to float rounding) whatever the
block size. Multi-channel audio is down-mixed by averaging the channels.

Every problem a user can cause raises :class:`clip2frame.errors.AudioError` (``"<path>: <problem>"``):
missing path, directory, empty file, no samples, truncated or corrupt data, unrecognised format, a video
without an audio track, NaN/inf samples, offsets beyond the end, negative offset or duration.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import re
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import soxr

from ..errors import AudioError

logger = logging.getLogger(__name__)

__all__ = [
    "AUDIO_EXTENSIONS", "VIDEO_EXTENSIONS", "MEDIA_EXTENSIONS", "load_audio", "iter_audio_blocks",
    "audio_info", "is_media_file",
]

#: Lowercase suffixes of audio files (what the batch tagger collects from directories).
AUDIO_EXTENSIONS: frozenset[str] = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".rf64", ".wma", ".weba", ".mka", ".ac3", ".amr", ".mp2",
})
#: Lowercase suffixes of video files whose audio track is read (disjoint from AUDIO_EXTENSIONS).
VIDEO_EXTENSIONS: frozenset[str] = frozenset({
    ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ts",
    ".mts", ".ogv",
})
MEDIA_EXTENSIONS: frozenset[str] = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

# Suffixes libsndfile decodes natively; tried with soundfile first.
_SNDFILE_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64",
    ".rf64",
})
# Suffixes never given to libsndfile (FFmpeg handles encoder delay/padding of these correctly).
_AV_ONLY_EXTENSIONS = (AUDIO_EXTENSIONS | VIDEO_EXTENSIONS) - _SNDFILE_EXTENSIONS


def tried_with_soundfile(path: str | Path) -> bool:
    """Whether :func:`load_audio` tries libsndfile on ``path`` (by suffix) before PyAV. mp3 & co. never go to
    libsndfile: its mpg123 prints warnings about damaged files straight to stderr."""
    return Path(path).suffix.lower() not in _AV_ONLY_EXTENSIONS
# Container formats whose stream duration is exact (an index), so a shortfall of decoded samples means the
# file is truncated. Formats whose duration is an estimate (mp3, adts, raw streams) are not checked.
_EXACT_DURATION_FORMATS = ("mov", "mp4", "m4a", "3gp", "matroska", "webm", "wav", "aiff", "caf", "w64")
# Of those, the ones whose declared length is sample-accurate and excludes the codec's end padding
# (the mp4 edit list), so decoded audio is trimmed to it.
_TRIM_FORMATS = ("mov", "mp4", "m4a", "3gp")
_NATIVE_BLOCK = 65536  # samples per read at the native rate
_SEEK_MIN_S = 10.0  # offsets past this many seconds seek (compressed formats) instead of decoding through
_DATA_SIZE_RE = re.compile(r"^\s*data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def is_media_file(path: str | Path) -> bool:
    """Whether ``path``'s suffix is a known audio or video suffix (case-insensitive)."""
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


# ---------------------------------------------------------------------------------------------------------
# Native-rate readers: each yields float32 [n, C] blocks at the file's own sample rate


class _Source:
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


class _SoundfileSource(_Source):
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
                                        f"({_one_line(e, self.path)})") from None

    def close(self) -> None:
        self._f.close()


class _AVSource(_Source):
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
                                        f"({_one_line(e, self.path)})") from None
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


def _one_line(e: BaseException, path: Path | None = None) -> str:
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


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(p, "file not found") from None
    except OSError as e:
        raise AudioError(p, f"cannot access file ({e.strerror or e})") from None
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if st.st_size == 0:
        raise AudioError(p, "empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise AudioError(p, "permission denied")
    return p


def _open(path: str | Path) -> _Source:
    """Open ``path`` with soundfile, else PyAV; raise AudioError on every failure."""
    p = _check_path(path)
    suffix = p.suffix.lower()
    sf_problem = None
    if suffix not in _AV_ONLY_EXTENSIONS:
        import soundfile as sf  # lazy: see tests/test_layers.py LAZY_IMPORTS_KEPT (libsndfile load order)

        try:
            f = sf.SoundFile(_native_name(p))
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            sf_problem = _one_line(e, p)
            f = None
        if f is not None:
            src = _SoundfileSource(p, f)
            try:
                _validate_soundfile(src, f)
            except AudioError:
                f.close()
                raise
            return src
    return _open_av(p, sf_problem)


def _validate_soundfile(src: _SoundfileSource, f) -> None:
    if src.sr <= 0:
        raise AudioError(src.path, f"invalid sample rate {src.sr}")
    if src.channels <= 0:
        raise AudioError(src.path, f"invalid channel count {src.channels}")
    m = _DATA_SIZE_RE.search(f.extra_info or "")
    if m:
        declared, actual = int(m.group(1)), int(m.group(2))
        # 0 and 0xFFFFFFFF are the "size unknown" markers of streamed WAVs: not truncation.
        if declared > actual and declared not in (0, 0xFFFFFFFF) and declared < 0xFFFFFFF0:
            raise AudioError(src.path, f"truncated: the header declares {declared} bytes of samples, the file "
                                       f"holds {actual}")
    if src.n_frames <= 0:
        raise AudioError(src.path, "no audio samples (empty or truncated file)")


def _native_name(p: Path) -> str | bytes:
    """The name handed to libsndfile: the file system's bytes on POSIX, so a name that is not valid UTF-8
    (decoded by Python with surrogate escapes) still opens; ``str`` elsewhere."""
    return os.fsencode(p) if os.name == "posix" else str(p)


def _open_av(p: Path, sf_problem: str | None) -> _Source:
    try:
        container = av.open(str(p), mode="r")  # PyAV encodes the name with the file system's escapes
    except av.error.FFmpegError as e:
        detail = sf_problem or _one_line(e, p)
        raise AudioError(p, f"not a readable audio or video file ({detail})") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise AudioError(p, f"not a readable audio or video file ({_one_line(e, p)})") from None
    try:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams})
            what = f"only {', '.join(kinds)} streams" if kinds else "no streams"
            raise AudioError(p, f"no audio track ({what})")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"  # type: ignore[attr-defined]  # PyAV's stubs lack it on AudioStream
        src = _AVSource(p, container, stream)
        if src.sr <= 0:
            raise AudioError(p, "audio track has no sample rate")
        return src
    except AudioError:
        container.close()
        raise
    except av.error.FFmpegError as e:
        container.close()
        raise AudioError(p, f"not a readable audio or video file ({_one_line(e, p)})") from None


# ---------------------------------------------------------------------------------------------------------
# Public API


def audio_info(path: str | Path) -> tuple[float, int, int]:
    """``(duration_s, native_sr, channels)`` of an audio file or a video's first audio track.

    The duration comes from the header; for compressed formats without an index (mp3, raw AAC) it may be
    an estimate. Raises :class:`AudioError` for unreadable files.
    """
    src = _open(path)
    try:
        if src.frames is None:
            n = sum(len(b) for b in src.blocks(0, None))
            src.frames = n
            if n == 0:
                raise AudioError(src.path, "no audio samples")
        return src.frames / src.sr, src.sr, src.channels
    finally:
        src.close()


def _check_range(p: Path, offset: float, duration: float | None) -> None:
    if not isinstance(offset, (int, float)) or isinstance(offset, bool) or not math.isfinite(offset) or offset < 0:
        raise AudioError(p, f"offset must be a finite number of seconds >= 0, got {offset!r}")
    if duration is not None and (not isinstance(duration, (int, float)) or isinstance(duration, bool)
                                 or not math.isfinite(duration) or duration <= 0):
        raise AudioError(p, f"duration must be a finite number of seconds > 0 (or None), got {duration!r}")


def _check_sr(p: Path, sr: int | None) -> None:
    if sr is not None and (isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0):
        raise AudioError(p, f"target sample rate must be a positive integer (or None), got {sr!r}")


class _Pipeline:
    """Native blocks -> (mono) -> finiteness check -> streaming resample. Yields float32 [n, C'] blocks."""

    def __init__(self, path: str | Path, *, sr: int | None, mono: bool, offset: float, duration: float | None):
        p = Path(path)
        _check_range(p, offset, duration)
        _check_sr(p, sr)
        self.src = _open(p)
        self.path = self.src.path
        self.target_sr = sr
        self.mono = mono
        self.offset = float(offset)
        self.duration = duration
        start, _ = self.src.span(offset, duration)
        if start > 0 and self.src.frames is not None and self.src.exact and start >= self.src.frames:
            dur = self.src.frames / self.src.sr
            self.src.close()
            raise AudioError(self.path, f"offset {offset:g} s is beyond the end of the audio ({dur:.3f} s)")

    def __iter__(self) -> Iterator[np.ndarray]:
        src = self.src
        resampler = None
        nch = 0
        got = 0
        try:
            for x in src.blocks(self.offset, self.duration):
                if not np.isfinite(x).all():
                    bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
                    t = self.offset + (got + bad) / src.sr
                    raise AudioError(self.path, f"contains NaN or infinite samples (first at {t:.3f} s)")
                got += len(x)
                if self.mono and x.shape[1] != 1:
                    x = x.mean(axis=1, keepdims=True, dtype=np.float32)
                if self.target_sr is None or self.target_sr == src.sr:
                    yield x
                    continue
                if resampler is None:
                    nch = x.shape[1]
                    resampler = soxr.ResampleStream(src.sr, self.target_sr, nch, dtype="float32", quality="HQ")
                elif x.shape[1] != nch:
                    raise AudioError(self.path, f"channel count changes mid-stream ({nch} -> {x.shape[1]})")
                y = resampler.resample_chunk(np.ascontiguousarray(x), last=False)
                if len(y):
                    yield y
            if got == 0:
                if self.offset > 0:
                    raise AudioError(self.path, f"offset {self.offset:g} s is beyond the end of the audio")
                raise AudioError(self.path, "no audio samples")
            if resampler is not None:
                y = resampler.resample_chunk(np.zeros((0, nch), np.float32), last=True)
                if len(y):
                    yield y
        finally:
            src.close()


def load_audio(path: str | Path, *, sr: int | None = 16000, mono: bool = True, offset: float = 0.0,
               duration: float | None = None) -> np.ndarray:
    """Decode ``path`` (audio file, or a video's first audio track) to float32.

    Parameters
    ----------
    path : str or Path
    sr : int or None
        Output sample rate, Hz (soxr HQ resampling); ``None`` keeps the native rate.
    mono : bool
        Average all channels into one.
    offset : float
        Start, seconds from the beginning (>= 0 and before the end).
    duration : float or None
        Length to read, seconds (> 0); ``None`` or a duration past the end reads to the end.

    Returns
    -------
    np.ndarray float32
        ``[N]`` when ``mono``, else ``[C, N]``. Integer formats are scaled to [-1, 1).

    Raises
    ------
    AudioError
        For every unreadable, empty, truncated, corrupt or non-finite input, and impossible offsets.
    """
    blocks = list(_Pipeline(path, sr=sr, mono=mono, offset=offset, duration=duration))
    x = np.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]
    if mono:
        return np.ascontiguousarray(x[:, 0], dtype=np.float32)
    return np.ascontiguousarray(x.T, dtype=np.float32)


def iter_audio_blocks(path: str | Path, *, sr: int | None = 16000, block_s: float = 60.0, offset: float = 0.0,
                      duration: float | None = None) -> Iterator[np.ndarray]:
    """Consecutive mono float32 blocks of ``round(block_s · sr)`` samples (the last may be shorter).

    Only about one block (plus decoder buffers) is in memory at a time, so a 3-hour file streams. The
    concatenated blocks equal :func:`load_audio` with the same arguments (the same streaming resampler runs
    in both). The file is opened and checked when this is called (missing, empty, unknown format → an
    :class:`AudioError` right away); problems found while decoding are raised during iteration.
    """
    p = Path(path)
    if (isinstance(block_s, bool) or not isinstance(block_s, (int, float)) or not math.isfinite(block_s)
            or block_s <= 0):
        raise AudioError(p, f"block_s must be a positive number of seconds, got {block_s!r}")
    pipe = _Pipeline(p, sr=sr, mono=True, offset=offset, duration=duration)
    rate = sr if sr is not None else pipe.src.sr
    size = max(int(round(block_s * rate)), 1)
    return _reblock(pipe, size)


def _reblock(pipe: _Pipeline, size: int) -> Iterator[np.ndarray]:
    buf: list[np.ndarray] = []
    have = 0
    for x in pipe:
        x = x[:, 0]
        buf.append(x)
        have += len(x)
        while have >= size:
            cat = np.concatenate(buf) if len(buf) > 1 else buf[0]
            yield np.ascontiguousarray(cat[:size], dtype=np.float32)
            rest = cat[size:]
            buf, have = ([rest] if len(rest) else []), len(rest)
    if have:
        yield np.ascontiguousarray(np.concatenate(buf), dtype=np.float32)
