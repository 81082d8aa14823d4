"""Live audio sources: raw PCM or a container from a pipe, a URL/path PyAV opens, or a sound card.

Every source yields mono float32 blocks at the requested rate as soon as they are decoded — a block is
whatever the producer delivered (a pipe read, a decoded packet, a sound-card buffer), resampled by the same
streaming soxr resampler (HQ) as :func:`~clip2frame.audio.io.load_audio`, after the same channel average.
A producer that stops in the middle of a sample (or a packet) ends the stream there: the blocks so far
are complete, and the caller flushes.
"""
from __future__ import annotations

import logging
import queue
import sys
from typing import IO, Any, Iterator

import av
import numpy as np
import soxr

from ..errors import AudioError, Clip2FrameError
from ..timebase import SAMPLE_RATE
from .io import check_path

log = logging.getLogger(__name__)

#: raw PCM sample formats (FFmpeg's names) -> (numpy dtype, offset, scale to [-1, 1))
SAMPLE_FORMATS: dict[str, tuple[str, float, float]] = {
    "s16le": ("<i2", 0.0, 1 / 32768.0),
    "s32le": ("<i4", 0.0, 1 / 2147483648.0),
    "f32le": ("<f4", 0.0, 1.0),
    "f64le": ("<f8", 0.0, 1.0),
    "u8": ("u1", -128.0, 1 / 128.0),
}


class MonoResampler:
    """Channel average, finiteness check, then streaming resampling from ``rate`` to ``sr`` (soxr HQ):
    ``conv(x [n, C]) -> [n']`` block by block (``last=True`` flushes the resampler's tail)."""

    def __init__(self, name: str, rate: int, sr: int):
        self.name, self.rate, self.sr = name, int(rate), int(sr)
        self.got = 0
        self._resampler: Any = None
        if self.rate != self.sr:
            self._resampler = soxr.ResampleStream(self.rate, self.sr, 1, dtype="float32", quality="HQ")

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        """x [n, C] float32 -> mono [n'] at ``sr``."""
        if x.size and not np.isfinite(x).all():
            raise AudioError(self.name, f"NaN or infinite samples after {self.got / self.rate:.3f} s")
        self.got += len(x)
        mono = x.mean(axis=1, keepdims=True, dtype=np.float32) if x.shape[1] != 1 else x
        if self._resampler is None:
            return np.ascontiguousarray(mono[:, 0], dtype=np.float32)
        y = self._resampler.resample_chunk(np.ascontiguousarray(mono, dtype=np.float32), last=last)
        return np.ascontiguousarray(y[:, 0], dtype=np.float32)


def iter_pcm(stream: IO[bytes], *, rate: int, channels: int = 1, sample_format: str = "s16le", sr: int = SAMPLE_RATE,
             read_bytes: int = 8192, name: str = "stdin") -> Iterator[np.ndarray]:
    """Mono float32 blocks [n] at ``sr`` from interleaved raw PCM read from ``stream`` (e.g. stdin).

    Each read returns what the producer has written so far (up to ``read_bytes``), so a slow producer's
    audio is passed on at once. A trailing partial sample (a producer killed mid-write) is dropped with a
    warning.

    Raises
    ------
    AudioError
        Unknown ``sample_format``, a non-positive rate or channel count, NaN/inf float samples.
    """
    if sample_format not in SAMPLE_FORMATS:
        raise AudioError(name, f"unknown sample format {sample_format!r} (choose from {', '.join(SAMPLE_FORMATS)})")
    if rate <= 0 or channels <= 0:
        raise AudioError(name, f"rate and channels must be positive, got {rate} Hz, {channels} channel(s)")
    dtype, offset, scale = SAMPLE_FORMATS[sample_format]
    frame = np.dtype(dtype).itemsize * channels
    conv = MonoResampler(name, rate, sr)
    read = getattr(stream, "read1", stream.read)
    rest = b""
    while True:
        data = read(read_bytes)
        if not data:
            break
        data = rest + data
        n = len(data) // frame * frame
        rest = data[n:]
        if n:
            x = np.frombuffer(data[:n], dtype=dtype).astype(np.float32)
            if offset:
                x += offset
            x *= scale
            y = conv(x.reshape(-1, channels))
            if y.size:
                yield y
    if rest:
        log.warning("%s: the stream ended inside a sample (%d byte(s) dropped)", name, len(rest))
    y = conv(np.zeros((0, 1), np.float32), last=True)
    if y.size:
        yield y


class _Read1:
    """A file object whose ``read`` returns what is available (a pipe's ``read1``), for PyAV."""

    def __init__(self, f: IO[bytes]):
        self._read = getattr(f, "read1", f.read)

    def read(self, n: int = -1) -> bytes:
        return self._read(n if n and n > 0 else 65536)


