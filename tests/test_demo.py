"""`clip2frame demo --quick`: render -> train -> evaluate -> report, end to end on the embedded corpus."""
from __future__ import annotations

import json
import math
import re

import pytest

from clip2frame.cli import main as cli_main
from clip2frame.models.io import load_model
from clip2frame.tags import MUSIC_TAGS


@pytest.mark.slow
def test_demo_quick_writes_a_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--quick", "--out", str(out), "--quiet", "--jobs", "2"]) == 0
    report = (out / "report.md").read_text()
    for heading in ("held-out timbres: MuseScore General", "held-out timbres: TimGM6mb", "test (held-in timbres",
                    "all-positive baseline", "frame-supervised oracle",
                    "weak (clip tags), patching", "Learned sigma per tag"):
        assert heading in report
    assert "{'" not in report  # mappings are written as prose, not as Python dicts
    counts = dict(re.findall(r"(train|validation|test|heldout-musescore|heldout-timgm) (\d+)", report.split("\n")[2]))
    assert set(counts) == {"train", "validation", "test", "heldout-musescore", "heldout-timgm"}
    assert f"Corpus: {sum(map(int, counts.values()))} clips (" in report
    results = json.loads((out / "results.json").read_text())["results"]
    assert list(results) == ["heldout-musescore", "heldout-timgm", "test"]     # held-out figures first
    for split in results:
        for row in ("weak", "weak_patch", "oracle", "baseline"):
            assert math.isfinite(results[split][row]["frame_micro_f1"])
        assert 0.0 <= results[split]["weak"]["frame_auc"] <= 1.0
    model = load_model(out / "model.safetensors")
    assert list(model.labels) == list(MUSIC_TAGS)
    assert model.provenance["command"] == "clip2frame demo"
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "sigma_per_tag.png" in figures and any(f.startswith("taggram_") for f in figures)
    assert all((out / "figures" / f).stat().st_size > 5000 for f in figures)
