"""``tag_files_ray``: same outputs, failures.tsv and resume as the local backend, on a local Ray."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ray = pytest.importorskip("ray")

from clip2frame.infer.batch import tag_files  # noqa: E402
from clip2frame.infer.ray_backend import tag_files_ray  # noqa: E402
from clip2frame.infer.writers import read_scores_tsv  # noqa: E402

SR = 16000


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    import torch

    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.models.io import TaggerModel, save_model
    from clip2frame.models.registry import get_preset

    torch.manual_seed(0)
    preset = get_preset("tiny")
    spec = FeatureSpec(**preset.features)
    labels = ["piano", "drums", "fast"]
    rng = np.random.default_rng(0)
    std = Standardizer(rng.uniform(0, 2, (spec.n_scales, spec.n_bands)).astype(np.float32),
                       rng.uniform(1, 3, (spec.n_scales, spec.n_bands)).astype(np.float32))
    tagger = TaggerModel(Clip2FrameNet(preset.model, len(labels)).eval(), spec, std, labels,
                         {lab: "instrument" for lab in labels}, np.full(3, 0.5, np.float32), name="tiny-ray")
    return save_model(tmp_path_factory.mktemp("model") / "tiny.safetensors", tagger)


def _wav(path: Path, seconds: float, freq: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, subtype="PCM_16")
    return path


@pytest.fixture
def catalogue(tmp_path):
    root = tmp_path / "in"
    _wav(root / "a.wav", 3.0, 440.0)
    _wav(root / "sub" / "b.wav", 1.3, 880.0)
    _wav(root / "sub" / "deep" / "c.flac", 5.1, 220.0)
    _wav(root / "d.wav", 0.4, 660.0)
    (root / "broken.wav").write_text("not audio\n" * 10)
    return root


def _tree(out: Path) -> dict[str, str]:
    """Every text output (the binary event index is compared through its events)."""
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith("index.sqlite")}


def _indexed(out: Path) -> tuple[set, set]:
    """The files and events in a batch's event index."""
    from clip2frame.index import IndexStore

    with IndexStore(out_dir=out) as s:
        return ({p for (p,) in s.fetchall("SELECT path FROM files")},
                set(s.fetchall("SELECT f.path, t.name, e.onset_s, e.offset_s FROM events e JOIN files f ON "
                               "f.id = e.file_id JOIN tags t ON t.id = e.tag_id")))


def test_same_outputs_failures_and_resume_as_local(local_ray, catalogue, model_path, tmp_path):
    opts = dict(model=str(model_path), formats="scores,events,audacity", device="cpu")
    local = tag_files([catalogue], out_dir=tmp_path / "local", **opts)
    rep = tag_files_ray([catalogue], out_dir=tmp_path / "ray", workers=2, **opts)
    assert (rep.exit_code, len(rep.tagged), len(rep.failed)) == (local.exit_code, 4, 1) == (1, 4, 1)
    a, b = _tree(tmp_path / "local"), _tree(tmp_path / "ray")
    assert a.keys() == b.keys()
    assert "sub/deep/c.scores.tsv" in b and "events.tsv" in b
    assert _indexed(tmp_path / "ray") == _indexed(tmp_path / "local")
    assert _indexed(tmp_path / "ray")[0] == {"a", "sub/b", "sub/deep/c", "d"}
    for name in a:
        if name.endswith(".scores.tsv"):  # same model and code; allow for float rounding of other thread counts
            x, y = read_scores_tsv(tmp_path / "local" / name), read_scores_tsv(tmp_path / "ray" / name)
            np.testing.assert_allclose(x.probs, y.probs, atol=2e-4)
            np.testing.assert_allclose(x.boundaries, y.boundaries)
        elif name != "failures.tsv":
            assert a[name] == b[name], name
    failures = b["failures.tsv"].splitlines()
    assert failures[0] == "path\terror" and len(failures) == 2 and "broken.wav" in failures[1]
    assert a["failures.tsv"].splitlines()[1].split("\t")[0] == failures[1].split("\t")[0]

    # resume: done files are skipped, the broken one is tried (and listed) again, a deleted output is redone
    (tmp_path / "ray" / "sub" / "b.events.tsv").unlink()
    mtime = (tmp_path / "ray" / "a.scores.tsv").stat().st_mtime_ns
    rep2 = tag_files_ray([catalogue], out_dir=tmp_path / "ray", workers=2, **opts)
    assert sorted(Path(r.path).name for r in rep2.tagged) == ["b.wav"]
    assert len(rep2.skipped) == 3 and len(rep2.failed) == 1 and rep2.exit_code == 1
    assert (tmp_path / "ray" / "a.scores.tsv").stat().st_mtime_ns == mtime
    assert _tree(tmp_path / "ray")["events.tsv"] == b["events.tsv"]

    # nothing left to do: no worker is started, the summaries are still rebuilt
    (catalogue / "broken.wav").unlink()
    rep3 = tag_files_ray([catalogue], out_dir=tmp_path / "ray", **opts)
    assert rep3.exit_code == 0 and len(rep3.skipped) == 4
    assert (tmp_path / "ray" / "failures.tsv").read_text() == "path\terror\n"


def test_loaded_model_object_and_shards(local_ray, catalogue, model_path, tmp_path):
    from clip2frame.models.io import load_model

    tagger = load_model(model_path)
    rep = tag_files_ray([catalogue], out_dir=tmp_path / "out", model=tagger, shard=(1, 2), device="cpu")
    local = tag_files([catalogue], out_dir=tmp_path / "local", model=tagger, shard=(1, 2), device="cpu")
    assert sorted(r.key for r in rep.results) == sorted(r.key for r in local.results)
    assert (tmp_path / "out" / "events.shard-1-of-2.tsv").is_file()
    assert (tmp_path / "out" / "failures.shard-1-of-2.tsv").is_file()


def test_missing_model_is_a_setup_error(local_ray, catalogue, tmp_path):
    from clip2frame.errors import ModelFileError

    with pytest.raises(ModelFileError, match="model file not found"):
        tag_files_ray([catalogue], out_dir=tmp_path / "out", model=str(tmp_path / "nope.safetensors"))
    assert not (tmp_path / "out").exists()


def _crashing_net(net):
    """A copy of ``net`` that kills its process (as a decoder segfault would) on inputs over 150 frames."""
    from clip2frame.models.fcn import Clip2FrameNet

    class CrashingNet(Clip2FrameNet):
        def forward_pre_accumulation(self, feats):
            if feats.shape[-1] > 150:
                os._exit(3)
            return super().forward_pre_accumulation(feats)

    crashing = CrashingNet(net.cfg, net.n_labels)
    crashing.load_state_dict(net.state_dict())
    return crashing.eval()


def test_a_dying_worker_fails_only_its_file(local_ray, catalogue, model_path, tmp_path):
    import sys

    from clip2frame.models.io import load_model

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the test module
    crashing = load_model(model_path)
    crashing.net = _crashing_net(crashing.net)
    rep = tag_files_ray([catalogue], out_dir=tmp_path / "out", model=crashing, workers=1, device="cpu")
    failed = {Path(r.path).name: r.error for r in rep.failed}
    assert set(failed) == {"broken.wav", "c.flac"}  # c.flac (5.1 s) kills its worker, twice
    assert "ray worker died" in failed["c.flac"]
    assert sorted(Path(r.path).name for r in rep.tagged) == ["a.wav", "b.wav", "d.wav"]
    assert not list((tmp_path / "out").rglob("c.*"))
