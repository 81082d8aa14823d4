"""clip2frame.eval.metrics against scikit-learn, sed_eval and sed_scores_eval, plus hand-computed cases."""
from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest

from clip2frame.data.manifest import Event
from clip2frame.errors import Clip2FrameError
from clip2frame.eval import (
    MetricInputError,
    MetricWarning,
    all_positive_baseline,
    average_precision,
    clip_auc_ap,
    evaluate,
    evaluate_clips,
    evaluate_frames,
    frame_auc,
    frame_prf,
    roc_auc,
    validate_scores,
)
from clip2frame.eval.segments import segment_f1
from clip2frame.data.events import binary_to_events, events_to_frames
from clip2frame.results.activations import FrameActivations

skm = pytest.importorskip("sklearn.metrics")


def _import_dcase_refs():
    """sed_eval / sed_scores_eval, or skip. dcase_util (their dependency) imports ``pkg_resources`` at
    module level but only calls it in functions we never use; setuptools >= 81 no longer ships it, so
    a stub stands in when it is missing."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        sys.modules.setdefault("pkg_resources", types.ModuleType("pkg_resources"))
    sed_eval = pytest.importorskip("sed_eval")
    sse = pytest.importorskip("sed_scores_eval")
    return sed_eval, sse


def _recording(fn, *args, **kwargs):
    """Call ``fn`` and return its result and the messages of the MetricWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, MetricWarning)]


def _tied_scores(rng, shape, decimals=1):
    return np.round(rng.random(shape), decimals)


def _random_truth(rng, shape, p=None):
    p = rng.uniform(0.1, 0.6) if p is None else p
    return rng.random(shape) < p


# ------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize("y_true, y_score, match", [
    (np.zeros(3), np.zeros(4), "y_score: shape"),
    (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), "y_true: expected shape"),
    (np.array([0, 2, 1]), np.zeros(3), "y_true: expected binary"),
    (np.array([0, 1, 1]), np.array([0.1, np.nan, 0.3]), "y_score: 1 values are NaN"),
    (np.array([0, 1, 1]), np.array([0.1, np.inf, 0.3]), "NaN or infinite"),
    (np.array(["a", "b"]), np.zeros(2), "y_true: expected a binary"),
])
def test_validate_scores_rejects_bad_input(y_true, y_score, match):
    with pytest.raises(MetricInputError, match=match) as e:
        validate_scores(y_true, y_score)
    # one class, two families: the CLI's error handler and numpy-style ValueError handlers both catch it
    assert isinstance(e.value, Clip2FrameError) and isinstance(e.value, ValueError)


def test_validate_scores_converts():
    t, s = validate_scores([[0, 1], [1, 0]], np.array([[1, 2], [3, 4]], dtype=np.int32))
    assert t.dtype == bool and s.dtype == np.float64 and t.shape == s.shape == (2, 2)
    # scores may lie outside [0, 1] (logits)
    validate_scores([0, 1], [-7.5, 12.0])


# ------------------------------------------------------------------------------- roc_auc / average_precision


def test_roc_auc_and_ap_hand_computed():
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    # pairs (pos > neg): 0.35>0.1, 0.8>0.1, 0.8>0.4 -> 3 of 4
    assert roc_auc(y, s) == pytest.approx(0.75)
    # ranking 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 1/2·(1 + 2/3)
    assert average_precision(y, s) == pytest.approx(5 / 6)
    # a tied positive/negative pair counts 1/2; tied scores form one operating point for AP
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([1, 0, 1], [0.9, 0.5, 0.5]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


@pytest.mark.parametrize("seed", range(8))
def test_roc_auc_and_ap_match_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    y = _random_truth(rng, n)
    y[:2] = [True, False]
    s = _tied_scores(rng, n, decimals=int(rng.integers(1, 3)))
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_roc_auc_and_ap_degenerate():
    with pytest.warns(MetricWarning, match="no positives"):
        assert np.isnan(average_precision([0, 0], [0.1, 0.2]))
    with pytest.warns(MetricWarning, match="AUC undefined"):
        assert np.isnan(roc_auc([0, 0], [0.1, 0.2]))
    with pytest.warns(MetricWarning, match="AUC undefined"):
        assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))
    with pytest.warns(MetricWarning):
        assert np.isnan(roc_auc([], []))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert average_precision([1, 1], [0.1, 0.2]) == 1.0  # no negatives: every threshold is exact


