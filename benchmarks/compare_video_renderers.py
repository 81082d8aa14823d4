"""Two sides scored on the same test pairs — two renderings of the same scenes (same truth, other pixels) with
one recipe, or two recipes on one corpus — over the same seeds: SOT0503 scores of each, their paired
difference, and the references (centre guess, sound alone) — issue #14 item 5.

Each side is a corpus and, per seed, the runs ``object``, ``sound`` and ``SOT0503``; a side may instead
give the ``pairs.json`` that ``clip2frame experiment 9`` wrote for that seed (the same per-pair scores).
Pair scores come from :func:`clip2frame.experiments.video_findings.score_pairs`; aggregates, intervals and
paired differences are those of findings 8-10 (mean over instruments, averaged over seeds; percentile
bootstrap over the test (video, instrument) pairs, the same resample for every seed and both sides).

    python benchmarks/compare_video_renderers.py --name-a "limb 1" --pairs-a S0/pairs.json S1/pairs.json \
        --name-b "limb 3" --corpus-b C3 --runs-b R0 R1 --out results/limb_width
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from clip2frame.experiments.stats import bootstrap_ci, paired_bootstrap
from clip2frame.experiments.video_findings import PairScore, method_score, score_pairs
from clip2frame.fileio import atomic_write_text

METHODS = (("SOT0503 A", "temporal_auc"), ("SOT0503 A", "spatial_px"), ("SOT0503 A*O", "spatial_px"),
           ("SOT0503 A*O*S", "temporal_auc"), ("Sound", "temporal_auc"), ("Centre", "spatial_px"))


def reference_pairs(data: Path, sound_run: Path) -> dict[str, list[PairScore]]:
    """Per pair: the sound model alone (temporal) and the frame centre (spatial)."""
    from clip2frame.models.io import load_model
    from clip2frame.tags import VIDEO_INSTRUMENTS
    from clip2frame.video.training.data import load_item, load_truth
    from clip2frame.video.training.evaluate import truths_of
    from clip2frame.video.inference.metrics import centre_baseline, evaluate_maps
    from clip2frame.video.inference.predict import predict_sound

    sm = load_model(sound_run, kind="sound")
    out: dict[str, list[PairScore]] = {"Sound": [], "Centre": []}
    for tr in load_truth(data, "test"):
        item = load_item(tr["path"], need={"wave"}, cache_dir=None, tags=tr["tags"], truth=tr)
        S = predict_sound(sm, item.wave, len(tr["frames"]), sr=16000)
        for vt in truths_of(tr):
            k = VIDEO_INSTRUMENTS.index(vt.instrument)
            s = evaluate_maps([vt], [None], [S[:, k]])
            out["Sound"].append(PairScore(vt.video, vt.instrument, s.temporal_auc, 0.0, 0))
            c = centre_baseline([vt])
            out["Centre"].append(PairScore(vt.video, vt.instrument, float("nan"), c.spatial_px * c.n_frames_spatial,
                                           c.n_frames_spatial))
    return out


def side(corpus: str | None, runs: list[str], pairs: list[str], sound: list[str]) -> list[dict[str, list[PairScore]]]:
    per_seed = []
    for i in range(max(len(runs), len(pairs))):
        if pairs:
            got = {m: [PairScore(**p) for p in ps] for m, ps in json.loads(Path(pairs[i]).read_text()).items()}
        else:
            r = Path(runs[i])
            got = score_pairs(Path(corpus), {"object": r / "object", "sound": Path(sound[i]), "SOT0503": r / "SOT0503"})
        per_seed.append(got)
    return per_seed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for s in ("a", "b"):
        p.add_argument(f"--name-{s}", required=True)
        p.add_argument(f"--corpus-{s}", default=None)
        p.add_argument(f"--runs-{s}", nargs="*", default=[], help="per seed a directory with object/ and SOT0503/")
        p.add_argument(f"--pairs-{s}", nargs="*", default=[], help="per seed a pairs.json of clip2frame experiment 9")
    p.add_argument("--sound", nargs="+", required=True, help="per seed the sound run (the same for both sides)")
    p.add_argument("--out", required=True)
    p.add_argument("--boot", type=int, default=2000)
    a = p.parse_args()
    A = side(a.corpus_a, a.runs_a, a.pairs_a, a.sound)
    B = side(a.corpus_b, a.runs_b, a.pairs_b, a.sound)
    ref = [reference_pairs(Path(a.corpus_b or a.corpus_a), Path(s)) for s in a.sound]
    for seeds in (A, B):
        for sd, r in zip(seeds, ref):
            sd.update(r)
    n = len(B[0]["SOT0503 A"])
    assert all(len(s[m]) == n for s in A + B for m, _ in METHODS), "the two sides must score the same pairs"

    def avg(seeds, m, metric, idx):
        return float(np.nanmean([method_score(s[m], idx, metric) for s in seeds]))

    rows, md = [], [f"# {a.name_a} vs {a.name_b}: SOT0503 over {len(B)} seeds, {n} test pairs", "",
                    f"| method | metric | {a.name_a} | {a.name_b} | {a.name_b} − {a.name_a} [95% CI] | p |",
                    "|---|---|---|---|---|---|"]
    for m, metric in METHODS:
        ia = bootstrap_ci(lambda idx: avg(A, m, metric, idx), n, n_boot=a.boot)
        ib = bootstrap_ci(lambda idx: avg(B, m, metric, idx), n, n_boot=a.boot)
        c = paired_bootstrap(lambda idx: (avg(B, m, metric, idx), avg(A, m, metric, idx)), n, n_boot=a.boot)
        rows.append({"method": m, "metric": metric, "a": asdict(ia), "b": asdict(ib), "b_minus_a": asdict(c.diff),
                     "p": c.p_value})
        md.append(f"| {m} | {metric} | {ia.mean:.3f} [{ia.low:.3f}, {ia.high:.3f}] | {ib.mean:.3f} [{ib.low:.3f}, "
                  f"{ib.high:.3f}] | {c.diff.mean:+.3f} [{c.diff.low:+.3f}, {c.diff.high:+.3f}] | {c.p_value:.3f} |")
    # issue #14's targets on each side: A and A·O against the centre guess (ratio), A·O·S against the sound alone
    md += ["", "Targets of issue #14 (ratio of mean pixel distances; difference of temporal AUC):", "",
           f"| target | {a.name_a} | {a.name_b} |", "|---|---|---|"]
    targets = []
    for label, m, ref, kind in (("SOT0503 A / centre, px (<= 0.75)", "SOT0503 A", "Centre", "ratio"),
                                ("SOT0503 A·O / centre, px (<= 0.7)", "SOT0503 A*O", "Centre", "ratio"),
                                ("SOT0503 A·O·S − sound alone, AUC (>= 0)", "SOT0503 A*O*S", "Sound", "diff")):
        cells = []
        for seeds in (A, B):
            if kind == "ratio":
                iv = bootstrap_ci(lambda idx: avg(seeds, m, "spatial_px", idx) / avg(seeds, ref, "spatial_px", idx),
                                  n, n_boot=a.boot)
            else:
                iv = bootstrap_ci(lambda idx: avg(seeds, m, "temporal_auc", idx) - avg(seeds, ref, "temporal_auc", idx),
                                  n, n_boot=a.boot)
            cells.append(iv)
        targets.append({"target": label, "a": asdict(cells[0]), "b": asdict(cells[1])})
        md.append(f"| {label} | " + " | ".join(f"{iv.mean:.3f} [{iv.low:.3f}, {iv.high:.3f}]" for iv in cells) + " |")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "comparison.json", json.dumps({"a": a.name_a, "b": a.name_b, "seeds": len(B), "pairs": n,
                                                           "rows": rows, "targets": targets}, indent=1))
    atomic_write_text(out / "comparison.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
