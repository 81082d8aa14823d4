"""The scalable training path: per-clip memory-mapped feature cache (resumable, multi-process), the epoch plan
and its DataLoader (same batches with 0 or 2 workers), rank-sharded batches, the mixed-precision switch."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from clip2frame.audio.features import FeatureSpec, MultiScaleLogMel, Standardizer
from clip2frame.audio.io import load_audio
from clip2frame.data.toy import make_toy_corpus
from clip2frame.eval.protocol import split_outputs
from clip2frame.models.fcn import Clip2FrameNet
from clip2frame.train import data as data_mod
from clip2frame.train.config import resolve_config
from clip2frame.train.data import ClipFeatures, SplitData, load_split
from clip2frame.train.distributed import Distributed
from clip2frame.train.loader import CropDataset, PlanSampler, build_batch, epoch_plan, make_loader
from clip2frame.train.trainer import _config_hash, mixed_precision, train

TOY = ["preset=tiny", "crop_frames=64", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), n_clips={"train": 10, "validation": 4}, seed=4)


def _spec(toy):
    return resolve_config(overrides=TOY + [f"data={toy.root}"]).features


def _load(m, tmp_path, **kw):
    return load_split(m, "train", _spec(m), list(m.labels), total_stride=16, run_dir=tmp_path, progress=False, **kw)


def _cache_files(m) -> list[Path]:
    return sorted((m.root / ".clip2frame-cache").glob("*/clips/*.npy"))


def test_cache_is_one_memory_mapped_file_per_clip(tmp_path):
    m = make_toy_corpus(tmp_path / "c", n_clips={"train": 5}, seed=1)
    d = _load(m, tmp_path)
    assert isinstance(d.feats, ClipFeatures) and len(_cache_files(m)) == 5
    spec = _spec(m)
    for i, c in enumerate(m.split("train")):
        f = d.feats[i]
        assert isinstance(f, np.memmap) and f.dtype == np.float16 and not f.flags.writeable
        ref = MultiScaleLogMel(spec)(torch.from_numpy(load_audio(c.audio_path, sr=spec.sr))[None])[0]
        np.testing.assert_array_equal(np.asarray(f), ref.numpy().astype(np.float16))
        assert d.lengths[i] == f.shape[-1] == 1 + 6 * 16000 // 512
        assert d.frame_truth[i].shape == (-(-f.shape[-1] // 16), len(m.labels))
    # subsets and concatenations stay on disk and keep their order
    sub = SplitData.concat([d.subset([3, 1]), d.subset([0])])
    assert sub.clip_ids == [d.clip_ids[i] for i in (3, 1, 0)] and isinstance(sub.feats, ClipFeatures)
    np.testing.assert_array_equal(np.asarray(sub.feats[1]), np.asarray(d.feats[1]))
    np.testing.assert_array_equal(sub.clip_labels, d.clip_labels[[3, 1, 0]])


def test_killed_cache_build_resumes_and_workers_write_the_same_files(tmp_path, monkeypatch):
    m = make_toy_corpus(tmp_path / "c", n_clips={"train": 6}, seed=2)
    _load(m, tmp_path)
    files = _cache_files(m)
    first = {p.name: p.read_bytes() for p in files}
    # a build killed after 4 clips: 2 files missing, plus a temp file a kill can leave behind
    for p in files[:2]:
        p.unlink()
    stale = files[2].parent / ".x.npy.123.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1e9, 1e9))  # from a build killed long ago
    computed = []
    real = data_mod._compute_clip

    def counting(job, *a, **kw):
        computed.append(job[0])
        return real(job, *a, **kw)

    monkeypatch.setattr(data_mod, "_compute_clip", counting)
    d = _load(m, tmp_path)
    assert len(computed) == 2 and len(d) == 6  # only the missing clips were computed
    assert not stale.exists()
    assert {p.name: p.read_bytes() for p in _cache_files(m)} == first
    # two worker processes fill a fresh cache with the same bytes
    monkeypatch.setattr(data_mod, "_compute_clip", real)
    for p in _cache_files(m):
        p.unlink()
    _load(m, tmp_path, jobs=2)
    assert {p.name: p.read_bytes() for p in _cache_files(m)} == first


def test_unreadable_clip_is_remembered(tmp_path, monkeypatch):
    m = make_toy_corpus(tmp_path / "c", n_clips={"train": 3}, seed=2)
    bad = m.split("train")[1]
    Path(bad.audio_path).write_text("not audio")
    d = _load(m, tmp_path)
    assert len(d) == 2 and d.skipped[0][0] == bad.clip_id and str(bad.audio_path) in d.skipped[0][1]
    monkeypatch.setattr(data_mod, "_compute_clip", lambda *a, **k: pytest.fail("recomputed"))
    d2 = _load(m, tmp_path)
    assert d2.clip_ids == d.clip_ids and d2.skipped == d.skipped


def _reference_plan(lengths, batch, crop, stride, seed):
    """The trainer's draws before the DataLoader: permutation, then one start per long clip, in order."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(lengths), generator=gen).tolist()
    out = []
    for a in range(0, len(perm), batch):
        idx = perm[a:a + batch]
        L = crop or max(lengths[i] for i in idx)
        out.append([(i, int(torch.randint(0, (lengths[i] - L) // stride + 1, (1,), generator=gen)) * stride
                     if lengths[i] > L else 0, L) for i in idx])
    return out


def test_epoch_plan_draws_as_before():
    lengths = [100, 40, 300, 64, 65, 200, 17]
    for crop in (0, 64):
        got = epoch_plan(lengths, 3, crop, 16, torch.Generator().manual_seed(5))
        assert got == _reference_plan(lengths, 3, crop, 16, 5)
        for batch in got:
            for i, start, L in batch:
                assert start % 16 == 0 and (start + L <= lengths[i] or start == 0)


def _synthetic(n=9, seed=0):
    rng = np.random.default_rng(seed)
    feats = [rng.uniform(0, 5, (2, 8, int(t))).astype(np.float16) for t in rng.integers(20, 90, n)]
    ft = [rng.random((-(-f.shape[-1] // 4), 3)) < 0.4 for f in feats]
    y = np.stack([t.any(0) for t in ft]).astype(np.float32)
    std = Standardizer(torch.full((2, 8), 2.0), torch.full((2, 8), 1.5))
    return SplitData([f"c{i}" for i in range(n)], feats, y, ft, []), std


def test_loader_batches_equal_with_0_or_2_workers_and_match_the_crops():
    data, std = _synthetic()
    plan = epoch_plan(data.lengths, 4, 32, 4, torch.Generator().manual_seed(3))
    runs = []
    for workers in (0, 2):
        sampler = PlanSampler()
        loader = make_loader(CropDataset(data, std, 4, frame_truth=True), sampler, num_workers=workers)
        batches = []
        for _ in range(2):  # persistent workers serve a second epoch
            sampler.plan = plan
            batches.append(list(loader))
        assert all(len(b) == len(plan) == 3 for b in batches)
        runs.append(batches[1])
    for b0, b2, items in zip(*runs, plan):
        for t0, t2 in zip(b0, b2):
            assert torch.equal(t0, t2)
        x, n_valid, y, yf = b0
        assert x.shape == (len(items), 2, 8, 32) and yf.shape == (len(items), 3, 8)
        for b, (i, start, L) in enumerate(items):  # values: the standardised crop, zero-padded
            n = min(L, data.lengths[i] - start)
            ref = (data.feats[i][..., start:start + n].astype(np.float32) - 2.0) / 1.5
            np.testing.assert_allclose(x[b, ..., :n].numpy(), ref, rtol=1e-6)
            assert not x[b, ..., n:].any() and n_valid[b] == -(-n // 4)
            ft = data.frame_truth[i][start // 4:start // 4 + 8]
            np.testing.assert_array_equal(yf[b, :, :ft.shape[0]].numpy().T, ft)
            np.testing.assert_array_equal(y[b].numpy(), data.clip_labels[i])


def test_rank_shards_cover_each_global_batch():
    data, std = _synthetic(n=9)
    plan = epoch_plan(data.lengths, 5, 0, 4, torch.Generator().manual_seed(1))  # batches of 5 and 4
    shares = []
    for r in range(3):
        sampler = PlanSampler(Distributed(r, 3).shard)
        sampler.plan = plan
        shares.append(list(make_loader(CropDataset(data, std, 4), sampler)))
    for k, items in enumerate(plan):
        whole = build_batch(data, items, std, 4)
        x = torch.cat([shares[r][k][0] for r in range(3) if len(shares[r][k][0])])
        assert torch.equal(x, whole[0])  # crops padded to the global batch's length on every rank
    one = PlanSampler(Distributed(0, 2).shard)
    one.plan = [[(0, 0, 10)]]
    assert list(one) == [[]]  # an idle rank still yields its (empty) share
    x, n_valid, y, yf = build_batch(data, [], std, 4)
    assert x.shape[0] == n_valid.shape[0] == 0 and yf is None


def test_mixed_precision_switch(toy, tmp_path):
    cfg = resolve_config(overrides=TOY + [f"data={toy.root}", "amp=true"])
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert mixed_precision(cfg, cpu) == (None, False)  # off on CPU
    assert mixed_precision(cfg, cuda) == (torch.bfloat16, False)
    assert mixed_precision(replace(cfg, amp_dtype="fp16"), cuda) == (torch.float16, True)
    assert mixed_precision(replace(cfg, amp=False), cuda) == (None, False)
    # placement keys leave a run resumable; amp_dtype counts only with amp on
    off = replace(cfg, amp=False)
    assert _config_hash(off) == _config_hash(replace(off, amp_dtype="fp16", num_workers=2))
    assert _config_hash(cfg) != _config_hash(replace(cfg, amp_dtype="fp16"))
    # on CPU the switch trains exactly as without it
    a = train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / 'a'}", "epochs=2", "amp=true"]),
              progress=False)
    b = train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / 'b'}", "epochs=2"]),
              progress=False)
    for k, v in a.tagger.net.state_dict().items():
        assert torch.equal(v, b.tagger.net.state_dict()[k])


def test_trainer_applies_the_autocast_dtype(toy, tmp_path, monkeypatch):
    """The trainer runs its forward passes under the dtype mixed_precision() picks (bf16 autocast works on CPU)."""
    import clip2frame.train.trainer as trainer_mod

    seen = []
    real = trainer_mod._batch_loss

    def spy(net, cfg, dtype, x, *rest):
        seen.append(dtype)
        return real(net, cfg, dtype, x, *rest)

    monkeypatch.setattr(trainer_mod, "_batch_loss", spy)
    monkeypatch.setattr(trainer_mod, "mixed_precision", lambda cfg, device: (torch.bfloat16, False))
    out = [train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / n}", "epochs=1"]),
                 progress=False) for n in ("bf16",)]
    monkeypatch.setattr(trainer_mod, "mixed_precision", lambda cfg, device: (None, False))
    out.append(train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / 'fp32'}", "epochs=1"]),
                     progress=False))
    assert set(seen) == {torch.bfloat16, None}
    a, b = (r.tagger.net.state_dict() for r in out)
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert 0 < diff < 0.1  # bf16 rounding moved the weights, a little


