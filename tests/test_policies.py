"""One owner per policy (issue #26): the threshold fit, the optimiser factory, the General MIDI program table
and the label spelling; a second spelling in ``src/`` fails here."""
from __future__ import annotations

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

    net = Clip2FrameNet(PRESETS["tiny"].model, 3)
    opt = make_optimizer(audio_param_groups(net, lr=0.01, sigma_lr_mult=30.0), name="adagrad", lr=0.01)
    assert isinstance(opt, torch.optim.Adagrad) and [g["lr"] for g in opt.param_groups] == [0.01, 0.3]
    lin = torch.nn.Linear(3, 2)
    lin.bias.requires_grad_(False)  # frozen: left out by the video trainer
    cfg = vt.VideoTrainConfig(model="action", optimizer="sgd", lr=0.001, momentum=0.9, weight_decay=1e-4)
    sgd = vt._make_optimizer(cfg, lin.parameters())
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    assert sgd.param_groups[0]["weight_decay"] == 1e-4 and len(sgd.param_groups[0]["params"]) == 1
    adam = vt._make_optimizer(vt.VideoTrainConfig(model="action", optimizer="adam", lr=0.01), lin.parameters())
    assert isinstance(adam, torch.optim.Adam) and "momentum" not in adam.param_groups[0]
    from clip2frame.errors import ConfigError

    with pytest.raises(ConfigError, match="config key 'optimizer'"):
        make_optimizer(lin.parameters(), name="lbfgs", lr=0.1)
