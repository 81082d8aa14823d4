"""``clip2frame experiment NAME --seeds N``: statistics against scipy, the ten findings' definitions, the
protocol switches, the trainer's fixed epoch budget, and a finding end-to-end on the toy corpus (tiny preset,
2 epochs, 2 seeds)."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats as sps

from clip2frame.cli import main as cli_main
from clip2frame.data.manifest import load_manifest
from clip2frame.data.toy import make_toy_corpus
from clip2frame.experiments import stats
from clip2frame.experiments.findings import _row_index, all_findings, find, run_finding
from clip2frame.errors import Clip2FrameError
from clip2frame.experiments.runner import (THESIS_PROTOCOL, Runner, Settings, make_scarce_manifest, recipe_splits,
                                           row_config, scarce_manifest_dir)
from clip2frame.experiments.video_findings import PairScore, _write, method_score, video_findings
from clip2frame.train.trainer import train

TOY = ("preset=tiny", "crop_frames=0", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1")


# ---------------------------------------------------------------------------------------------- statistics
def test_mean_ci_is_the_t_interval():
    x = [0.61, 0.64, 0.58, 0.66]
    iv = stats.mean_ci(x)
    lo, hi = sps.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sps.sem(x))
    assert (iv.mean, iv.low, iv.high, iv.n) == (pytest.approx(np.mean(x)), pytest.approx(lo), pytest.approx(hi), 4)
    one = stats.mean_ci([0.5, math.nan])
    assert one.mean == 0.5 and one.n == 1 and math.isnan(one.low)
    assert stats.verdict_of(one) == stats.INCONCLUSIVE


def test_paired_over_seeds_matches_scipy_and_decides_by_the_interval():
    a, b = [0.70, 0.72, 0.69, 0.74], [0.60, 0.65, 0.61, 0.62]
    c = stats.paired_over_seeds(a, b)
    ref = sps.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert c.p_value == pytest.approx(ref.pvalue)
    assert (c.diff.low, c.diff.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert c.verdict == stats.HOLDS
    assert stats.paired_over_seeds(b, a).verdict == stats.OPPOSITE
    assert stats.paired_over_seeds(a, b, lower_is_better=True).verdict == stats.OPPOSITE
    assert stats.paired_over_seeds([0.7, 0.6, 0.72], [0.65, 0.66, 0.69]).verdict == stats.INCONCLUSIVE


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    base = rng.random(60)
    better = base + 0.1 + rng.normal(0, 0.02, 60)

    def stat(x, y):
        return lambda idx: (float(x[idx].mean()), float(y[idx].mean()))

    c = stats.paired_bootstrap(stat(better, base), 60, n_boot=500)
    assert c.verdict == stats.HOLDS and c.diff.low < c.diff.mean < c.diff.high
    assert c.diff.mean == pytest.approx(float(better.mean() - base.mean()))
    assert stats.paired_bootstrap(stat(base, better), 60, n_boot=500).verdict == stats.OPPOSITE
    noise = base + rng.normal(0, 0.05, 60)
    assert stats.paired_bootstrap(stat(noise, base), 60, n_boot=500).verdict == stats.INCONCLUSIVE
    iv = stats.bootstrap_ci(lambda idx: float(base[idx].mean()), 60, n_boot=500)
    assert iv.low < base.mean() < iv.high


# ----------------------------------------------------------------------------------------------- findings
def test_ten_findings_and_their_selectors():
    fs = all_findings()
    assert [f.key for f in fs] == [str(i) for i in range(1, 11)]
    assert find("F3").name == "stride" and find("soundmodel").key == "10" and find("finding7").key == "7"
    assert find("3.3") is None
    for f in fs:
        assert f.claims
        if f.recipe is not None:  # every side names exactly one row of its recipe
            for c in f.claims:
                for side in (c.better, c.worse):
                    _row_index(f.recipe, side.row)
                    assert side.split in f.recipe.splits
    assert find("5").recipe.rows[1].data == "scarce"
    assert all(f.protocol == THESIS_PROTOCOL for f in fs if f.recipe is not None)
    assert cli_main(["experiment", "1", "--seeds", "0", "--data", "x"]) == 2


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), seed=3,
                           n_clips={"train": 16, "validation": 6, "test": 6, "shift": 12})


def _settings(toy, out, **kw):
    return Settings(data=str(toy.root), out=out, epochs=2, seed=0, preset="tiny",
                    overrides=("early_stopping=false",) + TOY, **kw)


def test_scarce_manifest_is_the_fitting_half_of_shift(toy, tmp_path):
    s = _settings(toy, tmp_path, scarce_clips=4)
    m = load_manifest(make_scarce_manifest(s, toy))
    shift = sorted(c.clip_id for c in toy.split("shift"))
    assert [c.clip_id for c in m.split("train")] == shift[0::2][:4]
    assert [c.clip_id for c in m.split("validation")] == shift[0::2][4:5]
    assert [c.clip_id for c in m.split("test")] == shift[1::2]
    assert all(c.events is not None for c in m.clips)
    # the "target" split every finding-5 row is scored on is the same held half
    runner = Runner(s)
    row = find("5").recipe.rows[1]
    cfg, _ = row_config(row, s)
    assert cfg.data == str(tmp_path / "scarce-4") and cfg.supervision == "frame"
    assert cfg.model.accumulation == "none" and list(cfg.model.late) == [512, 512]
    tagger = runner.model(row_config(find("5").recipe.rows[0], s)[0])
    assert sorted(runner.split("target", tagger).clip_ids) == shift[1::2]


def test_the_target_domain_split_of_a_timbre_randomised_corpus(toy, tmp_path_factory):
    """--shift-split: a synth-music-4 corpus has no 'shift'; its held-out split plays the target domain."""
    v4 = make_toy_corpus(tmp_path_factory.mktemp("toy4"), seed=3,
                         n_clips={"train": 16, "validation": 6, "test": 6, "heldout-musescore": 12})
    out = tmp_path_factory.mktemp("out4")
    default = Runner(_settings(v4, out))
    with pytest.raises(Clip2FrameError, match="shift"):
        recipe_splits(find("4").recipe, default)       # no 'shift' and none chosen: a one-line error
    s = _settings(v4, out, shift_split="heldout-musescore", scarce_clips=4)
    runner = Runner(s)
    assert recipe_splits(find("5").recipe, runner) == ["target"]
    held = sorted(c.clip_id for c in v4.split("heldout-musescore"))
    m = load_manifest(make_scarce_manifest(s, v4))
    assert [c.clip_id for c in m.split("test")] == held[1::2]
    assert scarce_manifest_dir(s).name == "scarce-4-heldout-musescore"
    tagger = runner.model(row_config(find("5").recipe.rows[0], s)[0])
    assert sorted(runner.split("target", tagger).clip_ids) == held[1::2]
    assert sorted(runner.split("shift", tagger).clip_ids) == held
    assert s.protocol() == {"shift_split": "heldout-musescore"}   # part of every cached evaluation's key


def test_threshold_switches(toy, tmp_path):
    s = _settings(toy, tmp_path)
    runner = Runner(s)
    row = find("4").recipe.rows[0]
    cfg, _ = row_config(row, s)
    tagger = runner.model(cfg)
    own = runner._thresholds(tagger, cfg, "model")
    np.testing.assert_allclose(own, tagger.thresholds)
    floored = Runner(replace(s, threshold_floor=0.3))._thresholds(tagger, cfg, "model")
    np.testing.assert_allclose(floored, np.maximum(tagger.thresholds, 0.3))
    frame = Runner(replace(s, thresholds="frame"))._thresholds(tagger, cfg, "model")
    clips = Runner(replace(s, source_thresholds="clips"))._thresholds(tagger, cfg, "source")
    assert not np.allclose(frame, own)
    # toy clips (6 s) are shorter than one 320-frame cut: whole clips vs their tags and the cuts coincide
    np.testing.assert_allclose(clips, own, atol=1e-6)


def test_finding_over_seeds_end_to_end(toy, tmp_path, monkeypatch):
    import clip2frame.experiments.runner as runner_mod

    monkeypatch.setattr(runner_mod, "thesis9_labels", lambda labels: ["tone", "noise"])  # the toy has none
    f = find("4")
    s = replace(_settings(toy, tmp_path), **THESIS_PROTOCOL)
    csv_path, md_path = run_finding(f, Runner(s), [0, 1])
    report = json.loads(md_path.with_suffix(".json").read_text())
    assert report["seeds"] == [0, 1] and report["protocol"] == THESIS_PROTOCOL
    # the claims' per-seed values are the cached evaluations of the seeds' runs
    for claim, spec in zip(report["claims"], f.claims):
        for side, vals in ((spec.better, claim["values_better"]), (spec.worse, claim["values_worse"])):
            row = f.recipe.rows[_row_index(f.recipe, side.row)]
            for sd, v in zip((0, 1), vals):
                cfg, _ = row_config(row, replace(s, seed=sd, out=tmp_path / f"seed{sd}"))
                cache = json.loads((tmp_path / f"seed{sd}" / "runs" / cfg.out.split("/")[-1] / "eval.json").read_text())
                key = f"{side.split}/{row.evaluation} {json.dumps(THESIS_PROTOCOL, sort_keys=True)}"
                assert v == pytest.approx(cache[key][side.metric])
        cmp = stats.paired_over_seeds(claim["values_better"], claim["values_worse"])
        assert claim["p_value"] == pytest.approx(cmp.p_value, nan_ok=True)
        assert claim["verdict"] in stats.FINDING_VERDICTS
        # frame F1 over the thesis' instruments (here: the labels monkeypatched below), all labels beside
        assert spec.better.metric == "thesis9_frame_micro_f1" if "micro" in spec.text else True
        assert claim["beside"]["metric"].startswith("frame_m") and claim["trivial"]["name"] == "always-on"
        assert claim["stop_epochs"] == {"better": [2, 2], "worse": [2, 2]}
    text = md_path.read_text()
    assert "## Claims" in text and "Segment F1 micro" in text and "0.675 vs 0.324" in text
    cache = json.loads(next((tmp_path / "seed0" / "runs").glob("*/eval.json")).read_text())
    assert cache["training"]["stop_epoch"] == 2 and cache["training"]["stopped_by"] == "cap"
    assert cache[f"shift/thresholds:target {json.dumps(THESIS_PROTOCOL, sort_keys=True)}"]["thesis9_n_labels"] == 2
    assert csv_path.read_text().splitlines()[0].startswith("Final pooling,Early conv,Threshold source")
    # a second run reuses every seed: nothing is trained again
    import clip2frame.experiments.runner as runner_mod

    monkeypatch.setattr(runner_mod, "train", lambda *a, **k: pytest.fail("retrained a finished seed"))
    run_finding(f, Runner(s), [0, 1])


# ---------------------------------------------------------------------------- fixed epoch budgets (trainer)
def _train_cfg(toy, out, *extra):
    from clip2frame.train.config import resolve_config

    return resolve_config(overrides=[*TOY, f"data={toy.root}", f"out={out}", *extra])


def _weights(path):
    from safetensors.torch import load_file

    return dict(load_file(str(path)))


def test_fixed_epoch_budget_and_last_checkpoint(toy, tmp_path):
    """early_stopping=false runs every epoch even with patience 1; checkpoint=last keeps the last epoch's
    weights, checkpoint=best (default) the best-on-validation ones, from the same training trajectory."""
    last = train(_train_cfg(toy, tmp_path / "last", "epochs=5", "patience=1", "early_stopping=false",
                            "checkpoint=last", "lr=0.2"), progress=False)
    assert len(last.history) == 5
    summary = json.loads((tmp_path / "last" / "summary.json").read_text())
    assert summary["epochs_run"] == 5 and summary["checkpoint"] == "last"
    st = torch.load(tmp_path / "last" / "train_state.pt", weights_only=True)
    w = _weights(tmp_path / "last" / "model.safetensors")
    for k, v in st["net"].items():
        assert torch.equal(w[f"net.{k}"], v), k
    # the same run, resumed from its state with checkpoint=best: the best epoch's weights
    best = train(_train_cfg(toy, tmp_path / "last", "epochs=5", "patience=1", "early_stopping=false", "lr=0.2"),
                 progress=False)
    wb = _weights(tmp_path / "last" / "model.safetensors")
    for k, v in st["best_net"].items():
        assert torch.equal(wb[f"net.{k}"], v), k
    assert best.best_epoch < 5  # (seeded) a lr this high overshoots: the best epoch is not the last one
    assert any(not torch.equal(wb[f"net.{k}"], w[f"net.{k}"]) for k in st["net"])


# --------------------------------------------------------------------------------------- video findings
def test_video_method_score_and_report(tmp_path):
    pairs = [PairScore("v1", "cello", 0.8, 30.0, 3), PairScore("v2", "cello", 0.6, 10.0, 1),
             PairScore("v3", "piano", 0.9, 0.0, 0), PairScore("v4", "piano", math.nan, 8.0, 2)]
    assert method_score(pairs, np.arange(4), "temporal_auc") == pytest.approx((0.7 + 0.9) / 2)
    assert method_score(pairs, np.arange(4), "spatial_px") == pytest.approx((40 / 4 + 8 / 2) / 2)
    assert method_score(pairs, np.array([0, 0, 2]), "temporal_auc") == pytest.approx((0.8 + 0.9) / 2)
    rng = np.random.default_rng(1)
    per_seed = {}
    for sd in (0, 1):
        base = [PairScore(f"v{i}", ["cello", "piano"][i % 2], float(a), 10.0, 1)
                for i, a in enumerate(rng.uniform(0.5, 0.7, 24))]
        per_seed[sd] = {"ST05 A": [replace(p, auc=p.auc + 0.15) for p in base], "ST05-weak A": base,
                        "S": [replace(p, auc=0.9) for p in base], "S-weak": [replace(p, auc=p.auc + 0.3) for p in base]}
    f = video_findings()[2]
    md = _write(f, tmp_path, per_seed, [0, 1], True, 300)
    out = json.loads(md.with_suffix(".json").read_text())
    check, main = out["claims"]
    assert check["check"] and check["claim"].startswith("normal sound model > weak")  # the manipulation check
    assert check["better"]["mean"] == pytest.approx(0.9)
    assert main["verdict"] == stats.HOLDS
    assert main["diff"]["mean"] == pytest.approx(0.15)
    assert "0.822 vs 0.67" in md.read_text() and "manipulation check" in md.read_text()


def test_run_names_ignore_placement_and_reuse_runs_named_the_old_way(toy, tmp_path):
    """A row's run directory is named after what it learns: threads, workers and device leave the name alone;
    a run named the pre-2026-12-07 way (placement hashed too) is reused; augmentation is part of the name."""
    from clip2frame.config import to_dict
    from clip2frame.experiments.runner import _digest

    row = find("1").recipe.rows[0]
    one, _ = row_config(row, _settings(toy, tmp_path))
    two, _ = row_config(row, replace(_settings(toy, tmp_path), overrides=_settings(toy, tmp_path).overrides
                                     + ("num_threads=2", "num_workers=1")))
    assert one.out == two.out and two.num_threads == 2 and one.num_threads != 2
    aug, _ = row_config(row, replace(_settings(toy, tmp_path), overrides=_settings(toy, tmp_path).overrides
                                     + ("augment.eq_db=6",)))
    assert aug.out != one.out
    old = to_dict(replace(two, out=""))
    old.pop("augment")
    legacy = Path(one.out).parent / (Path(one.out).name.rsplit("-", 1)[0] + f"-{_digest(old)}")
    assert legacy != Path(two.out)
    legacy.mkdir(parents=True)
    again, _ = row_config(row, replace(_settings(toy, tmp_path), overrides=_settings(toy, tmp_path).overrides
                                       + ("num_threads=2", "num_workers=1")))
    assert Path(again.out) == legacy and again.num_threads == 2
    Path(one.out).mkdir(parents=True)  # once a run has the new name, that one is used
    assert row_config(row, replace(_settings(toy, tmp_path), overrides=_settings(toy, tmp_path).overrides
                                   + ("num_threads=2", "num_workers=1")))[0].out == one.out


# ------------------------------------------------------------------------- patience with a cap (trainer)
def test_patience_with_a_cap_is_recorded_and_a_killed_run_stops_at_the_same_epoch(toy, tmp_path, monkeypatch):
    """early_stopping with ``patience`` and ``epochs`` as the cap: summary.json records how and when the run
    stopped; a run killed after epoch 2 resumes and stops at the same epoch with the same weights."""
    import clip2frame.train.trainer as trainer

    keys = ("epochs=15", "patience=2", "lr=0.2")
    whole = train(_train_cfg(toy, tmp_path / "whole", *keys), progress=False)
    s1 = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert s1["stopped_by"] == "patience" and s1["stop_epoch"] == len(whole.history) < 15
    assert s1["stop_epoch"] == s1["best_epoch"] + 2 and s1["epochs_cap"] == 15 and s1["patience"] == 2
    assert s1["best_in_last_10pct"] is False
    real, calls = trainer._validate, []

    def killed(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(trainer, "_validate", killed)
    with pytest.raises(KeyboardInterrupt):
        train(_train_cfg(toy, tmp_path / "killed", *keys), progress=False)
    monkeypatch.setattr(trainer, "_validate", real)
    assert torch.load(tmp_path / "killed" / "train_state.pt", weights_only=True)["epoch"] == 2
    resumed = train(_train_cfg(toy, tmp_path / "killed", *keys), progress=False)
    s2 = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert {k: s2[k] for k in ("stop_epoch", "best_epoch", "stopped_by")} == \
        {k: s1[k] for k in ("stop_epoch", "best_epoch", "stopped_by")}
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in whole.history]
    w1, w2 = _weights(tmp_path / "whole" / "model.safetensors"), _weights(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    # a run at its cap: stopped by the cap, its best epoch in the last 10% flagged
    capped = train(_train_cfg(toy, tmp_path / "cap", "epochs=2", "patience=5", "lr=0.01"), progress=False)
    s3 = json.loads((tmp_path / "cap" / "summary.json").read_text())
    assert s3["stopped_by"] == "cap" and s3["stop_epoch"] == 2
    assert s3["best_in_last_10pct"] == (capped.best_epoch == 2)


# ------------------------------------------------------------------------------ protocol of issue #25
def test_thesis9_labels():
    from clip2frame.data.readers.medleydb import MTT9_MAP
    from clip2frame.experiments.runner import thesis9_labels
    from clip2frame.tags import MUSIC_TAGS

    assert thesis9_labels(MUSIC_TAGS) == ["piano", "acoustic guitar", "clean electric guitar", "electric bass",
                                          "synthesizer", "drums"]   # no singers in the embedded corpus
    assert len(thesis9_labels(list(dict.fromkeys(MTT9_MAP.values())))) == 9
    assert thesis9_labels(["tone", "noise"]) == []


def test_the_scarce_set_has_its_stated_size_or_is_refused(toy, tmp_path):
    """The fitting half of 'shift' (6 toy clips) cannot give 40 training clips: a one-line error, not a
    smaller set (before: 5 + 1 clips and a warning)."""
    with pytest.raises(Clip2FrameError, match="needs 40 training clips"):
        make_scarce_manifest(_settings(toy, tmp_path, scarce_clips=40), toy)
    m = load_manifest(make_scarce_manifest(_settings(toy, tmp_path, scarce_clips=5), toy))
    assert len(m.split("train")) == 5 and len(m.split("validation")) == 1


def test_finding5_weak_row_uses_target_domain_thresholds(toy, tmp_path):
    s = replace(_settings(toy, tmp_path, scarce_clips=4), **THESIS_PROTOCOL)
    runner = Runner(s)
    row = find("5").recipe.rows[0]
    assert row.evaluation == "thresholds:target"
    cfg, _ = row_config(row, s)
    res = runner.evaluate(row, cfg, "target")
    shift = sorted(c.clip_id for c in toy.split("shift"))
    assert res["n_fit_clips"] == len(shift[0::2]) and res["n_eval_clips"] == len(shift[1::2])
    own = runner.evaluate(replace(row, evaluation="model"), cfg, "target")   # the source-domain thresholds
    assert res["frame_micro_f1"] != own["frame_micro_f1"]
    assert res["baseline_micro_f1"] == pytest.approx(own["baseline_micro_f1"])  # the same held-out frames


def test_finding8_is_the_thesis_claims_with_baselines():
    f8, f9, f10 = video_findings()
    texts = [c.text for c in f8.claims]
    assert "ST05 > OT03, temporal AUC" in texts and "OT03 < ST05, spatial distance (px)" in texts
    assert "OT03 > VT, temporal AUC" not in texts                       # not a thesis claim
    assert f8.claims[-1].check and "centre" in f8.claims[-1].text        # the baseline check, outside Holm
    for c in f8.claims[:-1]:
        assert c.trivial is not None and c.thesis_effect > 0
        if c.lower_is_better:
            assert c.trivial[0] == "centre guess"
    assert any(name == "sound alone" for name, _ in f9.claims[0].refs)
    assert f10.claims[0].check and not f10.claims[1].check


def test_a_claim_against_a_baseline_below_the_trivial_predictor_is_marked(tmp_path):
    """Finding 8 spatial: VT worse than the centre guess marks every claim against VT; finding 9: A·O·S level
    with the sound model alone is marked."""
    rng = np.random.default_rng(2)
    per_seed = {}
    for sd in (0, 1, 2):
        base = [PairScore(f"v{i}", ["cello", "piano"][i % 2], float(a), 40.0, 4)
                for i, a in enumerate(rng.uniform(0.5, 0.7, 20))]
        m = {k: base for k in ("VT A", "ST05 A", "SOT0503 A", "SOT0503 A*O")}
        m["OT03 A"] = [replace(p, px_sum=120.0) for p in base]           # 30 px
        m["VT A"] = [replace(p, px_sum=380.0) for p in base]             # 95 px
        m["centre"] = [replace(p, auc=math.nan, px_sum=168.0) for p in base]  # 42 px
        m["S"] = [replace(p, auc=0.93) for p in base]
        m["SOT0503 A*O*S"] = [replace(p, auc=0.92) for p in base]
        per_seed[sd] = m
    f8, f9, _ = video_findings()
    c8 = json.loads(_write(f8, tmp_path, per_seed, [0, 1, 2], True, 200).with_suffix(".json").read_text())["claims"]
    vt = next(c for c in c8 if c["claim"] == "OT03 < VT, spatial distance (px)")
    assert vt["verdict"] == stats.HOLDS and "does not beat centre guess" in vt["mark"]
    check = next(c for c in c8 if c["check"])
    assert check["verdict"] == stats.OPPOSITE                             # VT (95 px) loses to the centre (42 px)
    st = next(c for c in c8 if c["claim"] == "OT03 < ST05, spatial distance (px)")
    assert st["mark"] == ""                                               # ST05 (10 px) beats the centre
    c9 = json.loads(_write(f9, tmp_path, per_seed, [0, 1, 2], True, 200).with_suffix(".json").read_text())["claims"]
    assert c9[0]["verdict"] == stats.HOLDS and "not above sound alone" in c9[0]["mark"]


def test_findings_driver_smoke(toy, tmp_path, monkeypatch):
    """'clip2frame experiment findings' on the toy corpus (2 seeds, 2 epochs, findings 4 5 7), then the
    video findings' reports from made-up pair scores: the table renders with every column and only the
    verdict vocabulary; a second run trains nothing; RESULTS.md's block is replaced."""
    import clip2frame.experiments.runner as runner_mod
    from clip2frame.experiments.findings_report import COLUMNS, render_findings_table

    monkeypatch.setattr(runner_mod, "thesis9_labels", lambda labels: ["tone", "noise"])
    out, work = tmp_path / "results", tmp_path / "work"
    results = tmp_path / "RESULTS.md"
    results.write_text("# R\n\n<!-- findings-table:start -->\nold\n<!-- findings-table:end -->\n\ntail\n")
    args = ["experiment", "findings", "--only", "4,5,7", "--data", str(toy.root), "--seeds", "2", "--epochs", "2",
            "--preset", "tiny", "--scarce-clips", "4", "--no-video", "--out", str(out), "--work", str(work),
            "--results", str(results)] + [a for kv in TOY for a in ("--set", kv)]
    assert cli_main(args) == 0
    for k in ("4", "5", "7"):
        rep = json.loads((out / f"finding_{k}.json").read_text())
        assert all(c["verdict"] in stats.FINDING_VERDICTS for c in rep["claims"])
    evals = sorted(out.glob("seed*/runs/*/eval.json"))
    assert evals and not list(out.glob("seed*/runs/*/model.safetensors"))   # small files only
    assert all("training" in json.loads(p.read_text()) for p in evals)
    # every chapter-3 cell recomputes from the kept eval.json files
    rep4 = json.loads((out / "finding_4.json").read_text())
    c = rep4["claims"][0]
    row = find("4").recipe.rows[[i for i, r in enumerate(find("4").recipe.rows)
                                 if ("Threshold source", "target domain (part of shift)") in r.label][0]]
    s0 = replace(runner_mod.Settings(data=str(toy.root), out=work / "seed0", epochs=2, patience=20, seed=0,
                                  preset="tiny", overrides=("early_stopping=true", "checkpoint=best") + TOY,
                                  scarce_clips=4), **THESIS_PROTOCOL)
    run = Path(row_config(row, s0)[0].out).name
    kept = json.loads((out / "seed0" / "runs" / run / "eval.json").read_text())
    key = f"shift/thresholds:target {json.dumps(THESIS_PROTOCOL, sort_keys=True)}"
    assert c["values_better"][0] == pytest.approx(kept[key]["thesis9_frame_micro_f1"])
    # the video findings' reports (made-up pairs) join the table
    rng = np.random.default_rng(0)
    base = [PairScore(f"v{i}", "cello", float(a), 30.0, 1) for i, a in enumerate(rng.uniform(0.5, 0.8, 12))]
    names = ("VT A", "ST05 A", "OT03 A", "SOT0503 A", "SOT0503 A*O", "SOT0503 A*O*S", "ST05-weak A", "S",
             "S-weak", "centre")
    per_seed = {sd: {n: [replace(p, auc=min(1.0, p.auc + 0.02 * j + 0.01 * sd)) for p in base]
                     for j, n in enumerate(names)} for sd in (0, 1)}
    for f in video_findings():
        _write(f, out, per_seed, [0, 1], True, 100)
    table = render_findings_table(out)
    head = table.splitlines()[0]
    assert all(col in head for col in COLUMNS)
    lines = [ln for ln in table.splitlines() if ln.startswith("| ") and not ln.startswith("| #")]
    assert {ln.split(" | ")[0][2:] for ln in lines} == {"4", "5", "7", "8", "9", "10"}
    for ln in lines:
        cells = ln.strip("|").split(" | ")
        assert len(cells) == len(COLUMNS)
        assert any(f"**{v}**" in cells[6] for v in stats.FINDING_VERDICTS)
    assert "fixed budget" in table and "Verdicts: holds" in table
    text = results.read_text()
    assert "\nold\n" not in text and text.endswith("tail\n") and "| # | claim" in text
    # resumable: a second run trains nothing
    import clip2frame.experiments.runner as runner_mod

    monkeypatch.setattr(runner_mod, "train", lambda *a, **k: pytest.fail("retrained a finished run"))
    assert cli_main(args) == 0


