"""``clip2frame detect``: the video detector through the batch of ``clip2frame tag`` (failures, resume, shards),
streamed inputs equal to whole-video decoding, the sound stream through ``infer.predict``, map formats."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from clip2frame.cli import main
from clip2frame.tags import VIDEO_INSTRUMENTS

SR = 16000


def make_video(path: Path, *, seconds: float = 3.0, fps: float = 10.0, audio: bool = True, seed: int = 0,
               audio_seconds: float | None = None) -> Path:
    """A 64x48 video of a bright square moving over noise, with a tone whose pitch depends on ``seed``."""
    import av

    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 80, (48, 64, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=int(fps))
        vs.height, vs.width, vs.pix_fmt = 48, 64, "yuv420p"
        vs.options = {"crf": "18", "preset": "ultrafast", "threads": "1"}
        as_ = c.add_stream("aac", rate=SR) if audio else None
        if as_ is not None:
            as_.layout = "mono"
        for i in range(int(seconds * fps)):
            img = bg.copy()
            x = int(8 + 40 * (0.5 + 0.5 * np.sin(i / 3.0 + seed)))
            img[16:32, x:x + 12] = 250
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        if as_ is not None:
            t = np.arange(int((audio_seconds or seconds) * SR)) / SR
            wave = (0.3 * np.sin(2 * np.pi * (300 + 100 * seed) * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)).astype(np.float32)
            for i in range(0, len(wave), 1024):
                af = av.AudioFrame.from_ndarray(wave[None, i:i + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts = SR, i
                for pkt in as_.encode(af):
                    c.mux(pkt)
            for pkt in as_.encode():
                c.mux(pkt)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny seeded (untrained) sound, object and action models in the one model-file format."""
    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.models.io import TaggerModel, VisualModel, save_model
    from clip2frame.models.registry import fit_model_to_features, get_preset
    from clip2frame.models.visual import VisualFCN, VisualFCNConfig

    d = tmp_path_factory.mktemp("models")
    K = len(VIDEO_INSTRUMENTS)
    torch.manual_seed(0)
    pre = get_preset("tiny")
    spec = FeatureSpec(**pre.features)
    net = Clip2FrameNet(fit_model_to_features(pre.model, n_scales=spec.n_scales, n_bands=spec.n_bands), K).eval()
    std = Standardizer(np.zeros((spec.n_scales, spec.n_bands)), np.ones((spec.n_scales, spec.n_bands)))
    out = {"sound": save_model(d / "sound.safetensors", TaggerModel(
        net, spec, std, list(VIDEO_INSTRUMENTS), {}, np.full(K, 0.5, np.float32), kind="sound"))}
    for kind in ("object", "action"):
        cfg = (VisualFCNConfig.for_object if kind == "object" else VisualFCNConfig.for_action)(0.0625, batch_norm=True)
        vnet = VisualFCN(cfg, K).eval()
        out[kind] = save_model(d / f"{kind}.safetensors", VisualModel(
            vnet, kind, list(VIDEO_INSTRUMENTS), np.full(K, 0.5, np.float32),
            target={"kind": "SOT", "name": "SOT0503"} if kind == "action" else None))
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("videos")
    for i in range(3):
        make_video(d / f"v{i}.mp4", seconds=2.5 + i, seed=i)
    return d


def _model_args(models) -> list[str]:
    return ["--action", str(models["action"]), "--object", str(models["object"]), "--sound", str(models["sound"])]


def _outputs(out: Path) -> dict[str, object]:
    """Every output file's content (heat maps as arrays: the zip's timestamps are not content)."""
    res: dict[str, object] = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != "failures.tsv":
            rel = str(p.relative_to(out))
            if p.suffix == ".npz":
                with np.load(p) as z:
                    res[rel] = {k: z[k].tolist() for k in z.files}
            else:
                res[rel] = p.read_bytes()
    return res