# ------------------------------------------------------------------------------------------ clip level


@pytest.mark.parametrize("seed", range(4))
def test_clip_auc_ap_matches_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    Y = _random_truth(rng, (120, 9), p=0.3)
    S = _tied_scores(rng, Y.shape, decimals=2)
    rows = np.arange(120)
    Y[rows, rows % 9] = True  # every clip and every tag has a positive ...
    Y[rows, (rows + 1) % 9] = False  # ... and a negative
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetricWarning)
        r = clip_auc_ap(Y, S)
    np.testing.assert_allclose(r["auc_per_tag_values"], skm.roc_auc_score(Y, S, average=None), atol=1e-12)
    np.testing.assert_allclose(r["ap_per_tag_values"], skm.average_precision_score(Y, S, average=None),
                               atol=1e-12)
    assert r["auc_per_tag"] == pytest.approx(skm.roc_auc_score(Y, S, average="macro"), abs=1e-12)
    assert r["ap_per_tag"] == pytest.approx(skm.average_precision_score(Y, S, average="macro"), abs=1e-12)
    # per clip = per-tag metric of the transposed problem (sklearn's average='samples' for AP)
    assert r["auc_per_clip"] == pytest.approx(skm.roc_auc_score(Y.T, S.T, average="macro"), abs=1e-12)
    assert r["ap_per_clip"] == pytest.approx(skm.average_precision_score(Y, S, average="samples"), abs=1e-12)
    assert r["n_tags"] == 9 and r["n_clips"] == 120


def test_clip_auc_ap_degenerate_tags_and_clips_are_left_out():
    rng = np.random.default_rng(7)
    Y = _random_truth(rng, (60, 5), p=0.4)
    S = rng.random(Y.shape)
    Y[5, :] = True   # a clip with every tag (but tag 2, below)
    Y[6, :] = False  # a clip with no tag
    Y[:, 2] = False  # a tag never present
    r, msgs = _recording(clip_auc_ap, Y, S)
    assert len(msgs) == 2  # one for the tags, one for the clips (AP shares AUC's exclusions)
    assert "AUC per tag: undefined for 1 of 5 tags (indices 2)" in msgs[0]
    assert "AUC per clip: undefined for" in msgs[1]
    assert np.isnan(r["auc_per_tag_values"][2]) and np.isnan(r["ap_per_tag_values"][2])
    keep = [0, 1, 3, 4]
    assert r["auc_per_tag"] == pytest.approx(skm.roc_auc_score(Y[:, keep], S[:, keep], average="macro"))
    assert r["ap_per_tag"] == pytest.approx(skm.average_precision_score(Y[:, keep], S[:, keep]))
    assert np.isnan(r["auc_per_clip_values"][6]) and np.isnan(r["ap_per_clip_values"][6])
    ok = ~np.isnan(r["auc_per_clip_values"])
    expect = np.mean([skm.roc_auc_score(Y[i], S[i]) for i in np.flatnonzero(ok)])
    assert r["auc_per_clip"] == pytest.approx(expect)
    assert r["n_tags"] == 4


def test_clip_auc_ap_all_degenerate_and_empty_give_nan_not_crash():
    with pytest.warns(MetricWarning, match="undefined for all"):
        r = clip_auc_ap(np.zeros((4, 3), bool), np.random.default_rng(0).random((4, 3)))
    assert all(np.isnan(r[k]) for k in ("auc_per_tag", "ap_per_tag", "auc_per_clip", "ap_per_clip"))
    with pytest.warns(MetricWarning):
        r = clip_auc_ap(np.zeros((0, 3), bool), np.zeros((0, 3)))
    assert np.isnan(r["auc_per_tag"]) and r["auc_per_tag_values"].shape == (3,)
    assert r["auc_per_clip_values"].shape == (0,)


