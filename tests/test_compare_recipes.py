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
    path.write_text(json.dumps({"splits": {s: split for s in cr.SPLITS}}))
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
    assert res["splits"]["test"]["frame_auc/piano"]["eq - v2"]["verdict"] == "does not hold"
    assert res["splits"]["test"]["frame_macro_f1"]["eq - v2"]["verdict"] == "inconclusive"  # no difference
    md = (tmp_path / "o" / "comparison.md").read_text()
    assert "### heldout-musescore" in md and "(holds)" in md
