"""``clip2frame data check``: text and --json output, exit codes 0 / 1 / 2, registry coverage."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from clip2frame.cli import main
from clip2frame.data.manifest import ClipRecord, Event, write_manifest
from clip2frame.data.readers import READERS

from test_reader_magnatagatune import make_mtt
from test_reader_medleydb import make_medleydb
from test_reader_urbansound import make_us8k


def test_registry_names():
    assert set(READERS) == {"magnatagatune", "medleydb", "urbansound", "urbansound8k", "audioset", "youtube8m",
                            "embedded"}


def test_check_text_incomplete_exit_1(tmp_path, capsys):
    root = make_mtt(tmp_path / "mtt")
    rc = main(["data", "check", "magnatagatune", str(root)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "clips: 4 — train 1, validation 1, test 2" in out
    assert "  guitar" in out and "missing files (1):\n  e/g-7.mp3" in out
    assert "malformed rows (skipped) (2):" in out and "annotations_final.csv:4:" in out
    assert "dropped on purpose: no_tag 2" in out
    assert "status: usable but incomplete" in out


def test_check_json_and_options(tmp_path, capsys):
    root = make_mtt(tmp_path / "mtt")
    rc = main(["data", "check", "magnatagatune", str(root), "--json", "-o", "vocabulary=all", "--max-listed", "1"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert s["labels"] == 60 and s["options"]["vocabulary"] == "all"
    assert s["clips"] == {"total": 5, "train": 2, "validation": 1, "test": 2}
    assert s["tags"]["guitar"] == 4 and s["tags"]["rare"] == 1
    assert s["missing"] == {"count": 1, "first": ["e/g-7.mp3"]}
    assert s["malformed"]["count"] == 2 and len(s["malformed"]["first"]) == 1
    assert s["status"] == "incomplete"


def test_check_ok_exit_0_with_durations(tmp_path, capsys):
    root = tmp_path / "emb"
    (root / "audio").mkdir(parents=True)
    sf.write(root / "audio" / "a.wav", np.zeros(16000, np.float32), 16000)
    sf.write(root / "audio" / "b.wav", np.zeros(8000, np.float32), 16000)
    clips = [ClipRecord("a", root / "audio" / "a.wav", ("piano",), "train", (Event(0.1, 0.5, "piano"),)),
             ClipRecord("b", root / "audio" / "b.wav", (), "train", ())]
    write_manifest(root, name="emb", labels=["piano", "drums"], kinds={"piano": "keyboards", "drums": "percussion"},
                   clips=clips)
    assert main(["data", "check", "embedded", str(root), "--durations"]) == 0
    out = capsys.readouterr().out
    assert "total duration: 0m 02s" in out and "status: ok" in out
    assert "frame truth: 2 clips, 1 events (piano 1)" in out
    assert main(["data", "check", "embedded", str(root), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["duration_known_clips"] == 0 and s["tags"] == {"piano": 1, "drums": 0}


def test_check_durations_lists_unreadable(tmp_path, capsys):
    root = make_us8k(tmp_path / "us8k")
    rc = main(["data", "check", "urbansound8k", str(root), "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 1 and s["clips"]["fold5"] == 2
    assert s["duration_s"] == pytest.approx(0.317551 + 4 + 0.648, abs=1e-3)   # from start/end, no audio read
    mtt = make_mtt(tmp_path / "mtt")                                        # the mp3 files are fake
    assert main(["data", "check", "magnatagatune", str(mtt), "--json", "--durations"]) == 1
    s = json.loads(capsys.readouterr().out)
    assert s["unreadable"]["count"] == 4 and s["unreadable"]["first"][0].startswith("0/a-1.mp3: ")


def test_check_medleydb_frame_truth(tmp_path, capsys):
    root = make_medleydb(tmp_path / "mdb")
    assert main(["data", "check", "medleydb", str(root), "-o", "label_map=ch4", "-o", "split=none"]) == 1
    out = capsys.readouterr().out
    assert "frame truth: 2 clips" in out and "Orphan_Song_METADATA.yaml" in out


def test_check_errors_exit_2(tmp_path, capsys):
    assert main(["data", "check", "magnatagatune", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "none: MagnaTagATune root does not exist" in err
    (tmp_path / "e").mkdir()
    assert main(["data", "check", "urbansound8k", str(tmp_path / "e")]) == 2
    assert "metadata/UrbanSound8K.csv: not found" in capsys.readouterr().err
    assert main(["data", "check", "magnatagatune", str(tmp_path / "e"), "-o", "bogus=1"]) == 2
    assert "unexpected keyword" in capsys.readouterr().err
    assert main(["data", "check", "magnatagatune", str(tmp_path / "e"), "-o", "novalue"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_check_unusable_exit_1(tmp_path, capsys):
    root = make_mtt(tmp_path / "mtt", create_audio=False)
    assert main(["data", "check", "magnatagatune", str(root)]) == 1
    captured = capsys.readouterr()
    assert "status: unusable" in captured.out and "no usable clip" in captured.err


def test_data_without_subcommand_prints_help(capsys):
    assert main(["data"]) == 0
    assert "check" in capsys.readouterr().out


def test_every_reader_extra_is_json_serialisable(tmp_path):
    """``write_manifest`` stores ``extra`` in metadata.json: it must be plain JSON."""
    from test_reader_audioset_youtube8m import make_audioset, make_yt8m
    from test_reader_urbansound import make_urbansound

    manifests = [
        READERS["magnatagatune"](make_mtt(tmp_path / "mtt")),
        READERS["medleydb"](make_medleydb(tmp_path / "mdb"), label_map={"piano": "Piano"}),
        READERS["urbansound"](make_urbansound(tmp_path / "us")),
        READERS["urbansound8k"](make_us8k(tmp_path / "us8k"), folds=(5,)),
        READERS["audioset"](make_audioset(tmp_path / "as"), labels={"Guitar": "guitar"}),
        READERS["youtube8m"](make_yt8m(tmp_path / "yt")),
    ]
    for m in manifests:
        json.dumps(m.extra)
        assert m.extra["reader"] and isinstance(m.extra["dropped"], dict)


def test_medleydb_manifest_round_trip(tmp_path):
    from clip2frame.data.manifest import load_manifest

    root = make_medleydb(tmp_path / "mdb")
    m = READERS["medleydb"](root, split="none", frame_rate_hz=10.0)
    write_manifest(root, name=m.name, labels=m.labels, kinds=m.kinds, clips=m.clips, extra=m.extra)
    back = load_manifest(root)
    # load_manifest names clips after the file stem and cannot tell events=None from () within a split
    # that has a strong file, so compare the clips that do have frame truth, by audio file.
    theirs = {c.audio_path.name: c.events for c in back.clips}
    for c in m.clips:
        if c.events is not None:
            assert theirs[c.audio_path.name] == c.events
    assert back.extra["reader"] == "medleydb"
