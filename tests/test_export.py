"""ONNX export: onnxruntime equals torch on two lengths (dynamic batch/time), metadata, CLI."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from clip2frame.audio.features import FeatureSpec, Standardizer  # noqa: E402
from clip2frame.cli import main as cli_main  # noqa: E402
from clip2frame.export.onnx import export_onnx, load_onnx  # noqa: E402
from clip2frame.models import PRESETS, Clip2FrameNet  # noqa: E402
from clip2frame.models.io import TaggerModel, save_model  # noqa: E402


def _tagger(preset="tiny", K=5, seed=0, **model_changes):
    p = PRESETS[preset]
    spec = FeatureSpec(**p.features)
    torch.manual_seed(seed)
    net = Clip2FrameNet(replace(p.model, **model_changes), K).eval()
    if hasattr(net.accumulation, "log_sigma"):
        with torch.no_grad():  # distinct per-tag sigmas, so a wrong group/tag order in the accumulation shows
            net.accumulation.log_sigma.copy_(torch.log(torch.linspace(1.0, 20.0, K)))
    for m in net.modules():  # non-trivial running statistics, so batch norm in eval mode is exercised
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    rng = np.random.default_rng(seed)
    std = Standardizer(rng.uniform(0, 2, (spec.n_scales, spec.n_bands)).astype(np.float32),
                       rng.uniform(1, 3, (spec.n_scales, spec.n_bands)).astype(np.float32))
    labels = [f"tag{k}" for k in range(K)]
    return TaggerModel(net, spec, std, labels, {lab: "kind" for lab in labels},
                       np.linspace(0.2, 0.6, K).astype(np.float32), name=f"test-{preset}")


def _logmel(tagger, B, T, seed):
    spec = tagger.feature_spec
    return np.random.default_rng(seed).uniform(0, 8, (B, spec.n_scales, spec.n_bands, T)).astype(np.float32)


def _torch(tagger, x):
    with torch.no_grad():
        out = tagger.net(tagger.standardizer.apply(torch.from_numpy(x)))
    return out.frame.numpy(), out.clip.numpy()


@pytest.mark.parametrize("preset", ["tiny", "thesis-best"])
def test_onnxruntime_equals_torch_on_two_lengths(preset, tmp_path):
    tagger = _tagger(preset)
    path = export_onnx(tagger, tmp_path / "m.onnx")
    sess = load_onnx(path, threads=1)
    s = tagger.total_stride
    # 911 and 3000: not multiples of the stride (ceil-mode pooling), and not the traced batch size
    for B, T in ((1, 911), (3, 3000), (2, 5)):
        x = _logmel(tagger, B, T, seed=T)
        frame, clip = sess.run(x)
        ref_frame, ref_clip = _torch(tagger, x)
        assert frame.shape == (B, 5, -(-T // s)) == ref_frame.shape
        assert clip.shape == (B, 5)
        assert np.abs(frame - ref_frame).max() <= 1e-4
        assert np.abs(clip - ref_clip).max() <= 1e-4


def test_batch_norm_no_accumulation_and_max_pooling(tmp_path):
    """The ch. 4 sound model (batch norm, no Gaussian) with max clip pooling."""
    tagger = _tagger("thesis-sound-ch4", pooling="max")
    sess = load_onnx(export_onnx(tagger, tmp_path / "m.onnx"), threads=1)
    for T in (911, 1500):
        x = _logmel(tagger, 2, T, seed=T)
        frame, clip = sess.run(x)
        ref_frame, ref_clip = _torch(tagger, x)
        assert np.abs(frame - ref_frame).max() <= 1e-4 and np.abs(clip - ref_clip).max() <= 1e-4


def test_metadata_and_dynamic_axes(tmp_path):
    tagger = _tagger("tiny")
    path = export_onnx(tagger, tmp_path / "m.onnx")
    sess = load_onnx(path)
    meta = sess.meta
    assert meta["labels"] == tagger.labels
    assert meta["thresholds"] == pytest.approx(tagger.thresholds.tolist(), abs=1e-6)
    assert FeatureSpec.from_dict(meta["feature_spec"]) == tagger.feature_spec
    assert meta["onnx"]["standardization_in_graph"] is True
    assert meta["onnx"]["total_stride"] == 16
    assert meta["onnx"]["frame_seconds"] == pytest.approx(0.512)
    inp = sess.session.get_inputs()[0]
    assert inp.name == "logmel" and inp.shape == ["batch", 2, 32, "frames"]
    assert [o.name for o in sess.session.get_outputs()] == ["frame", "clip"]
    assert sess.session.get_outputs()[0].shape == ["batch", 5, "out_frames"]


def test_standardized_input_variant(tmp_path):
    tagger = _tagger("tiny")
    sess = load_onnx(export_onnx(tagger, tmp_path / "m.onnx", standardize=False))
    assert sess.meta["onnx"]["standardization_in_graph"] is False
    assert np.asarray(sess.meta["onnx"]["feature_mean"]).shape == (2, 32)
    x = _logmel(tagger, 2, 700, seed=1)
    xs = tagger.standardizer.apply(torch.from_numpy(x)).numpy()
    frame, clip = sess.run(xs)
    ref_frame, ref_clip = _torch(tagger, x)
    assert np.abs(frame - ref_frame).max() <= 1e-4 and np.abs(clip - ref_clip).max() <= 1e-4


def test_cli_export_from_model_file(tmp_path, capsys):
    tagger = _tagger("tiny")
    model = save_model(tmp_path / "model.safetensors", tagger)
    out = tmp_path / "sub" / "model.onnx"
    assert cli_main(["export", "--model", str(model), "--onnx", str(out), "--verify"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["onnx"] == str(out) and res["labels"] == 5
    assert res["max_abs_diff"] is not None and res["max_abs_diff"] <= 1e-4
    assert load_onnx(out).meta["name"] == "test-tiny"


def test_cli_missing_model_is_a_user_error(tmp_path, capsys):
    assert cli_main(["export", "--model", str(tmp_path / "nope.safetensors"), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
