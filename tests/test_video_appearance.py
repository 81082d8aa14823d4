"""Appearance randomisation of the embedded audio-visual corpus and its held-out style (issue #14, item 6)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from clip2frame.errors import ConfigError
from clip2frame.tags import VIDEO_INSTRUMENTS
from clip2frame.video.rendering.appearance import HELDOUT, TRAIN_POOL, Look, background, draw_look, picture
from clip2frame.video.rendering.scene import VideoSynthConfig, make_scene, render_frame


@pytest.mark.parametrize("pictures", ["emoji", "drawn", "sketch"])
def test_every_picture_source_draws_every_instrument_on_its_anchors(pictures):
    from clip2frame.video.rendering.appearance import GLYPHS, glyph_available

    if pictures == "emoji" and not all(glyph_available(GLYPHS[i]) for i in VIDEO_INSTRUMENTS):
        pytest.skip("Noto Color Emoji is not installed (scripts/setup.sh installs it)")
    for inst in VIDEO_INSTRUMENTS:
        img, anchors = picture(inst, Look(pictures=pictures, tint=(0.3, 0.6, 0.2)))
        h, w = img.shape[:2]
        ys, xs = np.nonzero(img[..., 3] > 0.5)
        assert len(xs) > 0.05 * h * w, (pictures, inst)
        for name, (u, v) in anchors.items():  # the playing motions land on the picture
            d = np.sqrt((xs / w - u) ** 2 + (ys / h - v) ** 2).min()
            assert d < 0.04, (pictures, inst, name, d)


def test_fixed_appearance_is_one_look_and_the_config_itself():
    cfg = VideoSynthConfig(seed=4)
    for i in range(5):
        look, vcfg = draw_look(cfg, i, heldout=i % 2 == 0)
        assert look == Look() and vcfg == cfg


def test_random_looks_draw_from_the_training_pool_and_never_from_the_held_out_style():
    cfg = VideoSynthConfig(seed=9, appearance="random")
    train = [draw_look(cfg, i)[0] for i in range(200)]
    held = [draw_look(cfg, i, heldout=True)[0] for i in range(50)]
    for key in ("pictures", "background", "body"):
        seen = {getattr(lk, key) for lk in train}
        assert seen == set(TRAIN_POOL[key]), key  # every training choice occurs ...
        assert not seen & set(HELDOUT[key]), key  # ... and no held-out one
        assert {getattr(lk, key) for lk in held} == set(HELDOUT[key]), key
    cfgs = [draw_look(cfg, i)[1] for i in range(200)]
    assert len({(c.height, c.width) for c in cfgs}) >= 3 and max(max(c.height, c.width) for c in cfgs) == 256
    assert len({c.fps for c in cfgs}) >= 3 and len({c.crf for c in cfgs}) >= 5
    assert draw_look(cfg, 17) == draw_look(cfg, 17)  # deterministic from (seed, index)


def test_a_random_look_changes_only_the_picture_not_the_scene():
    """The look has its own generator: a video's players, notes and truth key points keep their timing."""
    cfg = VideoSynthConfig(seed=2, appearance="random")
    look, vcfg = draw_look(cfg, 3)
    a = make_scene(replace(vcfg, appearance="fixed"), 3, "violin")
    b = make_scene(vcfg, 3, "violin", look)
    assert [(s.inst, s.played, s.notes) for s in a.sources] == [(s.inst, s.played, s.notes) for s in b.sources]
    img, truth = render_frame(b, vcfg, 1.0)
    assert img.shape == (vcfg.height, vcfg.width, 3)
    for pts in truth["keypoints"].values():
        assert all(0 <= x < vcfg.width and 0 <= y < vcfg.height for x, y in pts)


@pytest.mark.parametrize("kind", ["gradient", "stripes", "noise", "room", "tiles"])
def test_backgrounds_are_images_in_range(kind):
    bg = background(np.random.default_rng(0), 64, 48, kind)
    assert bg.shape == (48, 64, 3) and bg.dtype == np.float32
    assert 0.0 <= bg.min() and bg.max() <= 1.0 and bg.std() > 0.01
    with pytest.raises(ValueError, match="unknown background"):
        background(np.random.default_rng(0), 8, 8, "marble")


