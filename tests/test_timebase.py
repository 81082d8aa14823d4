"""The one time base (``clip2frame.timebase``): frame edges, output length, stride constants; every producer
agrees with it, the video stride is the sound model's, and no second spelling comes back in ``src/``."""
from __future__ import annotations

import re
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch

from clip2frame.audio.features import FeatureSpec, Standardizer
from clip2frame.errors import ConfigError
from clip2frame.infer.predict import predict
from clip2frame.infer.stream import StreamTagger
from clip2frame.models import PRESETS, Clip2FrameNet
from clip2frame.models.io import TaggerModel
from clip2frame.timebase import (HOP_LENGTH, SAMPLE_RATE, frame_boundaries, frame_rate_hz, frame_seconds, n_frames,
                                 output_frames)

SRC = Path(__file__).resolve().parents[1] / "src" / "clip2frame"


def _tagger(K: int = 3) -> TaggerModel:
    p = PRESETS["tiny"]
    spec = FeatureSpec(**p.features)
    torch.manual_seed(0)
    net = Clip2FrameNet(p.model, K).eval()
    std = Standardizer(np.zeros((spec.n_scales, spec.n_bands), np.float32),
                       np.ones((spec.n_scales, spec.n_bands), np.float32))
    labels = [f"t{k}" for k in range(K)]
    return TaggerModel(net, spec, std, labels, {lab: "kind" for lab in labels}, np.full(K, 0.5, np.float32))


def test_frame_boundaries_grid_and_the_one_clipping_rule():
    d = frame_seconds(16)
    assert d == 0.512 and frame_rate_hz(16) == 1.953125 and frame_seconds() == 0.032
    np.testing.assert_array_equal(frame_boundaries(3, d), [0.0, d, 2 * d, 3 * d])
    np.testing.assert_array_equal(frame_boundaries(2, d, first=5), [5 * d, 6 * d, 7 * d])
    # the last edge ends with the audio when the audio ends inside the last frame ...
    np.testing.assert_array_equal(frame_boundaries(3, d, duration_s=1.3), [0.0, d, 2 * d, 1.3])
    # ... and stays on the grid when the audio ends later, or before the last frame's onset
    np.testing.assert_array_equal(frame_boundaries(3, d, duration_s=2.0), [0.0, d, 2 * d, 3 * d])
    np.testing.assert_array_equal(frame_boundaries(3, d, duration_s=0.9), [0.0, d, 2 * d, 3 * d])
    np.testing.assert_array_equal(frame_boundaries(0, d, duration_s=0.1), [0.0])