@pytest.mark.filterwarnings("ignore::clip2frame.eval.MetricWarning")  # clips without a negative tag
def test_clip_metrics_match_sed_scores_eval_clip_based():
    """sed_scores_eval's clip-based AUROC / AP on one-frame score tables. Its ROC is a staircase, which
    differs from the trapezoid (scikit-learn, ours) when positive and negative scores tie, so the AUC
    comparison uses untied scores; AP is compared with ties."""
    _, sse = _import_dcase_refs()
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    rng = np.random.default_rng(11)
    labels = ["a", "b", "c", "d"]
    Y = _random_truth(rng, (50, 4), p=0.35)
    Y[0], Y[1] = True, False
    for S, check_auc in ((rng.random(Y.shape), True), (_tied_scores(rng, Y.shape), False)):
        scores = {f"c{i}": create_score_dataframe(S[i:i + 1], np.array([0.0, 1.0]), labels) for i in range(50)}
        tags = {f"c{i}": [labels[k] for k in range(4) if Y[i, k]] for i in range(50)}
        r = clip_auc_ap(Y, S)
        ap, *_ = sse.clip_based.average_precision(scores, tags)
        np.testing.assert_allclose(r["ap_per_tag_values"], [ap[lab] for lab in labels], atol=1e-12)
        if check_auc:
            auc, *_ = sse.clip_based.auroc(scores, tags)
            np.testing.assert_allclose(r["auc_per_tag_values"], [auc[lab] for lab in labels], atol=1e-12)


# ----------------------------------------------------------------------------------------- frame level


def test_frame_prf_hand_computed():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], bool)
    p = np.array([[1, 1], [0, 0], [0, 1], [1, 0]], bool)
    r = frame_prf(y, p)
    # tag 0: tp 1, fp 1, fn 1 -> P = R = F = 1/2; tag 1: tp 1, fp 1, fn 0 -> P 1/2, R 1, F 2/3
    np.testing.assert_allclose(r["f1_values"], [0.5, 2 / 3])
    np.testing.assert_array_equal(r["tp"], [1, 1])
    assert r["micro_precision"] == pytest.approx(2 / 4)
    assert r["micro_recall"] == pytest.approx(2 / 3)
    assert r["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    assert r["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)


@pytest.mark.parametrize("seed", range(5))
def test_frame_prf_matches_sklearn(seed):
    rng = np.random.default_rng(200 + seed)
    Y = _random_truth(rng, (500, 7), p=0.3)
    P = _random_truth(rng, (500, 7), p=0.4)
    Y[:, 3] = False   # predicted but never present: F1 0, included
    P[:, 4] = False   # present but never predicted: P 0 by convention, F1 0, included
    r = frame_prf(Y, P)
    for avg in ("micro", "macro"):
        p, rc, f, _ = skm.precision_recall_fscore_support(Y, P, average=avg, zero_division=0)
        assert (r[f"{avg}_precision"], r[f"{avg}_recall"], r[f"{avg}_f1"]) == pytest.approx((p, rc, f), abs=1e-12)
    p, rc, f, _ = skm.precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    np.testing.assert_allclose(r["precision_values"], p, atol=1e-12)
    np.testing.assert_allclose(r["recall_values"], rc, atol=1e-12)
    np.testing.assert_allclose(r["f1_values"], f, atol=1e-12)
    assert r["f1_values"][3] == 0 and r["f1_values"][4] == 0


def test_frame_prf_tag_with_nothing_to_score_is_left_out():
    rng = np.random.default_rng(3)
    Y = _random_truth(rng, (300, 5))
    P = _random_truth(rng, (300, 5))
    Y[:, 1] = P[:, 1] = False
    with pytest.warns(MetricWarning, match="undefined for 1 of 5 tags"):
        r = frame_prf(Y, P)
    assert np.isnan(r["f1_values"][1]) and np.isnan(r["precision_values"][1])
    keep = [0, 2, 3, 4]
    p, rc, f, _ = skm.precision_recall_fscore_support(Y[:, keep], P[:, keep], average="macro", zero_division=0)
    assert (r["macro_precision"], r["macro_recall"], r["macro_f1"]) == pytest.approx((p, rc, f))
    # the empty tag adds nothing to micro counts
    p, rc, f, _ = skm.precision_recall_fscore_support(Y, P, average="micro", zero_division=0)
    assert r["micro_f1"] == pytest.approx(f)


