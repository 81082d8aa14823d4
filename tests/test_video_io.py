"""Video decoding on the model time base: timestamps, sizes, variable frame rate, audio, bad input."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from clip2frame.errors import AudioError, Clip2FrameError
from clip2frame.video.inference import io as vio


def _write(path: Path, frames, *, fps=None, pts_s=None, audio=None, sr=16000, size=None):
    """Frames whose mean grey level encodes the frame index (index * 20)."""
    import av

    with av.open(str(path), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=fps or 30)
        h, w = frames[0].shape[:2]
        vs.height, vs.width = h, w
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "10", "preset": "ultrafast"}
        if pts_s is not None:
            vs.codec_context.time_base = Fraction(1, 1000)
            vs.time_base = Fraction(1, 1000)
        as_ = c.add_stream("aac", rate=sr) if audio is not None else None
        if as_ is not None:
            as_.layout = "mono"
        for i, fr in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(fr, format="rgb24")
            if pts_s is not None:
                vf.pts = int(round(pts_s[i] * 1000))
                vf.time_base = Fraction(1, 1000)
            for pkt in vs.encode(vf):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        if as_ is not None:
            for i in range(0, len(audio), 1024):
                af = av.AudioFrame.from_ndarray(audio[None, i:i + 1024].astype(np.float32), format="fltp", layout="mono")
                af.sample_rate = sr
                af.pts = i
                for pkt in as_.encode(af):
                    c.mux(pkt)
            for pkt in as_.encode():
                c.mux(pkt)


def _frames(n, h, w):
    return [np.full((h, w, 3), min(255, 20 * i), np.uint8) for i in range(n)]


def test_time_base_constants():
    assert vio.OUTPUT_FPS == pytest.approx(16000 / 512 / 16)
    assert vio.FLOW_FPS == pytest.approx(4 * 16000 / 512 / 16)
    assert vio.n_output_frames(10.0) == 20  # ceil((1 + 160000 // 512) / 16) = ceil(313 / 16)
    assert vio.n_output_frames(0.5) == 1
    np.testing.assert_allclose(vio.rgb_times(2), [0.256, 0.768])
    ft = vio.flow_times(2)
    assert len(ft) == 10 and ft[2] == pytest.approx(vio.rgb_times(1)[0])  # flow frame 4t+2 = RGB instant


def test_pick_by_timestamp_and_resize(tmp_path):
    p = tmp_path / "a.mp4"
    _write(p, _frames(12, 96, 128), fps=4)  # frames at 0, .25, .5, ...
    frames, dur = vio.read_frames_at(p, np.array([0.0, 0.26, 0.49, 0.5, 2.6, 9.0]))
    assert frames.shape == (6, 192, 256, 3)  # long side 256
    levels = np.round(frames.reshape(6, -1).mean(1) / 20).astype(int)
    np.testing.assert_array_equal(levels, [0, 1, 1, 2, 10, 11])  # last frame for times past the end
    assert dur == pytest.approx(3.0, abs=1e-6)


def test_portrait_and_variable_frame_rate(tmp_path):
    p = tmp_path / "vfr.mp4"
    pts = [0.0, 0.1, 0.15, 0.7, 0.75, 1.6]
    _write(p, _frames(6, 160, 90), pts_s=pts, fps=30)
    frames, _ = vio.read_frames_at(p, np.array([0.05, 0.2, 0.72, 1.0, 1.7]))
    assert frames.shape[1:3] == (256, 144)
    levels = np.round(frames.reshape(len(frames), -1).mean(1) / 20).astype(int)
    np.testing.assert_array_equal(levels, [0, 2, 3, 4, 5])


def test_decode_video_shapes_and_audio(tmp_path):
    p = tmp_path / "av.mp4"
    sr = 16000
    t = np.arange(int(2.0 * sr)) / sr
    _write(p, _frames(40, 64, 64), fps=20, audio=(0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    dv = vio.decode_video(p, duration_s=2.0)
    T = vio.n_output_frames(2.0)
    assert dv.rgb.shape == (T, 256, 256, 3) and dv.flow_frames.shape == (4 * T + 2, 256, 256, 3)
    wave = vio.load_video_audio(p)
    assert abs(len(wave) / sr - 2.0) < 0.15 and np.abs(wave).max() > 0.1


def test_bad_inputs_name_the_file(tmp_path):
    p = tmp_path / "silent.mp4"
    _write(p, _frames(5, 32, 32), fps=10)
    with pytest.raises(AudioError, match="silent.mp4.*no audio"):
        vio.load_video_audio(p)
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(Clip2FrameError, match="corrupt.mp4"):
        vio.decode_video(bad)
    with pytest.raises(Clip2FrameError, match="missing.mp4.*not found"):
        vio.decode_video(tmp_path / "missing.mp4")
    wav = tmp_path / "audio_only.wav"
    import soundfile as sf

    sf.write(wav, np.zeros(1600, np.float32), 16000)
    with pytest.raises(Clip2FrameError, match="audio_only.wav.*(no video stream|zero frames)"):
        vio.decode_video(wav)


def _write_rotated(path: Path, frame: np.ndarray, degrees: int, n: int = 4) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=10)
        vs.height, vs.width = frame.shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "10", "preset": "ultrafast"}
        vs.set_display_rotation(degrees)  # counter-clockwise, as phones store portrait video
        for _ in range(n):
            for pkt in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)


@pytest.mark.parametrize("degrees", [90, 270, 180])
def test_rotation_metadata_is_honoured(tmp_path, degrees):
    """A landscape 64x32 picture with a white left band, stored with a display rotation: frames come out
    upright (long side 256), the band where the rotation puts it."""
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, :16] = 255
    _write_rotated(tmp_path / "r.mp4", img, degrees)
    frames, _ = vio.read_frames_at(tmp_path / "r.mp4", np.array([0.05]))
    f = frames[0].mean(-1)
    expected = np.rot90(np.kron(img[..., 0], np.ones((4, 4))), degrees // 90)  # 128x256 before turning
    assert f.shape == expected.shape
    assert np.abs(f - expected).mean() < 20  # codec noise only; a wrong turn differs by ~100
    from clip2frame.video.inference.flow import iter_model_inputs

    (_, rgb, stack), = list(iter_model_inputs(tmp_path / "r.mp4", 1))
    assert rgb is not None and stack is not None
    assert rgb.shape[:2] == expected.shape and stack.shape[1:] == expected.shape


def test_frames_are_streamed_not_stacked(tmp_path):
    """iter_frames_at yields as it decodes: the first picture comes before the container is read to its end."""
    p = tmp_path / "s.mp4"
    _write(p, _frames(12, 48, 64), fps=10)
    it = vio.iter_frames_at(p, np.arange(12) / 10 + 0.01)
    first = next(it)
    assert first.mean() == pytest.approx(0, abs=3)
    info: dict = {}
    rest = list(vio.iter_frames_at(p, np.arange(12) / 10 + 0.01, info=info))
    assert [round(float(r.mean()) / 20) for r in rest] == list(range(12))
    assert info["duration_s"] == pytest.approx(1.2) and info["n_decoded"] == 12
