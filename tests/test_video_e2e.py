"""Tiny end-to-end run of the video chapter: render, train (1 epoch each), evaluate, detect — via the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from clip2frame.cli import main
from clip2frame.video.rendering.corpus import render_video
from clip2frame.video.training.data import load_truth
from clip2frame.video.rendering.scene import VideoSynthConfig


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("vcorpus")
    rc = main(["synth", "video", "--out", str(out), "--train", "2", "--validation", "1", "--test", "1",
               "--seconds", "3", "--fps", "15", "--seed", "3", "--jobs", "2", "--no-progress"])
    assert rc == 0
    return out


def test_corpus_layout_and_truth(corpus):
    meta = json.loads((corpus / "metadata.json").read_text())
    assert meta["labels"][0] == "accordion" and len(meta["labels"]) == 9
    truths = load_truth(corpus, "train")
    assert len(truths) == 2
    tr = truths[0]
    assert tr["tags"] and len(tr["frames"]) == 6  # ceil((1 + 48000 // 512) / 16)
    for f in tr["frames"]:
        for inst, kps in f["keypoints"].items():
            assert inst in f["playing"] and inst in f["boxes"]
            for x, y in kps:
                assert 0 <= x < 256 and 0 <= y < 192
    # truth is exact: a playing instrument sounds at that instant
    for f in tr["frames"]:
        for inst in f["playing"]:
            src = [s for s in tr["sources"] if s["instrument"] == inst and s["onscreen"]][0]
            shown = np.floor(f["time"] * 15 + 1e-9) / 15
            assert any(on <= shown < off for on, off, _ in src["notes"])


def test_render_is_deterministic(tmp_path):
    cfg = VideoSynthConfig(duration_s=2.0, fps=10, seed=5)
    a = render_video(cfg, 1, "violin", tmp_path / "a.mp4")
    b = render_video(cfg, 1, "violin", tmp_path / "b.mp4")
    assert a == b
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_corpus_does_not_depend_on_jobs(corpus, tmp_path):
    """The fixture corpus was rendered by 2 processes; one video rendered here in-process is identical."""
    from clip2frame.config import from_dict

    cfg = from_dict(VideoSynthConfig, json.loads((corpus / "metadata.json").read_text())["config"])
    tr = load_truth(corpus, "validation")[0]
    idx, main_inst = int(tr["id"].split("_")[1]), tr["id"].split("_")[2]
    truth = render_video(cfg, idx, main_inst, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == (corpus / tr["file"]).read_bytes()
    assert truth["frames"] == tr["frames"]


@pytest.mark.slow
def test_train_evaluate_detect(corpus, tmp_path, capsys):
    runs = tmp_path / "runs"
    common = ["--data", str(corpus), "--epochs", "1", "--width", "0.0625"]
    assert main(["video", "train", "--kind", "sound", "--data", str(corpus), "--out", str(runs / "sound"),
                 "--epochs", "1"]) == 0
    assert main(["video", "train", "--kind", "object", "--out", str(runs / "object"), *common,
                 "--set", "freeze_epochs=0", "--set", "optimizer=adam"]) == 0
    assert main(["video", "train", "--kind", "action", "--target", "SOT", "--sound-threshold", "0.5",
                 "--object-threshold", "0.3", "--object", str(runs / "object"), "--sound", str(runs / "sound"),
                 "--out", str(runs / "sot"), *common]) == 0
    for f in ("config.yaml", "metrics.csv", "model.safetensors", "train_state.pt"):
        assert (runs / "sot" / f).is_file()
    # resume: a second call with more epochs continues from epoch 1
    assert main(["video", "train", "--kind", "action", "--target", "SOT0503", "--object", str(runs / "object"),
                 "--sound", str(runs / "sound"), "--out", str(runs / "sot"), "--data", str(corpus),
                 "--epochs", "2", "--width", "0.0625"]) == 0
    assert len((runs / "sot" / "metrics.csv").read_text().strip().splitlines()) == 3
    # a target that needs a missing model is a clean error
    assert main(["video", "train", "--kind", "action", "--target", "OT03", "--out", str(runs / "ot"), *common]) == 2
    assert "needs --object" in capsys.readouterr().err

    assert main(["video", "evaluate", "--data", str(corpus), "--action", str(runs / "sot"), "--object",
                 str(runs / "object"), "--sound", str(runs / "sound"), "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "SOT0503 A*O*S" in out and "Center" in out
    rows = json.loads((tmp_path / "ev" / "results.json").read_text())["rows"]
    centre = [r for r in rows if r["method"] == "Center"][0]
    assert 0 < centre["spatial_px"] < 200

    video = load_truth(corpus, "test")[0]["path"]
    assert main(["detect", video, "--out", str(tmp_path / "det"), "--action", str(runs / "sot"),
                 "--object", str(runs / "object"), "--sound", str(runs / "sound"), "--quiet"]) == 0
    stem = video.rsplit("/", 1)[-1][:-4]
    with np.load(tmp_path / "det" / f"{stem}.heatmaps.npz") as z:
        T = len(z["times"])
        assert z["action"].shape[:2] == (T, 9) and z["action"].dtype == np.float16
        assert z["sound"].shape == (T, 9) and z["fused"].shape == z["action"].shape
        assert list(z["labels"])[:2] == ["accordion", "cello"] and tuple(z["frame_size"]) == (192, 256)
    assert (tmp_path / "det" / f"{stem}.events.tsv").read_text().startswith("filename\tonset\toffset\tevent_label")
    assert (tmp_path / "det" / f"{stem}.overlay.mp4").stat().st_size > 1000

    from clip2frame.video.training.movements import write_movements

    png = write_movements(runs / "sot", tmp_path / "mov")
    assert png.stat().st_size > 100


@pytest.mark.slow
def test_video_demo_quick_writes_a_report(tmp_path, capsys):
    out = tmp_path / "vdemo"
    assert main(["demo", "--video", "--quick", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    for row in ("Center", "Sound model", "Object model", "VT A", "ST05 A", "OT03 A", "SOT0503 A*O*S"):
        assert f"| {row} |" in report
    assert "A·O·S beats A temporally for" in report  # the fusion claim is stated either way
    rows = json.loads((out / "evaluation" / "results.json").read_text())["rows"]
    assert all(0.0 <= r["temporal_auc"] <= 1.0 for r in rows if r["temporal_auc"] == r["temporal_auc"])
    assert (out / "detections").is_dir() and json.loads((out / "demo.json").read_text())["settings"]["lr"]
    # a second run resumes every model (nothing retrained) and gives the same table
    first = (out / "evaluation" / "results.md").read_text()
    assert main(["demo", "--video", "--quick", "--out", str(out)]) == 0
    assert (out / "evaluation" / "results.md").read_text() == first