def test_frame_prf_empty_and_all_silent():
    with pytest.warns(MetricWarning):
        r = frame_prf(np.zeros((0, 3), bool), np.zeros((0, 3), bool))
    assert np.isnan(r["micro_f1"]) and np.isnan(r["macro_f1"])
    r, msgs = _recording(frame_prf, np.zeros((10, 2), bool), np.zeros((10, 2), bool))
    assert np.isnan(r["micro_f1"]) and np.isnan(r["macro_f1"])
    assert "no positive frames and no predictions" in msgs[0] and "undefined for all 2 tags" in msgs[1]
    with pytest.raises(MetricInputError, match="y_pred: shape"):
        frame_prf(np.zeros((3, 2)), np.zeros((3, 3)))


def test_frame_auc_matches_sklearn_per_tag():
    rng = np.random.default_rng(5)
    Y = _random_truth(rng, (2000, 6))
    S = _tied_scores(rng, Y.shape, decimals=2)
    Y[:, 5] = True
    with pytest.warns(MetricWarning, match="undefined for 1 of 6 tags"):
        r = frame_auc(Y, S)
    np.testing.assert_allclose(r["auc_values"][:5], skm.roc_auc_score(Y[:, :5], S[:, :5], average=None),
                               atol=1e-12)
    assert np.isnan(r["auc_values"][5]) and r["n_tags"] == 5
    assert r["auc"] == pytest.approx(np.mean(r["auc_values"][:5]))


def test_frame_auc_column_blocks_agree(monkeypatch):
    """The memory-bounded block path gives the same values as one block."""
    import clip2frame.eval.metrics as m

    rng = np.random.default_rng(8)
    Y = _random_truth(rng, (300, 7))
    S = _tied_scores(rng, Y.shape)
    whole = m._auc_columns(Y, S), m._ap_columns(Y, S)
    monkeypatch.setattr(m, "_BLOCK_ELEMENTS", 600)  # 2 columns per block
    np.testing.assert_allclose(m._auc_columns(Y, S), whole[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(m._ap_columns(Y, S), whole[1], rtol=0, atol=1e-15)


def test_all_positive_baseline():
    rng = np.random.default_rng(9)
    Y = _random_truth(rng, (400, 4))
    Y[:, 2] = False
    r = all_positive_baseline(Y)
    p, rc, f, _ = skm.precision_recall_fscore_support(Y, np.ones_like(Y), average="micro", zero_division=0)
    assert (r["micro_precision"], r["micro_recall"], r["micro_f1"]) == pytest.approx((p, rc, f))
    p, rc, f, _ = skm.precision_recall_fscore_support(Y, np.ones_like(Y), average="macro", zero_division=0)
    assert r["macro_f1"] == pytest.approx(f)
    np.testing.assert_allclose(r["precision_values"], Y.mean(0))
    assert r["f1_values"][2] == 0.0 and r["micro_recall"] == 1.0


def test_frame_metrics_match_sed_scores_eval_segment_based():
    """With 1-s frames and 1-s segments, sed_scores_eval's segment-based AUROC equals our frame AUC and
    its F-score at a threshold equals ``frame_prf`` (sed_scores_eval fires on score > threshold, ours on
    >=, so the threshold is one no score equals)."""
    _, sse = _import_dcase_refs()
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    rng = np.random.default_rng(12)
    labels, T, files = ["a", "b", "c"], 25, ["f0", "f1", "f2"]
    Y = _random_truth(rng, (T * len(files), 3), p=0.4)
    edges = np.arange(T + 1, dtype=float)
    truth = {f: [(e.onset, e.offset, e.label) for k, lab in enumerate(labels)
                 for e in binary_to_events(Y[j * T:(j + 1) * T, k], edges, lab)]
             for j, f in enumerate(files)}
    durations = {f: float(T) for f in files}

    def tables(S):
        return {f: create_score_dataframe(S[j * T:(j + 1) * T], edges, labels) for j, f in enumerate(files)}

    S = rng.random(Y.shape)  # untied, for the AUC (staircase vs trapezoid, see the clip-level test)
    auc, *_ = sse.segment_based.auroc(tables(S), truth, durations, segment_length=1.0)
    np.testing.assert_allclose(frame_auc(Y, S)["auc_values"], [auc[lab] for lab in labels], atol=1e-12)

    S = _tied_scores(rng, Y.shape)
    f, p, r, _ = sse.segment_based.fscore(tables(S), truth, durations, threshold=0.55, segment_length=1.0)
    ours = frame_prf(Y, S >= 0.55)
    np.testing.assert_allclose(ours["f1_values"], [f[lab] for lab in labels], atol=1e-12)
    assert ours["micro_f1"] == pytest.approx(f["micro_average"])
    assert ours["macro_f1"] == pytest.approx(f["macro_average"])
    assert ours["micro_precision"] == pytest.approx(p["micro_average"])
    assert ours["micro_recall"] == pytest.approx(r["micro_average"])


# ------------------------------------------------------------------------------------ events_to_frames


def test_events_to_frames_half_overlap_and_any_overlap():
    b = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 4.5])  # last frame clipped to the audio duration
    ev = [Event(0.4, 1.6, "x"), Event(3.9, 4.5, "y"), Event(2.0, 2.5, "x")]
    a = events_to_frames(ev, ["x", "y"], b)
    # x covers 0.6 of frame 0, 0.6 of frame 1, 0.5 of frame 2 (>= half) -> on, on, on
    np.testing.assert_array_equal(a[:, 0], [1, 1, 1, 0, 0])
    # y covers 0.1 of frame 3 (off) and all of the 0.5-s frame 4 (on)
    np.testing.assert_array_equal(a[:, 1], [0, 0, 0, 0, 1])
    any_ = events_to_frames(ev, ["x", "y"], b, min_overlap=0.0)
    np.testing.assert_array_equal(any_[:, 1], [0, 0, 0, 1, 1])
    full = events_to_frames(ev, ["x", "y"], b, min_overlap=1.0)
    np.testing.assert_array_equal(full[:, 0], [0, 0, 0, 0, 0])


