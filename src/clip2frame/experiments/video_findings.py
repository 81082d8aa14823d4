"""Findings 8-10 (thesis chapter 4) over seeds, with two-level bootstrap intervals over the seeds and the
test (video, instrument) pairs.

The video pipeline is reached only through its public functions: the corpus and every model are made as
``clip2frame demo --video`` makes them (:func:`clip2frame.video.training.demo.demo_settings` /
``demo_configs``: ``quick`` = the smoke-sized corpus and budgets, ``demo`` = the full demo's), one set of
models per seed (``<out>/seed<k>/runs``; video training resumes and skips finished runs). Finding 10 adds a
deliberately weak sound model — the same recipe trained for one epoch on an eighth of the training videos
— and an ST05 action model trained from it; the weak sound model's own temporal AUC beside the normal
one's is the manipulation check (the weak model must be weaker for the finding to mean anything).

Scores: each test pair is scored with :func:`clip2frame.video.inference.metrics.evaluate_maps` (temporal AUC of the
spatial maximum, pixel distance of the arg-max to the nearest key point), the maps coming from
``load_item`` / ``predict_visual`` / ``predict_sound`` / ``fuse`` as in ``clip2frame video evaluate``. A
method's score on a set of pairs is the thesis' mean over instruments of the mean over that instrument's
pairs (temporal) or frames (spatial); the reported value averages it over seeds, and its interval and the
paired comparisons resample the seeds, then the pairs (the same pairs for every seed and both methods:
:func:`~.stats.two_level_bootstrap`). Baselines scored on the same pairs: the centre guess ("centre",
spatial), the sound model alone ("S", temporal) and the weak sound model alone ("S-weak").
"""
from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_text
from ..models.io import load_model, load_visual_model
from ..tags import VIDEO_INSTRUMENTS
from ..timebase import SAMPLE_RATE
from ..video.inference.fusion import fuse
from ..video.inference.metrics import centre_baseline, evaluate_maps
from ..video.inference.predict import fit_len, predict_sound, predict_visual
from ..video.rendering.corpus import render_corpus
from ..video.training.data import load_item, load_truth
from ..video.training.demo import demo_configs, demo_settings
from ..video.training.evaluate import truths_of
from ..video.training.training import train
from .claims import Claim, Finding, Side, finish_claims
from .findings_report import claims_markdown
from .stats import two_level_bootstrap, two_level_ci

log = logging.getLogger(__name__)

TARGETS = ("VT", "ST05", "OT03", "SOT0503")
WEAK = "ST05-weak"  # ST05 trained from the weak sound model


def video_findings():
    """Findings 8-10 (chapter 4): their claims over the video methods' map metrics."""
    def s(method: str, metric: str = "temporal_auc") -> Side:
        return Side((("method", method),), metric, "test")

    t, px = "temporal_auc", "spatial_px"
    centre = ("centre guess", s("centre", px))
    chance = ("chance", 0.5)
    sound = ("sound alone", s("S"))
    vt_px = ("VT", s("VT A", px))

    def tc(text, better, worse, thesis, **kw):  # temporal claim
        return Claim(text, s(f"{better} A"), s(f"{worse} A"), thesis, trivial=chance, **kw)

    def sc(text, better, worse, thesis):  # spatial claim (lower is better); VT must beat the centre too
        return Claim(text, s(f"{better} A", px), s(f"{worse} A", px), thesis, True, trivial=centre)

    return [
        # Thesis §4.4 (t-tested): ST05 better than VT and every OT temporally; OT03 better than VT and every
        # ST spatially; SOT0503 better than those without temporal (spatial) supervision temporally (spatially).
        Finding("8", "targets", "Table 4.8", "ST beats VT and OT temporally; OT and SOT beat VT and ST spatially", (
            tc("ST05 > VT, temporal AUC", "ST05", "VT", (0.827, 0.790), refs=(sound,)),
            tc("ST05 > OT03, temporal AUC", "ST05", "OT03", (0.827, 0.809), refs=(sound,)),
            tc("SOT0503 > VT, temporal AUC", "SOT0503", "VT", (0.834, 0.790), refs=(sound,)),
            tc("SOT0503 > OT03, temporal AUC", "SOT0503", "OT03", (0.834, 0.809), refs=(sound,)),
            sc("OT03 < VT, spatial distance (px)", "OT03", "VT", (29.4, 33.9)),
            sc("OT03 < ST05, spatial distance (px)", "OT03", "ST05", (29.4, 33.7)),
            sc("SOT0503 < VT, spatial distance (px)", "SOT0503", "VT", (29.1, 33.9)),
            sc("SOT0503 < ST05, spatial distance (px)", "SOT0503", "ST05", (29.1, 33.7)),
            Claim("VT at least level with the centre guess: VT < centre, spatial distance (px)", s("VT A", px),
                  s("centre", px), (33.9, 37.2), True, check=True),
        ), corpus="video", protocol={}, training=()),
        Finding("9", "fusion", "Tables 4.12-4.13", "Fusing A·O·S after training beats A alone", (
            Claim("SOT0503 A·O·S > A, temporal AUC", s("SOT0503 A*O*S"), s("SOT0503 A"), (0.917, 0.834),
                  trivial=chance, refs=(sound,)),
            Claim("SOT0503 A·O < A, spatial distance (px)", s("SOT0503 A*O", px), s("SOT0503 A", px), (25.3, 29.1),
                  True, trivial=centre, refs=(vt_px,)),
        ), corpus="video", protocol={}, training=()),
        Finding("10", "soundmodel", "Table 4.11", "A better sound model makes a better ST action model", (
            Claim("normal sound model > weak sound model, temporal AUC", s("S"), s("S-weak"), trivial=chance,
                  check=True),
            Claim("ST05 from the normal sound model > from a weak one, temporal AUC", s("ST05 A"), s(f"{WEAK} A"),
                  (0.822, 0.670), trivial=chance),
        ), corpus="video", protocol={}, training=()),
    ]


