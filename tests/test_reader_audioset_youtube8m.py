"""AudioSet (segment CSVs, labels, ontology, user audio) and YouTube-8M (vocabulary + TSV) readers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from clip2frame.data.readers import READERS, audioset, youtube8m
from clip2frame.errors import DatasetError

LABELS = """index,mid,display_name
0,/m/09x0r,"Speech"
1,/m/04szw,"Musical instrument"
2,/m/0342h,"Guitar"
3,/m/02sgy,"Electric guitar"
4,/m/042v_gx,"Acoustic guitar"
5,/m/05r5c,"Piano"
6,/m/07y_7,"Violin, fiddle"
"""
ONTOLOGY = [
    {"id": "/m/09x0r", "name": "Speech", "child_ids": []},
    {"id": "/m/04szw", "name": "Musical instrument", "child_ids": ["/m/0342h", "/m/05r5c", "/m/07y_7"]},
    {"id": "/m/0342h", "name": "Guitar", "child_ids": ["/m/02sgy", "/m/042v_gx"]},
    {"id": "/m/02sgy", "name": "Electric guitar", "child_ids": []},
    {"id": "/m/042v_gx", "name": "Acoustic guitar", "child_ids": []},
    {"id": "/m/05r5c", "name": "Piano", "child_ids": []},
    {"id": "/m/07y_7", "name": "Violin, fiddle", "child_ids": []},
]
HEAD = ("# Segments csv created Sun Mar  5 10:54:25 2017\n"
        "# num_ytids=6, num_segs=6, num_unique_labels=5, num_positive_labels=9\n"
        "# YTID, start_seconds, end_seconds, positive_labels\n")


def make_audioset(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "class_labels_indices.csv").write_text(LABELS)
    (root / "ontology.json").write_text(json.dumps(ONTOLOGY))
    (root / "balanced_train_segments.csv").write_text(HEAD + "\n".join([
        '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/m/02sgy"',
        'a_b-c_d-e_f, 0.000, 10.000, "/m/05r5c"',
        'YYYYYYYYYYY, 12.500, 22.500, "/m/042v_gx,/m/07y_7"',
        'missingAud1, 0.000, 10.000, "/m/0342h"',
        'onlySpeech1, 0.000, 10.000, "/m/09x0r"',
        'badrow00001, abc, 10.000, "/m/0342h"',
        'badrow00002, 0.000, 10.000',
        'badrow00003, 0.000, 10.000, "/m/unknown"',
    ]) + "\n")
    (root / "eval_segments.csv").write_text(HEAD + '0123456789a, 70.000, 80.000, "/m/07y_7"\n')
    audio = root / "audio"
    (audio / "sub").mkdir(parents=True)
    (audio / "--PJHxphWEs_30.wav").write_bytes(b"RIFF")
    (audio / "sub" / "Ya_b-c_d-e_f_0.000_10.000.flac").write_bytes(b"fLaC")
    (audio / "YYYYYYYYYYY_12500_22500.mp3").write_bytes(b"ID3")
    (audio / "onlySpeech1.ogg").write_bytes(b"OggS")
    (audio / "0123456789a.m4a").write_bytes(b"....")
    return root


def test_audioset_all_labels_and_naming_forms(tmp_path):
    root = make_audioset(tmp_path / "as")
    m = READERS["audioset"](root)
    assert m.splits == ["balanced_train", "eval"]
    assert len(m.labels) == 7 and m.labels[0] == "Speech"
    by_id = {c.clip_id: c for c in m.clips}
    assert set(by_id) == {"--PJHxphWEs_30", "a_b-c_d-e_f_0", "YYYYYYYYYYY_12.5", "onlySpeech1_0", "0123456789a_70"}
    assert by_id["--PJHxphWEs_30"].tags == ("Speech", "Electric guitar")
    assert by_id["a_b-c_d-e_f_0"].audio_path.name == "Ya_b-c_d-e_f_0.000_10.000.flac"
    assert by_id["YYYYYYYYYYY_12.5"].duration == 10.0
    assert by_id["0123456789a_70"].split == "eval"
    assert m.extra["missing"] == ["balanced_train/missingAud1_0"]
    mal = m.extra["malformed"]
    assert len(mal) == 3
    assert mal[0].startswith("balanced_train_segments.csv:9: start/end not numeric")
    assert "got 3" in mal[1] and "unknown label mid '/m/unknown'" in mal[2]


def test_audioset_ch4_subset_folds_descendants(tmp_path):
    root = make_audioset(tmp_path / "as")
    labels = tmp_path / "as" / "class_labels_indices.csv"
    labels.write_text(LABELS + '7,/m/0mkg,"Accordion"\n8,/m/01xqw,"Cello"\n9,/m/026t6,"Drum"\n'
                      '10,/m/0l14j_,"Flute"\n11,/m/06ncr,"Saxophone"\n12,/m/07gql,"Trumpet"\n')
    m = audioset.read(root, labels="ch4", splits=["balanced_train"])
    assert m.labels == ["accordion", "cello", "drums", "flute", "guitar", "piano", "saxophone", "trumpet", "violin"]
    by_id = {c.clip_id: c.tags for c in m.clips}
    assert by_id == {"--PJHxphWEs_30": ("guitar",), "a_b-c_d-e_f_0": ("piano",),
                     "YYYYYYYYYYY_12.5": ("guitar", "violin")}
    assert m.extra["dropped"] == {"no_label_in_subset": 1}
    assert set(m.extra["mids"]["guitar"]) == {"/m/0342h", "/m/02sgy", "/m/042v_gx"}
    m2 = audioset.read(root, labels=["Guitar"], include_descendants=False)
    assert {c.clip_id for c in m2.clips} == set()          # only child classes are labelled
    assert m2.extra["n_missing"] == 1                        # the one segment labelled Guitar itself


def test_audioset_result_does_not_depend_on_the_hash_seed(tmp_path):
    """extra["mids"] followed set order (string hashing): two runs of the same read differed."""
    import os
    import subprocess
    import sys

    root = make_audioset(tmp_path / "as")
    code = ("import json, sys; from clip2frame.data.readers import audioset; "
            "m = audioset.read(sys.argv[1], labels=['Musical instrument', 'Guitar']); "
            "print(json.dumps(m.extra['mids']))")
    outs = {subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert len(outs) == 1, outs


def test_audioset_splits_as_a_generator_or_one_name(tmp_path):
    """A generator of splits was used up by the validity check (no segment read); one name was read as
    its letters ("unknown AudioSet split 'e'")."""
    root = make_audioset(tmp_path / "as")
    want = {c.clip_id for c in audioset.read(root, splits=["eval"]).clips}
    assert want == {"0123456789a_70"}
    assert {c.clip_id for c in audioset.read(root, splits=(s for s in ["eval"])).clips} == want
    assert {c.clip_id for c in audioset.read(root, splits="eval").clips} == want


def test_audioset_errors(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(DatasetError, match=r"class_labels_indices\.csv: not found"):
        audioset.read(tmp_path / "e")
    (tmp_path / "e" / "class_labels_indices.csv").write_text(LABELS)
    with pytest.raises(DatasetError, match="at least one of balanced_train_segments.csv"):
        audioset.read(tmp_path / "e")
    root = make_audioset(tmp_path / "as")
    with pytest.raises(DatasetError, match="unbalanced_train_segments.csv: not found"):
        audioset.read(root, splits=["unbalanced_train"])
    with pytest.raises(DatasetError, match="'Banjo' is neither"):
        audioset.read(root, labels=["Banjo"])
    (root / "ontology.json").unlink()
    with pytest.raises(DatasetError, match="ontology.json: not found"):
        audioset.read(root, labels=["Guitar"])


def test_candidate_stems_cover_documented_forms():
    c = audioset.candidate_stems("abc", 30.0, 40.0)
    for name in ("abc_30", "abc_30.0", "abc_30.000", "abc_30.000_40.000", "abc_30_40", "abc_30000_40000",
                 "abc", "Yabc_30.000_40.000"):
        assert name in c


VOCAB = ("Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl,Vertical1,Vertical2,Vertical3,WikiDescription\n"
         "0,788288,/m/03bt1gh,Game,https://en.wikipedia.org/wiki/Game,Games,,,\"A game, played\"\n"
         "1,539945,/m/0342h,Guitar,https://en.wikipedia.org/wiki/Guitar,Arts & Entertainment,,,\n"
         "2,415890,/m/05r5c,Piano,https://en.wikipedia.org/wiki/Piano,Arts & Entertainment,,,\n"
         "3,120000,/m/026t6,Drummer,https://en.wikipedia.org/wiki/Drummer,Arts & Entertainment,,,\n"
         + "".join(f"{4 + i},1000,/m/x{i},{n},https://en.wikipedia.org/wiki/{n},Arts & Entertainment,,,\n"
                   for i, n in enumerate(["Accordion", "Cello", "Flute", "Saxophone", "Trumpet", "Violin"])))


def make_yt8m(root: Path) -> Path:
    (root / "videos").mkdir(parents=True)
    (root / "vocabulary.csv").write_bytes(b"\xef\xbb\xbf" + VOCAB.encode())
    (root / "labels.tsv").write_text(
        "filename\tlabels\tsplit\n"
        "a.mp4\tGuitar,piano\ttrain\n"
        "b.webm\tGame\tvalidate\n"
        "c.mp4\t3\n"
        "# a comment\n"
        "d.mp4\tGuitar\n"
        "e.mp4\tBanjo\n"
        "f.mp4\n")
    for n in ("a.mp4", "b.webm"):
        (root / n).write_bytes(b"\x00")
    (root / "videos" / "c.mp4").write_bytes(b"\x00")
    return root


def test_youtube8m(tmp_path):
    root = make_yt8m(tmp_path / "yt8m")
    m = READERS["youtube8m"](root)
    by_id = {c.clip_id: c for c in m.clips}
    assert set(by_id) == {"a", "b", "c"}
    assert by_id["a"].tags == ("Guitar", "Piano") and by_id["b"].split == "validate"
    assert by_id["c"].tags == ("Drummer",) and by_id["c"].audio_path == root / "videos" / "c.mp4"
    assert m.labels[0] == "Guitar"
    assert m.extra["missing"] == ["d.mp4"]
    mal = m.extra["malformed"]
    assert mal == ["labels.tsv:7: label 'Banjo' is not in vocabulary.csv",
                   "labels.tsv:8: expected 'filename<TAB>labels[<TAB>split]', got 1 fields"]
    ch4 = youtube8m.read(root, labels="ch4")
    assert ch4.labels[:3] == ["accordion", "cello", "drums"]
    assert {c.clip_id: c.tags for c in ch4.clips} == {"a": ("guitar", "piano"), "c": ("drums",)}
    assert ch4.extra["dropped"] == {"no_label_in_subset": 1}


def test_youtube8m_errors(tmp_path):
    (tmp_path / "y").mkdir()
    with pytest.raises(DatasetError, match="vocabulary.csv: not found"):
        youtube8m.read(tmp_path / "y")
    (tmp_path / "y" / "vocabulary.csv").write_text(VOCAB)
    with pytest.raises(DatasetError, match=r"labels\.tsv: not found .*filename<TAB>"):
        youtube8m.read(tmp_path / "y")
    (tmp_path / "y" / "labels.tsv").write_text("a.mp4\tGuitar\n")
    with pytest.raises(DatasetError, match="'Ukulele' is not a vocabulary Name"):
        youtube8m.read(tmp_path / "y", labels=["Ukulele"])