def test_events_to_frames_merges_same_label_events():
    b = np.arange(4, dtype=float)
    # two events, each covering 0.4 of frame 1 -> their union covers 0.8
    ev = [Event(0.0, 1.4, "x"), Event(1.6, 3.0, "x"), Event(1.0, 1.2, "x")]
    np.testing.assert_array_equal(events_to_frames(ev, ["x"], b)[:, 0], [1, 1, 1])
    assert events_to_frames([], ["x", "y"], b).shape == (3, 2)
    assert events_to_frames([Event(0.5, 0.5, "x")], ["x"], b, min_overlap=0.0).sum() == 0


def test_events_to_frames_overlapping_same_label_events_count_once():
    # The case where the readers' former copy (which summed the events' overlaps) and this one differed:
    # [0, 0.3) and [0.1, 0.3) together cover 0.3 s of the 1-s frame, not 0.5 s -> off at half overlap.
    ev = [Event(0.0, 0.3, "x"), Event(0.1, 0.3, "x")]
    assert events_to_frames(ev, ["x"], [0.0, 1.0]).tolist() == [[False]]
    assert events_to_frames(ev, ["x"], n_frames=1, frame_duration_s=1.0).tolist() == [[False]]
    assert events_to_frames(ev, ["x"], [0.0, 1.0], min_overlap=0.3).tolist() == [[True]]


def test_events_to_frames_regular_grid_equals_boundaries():
    ev = [Event(0.04, 0.24, "x"), Event(0.3, 0.41, "y"), Event(0.36, 0.5, "x")]
    grid = events_to_frames(ev, ["x", "y"], n_frames=5, frame_duration_s=0.1)
    edges = events_to_frames(ev, ["x", "y"], np.arange(6) * 0.1)
    np.testing.assert_array_equal(grid, edges)
    assert grid[:, 0].tolist() == [True, True, False, False, True]
    assert grid[:, 1].tolist() == [False, False, False, True, False]
    with pytest.raises(MetricInputError, match="frame_duration_s"):
        events_to_frames(ev, ["x", "y"], n_frames=5, frame_duration_s=0.0)
    with pytest.raises(MetricInputError, match="not both"):
        events_to_frames(ev, ["x", "y"], [0.0, 1.0], n_frames=1, frame_duration_s=1.0)
    with pytest.raises(MetricInputError, match="boundaries"):
        events_to_frames(ev, ["x", "y"])