def test_detect_streams_equal_whole_video_and_batch_size_does_not_matter(models, videos):
    from clip2frame.video.inference.detect import detect_video, load_detector
    from clip2frame.video.inference.flow import flow_stacks, iter_model_inputs
    from clip2frame.video.inference.io import decode_video, n_output_frames

    v = videos / "v1.mp4"
    T = n_output_frames(3.5)
    dv = decode_video(v, with_flow_frames=True, duration_s=3.5)
    whole = flow_stacks(dv.flow_frames, T)
    streamed = list(iter_model_inputs(v, T))
    assert [t for t, _, _ in streamed] == list(range(T))
    np.testing.assert_array_equal(np.stack([s for _, _, s in streamed]), whole)
    np.testing.assert_array_equal(np.stack([r for _, r, _ in streamed]), dv.rgb)

    det = load_detector(action=models["action"], object=models["object"], sound=models["sound"])
    assert det.fusion == "A*O*S"
    a = detect_video(v, model=det, batch_size=1)
    b = detect_video(v, model=det, batch_size=16)
    assert a.n_frames == T and a.maps["fused"].shape[:2] == (T, len(VIDEO_INSTRUMENTS))
    for k in a.maps:
        np.testing.assert_allclose(a.maps[k], b.maps[k], rtol=1e-5, atol=1e-6)
    # the frame score is the fused peak as a geometric mean of the three streams, bounded by each stream
    peak = a.maps["fused"].reshape(T, len(VIDEO_INSTRUMENTS), -1).max(-1)
    np.testing.assert_allclose(a.probs, np.cbrt(peak), rtol=1e-5)


def test_sound_stream_goes_through_predict_chunked_equals_whole(models, videos):
    from clip2frame.infer.predict import predict
    from clip2frame.models.io import load_model
    from clip2frame.video.inference.io import load_video_audio
    from clip2frame.video.inference.predict import predict_sound

    sound = load_model(models["sound"], kind="sound")
    v = videos / "v2.mp4"
    whole = predict(v, model=sound, chunk_s=600.0).probs
    chunked = predict(v, model=sound, chunk_s=1.0).probs
    assert whole.shape == (9, len(VIDEO_INSTRUMENTS))  # 4.5 s of audio: ceil((1 + 72000 // 512) / 16)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    # from the decoded track (as training reads it) the same activations
    np.testing.assert_allclose(predict_sound(sound, load_video_audio(v), 9), whole, atol=1e-5)


def test_batch_with_a_corrupt_video_completes_and_exits_1(models, videos, tmp_path, capsys):
    """The corrupt video fails on decoding (the models load fine: the good videos are detected)."""
    inp = tmp_path / "in"
    inp.mkdir()
    for name in ("v0.mp4", "v1.mp4"):
        (inp / name).write_bytes((videos / name).read_bytes())
    (inp / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    out = tmp_path / "det"
    rc = main(["detect", str(inp), "--out", str(out), "--quiet", *_model_args(models)])
    assert rc == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["tagged"], report["failed"]) == (2, 1)
    failures = (out / "failures.tsv").read_text().splitlines()
    assert failures[0] == "path\terror" and len(failures) == 2
    assert "broken.mp4" in failures[1] and "model" not in failures[1].split("\t")[1]
    for stem in ("v0", "v1"):
        assert (out / f"{stem}.events.tsv").is_file() and (out / f"{stem}.overlay.mp4").stat().st_size > 1000
        with np.load(out / f"{stem}.heatmaps.npz") as z:
            T = len(z["times"])
            assert z["action"].shape[:2] == (T, 9) and z["action"].dtype == np.float16
            assert z["sound"].shape == (T, 9) and z["fused"].shape == z["action"].shape
            assert tuple(z["frame_size"]) == (192, 256) and str(z["fusion"]) == "A*O*S"
            assert z["probs"].shape == (T, 9) and len(z["boundaries"]) == T + 1
    assert not list(out.glob("broken*"))
    combined = (out / "events.tsv").read_text().splitlines()
    assert combined[0] == "filename\tonset\toffset\tevent_label"
    assert {line.split("\t")[0] for line in combined[1:]} <= {"v0.mp4", "v1.mp4"}


