"""Table 4.8-style evaluation: temporal AUC, spatial pixel distance and object hit rate per method and
per fusion (thesis §4.3.3–4.3.4), on the test split of a video corpus with truth.

Evaluated pairs: every (test video, instrument in its tags). Methods: the centre baseline, the sound
model (temporal only), the object model, sound × object, and for every action run the action map
fused as A, A·O, A·S, A·O·S.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ...fileio import atomic_write_text
from ...models.io import load_model, load_visual_model
from ...tags import VIDEO_INSTRUMENTS
from ...timebase import SAMPLE_RATE
from ..inference.fusion import fuse
from ..inference.metrics import Scores, VideoTruth, centre_baseline, evaluate_maps, hit
from ..inference.predict import fit_len, predict_sound, predict_visual
from ..rendering.stills import render_stills
from .cache import cache_flows
from .data import corpus_cache_dir, load_item, load_truth
from .targets import parse_target

log = logging.getLogger(__name__)


@dataclass
class ResultRow:
    """One row of the video results table: a method, its thresholds and its map metrics (overall and per
    instrument).
    """

    method: str
    sound_threshold: str
    object_threshold: str
    temporal_auc: float
    spatial_px: float
    hit_rate: float
    per_instrument: dict


def truths_of(truth: dict) -> list[VideoTruth]:
    """One :class:`VideoTruth` per instrument in the video's tags."""
    out = []
    frames = truth["frames"]
    fs = tuple(truth["frame_size"])
    for inst in truth["tags"]:
        active = np.array([inst in f["playing"] for f in frames], bool)
        kps = [[tuple(p) for p in f["keypoints"].get(inst, [])] for f in frames]
        boxes = [f["boxes"].get(inst, []) for f in frames]
        out.append(VideoTruth(Path(truth.get("path", truth.get("id", "?"))).stem, inst, active, kps, boxes, fs))
    return out


def _row(name: str, sc: Scores, v="NA", u="NA") -> ResultRow:
    return ResultRow(name, v, u, sc.temporal_auc, sc.spatial_px, sc.hit_rate, sc.per_instrument)


def evaluate_corpus(data_dir: str | Path, *, action_runs: Sequence[str | Path] = (), object_run=None,
                    sound_run=None, split: str = "test", fusions: Sequence[str] = ("A", "A*O", "A*S", "A*O*S"),
                    limit: int = 0, jobs: int = 1) -> list[ResultRow]:
    """Evaluate the given runs on ``split``; returns the table rows."""
    root = Path(data_dir)
    truths = load_truth(root, split)
    if limit:
        truths = truths[:limit]
    actions = []
    for r in action_runs:
        am = load_visual_model(r, kind="action")
        # rows are named by target; a run directory named differently (e.g. SOT0503-oracle) names its rows
        name = (am.target or {}).get("name", "A")
        dname = Path(r).name if Path(r).is_dir() else Path(r).parent.name
        actions.append((am, {"row_name": dname if dname.startswith(name) and dname != name else name}))
    onet = load_visual_model(object_run, kind="object") if object_run else None
    smodel = load_model(sound_run, kind="sound") if sound_run else None
    need = set()
    if actions:
        need.add("flow")
    if onet is not None:
        need.add("rgb")
    if smodel is not None:
        need.add("wave")
    pairs: list[VideoTruth] = []
    per_method: dict[str, list[np.ndarray | None]] = {}
    per_scores: dict[str, list[np.ndarray | None]] = {}
    names = []

    def add(name: str, m, s=None):
        per_method.setdefault(name, []).append(m)
        per_scores.setdefault(name, []).append(s)
        if name not in names:
            names.append(name)

    if "flow" in need:
        cache_flows([(tr["path"], tr["duration_s"]) for tr in truths], cache_dir=corpus_cache_dir(root), jobs=jobs)
    for tr in truths:
        item = load_item(tr["path"], need=need, cache_dir=corpus_cache_dir(root), tags=tr["tags"], truth=tr)
        T = len(tr["frames"])
        O = fit_len(predict_visual(onet, item.loaded("rgb")), T) if onet is not None else None
        S = predict_sound(smodel, item.loaded("wave"), T, sr=SAMPLE_RATE) if smodel is not None else None
        As = [(meta, fit_len(predict_visual(net, item.loaded("flow")), T)) for net, meta in actions]
        for vt in truths_of(tr):
            k = VIDEO_INSTRUMENTS.index(vt.instrument)
            pairs.append(vt)
            if S is not None:
                add("Sound model", None, S[:, k])
            if O is not None:
                add("Object model", O[:, k])
            if O is not None and S is not None:
                add("Sound x Object", O[:, k] * S[:, k, None, None])
            for meta, A in As:
                tname = meta["row_name"]
                for fu in fusions:
                    if ("O" in fu and O is None) or ("S" in fu and S is None):
                        continue
                    M = fuse(A[:, k:k + 1], O=None if O is None else O[:, k:k + 1],
                             S=None if S is None else S[:, k:k + 1], method=fu)[:, 0]
                    add(f"{tname} {fu}", M)
    rows = [_row("Center", centre_baseline(pairs))]
    for name in names:
        sc = evaluate_maps(pairs, per_method[name], per_scores[name] if any(s is not None for s in per_scores[name]) else None)
        v = u = "NA"
        tname = name.split(" ")[0].split("-")[0]
        if tname[:2] in ("ST", "OT", "SO", "VT"):
            try:
                spec = parse_target(tname)
                v = "NA" if spec.sound_threshold is None else f"{spec.sound_threshold:.1f}"
                u = "NA" if spec.object_threshold is None else f"{spec.object_threshold:.1f}"
            except Exception:
                pass
        rows.append(_row(name, sc, v, u))
    return rows


