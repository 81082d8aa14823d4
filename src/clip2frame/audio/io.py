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

import math
import os
import re
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import soxr

from ..errors import AudioError
from ..timebase import SAMPLE_RATE
from .decoders import AVSource, SoundfileSource, Source, error_line

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
_DATA_SIZE_RE = re.compile(r"^\s*data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def is_media_file(path: str | Path) -> bool:
    """Whether ``path``'s suffix is a known audio or video suffix (case-insensitive)."""
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


def check_path(path: str | Path) -> Path:
    """``path`` as a Path when it is a readable, non-empty file; else the one-line :class:`AudioError`
    (missing, a folder, empty, unreadable) that :func:`load_audio` gives."""
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


def _open(path: str | Path) -> Source:
    """Open ``path`` with soundfile, else PyAV; raise AudioError on every failure."""
    p = check_path(path)
    suffix = p.suffix.lower()
    sf_problem = None
    if suffix not in _AV_ONLY_EXTENSIONS:
        import soundfile as sf  # lazy: see tests/test_layers.py LAZY_IMPORTS_KEPT (libsndfile load order)

        try:
            f = sf.SoundFile(_native_name(p))
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            sf_problem = error_line(e, p)
            f = None
        if f is not None:
            src = SoundfileSource(p, f)
            try:
                _validate_soundfile(src, f)
            except AudioError:
                f.close()
                raise
            return src
    return _open_av(p, sf_problem)


def _validate_soundfile(src: SoundfileSource, f) -> None:
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


def _open_av(p: Path, sf_problem: str | None) -> Source:
    try:
        container = av.open(str(p), mode="r")  # PyAV encodes the name with the file system's escapes
    except av.error.FFmpegError as e:
        detail = sf_problem or error_line(e, p)
        raise AudioError(p, f"not a readable audio or video file ({detail})") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise AudioError(p, f"not a readable audio or video file ({error_line(e, p)})") from None
    try:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams})
            what = f"only {', '.join(kinds)} streams" if kinds else "no streams"
            raise AudioError(p, f"no audio track ({what})")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"  # type: ignore[attr-defined]  # PyAV's stubs lack it on AudioStream
        src = AVSource(p, container, stream)
        if src.sr <= 0:
            raise AudioError(p, "audio track has no sample rate")
        return src
    except AudioError:
        container.close()
        raise
    except av.error.FFmpegError as e:
        container.close()
        raise AudioError(p, f"not a readable audio or video file ({error_line(e, p)})") from None


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


def load_audio(path: str | Path, *, sr: int | None = SAMPLE_RATE, mono: bool = True, offset: float = 0.0,
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


def iter_audio_blocks(path: str | Path, *, sr: int | None = SAMPLE_RATE, block_s: float = 60.0, offset: float = 0.0,
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