def test_events_to_frames_inverts_to_events():
    rng = np.random.default_rng(4)
    T, labels = 80, ["a", "b", "c"]
    d = 0.512
    boundaries = np.minimum(np.arange(T + 1) * d, T * d - 0.2)  # clipped last frame
    probs = rng.random((T, 3)) ** 2
    acts = FrameActivations(labels, probs, boundaries, np.full(3, 0.5))
    back = events_to_frames(acts.to_events(), labels, boundaries)
    np.testing.assert_array_equal(back, acts.active())


def test_events_to_frames_rejects_bad_input():
    with pytest.raises(MetricInputError, match="not in labels"):
        events_to_frames([Event(0, 1, "z")], ["x"], [0.0, 1.0])
    with pytest.raises(MetricInputError, match="non-decreasing"):
        events_to_frames([], ["x"], [0.0, 2.0, 1.0])
    with pytest.raises(MetricInputError, match="onset"):
        events_to_frames([Event(2.0, 1.0, "x")], ["x"], [0.0, 1.0])
    with pytest.raises(MetricInputError, match="min_overlap"):
        events_to_frames([], ["x"], [0.0, 1.0], min_overlap=1.5)


# ------------------------------------------------------------------------------------------ segment F1


def _random_events(rng, labels, duration, n):
    out = []
    for _ in range(n):
        on = float(np.round(rng.uniform(0, duration - 0.5), 3))
        off = float(np.round(min(duration, on + rng.exponential(2.0) + 0.05), 3))
        out.append(Event(on, off, str(rng.choice(labels))))
    return out


def _sed_eval_segment(sed_eval, reference, estimated, labels, durations=None, segment_s=1.0,
                      empty_system_output_handling=None):
    m = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=list(labels), time_resolution=segment_s)
    # sed_eval 0.2.1's SegmentBasedMetrics does not pass this option through its constructor
    m.empty_system_output_handling = empty_system_output_handling
    for f in dict.fromkeys([*reference, *estimated]):
        def dicts(evs):
            return [{"filename": f, "event_onset": e.onset, "event_offset": e.offset, "event_label": e.label}
                    for e in evs]
        m.evaluate(dicts(reference.get(f, [])), dicts(estimated.get(f, [])),
                   evaluated_length_seconds=None if durations is None else durations[f])
    return m.results()


@pytest.mark.parametrize("seed, with_durations, segment_s", [
    (0, True, 1.0), (1, False, 1.0), (2, True, 0.5), (3, False, 1.0), (4, True, 1.0)])
