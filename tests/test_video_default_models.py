"""The packaged video models: ``clip2frame detect VIDEO --out DIR`` with no model arguments, and the viewer on
its output (the overlay and one timeline per instrument)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from clip2frame.cli import main
from clip2frame.models import io as mio
from clip2frame.models import registry
from clip2frame.tags import VIDEO_INSTRUMENTS
from clip2frame.video.rendering.scene import VideoSynthConfig

from test_video_detect import make_video


def test_packaged_video_models_are_small_carded_and_reproducible():
    paths = {k: registry.default_model_path(k) for k in ("sound", "object", "action")}
    assert sum(p.stat().st_size for p in paths.values()) <= 10 * 2**20
    for kind, p in paths.items():
        meta = mio.read_metadata(p)
        assert meta["kind"] == kind and meta["labels"] == list(VIDEO_INSTRUMENTS)
        prov = meta["provenance"]
        assert "train_default_video_models.sh" in prov["command"] and prov["config"]["model"] == kind
        assert prov["stored_as"] == "float16" and prov["corpus"]["seed"] == 2
        # trained on the corpus the renderer draws today (a renderer change means retraining them)
        assert prov["corpus"].get("limb_width") == VideoSynthConfig().limb_width
        mio.check_card(meta["card"])
        assert any(r["metrics"] for r in meta["card"]["held_out_results"])
    card = mio.read_metadata(paths["action"])["card"]
    assert mio.read_metadata(paths["action"])["target"]["name"] == "SOT0503"
    px = {r["data"].rsplit(": ", 1)[1]: r["metrics"].get("spatial_px") for r in card["held_out_results"]}
    assert f"({px['SOT0503 A']:.1f} vs {px['Center']:.1f} px" in " ".join(card["known_limits"])


@pytest.mark.parametrize("a_px, word", [(48.5, "less"), (33.0, "more")])
def test_the_action_cards_limit_states_the_measured_comparison_with_the_centre(a_px, word):
    from clip2frame.video.training.default_models import model_card
    from clip2frame.video.training.evaluate import ResultRow

    def row(m, auc, px):
        return ResultRow(m, "", "", auc, px, float("nan"), {})

    rows = [row("Center", float("nan"), 41.7), row("SOT0503 A", 0.7, a_px), row("SOT0503 A*O", 0.8, 26.3)]
    limits = model_card("action", rows, data="d", source="s")["known_limits"]
    assert any(f"alone is {word} precise than guessing the frame's centre on this corpus ({a_px:.1f} vs 41.7 px; "
               "fused with the object map (A·O) 26.3 px)" in x for x in limits)


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
    with TestClient(create_app(out), headers={"origin": "http://testserver"}) as client:  # its own page
        assert client.post("/api/index/rescan").status_code == 200
        assert [r["id"] for r in client.get("/api/results").json()["results"]] == ["clip"]
        res = client.get("/api/results/clip").json()
    assert res["kind"] == "video detection" and res["overlay_url"] == "/files/clip.overlay.mp4"
    assert res["labels"] == list(VIDEO_INSTRUMENTS) and len(res["probs"]) == 6  # ceil((1 + 48000 // 512) / 16)
    assert res["media"]["name"] == "clip.mp4" and res["media"]["video"] is True
    assert res["groups"] == [{"kind": "instrument playing (video)", "tags": list(VIDEO_INSTRUMENTS)}]
