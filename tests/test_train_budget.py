"""The epoch-budget switches of the trainer (issue #15): early_stopping=false, checkpoint=best|last."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from clip2frame.data.toy import make_toy_corpus
from clip2frame.train.config import resolve_config
from clip2frame.train.trainer import train

TOY = ["preset=tiny", "crop_frames=0", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), seed=3)


def _cfg(toy, out, *extra):
    return resolve_config(overrides=TOY + [f"data={toy.root}", f"out={out}", *extra])


def _weights(path):
    return dict(load_file(str(path)))


def test_fixed_epoch_budget_and_last_checkpoint(toy, tmp_path):
    """early_stopping=false runs every epoch even with patience 1; checkpoint=last keeps the last epoch's
    weights, checkpoint=best (default) the best-on-validation ones, from the same training trajectory."""
    last = train(_cfg(toy, tmp_path / "last", "epochs=5", "patience=1", "early_stopping=false", "checkpoint=last",
                      "lr=0.2"), progress=False)
    assert len(last.history) == 5
    summary = json.loads((tmp_path / "last" / "summary.json").read_text())
    assert summary["epochs_run"] == 5 and summary["checkpoint"] == "last"
    st = torch.load(tmp_path / "last" / "train_state.pt", weights_only=True)
    w = _weights(tmp_path / "last" / "model.safetensors")
    for k, v in st["net"].items():
        assert torch.equal(w[f"net.{k}"], v), k
    # the same run, resumed from its state with checkpoint=best: the best epoch's weights
    best = train(_cfg(toy, tmp_path / "last", "epochs=5", "patience=1", "early_stopping=false", "lr=0.2"),
                 progress=False)
    wb = _weights(tmp_path / "last" / "model.safetensors")
    for k, v in st["best_net"].items():
        assert torch.equal(wb[f"net.{k}"], v), k
    assert best.best_epoch < 5  # (seeded) a lr this high overshoots: the best epoch is not the last one
    assert any(not torch.equal(wb[f"net.{k}"], w[f"net.{k}"]) for k in st["net"])
