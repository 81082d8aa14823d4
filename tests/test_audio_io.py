"""Audio decoding: formats, bit depths, channels, rates, video tracks, block reader, and every bad input."""
from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from clip2frame.audio.io import (
    AUDIO_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, audio_info, is_media_file, iter_audio_blocks,
    load_audio,
)
from clip2frame.errors import AudioError, Clip2FrameError
from conftest import chirp, tone

# ---------------------------------------------------------------------------------------------------------
# helpers: files the tests write themselves


def write_av(path: Path, x: np.ndarray, sr: int, codec: str, *, fmt: str | None = None, video: bool = False,
             audio: bool = True, options: dict | None = None) -> Path:
    """Encode ``x`` [C, N] float32 with PyAV (optionally with a small mpeg4 video stream)."""
    with av.open(str(path), "w", format=fmt) as c:
        vs = None
        if video:
            vs = c.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        if audio:
            st = c.add_stream(codec, rate=sr, options=options or {})
            st.layout = "mono" if x.shape[0] == 1 else "stereo"
            size = st.codec_context.frame_size or 1024
            sfmt = st.codec_context.format.name
            kind = {"flt": np.float32, "s16": np.int16, "s32": np.int32}[sfmt.rstrip("p")]
            scale = {np.float32: 1.0, np.int16: 32767.0, np.int32: 2147483647.0}[kind]
            pts = 0
            for i in range(0, x.shape[1], size):
                blk = (np.clip(x[:, i:i + size].astype(np.float64), -1, 1) * scale).astype(kind)
                arr = blk if sfmt.endswith("p") else blk.T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=sfmt, layout=st.layout.name)
                frame.sample_rate, frame.pts = sr, pts
                pts += blk.shape[1]
                for p in st.encode(frame):
                    c.mux(p)
            for p in st.encode(None):
                c.mux(p)
        if vs is not None:
            for _ in range(10):
                for p in vs.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                    c.mux(p)
            for p in vs.encode(None):
                c.mux(p)
    return path


def dominant_freq(y: np.ndarray, sr: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spec.argmax()])


def stereo_tones(sr: int, dur: float) -> np.ndarray:
    return np.stack([tone(440.0, dur, sr, 0.5), tone(1000.0, dur, sr, 0.3)])


# ---------------------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("subtype, tol", [
    ("PCM_U8", 2 / 256), ("PCM_16", 2 / 2**15), ("PCM_24", 2 / 2**23), ("PCM_32", 1e-7), ("FLOAT", 0.0),
    ("DOUBLE", 1e-7),
])
def test_wav_bit_depths_round_trip(tmp_path, rng, subtype, tol):
    x = (0.5 * rng.uniform(-1, 1, 4000)).astype(np.float32)
    p = tmp_path / f"x_{subtype}.wav"
    sf.write(p, x, 16000, subtype=subtype)
    y = load_audio(p)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=tol + 1e-7)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channel_counts(tmp_path, rng, channels):
    x = (0.4 * rng.uniform(-1, 1, (channels, 3000))).astype(np.float32)
    p = tmp_path / f"c{channels}.flac"
    sf.write(p, x.T, 16000, subtype="PCM_24")
    multi = load_audio(p, mono=False)
    assert multi.shape == (channels, 3000)
    np.testing.assert_allclose(multi, x, atol=2 / 2**23)
    mono = load_audio(p)
    assert mono.shape == (3000,)
    np.testing.assert_allclose(mono, multi.mean(0), atol=1e-6)
    assert audio_info(p) == (3000 / 16000, 16000, channels)


@pytest.mark.parametrize("sr", [8000, 11025, 22050, 44100, 48000, 96000, 192000])
def test_sample_rates_resampled_to_16k(tmp_path, sr):
    dur = 0.5
    p = tmp_path / f"r{sr}.wav"
    sf.write(p, tone(1000.0, dur, sr, 0.5), sr, subtype="FLOAT")
    y = load_audio(p)
    assert abs(len(y) - dur * 16000) <= 1  # soxr: N·16000/sr samples, rounded
    ref = tone(1000.0, dur, 16000, 0.5)
    n = min(len(y), len(ref))
    # soxr HQ: a 1 kHz tone passes unchanged away from the edges (filter settling, 20 ms each side)
    np.testing.assert_allclose(y[320:n - 320], ref[320:n - 320], atol=2e-3)
    native = load_audio(p, sr=None)
    assert len(native) == int(round(dur * sr))


