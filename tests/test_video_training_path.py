"""Video training on train/'s data path (issue #26): the object and action models read their batches through
the audio trainer's Dataset / DataLoader, their flow from train/'s per-clip cache, and a killed run resumes
to the weights of an uninterrupted one (train/'s per-epoch seeding)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from clip2frame.cli import main
from clip2frame.data.toy import make_toy_corpus
from clip2frame.train import loader as loader_mod
from clip2frame.train.config import resolve_config
from clip2frame.train.data import ClipFeatures
from clip2frame.train.trainer import train as train_audio
from clip2frame.video.training.config import default_config
from clip2frame.video.training.training import train as train_video

TOY = ["preset=tiny", "crop_frames=64", "batch_size=4", "model.sigma_init_input_frames=32", "num_threads=1",
       "epochs=1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("vcorpus")
    assert main(["synth", "video", "--out", str(out), "--train", "2", "--validation", "1", "--test", "0",
                 "--seconds", "3", "--fps", "10", "--seed", "4", "--jobs", "1", "--no-progress"]) == 0
    return out


def _action(**kw):
    return default_config("action", width=0.0625, batch_norm=True, optimizer="adam", lr=3e-3, batch_mode="frames",
                          batches_per_epoch=3, sub_clip_frames=4, flip=True, threads=1, **kw)


def test_audio_and_video_training_construct_the_same_dataset(corpus, tmp_path, monkeypatch):
    made = []
    real = loader_mod.CropDataset.__init__

    def spy(self, data, *a, **kw):
        made.append((type(self), data))
        real(self, data, *a, **kw)

    monkeypatch.setattr(loader_mod.CropDataset, "__init__", spy)
    toy = make_toy_corpus(tmp_path / "toy", n_clips={"train": 4, "validation": 2}, seed=1)
    train_audio(resolve_config(overrides=TOY + [f"data={toy.root}", f"out={tmp_path / 'audio'}"]), progress=False)
    n_audio = len(made)
    train_video(corpus, tmp_path / "action", _action(epochs=1))
    train_video(corpus, tmp_path / "sound", default_config("sound", epochs=1, threads=1))
    assert n_audio >= 1 and len(made) >= n_audio + 2  # the sound model: its validation batch, its loader
    (audio_cls, audio_data), (video_cls, video_data) = made[0], made[n_audio]
    assert audio_cls is video_cls is loader_mod.CropDataset
    # both read per-clip memory maps from train/'s cache; the video's frames lie on axis 0 of [T, 10, H, W]
    assert isinstance(audio_data.feats, ClipFeatures) and isinstance(video_data.feats, ClipFeatures)
    assert audio_data.time_axis == -1 and video_data.time_axis == 0
    assert all(p.endswith(".flow.npy") for p in video_data.feats.paths)
    assert video_data.feats[0].shape[0] == video_data.lengths[0] and video_data.feats[0].shape[1] == 10
    for cls, sound_data in made[n_audio + 1:]:  # the sound model: log-mels of the audio tracks, as in audio
        assert cls is loader_mod.CropDataset and isinstance(sound_data.feats, ClipFeatures)
        assert sound_data.time_axis == -1 and all(p.endswith(".logmel.npy") for p in sound_data.feats.paths)


@pytest.mark.parametrize("model", ["action", "object", "sound"])
def test_killed_video_training_resumes_to_the_uninterrupted_weights(corpus, tmp_path, model):
    cfg = _action(epochs=3) if model == "action" else default_config(
        "object", width=0.0625, batch_norm=True, optimizer="adam", batch_mode="frames", batches_per_epoch=3,
        sub_clip_frames=4, flip=True, threads=1, epochs=3, freeze_epochs=1) if model == "object" else \
        default_config("sound", epochs=3, batch_clips=1, threads=1)
    train_video(corpus, tmp_path / "whole", cfg)
    # the same run killed after its first epoch (its train_state.pt written), then started again
    train_video(corpus, tmp_path / "killed", default_config(model, **{**_kw(cfg), "epochs": 1}))
    train_video(corpus, tmp_path / "killed", cfg)
    a = torch.load(tmp_path / "whole" / "train_state.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "train_state.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    rows = [(tmp_path / d / "metrics.csv").read_text().splitlines() for d in ("whole", "killed")]
    assert [r.split(",")[:4] for r in rows[0]] == [r.split(",")[:4] for r in rows[1]]
    assert np.isfinite(float(rows[0][-1].split(",")[1]))


def _kw(cfg) -> dict:
    from clip2frame.config import to_dict

    return {k: v for k, v in to_dict(cfg).items() if k != "model"}


def test_flips_mirror_the_network_input_with_its_object_maps(corpus, tmp_path, monkeypatch):
    """``flip=True`` mirrors the batch *before* the forward pass, the object maps with it. (It flipped after:
    the network never saw a flipped input, and half the OT/SOT targets were mirrored against theirs.)"""
    import clip2frame.video.training.training as tr
    from clip2frame.models.visual import VisualFCN

    flipped, seen = [], []

    def flip_all(x, O, kind, gen):
        flipped.append(x.flip(-1).clone())
        return x.flip(-1), (None if O is None else O.flip(-1))

    real_forward = VisualFCN.forward

    def spy(self, x, *a, **kw):
        if self.training:
            seen.append(x.detach().clone())
        return real_forward(self, x, *a, **kw)

    monkeypatch.setattr(tr, "flip_batch", flip_all)
    monkeypatch.setattr(VisualFCN, "forward", spy)
    train_video(corpus, tmp_path / "action", _action(epochs=1))
    assert flipped and len(seen) >= len(flipped)
    assert all(torch.equal(f, s) for f, s in zip(flipped, seen))
