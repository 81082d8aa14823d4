"""Renderer synth-music-5 (issue #24): genres, levels, mastering, distractors, non-music inserts, negatives."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fluidsynth")
pytest.importorskip("music21")
pytest.importorskip("pedalboard")

from clip2frame.data.synth import compose, production as prod, timbres, variety  # noqa: E402
from clip2frame.data.synth.instruments import GM_PROGRAMS  # noqa: E402
from clip2frame.data.synth.mix import active_rms  # noqa: E402
from clip2frame.data.synth.render import render_clip, render_music_corpus  # noqa: E402
from clip2frame.errors import ConfigError  # noqa: E402

SEC = 4.0


def _spec(index, features=prod.FEATURES, split="train", seed=1):
    return prod.v5_clip_spec(split, index, seed=seed, clip_seconds=SEC, features=features)


def _music(tags=("piano", "flute"), index=0):
    """A small training-pool spec without music21 material (generated lines)."""
    spec = compose.make_spec(clip_id=f"train_{index:05d}", split="train", seed=1, index=index, duration_s=SEC,
                             sr=16000, soundfont="", work=None, instruments=tags)
    return variety.vary_spec(spec, pool="train", rng=np.random.default_rng(index))


def test_buried_part_level_is_within_its_range():
    for k in range(200):
        spec = _music(index=3)
        roles = prod.assign_levels(spec, np.random.default_rng(k))
        if "buried" in roles.values():
            break
    else:
        pytest.fail("no buried part in 200 draws")
    clip = render_clip(spec)
    buried = next(t for t, r in roles.items() if r == "buried")
    lead = next(t for t, r in roles.items() if r == "lead")
    assert buried in clip.tags, "a buried part stays a tag"
    rel = 20 * np.log10(active_rms(clip.stems[buried]) / active_rms(clip.stems[lead]))
    assert prod.BURIED_DB[0] - 0.5 <= rel <= prod.BURIED_DB[1] + 0.5


def test_levels_roles_and_ranges_over_many_clips():
    gains: dict[str, list[float]] = {"buried": [], "bed": []}
    for k in range(150):
        parts = [compose.Part(t, 0, r, [(0.0, 1.0, 60, 90)]) for t, r in
                 (("piano", "comp"), ("drums", "drums"), ("electric bass", "bass"), ("flute", "line"))]
        spec = compose.ClipSpec("c", "train", 0, SEC, 16000, "", parts, [])
        lv = prod.assign_levels(spec, np.random.default_rng(k))
        assert sum(r == "lead" for r in lv.values()) == 1
        assert lv["drums"] != "lead" and lv["electric bass"] != "lead"
        lead = next(p.gain_db for p in parts if lv[p.tag] == "lead")
        assert prod.EXPOSED_DB[0] <= lead <= prod.EXPOSED_DB[1]
        for p in parts:
            if lv[p.tag] != "lead":
                gains[lv[p.tag]].append(p.gain_db - lead)
    assert min(gains["buried"]) >= -25 and max(gains["buried"]) <= -15
    assert min(gains["bed"]) >= -12 and max(gains["bed"]) <= -2
    assert 0.15 < len(gains["buried"]) / (len(gains["buried"]) + len(gains["bed"])) < 0.35


def test_negative_clips_have_no_tag_and_sound():
    share = np.mean([prod.is_negative(1, "train", k) for k in range(1000)])
    assert 0.07 <= share <= 0.13
    assert not any(prod.is_negative(1, "test", k) for k in range(200))
    idx = [k for k in range(300) if prod.is_negative(1, "train", k)]
    specs = [_spec(k) for k in idx]
    assert all(s.mix.get("style") == "non-music" and not s.parts for s in specs)
    assert "non-music" != _spec(idx[0], tuple(f for f in prod.FEATURES if f != "negatives")).mix.get("style")
    spec = next(s for s in specs if s.mix["nonmusic"] in ("noise", "tone", "sweep"))
    clip = render_clip(spec)
    assert clip.tags == () and clip.events == ()
    assert 20 * np.log10(active_rms(clip.audio)) == pytest.approx(spec.mix["extras"][0]["gain_db"], abs=1.0)


def test_inserts_leave_the_music_truth_unchanged():
    spec = _music(index=5)
    plain = render_clip(spec)
    spec.mix["extras"] = [{"kind": "noise", "colour": "pink", "start_s": 0.0, "end_s": 2.0, "seed": 3,
                           "gain_db": -3.0}]
    noisy = render_clip(spec)
    assert noisy.tags == plain.tags and noisy.events == plain.events and plain.tags
    sr = spec.sr
    assert not np.allclose(noisy.audio[: sr], plain.audio[: sr])
    rng = np.random.default_rng(0)
    kinds = {prod.draw_insert(rng, 29.1, 0.0)["kind"] for _ in range(60)}
    assert kinds == {"speech", "applause", "noise"}


def test_distractors_use_untagged_programs_in_the_clips_tempo():
    tagged = {p for t, ps in GM_PROGRAMS.items() if t != "drums" for p in ps}  # drums: bank-128 kits
    for programs, proxies in prod.DISTRACTORS.values():
        assert not set(programs) & tagged
        assert set(proxies) <= set(GM_PROGRAMS)
    # a distractor's notes come from the clip's own score draw: same tempo sections whatever the instruments
    kw = dict(clip_id="train_00007", split="train", seed=1, index=7, duration_s=20.0, sr=16000, soundfont="", work=None)
    assert compose.make_spec(**kw, instruments=("piano", "flute")).tempo_sections == \
        compose.make_spec(**kw, instruments=("trumpet",)).tempo_sections
    spec = _music(index=7)
    ds = prod.draw_distractors(spec, np.random.default_rng(2), work=None, index=7, lead_db=0.0)
    assert ds and all(d["program"] in prod.DISTRACTORS[d["family"]][0] for d in ds)
    # the proxy whose notes a distractor plays is never a tag of the clip (piano plays here: organ and
    # mallets take their next proxy)
    seen = set()
    for k in range(20):
        for d in prod.draw_distractors(spec, np.random.default_rng(k), work=None, index=7, lead_db=0.0):
            assert d["proxy"] not in {p.tag for p in spec.parts}
            seen.add(d["family"])
    assert {"organ", "mallets"} & seen
    assert all(not timbres.source(d["source"]).heldout for d in ds)
    plain = render_clip(spec)
    spec.mix["extras"] = ds
    clip = render_clip(spec)
    assert clip.tags == plain.tags and clip.events == plain.events  # no tag, no truth
    assert not np.allclose(clip.audio, plain.audio)


def test_features_are_separate_streams_for_paired_ablations():
    for i in range(3):
        full, no_ins = _spec(i), _spec(i, tuple(f for f in prod.FEATURES if f != "inserts"))
        assert [p.notes for p in full.parts] == [p.notes for p in no_ins.parts]
        assert [p.gain_db for p in full.parts] == [p.gain_db for p in no_ins.parts]
        assert [e for e in full.mix.get("extras", ()) if e["kind"] == "distractor"] == \
               [e for e in no_ins.mix.get("extras", ()) if e["kind"] == "distractor"]
    none = _spec(0, ())
    assert "extras" not in none.mix and "levels" not in none.mix
    with pytest.raises(ConfigError, match="unknown feature"):
        prod.parse_features("genres,loudness")


def test_genre_templates_cover_every_genre():
    rng = np.random.default_rng(0)
    seen = {}
    for _ in range(600):
        g, tags, density = prod.draw_genre(rng)
        seen.setdefault(g, []).append(tags)
        assert tags and density in prod.DENSITY
    assert set(seen) == set(prod.GENRES)
    for need in ("rock band", "metal band", "pop", "jazz combo", "electronic", "orchestral", "chamber",
                 "solo with accompaniment"):
        assert need in seen
    assert np.mean(["distorted electric guitar" in t for t in seen["metal band"]]) > 0.8


def test_training_nonmusic_sources_are_disjoint_from_the_evaluation_ones():
    tn = prod.TRAINING_NONMUSIC
    for name in tn["applause_soundfonts"]:
        src = next(c for c in timbres._candidates() if c.name == name)
        assert not src.heldout and src.name != "fluidr3-gm"   # FluidR3's program 126 renders the eval everyday
    assert tn["everyday_split"] == ("train",)
    eval_only = getattr(timbres, "is_eval_only", None)
    if eval_only is not None:
        for s in timbres._candidates():
            if s.name in tn["applause_soundfonts"]:
                assert not eval_only(s.path)
    outside = pytest.importorskip("clip2frame.data.outside.nonmusic",
                                  reason="the outside-renderer evaluation (wave3-outside) is not merged yet")
    assert not {v for v, _ in outside.ESPEAK_VOICES} & set(tn["espeak_voices"])
    assert not set(outside.SENTENCES) & set(tn["sentences"])


def test_v5_corpus_records_production_and_refuses_fixed_timbres(tmp_path):
    with pytest.raises(ConfigError, match="timbres 'random'"):
        render_music_corpus(tmp_path / "x", hours=0.001, seed=0, timbres="fixed", production="all")
    m = render_music_corpus(tmp_path / "c", hours=2 * SEC / 3600, seed=1, clip_seconds=SEC, splits="train=1",
                            timbres="random", production="levels,negatives", progress=False)
    assert m.extra["renderer_version"] == "synth-music-5"
    assert m.extra["production"]["features"] == ["levels", "negatives"]
    assert len(m.extra["production_of"]) == 2