@dataclass
class PairScore:
    """The scores of one (video, instrument) test pair: temporal AUC and the sum and count of spatial
    distances (px).
    """

    video: str
    instrument: str
    auc: float
    px_sum: float
    px_n: int


def train_seed(data: Path, runs: Path, seed: int, quick: bool, *, weak: bool, threads: int | None = None
               ) -> dict[str, Path]:
    """Every model of one seed (finished runs are skipped by the video trainer); returns run directories.
    ``threads``: CPU threads of each training (default: the recipe's; not part of a run's identity)."""
    cfgs = {k: replace(c, seed=seed, **({"threads": threads} if threads else {})) for k, c in demo_configs(quick).items()}
    runs.mkdir(parents=True, exist_ok=True)
    cmd = "clip2frame experiment (video findings)"
    train(data, runs / "sound", cfgs["sound"], command=cmd)
    train(data, runs / "object", cfgs["object"], command=cmd)
    out = {"sound": runs / "sound", "object": runs / "object"}
    for name in TARGETS:
        train(data, runs / name, cfgs[name], object_run=runs / "object", sound_run=runs / "sound", command=cmd)
        out[name] = runs / name
    if weak:
        n_train = demo_settings(quick)["synth"].n_train
        train(data, runs / "sound-weak", replace(cfgs["sound"], epochs=1, max_train_videos=max(2, n_train // 8)),
              command=cmd)
        train(data, runs / WEAK, cfgs["ST05"], sound_run=runs / "sound-weak", command=cmd)
        out["sound-weak"], out[WEAK] = runs / "sound-weak", runs / WEAK
    return out


def score_pairs(data: Path, runs: dict[str, Path], split: str = "test") -> dict[str, list[PairScore]]:
    """Per method ("VT A", "SOT0503 A*O*S", ...) the scores of every test (video, instrument) pair."""
    onet = load_visual_model(runs["object"], kind="object")
    sounds = {"sound": load_model(runs["sound"], kind="sound")}
    if "sound-weak" in runs:
        sounds["sound-weak"] = load_model(runs["sound-weak"], kind="sound")
    actions = {n: load_visual_model(runs[n], kind="action") for n in (*TARGETS, WEAK) if n in runs}
    out: dict[str, list[PairScore]] = {}
    for tr in load_truth(data, split):
        item = load_item(tr["path"], need={"rgb", "flow", "wave"}, cache_dir=None, tags=tr["tags"], truth=tr)
        T = len(tr["frames"])
        assert item.rgb is not None and item.flow is not None and item.wave is not None  # all three were asked for
        O = fit_len(predict_visual(onet, item.rgb), T)
        S = predict_sound(sounds["sound"], item.wave, T, sr=SAMPLE_RATE)
        Ss = {n: S if n == "sound" else predict_sound(m, item.wave, T, sr=SAMPLE_RATE) for n, m in sounds.items()}
        for vt in truths_of(tr):
            k = VIDEO_INSTRUMENTS.index(vt.instrument)
            c = centre_baseline([vt])
            n = c.n_frames_spatial
            out.setdefault("centre", []).append(PairScore(vt.video, vt.instrument, math.nan,
                                                          c.spatial_px * n if n else 0.0, n))
            for sname, Sx in Ss.items():
                sc = evaluate_maps([vt], [None], [Sx[:, k]])
                out.setdefault("S" if sname == "sound" else "S-weak", []).append(
                    PairScore(vt.video, vt.instrument, sc.temporal_auc, 0.0, 0))
        for name, net in actions.items():
            A = fit_len(predict_visual(net, item.flow), T)
            for vt in truths_of(tr):
                k = VIDEO_INSTRUMENTS.index(vt.instrument)
                for fu in ("A", "A*O", "A*O*S"):
                    M = fuse(A[:, k:k + 1], O=O[:, k:k + 1], S=S[:, k:k + 1], method=fu)[:, 0]
                    sc = evaluate_maps([vt], [M])
                    n = sc.n_frames_spatial
                    out.setdefault(f"{name} {fu}", []).append(PairScore(
                        vt.video, vt.instrument, sc.temporal_auc, sc.spatial_px * n if n else 0.0, n))
    return out


def video_training_record(run: Path) -> dict:
    """How a video run trained, from its ``metrics.csv`` (fixed epoch budgets): ``stop_epoch`` (epochs run),
    ``best_epoch`` (the last epoch marked best on validation), ``stopped_by`` "cap" and
    ``best_in_last_10pct``; empty when the run has no metrics."""
    path = run / "metrics.csv"
    rows = list(csv.DictReader(path.open())) if path.is_file() else []
    if not rows:
        return {}
    last = int(rows[-1]["epoch"])
    best = max((int(r["epoch"]) for r in rows if r.get("best") == "1"), default=last)
    return {"stop_epoch": last, "best_epoch": best, "stopped_by": "cap", "best_in_last_10pct": best > 0.9 * last}


def _run_of(method: str) -> str | None:
    """The run directory behind a method's action map ("SOT0503 A*O*S" -> "SOT0503", "S" -> "sound")."""
    return {"S": "sound", "S-weak": "sound-weak", "centre": None}.get(method, method.split(" ")[0])


def method_score(pairs: list[PairScore], idx: np.ndarray, metric: str) -> float:
    """The thesis' aggregate over the pairs ``idx`` (repeats allowed): mean over instruments of the mean
    pair AUC (temporal) or of the mean distance over the instrument's frames (spatial)."""
    per: dict[str, list[float]] = {}
    for i in idx:
        p = pairs[int(i)]
        if metric == "temporal_auc":
            if math.isfinite(p.auc):
                per.setdefault(p.instrument, [0.0, 0.0])
                per[p.instrument][0] += p.auc
                per[p.instrument][1] += 1
        elif p.px_n:
            per.setdefault(p.instrument, [0.0, 0.0])
            per[p.instrument][0] += p.px_sum
            per[p.instrument][1] += p.px_n
    vals = [a / b for a, b in per.values() if b]
    return float(np.mean(vals)) if vals else math.nan


def run_video_findings(findings, out: Path, seeds: list[int], *, quick: bool, n_boot: int = 2000,
                       threads: int | None = None) -> list[Path]:
    """Render the corpus once, train every seed's models, score the pairs, write ``finding_<key>.{md,json}``.

    Seeds may also run as separate processes into the same ``out`` (``--seed K --seeds 1`` each, e.g. one
    thread each on a 2-core CPU); a last run over all seeds then only scores and writes the tables."""
    out.mkdir(parents=True, exist_ok=True)
    st = demo_settings(quick)
    data = render_corpus(out / "video-corpus", st["synth"], jobs=st["jobs"])
    weak = any(f.key == "10" for f in findings)
    per_seed: dict[int, dict[str, list[PairScore]]] = {}
    training: dict[int, dict[str, dict]] = {}
    for sd in seeds:
        cache = out / f"seed{sd}" / "pairs.json"
        runs = train_seed(Path(data), out / f"seed{sd}" / "runs", sd, quick, weak=weak, threads=threads)
        have = json.loads(cache.read_text()) if cache.is_file() else {}
        need = [f"{n} A" for n in runs if n not in ("sound", "object", "sound-weak")] + ["centre", "S"]
        if not all(m in have for m in need + (["S-weak"] if "sound-weak" in runs else [])):
            have = {m: [vars(p) for p in ps] for m, ps in score_pairs(Path(data), runs).items()}
            atomic_write_text(cache, json.dumps(have))
        per_seed[sd] = {m: [PairScore(**p) for p in ps] for m, ps in have.items()}
        training[sd] = {name: video_training_record(run) for name, run in runs.items()}
        atomic_write_text(out / f"seed{sd}" / "training.json", json.dumps(training[sd], indent=1))
    paths = []
    for f in findings:
        paths.append(_write(f, out, per_seed, seeds, quick, n_boot, training))
    return paths


def video_claims(f, per_seed: dict[int, dict[str, list[PairScore]]], seeds: list[int], n_boot: int,
                 training: dict[int, dict[str, dict]] | None = None) -> list[dict]:
    """Every claim of a chapter-4 finding: seed-averaged aggregates with two-level bootstrap intervals
    (seeds, then test pairs), the paired two-level comparison, Holm within the finding; with ``training``
    (per seed, run name -> :func:`video_training_record`) the epochs of the runs behind both sides."""
    n_items = len(next(iter(per_seed[seeds[0]].values())))
    every = np.arange(n_items)

    def avg(method: str, metric: str, sd_idx, idx) -> float:
        v = [method_score(per_seed[seeds[int(k)]][method], idx, metric) for k in sd_idx]
        v = [x for x in v if math.isfinite(x)]
        return float(np.mean(v)) if v else math.nan

    def get(src):
        if not isinstance(src, Side):
            return [float(src)] * len(seeds), two_level_ci(lambda s_, i_: float(src), 1, 1, n_boot=2)
        m = dict(src.row)["method"]
        if m not in per_seed[seeds[0]]:
            return [math.nan] * len(seeds), two_level_ci(lambda s_, i_: math.nan, 1, 1, n_boot=2)
        vals = [method_score(per_seed[sd][m], every, src.metric) for sd in seeds]
        return vals, two_level_ci(lambda s_, i_: avg(m, src.metric, s_, i_), len(seeds), n_items, n_boot=n_boot)

    comps, extra = [], []
    for c in f.claims:
        bm, wm, metric = dict(c.better.row)["method"], dict(c.worse.row)["method"], c.better.metric
        comps.append(two_level_bootstrap(lambda s_, i_: (avg(bm, metric, s_, i_), avg(wm, metric, s_, i_)),
                                         len(seeds), n_items, n_boot=n_boot, lower_is_better=c.lower_is_better,
                                         thesis_effect=c.thesis_effect))
        (vb, ib), (vw, iw) = get(c.better), get(c.worse)
        ex = {"better": vars(ib), "worse": vars(iw), "n_seeds": len(seeds), "stop_epochs": None,
              "best_in_last_10pct": 0, "fixed_budget": True,
              "per_seed": {sd: [b, w] for sd, b, w in zip(seeds, vb, vw)}}
        if training:
            runs = {side: _run_of(m) for side, m in (("better", bm), ("worse", wm))}
            recs = {side: [training.get(sd, {}).get(r or "", {}) for sd in seeds] for side, r in runs.items()}
            ex["stop_epochs"] = {side: [x.get("stop_epoch") for x in v] for side, v in recs.items()}
            ex["best_in_last_10pct"] = len({(sd, runs[side]) for side, v in recs.items()
                                            for sd, x in zip(seeds, v) if x.get("best_in_last_10pct")})
        extra.append(ex)
    return finish_claims(f.claims, comps, get, extra)


def _write(f, out: Path, per_seed, seeds: list[int], quick: bool, n_boot: int,
           training: dict[int, dict[str, dict]] | None = None) -> Path:
    n_items = len(next(iter(per_seed[seeds[0]].values())))
    claims = video_claims(f, per_seed, seeds, n_boot, training)
    md = [f"# Finding {f.key} ({f.source}): {f.title}", "",
          f"Video corpus and budgets of `clip2frame demo --video{' --quick' if quick else ''}` (fixed epochs); "
          f"seeds {', '.join(map(str, seeds))}; {n_items} test (video, instrument) pairs. Values: the thesis' "
          f"aggregate averaged over seeds, [95% two-level bootstrap interval over seeds and pairs, {n_boot} "
          "resamples]; per-seed values in the JSON.", ""]
    md += claims_markdown(f.key, claims, claims[0]["test"] if claims else "")
    atomic_write_text(out / f"finding_{f.key}.md", "\n".join(md))
    atomic_write_text(out / f"finding_{f.key}.json", json.dumps({"finding": f.key, "seeds": seeds, "quick": quick,
                                                                  "claims": claims}, indent=1, default=str))
    return out / f"finding_{f.key}.md"
