"""Evaluation-only corpora (issue #24): held-out arrangement/production, real recordings, non-music."""
from __future__ import annotations

import ast
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pedalboard")

from clip2frame.data import load_manifest  # noqa: E402
from clip2frame.data.outside import nonmusic, produce  # noqa: E402
from clip2frame.data.outside.arrange import GENRES  # noqa: E402
from clip2frame.data.outside.parts import make_arrangement  # noqa: E402
from clip2frame.data.outside.real import energy_truth  # noqa: E402
from clip2frame.data.outside.recorded import REAL_OTHERS, REAL_SOURCES, read_patch, source_path  # noqa: E402
from clip2frame.data.outside.render import arrangement_for, heldout_soundfonts  # noqa: E402
from clip2frame.data.synth import timbres  # noqa: E402
from clip2frame.errors import ConfigError, DatasetError  # noqa: E402
from clip2frame.tags import INSTRUMENT_TAGS  # noqa: E402

SR = 16000
SRC = Path(__file__).resolve().parents[1] / "src" / "clip2frame"
HAVE_HELDOUT_SF = "timgm6mb" in timbres.available_sources() and any(
    n.startswith("musescore") for n in timbres.available_sources())


# ------------------------------------------------------------------------------------------ guards
def test_training_code_never_imports_the_outside_generators():
    for folder in ("data/synth", "train", "models"):
        for py in (SRC / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(py.read_text())):
                if isinstance(node, ast.ImportFrom):
                    name = ("." * node.level) + (node.module or "")
                    assert "outside" not in name, f"{py} imports {name}"
                elif isinstance(node, ast.Import):
                    assert not any("outside" in a.name for a in node.names), py


def test_eval_only_recordings_cannot_enter_a_timbre_pool(tmp_path, monkeypatch):
    fake = tmp_path / "lmms" / "samples"
    fake.mkdir(parents=True)
    (fake / "piano01.ogg").write_bytes(b"x")
    monkeypatch.setitem(timbres.EVAL_ONLY_RECORDINGS, "lmms-common", fake)
    cands = timbres._candidates()
    monkeypatch.setattr(timbres, "_candidates", lambda: cands + [
        timbres.TimbreSource("sneaky-piano", "piano-samples", fake, ("piano",), False)])
    timbres.available_sources.cache_clear()
    try:
        assert "sneaky-piano" in timbres.available_sources()
        with pytest.raises(ConfigError, match="evaluation-only"):
            timbres.pool_for("train", "piano")
    finally:
        timbres.available_sources.cache_clear()


def test_every_real_source_is_an_eval_only_recording_and_no_timbre_source_is():
    for entries in list(REAL_SOURCES.values()) + [REAL_OTHERS]:
        for package, rel, _ in entries:
            assert timbres.is_eval_only(source_path(package, rel)), (package, rel)
    assert set(REAL_SOURCES) == set(INSTRUMENT_TAGS)
    assert not any(timbres.is_eval_only(c.path) for c in timbres._candidates())


@pytest.mark.skipif(not HAVE_HELDOUT_SF, reason="MuseScore General / TimGM6mb not installed")
def test_outside_renderer_takes_heldout_soundfonts_only(monkeypatch):
    names = {name for name, _ in heldout_soundfonts().values()}
    heldout = {c.name for c in timbres._candidates() if c.heldout}
    assert names <= heldout and any("musescore" in n for n in names) and "timgm6mb" in names
    fluid = timbres.source("fluidr3-gm") if "fluidr3-gm" in timbres.available_sources() else None
    if fluid is not None:   # a pool that hands back a training soundfont is refused
        monkeypatch.setattr(timbres, "pool_for", lambda pool, tag: (fluid,))
        with pytest.raises(ConfigError, match="held-out"):
            heldout_soundfonts()


# ------------------------------------------------------------------------------------ arrangements
def test_val_and_test_are_disjoint_and_reproducible():
    a1, p1 = arrangement_for("test", 3, seed=5)
    a2, p2 = arrangement_for("test", 3, seed=5)
    assert a1.labels() == a2.labels() and p1 == p2
    assert [p.notes for p in a1.parts] == [p.notes for p in a2.parts]
    vals = {str(arrangement_for("val", i, seed=5)[0].labels()) for i in range(6)}
    tests = {str(arrangement_for("test", i, seed=5)[0].labels()) for i in range(6)}
    assert not vals & tests
    with pytest.raises(ConfigError, match="split"):
        arrangement_for("train", 0, seed=5)


