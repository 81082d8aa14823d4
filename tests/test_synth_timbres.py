"""Renderer synth-music-4: timbre pools and the held-out rule, samplers, effects, variety, the corpus."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fluidsynth")
pytest.importorskip("music21")
pytest.importorskip("pedalboard")

from clip2frame.data import load_manifest  # noqa: E402
from clip2frame.data.synth import label_agreement, render_clip, render_music_corpus  # noqa: E402
from clip2frame.data.synth import effects, timbres, variety  # noqa: E402
from clip2frame.data.synth.render import V4_SPLITS, varied_clip_spec  # noqa: E402
from clip2frame.data.synth.samplers import DrumKitSampler, PianoSampler  # noqa: E402
from clip2frame.errors import ConfigError, DatasetError  # noqa: E402
from clip2frame.tags import INSTRUMENT_TAGS, MUSIC_TAGS  # noqa: E402

SR = 16000
HAVE_HELDOUT_SF = "timgm6mb" in timbres.available_sources() and any(
    n.startswith("musescore") for n in timbres.available_sources())
needs_heldout = pytest.mark.skipif(not HAVE_HELDOUT_SF, reason="MuseScore General / TimGM6mb not installed")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("music21-cache")


def test_training_pool_never_holds_a_heldout_source():
    heldout_names = {c.name for c in timbres._candidates() if c.heldout}
    assert {"timgm6mb", "musescore-general-full", "musescore-general-lite", "salamander-piano",
            f"hydrogen:{timbres.HELDOUT_DRUMKIT}"} <= heldout_names
    for tag in INSTRUMENT_TAGS:
        train = {s.name for s in timbres.pool_for("train", tag)}
        assert train and not train & heldout_names, tag
        assert not any("musescore" in n or "timgm" in n.lower() for n in train)
    # the held-out pools hold held-out sources only (heldout-recorded borrows training sources for the
    # tags it does not replace)
    for pool in ("heldout-musescore", "heldout-timgm"):
        for tag in INSTRUMENT_TAGS:
            if HAVE_HELDOUT_SF:
                assert all(s.heldout for s in timbres.pool_for(pool, tag))
    with pytest.raises(ConfigError, match="nowhere"):
        timbres.pool_for("nowhere", "piano")
    with pytest.raises(ConfigError, match="kazoo-font"):
        timbres.source("kazoo-font")


def test_draw_instruments_styles_cover_every_tag():
    rng = np.random.default_rng(0)
    seen, styles = set(), set()
    for _ in range(400):
        style, tags = variety.draw_instruments(rng)
        assert 1 <= len(tags) <= variety.MAX_INSTRUMENTS
        assert list(tags) == [t for t in INSTRUMENT_TAGS if t in tags]
        seen |= set(tags)
        styles.add(style)
    assert seen == set(INSTRUMENT_TAGS) and styles == set(variety.STYLES)


@needs_heldout
def test_heldout_splits_render_the_same_scores_with_other_timbres(cache_dir):
    a = varied_clip_spec("heldout-musescore", 1, seed=4, clip_seconds=6.0, cache_dir=cache_dir)
    b = varied_clip_spec("heldout-timgm", 1, seed=4, clip_seconds=6.0, cache_dir=cache_dir)
    d = varied_clip_spec("degraded", 1, seed=4, clip_seconds=6.0, cache_dir=cache_dir)
    for other in (b, d):
        assert [(p.tag, p.notes, p.controls, p.effects) for p in a.parts] == \
               [(p.tag, p.notes, p.controls, p.effects) for p in other.parts]
        assert a.work_id == other.work_id
    assert all(p.source.startswith("musescore") for p in a.parts)
    assert all(p.source == "timgm6mb" for p in b.parts)
    assert d.mix["master_effects"][0][0] == "Reverb" and a.mix["master_effects"] != d.mix["master_effects"]
    t = varied_clip_spec("train", 1, seed=4, clip_seconds=6.0, cache_dir=cache_dir)
    assert all(not timbres.source(p.source).heldout for p in t.parts)


def test_varied_clip_is_deterministic_and_truth_matches_stems(cache_dir):
    specs = [varied_clip_spec("train", i, seed=21, clip_seconds=6.0, cache_dir=cache_dir) for i in range(3)]
    first = render_clip(specs[0])
    for s in specs[1:]:
        clip = render_clip(s)
        agree = label_agreement(clip.stems, clip.events, sr=SR)
        assert agree["all"] >= 0.9, (s.mix.get("style"), agree)
        assert set(clip.tags) <= set(MUSIC_TAGS)
    again = render_clip(varied_clip_spec("train", 0, seed=21, clip_seconds=6.0, cache_dir=cache_dir))
    assert np.array_equal(first.audio, again.audio)
    other = render_clip(varied_clip_spec("train", 0, seed=22, clip_seconds=6.0, cache_dir=cache_dir))
    assert not np.array_equal(first.audio, other.audio)
    # humanised timing moved notes off the generated grid, and the truth follows the moved notes
    assert any(p.effects for p in specs[0].parts)


def test_effect_chain_keeps_length_and_alignment():
    x = np.zeros(SR, np.float32)
    x[4000] = 1.0
    chain = [["HighShelfFilter", {"cutoff_frequency_hz": 3000.0, "gain_db": -3.0}],
             ["Compressor", {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 100.0}],
             ["MP3Compressor", {"vbr_quality": 5.0}]]
    y = effects.apply_chain(x, chain, sr=SR)
    assert y.shape == x.shape and y.dtype == np.float32
    assert abs(int(np.argmax(np.abs(y))) - 4000) <= 16       # pedalboard compensates the codec's delay
    assert effects.apply_chain(np.zeros(100, np.float32), chain, sr=SR).shape == (100,)
    with pytest.raises(ConfigError, match="VST3Plugin"):
        effects.apply_chain(x, [["VST3Plugin", {}]], sr=SR)
    rng = np.random.default_rng(1)
    amp = effects.draw_stem_chain(rng, "distorted electric guitar", amp_sim=True)
    assert [n for n, _ in amp][:2] == ["HighpassFilter", "Distortion"]
    with pytest.raises(ConfigError, match="profile"):
        effects.draw_master_chain(rng, profile="loud")


def _write_kit(root: Path) -> Path:
    kit = root / "kit"
    kit.mkdir()
    t = np.arange(int(0.3 * SR)) / SR
    sf.write(kit / "kick.wav", (np.sin(2 * np.pi * 60 * t) * np.exp(-t * 10)).astype(np.float32), SR)
    sf.write(kit / "snare.wav", (np.random.default_rng(0).standard_normal(t.size) * np.exp(-t * 20)).astype(np.float32), SR)
    inst = "".join(
        f"<instrument><id>{i}</id><name>{name}</name><volume>1</volume><gain>1</gain>"
        f"<layer><filename>{fn}</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>"
        for i, (name, fn) in enumerate([("Big Kick", "kick.wav"), ("Snare Rock", "snare.wav")]))
    (kit / "drumkit.xml").write_text(
        f'<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit"><name>t</name>'
        f"<instrumentList>{inst}</instrumentList></drumkit_info>")
    return kit


def test_drum_kit_sampler_maps_gm_keys_by_name(tmp_path):
    s = DrumKitSampler(_write_kit(tmp_path), sr=SR)
    assert set(s.layers) == {"kick", "snare"}
    y = s.render([(0.5, 0.8, 36, 127), (1.0, 1.3, 42, 64)], n_samples=2 * SR)   # hi-hat falls back to snare
    assert np.all(y[: int(0.5 * SR)] == 0)
    assert np.abs(y[int(0.5 * SR): int(0.6 * SR)]).max() > 0.3
    assert np.abs(y[int(1.0 * SR): int(1.05 * SR)]).max() > 0.05
    assert np.all(y[int(1.3 * SR) + int(0.08 * SR) + 1:] == 0)        # note-off + release, then silence
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "drumkit.xml").write_text("<drumkit_info><name>x</name></drumkit_info>")
    with pytest.raises(DatasetError, match="kick or snare"):
        DrumKitSampler(tmp_path / "empty")


def test_piano_sampler_transposes_by_resampling(tmp_path):
    t = np.arange(2 * SR) / SR
    sf.write(tmp_path / "C4v10.ogg", (0.5 * np.sin(2 * np.pi * 261.63 * t)).astype(np.float32), SR)
    p = PianoSampler(tmp_path, sr=SR)
    y = p.render([(0.0, 1.0, 67, 127)], n_samples=SR)                  # G4, a fifth up: 392 Hz
    spec = np.abs(np.fft.rfft(y[: SR // 2] * np.hanning(SR // 2)))
    assert abs(np.argmax(spec) * 2 - 392.0) < 4
    with pytest.raises(DatasetError, match="no piano samples"):
        PianoSampler(tmp_path / "nothing")


@needs_heldout
def test_v4_corpus_metadata_resume_and_signature(tmp_path, cache_dir):
    out = tmp_path / "c"
    kw = dict(hours=0.004, seed=3, clip_seconds=3.0, cache_dir=cache_dir, progress=False, timbres="random",
              splits="train=0.5,heldout-timgm=0.5")
    man = render_music_corpus(out, **kw)
    assert man.splits == ["train", "heldout-timgm"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["renderer_version"] == "synth-music-4"
    assert meta["splits"]["heldout-timgm"]["timbre_pool"] == "heldout-timgm"
    assert all(v.startswith("timgm") or k == "style" for f, d in meta["timbres"].items() if "heldout" in f
               for k, v in ((k, v if k == "style" else v[0]) for k, v in d.items()))
    assert not any(src[0].startswith(("timgm", "musescore")) for f, d in meta["timbres"].items()
                   if f.startswith("audio/train/") for k, src in d.items() if k != "style")
    wav = out / man.clips[0].filename if hasattr(man.clips[0], "filename") else man.clips[0].audio_path
    before = Path(wav).read_bytes()
    Path(wav).unlink()
    render_music_corpus(out, **kw)
    assert Path(wav).read_bytes() == before
    with pytest.raises(ConfigError, match="renderer|pools"):
        render_music_corpus(out, **{**kw, "timbres": "fixed", "splits": "train"})
    with pytest.raises(ConfigError, match="splits"):
        varied_clip_spec("shift", 0, seed=0)
    assert set(V4_SPLITS) >= {"train", "validation", "test", "heldout-musescore", "heldout-timgm",
                              "heldout-recorded", "degraded"}


@pytest.fixture
def no_recorded_piano(tmp_path, monkeypatch):
    """A machine where scripts/fetch_timbres.sh never ran (the Salamander piano is missing)."""
    monkeypatch.setenv("CLIP2FRAME_TIMBRES", str(tmp_path / "no-timbres"))
    timbres.available_sources.cache_clear()
    yield tmp_path / "no-timbres"
    timbres.available_sources.cache_clear()


@needs_heldout
def test_default_corpus_skips_heldout_recorded_without_its_piano(no_recorded_piano, tmp_path, cache_dir, caplog):
    # issue #27: `clip2frame synth music` failed on a fresh machine ("no installed source plays 'piano'")
    assert "salamander-piano" not in timbres.available_sources()
    assert "salamander-piano" in timbres.pool_problem("heldout-recorded")
    assert "fetch_timbres.sh" in timbres.pool_problem("heldout-recorded")
    assert timbres.pool_problem("train") is None and timbres.pool_problem("heldout-timgm") is None
    with caplog.at_level("WARNING", logger="clip2frame.data.synth.render"):
        man = render_music_corpus(tmp_path / "c", hours=0.0005, seed=1, clip_seconds=1.0, cache_dir=cache_dir,
                                  progress=False, timbres="random")
    assert man.splits == ["train", "validation", "test", "heldout-musescore", "heldout-timgm", "degraded"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "'heldout-recorded' skipped" in warnings[0] and "piano" in warnings[0]
    meta = json.loads((tmp_path / "c" / "metadata.json").read_text())
    assert list(meta["skipped_splits"]) == ["heldout-recorded"]
    assert "heldout-recorded" not in meta["timbre_pools"]
    # asked for by name, the split is an error naming what to install, not a silent skip
    with pytest.raises(ConfigError, match="heldout-recorded.*salamander-piano.*fetch_timbres"):
        render_music_corpus(tmp_path / "d", hours=0.001, seed=1, clip_seconds=1.0, cache_dir=cache_dir,
                            progress=False, timbres="random", splits="train,heldout-recorded")
    # once the piano samples are installed the pool is complete again
    audio = no_recorded_piano / "piano-velocity10" / "audio"
    audio.mkdir(parents=True)
    sf.write(audio / "C4v10.ogg", np.zeros(SR // 10, np.float32), SR)
    timbres.available_sources.cache_clear()
    assert timbres.pool_problem("heldout-recorded") is None
