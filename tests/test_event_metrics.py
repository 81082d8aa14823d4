"""Event-level metrics (clip2frame.eval.events: sed_eval / sed_scores_eval) on hand-computed cases, and the
up-sampled frame scoring of clip2frame.eval.protocol."""
from __future__ import annotations

import json

import numpy as np
import pytest

from clip2frame.cli import main as cli_main
from clip2frame.data.manifest import Event
from clip2frame.data.toy import make_toy_corpus
from clip2frame.data.events import events_to_frames
from clip2frame.eval.metrics import evaluate_frames
from clip2frame.eval.protocol import evaluate_split, split_outputs
from clip2frame.train.config import resolve_config
from clip2frame.train.data import load_split
from clip2frame.train.trainer import train

events = pytest.importorskip("clip2frame.eval.events")
try:
    events.reference_libraries()
except events.EventMetricsUnavailable:  # pragma: no cover - the test extra installs them
    pytest.skip("sed_eval / sed_scores_eval not installed", allow_module_level=True)

LABELS = ["piano", "drums"]


def _grid(active: dict[str, tuple[int, int]], n: int = 10, step: float = 0.5):
    """Scores on a 0.5-s grid of ``n`` frames: 0.9 on frames [a, b) of each label, 0.1 elsewhere."""
    s = np.full((n, len(LABELS)), 0.1)
    for lab, (a, b) in active.items():
        s[a:b, LABELS.index(lab)] = 0.9
    return np.arange(n + 1) * step, s


def test_event_f1_hand_computed():
    # piano: reference 0-4 s, estimated 0.5-3 s: onsets 0.5 s apart (within the 1-s collar), one match.
    # drums: reference 2-3 s, estimated 4-5 s: onsets 2 s apart, no match.
    ref = {"a.wav": [Event(0.0, 4.0, "piano"), Event(2.0, 3.0, "drums")]}
    scores = {"a.wav": _grid({"piano": (1, 6), "drums": (8, 10)})}
    r = events.event_metrics(ref, scores, [0.5, 0.5], LABELS, {"a.wav": 5.0}, psds=False)
    assert r["event_f1/piano"] == pytest.approx(1.0)
    assert r["event_f1/drums"] == pytest.approx(0.0)
    assert r["event_f1_micro"] == pytest.approx(0.5)  # 1 TP of 2 estimated, 2 reference
    assert r["event_f1_macro"] == pytest.approx(0.5)
    # a threshold above every score: no output at all scores 0 (not NaN)
    r = events.event_metrics(ref, scores, [0.95, 0.95], LABELS, {"a.wav": 5.0}, psds=False)
    assert r["event_f1_micro"] == pytest.approx(0.0) and r["event_f1_macro"] == pytest.approx(0.0)


def test_event_collar_is_one_second_on_onsets_only():
    ref = {"a.wav": [Event(0.0, 4.0, "piano")]}
    near = events.event_metrics(ref, {"a.wav": _grid({"piano": (2, 3)})}, [0.5, 0.5], LABELS,
                                {"a.wav": 5.0}, psds=False)  # onset 1.0 s late, offset 2.5 s early: a match
    far = events.event_metrics(ref, {"a.wav": _grid({"piano": (3, 8)})}, [0.5, 0.5], LABELS,
                               {"a.wav": 5.0}, psds=False)  # onset 1.5 s late: no match
    assert near["event_f1/piano"] == pytest.approx(1.0)
    assert far["event_f1/piano"] == pytest.approx(0.0)


def test_psds_perfect_scores_and_ranking():
    rng = np.random.default_rng(0)
    ref, perfect, noisy, durations = {}, {}, {}, {}
    for i in range(6):
        f = f"f{i}.wav"
        a, b = sorted(rng.choice(np.arange(1, 19), 2, replace=False))
        c = int(rng.integers(0, 15))
        ref[f] = [Event(a * 0.5, b * 0.5, "piano"), Event(c * 0.5, (c + 4) * 0.5, "drums")]
        perfect[f] = _grid({"piano": (a, b), "drums": (c, c + 4)}, n=20)
        bounds, s = perfect[f]
        noisy[f] = (bounds, np.clip(s + rng.normal(0, 0.5, s.shape), 0, 1))
        durations[f] = 10.0
    p = events.psds_score(ref, perfect, LABELS, durations, **events.PSDS1)
    q = events.psds_score(ref, noisy, LABELS, durations, **events.PSDS1)
    assert p == pytest.approx(1.0)
    assert 0.0 <= q < 0.9
    assert np.isnan(events.psds_score({"x": []}, {"x": perfect["f0.wav"]}, LABELS, {"x": 10.0}))


