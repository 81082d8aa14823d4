"""Rendered instrument stills (video/rendering/stills.py) and the object model's training on them (issue #14, item 5)."""
from __future__ import annotations

import numpy as np
import pytest

from clip2frame.errors import ConfigError
from clip2frame.tags import VIDEO_INSTRUMENTS
from clip2frame.video.rendering.appearance import HELDOUT, TRAIN_POOL, pool_look
from clip2frame.video.rendering.stills import render_still, render_stills


def test_stills_are_a_function_of_their_seed():
    a, b, c = render_stills(3, 4), render_stills(3, 4), render_stills(4, 4)
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.tags, y.tags) and x.boxes == y.boxes
    assert not all(np.array_equal(x.image, z.image) for x, z in zip(a, c))


def test_tags_and_boxes_agree_and_boxes_lie_in_the_frame():
    rng = np.random.default_rng(0)
    counts = np.zeros(len(VIDEO_INSTRUMENTS))
    n_empty = 0
    for _ in range(60):
        st = render_still(rng, 144, 256)
        assert st.image.shape == (144, 256, 3) and st.image.dtype == np.uint8
        assert {VIDEO_INSTRUMENTS[k] for k in np.flatnonzero(st.tags)} == set(st.boxes)
        for boxes in st.boxes.values():
            for x0, y0, x1, y1 in boxes:
                assert 0 <= x0 < x1 <= 255 and 0 <= y0 < y1 <= 143
                assert (x1 - x0) * (y1 - y0) > 200  # an instrument, not a speck
        counts += st.tags
        n_empty += not st.tags.any()
    assert (counts > 0).all()  # every instrument occurs
    assert 0 < n_empty < 20  # a few stills show no instrument (negatives)


def test_a_still_draws_the_instrument_inside_its_box():
    """Where a box says an instrument is, the picture differs from the background it was pasted on."""
    rng = np.random.default_rng(5)
    st = render_still(rng)
    while not st.boxes:
        st = render_still(rng)
    x0, y0, x1, y1 = (int(v) for v in next(iter(st.boxes.values()))[0])
    inside = st.image[y0:y1, x0:x1].astype(float)
    assert inside.std() > 10


def test_pool_looks_never_draw_the_held_out_style():
    rng = np.random.default_rng(1)
    looks = [pool_look(rng) for _ in range(200)]
    for key in ("pictures", "background", "body"):
        seen = {getattr(lk, key) for lk in looks}
        assert seen == set(TRAIN_POOL[key]) and not seen & set(HELDOUT[key]), key


def test_stills_join_only_the_object_models_frame_batches():
    from clip2frame.video.training.batches import still_items
    from clip2frame.video.training.config import default_config

    items = still_items(default_config("object", stills=3, batch_mode="frames", seed=2))
    assert len(items) == 3 and all(it.rgb is not None and it.rgb.shape == (1, 192, 256, 3) for it in items)
    assert np.array_equal(items[0].rgb[0], render_stills([2, 5], 1)[0].image)
    with pytest.raises(ConfigError, match="batch_mode=frames"):
        still_items(default_config("object", stills=3))
    with pytest.raises(ConfigError, match="only the object model"):
        still_items(default_config("action", stills=3, batch_mode="frames"))


def test_stills_hit_rate_counts_a_peak_inside_the_box_as_a_hit(tmp_path, monkeypatch):
    """evaluate_stills scores maps against the stills' boxes: peaks at the box centres hit every time,
    peaks in a far corner that no box covers never do."""
    import clip2frame.video.training.evaluate as evaluate
    from clip2frame.video.training.evaluate import evaluate_stills
    from clip2frame.models.visual import VisualFCN, VisualFCNConfig, heatmap_size
    from clip2frame.video.training.training import save_visual

    path = save_visual(tmp_path / "object.safetensors", VisualFCN(VisualFCNConfig.for_object(0.0625)),
                       target=None, provenance={})
    stills = {st.image.tobytes(): st for st in render_stills([99, 7], 12)}
    h, w = heatmap_size(192, 256)

    def peaks_at(where):
        def fake(model, frames, **kw):
            st = stills[frames[0].tobytes()]
            hm = np.zeros((1, len(VIDEO_INSTRUMENTS), h, w), np.float32)
            for inst, boxes in st.boxes.items():
                y, x = where(boxes[0])
                hm[0, VIDEO_INSTRUMENTS.index(inst), y, x] = 1.0
            return hm
        return fake

    def cell(b):  # the map cell whose centre is nearest the box centre
        return min(h - 1, int((b[1] + b[3]) / 2 / 192 * h)), min(w - 1, int((b[0] + b[2]) / 2 / 256 * w))

    monkeypatch.setattr(evaluate, "predict_visual", peaks_at(cell))
    row = evaluate_stills(path, n=12)
    n_pairs = sum(len(st.boxes) for st in stills.values())
    assert sum(v["n"] for v in row.per_instrument.values()) == n_pairs > 0
    inside = row.hit_rate
    monkeypatch.setattr(evaluate, "predict_visual", peaks_at(lambda b: (0, 0) if b[0] > 40 or b[1] > 40 else (h - 1, w - 1)))
    outside = evaluate_stills(path, n=12).hit_rate
    assert inside > 0.9 and outside < 0.1
