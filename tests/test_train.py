"""Training on clip tags: it learns, it resumes after SIGKILL to the same weights, the oracle, thresholds."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from safetensors.torch import load_file

from clip2frame.cli import main as cli_main
from clip2frame.data.manifest import load_manifest
from clip2frame.data.toy import make_toy_corpus
from clip2frame.eval.protocol import evaluate_split
from clip2frame.models.io import load_model
from clip2frame.train.config import resolve_config
from clip2frame.train.data import load_split
from clip2frame.train.trainer import train

# Toy clips are 6 s (12 output frames): start sigma at 2 output frames, not the thesis' 16 (29-s clips).
TOY = ["preset=tiny", "crop_frames=0", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), seed=3)


def _cfg(toy, out, *extra):
    return resolve_config(overrides=TOY + [f"data={toy.root}", f"out={out}", *extra])


def _weights(path):
    return {k: v for k, v in load_file(str(path)).items()}


def test_weak_training_learns_frame_level(toy, tmp_path):
    res = train(_cfg(toy, tmp_path / "run", "epochs=40", "patience=40"), progress=False)
    t = res.tagger
    data = load_split(toy, "test", t.feature_spec, t.labels, total_stride=t.total_stride, run_dir=tmp_path)
    scores = evaluate_split(t.net, t.standardizer, data, t.labels, t.thresholds, spec=t.feature_spec)
    assert scores["clip_auc_tag"] > 0.85
    assert scores["frame_auc"] > 0.85
    assert scores["frame_macro_f1"] > scores["baseline_macro_f1"]
    for f in ("config.yaml", "metrics.csv", "train_state.pt", "model.safetensors", "summary.json"):
        assert (tmp_path / "run" / f).is_file()
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,train_loss,val_loss,clip_auc")
    assert len(rows) == 1 + len(res.history)


def test_sigkill_resume_gives_same_weights(toy, tmp_path):
    args = [f"--set={o}" for o in TOY + [f"data={toy.root}", "epochs=8", "patience=20", "batch_size=1"]]
    ref = train(_cfg(toy, tmp_path / "ref", "epochs=8", "patience=20", "batch_size=1"), progress=False)
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "clip2frame", "train", *args, f"--set=out={run}", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        m = run / "metrics.csv"
        if m.is_file() and len(m.read_text().splitlines()) >= 4:  # 3 epochs done, now mid-epoch 4
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "model.safetensors").exists(), "the kill came too late to test a resume"
    import torch

    torch.load(run / "train_state.pt", weights_only=True)  # whole, never half-written
    resumed = train(_cfg(toy, run, "epochs=8", "patience=20", "batch_size=1"), progress=False)
    assert not list(run.glob(".*.tmp")), "temp files of the killed run are cleaned up on resume"
    a, b = _weights(ref.model_path), _weights(resumed.model_path)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k
    assert [r["train_loss"] for r in ref.history] == [r["train_loss"] for r in resumed.history]


def test_frame_supervised_oracle(toy, tmp_path):
    res = train(_cfg(toy, tmp_path / "oracle", "epochs=25", "supervision=frame", "select_metric=frame_auc",
                     "threshold_source=frame"), progress=False)
    assert res.history[-1]["frame_auc"] > 0.85


def test_resume_refuses_other_settings(toy, tmp_path):
    train(_cfg(toy, tmp_path / "r", "epochs=1"), progress=False)
    from clip2frame.errors import Clip2FrameError

    with pytest.raises(Clip2FrameError, match="other settings"):
        train(_cfg(toy, tmp_path / "r", "epochs=2", "lr=0.5"), progress=False)


def test_bad_training_clips_are_reported(tmp_path):
    m = make_toy_corpus(tmp_path / "c", n_clips={"train": 8, "validation": 4}, seed=5)
    train_clips = m.split("train")
    Path(train_clips[0].audio_path).write_text("not audio")  # corrupt
    sf.write(train_clips[1].audio_path, np.zeros(100, np.float32), 16000)  # shorter than one frame
    weak = (m.root / "train.weak.tsv").read_text().splitlines()
    name = Path(train_clips[2].audio_path).relative_to(m.root).as_posix()
    weak = [f"{name}\t" if line.startswith(name) else line for line in weak]  # a clip with no tag
    (m.root / "train.weak.tsv").write_text("\n".join(weak) + "\n")
    res = train(_cfg(load_manifest(m.root), tmp_path / "run", "epochs=1"), progress=False)
    skipped = (tmp_path / "run" / "skipped.tsv").read_text()
    assert train_clips[0].clip_id in skipped and "not audio" not in skipped.split("\n")[0]
    assert train_clips[1].clip_id in skipped and "empty" in skipped
    assert f"{train_clips[2].clip_id}\tno tag" in skipped
    assert res.model_path.is_file()


def test_thresholds_and_inspect_commands(toy, tmp_path, capsys):
    res = train(_cfg(toy, tmp_path / "run", "epochs=6"), progress=False)
    out = tmp_path / "refit.safetensors"
    assert cli_main(["thresholds", "--model", str(res.model_path), "--data", str(toy.root), "--split", "test",
                     "--source", "frame", "--out", str(out)]) == 0
    refit = load_model(out)
    assert refit.provenance["threshold_history"][-1]["source"].startswith("frame on")
    assert not np.allclose(refit.thresholds, res.tagger.thresholds)
    capsys.readouterr()
    assert cli_main(["inspect", "--model", str(out), "--json", "--plot", str(tmp_path / "sigma.png")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [t["tag"] for t in info["tags"]] == list(toy.labels)
    assert all(t["sigma_s"] > 0 for t in info["tags"])
    assert (tmp_path / "sigma.png").stat().st_size > 1000


def test_evaluate_command_matches_protocol(toy, tmp_path, capsys):
    res = train(_cfg(toy, tmp_path / "run", "epochs=4"), progress=False)
    capsys.readouterr()
    assert cli_main(["evaluate", "--model", str(res.model_path), "--data", str(toy.root), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["test"]
    t = res.tagger
    data = load_split(toy, "test", t.feature_spec, t.labels, total_stride=t.total_stride, run_dir=tmp_path)
    ref = evaluate_split(t.net, t.standardizer, data, t.labels, t.thresholds, spec=t.feature_spec)
    for k in ("frame_micro_f1", "frame_macro_f1", "frame_auc", "clip_auc_tag"):
        assert got[k] == pytest.approx(ref[k], abs=1e-6)


def test_sigma_learning_rate_multiplier_moves_log_sigma():
    import torch

    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.train.optim import audio_param_groups, make_optimizer

    moved = {}
    for mult in (1.0, 30.0):
        cfg = resolve_config(overrides=TOY + ["data=x", f"sigma_lr_mult={mult}", "model.accumulation=learned"])
        torch.manual_seed(0)
        net = Clip2FrameNet(cfg.model, 3)
        opt = make_optimizer(audio_param_groups(net, lr=cfg.lr, sigma_lr_mult=cfg.sigma_lr_mult),
                             name=cfg.optimizer, lr=cfg.lr)
        assert len(opt.param_groups) == (1 if mult == 1.0 else 2)
        if mult != 1.0:
            assert opt.param_groups[1]["lr"] == pytest.approx(cfg.lr * mult)
        start = net.accumulation.log_sigma.detach().clone()
        x = torch.randn(2, cfg.features.n_scales, cfg.features.n_bands, 96, generator=torch.Generator().manual_seed(1))
        y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        for _ in range(5):
            opt.zero_grad()
            out = net(x)
            torch.nn.functional.binary_cross_entropy(out.clip, y).backward()
            opt.step()
        moved[mult] = float((net.accumulation.log_sigma.detach() - start).abs().max())
    assert moved[1.0] <= 5 * 0.01 + 1e-6            # Adagrad: at most ~lr per step
    assert moved[30.0] > 10 * moved[1.0]
    with pytest.raises(Exception, match="sigma_lr_mult"):
        resolve_config(overrides=TOY + ["data=x", "sigma_lr_mult=0"])
