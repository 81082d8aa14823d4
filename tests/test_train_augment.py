"""Feature augmentation (train/augment.py): the random EQ acts on the mel power exactly, the SpecAugment masks
set cells to the band mean, the draws are the crop's own (same with 0 or 2 loader workers, crops unchanged),
and a run without augmentation keeps its config hash (old runs still resume)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from clip2frame.errors import ConfigError
from clip2frame.train.augment import AugmentConfig, CropAugmenter, apply_eq, eq_curve_db, spec_masks, with_seeds
from clip2frame.train.config import resolve_config
from clip2frame.train.loader import CropDataset, PlanSampler, epoch_plan, make_loader
from clip2frame.train.trainer import _config_hash

from test_train_loader import _synthetic

C = 10000.0


def test_eq_scales_the_mel_power_of_every_band():
    rng = np.random.default_rng(0)
    mel = rng.uniform(1e-7, 1.0, (2, 8, 5)) ** 3  # quiet and loud cells
    f = np.log1p(C * mel).astype(np.float32)
    g = np.linspace(-9.0, 12.0, 8)
    out = apply_eq(f, g)
    ref = np.log1p(C * mel * 10 ** (g[None, :, None] / 10))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(apply_eq(f, np.zeros(8)), f, atol=1e-6)  # 0 dB: unchanged
    loud = (C * mel) > 1e4  # where log1p(Cx) ~ log(Cx), a gain is an offset of g ln(10)/10
    d = (out - f)[loud]
    np.testing.assert_allclose(d, np.broadcast_to(g[None, :, None] * np.log(10) / 10, f.shape)[loud], atol=1e-3)


def test_eq_curve_interpolates_bounded_control_points():
    a = eq_curve_db(np.random.default_rng(5), 128, 6.0, 8)
    b = eq_curve_db(np.random.default_rng(5), 128, 6.0, 8)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (128,) and np.abs(a).max() <= 6.0 and np.ptp(a) > 1.0
    steps = np.abs(np.diff(a))
    assert steps.max() <= 12.0 / (127 / 7) + 1e-9  # linear between points 127/7 bands apart


def test_masks_set_cells_to_the_band_mean_and_stay_within_bounds():
    cfg = AugmentConfig(freq_masks=2, freq_mask_bands=4, time_masks=3, time_mask_frames=5)
    rng = np.random.default_rng(1)
    for _ in range(50):
        bands, frames = spec_masks(rng, 8, 20, cfg)
        assert len(bands) == 2 and len(frames) == 3
        assert all(0 <= s.start <= s.stop <= 8 and s.stop - s.start <= 4 for s in bands)
        assert all(0 <= s.start <= s.stop <= 20 and s.stop - s.start <= 5 for s in frames)
    feats = np.random.default_rng(2).uniform(0, 5, (2, 8, 20)).astype(np.float32)
    aug = CropAugmenter(cfg)
    x = aug(feats, 7, lambda f: torch.from_numpy((f - 2.0) / 1.5))
    bands, frames = spec_masks(np.random.default_rng(7), 8, 20, cfg)  # the same draws (no EQ before them)
    keep = np.ones((8, 20), bool)
    for s in bands:
        keep[s, :] = False
    for s in frames:
        keep[:, s] = False
    assert not x.numpy()[:, ~keep].any()
    np.testing.assert_allclose(x.numpy()[:, keep], ((feats - 2.0) / 1.5)[:, keep], rtol=1e-6)


def test_seeded_plan_keeps_the_crops_and_gives_each_item_its_own_seed():
    data, _ = _synthetic()
    plan = epoch_plan(data.lengths, 4, 32, 4, torch.Generator().manual_seed(3))
    seeded = with_seeds(plan, 123)
    assert [[it[:3] for it in b] for b in seeded] == plan
    seeds = [it[3] for b in seeded for it in b]
    assert len(set(seeds)) == len(seeds)
    assert with_seeds(plan, 123) == seeded and with_seeds(plan, 124) != seeded


def test_augmented_batches_equal_with_0_or_2_workers_and_differ_from_plain_ones():
    data, std = _synthetic()
    aug = CropAugmenter(AugmentConfig(eq_db=6.0, freq_masks=1, freq_mask_bands=2, time_masks=1))
    plan = with_seeds(epoch_plan(data.lengths, 4, 32, 4, torch.Generator().manual_seed(3)), 9)
    runs = []
    for workers in (0, 2):
        sampler = PlanSampler()
        sampler.plan = plan
        runs.append(list(make_loader(CropDataset(data, std, 4, augment=aug), sampler, num_workers=workers)))
    plain = PlanSampler()
    plain.plan = [[it[:3] for it in b] for b in plan]
    ref = list(make_loader(CropDataset(data, std, 4), plain))
    for b0, b2, r, items in zip(*runs, ref, plan):
        assert torch.equal(b0[0], b2[0]) and torch.equal(b0[1], r[1]) and torch.equal(b0[2], r[2])
        assert not torch.equal(b0[0], r[0])
        for b, (i, start, L, _) in enumerate(items):  # the padding stays at the band mean
            n = min(L, data.lengths[i] - start)
            assert not b0[0][b, ..., n:].any()


def test_augment_switch_and_config_hash(tmp_path):
    base = resolve_config(overrides=["preset=tiny", f"data={tmp_path}"])
    assert not base.augment.enabled
    on = resolve_config(overrides=["preset=tiny", f"data={tmp_path}", "augment.eq_db=6"])
    assert on.augment == AugmentConfig(eq_db=6.0) and on.augment.enabled
    assert _config_hash(on) != _config_hash(base)
    # the unaugmented hash is the one computed before the key existed (old runs resume)
    assert _config_hash(base) == _config_hash(replace(base, augment=AugmentConfig(eq_points=3)))
    with pytest.raises(ConfigError, match="augment.eq_points"):
        resolve_config(overrides=["preset=tiny", f"data={tmp_path}", "augment.eq_points=1"])
    with pytest.raises(ConfigError, match="augment.bogus"):
        resolve_config(overrides=["preset=tiny", f"data={tmp_path}", "augment.bogus=1"])


def test_augmented_training_resumes_to_the_same_weights(tmp_path):
    from clip2frame.data.toy import make_toy_corpus
    from clip2frame.train.trainer import train

    from test_train_loader import TOY

    toy = make_toy_corpus(tmp_path / "toy", n_clips={"train": 8, "validation": 4}, seed=4)
    aug = ["augment.eq_db=6", "augment.freq_masks=2", "augment.time_masks=2"]

    def run(out, epochs, extra):
        return train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / out}",
                                                     f"epochs={epochs}", *extra]), progress=False)

    whole = run("whole", 2, aug)
    run("split", 1, aug)
    resumed = run("split", 2, aug)  # a second session continues the first
    plain = run("plain", 2, [])
    a, b, p = (r.tagger.net.state_dict() for r in (whole, resumed, plain))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], p[k]) for k in a)  # the augmentation changed what was learned