def test_two_workers_train_the_same_weights(toy, tmp_path):
    runs = [train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / str(w)}", "epochs=2",
                                                  f"num_workers={w}"]), progress=False) for w in (0, 2)]
    sd0, sd2 = (r.tagger.net.state_dict() for r in runs)
    assert all(torch.equal(sd0[k], sd2[k]) for k in sd0)
    assert runs[0].history[-1]["train_loss"] == runs[1].history[-1]["train_loss"]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
def test_evaluation_reads_one_clip_at_a_time(toy, tmp_path):
    """No cache file stays mapped after an evaluation pass (so memory does not grow with the split)."""
    d = load_split(toy, "train", _spec(toy), list(toy.labels), total_stride=16, run_dir=tmp_path, progress=False)
    cfg = resolve_config(overrides=TOY + [f"data={toy.root}"])
    net = Clip2FrameNet(cfg.model, len(toy.labels))
    std = Standardizer.identity(cfg.features.n_scales, cfg.features.n_bands)
    mapped_during = []
    real = data_mod.ClipFeatures.__getitem__

    def spy(self, i):
        mapped_during.append(_mapped(toy))
        return real(self, i)

    data_mod.ClipFeatures.__getitem__ = spy
    try:
        scores, frames = split_outputs(net, std, d)
    finally:
        data_mod.ClipFeatures.__getitem__ = real
    assert scores.shape == (len(d), len(toy.labels)) and len(frames) == len(d)
    assert max(mapped_during) <= 1 and _mapped(toy) == 0