def test_killed_batch_resumes_to_the_uninterrupted_result(models, videos, tmp_path):
    from clip2frame.video.inference.detect import detect_files

    kw = dict(action=models["action"], object=models["object"], sound=models["sound"], device="cpu")
    full = detect_files([videos], out_dir=tmp_path / "full", **kw)
    assert full.exit_code == 0 and len(full.tagged) == 3

    class Killed(BaseException):
        pass

    def kill_after_first(r):
        if r.status == "tagged":
            raise Killed

    with pytest.raises(Killed):
        detect_files([videos], out_dir=tmp_path / "resumed", on_result=kill_after_first, **kw)
    done = sorted(p.name for p in (tmp_path / "resumed").glob("*.heatmaps.npz"))
    assert done == ["v0.heatmaps.npz"]
    again = detect_files([videos], out_dir=tmp_path / "resumed", **kw)
    assert (len(again.skipped), len(again.tagged), again.exit_code) == (1, 2, 0)
    assert _outputs(tmp_path / "resumed") == _outputs(tmp_path / "full")
    # shards split the videos and together cover them
    for i in range(2):
        assert detect_files([videos], out_dir=tmp_path / "sh", shard=(i, 2), **kw).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "sh").glob("*.events.tsv") if "shard" not in p.name) == \
        ["v0.events.tsv", "v1.events.tsv", "v2.events.tsv"]


def test_setup_errors_are_one_line_and_write_nothing(models, videos, tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["detect", str(videos / "v0.mp4"), "--out", str(out), "--action", str(models["object"])]) == 2
    assert "is an object model, expected action" in capsys.readouterr().err
    assert main(["detect", str(videos / "v0.mp4"), "--out", str(out), "--action", str(models["action"]),
                 "--sound", "none", "--fusion", "A*S"]) == 2
    assert "needs the sound model" in capsys.readouterr().err
    assert not out.exists()


def test_video_without_audio_drops_the_sound_stream(models, tmp_path):
    from clip2frame.video.inference.detect import detect_video, load_detector

    v = make_video(tmp_path / "mute.mp4", seconds=2.0, audio=False)
    det = load_detector(action=models["action"], object=models["object"], sound=models["sound"])
    acts = detect_video(v, model=det)
    assert acts.meta["fusion"] == "A*O" and "sound" not in acts.maps
    assert acts.n_frames == 4  # ceil((1 + 32000 // 512) / 16)


def test_map_formats_need_maps(tmp_path):
    from clip2frame.errors import OutputError
    from clip2frame.results.activations import FrameActivations
    from clip2frame.results.writers import write_outputs

    acts = FrameActivations(["a"], np.zeros((2, 1)), np.arange(3) * 0.5, np.full(1, 0.5))
    with pytest.raises(OutputError, match="needs spatial maps"):
        write_outputs(acts, tmp_path, formats=("heatmaps",), stem="x")
    with pytest.raises(ValueError, match="map 'm'"):
        FrameActivations(["a"], np.zeros((2, 1)), np.arange(3) * 0.5, np.full(1, 0.5), maps={"m": np.zeros((3, 1))})


def test_streamed_inputs_need_memory_for_a_window_not_the_video(tmp_path):
    """Peak numpy memory (tracemalloc) while streaming every model input of a 2-s and an 8-s video: the
    same window whatever the length (a whole-video decode would hold 4x more at 8 s)."""
    import tracemalloc

    from clip2frame.video.inference.flow import iter_model_inputs
    from clip2frame.video.inference.io import n_output_frames

    peaks = []
    for seconds in (2.0, 8.0):
        v = make_video(tmp_path / f"m{seconds:g}.mp4", seconds=seconds, audio=False)
        T = n_output_frames(seconds)
        tracemalloc.start()
        n = sum(1 for _ in iter_model_inputs(v, T))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert n == T
    # one flow stack alone is 10 x 192 x 256 float32 = 2 MB; 16 output frames of them would be 31 MB
    assert peaks[1] < 1.2 * peaks[0] and peaks[1] < 16e6


def test_audio_longer_than_the_pictures_sets_the_frame_count(models, tmp_path):
    """T is the audio track's; output frames past the last picture show the last picture."""
    from clip2frame.video.inference.detect import detect_video, load_detector

    v = make_video(tmp_path / "long_audio.mp4", seconds=2.0, audio_seconds=4.0)
    acts = detect_video(v, model=load_detector(action=models["action"], object=models["object"],
                                               sound=models["sound"]))
    assert acts.n_frames == 8  # ceil((1 + 64000 // 512) / 16), not the pictures' 4
    assert acts.maps["action"].shape[0] == 8 and acts.maps["object"].shape[0] == 8
    np.testing.assert_allclose(acts.maps["action"][-1], acts.maps["action"][-2], atol=1e-6)
