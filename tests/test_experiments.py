"""Thesis-table recipes (``clip2frame experiment``) at toy scale: rows train, tables are written, rows are
shared between tables and reused on a second run."""
from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import pytest

from clip2frame.cli import main as cli_main
from clip2frame.data.toy import make_toy_corpus
from clip2frame.errors import ConfigError
from clip2frame.experiments.grids import RECIPES, VIDEO_TABLES, get_recipe
from clip2frame.experiments.runner import Runner, Settings, row_config, run_recipe

# Toy clips are 6 s: start sigma at 2 output frames (as tests/test_train.py does), whole clips, 2 epochs.
TOY = ("crop_frames=0", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), seed=3,
                           n_clips={"train": 16, "validation": 6, "test": 6, "shift": 6})


@pytest.fixture(scope="module")
def settings(toy, tmp_path_factory):
    return Settings(data=str(toy.root), out=tmp_path_factory.mktemp("exp"), epochs=2, patience=2, seed=0,
                    preset="tiny", overrides=TOY)


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_list_shows_every_table(capsys):
    assert cli_main(["experiment", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", *VIDEO_TABLES):
        assert f"Table {name}:" in out
    assert out.count("requires the video pipeline") == len(VIDEO_TABLES)


def test_unknown_and_video_tables_are_user_errors():
    with pytest.raises(ConfigError, match="unknown table"):
        get_recipe("9.9")
    with pytest.raises(ConfigError, match="video pipeline"):
        get_recipe("4.8")
    assert cli_main(["experiment", "3.3"]) == 2  # no data given


def test_thesis_figures_are_copied():
    r33 = get_recipe("3.3")
    best = [r for r in r33.rows if dict(r.label) == {"Final pooling": "Mean", "Early conv": "2", "Accum": "Adaptive"}]
    assert best[0].thesis == {"F1 Micro": 0.675, "F1 Macro": 0.633, "Average AUC Per-class": 0.893,
                              "Average AUC Per-clip": 0.931}
    assert len(get_recipe("3.5").rows) == 12 and len(r33.rows) == 12
    assert all(r.thesis for name in RECIPES for r in get_recipe(name).rows)


def test_accumulation_recipe_on_toy_corpus(settings):
    full = get_recipe("3.3")
    small = replace(full, rows=tuple(r for r in full.rows if dict(r.label)["Final pooling"] == "Mean"
                                     and dict(r.label)["Early conv"] == "2"))
    assert [dict(r.label)["Accum"] for r in small.rows] == ["None", "Fixed", "Adaptive"]
    runner = Runner(settings)
    csv_path, md_path = run_recipe(small, runner)
    rows = _read_csv(csv_path)
    assert [r["Accum"] for r in rows] == ["None", "Fixed", "Adaptive"]
    assert len({r["run"] for r in rows}) == 3
    for r in rows:
        for sp in ("test", "shift"):
            for name in ("F1 Micro", "F1 Macro", "Average AUC Per-class"):
                v = float(r[f"{sp}: {name}"])
                assert math.isfinite(v) and 0.0 <= v <= 1.0
        assert r["seed"] == "0" and int(r["epochs_run"]) <= 2
        run_dir = settings.out / "runs" / r["run"]
        assert (run_dir / "config.yaml").is_file() and (run_dir / "model.safetensors").is_file()
    assert float(rows[-1]["thesis: F1 Micro"]) == 0.675
    md = md_path.read_text()
    assert "| Mean | 2 | Adaptive |" in md and "/ 0.675" in md and md.count("(not run)") == 0

    # Table 3.2's row (mean, 2 layers) reuses the trained model: thresholds only, no retraining.
    adaptive = next(r for r in small.rows if dict(r.label)["Accum"] == "Adaptive")
    model_file = Path(row_config(adaptive, settings)[0].out) / "model.safetensors"
    mtime = model_file.stat().st_mtime_ns
    r32 = get_recipe("3.2")
    r32 = replace(r32, rows=tuple(r for r in r32.rows if dict(r.label)["Final pooling"] == "Mean"
                                  and dict(r.label)["Early conv"] == "2"))
    csv32, _ = run_recipe(r32, Runner(settings))
    rows32 = _read_csv(csv32)
    assert len(rows32) == 2 and rows32[0]["run"] == rows32[1]["run"] == rows[-1]["run"]
    assert all(math.isfinite(float(r["shift: F1 Micro"])) for r in rows32)
    assert model_file.stat().st_mtime_ns == mtime

    # A second run of 3.3 reuses every row (resumable) and rewrites the same table.
    run_recipe(small, Runner(settings))
    assert model_file.stat().st_mtime_ns == mtime
    assert _read_csv(csv_path) == rows


def test_where_selects_rows_and_refuses_unknown_columns(settings):
    s = replace(settings, where=(("Accum", "None"), ("Final pooling", "Mean")))
    picked = [dict(r.label) for r in get_recipe("3.3").rows if s.selects(r)]
    assert [(p["Early conv"], p["Accum"]) for p in picked] == [("2", "None"), ("3", "None")]
    with pytest.raises(ConfigError, match="no such column"):
        run_recipe(get_recipe("3.3"), Runner(replace(settings, where=(("Pooling", "Mean"),))))


def test_prepare_dataset_writes_a_manifest_with_carved_splits(tmp_path):
    from clip2frame.data.manifest import load_manifest
    from clip2frame.experiments.datasets import prepare_dataset

    src = make_toy_corpus(tmp_path / "src", seed=1, n_clips={"train": 20})
    dest = prepare_dataset("embedded", str(src.root), tmp_path / "out")
    m = load_manifest(dest)
    counts = {s: len(m.split(s)) for s in m.splits}
    assert sum(counts.values()) == 20 and counts["test"] >= 1 and counts["validation"] >= 1
    assert {c.clip_id for c in m.clips} == {c.clip_id for c in src.clips}
    assert all(Path(c.audio_path).is_file() for c in m.clips)
    assert all(c.events is not None for c in m.clips)
