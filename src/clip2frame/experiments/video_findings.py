"""Findings 8-10 (thesis chapter 4) over seeds, with paired bootstrap intervals over the test
(video, instrument) pairs.

The video pipeline is reached only through its public functions: the corpus and every model are made as
``clip2frame demo --video`` makes them (:func:`clip2frame.video.demo.demo_settings` /
``demo_configs``: ``quick`` = the smoke-sized corpus and budgets, ``demo`` = the full demo's), one set of
models per seed (``<out>/seed<k>/runs``; video training resumes and skips finished runs). Finding 10 adds a
deliberately weak sound model — the same recipe trained for one epoch on an eighth of the training videos
— and an ST05 action model trained from it.

Scores: each test pair is scored with :func:`clip2frame.video.metrics.evaluate_maps` (temporal AUC of the
spatial maximum, pixel distance of the arg-max to the nearest key point), the maps coming from
``load_item`` / ``predict_visual`` / ``predict_sound`` / ``fuse`` as in ``clip2frame video evaluate``. A
method's score on a set of pairs is the thesis' mean over instruments of the mean over that instrument's
pairs (temporal) or frames (spatial); the reported value averages it over seeds, and its interval and
the paired comparisons resample the pairs (the same resample for every seed and both methods).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_text
from .stats import bootstrap_ci, paired_bootstrap

log = logging.getLogger(__name__)

TARGETS = ("VT", "ST05", "OT03", "SOT0503")
WEAK = "ST05-weak"  # ST05 trained from the weak sound model


def video_findings():
    from .findings import Claim, Finding, Side

    def s(method: str, metric: str = "temporal_auc") -> Side:
        return Side((("method", method),), metric, "test")

    t, px = "temporal_auc", "spatial_px"
    return [
        Finding("8", "targets", "Table 4.8", "ST and OT beat VT; SOT is best", (
            Claim("ST05 > VT, temporal AUC", s("ST05 A"), s("VT A"), (0.827, 0.790)),
            Claim("OT03 > VT, temporal AUC", s("OT03 A"), s("VT A"), (0.809, 0.790)),
            Claim("SOT0503 > ST05, temporal AUC", s("SOT0503 A"), s("ST05 A"), (0.834, 0.827)),
            Claim("SOT0503 > OT03, temporal AUC", s("SOT0503 A"), s("OT03 A"), (0.834, 0.809)),
            Claim("OT03 < VT, spatial distance (px)", s("OT03 A", px), s("VT A", px), (29.4, 33.9), True),
            Claim("SOT0503 < VT, spatial distance (px)", s("SOT0503 A", px), s("VT A", px), (29.1, 33.9), True),
        ), corpus="video", protocol={}, training=()),
        Finding("9", "fusion", "Tables 4.12-4.13", "Fusing A·O·S after training beats A alone", (
            Claim("SOT0503 A·O·S > A, temporal AUC", s("SOT0503 A*O*S"), s("SOT0503 A"), (0.917, 0.834)),
            Claim("SOT0503 A·O < A, spatial distance (px)", s("SOT0503 A*O", px), s("SOT0503 A", px), (25.3, 29.1),
                  True),
        ), corpus="video", protocol={}, training=()),
        Finding("10", "soundmodel", "Table 4.11", "A better sound model makes a better ST action model", (
            Claim("ST05 from the normal sound model > from a weak one, temporal AUC", s("ST05 A"), s(f"{WEAK} A"),
                  (0.822, 0.670)),
        ), corpus="video", protocol={}, training=()),
    ]


@dataclass
class PairScore:
    video: str
    instrument: str
    auc: float
    px_sum: float
    px_n: int


def train_seed(data: Path, runs: Path, seed: int, quick: bool, *, weak: bool, threads: int | None = None
               ) -> dict[str, Path]:
    """Every model of one seed (finished runs are skipped by the video trainer); returns run directories.
    ``threads``: CPU threads of each training (default: the recipe's; not part of a run's identity)."""
    from ..video.demo import demo_configs, demo_settings
    from ..video.training import train

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
    from ..tags import VIDEO_INSTRUMENTS
    from ..video.evaluate import truths_of
    from ..video.fusion import fuse
    from ..video.metrics import evaluate_maps
    from ..video.data import load_truth
    from ..models.io import load_model, load_visual_model
    from ..video.predict import fit_len, predict_sound, predict_visual
    from ..video.data import load_item

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
        S = predict_sound(sounds["sound"], item.wave, T, sr=16000)
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
    from ..video.demo import demo_settings
    from ..video.corpus import render_corpus

    out.mkdir(parents=True, exist_ok=True)
    st = demo_settings(quick)
    data = render_corpus(out / "video-corpus", st["synth"], jobs=st["jobs"])
    weak = any(f.key == "10" for f in findings)
    per_seed: dict[int, dict[str, list[PairScore]]] = {}
    for sd in seeds:
        cache = out / f"seed{sd}" / "pairs.json"
        runs = train_seed(Path(data), out / f"seed{sd}" / "runs", sd, quick, weak=weak, threads=threads)
        have = json.loads(cache.read_text()) if cache.is_file() else {}
        if not all(f"{n} A" in have for n in runs if n not in ("sound", "object", "sound-weak")):
            have = {m: [vars(p) for p in ps] for m, ps in score_pairs(Path(data), runs).items()}
            atomic_write_text(cache, json.dumps(have))
        per_seed[sd] = {m: [PairScore(**p) for p in ps] for m, ps in have.items()}
    paths = []
    for f in findings:
        paths.append(_write(f, out, per_seed, seeds, quick, n_boot))
    return paths


def _write(f, out: Path, per_seed, seeds: list[int], quick: bool, n_boot: int) -> Path:
    first = per_seed[seeds[0]]
    n_items = len(next(iter(first.values())))

    def avg(method: str, metric: str, idx) -> float:
        v = [method_score(per_seed[sd][method], idx, metric) for sd in seeds]
        v = [x for x in v if math.isfinite(x)]
        return float(np.mean(v)) if v else math.nan

    rows, md = [], [f"# Finding {f.key} ({f.source}): {f.title}", "",
                    f"Video corpus and budgets of `clip2frame demo --video{' --quick' if quick else ''}` "
                    f"(fixed epochs); seeds {', '.join(map(str, seeds))}; {n_items} test (video, instrument) "
                    f"pairs. Values: the thesis' aggregate averaged over seeds, [95% paired bootstrap interval "
                    f"over the pairs, {n_boot} resamples]; per-seed values in the JSON.", "",
                    "| claim | thesis | better | worse | difference [95% CI] | p | verdict |",
                    "|---|---|---|---|---|---|---|"]
    for c in f.claims:
        bm, wm, metric = dict(c.better.row)["method"], dict(c.worse.row)["method"], c.better.metric
        cmp = paired_bootstrap(lambda idx: (avg(bm, metric, idx), avg(wm, metric, idx)), n_items, n_boot=n_boot,
                               lower_is_better=c.lower_is_better)
        b = bootstrap_ci(lambda idx: avg(bm, metric, idx), n_items, n_boot=n_boot)
        w = bootstrap_ci(lambda idx: avg(wm, metric, idx), n_items, n_boot=n_boot)
        d = cmp.diff
        th = "–" if c.thesis[0] is None else f"{c.thesis[0]} vs {c.thesis[1]}"
        dtxt = d.fmt() if not (math.isfinite(d.low) and math.isfinite(d.high)) else \
            f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
        p = "–" if not math.isfinite(cmp.p_value) else f"{cmp.p_value:.3f}"
        md.append(f"| {c.text} | {th} | {b.fmt(bracket=True)} | {w.fmt(bracket=True)} | {dtxt} | {p} | "
                  f"**{cmp.verdict}** |")
        rows.append({"claim": c.text, "thesis": c.thesis, "better": vars(b), "worse": vars(w), "diff": vars(d),
                     "p_value": cmp.p_value, "test": cmp.test, "verdict": cmp.verdict,
                     "per_seed": {sd: [method_score(per_seed[sd][m], np.arange(n_items), metric) for m in (bm, wm)]
                                  for sd in seeds}})
    md += ["", "Verdict from the 95% interval of the difference, in the claim's direction (lower is better for "
           "pixel distances): holds above 0, does not hold below 0, inconclusive when it contains 0.", ""]
    atomic_write_text(out / f"finding_{f.key}.md", "\n".join(md))
    atomic_write_text(out / f"finding_{f.key}.json", json.dumps({"finding": f.key, "seeds": seeds, "quick": quick,
                                                                  "claims": rows}, indent=1, default=str))
    return out / f"finding_{f.key}.md"
