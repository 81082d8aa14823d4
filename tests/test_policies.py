"""One owner per policy (issue #26): the threshold fit, the optimiser factory, the General MIDI program table
and the label spelling; a second spelling in ``src/`` fails here."""
from __future__ import annotations

import ast
import re
import tokenize
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

SRC = Path(__file__).resolve().parents[1] / "src" / "clip2frame"


def _calls(pattern: str) -> list[str]:
    """``file:line`` of every code line of ``src/`` (strings and comments skipped) matching ``pattern``."""
    rx, hits = re.compile(pattern), []
    for path in sorted(SRC.rglob("*.py")):
        with tokenize.open(path) as f:
            lines: dict[int, list[str]] = {}
            for tok in tokenize.generate_tokens(f.readline):
                if tok.type not in (tokenize.STRING, tokenize.COMMENT):
                    lines.setdefault(tok.start[0], []).append(tok.string)
        code = {i: re.sub(r" *([.(),]) *", r"\1", " ".join(t)) for i, t in lines.items()}
        hits += [f"{path.relative_to(SRC).as_posix()}:{i}" for i, c in code.items() if rx.search(c)]
    return hits


# ------------------------------------------------------------------------------------------- thresholds

def test_thresholds_are_fitted_in_one_place():
    """Only train/thresholds.py turns predictions into thresholds (eval/thresholds.py defines the grid fit)."""
    hits = [h for h in _calls(r"\bfit_thresholds\(") if not h.startswith("eval/thresholds.py:")]
    assert [h.split(":")[0] for h in hits] == ["train/thresholds.py"], hits


def test_clips_source_fits_whole_clips_against_their_tags():
    from clip2frame.eval.protocol import split_outputs
    from clip2frame.eval.thresholds import fit_thresholds
    from clip2frame.models import PRESETS, Clip2FrameNet
    from clip2frame.train.config import TrainConfig
    from clip2frame.train.data import SplitData
    from clip2frame.train.thresholds import THRESHOLD_SOURCES, fit_model_thresholds
    from clip2frame.audio.features import Standardizer
    from clip2frame.errors import Clip2FrameError

    p = PRESETS["tiny"]
    torch.manual_seed(0)
    net = Clip2FrameNet(p.model, 3).eval()
    S, M = p.model.n_scales, p.model.in_bands
    std = Standardizer(np.zeros((S, M), np.float32), np.ones((S, M), np.float32))
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((S, M, T)).astype(np.float32) for T in (40, 57, 33, 64, 50, 71)]
    y = (rng.random((6, 3)) > 0.5).astype(np.float32)
    data = SplitData([f"c{i}" for i in range(6)], feats, y, None, [], None)
    cfg = TrainConfig(threshold_steps=50)
    got = fit_model_thresholds(net, std, data, cfg, "cpu", source="clips")
    scores, _ = split_outputs(net, std, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fit_thresholds(y > 0, scores, n_steps=50).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32 and THRESHOLD_SOURCES == ("clip320", "frame", "clips")
    with pytest.raises(Clip2FrameError, match="threshold_source 'frame' needs frame truth"):
        fit_model_thresholds(net, std, data, cfg, "cpu", source="frame")


# ------------------------------------------------------------------------------------------- optimiser

def test_optimisers_are_built_in_one_place():
    hits = _calls(r"optim\.(SGD|Adam|AdamW|Adagrad|RMSprop)\(")
    assert hits == [], hits
    assert [h.split(":")[0] for h in _calls(r"\bcls\(params")] == ["train/optim.py"]


def test_audio_and_video_trainers_share_the_factory():
    from clip2frame.models import PRESETS, Clip2FrameNet
    from clip2frame.train.optim import audio_param_groups, make_optimizer
    from clip2frame.video.training import training as vt
    from clip2frame.video.training.config import VideoTrainConfig

    net = Clip2FrameNet(PRESETS["tiny"].model, 3)
    opt = make_optimizer(audio_param_groups(net, lr=0.01, sigma_lr_mult=30.0), name="adagrad", lr=0.01)
    assert isinstance(opt, torch.optim.Adagrad) and [g["lr"] for g in opt.param_groups] == [0.01, 0.3]
    lin = torch.nn.Linear(3, 2)
    lin.bias.requires_grad_(False)  # frozen: left out by the video trainer
    cfg = VideoTrainConfig(model="action", optimizer="sgd", lr=0.001, momentum=0.9, weight_decay=1e-4)
    sgd = vt._make_optimizer(cfg, lin.parameters())
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    assert sgd.param_groups[0]["weight_decay"] == 1e-4 and len(sgd.param_groups[0]["params"]) == 1
    adam = vt._make_optimizer(VideoTrainConfig(model="action", optimizer="adam", lr=0.01), lin.parameters())
    assert isinstance(adam, torch.optim.Adam) and "momentum" not in adam.param_groups[0]
    from clip2frame.errors import ConfigError

    with pytest.raises(ConfigError, match="config key 'optimizer'"):
        make_optimizer(lin.parameters(), name="lbfgs", lr=0.1)


# ------------------------------------------------------------------------------------------- GM programs

def test_one_general_midi_program_table():
    """No module but data/synth/instruments.py spells a tag -> GM program table (the evaluation-only generator
    of data/outside keeps its own mapping by design, issue #24)."""
    hits = [h for h in _program_tables() if not h.startswith(("data/synth/instruments.py:", "data/outside/"))]
    assert hits == [], hits
    assert [h.split(":")[0] for h in _program_tables()] == ["data/outside/arrange.py", "data/synth/instruments.py"]


def _program_tables(root: Path | None = None) -> list[str]:
    """``file:line`` of every module-level dict literal mapping names to GM program numbers (str -> int or
    tuple of ints) under a ``*PROGRAM*`` name."""
    def is_program(v: ast.expr) -> bool:
        items = v.elts if isinstance(v, ast.Tuple) else [v]
        return bool(items) and all(isinstance(e, ast.Constant) and type(e.value) is int
                                   or isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant)
                                   for e in items)

    hits = []
    for path in sorted((root or SRC).rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            value = getattr(node, "value", None)
            if (isinstance(target, ast.Name) and "PROGRAM" in target.id and isinstance(value, ast.Dict)
                    and value.keys and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys)
                    and all(is_program(v) for v in value.values)):
                hits.append(f"{path.relative_to(SRC).as_posix()}:{node.lineno}")
    return hits


