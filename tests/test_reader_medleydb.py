"""MedleyDB reader on small files written here in the published layouts (YAML metadata, activation CSV)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clip2frame.data.readers import medleydb, medleydb_activations
from clip2frame.data.events import events_to_frames
from clip2frame.data.manifest import Event
from clip2frame.errors import DatasetError

HOP = 2048 / 44100


def write_yaml(path: Path, artist: str, title: str, stems: dict, *, encoding: str = "utf-8") -> None:
    lines = [f"album: ''", f"artist: {artist}", "excerpt: 'no'", "genre: Rock", "has_bleed: 'no'",
             f"mix_filename: {path.name.replace('_METADATA.yaml', '_MIX.wav')}", "stems:"]
    for sid, inst in stems.items():
        lines += [f"  {sid}:", "    component: ''", f"    filename: {sid}.wav"]
        if isinstance(inst, list):
            lines += ["    instrument:"] + [f"    - {i}" for i in inst]
        else:
            lines.append(f"    instrument: {inst}")
        lines += ["    raw:", "      R01:", f"        filename: {sid}_01.wav", f"        instrument: x"]
    lines += [f"title: {title}", "version: 1.2", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode(encoding))


def write_activation(path: Path, conf: np.ndarray, stems: list[str], extra_lines: list[str] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["time," + ",".join(stems)]
    rows += [f"{i * HOP:.4f}," + ",".join(f"{v:.4f}" for v in row) for i, row in enumerate(conf)]
    rows += list(extra_lines)
    path.write_text("\n".join(rows) + "\n")


def write_mix(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(8000 * seconds), np.float32), 8000)


def make_medleydb(root: Path) -> Path:
    # Track 1: published download layout; v2-style instrument list on S02.
    t1 = "ArtistA_Song1"
    write_yaml(root / "Audio" / t1 / f"{t1}_METADATA.yaml", "Artist A", "Song 1",
               {"S01": "drum set", "S02": ["male singer", "vocalists"], "S03": "violin"})
    write_mix(root / "Audio" / t1 / f"{t1}_MIX.wav", 0.5)
    conf = np.full((10, 3), 0.05)
    conf[0:5, 0] = 0.9      # drums: samples 0-4
    conf[3:8, 1] = 0.6      # male + vocal: samples 3-7
    conf[2, 2] = 0.49       # violin: never reaches 0.5
    write_activation(root / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF"
                     / f"{t1}_ACTIVATION_CONF.lab", conf, ["S01", "S02", "S03"])
    # Track 2: medleydb package layout (Metadata/, Activation_Confidence/), Latin-1 YAML, a bad row.
    t2 = "ArtistB_Song2"
    write_yaml(root / "Metadata" / f"{t2}_METADATA.yaml", "Björk Ärtist", "Sång",
               {"S01": "acoustic guitar", "S02": "tenor saxophone"}, encoding="latin-1")
    write_mix(root / "Audio" / t2 / f"{t2}_MIX.wav", 0.3)
    conf2 = np.zeros((6, 2))
    conf2[1:3, 0] = 1.0
    conf2[4:6, 1] = 0.8
    write_activation(root / "Annotations" / "Activation_Confidence" / f"{t2}_ACTIVATION_CONF.lab",
                     conf2, ["S01", "S02"], extra_lines=["0.5000,abc,0.1", "0.6000,0.1"])
    # Track 3: metadata only (mix missing).
    t3 = "ArtistC_Song3"
    write_yaml(root / "Audio" / t3 / f"{t3}_METADATA.yaml", "Artist C", "Song 3", {"S01": "piano"})
    # Track 4: no activation file: weak tags from the metadata, events None.
    t4 = "ArtistD_Song4"
    write_yaml(root / "Audio" / t4 / f"{t4}_METADATA.yaml", "Artist D", "Song 4",
               {"S01": "piano", "S02": "electric bass"})
    write_mix(root / "Audio" / t4 / f"{t4}_MIX.wav", 0.2)
    # Track 5: nothing of the 9 instruments (dropped with label maps).
    t5 = "ArtistE_Song5"
    write_yaml(root / "Audio" / t5 / f"{t5}_METADATA.yaml", "Artist E", "Song 5", {"S01": "tabla"})
    write_mix(root / "Audio" / t5 / f"{t5}_MIX.wav", 0.2)
    write_activation(root / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF"
                     / f"{t5}_ACTIVATION_CONF.lab", np.ones((3, 1)), ["S01"])
    # An orphan: mix without metadata (misnamed metadata file).
    write_mix(root / "Audio" / "Orphan_Song" / "Orphan_Song_MIX.wav", 0.1)
    (root / "Audio" / "Orphan_Song" / "orphan_song_metadata.yml").write_text("artist: x\n")
    return root


def test_mtt9_events_tags_and_issues(tmp_path):
    root = make_medleydb(tmp_path / "MedleyDB")
    m = medleydb.read(root, split="none")
    assert m.labels == ["drums", "bass", "piano", "male", "electric guitar", "synthesizer", "vocal", "female",
                        "acoustic guitar"]
    by_id = {c.clip_id: c for c in m.clips}
    assert set(by_id) == {"ArtistA_Song1", "ArtistB_Song2", "ArtistD_Song4"}
    c1 = by_id["ArtistA_Song1"]
    assert c1.tags == ("drums", "male", "vocal")
    ev = {e.label: e for e in c1.events}
    assert ev["drums"].onset == 0.0 and ev["drums"].offset == pytest.approx(5 * HOP, abs=1e-3)
    assert ev["male"].onset == pytest.approx(3 * HOP, abs=1e-3)
    assert ev["male"].offset == pytest.approx(8 * HOP, abs=1e-3)
    assert ev["vocal"] == Event(ev["male"].onset, ev["male"].offset, "vocal")
    assert c1.duration == pytest.approx(0.5)
    assert c1.audio_path == root / "Audio" / "ArtistA_Song1" / "ArtistA_Song1_MIX.wav"
    c2 = by_id["ArtistB_Song2"]
    assert c2.tags == ("acoustic guitar",)      # tenor saxophone is not among the 9
    c4 = by_id["ArtistD_Song4"]
    assert c4.events is None and c4.tags == ("bass", "piano")
    assert m.extra["artists"]["ArtistB_Song2"] == "Björk Ärtist"
    assert m.extra["dropped"] == {"no_label_in_map": 1}
    missing = m.extra["missing"]
    assert "Audio/ArtistC_Song3/ArtistC_Song3_MIX.wav" in missing
    assert ("Audio/Orphan_Song/Orphan_Song_METADATA.yaml (found orphan_song_metadata.yml — misnamed?)"
            in missing)
    assert any(p.endswith("ArtistD_Song4_ACTIVATION_CONF.lab") for p in missing)
    assert m.extra["n_malformed"] == 2
    assert any("non-numeric" in x for x in m.extra["malformed"])
    assert any("expected 3 comma-separated values, got 2" in x for x in m.extra["malformed"])


def test_threshold_and_frame_rate(tmp_path):
    root = make_medleydb(tmp_path / "MedleyDB")
    m = medleydb.read(root, split="none", label_map=None, threshold=0.45)
    c1 = {c.clip_id: c for c in m.clips}["ArtistA_Song1"]
    assert "violin" in c1.tags           # 0.49 ≥ 0.45
    assert "tabla" in m.labels          # no map: every instrument is a label
    m10 = medleydb.read(root, split="none", frame_rate_hz=10.0)
    c1 = {c.clip_id: c for c in m10.clips}["ArtistA_Song1"]
    ev = {e.label: e for e in c1.events}
    # drums samples 0-4 lie at t < 0.19 s → frames 0 and 1 of 0.1 s
    assert (ev["drums"].onset, ev["drums"].offset) == (0.0, 0.2)
    # male samples 3-7 (0.139..0.325 s) → frames 1-3; the annotation ends at 10 hops = 0.464 s
    assert (ev["male"].onset, ev["male"].offset) == (0.1, 0.4)
    frames = events_to_frames(c1.events, m10.labels, n_frames=5, frame_duration_s=0.1)
    assert frames[:, m10.labels.index("drums")].tolist() == [True, True, False, False, False]
    assert frames[:, m10.labels.index("male")].tolist() == [False, True, True, True, False]


def test_resample_holds_value_when_frames_are_finer_than_the_hop():
    times = np.array([0.0, 0.1, 0.2])
    curves = np.array([[0.0], [1.0], [0.0]])
    out = medleydb_activations.resample_to_frames(times, curves, frame_rate_hz=40.0, end_s=0.3)
    assert out.shape == (12, 1)
    assert out[:, 0].tolist() == [0] * 4 + [1] * 4 + [0] * 4


def test_ch4_aggregates_guitars_and_saxophones(tmp_path):
    root = make_medleydb(tmp_path / "MedleyDB")
    m = medleydb.read(root, label_map="ch4", split="none")
    assert m.labels == ["accordion", "cello", "drums", "flute", "guitar", "piano", "saxophone", "trumpet", "violin"]
    by_id = {c.clip_id: c for c in m.clips}
    assert by_id["ArtistB_Song2"].tags == ("guitar", "saxophone")
    assert by_id["ArtistA_Song1"].tags == ("drums",)


def test_artist_split_is_disjoint_seeded_and_balanced():
    artists = {f"A{i}_S{j}": f"A{i}" for i in range(10) for j in range(i % 3 + 1)}
    s0 = medleydb.artist_split(artists, seed=0)
    assert s0 == medleydb.artist_split(artists, seed=0)
    assert s0 != medleydb.artist_split(artists, seed=1)
    for split in ("validation", "test"):
        arts = {artists[t] for t, s in s0.items() if s == split}
        other = {artists[t] for t, s in s0.items() if s != split}
        assert not arts & other
    n_val = sum(s == "validation" for s in s0.values())
    assert abs(2 * n_val - len(artists)) <= 3


def test_default_split_and_split_file(tmp_path):
    root = make_medleydb(tmp_path / "MedleyDB")
    m = medleydb.read(root)
    assert set(m.splits) <= {"validation", "test"} and len(m.clips) == 3
    split_file = tmp_path / "split.tsv"
    split_file.write_text("track_id\tsplit\nArtistA_Song1\tvalidation\nArtistB_Song2\ttest\n")
    m = medleydb.read(root, split=split_file)
    assert {c.clip_id: c.split for c in m.clips} == {"ArtistA_Song1": "validation", "ArtistB_Song2": "test"}
    assert m.extra["dropped"]["not_in_split"] == 1


def test_flat_layout_and_explicit_dirs(tmp_path):
    root = tmp_path / "flat"
    t = "X_Y"
    write_yaml(root / t / f"{t}_METADATA.yaml", "X", "Y", {"S01": "piano"})
    write_mix(root / t / f"{t}_MIX.wav")
    conf = np.array([[0.9], [0.9], [0.1]])
    write_activation(tmp_path / "acts" / f"{t}_ACTIVATION_CONF.lab", conf, ["S01"])
    m = medleydb.read(root, annotation_dir=tmp_path / "acts", split="none")
    assert m.clips[0].tags == ("piano",) and m.clips[0].events[0].offset == pytest.approx(2 * HOP, abs=1e-3)


def test_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        medleydb.read(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="_METADATA.yaml"):
        medleydb.read(tmp_path / "empty")
    with pytest.raises(DatasetError, match="label_map"):
        medleydb.read(make_medleydb(tmp_path / "m"), label_map="bogus")
    bad = tmp_path / "bad.lab"
    bad.write_text("t,S01\n0,1\n")
    with pytest.raises(DatasetError, match="header must be 'time,S01"):
        medleydb_activations.read_activation_conf(bad)
    bad.write_text("time,S01\n0,1.5\n")
    with pytest.raises(DatasetError, match=r"bad\.lab:2: confidence outside"):
        medleydb_activations.read_activation_conf(bad)


def test_broken_yaml_is_listed_not_fatal(tmp_path):
    root = make_medleydb(tmp_path / "MedleyDB")
    (root / "Audio" / "ArtistD_Song4" / "ArtistD_Song4_METADATA.yaml").write_text("stems: [unclosed\n")
    m = medleydb.read(root, split="none")
    assert "ArtistD_Song4" not in {c.clip_id for c in m.clips}
    assert any("ArtistD_Song4_METADATA.yaml: not valid YAML" in u for u in m.extra["unreadable"])


def test_segment_tags_for_threshold_fitting():
    from clip2frame.data.readers._common import segment_tags

    evs = [Event(0.0, 1.0, "drums"), Event(9.5, 12.0, "piano"), Event(25.0, 26.0, "bass")]
    segs = segment_tags(evs, ["drums", "bass", "piano"], duration_s=25.5, segment_s=10.24)
    assert segs == [(0.0, 10.24, ("drums", "piano")), (10.24, 20.48, ("piano",))]
    segs = segment_tags(evs, ["drums", "bass", "piano"], duration_s=25.5, segment_s=10.24, keep_last=True)
    assert segs[-1] == (20.48, 25.5, ("bass",))
