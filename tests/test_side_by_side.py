"""benchmarks/side_by_side.py: models side by side on the issue-#24 axes, from bench_generalisation JSONs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import side_by_side  # noqa: E402


def _axes(auc: float, f1: float) -> dict:
    r = {"frame_auc": auc, "frame_macro_f1": f1, "allpos_macro_f1": 0.29, "clips": 4,
         "frame_auc/piano": auc, "frame_f1/piano": f1, "allpos_f1/piano": 0.3}
    return {"axes": {"heldin-test": {"model": dict(r, frame_auc=0.9)},
                     "outside-test": {"model": r, "musicnn": {"frame_auc": 0.6, "frame_auc/piano": 0.61}},
                     "renderer_gap": {"outside-test": {"frame_auc": 0.9 - auc, "frame_macro_f1": 0.1}},
                     "nonmusic": {"white noise": {"any_instrument": 1.0 - f1}}}}


def test_two_models_side_by_side(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_axes(0.75, 0.40)))
    b.write_text(json.dumps(_axes(0.81, 0.47)))
    assert side_by_side.main([f"v2={a}", f"v3={b}"]) == 0
    out = capsys.readouterr().out
    assert "| outside-test | 0.750 | 0.400 | 0.810 | 0.470 | 0.290 | 0.600 |" in out
    assert "| heldin-test (each its own renderer) | 0.900 | 0.400 | 0.900 | 0.470 | – | – |" in out
    assert "| piano | 0.750 / 0.400 | 0.810 / 0.470 | 0.300 | – | 0.610 |" in out
    assert "| white noise | 0.600 | 0.530 |" in out
    assert "Renderer gap of v3 (held-in test minus outside-test): AUC 0.090" in out


def test_bad_argument_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="expected NAME=PATH"):
        side_by_side.main(["v2"])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SystemExit, match="x.json: not a bench_generalisation.py --json file"):
        side_by_side.main([f"v2={tmp_path / 'x.json'}"])
