"""clip2frame.results: one owner of the result files. The readers give back what the writers wrote, with one
threshold fallback and one events function; formats of higher layers (the video overlay) are registered
from there, never imported by the writers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clip2frame.data.events import binary_to_events, mask_runs
from clip2frame.errors import ConfigError
from clip2frame.results.activations import FrameActivations
from clip2frame.results.readers import DEFAULT_THRESHOLD, find_result, iter_results, read_result_data
from clip2frame.results.writers import write_outputs

D = 0.512


def _acts(seed: int = 0, T: int = 40) -> FrameActivations:
    rng = np.random.default_rng(seed)
    probs = np.round(rng.random((T, 3)), 4)
    probs[5, 1] = 0.35  # exactly a threshold below: a tie as a scores.tsv and a sidecar write them
    bounds = np.r_[np.arange(T) * D, (T - 1) * D + 0.3]
    return FrameActivations(["a", "b", "c"], probs, bounds, [0.5, 0.35, 0.7], source="/in/song.wav")


def _event_dicts(events) -> list[dict]:
    return [{"onset": e.onset, "offset": e.offset, "label": e.label} for e in events]


def test_scores_only_result_gets_its_events_from_to_events_at_the_sidecars_thresholds(tmp_path):
    acts = _acts()
    write_outputs(acts, tmp_path, formats=["scores"], stem="song")
    # the sidecar's thresholds, as written (6 decimals), no events file: the reader thresholds the scores
    (tmp_path / "song.meta.json").write_text(json.dumps({"thresholds": {"a": 0.5, "b": 0.35, "c": 0.7}}))
    data = read_result_data(tmp_path, find_result(tmp_path, "song"))
    assert data.thresholds.tolist() == [0.5, 0.35, 0.7]
    back = FrameActivations(data.labels, data.probs, data.boundaries, data.thresholds)
    assert data.events == _event_dicts(back.to_events(thresholds=data.thresholds))
    # the same events as thresholding each column by hand at those (float64) thresholds
    by_hand = sorted((e for k, lab in enumerate(data.labels)
                      for e in binary_to_events(data.probs[:, k] >= data.thresholds[k], data.boundaries, lab)),
                     key=lambda e: (e.onset, e.label))
    assert data.events == _event_dicts(by_hand)
    # the tie: 0.35 read as float32 is just below the float64 threshold 0.35, so frame 5 of b is off
    assert not any(e["label"] == "b" and e["onset"] <= 5 * D < e["offset"] for e in data.events)


def test_thresholds_fall_back_to_the_npz_then_to_the_one_default(tmp_path):
    acts = _acts(1)
    write_outputs(acts, tmp_path, formats=["scores", "npz"], stem="with_npz")
    write_outputs(acts, tmp_path, formats=["scores"], stem="bare")
    npz = read_result_data(tmp_path, find_result(tmp_path, "with_npz"))
    np.testing.assert_allclose(npz.thresholds, acts.thresholds)
    bare = read_result_data(tmp_path, find_result(tmp_path, "bare"))
    assert bare.thresholds.tolist() == [DEFAULT_THRESHOLD] * 3
    assert [rid for rid, _ in iter_results(tmp_path)] == ["bare", "with_npz"]


def test_events_file_wins_over_the_scores(tmp_path):
    acts = _acts(2)
    write_outputs(acts, tmp_path, formats=["scores", "events"], stem="song", min_duration=2.0)
    data = read_result_data(tmp_path, find_result(tmp_path, "song"))
    assert data.events == _event_dicts(acts.to_events(min_duration=2.0)) and data.name == "song.wav"


def test_mask_runs():
    starts, stops = mask_runs(np.array([1, 1, 0, 1, 0, 0, 1], bool))
    assert starts.tolist() == [0, 3, 6] and stops.tolist() == [2, 4, 7]
    assert [len(x) for x in mask_runs(np.zeros(0, bool))] == [0, 0]


def test_overlay_is_registered_from_video_inference_not_imported_by_the_writers(tmp_path):
    src = Path(__file__).resolve().parents[1] / "src"
    code = (
        "import sys\n"
        "from clip2frame.errors import ConfigError\n"
        "from clip2frame.results import writers\n"
        "from clip2frame.results.activations import FrameActivations\n"
        "assert 'overlay' not in writers.WRITERS\n"
        "acts = FrameActivations(['a'], [[0.1]], [0.0, 0.5], [0.5])\n"
        "try:\n"
        f"    writers.write_outputs(acts, {str(tmp_path)!r}, formats=['scores', 'overlay'], stem='x')\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
        "assert not any(m.startswith('clip2frame.video') for m in sys.modules)\n"
        "import clip2frame.video.inference.overlay\n"
        "assert 'overlay' in writers.WRITERS\n")
    env = {**os.environ, "PYTHONPATH": str(src)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "format overlay: its writer is not loaded (import clip2frame.video.inference.overlay" in r.stdout
    assert not (tmp_path / "x.scores.tsv").exists()  # nothing written before the refusal


def test_register_writer_refuses_a_format_of_its_own():
    from clip2frame.results.writers import register_writer

    with pytest.raises(ValueError, match="scores"):
        register_writer("scores", lambda *a, **k: None)
    with pytest.raises(ConfigError):
        write_outputs(_acts(), Path("/nonexistent"), formats=["nope"])