def test_arrangements_vary_and_their_truth_covers_every_note():
    rng = np.random.default_rng(1)
    genres, n_parts, tags = set(), set(), set()
    for _ in range(60):
        arr = make_arrangement(rng, duration_s=20.0)
        genres.add(arr.genre)
        n_parts.add(len(arr.parts))
        t, events = arr.labels()
        tags |= set(t)
        for p in arr.parts:
            if p.tag is None or p.tag not in t:
                continue
            spans = [(e.onset, e.offset) for e in events if e.label == p.tag]
            for on, off, _, _ in p.notes:
                assert 0 <= on < 20.0 and off <= 20.0
                assert any(a - 1e-3 <= on <= b for a, b in spans), (p.tag, on)
        assert all(0 <= e.onset < e.offset <= 20.0 for e in events)
    assert len(genres) >= 6 and len(n_parts) >= 3 and set(INSTRUMENT_TAGS) <= tags


def test_mix_plan_buries_a_part_15_to_25_db_under_the_lead():
    rng = np.random.default_rng(2)
    buried = 0
    for _ in range(40):
        arr = make_arrangement(rng, duration_s=20.0)
        plan = produce.draw_mix(rng, arr.parts)
        if plan["buried"] is not None:
            buried += 1
            lvl = [pp["level_db"] for pp, p in zip(plan["parts"], arr.parts) if p.name == plan["buried"]][0]
            assert -25.0 <= lvl <= -15.0
    assert 10 <= buried <= 35


@pytest.mark.skipif(not HAVE_HELDOUT_SF, reason="MuseScore General / TimGM6mb not installed")
def test_a_buried_part_is_in_the_truth_and_audible_only_inside_it():
    pytest.importorskip("fluidsynth")
    from clip2frame.data.outside.render import render_arrangement

    arr, plan = None, None
    for i in range(40):   # an arrangement with a buried part
        arr, plan = arrangement_for("val", i, seed=3, clip_seconds=8.0)
        if plan["buried"] is not None and sum(p.tag is not None for p in arr.parts) >= 2:
            break
    assert plan["buried"] is not None
    _, placed = render_arrangement(arr, plan, heldout_soundfonts()["timgm"][1], sr=SR)
    tags, events = arr.labels()
    part = next(p for p in arr.parts if p.name == plan["buried"])
    spans = part.spans(arr.duration_s)
    if part.tag in tags:
        assert any(e.label == part.tag for e in events)
    y = placed[part.name]
    inside = np.zeros(len(y), bool)
    for a, b in spans:
        inside[int(a * SR):int(b * SR)] = True
    assert np.abs(y[~inside]).max(initial=0.0) < 1e-6          # nothing outside its truth
    assert np.sqrt(np.mean(y[inside] ** 2)) > 1e-5              # but there, however quiet
    lead = next((p for p in arr.parts if p.role == "lead"), None)
    if lead is not None:
        rel = 20 * np.log10(produce.active_level(y, SR) / produce.active_level(placed[lead.name], SR))
        assert -30.0 < rel < -10.0


# ------------------------------------------------------------------------------------------- real
def test_energy_truth_marks_a_quiet_part_and_not_one_under_the_floor():
    t = np.arange(4 * SR) / SR
    ref = 0.1
    quiet = np.where((t >= 1) & (t < 2), 0.1 * 10 ** (-30 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t), 0.0)
    spans = energy_truth(quiet, ref, SR)
    assert len(spans) == 1 and abs(spans[0][0] - 1.0) < 0.05 and abs(spans[0][1] - 2.0) < 0.05
    assert energy_truth(quiet * 10 ** (-20 / 20), ref, SR) == []
    assert energy_truth(np.zeros(SR), ref, SR) == []