def iter_container(source: str | IO[bytes], *, sr: int = SAMPLE_RATE, name: str | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks [n] at ``sr`` from a container/codec PyAV can read as a stream: a pipe (a file
    object, e.g. ``sys.stdin.buffer``), a URL or a path. Blocks come packet by packet, as decoded.

    The source is opened (and its header read) when this is called; decoding happens during iteration.

    Raises
    ------
    AudioError
        Nothing PyAV can open, no audio track (here), or corrupt data (during iteration, after the blocks
        decoded before it).
    """
    label = name or (source if isinstance(source, str) else "stdin")
    try:
        container = av.open(source if isinstance(source, str) else _Read1(source), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise AudioError(label, f"not a readable audio stream ({_first_line(e)})") from None
    if not container.streams.audio:
        container.close()
        raise AudioError(label, "no audio track")
    return _decode(container, label, sr)


def _decode(container: Any, label: str, sr: int) -> Iterator[np.ndarray]:
    try:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp")
        conv: MonoResampler | None = None
        try:
            for frame in container.decode(stream):
                for f in resampler.resample(frame):
                    if conv is None:
                        conv = MonoResampler(label, f.sample_rate, sr)
                    y = conv(np.ascontiguousarray(f.to_ndarray().T, dtype=np.float32))  # [n, C] -> [n']
                    if y.size:
                        yield y
        except (av.error.FFmpegError, ValueError) as e:
            got = 0.0 if conv is None else conv.got / conv.rate
            raise AudioError(label, f"corrupt or truncated data after {got:.3f} s ({_first_line(e)})") from None
        if conv is not None:
            y = conv(np.zeros((0, 1), np.float32), last=True)
            if y.size:
                yield y
    finally:
        container.close()


def iter_soundcard(device: str | int | None = None, *, sr: int = SAMPLE_RATE,
                   block_s: float = 0.1) -> Iterator[np.ndarray]:
    """Mono float32 blocks [n] at ``sr`` from a sound card input (needs the optional ``sounddevice``).

    ``device``: a name or index as ``sounddevice`` lists them, or ``None`` for the default input. The
    card is opened at ``sr`` (PortAudio converts); iteration ends when the caller stops it (Ctrl-C).

    Raises
    ------
    Clip2FrameError
        ``sounddevice`` is not installed, or the device cannot be opened.
    """
    try:
        import sounddevice as sd  # the 'live' extra
    except (ImportError, OSError) as e:  # OSError: the PortAudio library itself is missing
        raise Clip2FrameError(f"sound card input needs the 'sounddevice' package and PortAudio "
                              f"(pip install 'clip2frame[live]') ({_first_line(e)})") from None
    blocks: queue.Queue[np.ndarray] = queue.Queue()

    def callback(indata, frames, time, status):  # PortAudio's thread
        if status:
            log.warning("sound card: %s", status)
        blocks.put(np.ascontiguousarray(indata.mean(axis=1), dtype=np.float32))

    dev: str | int | None = int(device) if isinstance(device, str) and device.isdigit() else device
    try:
        stream = sd.InputStream(samplerate=sr, device=dev, channels=1, dtype="float32",
                                blocksize=max(1, int(block_s * sr)), callback=callback)
    except Exception as e:  # PortAudioError, ValueError: sounddevice's own error types
        raise Clip2FrameError(f"sound card {device if device is not None else '(default)'}: cannot open "
                              f"({_first_line(e)})") from None
    return _card_blocks(stream, blocks)


def _card_blocks(stream: Any, blocks: queue.Queue[np.ndarray]) -> Iterator[np.ndarray]:
    with stream:
        while True:
            yield blocks.get()


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__


def open_input(spec: str, *, sr: int, rate: int | None = None, channels: int = 1,
               sample_format: str = "s16le") -> Iterator[np.ndarray]:
    """The mono float32 blocks at ``sr`` of ``clip2frame listen``'s INPUT, opened now (an unreadable input fails
    before any output).

    Parameters
    ----------
    spec : str
        ``-`` (standard input: raw PCM when ``rate`` is given, else any container PyAV reads from a pipe),
        ``mic:`` / ``mic:DEV`` (a sound card, optional ``sounddevice``), a URL or a path.
    sr : int
        Output sample rate in Hz.
    rate, channels, sample_format
        The raw PCM's rate (Hz), channel count and :data:`~clip2frame.audio.pcm.SAMPLE_FORMATS` name.
    """
    if spec == "-":
        if rate is not None:
            return iter_pcm(sys.stdin.buffer, rate=rate, channels=channels, sample_format=sample_format, sr=sr)
        return iter_container(sys.stdin.buffer, sr=sr, name="stdin")
    if spec.startswith("mic:"):
        return iter_soundcard(spec[4:] or None, sr=sr)
    if "://" not in spec:
        check_path(spec)  # missing, empty, a folder, unreadable: the one-line errors of load_audio
    return iter_container(spec, sr=sr)