def evaluate_stills(object_run: str | Path, *, n: int = 300, seed: int = 99) -> ResultRow:
    """Hit rate of an object model on ``n`` rendered instrument stills (:mod:`clip2frame.video.rendering.stills`, the
    stand-in for the thesis' ImageNet-Instrument, Table 4.7): for every (still, instrument in it), whether the
    arg-max of that instrument's map, up-sampled to the still, lies in one of its boxes; mean per instrument,
    then over instruments. The stills are drawn from ``[seed, 7]``, a stream no training run draws from
    (training stills: ``[training seed, 5]``)."""
    model = load_visual_model(object_run, kind="object")
    hits: dict[str, list[float]] = {}
    for st in render_stills([seed, 7], n):
        if not st.boxes:
            continue
        hm = predict_visual(model, st.image[None])[0]
        for inst, boxes in st.boxes.items():
            hits.setdefault(inst, []).append(float(hit(hm[VIDEO_INSTRUMENTS.index(inst)], st.image.shape[:2], boxes)))
    per = {i: {"hit_rate": float(np.mean(hits[i])), "n": len(hits[i])} for i in VIDEO_INSTRUMENTS if i in hits}
    mean = float(np.mean([v["hit_rate"] for v in per.values()])) if per else float("nan")
    return ResultRow(f"Object model on {n} stills", "NA", "NA", float("nan"), float("nan"), mean, per)


def _f(x: float, nd: int = 3) -> str:
    return "NA" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def format_table(rows: Sequence[ResultRow]) -> str:
    """Markdown table: method, thresholds, temporal AUC, spatial px, hit rate."""
    lines = ["| Method | Sound thr. | Object thr. | Temporal (AUC) | Spatial (px) | Hit rate |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.method} | {r.sound_threshold} | {r.object_threshold} | {_f(r.temporal_auc)} | "
                     f"{_f(r.spatial_px, 1)} | {_f(r.hit_rate)} |")
    return "\n".join(lines)


def format_per_instrument(rows: Sequence[ResultRow], key: str = "temporal_auc") -> str:
    """A Markdown table of ``key`` (``temporal_auc``, ``spatial_px``, ``hit_rate``) per method and instrument."""
    insts = sorted({i for r in rows for i in r.per_instrument}, key=VIDEO_INSTRUMENTS.index)
    lines = ["| Method | " + " | ".join(insts) + " |", "|---|" + "---|" * len(insts)]
    for r in rows:
        if not r.per_instrument:
            continue
        nd = 1 if key == "spatial_px" else 3
        lines.append(f"| {r.method} | " + " | ".join(_f(r.per_instrument.get(i, {}).get(key, float('nan')), nd)
                                                   for i in insts) + " |")
    return "\n".join(lines)


def write_results(out_dir: str | Path, rows: Sequence[ResultRow], *, settings: dict | None = None) -> Path:
    """``results.csv``, ``results.json`` and ``results.md`` in ``out_dir``; returns the .md path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["method", "sound_threshold", "object_threshold", "temporal_auc", "spatial_px", "hit_rate"])
    for r in rows:
        w.writerow([r.method, r.sound_threshold, r.object_threshold, _f(r.temporal_auc, 4), _f(r.spatial_px, 2),
                    _f(r.hit_rate, 4)])
    atomic_write_text(out / "results.csv", buf.getvalue())
    atomic_write_text(out / "results.json", json.dumps({"settings": settings or {}, "rows": [asdict(r) for r in rows]},
                                                       indent=1, default=float))
    md = ["# Instrument-playing action detection (Table 4.8 style)", "", format_table(rows), "",
          "## Temporal AUC per instrument", "", format_per_instrument(rows, "temporal_auc"), "",
          "## Spatial distance (px) per instrument", "", format_per_instrument(rows, "spatial_px"), "",
          "## Hit rate per instrument", "", format_per_instrument(rows, "hit_rate"), ""]
    atomic_write_text(out / "results.md", "\n".join(md))
    return out / "results.md"
