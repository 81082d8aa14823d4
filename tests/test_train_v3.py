"""Issue #24 trainer switches: negatives kept, mean teacher, extra validation domains, the held-out guard."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from clip2frame.data.manifest import ClipRecord, load_manifest, write_manifest
from clip2frame.data.toy import make_toy_corpus
from clip2frame.errors import ConfigError
from clip2frame.fileio import atomic_write_bytes
from clip2frame.train import trainer as trainer_mod
from clip2frame.train.config import resolve_config, settings_dict
from clip2frame.train.domains import check_fit_allowed, parse_extra_val
from clip2frame.train.mean_teacher import consistency_loss, ema_update, rampup_weight
from clip2frame.train.trainer import train

TOY = ["preset=tiny", "crop_frames=0", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1"]


def _with_negatives(root, seed: int, n_neg: int = 6):
    """A toy corpus whose train split also holds ``n_neg`` noise clips with no tag."""
    m = make_toy_corpus(root, n_clips={"train": 10, "validation": 6, "test": 2}, seed=seed)
    rng = np.random.default_rng(seed)
    clips = list(m.clips)
    for i in range(n_neg):
        path = root / "audio" / "train" / f"neg_{i:03d}.wav"
        buf = io.BytesIO()
        sf.write(buf, (0.05 * rng.standard_normal(6 * 16000)).astype(np.float32), 16000, format="WAV",
                 subtype="PCM_16")
        atomic_write_bytes(path, buf.getvalue())
        clips.append(ClipRecord(path.stem, path, (), "train", (), 6.0))
    write_manifest(root, name="toy", labels=m.labels, kinds=m.kinds, clips=clips)
    return load_manifest(root)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return _with_negatives(tmp_path_factory.mktemp("toyneg"), seed=5)


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """A second domain: another toy corpus (its own seed)."""
    return make_toy_corpus(tmp_path_factory.mktemp("toy2"), n_clips={"train": 2, "val": 8}, seed=9, duration_s=5.0)


def _cfg(toy, out, *extra):
    return resolve_config(overrides=TOY + [f"data={toy.root}", f"out={out}", *extra])


def _record_targets(monkeypatch):
    seen: list[torch.Tensor] = []
    orig = trainer_mod._batch_loss

    def spy(net, cfg, autocast_dtype, x, n_valid, y, yf):
        seen.append(y.detach().clone())
        return orig(net, cfg, autocast_dtype, x, n_valid, y, yf)

    monkeypatch.setattr(trainer_mod, "_batch_loss", spy)
    return seen


@pytest.mark.parametrize("keep", [False, True])
def test_negatives_reach_batches_only_when_kept(toy, tmp_path, monkeypatch, keep):
    seen = _record_targets(monkeypatch)
    res = train(_cfg(toy, tmp_path / "run", "epochs=1", f"keep_untagged={str(keep).lower()}"), progress=False)
    y = torch.cat(seen)
    n_zero = int((y.sum(1) == 0).sum())
    assert n_zero == (6 if keep else 0)
    assert res.tagger.provenance["train_clips"] == (16 if keep else 10)
    skipped = (tmp_path / "run" / "skipped.tsv")
    assert skipped.is_file() != keep


def test_ema_update_is_the_moving_average():
    torch.manual_seed(0)
    s, t = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    t0 = [p.detach().clone() for p in t.parameters()]
    ema_update(t, s, 0.9)
    for p_t, p0, p_s in zip(t.parameters(), t0, s.parameters()):
        torch.testing.assert_close(p_t, 0.9 * p0 + 0.1 * p_s)
    ema_update(t, s, 0.0)  # decay 0: the teacher becomes the student
    for p_t, p_s in zip(t.parameters(), s.parameters()):
        torch.testing.assert_close(p_t, p_s)


def test_consistency_loss_on_a_hand_example():
    class O:
        def __init__(self, clip, frame):
            self.clip, self.frame = torch.tensor(clip), torch.tensor(frame)

    a = O([[0.5, 1.0]], [[[0.0, 1.0, 0.9]]])
    b = O([[0.3, 1.0]], [[[0.5, 1.0, 0.0]]])
    # clip: (0.2^2 + 0) / 2 = 0.02; frame over 2 valid frames: (0.25 + 0) / 2 = 0.125; half the sum
    assert consistency_loss(a, b, torch.tensor([2])).item() == pytest.approx(0.5 * (0.02 + 0.125))
    assert consistency_loss(a, b).item() == pytest.approx(0.5 * (0.02 + (0.25 + 0.81) / 3))
    assert rampup_weight(0, weight=2.0, rampup_epochs=5) == pytest.approx(2.0 * np.exp(-5))
    assert rampup_weight(5, weight=2.0, rampup_epochs=5) == 2.0
    assert rampup_weight(3, weight=2.0, rampup_epochs=0) == 2.0


def test_mean_teacher_trains_on_unlabelled_batches_and_resumes(toy, other, tmp_path):
    mt = ["epochs=2", f"mean_teacher.data={other.root}", "mean_teacher.split=val", "mean_teacher.rampup_epochs=0",
          "mean_teacher.weight=50", "mean_teacher.ema_decay=0.5"]
    with_mt = train(_cfg(toy, tmp_path / "mt", *mt), progress=False)
    plain = train(_cfg(toy, tmp_path / "plain", "epochs=2"), progress=False)
    st = torch.load(tmp_path / "mt" / "train_state.pt", weights_only=True)
    assert "teacher" in st and "teacher" not in torch.load(tmp_path / "plain" / "train_state.pt", weights_only=True)
    a, b = with_mt.tagger.net.state_dict(), plain.tagger.net.state_dict()
    assert any(not torch.allclose(a[k], b[k]) for k in a), "the consistency loss changed nothing"
    # the teacher is a moving average: neither the student's weights nor the initial ones
    k = next(n for n in st["net"] if n.endswith("weight"))
    assert not torch.allclose(st["teacher"][k], st["net"][k])
    # one more epoch on top of the saved state equals a 3-epoch run from scratch (teacher restored)
    resumed = train(_cfg(toy, tmp_path / "mt", *mt[1:], "epochs=3"), progress=False)
    fresh = train(_cfg(toy, tmp_path / "mt3", *mt[1:], "epochs=3"), progress=False)
    for n, v in resumed.tagger.net.state_dict().items():
        torch.testing.assert_close(v, fresh.tagger.net.state_dict()[n])


def test_thresholds_on_a_mixture_use_both_domains(toy, other, tmp_path):
    ex = [f"extra_val=[{other.root}:val]", "threshold_source=frame", "epochs=2"]
    held = train(_cfg(toy, tmp_path / "held", *ex), progress=False)
    mixed = train(_cfg(toy, tmp_path / "mix", *ex, "threshold_on=all"), progress=False)
    only = train(_cfg(toy, tmp_path / "ext", *ex, "threshold_on=extra"), progress=False)
    for a, b in ((held, mixed), (only, mixed), (held, only)):  # same weights, thresholds differ by data
        for n, v in a.tagger.net.state_dict().items():
            torch.testing.assert_close(v, b.tagger.net.state_dict()[n])
    assert not np.allclose(held.tagger.thresholds, mixed.tagger.thresholds)
    assert not np.allclose(only.tagger.thresholds, mixed.tagger.thresholds)
    # the mixture's thresholds are those fitted on both sets pooled
    from clip2frame.train.data import SplitData, load_split
    t = mixed.tagger
    common = dict(total_stride=t.total_stride, run_dir=tmp_path, progress=False)
    pooled = SplitData.concat([load_split(toy, "validation", t.feature_spec, t.labels, **common),
                               load_split(other, "val", t.feature_spec, t.labels, **common)])
    cfg = _cfg(toy, tmp_path / "mix", *ex, "threshold_on=all")
    from clip2frame.train.thresholds import fit_model_thresholds
    ref = fit_model_thresholds(t.net, t.standardizer, pooled, cfg, torch.device("cpu"))
    np.testing.assert_allclose(t.thresholds, ref)
    assert "all:" in t.provenance["threshold_source"]


def test_selection_on_the_extra_domain(toy, other, tmp_path):
    res = train(_cfg(toy, tmp_path / "sel", f"extra_val=[{other.root}:val]", "select_on=extra", "epochs=4",
                     "select_metric=frame_auc"), progress=False)
    scores = [r["extra_frame_auc"] for r in res.history]
    assert res.best_epoch == int(np.argmax(scores)) + 1
    assert res.best_score == pytest.approx(max(scores), abs=1e-5)
    header = (tmp_path / "sel" / "metrics.csv").read_text().splitlines()[0]
    assert "extra_frame_auc" in header and "frame_auc" in header


def test_switch_keys_are_refused_or_checked(toy, tmp_path):
    with pytest.raises(ConfigError, match="extra_val"):
        _cfg(toy, tmp_path, "select_on=extra")
    with pytest.raises(ConfigError, match="MANIFEST_DIR:SPLIT"):
        parse_extra_val("nosplit")
    with pytest.raises(ConfigError, match="ema_decay"):
        _cfg(toy, tmp_path, "mean_teacher.ema_decay=1.0")
    # switches at their "off" values leave a run's identity (resume hash, run names) unchanged
    d = settings_dict(_cfg(toy, tmp_path))
    assert not {"keep_untagged", "extra_val", "select_on", "threshold_on", "mean_teacher"} & set(d)
    assert "keep_untagged" in settings_dict(_cfg(toy, tmp_path, "keep_untagged=true"))


def test_heldout_timbres_and_evaluation_only_corpora_never_fit(toy, tmp_path):
    m = load_manifest(toy.root)
    m.extra["soundfont_of"] = {"audio/val/a.wav": "musescore-general-full", "audio/test/b.wav": "fluidr3-gm"}
    with pytest.raises(ConfigError, match="held-out"):
        check_fit_allowed(m, "val", key="extra_val", training=False)
    check_fit_allowed(m, "test", key="extra_val", training=False)  # a split without held-out sources is fine
    m.extra["evaluation_only"] = True
    with pytest.raises(ConfigError, match="evaluation-only"):
        check_fit_allowed(m, "test", key="mean_teacher.data", training=True)


def test_unlabelled_manifest_cuts_tracks_and_refuses_reserved_sources(tmp_path):
    from clip2frame.data.unlabelled import build_unlabelled_manifest, check_source

    src = tmp_path / "music"
    src.mkdir()
    rng = np.random.default_rng(0)
    sf.write(src / "a.ogg", (0.1 * rng.standard_normal(int(7.5 * 16000))).astype(np.float32), 16000)
    sf.write(src / "b.wav", (0.1 * rng.standard_normal(int(1.0 * 16000))).astype(np.float32), 16000)
    (src / "broken.ogg").write_bytes(b"not audio")
    m = build_unlabelled_manifest([src], tmp_path / "unl", clip_seconds=3.0)
    # a.ogg: 3 + 3 + 1.5 s (the last kept: >= half a clip); b.wav: 1 s < 1.5 s, dropped; broken: skipped
    assert [c.duration for c in m.split("unlabelled")] == [3.0, 3.0, 1.5]
    assert all(c.tags == () and c.events is None for c in m.clips)
    again = build_unlabelled_manifest([src], tmp_path / "unl", clip_seconds=3.0)  # resumable, same clips
    assert [c.clip_id for c in again.clips] == [c.clip_id for c in m.clips]
    for bad in ("/usr/share/games/fretsonfire/data/songs/x.ogg", "/usr/share/games/wesnoth/1.16/data/core/music"):
        with pytest.raises(ConfigError, match="reserved"):
            check_source(bad)
    with pytest.raises(ConfigError, match="no such file"):
        build_unlabelled_manifest([tmp_path / "none"], tmp_path / "u2")


def test_selection_set_renders_outside_arrangements_with_training_timbres(tmp_path):
    pytest.importorskip("clip2frame.data.outside.render",
                        reason="the outside-renderer generator (wave3-outside) is not merged yet")
    pytest.importorskip("fluidsynth")
    from clip2frame.data.selection_val import render_selection_val
    from clip2frame.data.synth import timbres

    m = render_selection_val(tmp_path / "sel", seed=101, clips=2, clip_seconds=4.0)
    assert m.splits == ["val"] and len(m.clips) == 2 and not m.extra.get("evaluation_only")
    assert all(not timbres.source(n).heldout for n in m.extra["soundfont_of"].values())
    check_fit_allowed(m, "val", key="extra_val", training=False)


def test_every_v3_recipe_resolves_and_ablates_one_switch(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("recipe_v3", Path(__file__).parents[1] / "scripts" / "recipe_v3.py")
    rv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rv)
    doc = rv.load()
    cfgs = {}
    for name in doc["recipes"]:
        args = rv.train_args(doc, name, tmp_path, 11, False)
        sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
        cfgs[name] = resolve_config(overrides=[f"data={args[1]}", f"preset={args[3]}", *sets])
    v3 = cfgs["v3"]
    assert v3.keep_untagged and v3.select_on == "extra" and v3.threshold_on == "all" and v3.mean_teacher.enabled
    assert v3.extra_val == (f"{tmp_path / 'selection'}:val",)

    def diff(name):
        a, b = settings_dict(v3), settings_dict(cfgs[name])
        return {k for k in set(a) | set(b) if a.get(k) != b.get(k)} - {"data"}

    assert diff("no-negatives") == {"keep_untagged"}
    assert diff("no-mean-teacher") == {"mean_teacher"}
    assert diff("heldin-selection") == {"extra_val", "select_on", "threshold_on"}
    for name in ("no-variety", "no-distractors", "no-inserts"):   # other corpus, same trainer settings
        assert diff(name) == set() and cfgs[name].data != v3.data
    assert not cfgs["v2"].keep_untagged and not cfgs["v2"].mean_teacher.enabled