def _mapped(m) -> int:
    root = str((m.root / ".clip2frame-cache").resolve())
    with open(f"/proc/{os.getpid()}/maps") as fh:
        return sum(1 for line in fh if root in line)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_mixed_precision_on_cuda(toy, tmp_path, dtype):
    res = train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / dtype}", "epochs=3",
                                                "device=cuda", "amp=true", f"amp_dtype={dtype}", "num_workers=2"]),
                progress=False)
    assert all(np.isfinite(r["train_loss"]) for r in res.history)
    st = torch.load(res.run_dir / "train_state.pt", weights_only=True)
    assert ("scaler" in st) == (dtype == "fp16")


def test_crop_dataset_reads_and_pads_on_the_splits_time_axis():
    """A split whose frames lie on axis 0 (the video trainers' [T, C, H, W]): crops read there, the input
    transform applied, zero-padded after it on that axis; the valid count is the frames read."""
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(n, 2, 3, 4)).astype(np.float16) for n in (5, 2)]
    data = SplitData(["a", "b"], feats, np.eye(2, dtype=np.float32), None, [], time_axis=0)
    assert list(data.lengths) == [5, 2] and data.subset([1]).time_axis == 0

    class Double:
        def apply(self, x):
            return x * 2

    ds = CropDataset(data, Double(), 1)
    x, n, y, yf = ds[(0, 1, 3)]
    assert x.shape == (3, 2, 3, 4) and n == 3 and yf is None
    np.testing.assert_array_equal(x.numpy(), 2 * feats[0][1:4].astype(np.float32))
    x, n, y, _ = ds[(1, 0, 4)]  # a short clip: 2 frames read, 2 zero frames after them
    assert x.shape == (4, 2, 3, 4) and n == 2 and torch.equal(y, torch.tensor([0.0, 1.0]))
    np.testing.assert_array_equal(x[:2].numpy(), 2 * feats[1].astype(np.float32))
    assert not x[2:].any()