def test_findings_driver_bad_input_is_one_line(toy, tmp_path, capsys):
    from clip2frame.experiments.findings_driver import update_results

    base = ["experiment", "findings", "--no-video", "--out", str(tmp_path / "o"), "--work", str(tmp_path / "w")]
    assert cli_main(base) == 2                                              # no --data
    assert cli_main(base + ["--data", str(toy.root), "--only", "11"]) == 2  # no finding 11
    err = capsys.readouterr().err
    assert "--data CORPUS" in err and "unknown finding" in err and "Traceback" not in err
    plain = tmp_path / "R.md"
    plain.write_text("# no block\n")
    with pytest.raises(Clip2FrameError, match="findings-table"):
        update_results(plain, "| table |\n")
    assert plain.read_text() == "# no block\n"


def test_video_runs_report_their_epochs(tmp_path):
    from clip2frame.experiments.video_findings import video_training_record

    run = tmp_path / "ST05"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,val_loss,best\n" + "".join(
        f"{e},0.{e},{int(e in (1, 3, 10))}\n" for e in range(1, 11)))
    assert video_training_record(run) == {"stop_epoch": 10, "best_epoch": 10, "stopped_by": "cap",
                                          "best_in_last_10pct": True}
    assert video_training_record(tmp_path / "none") == {}
    pairs = [PairScore(f"v{i}", "cello", 0.6 + 0.01 * i, 10.0, 1) for i in range(8)]
    per_seed = {0: {m: pairs for m in ("ST05 A", "ST05-weak A", "S", "S-weak")}}
    training = {0: {"ST05": video_training_record(run), "ST05-weak": {"stop_epoch": 10, "best_epoch": 4,
                                                                     "best_in_last_10pct": False}}}
    f10 = video_findings()[2]
    out = json.loads(_write(f10, tmp_path, per_seed, [0], True, 50, training).with_suffix(".json").read_text())
    main = out["claims"][1]
    assert main["stop_epochs"] == {"better": [10], "worse": [10]} and main["best_in_last_10pct"] == 1
    assert "fixed budget 10 (1 at the cap" in (tmp_path / "finding_10.md").read_text()