def _patch_bytes(data: np.ndarray, *, root_hz: float, loop: tuple[int, int]) -> bytes:
    head = b"GF1PATCH110\x00ID#000002\x00".ljust(129, b"\x00")
    inst = b"\x00" * 63
    layer = bytearray(47)
    layer[6] = 1                                   # one sample
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2").tobytes()
    hdr = bytearray(96)
    struct.pack_into("<IIIHIII", hdr, 8, len(pcm), loop[0] * 2, loop[1] * 2, SR, 20000, 20000000,
                     int(root_hz * 1000))
    hdr[55] = 1 | 4                                # 16-bit, looped
    return head + inst + bytes(layer) + bytes(hdr) + pcm


def test_gus_patch_reader_and_player(tmp_path):
    from clip2frame.data.outside.recorded import _play_patch

    t = np.arange(SR // 2) / SR
    p = tmp_path / "tone.pat"
    p.write_bytes(_patch_bytes(0.5 * np.sin(2 * np.pi * 220 * t), root_hz=220.0, loop=(SR // 4, SR // 4 + 800)))
    (s,) = read_patch(str(p))
    assert s.sr == SR and abs(s.root_hz - 220.0) < 1e-3 and s.loop == (SR // 4, SR // 4 + 800)
    y = _play_patch((s,), 69, 2.0, SR)              # A4 = 440 Hz: an octave up, looped past the sample end
    assert len(y) > int(1.9 * SR)
    f = np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(np.abs(np.fft.rfft(y)))]
    assert abs(f - 440.0) < 5.0
    bad = tmp_path / "bad.pat"
    bad.write_bytes(b"RIFF....")
    with pytest.raises(DatasetError, match="bad.pat"):
        read_patch(str(bad))


# --------------------------------------------------------------------------------------- non-music
def test_nonmusic_levels_and_empty_truth(tmp_path):
    assert not nonmusic.nonmusic_clip("silence", 0, seed=0, seconds=1.0).any()
    for i in range(3):
        x = nonmusic.nonmusic_clip("near-silence", i, seed=0, seconds=1.0)
        assert -80.5 <= 20 * np.log10(np.sqrt(np.mean(x.astype(float) ** 2))) <= -59.5
    hum = nonmusic.nonmusic_clip("hum", 0, seed=0, seconds=1.0)
    f = np.fft.rfftfreq(len(hum), 1 / SR)[np.argmax(np.abs(np.fft.rfft(hum)))]
    assert f % 50 < 1 or f % 60 < 1
    with pytest.raises(ConfigError, match="family"):
        nonmusic.nonmusic_clip("music", 0, seed=0)
    man = nonmusic.render_nonmusic_corpus(tmp_path / "nm", clips_per_family=1, clip_seconds=1.0,
                                          families=("silence", "white noise", "tone", "sweep"))
    man = load_manifest(man.root)
    assert len(man.clips) == 4 and man.extra["evaluation_only"] is True
    assert all(c.events == () and c.tags == () for c in man.clips)
    assert set(man.extra["family_of"].values()) == {"silence", "white noise", "tone", "sweep"}


def test_genre_templates_only_name_known_tags():
    for g in GENRES.values():
        for tags in g.roles.values():
            assert set(tags) <= set(INSTRUMENT_TAGS)


def test_training_refuses_an_evaluation_only_corpus(tmp_path):
    pytest.importorskip("torch")
    from clip2frame.train.config import resolve_config
    from clip2frame.train.trainer import train

    man = nonmusic.render_nonmusic_corpus(tmp_path / "nm", clips_per_family=1, clip_seconds=1.0,
                                          families=("silence", "tone"))
    cfg = resolve_config(overrides=["preset=tiny", f"data={man.root}", f"out={tmp_path / 'run'}",
                                    "train_split=nonmusic", "val_split=nonmusic", "num_threads=1"])
    with pytest.raises(DatasetError, match="evaluation-only"):
        train(cfg, progress=False)


def test_synth_nonmusic_cli(tmp_path, capsys):
    from clip2frame.cli import main as cli_main

    assert cli_main(["synth", "nonmusic", "--out", str(tmp_path / "nm"), "--clips-per-family", "1",
                     "--clip-seconds", "1", "--families", "silence,hum"]) == 0
    assert len(load_manifest(tmp_path / "nm").clips) == 2
    rc = cli_main(["synth", "nonmusic", "--out", str(tmp_path / "x"), "--families", "opera"])
    assert rc != 0 and "unknown family 'opera'" in capsys.readouterr().err