def test_stereo_resampled_keeps_channels(tmp_path):
    p = tmp_path / "s.wav"
    sf.write(p, stereo_tones(44100, 1.0).T, 44100, subtype="PCM_16")
    y = load_audio(p, mono=False)
    assert y.shape == (2, 16000)
    assert dominant_freq(y[0]) == pytest.approx(440, abs=2)
    assert dominant_freq(y[1]) == pytest.approx(1000, abs=2)


@pytest.mark.parametrize("name, codec, fmt, sr", [
    ("a.mp3", "mp3", None, 44100),
    ("a.m4a", "aac", None, 44100),
    ("a.ogg", "libopus", "ogg", 48000),
    ("a.opus", "libopus", None, 48000),
    ("a.flac", "flac", None, 44100),
    ("a.aac", "aac", "adts", 44100),
])
def test_compressed_formats_via_pyav(tmp_path, name, codec, fmt, sr):
    dur = 1.5
    p = write_av(tmp_path / name, stereo_tones(sr, dur), sr, codec, fmt=fmt)
    y = load_audio(p)
    assert y.dtype == np.float32 and y.ndim == 1
    # codec delay / frame padding: at most ~70 ms on either side of the true length
    assert abs(len(y) - dur * 16000) <= 0.07 * 16000, len(y)
    mid = y[4000:20000]
    ref = 0.5 * (tone(440.0, dur, 16000, 0.5) + tone(1000.0, dur, 16000, 0.3))[4000:20000]
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(np.sqrt(np.mean(ref**2)), rel=0.1)
    spec = np.abs(np.fft.rfft(mid))
    freqs = np.fft.rfftfreq(len(mid), 1 / 16000)
    top2 = sorted(freqs[np.argsort(spec)[-2:]])
    assert top2 == pytest.approx([440, 1000], abs=2)
    duration, native_sr, channels = audio_info(p)
    assert native_sr == sr and channels == 2 and duration == pytest.approx(dur, abs=0.1)


def test_flac_via_pyav_is_lossless(tmp_path):
    x = tone(440.0, 1.0, 16000, 0.5)[None]
    p = write_av(tmp_path / "l.flac", x, 16000, "flac")
    np.testing.assert_allclose(load_audio(p), x[0], atol=2 / 2**15)  # writer truncates, scale 32767


def test_m4a_end_padding_is_trimmed(tmp_path):
    x = tone(440.0, 2.0, 44100, 0.5)[None]
    p = write_av(tmp_path / "t.m4a", x, 44100, "aac")
    assert len(load_audio(p, sr=None)) == x.shape[1]  # mp4 declares the length; AAC pads its last frame


@pytest.mark.parametrize("name, fmt", [("v.mp4", None), ("v.mkv", None), ("v.mov", None)])
def test_video_audio_track(tmp_path, name, fmt):
    p = write_av(tmp_path / name, stereo_tones(44100, 1.0), 44100, "aac", fmt=fmt, video=True)
    y = load_audio(p)
    assert abs(len(y) - 16000) <= 0.07 * 16000
    assert dominant_freq(y[2000:14000]) == pytest.approx(440, abs=2)


def test_silence_and_10ms_are_valid(tmp_path):
    p = tmp_path / "silence.wav"
    sf.write(p, np.zeros(16000, np.float32), 16000)
    assert (load_audio(p) == 0).all()
    q = tmp_path / "ten_ms.wav"
    sf.write(q, tone(440.0, 0.01, 44100), 44100)
    y = load_audio(q)
    assert len(y) == 160 and np.isfinite(y).all()
    assert [len(b) for b in iter_audio_blocks(q, block_s=1.0)] == [160]


def test_offset_and_duration(tmp_path, rng):
    x = (0.3 * rng.standard_normal(32000)).astype(np.float32)
    p = tmp_path / "o.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(p, offset=0.5, duration=0.25), x[8000:12000])
    np.testing.assert_array_equal(load_audio(p, offset=1.5, duration=10.0), x[24000:])  # clipped at the end
    np.testing.assert_array_equal(np.concatenate(list(iter_audio_blocks(p, block_s=0.1, offset=1.0))), x[16000:])
    m = write_av(tmp_path / "o.mp3", x[None], 16000, "mp3")
    full = load_audio(m)
    part = load_audio(m, offset=0.5, duration=0.5)
    np.testing.assert_array_equal(part, full[8000:16000])


