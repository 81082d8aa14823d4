"""The packaged video models: ``clip2frame detect VIDEO --out DIR`` with no model arguments, and the viewer on
its output (the overlay and one timeline per instrument)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from clip2frame.cli import main
from clip2frame.models import io as mio
from clip2frame.tags import VIDEO_INSTRUMENTS

from test_video_detect import make_video


def test_packaged_video_models_are_small_carded_and_reproducible():
    paths = {k: mio.default_model_path(k) for k in ("sound", "object", "action")}
    assert sum(p.stat().st_size for p in paths.values()) <= 10 * 2**20
    for kind, p in paths.items():
        meta = mio.read_metadata(p)
        assert meta["kind"] == kind and meta["labels"] == list(VIDEO_INSTRUMENTS)
        prov = meta["provenance"]
        assert "train_default_video_models.sh" in prov["command"] and prov["config"]["model"] == kind
        assert prov["stored_as"] == "float16" and prov["corpus"]["seed"] == 2
        mio.check_card(meta["card"])
        assert any(r["metrics"] for r in meta["card"]["held_out_results"])
    assert mio.read_metadata(paths["action"])["target"]["name"] == "SOT0503"


def test_detect_with_no_model_arguments_and_serve_the_result(tmp_path, capsys):
    from fastapi.testclient import TestClient

    from clip2frame.web.app import create_app

    video = make_video(tmp_path / "clip.mp4", seconds=3.0, seed=1)
    out = tmp_path / "det"
    assert main(["detect", str(video), "--out", str(out), "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["tagged"], report["failed"]) == (1, 0)
    with np.load(out / "clip.heatmaps.npz") as z:
        assert str(z["fusion"]) == "A*O*S" and {"action", "object", "sound", "fused"} <= set(z.files)
    assert (out / "clip.overlay.mp4").stat().st_size > 1000
    shutil.copy(video, out / "clip.mp4")  # the viewer plays the original beside the overlay
    with TestClient(create_app(out)) as client:
        assert client.post("/api/index/rescan").status_code == 200
        assert [r["id"] for r in client.get("/api/results").json()["results"]] == ["clip"]
        res = client.get("/api/results/clip").json()
    assert res["kind"] == "video detection" and res["overlay_url"] == "/files/clip.overlay.mp4"
    assert res["labels"] == list(VIDEO_INSTRUMENTS) and len(res["probs"]) == 6  # ceil((1 + 48000 // 512) / 16)
    assert res["media"]["name"] == "clip.mp4" and res["media"]["video"] is True
    assert res["groups"] == [{"kind": "instrument playing (video)", "tags": list(VIDEO_INSTRUMENTS)}]
