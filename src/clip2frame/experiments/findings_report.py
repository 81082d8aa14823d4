"""Rendering the findings' claims: one claim table per finding, and the one table of all ten findings for
RESULTS.md (:func:`render_findings_table`), read back from ``<out>/finding_<key>.json``.

A claim dict (the ``claims`` of ``finding_<key>.json``, written by :mod:`.findings` and
:mod:`.video_findings`) holds ``claim``, ``thesis_better`` / ``thesis_worse`` / ``thesis_effect``,
``better`` / ``worse`` / ``diff`` (intervals: ``mean``, ``low``, ``high``, ``n``), ``p_value`` / ``p_holm``,
``p_thesis`` / ``p_thesis_holm``, ``verdict`` (:data:`.stats.FINDING_VERDICTS`), ``note``, ``seeds_needed``,
``trivial`` (``name`` + interval, or None), ``refs`` (other baselines), ``mark`` (why a baseline comparison
is weak; empty when not), ``n_seeds``, ``stop_epochs`` (``better`` / ``worse``: per seed, None when not
recorded), ``best_in_last_10pct`` (runs), ``fixed_budget`` (chapter 4: epochs fixed), ``check`` (a
manipulation check) and optionally ``beside`` (the same rows on another metric, e.g. frame F1 over every
label).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .stats import FINDING_VERDICTS, Interval

COLUMNS = ("#", "claim (thesis source)", "thesis", "ours (mean, 95% CI)", "difference [95% CI], Holm p",
           "baselines", "verdict", "stopping epochs")


def _iv(d: dict | None, nd: int = 3, bracket: bool = True) -> str:
    if not d:
        return "–"
    return Interval(d["mean"], d["low"], d["high"], d["n"]).fmt(nd, bracket=bracket)


def _p(p) -> str:
    return "–" if p is None or not math.isfinite(p) else f"{p:.3f}"


def _diff(d: dict) -> str:
    if not (math.isfinite(d["low"]) and math.isfinite(d["high"])):
        return _iv(d)
    return f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def _thesis(c: dict) -> str:
    if c.get("thesis_better") is None:
        return "–"
    return f"{c['thesis_better']} vs {c['thesis_worse']}"


def _baselines(c: dict) -> str:
    parts = []
    if c.get("trivial"):
        parts.append(f"{c['trivial']['name']} {_iv(c['trivial'])}")
    for r in c.get("refs", []):
        parts.append(f"{r['name']} {_iv(r)}")
    if c.get("beside"):
        b = c["beside"]
        parts.append(f"{b['metric']}: {_iv(b['better'])} vs {_iv(b['worse'])}")
    return "; ".join(parts) or "–"


def _stops(c: dict) -> str:
    st = c.get("stop_epochs")
    if not st:
        return "fixed budget"
    vals = [v for side in ("better", "worse") for v in st.get(side) or [] if v is not None]
    if not vals:
        return "fixed budget"
    txt = f"{min(vals)}–{max(vals)}" if min(vals) != max(vals) else f"{vals[0]}"
    if c.get("fixed_budget"):
        txt = f"fixed budget {txt}"
    if c.get("best_in_last_10pct"):
        txt += f" ({c['best_in_last_10pct']} at the cap, best in the last 10%)"
    return txt


def _verdict(c: dict) -> str:
    v = f"**{c['verdict']}**"
    if c.get("note"):
        v += f" ({c['note']})"
    if c.get("mark"):
        v += f"; ⚠ {c['mark']}"
    return v


def claim_line(key: str, c: dict) -> str:
    """One table row of :data:`COLUMNS` for a claim dict."""
    text = c["claim"] + (" [manipulation check]" if c.get("check") else "")
    ours = f"{_iv(c['better'])} vs {_iv(c['worse'])} (n={c.get('n_seeds', c['better']['n'])})"
    diff = f"{_diff(c['diff'])}, p={_p(c.get('p_holm'))}"
    return "| " + " | ".join([key, text, _thesis(c), ours, diff, _baselines(c), _verdict(c), _stops(c)]) + " |"


def claims_markdown(key: str, claims: list[dict], test: str) -> list[str]:
    """The claim table of one finding, with a line on how its verdicts are read."""
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += [claim_line(key, c) for c in claims]
    md += ["", f"Test: {test}. Holm-adjusted within the finding (manipulation checks alone); verdicts: "
           "holds / opposite (the adjusted test of 0), smaller than the thesis' effect (the thesis' difference "
           "excluded, the estimate below it), inconclusive (with the seeds a decision would need). ⚠ marks a "
           "comparison whose baseline (or better side) does not beat the trivial predictor.", ""]
    return md


def render_findings_table(out: Path, *, keys: list[str] | None = None) -> str:
    """The RESULTS.md table of every ``<out>/finding_<key>.json`` (in finding order): thesis value, ours
    (mean and 95% CI over seeds), difference with Holm p, baselines, verdict, stopping epochs."""
    paths = sorted(Path(out).glob("finding_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    counts = {v: 0 for v in FINDING_VERDICTS}
    for p in paths:
        key = p.stem.split("_")[1]
        if keys and key not in keys:
            continue
        rep = json.loads(p.read_text())
        for c in rep["claims"]:
            md.append(claim_line(key, c))
            if not c.get("check"):
                counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    md += ["", "Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts.items()) + "."]
    return "\n".join(md) + "\n"