def test_corpus_with_a_held_out_style_split(tmp_path):
    from clip2frame.video.rendering.corpus import HELDOUT_STYLE_SPLIT, render_corpus
    from clip2frame.video.training.data import load_truth

    cfg = VideoSynthConfig(n_train=2, n_validation=1, n_test=1, n_heldout_style=2, duration_s=1.5, seed=1,
                           appearance="random")
    out = render_corpus(tmp_path / "av", cfg)
    meta = json.loads((out / "metadata.json").read_text())
    assert HELDOUT_STYLE_SPLIT in meta["splits"] and meta["appearance"]["heldout_split"] == HELDOUT_STYLE_SPLIT
    for split in ("train", "validation", "test"):
        for tr in load_truth(out, split):
            assert tr["look"]["style"] == "train" and tr["look"]["pictures"] in TRAIN_POOL["pictures"]
    held = load_truth(out, HELDOUT_STYLE_SPLIT)
    assert len(held) == 2 and all(tr["look"]["pictures"] == "sketch" for tr in held)
    assert (out / f"{HELDOUT_STYLE_SPLIT}.weak.tsv").is_file()
    with pytest.raises(ConfigError, match="needs appearance=random"):
        render_corpus(tmp_path / "bad", replace(cfg, appearance="fixed"))
    render_corpus(out, cfg)  # a resume with the same settings keeps the corpus
    with pytest.raises(ConfigError, match="limb_width: 3.0 there, 1.0 now"):
        render_corpus(out, replace(cfg, limb_width=1.0))  # ... with others would mix two renderers
    old = json.loads((out / "metadata.json").read_text())
    del old["config"]["limb_width"]  # a corpus from before the key: it was rendered at 1.0
    (out / "metadata.json").write_text(json.dumps(old))
    with pytest.raises(ConfigError, match="limb_width: 1.0 there, 3.0 now"):
        render_corpus(out, cfg)


def test_frame_batches_never_mix_frame_sizes():
    from clip2frame.video.training.batches import epoch_batches
    from clip2frame.video.training.config import VideoTrainConfig

    class Item:
        def __init__(self, T, H, W):
            self.flow = np.zeros((T, 10, H, W), np.float16)

        def loaded(self, what):
            return self.flow

    items = [Item(6, 48, 64), Item(5, 36, 64), Item(7, 48, 64), Item(4, 64, 64)]
    cfg = VideoTrainConfig(batch_mode="frames", batches_per_epoch=40, sub_clip_frames=4)
    batches = list(epoch_batches(items, "action", cfg, np.random.default_rng(0)))  # type: ignore[arg-type]
    assert len(batches) == 40 and all(len(b) == 4 for b in batches)
    for b in batches:
        assert len({items[vi].flow.shape[-2:] for vi, _ in b}) == 1
        assert all(0 <= t < len(items[vi].flow) for vi, t in b)
    assert {items[b[0][0]].flow.shape[-2:] for b in batches} == {(48, 64), (36, 64), (64, 64)}


def test_single_size_frame_batches_are_one_pool_permuted_pass_after_pass():
    """A corpus of one frame size batches exactly as before size grouping existed (same draws, same order)."""
    from clip2frame.video.training.batches import epoch_batches
    from clip2frame.video.training.config import VideoTrainConfig

    class Item:
        def __init__(self, T):
            self.flow = np.zeros((T, 10, 6, 8), np.float16)

        def loaded(self, what):
            return self.flow

    items = [Item(5), Item(3), Item(4)]
    cfg = VideoTrainConfig(batch_mode="frames", batches_per_epoch=7, sub_clip_frames=4)
    got = list(epoch_batches(items, "action", cfg, np.random.default_rng(5)))  # type: ignore[arg-type]
    pool = [(vi, t) for vi, n in enumerate([5, 3, 4]) for t in range(n)]
    g = np.random.default_rng(5)
    order = np.concatenate([g.permutation(12) for _ in range(3)])  # 7 batches x 4 frames = 28 -> 3 passes
    assert got == [[pool[int(i)] for i in order[b * 4:(b + 1) * 4]] for b in range(7)]


def test_limb_width_thickens_the_moving_parts_and_keeps_the_truth():
    """``limb_width`` draws arms, hands, bow, sticks and fingers thicker: the picture changes only around the
    players, more pixels change while a player plays, and the truth (playing, key points, boxes) is the same."""
    cfg = VideoSynthConfig(seed=2, n_train=1, duration_s=6.0, shake_px=0.0, zoom=0.0, p_walker=0.0, p_swinger=0.0)
    scene = make_scene(cfg, 0, "violin")
    played = [s for s in scene.sources if s.played and s.onscreen][0]
    t0 = played.notes[0][0] + 0.05
    frames, truths, moved = {}, {}, {}
    for limb in (1.0, 3.0):
        c = replace(cfg, limb_width=limb)
        a, ta = render_frame(scene, c, t0)
        b, tb = render_frame(scene, c, t0 + 0.3)
        frames[limb], truths[limb] = a.astype(int), (ta, tb)
        moved[limb] = int((np.abs(a.astype(int) - b.astype(int)).max(-1) > 30).sum())
    assert truths[1.0] == truths[3.0]
    assert moved[3.0] > moved[1.0] > 0
    changed = np.abs(frames[3.0] - frames[1.0]).max(-1) > 30
    assert changed.sum() > 50
    near = np.zeros_like(changed)
    for s in scene.sources:  # each player stands above its instrument: its box, 40 px up and 15 px around
        if s.onscreen:
            x0, y0, x1, y1 = (int(v) for v in (s.cx - s.size, s.cy - s.size - 40, s.cx + s.size, s.cy + s.size))
            near[max(0, y0):y1 + 15, max(0, x0 - 15):x1 + 15] = True
    assert not (changed & ~near).any()
