"""benchmarks/compare_recipes.py: recipes paired by seed, t intervals and verdicts of experiments.stats."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from scipy import stats

spec = importlib.util.spec_from_file_location("compare_recipes",
                                              Path(__file__).parents[1] / "benchmarks" / "compare_recipes.py")
cr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cr)


def _write(path: Path, auc: float, piano: float) -> str:
    split = {"model": {"frame_auc": auc, "frame_macro_f1": 0.5, "frame_auc/piano": piano}}
    path.write_text(json.dumps({"splits": {s: split for s in cr.SPLITS if s not in cr.OUTSIDE_AXES}}))
    return str(path)


def test_pairs_by_seed_and_gives_verdicts(tmp_path):
    base = [0.80, 0.85, 0.90]
    better = [0.82, 0.871, 0.919]  # +0.02, +0.021, +0.019: paired interval above 0, unpaired it would overlap
    a = ",".join(_write(tmp_path / f"a{i}.json", v, 0.7) for i, v in enumerate(base))
    b = ",".join(_write(tmp_path / f"b{i}.json", v, 0.69 - 0.001 * i) for i, v in enumerate(better))
    assert cr.main(["--baseline", "v2", "--recipe", f"v2={a}", "--recipe", f"eq={b}", "--out", str(tmp_path / "o")]) == 0
    res = json.loads((tmp_path / "o" / "comparison.json").read_text())
    row = res["splits"]["heldout-musescore"]["frame_auc"]
    d = np.array(better) - np.array(base)
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert np.isclose(row["eq - v2"]["mean"], d.mean()) and np.isclose(row["eq - v2"]["low"], d.mean() - half)
    assert row["eq - v2"]["verdict"] == "holds"
    assert np.isclose(row["eq - v2"]["p_value"], stats.ttest_rel(better, base).pvalue)
    assert res["splits"]["test"]["frame_auc/piano"]["eq - v2"]["verdict"] == "opposite"
    assert res["splits"]["test"]["frame_macro_f1"]["eq - v2"]["verdict"] == "inconclusive"  # no difference
    md = (tmp_path / "o" / "comparison.md").read_text()
    assert "### heldout-musescore" in md and "(holds)" in md


def _write_axes(path: Path, outside_auc: float, nonmusic_fire: float) -> Path:
    axis = {"model": {"frame_auc": outside_auc, "frame_macro_f1": 0.5, "frame_auc/piano": outside_auc}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"splits": {"test": axis}, "axes": {
        "heldin-test": axis, "outside-test": axis, "real": axis, "renderer_gap": {"outside-test": {}},
        "nonmusic": {"silence": {"frames": 10, "any_instrument": 0.0},
                     "white noise": {"frames": 30, "any_instrument": nonmusic_fire}}}}))
    return path


def test_ablations_from_the_recipes_file_on_the_outside_axes(tmp_path):
    runs = tmp_path / "runs"
    recipes = Path(__file__).parents[1] / "training" / "recipes-v3.yaml"
    for i, s in enumerate((11, 12, 13)):
        _write_axes(runs / "v3" / f"seed{s}" / "generalisation.json", 0.80 + 0.01 * i, 0.10 + 0.01 * i)
        _write_axes(runs / "no-negatives" / f"seed{s}" / "generalisation.json", 0.81 + 0.01 * i, 0.50 + 0.02 * i)
    assert cr.main(["--ablations", str(recipes), "--runs", str(runs), "--out", str(tmp_path / "o")]) == 0
    res = json.loads((tmp_path / "o" / "comparison.json").read_text())
    assert res["baseline"] == "v3" and set(res["seeds"]) == {"v3", "no-negatives"}  # recipes without runs left out
    assert list(res["splits"])[:3] == ["outside-test", "real", "nonmusic"]
    nd = res["splits"]["nonmusic"]["no_detection"]
    # pooled over families by frames: v3 seed 11 = (10 * 1 + 30 * 0.9) / 40
    assert np.isclose(nd["v3"]["mean"], np.mean([(10 + 30 * (1 - f)) / 40 for f in (0.10, 0.11, 0.12)]))
    assert nd["no-negatives - v3"]["verdict"] == "opposite"   # more detections on noise: worse
    assert res["splits"]["outside-test"]["frame_auc"]["no-negatives - v3"]["verdict"] == "holds"
    assert "### nonmusic" in (tmp_path / "o" / "comparison.md").read_text()
