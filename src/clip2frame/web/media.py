"""Media helpers of the viewer: file type from content (magic bytes) and the waveform envelope.

The type of an upload is decided from its first bytes, never from its name: a renamed text file is
refused before any decoder sees it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ..audio.io import iter_audio_blocks
from ..timebase import SAMPLE_RATE

log = logging.getLogger(__name__)

#: Bytes to read from the start of a file to decide its type.
SNIFF_BYTES = 64

# ISO-BMFF brands of audio-only MP4 files; every other brand is treated as (possibly) video.
_AUDIO_MP4_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")


@dataclass(frozen=True)
class MediaType:
    """What the first bytes of a file say it is.

    Attributes
    ----------
    mime : str        Content-Type to serve it with.
    ext : str         file extension (with the dot) the server stores it under.
    video : bool      True for containers that usually hold video (MP4, WebM, Matroska); the
                      analysis worker refines this by probing the streams.
    """

    mime: str
    ext: str
    video: bool


def sniff_media_type(head: bytes) -> MediaType | None:
    """The media type of a file from its first bytes (>= 12, ideally :data:`SNIFF_BYTES`).

    Recognises RIFF/WAVE, AIFF, FLAC, Ogg, MP3 (ID3 tag or MPEG audio frame sync), AAC ADTS, ISO-BMFF
    (MP4/M4A/MOV, ``ftyp`` box) and EBML (WebM/Matroska); ``None`` for anything else.
    """
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaType("audio/wav", ".wav", False)
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return MediaType("audio/aiff", ".aiff", False)
    if head[:4] == b"fLaC":
        return MediaType("audio/flac", ".flac", False)
    if head[:4] == b"OggS":
        return MediaType("audio/ogg", ".ogg", False)
    if head[:3] == b"ID3":
        return MediaType("audio/mpeg", ".mp3", False)
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        layer = (head[1] >> 1) & 0x03
        version = (head[1] >> 3) & 0x03
        if layer == 0 and (head[1] & 0xF6) == 0xF0:  # ADTS: 12-bit sync, layer 00
            return MediaType("audio/aac", ".aac", False)
        if layer != 0 and version != 1:  # MPEG audio frame: layer and version not "reserved"
            return MediaType("audio/mpeg", ".mp3", False)
        return None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_MP4_BRANDS:
            return MediaType("audio/mp4", ".m4a", False)
        if brand == b"qt  ":
            return MediaType("video/quicktime", ".mov", True)
        return MediaType("video/mp4", ".mp4", True)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        if b"webm" in head[:SNIFF_BYTES]:
            return MediaType("video/webm", ".webm", True)
        return MediaType("video/x-matroska", ".mkv", True)
    return None


def sniff_file(path: str | Path) -> MediaType | None:
    """:func:`sniff_media_type` of a file on disk (``None`` when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return sniff_media_type(f.read(SNIFF_BYTES))
    except OSError:
        return None


def has_video_stream(path: str | Path) -> bool:
    """Whether a container holds a video stream (PyAV probe; ``False`` when it cannot tell)."""
    try:
        with av.open(str(path)) as container:
            return any(s.type == "video" for s in container.streams)
    except Exception:  # noqa: BLE001 - a probe failure only means "show it as audio"
        log.debug("cannot probe %s for video streams", path, exc_info=True)
        return False


def file_envelope(path: str | Path, *, sr: int = SAMPLE_RATE, buckets_per_s: float = 100.0,
                  max_buckets: int = 8000, block_s: float = 60.0) -> dict:
    """Downsampled min/max envelope of any audio/video file, for drawing.

    Streamed block by block (a 3-hour file never sits in memory): min/max of the mono signal at ``sr`` Hz
    per ``1 / buckets_per_s`` s, then merged down to at most ``max_buckets``.

    Returns
    -------
    dict with ``sr``, ``duration_s``, ``n``, ``bucket_s`` (seconds per bucket), ``min`` [n], ``max`` [n]
    (lists of floats rounded to 4 decimals), JSON-ready.

    Raises ``AudioError`` (from :mod:`clip2frame.audio.io`) for unreadable files.
    """
    size = max(1, int(round(sr / buckets_per_s)))
    los: list[np.ndarray] = []
    his: list[np.ndarray] = []
    rest = np.zeros(0, dtype=np.float32)
    n_samples = 0
    for block in iter_audio_blocks(path, sr=sr, block_s=block_s):
        n_samples += len(block)
        x = np.concatenate([rest, block]) if rest.size else block
        k = len(x) // size * size
        if k:
            v = x[:k].reshape(-1, size)
            los.append(v.min(1))
            his.append(v.max(1))
        rest = x[k:]
    if rest.size:
        los.append(rest.min(keepdims=True))
        his.append(rest.max(keepdims=True))
    lo = np.concatenate(los) if los else np.zeros(1, dtype=np.float32)
    hi = np.concatenate(his) if his else np.zeros(1, dtype=np.float32)
    if lo.size > max_buckets:
        starts = np.arange(0, lo.size, int(np.ceil(lo.size / max_buckets)))
        lo, hi = np.minimum.reduceat(lo, starts), np.maximum.reduceat(hi, starts)
    duration_s = n_samples / float(sr)
    return {
        "sr": int(sr),
        "duration_s": round(duration_s, 4),
        "n": int(lo.size),
        "bucket_s": duration_s / lo.size if lo.size else 0.0,
        "min": np.round(lo.astype(np.float64), 4).tolist(),
        "max": np.round(hi.astype(np.float64), 4).tolist(),
    }
