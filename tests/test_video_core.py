"""Flow, models, targets, fusion and metrics of the video chapter, on hand-made inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from clip2frame.errors import Clip2FrameError, ConfigError
from clip2frame.video.inference import flow as vflow
from clip2frame.video.inference import fusion, metrics
from clip2frame.video.training import cache as vcache
from clip2frame.video.training import targets
from clip2frame.models.visual import VisualFCN, VisualFCNConfig, heatmap_size


def _pattern(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    noise = rng.random((h // 4, w // 4)).astype(np.float32)
    img = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def test_farneback_recovers_translation(rng):
    big = _pattern(160, 200, rng)
    dx, dy = 3, -2
    a = big[20:116, 20:148]
    b = big[20 - dy:116 - dy, 20 - dx:148 - dx]  # content moves by (+dx, +dy)
    f = vflow.farneback(a, b)
    inner = f[16:-16, 16:-16]
    assert inner.shape[-1] == 2
    assert np.median(inner[..., 0]) == pytest.approx(dx, abs=0.25)
    assert np.median(inner[..., 1]) == pytest.approx(dy, abs=0.25)


def test_flow_stacks_layout_and_clip(rng):
    big = _pattern(200, 260, rng)
    T = 2
    frames = []
    for k in range(4 * T + 2):  # content moves 2 px right per flow frame
        frames.append(np.repeat(big[40:136, 60 - 2 * k:188 - 2 * k, None], 3, axis=2))
    st = vflow.flow_stacks(np.stack(frames), T)
    assert st.shape == (T, 10, 96, 128)
    inner = st[:, :, 20:-20, 20:-20]
    assert np.allclose(np.median(inner[:, 0::2], axis=(2, 3)), 2.0, atol=0.3)  # dx channels
    assert np.allclose(np.median(inner[:, 1::2], axis=(2, 3)), 0.0, atol=0.3)  # dy channels
    f = vflow.farneback(frames[0][..., 0], frames[1][..., 0], params=vflow.FlowParams(clip=1.0))
    assert f.max() <= 1.0 and f.min() >= -1.0


@pytest.mark.parametrize("kind,cin", [("object", 3), ("action", 10)])
@pytest.mark.parametrize("hw", [(192, 256), (256, 144), (100, 256)])
def test_model_shapes_stride(kind, cin, hw):
    cfg = VisualFCNConfig(kind=kind, in_channels=cin, width=0.0625)
    net = VisualFCN(cfg, 9).eval()
    x = torch.randn(2, cin, *hw)
    out = net(x)
    h, w = heatmap_size(*hw)
    assert out.heatmap.shape == (2, 9, h, w)
    assert (h, w) == (-(-hw[0] // 32), -(-hw[1] // 32))  # stride 32 with conv6 padding 1
    assert torch.all((out.heatmap >= 0) & (out.heatmap <= 1))
    assert torch.allclose(out.clip, out.heatmap.amax(dim=(-2, -1)))
    cfg0 = VisualFCNConfig(kind=kind, in_channels=cin, width=0.0625, conv6_padding=0)
    assert VisualFCN(cfg0, 9).eval()(x).heatmap.shape[-2:] == heatmap_size(*hw, conv6_padding=0)


def _bce(p, q, w=1.0):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(w * q * np.log(p) + (1 - q) * np.log(1 - p))))


def test_targets_on_hand_made_tensors():
    # N=2 frames, K=2 instruments, 2x2 maps
    A = torch.tensor([[[[0.9, 0.1], [0.2, 0.3]], [[0.4, 0.5], [0.6, 0.2]]],
                      [[[0.1, 0.2], [0.3, 0.4]], [[0.7, 0.8], [0.1, 0.1]]]])
    O = torch.tensor([[[[0.8, 0.2], [0.1, 0.0]], [[0.0, 0.0], [0.35, 0.9]]],
                      [[[0.0, 0.0], [0.0, 0.5]], [[0.3, 0.1], [0.1, 0.1]]]])
    S = torch.tensor([[0.6, 0.2], [0.4, 0.9]])
    V = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    An = A.numpy()
    maxA = An.max(axis=(2, 3))  # [[0.9, 0.6], [0.4, 0.8]]
    assert targets.vt_loss(A, V).item() == pytest.approx(_bce(maxA, V.numpy()), rel=1e-5)
    Ohat = np.array([[[[1, 0], [0, 0]], [[0, 0], [1, 1]]], [[[0, 0], [0, 1]], [[1, 0], [0, 0]]]], np.float32)
    assert np.array_equal(targets.ot_target(O, 0.3).numpy(), Ohat)
    assert targets.ot_loss(A, O, 0.3).item() == pytest.approx(_bce(An, Ohat), rel=1e-5)
    Shat = np.array([[1, 0], [0, 1]], np.float32)
    assert np.array_equal(targets.st_target(S, 0.5).numpy(), Shat)
    assert targets.st_loss(A, S, 0.5).item() == pytest.approx(_bce(maxA, Shat), rel=1e-5)
    SO = Shat[..., None, None] * Ohat
    assert np.array_equal(targets.sot_target(S, O, 0.5, 0.3).numpy(), SO)
    assert targets.sot_loss(A, S, O, 0.5, 0.3).item() == pytest.approx(_bce(An, SO), rel=1e-5)
    # the spec dispatches to the same functions
    assert targets.parse_target("SOT0503").loss(A, S=S, O=O).item() == pytest.approx(_bce(An, SO), rel=1e-5)
    assert targets.parse_target("VT").loss(A, V=V).item() == pytest.approx(_bce(maxA, V.numpy()), rel=1e-5)
    # positive weight w: each positive term counts w times (w = 1 is the thesis' loss)
    assert targets.parse_target("SOT0503").loss(A, S=S, O=O, pos_weight=7.0).item() == \
        pytest.approx(_bce(An, SO, 7.0), rel=1e-5)
    assert targets.st_loss(A, S, 0.5, 3.0).item() == pytest.approx(_bce(maxA, Shat, 3.0), rel=1e-5)


def test_target_names_round_trip():
    for name, spec in [("VT", targets.TargetSpec("VT")), ("OT03", targets.TargetSpec("OT", None, 0.3)),
                       ("ST05", targets.TargetSpec("ST", 0.5, None)),
                       ("SOT0503", targets.TargetSpec("SOT", 0.5, 0.3)), ("SOT1000", targets.TargetSpec("SOT", 1.0, 0.0))]:
        assert targets.parse_target(name) == spec
        assert spec.name == name
    assert targets.make_target("SOT", sound_threshold=0.5, object_threshold=0.3).name == "SOT0503"
    assert targets.make_target("VT", sound_threshold=0.5).name == "VT"
    for bad in ("XT", "SOT05", "ST", "OT0303", "VT05"):
        with pytest.raises(ConfigError):
            targets.parse_target(bad)
    with pytest.raises(ConfigError):
        targets.make_target("ST")
    with pytest.raises(ConfigError):
        targets.TargetSpec("ST", 0.25, None).name


def test_fusion_products():
    A = np.full((2, 3, 2, 2), 0.5, np.float32)
    O = np.full((2, 3, 2, 2), 0.4, np.float32)
    S = np.array([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]], np.float32)
    assert np.allclose(fusion.fuse(A, method="A"), A)
    assert np.allclose(fusion.fuse(A, O=O, method="A*O"), 0.2)
    assert np.allclose(fusion.fuse(A, S=S, method="A*S")[:, :, 0, 0], 0.5 * S)
    assert np.allclose(fusion.fuse(A, O=O, S=S, method="A*O*S")[:, :, 1, 1], 0.2 * S)
    with pytest.raises(ValueError):
        fusion.fuse(A, method="A*O")


def test_temporal_auc_is_the_one_roc_auc_and_nan_for_one_class(rng):
    from sklearn.metrics import roc_auc_score

    for _ in range(20):
        n = int(rng.integers(5, 60))
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            y[0] = 1 - y[0]
        s = np.round(rng.random(n), 1)  # ties on purpose
        assert metrics.defined_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert np.isnan(metrics.defined_auc([1, 1], [0.1, 0.2]))
    assert metrics.defined_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert not hasattr(metrics, "roc_auc")  # one ROC-AUC: clip2frame.eval.metrics


def test_spatial_metrics_hand_computed():
    # 2x2 map on a 64x64 frame: maximum in the bottom-right cell -> arg-max at the bottom-right corner region
    hm = np.array([[0.0, 0.0], [0.0, 1.0]], np.float32)
    x, y = metrics.argmax_location(hm, (64, 64))
    assert x >= 47 and y >= 47  # inside the bottom-right quarter (cell centre 47.5 onwards)
    assert metrics.point_distance((3.0, 4.0), [(0.0, 0.0), (100.0, 100.0)]) == pytest.approx(5.0)
    assert metrics.centre_distance((64, 64), [(31.5, 41.5)]) == pytest.approx(10.0)
    assert metrics.inside_box((10, 10), [[0, 0, 5, 5], [8, 8, 12, 12]])
    assert not metrics.inside_box((10, 10), [[0, 0, 5, 5]])
    # ties: the centroid of the maximal plateau (a constant map -> the frame centre)
    assert metrics.argmax_location(np.ones((3, 4)), (96, 128)) == (63.5, 47.5)
    x, y = metrics.argmax_location(np.array([[1.0, 0.0], [0.0, 0.0]]), (64, 64))
    assert x == y and 7 <= x <= 8  # the 16x16 corner plateau of a border cell


def test_evaluate_maps_means_per_instrument():
    T = 4
    fs = (64, 64)
    mk = lambda act, kp: metrics.VideoTruth("v", "cello", np.array(act, bool), kp, [[[0, 0, 31, 31]]] * T, fs)
    tr1 = mk([1, 1, 0, 0], [[(10.0, 10.0)], [(10.0, 10.0)], [], []])
    tr2 = metrics.VideoTruth("w", "drums", np.array([1, 0, 1, 0], bool), [[(50.0, 50.0)], [], [(50.0, 50.0)], []],
                             [[[32, 32, 63, 63]]] * T, fs)
    m1 = np.zeros((T, 2, 2), np.float32)
    m1[:, 0, 0] = [0.9, 0.8, 0.1, 0.2]  # perfect ranking, max top-left
    m2 = np.zeros((T, 2, 2), np.float32)
    m2[:, 0, 0] = [0.9, 0.1, 0.2, 0.8]  # AUC 3/4 for drum, max top-left (wrong place)
    sc = metrics.evaluate_maps([tr1, tr2], [m1, m2])
    assert sc.per_instrument["cello"]["temporal_auc"] == pytest.approx(1.0)
    assert sc.per_instrument["drums"]["temporal_auc"] == pytest.approx(0.75)
    assert sc.temporal_auc == pytest.approx(0.875)
    assert sc.per_instrument["cello"]["hit_rate"] == pytest.approx(1.0)
    assert sc.per_instrument["drums"]["hit_rate"] == pytest.approx(0.0)
    loc = metrics.argmax_location(m1[0], fs)
    d_cello = metrics.point_distance(loc, [(10.0, 10.0)])
    d_drum = metrics.point_distance(loc, [(50.0, 50.0)])
    assert sc.spatial_px == pytest.approx((d_cello + d_drum) / 2)
    base = metrics.centre_baseline([tr1, tr2])
    assert base.spatial_px == pytest.approx((np.hypot(21.5, 21.5) + np.hypot(18.5, 18.5)) / 2)


def test_flow_cache_key_and_reuse(tmp_path):
    from clip2frame.video.rendering.corpus import render_video
    from clip2frame.video.rendering.scene import VideoSynthConfig

    p = tmp_path / "v.mp4"
    render_video(VideoSynthConfig(duration_s=1.2, fps=10), 0, "drums", p)
    k1 = vcache.cache_key(p)
    assert k1 == vcache.cache_key(p)
    assert k1 != vcache.cache_key(p, vflow.FlowParams(winsize=13))
    cache = tmp_path / "cache"
    f1 = vcache.video_flow(p, cache_dir=cache)
    files = list(cache.glob("*.flow.npy"))
    assert len(files) == 1 and k1 in files[0].name
    assert f1.shape[1] == 10 and np.abs(f1).max() <= 128
    f2 = vcache.video_flow(p, cache_dir=cache)
    np.testing.assert_array_equal(f1.astype(np.float16), f2.astype(np.float16))
    import os

    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert vcache.cache_key(p) != k1  # a touched file is recomputed


def test_cache_flows_in_processes_equals_direct(tmp_path):
    from clip2frame.video.rendering.corpus import render_video
    from clip2frame.video.rendering.scene import VideoSynthConfig

    paths = [tmp_path / f"v{i}.mp4" for i in range(2)]
    for i, p in enumerate(paths):
        render_video(VideoSynthConfig(duration_s=1.2, fps=10), i, "violin", p)
    cache = tmp_path / "cache"
    assert vcache.cache_flows([(p, None) for p in paths], cache_dir=cache, jobs=2).computed == 2
    got = vcache.cache_flows([(p, None) for p in paths], cache_dir=cache, jobs=2)
    assert got.computed == 0 and got.clip_ids == [str(p) for p in paths]  # all cached
    assert [f.shape for f in got.feats] == [np.load(vcache.flow_cache_file(p, cache)).shape for p in paths]
    for p in paths:
        np.testing.assert_array_equal(np.load(vcache.flow_cache_file(p, cache)), vcache.video_flow(p).astype(np.float16))


def test_average_movements_hand_computed():
    from clip2frame.video.training.movements import average_movements, draw_movements

    w = np.zeros((2, 10, 3, 3))
    w[0, 0] = 1.0   # filter 0: flow 0 moves right
    w[1, 9] = -2.0  # filter 1: flow 4 moves up
    m = average_movements(w)
    assert m.shape == (2, 5, 2)
    np.testing.assert_allclose(m[0, 0], [1.0, 0.0])
    np.testing.assert_allclose(m[1, 4], [0.0, -2.0])
    assert np.abs(m).sum() == pytest.approx(3.0)
    img = draw_movements(m, cell=32, cols=2)
    assert img.shape == (32, 64, 3)


def test_configs_round_trip_and_refuse_unknown_keys():
    from clip2frame.config import from_dict, to_dict
    from clip2frame.video.training.config import VideoTrainConfig, default_config

    cfg = VisualFCNConfig.for_action(0.125)
    assert from_dict(VisualFCNConfig, to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="widht"):
        from_dict(VisualFCNConfig, {"widht": 0.5})
    t = default_config("action", target="SOT", sound_threshold=0.5, object_threshold=0.3)
    assert (t.optimizer, t.lr, t.momentum, t.epochs) == ("sgd", 0.001, 0.9, 100)  # thesis §4.2.4
    assert default_config("object").freeze_epochs == 20 and default_config("object").epochs == 50
    assert default_config("sound").optimizer == "adagrad"
    assert from_dict(VideoTrainConfig, to_dict(t)) == t
    with pytest.raises(ConfigError):
        default_config("audio")


def test_batches_and_flip():
    from clip2frame.video.training.data import VideoItem
    from clip2frame.video.training.batches import epoch_batches, flip_batch
    from clip2frame.video.training.config import VideoTrainConfig

    items = [VideoItem(f"v{i}", "", np.zeros(9, np.float32), flow=np.zeros((n, 10, 4, 4), np.float16))
             for i, n in enumerate((12, 7, 20))]
    gen = np.random.default_rng(0)
    sub = list(epoch_batches(items, "action", VideoTrainConfig(), gen))
    assert len(sub) == 3 and all(len({vi for vi, _ in b}) == 1 for b in sub)
    for b in sub:  # consecutive frames of one video
        ts = [t for _, t in b]
        assert ts == list(range(ts[0], ts[0] + len(ts))) and len(ts) <= 10
    fr = list(epoch_batches(items, "action", VideoTrainConfig(batch_mode="frames", batches_per_epoch=3), gen))
    flat = [p for b in fr for p in b]
    assert len(flat) == 30 and len(set(flat)) == 30  # without replacement within the pool of 39 frames
    x = torch.zeros(64, 10, 2, 3)
    x[:, 0, :, 0] = 1.0  # dx = +1 on the left column
    O = torch.zeros(64, 9, 2, 3)
    O[:, :, :, 0] = 1.0
    xf, Of = flip_batch(x, O, "action", np.random.default_rng(1))
    flipped = xf[:, 0, 0, 2] != 0
    assert 0 < int(flipped.sum()) < 64
    assert torch.all(xf[flipped, 0, :, 2] == -1.0) and torch.all(Of[flipped, :, :, 2] == 1.0)
    assert torch.all(xf[~flipped] == x[~flipped])


def test_oracle_object_maps():
    from clip2frame.video.training.data import oracle_object_maps

    truth = {"frame_size": [64, 128], "frames": [{"boxes": {"cello": [[0, 0, 40, 30]]}}, {"boxes": {}}]}
    O = oracle_object_maps(truth, 2, (2, 4))  # cells of 32x32 px, centres at x 16, 48, .. y 16, 48
    k = 1  # cello
    assert O[0, k].tolist() == [[1, 0, 0, 0], [0, 0, 0, 0]]
    assert O[1].sum() == 0 and O[0].sum() == 1


def test_demo_verdicts_state_both_claims_either_way():
    from clip2frame.video.training.demo import verdicts
    from clip2frame.video.training.evaluate import ResultRow

    def row(m, auc, px=float("nan")):
        return ResultRow(m, "NA", "NA", auc, px, float("nan"), {})

    rows = [row("VT A", 0.60, 40.0), row("VT A*O*S", 0.58), row("SOT0503 A", 0.70, 30.0), row("SOT0503 A*O*S", 0.90)]
    v = verdicts(rows)
    assert v[0] == "SOT0503 beats VT temporally (0.700 vs 0.600 AUC) and beats it spatially (30.0 vs 40.0 px)."
    assert v[1].startswith("A·O·S beats A temporally for 1 of 2 action models (VT 0.580 vs 0.600")
    rows[2] = row("SOT0503 A", 0.52, 50.0)
    rows[0] = row("VT A", 0.50, 40.0)
    assert "not conclusive" in verdicts(rows)[0]


def test_detection_frame_scores_are_the_geometric_mean_of_the_streams():
    from clip2frame.results.activations import FrameActivations
    from clip2frame.video.inference.fusion import frame_scores

    T, K = 4, 9
    A = np.full((T, K, 2, 2), 0.01, np.float32)
    O = np.full((T, K, 2, 2), 0.9, np.float32)
    S = np.full((T, K), 0.01, np.float32)
    A[1:3, 2, 0, 1], S[1:3, 2] = 0.4, 0.95  # drum plays in frames 1-2 (A 0.4 at one cell)
    fused = A * O * S[:, :, None, None]
    sc = frame_scores(fused, "A*O*S")
    assert sc[1, 2] == pytest.approx((0.4 * 0.9 * 0.95) ** (1 / 3), rel=1e-5)  # 0.70, the product is 0.34
    assert sc[0, 2] == pytest.approx((0.01 * 0.9 * 0.01) ** (1 / 3), rel=1e-5)
    acts = FrameActivations([str(k) for k in range(K)], sc, np.arange(T + 1) * 0.512, np.full(K, 0.5))
    ev = acts.to_events()
    assert [(e.onset, e.label) for e in ev] == [(pytest.approx(0.512), "2")]
    assert ev[0].offset == pytest.approx(3 * 0.512)
    assert frame_scores(fused, "A")[1, 2] == pytest.approx(0.4 * 0.9 * 0.95, rel=1e-5)


def test_a_finished_run_is_finished_whatever_its_thread_count(tmp_path):
    """``threads`` (and a settings key added since the run was made) is not part of what a run trains."""
    from clip2frame.config import save_yaml, to_dict
    from clip2frame.video.training.config import default_config
    from clip2frame.video.training.training import _finished
    from dataclasses import replace

    cfg = default_config("object", epochs=3, threads=2)
    old = to_dict(cfg)
    del old["pos_weight"]  # a run written before that key existed
    save_yaml(tmp_path / "config.yaml", old)
    torch.save({"epoch": 3}, tmp_path / "train_state.pt")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert _finished(tmp_path, cfg)
    assert _finished(tmp_path, replace(cfg, threads=1))
    assert not _finished(tmp_path, replace(cfg, lr=0.5))
    assert not _finished(tmp_path, replace(cfg, pos_weight=3.0))
    assert not _finished(tmp_path, replace(cfg, epochs=4))


def test_flow_cache_is_the_trainers_clip_cache_and_skips_a_bad_video(tmp_path, monkeypatch):
    """The flow cache goes through train/'s per-clip cache: ClipFeatures memory maps on the time axis 0, and a
    video that cannot be decoded is skipped and remembered (``.skip``), not computed again, not fatal."""
    from clip2frame.train import data as data_mod
    from clip2frame.video.rendering.corpus import render_video
    from clip2frame.video.rendering.scene import VideoSynthConfig

    good, bad = tmp_path / "good.mp4", tmp_path / "bad.mp4"
    render_video(VideoSynthConfig(duration_s=1.2, fps=10), 0, "violin", good)
    bad.write_bytes(b"not a video")
    cache = tmp_path / "cache"
    got = vcache.cache_flows([(good, None), (bad, None)], cache_dir=cache)
    assert isinstance(got.feats, data_mod.ClipFeatures) and got.clip_ids == [str(good)]
    assert got.skipped[0][0] == str(bad) and "bad.mp4" in got.skipped[0][1]
    assert vcache.flow_cache_file(bad, cache).with_suffix(".skip").is_file()
    f = got.feats[0]
    assert isinstance(f, np.memmap) and f.shape[1] == 10 and got.feats.lengths[0] == f.shape[0]
    monkeypatch.setattr(data_mod, "_compute_clip", lambda *a, **k: pytest.fail("recomputed"))
    again = vcache.cache_flows([(good, None), (bad, None)], cache_dir=cache)
    assert again.clip_ids == got.clip_ids and again.skipped == got.skipped and again.computed == 0
    with pytest.raises(Clip2FrameError, match="bad.mp4"):
        vcache.cached_flow(bad, cache_dir=cache)