def test_missing_scores_are_a_one_line_error():
    with pytest.raises(events.Clip2FrameError, match="b.wav: no frame scores"):
        events.event_metrics({"b.wav": []}, {}, [0.5, 0.5], LABELS, {"b.wav": 1.0})


# ------------------------------------------------------------------------ protocol: up-sampled scoring, events
TOY = ["preset=tiny", "crop_frames=0", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ev")
    toy = make_toy_corpus(tmp / "toy", seed=3)
    res = train(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp / 'run'}", "epochs=6"]),
                progress=False)
    t = res.tagger
    data = load_split(toy, "test", t.feature_spec, list(t.labels), total_stride=t.total_stride, run_dir=tmp)
    return toy, res, data


def test_upsampled_scoring_is_input_frame_truth_against_repeated_scores(trained):
    _, res, data = trained
    t = res.tagger
    labels, s = list(t.labels), t.total_stride
    got = evaluate_split(t.net, t.standardizer, data, labels, t.thresholds, spec=t.feature_spec,
                         resolution="upsampled")
    _, frames = split_outputs(t.net, t.standardizer, data)
    hop = t.feature_spec.hop_length / t.feature_spec.sr
    scores, truth = [], []
    for fr, f, ev in zip(frames, data.feats, data.events):
        T = f.shape[-1]
        scores.append(np.repeat(fr, s, axis=0)[:T])
        truth.append(events_to_frames([e for e in ev if e.label in labels], labels, np.arange(T + 1) * hop))
    ref = evaluate_frames(np.concatenate(truth), np.concatenate(scores), t.thresholds, labels=labels)
    for k in ("frame_micro_f1", "frame_macro_f1", "frame_auc", "baseline_micro_f1"):
        assert got[k] == pytest.approx(ref[k], abs=1e-12)
    model = evaluate_split(t.net, t.standardizer, data, labels, t.thresholds, spec=t.feature_spec)
    assert got["clip_auc_tag"] == model["clip_auc_tag"]
    assert got["frame_micro_f1"] != model["frame_micro_f1"]  # truth at 32 ms is not majority-vote truth


def test_protocol_event_metrics_and_evaluate_command(trained, capsys):
    toy, res, data = trained
    t = res.tagger
    r = evaluate_split(t.net, t.standardizer, data, list(t.labels), t.thresholds, spec=t.feature_spec,
                       events=True)
    for k in ("segment_f1", "segment_macro_f1", "event_f1_micro", "event_f1_macro", "psds"):
        assert 0.0 <= r[k] <= 1.0, k
    # the same numbers through the library directly
    _, frames = split_outputs(t.net, t.standardizer, data)
    hop = t.feature_spec.hop_length / t.feature_spec.sr
    step = hop * t.total_stride
    ref = {c: list(ev) for c, ev in zip(data.clip_ids, data.events)}
    dur = {c: f.shape[-1] * hop for c, f in zip(data.clip_ids, data.feats)}
    sc = {c: (np.minimum(np.arange(fr.shape[0] + 1) * step, dur[c]), fr) for c, fr in zip(data.clip_ids, frames)}
    direct = events.event_metrics(ref, sc, t.thresholds, list(t.labels), dur)
    assert direct["event_f1_micro"] == pytest.approx(r["event_f1_micro"])
    assert direct["psds"] == pytest.approx(r["psds"])
    capsys.readouterr()
    assert cli_main(["evaluate", "--model", str(res.model_path), "--data", str(toy.root), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["test"]
    assert got["event_f1_micro"] == pytest.approx(r["event_f1_micro"])
    assert cli_main(["evaluate", "--model", str(res.model_path), "--data", str(toy.root), "--no-events",
                     "--resolution", "upsampled"]) == 0
    out = capsys.readouterr().out
    assert "psds" not in out and "frame_micro_f1" in out and "segment_f1" in out