@pytest.mark.parametrize("name, codec, fmt, options", [
    ("seek.mp3", "libmp3lame", None, {"abr": "1"}),  # variable frame sizes
    ("seek.m4a", "aac", None, None),
    ("seek.ogg", "libopus", "ogg", None),
    ("seek.aac", "aac", "adts", None),
    ("seek.mkv", "aac", None, None),  # 1 ms timestamps: no seek, decoded from the start instead
])
def test_offset_past_seek_threshold_is_sample_exact(tmp_path, name, codec, fmt, options):
    # Offsets > 10 s seek to a key frame 2 s early and place samples by timestamp; at the native rate the
    # result must equal slicing the whole decode, sample for sample.
    sr = 48000 if "opus" in codec else 44100
    x = chirp(100.0, 3000.0, 14.0, sr, 0.5)[None]
    p = write_av(tmp_path / name, x, sr, codec, fmt=fmt, options=options)
    full = load_audio(p, sr=None)
    part = load_audio(p, sr=None, offset=11.5, duration=1.0)
    s0 = int(round(11.5 * sr))
    assert len(part) == sr
    # AAC's float decoder state after a seek differs at rounding level (~3e-6); a chirp misplaced by a
    # single sample would differ by ~1e-2, so 1e-4 still proves sample-exact placement.
    np.testing.assert_allclose(part, full[s0:s0 + sr], atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------------------------------------
# block reader


@pytest.mark.parametrize("block_s", [0.37, 1.0, 5.0])
def test_blocks_equal_whole_file_with_resampling(tmp_path, rng, block_s):
    # same soxr streaming resampler in both paths: equal to float rounding (observed: bit-identical)
    x = (0.3 * rng.standard_normal((2, int(3.3 * 44100)))).astype(np.float32)
    p = tmp_path / "b.wav"
    sf.write(p, x.T, 44100, subtype="PCM_24")
    whole = load_audio(p)
    blocks = list(iter_audio_blocks(p, block_s=block_s))
    size = int(round(block_s * 16000))
    assert all(len(b) == size for b in blocks[:-1]) and 0 < len(blocks[-1]) <= size
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)


def test_blocks_equal_whole_file_compressed(tmp_path):
    p = write_av(tmp_path / "b.mp3", stereo_tones(44100, 2.0), 44100, "mp3")
    whole = load_audio(p)
    np.testing.assert_allclose(np.concatenate(list(iter_audio_blocks(p, block_s=0.3))), whole, atol=1e-6)


def test_blocks_stream_without_holding_the_file(tmp_path, monkeypatch):
    # The reader hands out blocks as the decoder produces them: with a tiny native read size, the first
    # block arrives after reading only a little more than one block of the file.
    import clip2frame.audio.decoders as decoders

    p = tmp_path / "long.wav"
    sf.write(p, np.zeros(16000 * 20, np.float32), 16000, subtype="PCM_16")
    monkeypatch.setattr(decoders, "_NATIVE_BLOCK", 4000)
    reads = []
    orig = sf.SoundFile.read

    def spy(self, frames=-1, *a, **k):
        out = orig(self, frames, *a, **k)
        reads.append(len(out))
        return out

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    it = iter_audio_blocks(p, block_s=1.0)
    first = next(it)
    assert len(first) == 16000 and sum(reads) <= 20000
    assert sum(len(b) for b in it) == 16000 * 19


# ---------------------------------------------------------------------------------------------------------
# bad input: one AudioError naming the file, never a traceback or a silently wrong array


def _expect_error(path: Path, match: str, **kw) -> AudioError:
    with pytest.raises(AudioError, match=match) as ei:
        load_audio(path, **kw)
    err = ei.value
    assert isinstance(err, Clip2FrameError)
    assert path.name in str(err) and str(err).startswith(str(path))
    assert "\n" not in str(err)
    return err


def test_missing_path(tmp_path):
    _expect_error(tmp_path / "nope.wav", "not found")
    with pytest.raises(AudioError, match="not found"):
        iter_audio_blocks(tmp_path / "nope.wav")  # raised at call time, not on first next()


def test_directory(tmp_path):
    d = tmp_path / "adir.wav"
    d.mkdir()
    _expect_error(d, "directory")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    _expect_error(p, "empty")
    q = tmp_path / "empty.mp3"
    q.write_bytes(b"")
    _expect_error(q, "empty")


