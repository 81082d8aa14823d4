"""Inference of any length: chunked output equals whole-file output; patching; model files."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from clip2frame.audio.features import FeatureSpec, MultiScaleLogMel, Standardizer
from clip2frame.errors import Clip2FrameError, ModelFileError
from clip2frame.infer.predict import predict
from clip2frame.models import PRESETS, Clip2FrameNet
from clip2frame.models.io import TaggerModel, load_model, read_metadata, save_model


def _tagger(preset="tiny", K=4, seed=0):
    p = PRESETS[preset]
    spec = FeatureSpec(**p.features)
    torch.manual_seed(seed)
    net = Clip2FrameNet(p.model, K).eval()
    rng = np.random.default_rng(seed)
    std = Standardizer(rng.uniform(0, 2, (spec.n_scales, spec.n_bands)).astype(np.float32),
                       rng.uniform(1, 3, (spec.n_scales, spec.n_bands)).astype(np.float32))
    labels = [f"tag{k}" for k in range(K)]
    return TaggerModel(net, spec, std, labels, {l: "kind" for l in labels}, np.full(K, 0.5, np.float32))


def _whole(tagger, wave, shift=0):
    with torch.no_grad():
        f = tagger.standardizer.apply(MultiScaleLogMel(tagger.feature_spec)(torch.from_numpy(wave)[None]))
        return tagger.net(f[..., shift:]).frame[0].numpy().T


@pytest.mark.parametrize("preset, seconds", [("tiny", 0.01), ("tiny", 3.3), ("tiny", 47.0),
                                             ("thesis-best", 0.01), ("thesis-best", 21.0)])
def test_chunked_equals_whole_file(preset, seconds, rng):
    tagger = _tagger(preset)
    wave = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    ref = _whole(tagger, wave)
    for chunk_s in (2.0, 9.7, 600.0) if preset == "tiny" else (6.1, 600.0):
        acts = predict(wave, sr=16000, model=tagger, chunk_s=chunk_s)
        assert acts.probs.shape == ref.shape
        assert np.abs(acts.probs - ref).max() <= 1e-5


def test_patching_interleaves_shifted_runs(rng):
    tagger = _tagger()
    wave = (0.1 * rng.standard_normal(16000 * 4 + 99)).astype(np.float32)
    acts = predict(wave, sr=16000, model=tagger, resolution="frame", chunk_s=1.0, batch_size=5)
    s = tagger.total_stride
    T = 1 + wave.size // 512
    assert acts.probs.shape == (T, 4)
    for r in (0, 5, s - 1):
        np.testing.assert_allclose(acts.probs[r::s], _whole(tagger, wave, r)[: len(acts.probs[r::s])], atol=1e-5)
    assert acts.boundaries[1] == pytest.approx(512 / 16000)


def test_to_dataframe(rng):
    acts = predict((0.1 * rng.standard_normal(16000 * 2)).astype(np.float32), sr=16000, model=_tagger())
    df = acts.to_dataframe()
    assert list(df.columns) == ["onset", "offset", *acts.labels]
    np.testing.assert_allclose(df[acts.labels].to_numpy(), acts.probs)


def test_boundaries_and_events(rng):
    tagger = _tagger()
    wave = (0.1 * rng.standard_normal(16000 * 5)).astype(np.float32)
    acts = predict(wave, sr=16000, model=tagger)
    assert acts.boundaries[0] == 0 and acts.boundaries[1] == pytest.approx(0.512)
    assert acts.boundaries[-1] == pytest.approx(5.0)
    acts.thresholds[:] = 0.0  # everything fires -> one event per tag spanning the file
    ev = acts.to_events()
    assert sorted(e.label for e in ev) == acts.labels
    assert all(e.onset == 0 and e.offset == pytest.approx(5.0) for e in ev)


def test_path_equals_array_and_resampling(tmp_path, rng):
    tagger = _tagger()
    wave = (0.1 * rng.standard_normal(44100 * 3)).astype(np.float32)
    sf.write(tmp_path / "a.wav", wave, 44100, subtype="FLOAT")
    a = predict(tmp_path / "a.wav", model=tagger)
    b = predict(wave, sr=44100, model=tagger)
    assert a.source.endswith("a.wav")
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)


def test_bad_arrays():
    tagger = _tagger()
    with pytest.raises(Clip2FrameError, match="sr="):
        predict(np.zeros(1000, np.float32), model=tagger)
    with pytest.raises(Clip2FrameError, match="NaN"):
        predict(np.full(1000, np.nan, np.float32), sr=16000, model=tagger)
    with pytest.raises(Clip2FrameError, match="resolution"):
        predict(np.zeros(1000, np.float32), sr=16000, model=tagger, resolution="pixel")


def test_model_file_round_trip(tmp_path, rng):
    tagger = _tagger(K=3)
    tagger.provenance = {"command": "test"}
    path = save_model(tmp_path / "m.safetensors", tagger)
    meta = read_metadata(path)
    assert meta["labels"] == tagger.labels and meta["provenance"]["command"] == "test"
    loaded = load_model(path)
    wave = (0.1 * rng.standard_normal(16000 * 2)).astype(np.float32)
    np.testing.assert_allclose(predict(wave, sr=16000, model=loaded).probs,
                               predict(wave, sr=16000, model=tagger).probs, atol=1e-6)
    np.testing.assert_allclose(loaded.standardizer.mean, tagger.standardizer.mean)


def test_corrupt_model_files(tmp_path):
    path = save_model(tmp_path / "m.safetensors", _tagger())
    data = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.safetensors").write_text("hello, I am not a model\n" * 10)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    for name in ("trunc", "text", "empty"):
        with pytest.raises(ModelFileError, match=name):
            load_model(tmp_path / f"{name}.safetensors")
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.safetensors")


def test_resolve_device_is_the_one_rule():
    from clip2frame.errors import ConfigError
    from clip2frame.infer.options import check_device
    from clip2frame.infer.predict import resolve_device

    assert resolve_device("cpu") == torch.device("cpu") and check_device("cpu") == "cpu"
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want and check_device("auto") == want
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ("gpu", "cuda:x", ""):
        with pytest.raises(ConfigError, match="--device"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        for name in ("cuda", "cuda:1"):
            with pytest.raises(ConfigError, match="no CUDA device"):
                check_device(name)


def test_model_cache_is_bounded_and_sees_a_changed_file(tmp_path, rng):
    from clip2frame.infer import predict as pred

    pred._load_cached.cache_clear()
    paths = [save_model(tmp_path / f"m{i}.safetensors", _tagger(K=3, seed=i)) for i in range(pred.MODEL_CACHE_SIZE + 2)]
    first = pred.load_tagger(str(paths[0]))
    assert pred.load_tagger(str(paths[0])) is first  # cached
    for p in paths:
        pred.load_tagger(str(p))
    assert pred._load_cached.cache_info().currsize == pred.MODEL_CACHE_SIZE
    assert pred.load_tagger(str(paths[0])) is not first  # dropped as least recently used, loaded again
    # a file rewritten in place is loaded again, not served from the cache
    again = pred.load_tagger(str(paths[1]))
    save_model(paths[1], _tagger(K=3, seed=99))
    import os

    st = os.stat(paths[1])
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fresh = pred.load_tagger(str(paths[1]))
    assert fresh is not again
    wave = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    np.testing.assert_allclose(predict(wave, sr=16000, model=fresh).probs,
                               predict(wave, sr=16000, model=_tagger(K=3, seed=99)).probs, atol=1e-6)
    assert pred._front_end.cache_info().maxsize == pred.FRONT_END_CACHE_SIZE
    pred._load_cached.cache_clear()