def test_segment_f1_matches_sed_eval(seed, with_durations, segment_s):
    sed_eval, _ = _import_dcase_refs()
    rng = np.random.default_rng(300 + seed)
    labels = ["bass", "drums", "piano", "vocal"]
    durations = {f"song{i}.wav": float(np.round(rng.uniform(8, 40), 2)) for i in range(5)}
    reference = {f: _random_events(rng, labels[:3], d, int(rng.integers(0, 9))) for f, d in durations.items()}
    estimated = {f: _random_events(rng, labels, d, int(rng.integers(0, 9))) for f, d in durations.items()}
    estimated.pop("song4.wav")  # a file the system said nothing about
    if with_durations:  # an event running past the given duration is cut there
        reference["song0.wav"].append(Event(durations["song0.wav"] - 1.0, durations["song0.wav"] + 3.2, "bass"))
    kw = dict(durations=durations if with_durations else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        ours = segment_f1(reference, estimated, labels=labels, segment_s=segment_s, **kw)
    ref = _sed_eval_segment(sed_eval, reference, estimated, labels, segment_s=segment_s, **kw)
    o = ref["overall"]
    assert ours["micro_f1"] == pytest.approx(o["f_measure"]["f_measure"], abs=1e-12)
    assert ours["micro_precision"] == pytest.approx(o["f_measure"]["precision"], abs=1e-12)
    assert ours["micro_recall"] == pytest.approx(o["f_measure"]["recall"], abs=1e-12)
    for k in ("error_rate", "substitution_rate", "deletion_rate", "insertion_rate"):
        assert ours[k] == pytest.approx(o["error_rate"][k], abs=1e-12), k
    cwa = ref["class_wise_average"]
    assert ours["macro_f1"] == pytest.approx(cwa["f_measure"]["f_measure"], abs=1e-12, nan_ok=True)
    assert ours["macro_error_rate"] == pytest.approx(cwa["error_rate"]["error_rate"], abs=1e-12)
    cw = [ref["class_wise"][lab]["f_measure"]["f_measure"] for lab in labels]
    np.testing.assert_allclose(ours["f1_values"], cw, atol=1e-12)
    assert np.isnan(ours["f1_values"][3])  # 'vocal' never in the reference: NaN as in sed_eval


def test_segment_f1_zero_score_option_matches_sed_eval():
    sed_eval, _ = _import_dcase_refs()
    labels = ["a", "b"]
    reference = {"x": [Event(0.0, 3.0, "a"), Event(1.0, 2.0, "b")]}
    estimated = {"x": [Event(0.5, 1.5, "a")]}  # 'b' never output
    with pytest.warns(MetricWarning, match="b"):
        nan_mode = segment_f1(reference, estimated, labels=labels, durations={"x": 4.0})
    zero_mode = segment_f1(reference, estimated, labels=labels, durations={"x": 4.0}, empty_output="zero")
    ref = _sed_eval_segment(sed_eval, reference, estimated, labels, durations={"x": 4.0},
                            empty_system_output_handling="zero_score")
    assert zero_mode["macro_f1"] == pytest.approx(ref["class_wise_average"]["f_measure"]["f_measure"])
    # a: ref segments 0,1,2; est 0,1 -> P 1, R 2/3, F 0.8. b missed: F1 NaN (left out) or 0
    assert nan_mode["macro_f1"] == pytest.approx(0.8)
    assert zero_mode["macro_f1"] == pytest.approx(0.4)


def test_segment_f1_hand_computed():
    ref = {"f": [Event(0.2, 2.5, "a")]}
    est = {"f": [Event(1.1, 1.9, "a"), Event(3.2, 3.4, "a")]}
    r = segment_f1(ref, est, labels=["a"], durations={"f": 5.0})
    # ref segments 0, 1, 2; est segments 1, 3 -> tp 1, fp 1, fn 2
    assert (r["micro_precision"], r["micro_recall"], r["micro_f1"]) == pytest.approx((0.5, 1 / 3, 0.4))
    assert r["n_segments"] == 5 and r["n_files"] == 1
    # one label: every segment error is a deletion or an insertion, ER = (2 + 1) / 3
    assert r["error_rate"] == pytest.approx(1.0)


def test_segment_f1_errors_and_degenerate():
    with pytest.raises(MetricInputError, match="reference: f: event label 'z'"):
        segment_f1({"f": [Event(0, 1, "z")]}, {}, labels=["a"])
    with pytest.raises(MetricInputError, match="durations: no duration for file 'g'"):
        segment_f1({"f": []}, {"g": []}, labels=["a"], durations={"f": 1.0})
    with pytest.warns(MetricWarning):
        r = segment_f1({}, {}, labels=["a"])
    assert np.isnan(r["micro_f1"]) and np.isnan(r["macro_f1"]) and r["n_segments"] == 0


# ------------------------------------------------------------------------------------ named-score wrappers


@pytest.mark.filterwarnings("ignore::clip2frame.eval.MetricWarning")  # clips without a negative tag
def test_evaluate_wrappers_return_flat_named_floats():
    rng = np.random.default_rng(21)
    Y = _random_truth(rng, (300, 4))
    S = rng.random(Y.shape)
    thr = np.array([0.3, 0.5, 0.7, 0.9])
    fr = evaluate_frames(Y, S, thr, labels=["a", "b", "c", "d"])
    assert fr["frame_micro_f1"] == pytest.approx(skm.f1_score(Y, S >= thr, average="micro"))
    assert fr["frame_macro_f1"] == pytest.approx(skm.f1_score(Y, S >= thr, average="macro"))
    assert fr["frame_auc"] == pytest.approx(skm.roc_auc_score(Y, S))
    assert fr["frame_f1/c"] == pytest.approx(skm.f1_score(Y[:, 2], S[:, 2] >= 0.7))
    assert fr["baseline_micro_f1"] == pytest.approx(skm.f1_score(Y, np.ones_like(Y), average="micro"))
    cl = evaluate_clips(Y, S)
    assert set(cl) == {"clip_auc_tag", "clip_ap_tag", "clip_auc_clip", "clip_ap_clip"}
    assert cl["clip_ap_tag"] == pytest.approx(skm.average_precision_score(Y, S))
    both = evaluate(clip_true=Y, clip_score=S, frame_true=Y, frame_score=S, thresholds=thr)
    assert all(isinstance(v, float) for v in both.values())
    assert set(both) >= set(cl) | {"frame_micro_f1", "frame_auc"}
    with pytest.raises(MetricInputError, match="thresholds"):
        evaluate_frames(Y, S, thr[:3])
    with pytest.raises(MetricInputError, match="thresholds"):
        evaluate(frame_true=Y, frame_score=S)


# ------------------------------------------------------------------ fixtures (scripts/regen_metric_fixtures.py)

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "metrics"


def _fixture(name):
    import json

    case = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    nan = lambda v: np.nan if v is None else v  # noqa: E731  (NaN is stored as null)
    exp = {k: (np.array([nan(x) for x in v], float) if isinstance(v, list) else nan(v))
           for k, v in case["expected"].items()}
    return case["inputs"], exp


def _assert_expected(ours: dict, expected: dict):
    for k, v in expected.items():
        np.testing.assert_allclose(ours[k], v, rtol=0, atol=1e-12, err_msg=k)


@pytest.mark.filterwarnings("ignore::clip2frame.eval.MetricWarning")
def test_fixture_clip():
    inp, exp = _fixture("clip.json")
    _assert_expected(clip_auc_ap(inp["y_true"], inp["y_score"]), exp)


@pytest.mark.filterwarnings("ignore::clip2frame.eval.MetricWarning")
def test_fixture_frame():
    inp, exp = _fixture("frame.json")
    y, s, thr = np.array(inp["y_true"]), np.array(inp["y_score"]), np.array(inp["thresholds"])
    ours = frame_prf(y, s >= thr)
    ours["auc_values"] = frame_auc(y, s)["auc_values"]
    base = all_positive_baseline(y)
    ours["baseline_micro_f1"], ours["baseline_macro_f1"] = base["micro_f1"], base["macro_f1"]
    _assert_expected(ours, exp)


@pytest.mark.filterwarnings("ignore::clip2frame.eval.MetricWarning")
def test_fixture_segment():
    inp, exp = _fixture("segment.json")
    ref = {f: [Event(*e) for e in evs] for f, evs in inp["reference"].items()}
    est = {f: [Event(*e) for e in evs] for f, evs in inp["estimated"].items()}
    _assert_expected(segment_f1(ref, est, labels=inp["labels"], durations=inp["durations"]), exp)


def test_evaluation_protocol_reports_segment_scores():
    # segment_f1 is part of the evaluation: one 4-s clip, truth 'a' on [0, 2), frames of 0.5 s active for
    # 'a' on [0, 3) -> 1-s segments: TP 2, FP 1, FN 0 -> F1 0.8; one insertion in 2 reference segments
    # -> error rate 0.5. Label 'b' is never present nor predicted (undefined, left out of the macro mean).
    from types import SimpleNamespace

    from clip2frame.eval.protocol import segment_scores

    data = SimpleNamespace(events=[(Event(0.0, 2.0, "a"),)], feats=[np.zeros((1, 4, 125))])
    frames = [np.zeros((8, 2), np.float32)]
    frames[0][:6, 0] = 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        got = segment_scores(data, ["a", "b"], frames, np.array([0.5, 0.5]), 0.5, clip_s=0.032)
    assert got["segment_f1"] == pytest.approx(0.8)
    assert got["segment_macro_f1"] == pytest.approx(0.8)
    assert got["segment_error_rate"] == pytest.approx(0.5)