def test_header_only_wav(tmp_path):
    p = tmp_path / "header.wav"
    sf.write(p, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    assert p.stat().st_size == 44
    _expect_error(p, "no audio samples")


@pytest.mark.parametrize("name, subtype", [("trunc.wav", "PCM_16"), ("trunc_f.wav", "FLOAT"),
                                           ("trunc.flac", "PCM_16")])
def test_truncated_soundfile_formats(tmp_path, rng, name, subtype):
    p = tmp_path / name
    sf.write(p, (0.2 * rng.standard_normal(32000)).astype(np.float32), 16000, subtype=subtype)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _expect_error(p, "truncated|corrupt")


@pytest.mark.parametrize("name, codec", [("trunc.m4a", "aac"), ("trunc.mp3", "mp3")])
def test_truncated_compressed(tmp_path, name, codec):
    # m4a: the index (moov) is at the end and lost; mp3: the Info header declares 2 s, half is decoded.
    p = write_av(tmp_path / name, tone(440.0, 2.0, 44100)[None], 44100, codec)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _expect_error(p, "not a readable|truncated|corrupt")


def test_corrupt_bytes_and_text_renamed(tmp_path, rng):
    t = tmp_path / "text.wav"
    t.write_text("this is a text file, not audio\n" * 20)
    _expect_error(t, "not a readable")
    g = tmp_path / "garbage.mp3"
    g.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _expect_error(g, "not a readable|no audio|corrupt")
    h = tmp_path / "garbage.flac"
    h.write_bytes(b"fLaC" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _expect_error(h, "not a readable|corrupt|truncated|no audio")


def test_video_without_audio_track(tmp_path):
    p = write_av(tmp_path / "silent_film.mp4", np.zeros((1, 0), np.float32), 44100, "aac", video=True, audio=False)
    _expect_error(p, "no audio track")
    with pytest.raises(AudioError, match="no audio track"):
        audio_info(p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, monkeypatch, bad):
    x = np.zeros(16000, np.float32)
    x[12000] = bad
    p = tmp_path / "nonfinite.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    _expect_error(p, r"NaN or infinite samples \(first at 0.750 s\)")
    import clip2frame.audio.decoders as decoders

    monkeypatch.setattr(decoders, "_NATIVE_BLOCK", 4000)  # small reads, so the good first half is handed out
    blocks = iter_audio_blocks(p, block_s=0.5)
    assert len(next(blocks)) == 8000  # the first half is fine; the error comes with the bad block
    with pytest.raises(AudioError, match="NaN"):
        next(blocks)
    _expect_error(p, "NaN", sr=44100)  # resampling path too


def test_offset_beyond_end_and_negative_ranges(tmp_path):
    p = tmp_path / "short.wav"
    sf.write(p, np.zeros(16000, np.float32), 16000)
    _expect_error(p, "beyond the end", offset=2.0)
    _expect_error(p, "beyond the end", offset=1.0)
    _expect_error(p, "offset", offset=-0.5)
    _expect_error(p, "duration", duration=-1.0)
    _expect_error(p, "duration", duration=0.0)
    _expect_error(p, "offset", offset=float("nan"))
    m = write_av(tmp_path / "short.mp3", np.zeros((1, 16000), np.float32), 16000, "mp3")
    _expect_error(m, "beyond the end", offset=5.0)
    with pytest.raises(AudioError, match="block_s"):
        iter_audio_blocks(p, block_s=0)


def test_extension_sets():
    assert AUDIO_EXTENSIONS.isdisjoint(VIDEO_EXTENSIONS)
    assert {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus"} <= AUDIO_EXTENSIONS
    assert {".mp4", ".mkv", ".mov", ".webm"} <= VIDEO_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in MEDIA_EXTENSIONS)
    assert is_media_file("A/B/Song.MP3") and not is_media_file("notes.txt")


@pytest.mark.skipif(os.name != "posix", reason="file names are bytes on POSIX only")
@pytest.mark.parametrize("suffix", [".wav", ".m4a"])   # libsndfile, PyAV
def test_file_name_not_valid_utf8_opens(tmp_path, suffix):
    """A name that is not valid UTF-8 (Python decodes it with surrogate escapes) decodes like any other:
    libsndfile gets the file system's bytes (it failed with UnicodeEncodeError), PyAV encodes it itself."""
    x = tone(440.0, 1.0, 16000)
    ok = tmp_path / f"ok{suffix}"
    if suffix == ".wav":
        sf.write(ok, x, 16000)
    else:
        write_av(ok, x[None], 16000, "aac")
    bad = tmp_path / os.fsdecode(b"caf\xe9 \xff" + suffix.encode())
    os.link(ok, bad)
    np.testing.assert_array_equal(load_audio(bad), load_audio(ok))
    assert audio_info(bad) == audio_info(ok)