def test_the_video_corpus_plays_programs_of_the_one_table():
    from clip2frame.data.synth.instruments import GM_PROGRAMS, INSTRUMENTS
    from clip2frame.tags import INSTRUMENT_TAGS, VIDEO_INSTRUMENTS
    from clip2frame.video.rendering.scene import GM_PROGRAMS as VIDEO_PROGRAMS, MUSIC_TAG_OF

    assert tuple(GM_PROGRAMS) == INSTRUMENT_TAGS
    assert all(set(i.programs) <= set(GM_PROGRAMS[t]) for t, i in INSTRUMENTS.items())
    assert set(VIDEO_PROGRAMS) == set(VIDEO_INSTRUMENTS)
    for v, prog in VIDEO_PROGRAMS.items():
        assert prog in GM_PROGRAMS[MUSIC_TAG_OF[v]]
    # the programs the video corpus has always played (its renders do not change)
    assert VIDEO_PROGRAMS == {"accordion": 21, "cello": 42, "drums": 0, "flute": 73, "guitar": 24, "piano": 0,
                              "saxophone": 65, "trumpet": 56, "violin": 40}


# ------------------------------------------------------------------------------------------- label spelling

def test_video_labels_are_spelled_as_the_music_vocabulary():
    from clip2frame.data.readers import audioset, imagenet, medleydb, youtube8m
    from clip2frame.tags import MUSIC_TAGS, VIDEO_INSTRUMENTS

    assert "drums" in VIDEO_INSTRUMENTS and "drum" not in VIDEO_INSTRUMENTS
    plural = {t for t in MUSIC_TAGS} | {t + "s" for t in MUSIC_TAGS}
    for v in VIDEO_INSTRUMENTS:  # no video label is a music tag's singular or plural spelling
        assert v in MUSIC_TAGS or (v not in plural and v + "s" not in MUSIC_TAGS), v
    for table in (youtube8m.CH4_LABELS, audioset.CH4_LABELS, imagenet.CH4_SYNSETS, medleydb.CH4_MAP):
        assert set(table.values()) <= set(VIDEO_INSTRUMENTS), table


def test_video_model_files_of_the_old_spelling_load_in_todays(tmp_path):
    """Video model files written with ``drum`` (the packaged ones among them) load as ``drums``; a music model's
    own labels are kept as written."""
    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.models import PRESETS, Clip2FrameNet
    from clip2frame.models.io import TaggerModel, VisualModel, load_model, load_visual_model, save_model
    from clip2frame.models.registry import default_model_path
    from clip2frame.models.visual import VisualFCN, VisualFCNConfig
    from clip2frame.tags import VIDEO_INSTRUMENTS

    old = ["accordion", "cello", "drum", "flute", "guitar", "piano", "saxophone", "trumpet", "violin"]
    K = len(old)
    act = save_model(tmp_path / "a.safetensors", VisualModel(
        VisualFCN(VisualFCNConfig.for_action(0.0625), K).eval(), "action", old, np.full(K, 0.5, np.float32),
        {lab: "instrument" for lab in old}, {"kind": "SOT", "name": "SOT0503"}))
    m = load_visual_model(act, kind="action")
    assert m.labels == list(VIDEO_INSTRUMENTS) and set(m.kinds) == set(VIDEO_INSTRUMENTS)
    p = PRESETS["tiny"]
    spec = FeatureSpec(**p.features)
    std = Standardizer(np.zeros((spec.n_scales, spec.n_bands)), np.ones((spec.n_scales, spec.n_bands)))
    for kind, want in (("sound", list(VIDEO_INSTRUMENTS)), ("music", old)):
        f = save_model(tmp_path / f"{kind}.safetensors", TaggerModel(
            Clip2FrameNet(p.model, K).eval(), spec, std, old, {}, np.full(K, 0.5, np.float32), kind=kind))
        assert load_model(f, kind=kind).labels == want
    for kind in ("sound", "object", "action"):
        path = default_model_path(kind)
        if path.is_file():
            from clip2frame.models.io import read_metadata

            assert read_metadata(path)["labels"] == list(VIDEO_INSTRUMENTS)