@pytest.mark.parametrize("T", [0, 1, 15, 16, 17, 33])
def test_output_frames_is_the_networks_output_length(T):
    p = PRESETS["tiny"]
    net = Clip2FrameNet(p.model, 2).eval()
    if T == 0:
        assert output_frames(0, net.total_stride) == 0
        return
    with torch.no_grad():
        out = net(torch.zeros(1, p.model.n_scales, p.model.in_bands, T))
    assert out.frame.shape[-1] == output_frames(T, net.total_stride) == -(-T // 16)


def test_every_producer_cuts_an_odd_length_on_the_same_edges():
    """predict(), the live stream at its end and the video's frame count agree with the time base on an
    odd number of samples (not a multiple of the hop nor of the stride)."""
    from clip2frame.video.inference.io import n_output_frames

    tagger = _tagger()
    n = 3 * SAMPLE_RATE + 12345  # 3.77 s
    wave = (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    T = output_frames(n_frames(n), tagger.total_stride)
    want = frame_boundaries(T, frame_seconds(tagger.total_stride), duration_s=n / SAMPLE_RATE)
    assert want[-1] == n / SAMPLE_RATE  # the odd length ends inside the last frame: the rule is exercised

    acts = predict(wave, model=tagger, sr=SAMPLE_RATE)
    np.testing.assert_array_equal(acts.boundaries, want)

    stream = StreamTagger(tagger)
    parts = [stream.feed(wave[i:i + 7001]).frames for i in range(0, n, 7001)] + [stream.close().frames]
    edges = [p.boundaries for p in parts if p.n_frames]
    got = np.concatenate([e[:-1] for e in edges] + [edges[-1][-1:]])
    np.testing.assert_array_equal(got, want)

    assert n_output_frames(n / SAMPLE_RATE) == T


def test_video_stride_is_the_sound_models_stride():
    from clip2frame.models.io import read_metadata
    from clip2frame.models.registry import SOUND_PRESET, get_preset, model_kind
    from clip2frame.video.inference import io as vio

    assert vio.OUTPUT_STRIDE == get_preset(SOUND_PRESET).model.total_stride
    assert vio.FRAME_DURATION_S == frame_seconds(vio.OUTPUT_STRIDE, hop_length=HOP_LENGTH, sr=SAMPLE_RATE)
    sound = model_kind("sound")
    if sound.default_path.is_file():  # the packaged sound model is on the same frames
        meta = read_metadata(sound.default_path)
        assert sound.config(meta["model_config"]).total_stride == vio.OUTPUT_STRIDE
        spec = meta["feature_spec"]
        assert (spec["sr"], spec["hop_length"]) == (SAMPLE_RATE, HOP_LENGTH)
    from clip2frame.data.readers.keypoints import THESIS_FPS

    assert THESIS_FPS == 1.0 / vio.FRAME_DURATION_S == vio.OUTPUT_FPS


def test_fit_len_refuses_streams_more_than_a_frame_apart():
    from clip2frame.video.inference.predict import fit_len

    a = np.arange(10, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(fit_len(a, 11)[-2:, 0], [9, 9])
    np.testing.assert_array_equal(fit_len(a, 9)[:, 0], a[:9, 0])
    with pytest.raises(ConfigError, match=r"^x\.mp4: sound stream: 10 frames where the video time base has 20"):
        fit_len(a, 20, what="x.mp4: sound stream")
    with pytest.raises(ConfigError):
        fit_len(a, 5)


def test_a_sound_model_of_another_stride_is_refused_by_the_video_detector(tmp_path):
    from dataclasses import replace

    from clip2frame.models.config import EarlyLayer
    from clip2frame.models.io import VisualModel, save_model
    from clip2frame.models.visual import VisualFCN, VisualFCNConfig
    from clip2frame.tags import VIDEO_INSTRUMENTS
    from clip2frame.video.inference.detect import load_detector

    K = len(VIDEO_INSTRUMENTS)
    p = PRESETS["tiny"]
    spec = FeatureSpec(**p.features)
    cfg = replace(p.model, early=(EarlyLayer(16, 8, 4), EarlyLayer(16, 8, 2)))  # total stride 8: 0.256-s frames
    net = Clip2FrameNet(cfg, K).eval()
    std = Standardizer(np.zeros((spec.n_scales, spec.n_bands)), np.ones((spec.n_scales, spec.n_bands)))
    sound = save_model(tmp_path / "sound8.safetensors", TaggerModel(
        net, spec, std, list(VIDEO_INSTRUMENTS), {}, np.full(K, 0.5, np.float32), kind="sound"))
    action = save_model(tmp_path / "action.safetensors", VisualModel(
        VisualFCN(VisualFCNConfig.for_action(0.0625), K).eval(), "action", list(VIDEO_INSTRUMENTS),
        np.full(K, 0.5, np.float32), target={"kind": "SOT", "name": "SOT0503"}))
    with pytest.raises(ConfigError, match=r"sound8\.safetensors: a sound model of 0\.256-s frames \(total stride 8\)"):
        load_detector(action=action, object=None, sound=sound)


# A second spelling of the frame edges (``np.arange(T + 1) * step``), of ceil(T / stride) (``-(-T // s)``) or of
# the hop/stride constants outside timebase.py, in code (strings and comments skipped); other arange/ceil uses
# (signal synthesis, pooling of the visual FCN) do not match.
_EDGES = re.compile(r"arange\([^()]*(\([^()]*\))?[^()]*\+ *1\)\)? *[*/]")
_CEIL_STRIDE = re.compile(r"-\(-[^)]*// *(s|stride|self\.stride|total_stride|self\.s)\)"
                          r"|ceil\(.*/ *(s|stride|self\.stride|total_stride|OUTPUT_STRIDE)\)")
_CONSTANTS = re.compile(r"(16000 */ *512|512 */ *16000|(OUTPUT|TOTAL|SOUND|VIDEO|MODEL)_STRIDE *= *\d|= *0\.(512|032)\b)")


def _code_lines(path: Path) -> dict[int, str]:
    """Line number -> the line's code, without strings and comments."""
    out: dict[int, list[str]] = {}
    with tokenize.open(path) as f:
        for tok in tokenize.generate_tokens(f.readline):
            if tok.type not in (tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE):
                out.setdefault(tok.start[0], []).append(tok.string)
    return {i: " ".join(parts) for i, parts in out.items()}


def test_no_second_spelling_of_the_time_base_in_src():
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "timebase.py":
            continue
        for i, code in _code_lines(path).items():
            code = re.sub(r" *([().*/+=-]) *", r"\1", code).replace("=", " = ")
            if _EDGES.search(code) or _CEIL_STRIDE.search(code) or _CONSTANTS.search(code):
                hits.append(f"{path.relative_to(SRC)}:{i}: {code}")
    assert hits == [], "\n".join(hits)


def test_the_source_scan_finds_a_second_spelling(tmp_path):
    """The scan above is not vacuous: each spelling it forbids is found in code, not in a string."""
    f = tmp_path / "m.py"
    f.write_text('"""np.arange(T + 1) * step"""\nb = np.arange(T + 1) * step\nn = -(-T // s)\n'
                 'OUTPUT_STRIDE = 16\nd = 512 / 16000  # 512 / 16000\nm = math.ceil((1 + N // 512) / OUTPUT_STRIDE)\n')
    lines = {i: re.sub(r" *([().*/+=-]) *", r"\1", c).replace("=", " = ") for i, c in _code_lines(f).items()}
    assert [i for i, c in lines.items() if _EDGES.search(c)] == [2]
    assert [i for i, c in lines.items() if _CEIL_STRIDE.search(c)] == [3, 6]
    assert [i for i, c in lines.items() if _CONSTANTS.search(c)] == [4, 5]
