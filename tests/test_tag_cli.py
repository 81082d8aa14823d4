"""``clip2frame tag`` / ``tag_files``: mirrored tree, failures.tsv, resume, overwrite, shards, lists, setup
errors, write errors mid-run, a killed run resuming, and one run through the real model and predict()."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from clip2frame.cli import main
from clip2frame.infer import batch
from clip2frame.infer.options import TagOptions
from clip2frame.infer.summary import FileResult
from clip2frame.infer.discover import discover
from clip2frame.results import writers
from clip2frame.results.activations import FrameActivations
from clip2frame.results.readers import read_events_tsv, read_scores_tsv

SR = 16000
HOP = 8192  # fake model frame: 0.512 s


# --------------------------------------------------------------------------------------------- fakes
class FakeBackend:
    """A deterministic stand-in for load_tagger/predict: tag ``loud`` where the frame RMS is high,
    ``quiet`` elsewhere. Counts calls and can sleep to make a run slow."""

    def __init__(self, delay_s: float = 0.0):
        self.model = SimpleNamespace(name="fake", version="1.0", labels=["loud", "quiet"],
                                     feature_spec=SimpleNamespace(sr=SR))
        self.calls: list[int] = []
        self.delay_s = delay_s

    def load(self, model, *, device="cpu"):
        return self.model

    def predict(self, audio, *, model, sr=None, resolution="model", device="cpu"):
        wave = np.asarray(audio, dtype=np.float32)
        assert sr == SR and model is self.model
        self.calls.append(len(wave))
        if self.delay_s:
            time.sleep(self.delay_s)
        T = max(1, -(-len(wave) // HOP))
        rms = np.array([np.sqrt(np.mean(wave[t * HOP:(t + 1) * HOP] ** 2)) for t in range(T)])
        loud = np.clip(rms * 2.5, 0, 1)
        bounds = np.r_[np.arange(T) * HOP / SR, len(wave) / SR]
        return FrameActivations(["loud", "quiet"], np.stack([loud, 1 - loud], 1), bounds, [0.5, 0.5])

    def install(self, monkeypatch):
        from clip2frame.audio.io import load_audio

        monkeypatch.setattr(batch, "load_backend", lambda model, dev, *a: (self.model, self.predict, load_audio))
        return self


@pytest.fixture
def fake(monkeypatch):
    return FakeBackend().install(monkeypatch)


def _wav(path: Path, seconds_on: float = 1.0, seconds_off: float = 1.0, freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds_on * SR)) / SR
    x = np.r_[0.5 * np.sin(2 * np.pi * freq * t), np.zeros(int(seconds_off * SR))].astype(np.float32)
    sf.write(path, x, SR, subtype="PCM_16")
    return path


@pytest.fixture
def catalogue(tmp_path):
    """3 good files in a tree, 3 corrupt ones, a junk text file and a hidden file."""
    root = tmp_path / "cat"
    good = [_wav(root / "a.wav", 1.0, 1.0), _wav(root / "sub" / "b.wav", 1.6, 0.5),
            _wav(root / "sub" / "deep" / "c.flac", 0.6, 2.0)]
    whole = _wav(tmp_path / "whole.wav", 2.0, 0.0).read_bytes()
    bad = root / "bad"
    bad.mkdir()
    (bad / "truncated.wav").write_bytes(whole[: len(whole) // 3])
    (bad / "text.wav").write_text("this is not audio\n" * 20)
    (bad / "empty.wav").write_bytes(b"")
    (root / "notes.txt").write_text("not an audio file")
    _wav(root / ".hidden.wav")
    corrupt = sorted(str(p) for p in bad.iterdir())
    return SimpleNamespace(root=root, good=good, corrupt=corrupt)


def _run(capsys, *argv) -> tuple[int, dict | None, str]:
    rc = main(["tag", *map(str, argv), "--quiet"])
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    summary = json.loads(lines[-1]) if lines else None
    assert len(lines) <= 1, "stdout holds the one-line JSON summary only"
    return rc, summary, cap.err


def _failures(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0] == "path\terror"
    return dict(line.split("\t", 1) for line in lines[1:])


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*.*.*")
            if p.is_file() and p.parent != out}


# --------------------------------------------------------------------------------------------- tests
def test_directory_good_and_corrupt_files(catalogue, fake, tmp_path, capsys):
    out = tmp_path / "out"
    rc, summary, err = _run(capsys, catalogue.root, "--out", out)
    assert rc == 1
    assert summary["tagged"] == 3 and summary["failed"] == 3 and summary["skipped"] == 0
    for rel in ("a", "sub/b", "sub/deep/c"):
        for suffix in (".scores.tsv", ".events.tsv"):
            assert (out / f"{rel}{suffix}").is_file()
    produced = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert produced == sorted(["a.events.tsv", "a.scores.tsv", "a.meta.json", "events.tsv", "failures.tsv",
                               "index.sqlite", "sub/b.events.tsv", "sub/b.scores.tsv", "sub/b.meta.json",
                               "sub/deep/c.events.tsv", "sub/deep/c.scores.tsv", "sub/deep/c.meta.json"])
    fails = _failures(out / "failures.tsv")
    assert sorted(fails) == catalogue.corrupt
    assert all(msg.startswith(path) for path, msg in fails.items())  # AudioError names the file
    assert "empty" in fails[str(catalogue.root / "bad" / "empty.wav")]
    assert len(fake.calls) == 3  # corrupt files fail while decoding, before the model
    # per-file events carry the input's file name; the combined file the path in the tree
    assert read_events_tsv(out / "sub" / "b.events.tsv") == [("b.wav", 0.0, 1.536, "loud"),
                                                           ("b.wav", 1.536, 2.1, "quiet")]
    combined = read_events_tsv(out / "events.tsv")
    assert {r[0] for r in combined} == {"a.wav", "sub/b.wav", "sub/deep/c.flac"}
    assert ("sub/b.wav", 0.0, 1.536, "loud") in combined
    scores = read_scores_tsv(out / "a.scores.tsv")
    assert scores.labels == ["loud", "quiet"] and scores.n_frames == 4
    assert "error: " not in err


def test_rerun_skips_done_files_and_overwrite_redoes_them(catalogue, fake, tmp_path, capsys):
    out = tmp_path / "out"
    _run(capsys, catalogue.root, "--out", out)
    for p in out.rglob("*.*.tsv"):
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    before = _mtimes(out)
    fake.calls.clear()
    rc, summary, _ = _run(capsys, catalogue.root, "--out", out)
    assert rc == 1 and summary["skipped"] == 3 and summary["tagged"] == 0 and summary["failed"] == 3
    assert fake.calls == [] and _mtimes(out) == before
    assert sorted(_failures(out / "failures.tsv")) == catalogue.corrupt
    assert len(read_events_tsv(out / "events.tsv")) == 6  # combined file complete after a resume

    rc, summary, _ = _run(capsys, catalogue.root, "--out", out, "--overwrite")
    assert rc == 1 and summary["tagged"] == 3 and len(fake.calls) == 3
    after = _mtimes(out)
    assert all(after[k] != before[k] for k in before)

    # asking for another format makes files "not done" again
    fake.calls.clear()
    rc, summary, _ = _run(capsys, catalogue.root, "--out", out, "--format", "scores,events,npz")
    assert summary["tagged"] == 3 and (out / "sub" / "deep" / "c.npz").is_file()


def test_all_good_exits_zero_and_jobs_do_not_change_outputs(tmp_path, fake, capsys):
    root = tmp_path / "in"
    for i in range(5):
        _wav(root / f"f{i}.wav", 0.3 * (i + 1), 0.7)
    outs = {}
    for jobs in ("0", "1", "3"):
        out = tmp_path / f"out{jobs}"
        rc, summary, _ = _run(capsys, root, "--out", out, "--jobs", jobs, "--format", "scores,events,audacity,npz")
        assert rc == 0 and summary["tagged"] == 5 and summary["failed"] == 0
        assert (out / "failures.tsv").read_text() == "path\terror\n"
        outs[jobs] = {p.name: p.read_bytes() for p in sorted(out.glob("f[0-9].*")) if p.suffix != ".npz"}
    assert outs["0"] == outs["1"] == outs["3"] and len(outs["0"]) == 20  # sidecars included: no timestamps


def test_shards_partition_the_sorted_inputs(catalogue, fake, tmp_path, capsys):
    out = tmp_path / "out"
    seen = []
    for i in range(2):
        rc, summary, _ = _run(capsys, catalogue.root, "--out", out, "--shard", f"{i}/2")
        seen.append(summary["tagged"] + summary["failed"])
        assert (out / f"events.shard-{i}-of-2.tsv").is_file() and (out / f"failures.shard-{i}-of-2.tsv").is_file()
    assert sum(seen) == 6 and seen == [3, 3]
    assert not (out / "events.tsv").exists()
    keys = [str(it.key) for it in discover([catalogue.root])[0]]
    assert keys == sorted(keys)
    assert [str(it.key) for it in discover([catalogue.root], shard="1/2")[0]] == keys[1::2]
    fails = {**_failures(out / "failures.shard-0-of-2.tsv"), **_failures(out / "failures.shard-1-of-2.tsv")}
    assert sorted(fails) == catalogue.corrupt
    for rel in ("a", "sub/b", "sub/deep/c"):
        assert (out / f"{rel}.scores.tsv").is_file()
    with pytest.raises(SystemExit) as e:
        main(["tag", str(catalogue.root), "--out", str(out), "--shard", "2/2"])
    assert e.value.code == 2


def test_list_file_loose_files_and_collisions(tmp_path, fake, capsys):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    _wav(d1 / "song.wav"), _wav(d2 / "song.wav", 0.5), _wav(d2 / "other.wav")
    (tmp_path / "notes.txt").write_text("junk")
    lst = tmp_path / "lists" / "inputs.txt"
    lst.parent.mkdir()
    lst.write_text("# catalogue\n\n../d1/song.wav\n" + f"{d2 / 'song.wav'}\n" + "../d2/other.wav  \n"
                   "../missing.wav\n# ../d2/ignored.wav\n../notes.txt\n")
    out = tmp_path / "out"
    rc, summary, _ = _run(capsys, f"@{lst}", "--out", out)
    assert rc == 1 and summary["tagged"] == 3 and summary["failed"] == 2
    names = sorted(p.name for p in out.glob("*.scores.tsv"))
    assert names[0] == "other.scores.tsv"
    assert len(names) == 3 and all(n.startswith("song~") for n in names[1:])  # both kept, hashed
    fails = _failures(out / "failures.tsv")
    assert set(fails) == {str(lst.parent / "../missing.wav"), str(lst.parent / "../notes.txt")}
    assert "no such file" in fails[str(lst.parent / "../missing.wav")]
    combined = read_events_tsv(out / "events.tsv")
    assert len({r[0] for r in combined}) == 3
    # the hash names depend on each file only: the same two files give the same names in a second run
    items, _ = discover([d1 / "song.wav", d2 / "song.wav"])
    assert sorted(str(it.key) for it in items) == [n[: -len(".scores.tsv")] for n in names[1:]]

    rc, _, err = _run(capsys, f"@{tmp_path / 'nope.txt'}", "--out", out)
    assert rc == 2 and err.strip().startswith("error: ") and "input list not found" in err


def test_junk_named_explicitly_fails_cleanly(tmp_path, fake, capsys):
    good = _wav(tmp_path / "good.wav")
    junk = tmp_path / "notes.txt"
    junk.write_text("not audio")
    out = tmp_path / "out"
    rc, summary, _ = _run(capsys, good, junk, "--out", out)
    assert rc == 1 and summary["tagged"] == 1
    assert list(_failures(out / "failures.tsv")) == [str(junk)]


def test_unwritable_output_dir_is_a_setup_error(tmp_path, fake, capsys):
    _wav(tmp_path / "in" / "a.wav")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        rc, summary, err = _run(capsys, tmp_path / "in", "--out", out)
        assert rc == 2 and summary is None
        assert err.count("\n") == 1 and err.startswith(f"error: {out}: ")
    assert blocker.read_text() == "x" and fake.calls == []
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        rc, _, err = _run(capsys, tmp_path / "in", "--out", ro / "out")
        assert rc == 2 and "not writable" in err


def test_usage_errors_exit_two_before_writing(tmp_path, fake, capsys):
    _wav(tmp_path / "in" / "a.wav")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main(["tag", str(tmp_path / "in"), "--out", str(out), "--format", "scores,mp3"])
    assert e.value.code == 2
    (tmp_path / "empty").mkdir()
    rc, _, err = _run(capsys, tmp_path / "empty", "--out", out)
    assert rc == 2 and "no audio or video files found" in err
    import torch

    if not torch.cuda.is_available():
        rc, _, err = _run(capsys, tmp_path / "in", "--out", out, "--device", "cuda")
        assert rc == 2 and "no CUDA device" in err
    assert not out.exists()


def test_missing_model_is_a_setup_error(tmp_path, capsys):
    _wav(tmp_path / "in" / "a.wav")
    out = tmp_path / "out"
    rc, _, err = _run(capsys, tmp_path / "in", "--out", out, "--model", tmp_path / "nope.safetensors",
                      "--device", "cpu")
    assert rc == 2 and "model file not found" in err and err.startswith("error: ")
    assert not out.exists()


def test_write_error_mid_run_is_listed_and_rerun_completes(catalogue, fake, tmp_path, capsys, monkeypatch):
    real = writers.atomic_write_bytes

    def disk_full_for_b(path, data):
        if Path(path).name.startswith("b."):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(writers, "atomic_write_bytes", disk_full_for_b)
    out = tmp_path / "out"
    rc, summary, _ = _run(capsys, catalogue.root, "--out", out)
    assert rc == 1 and summary["tagged"] == 2
    fails = _failures(out / "failures.tsv")
    b = str(catalogue.root / "sub" / "b.wav")
    assert sorted(fails) == sorted(catalogue.corrupt + [b])
    assert "No space left on device" in fails[b] and "b.scores.tsv" in fails[b]
    assert list((out / "sub").glob("b.*")) == [] and list((out / "sub").glob(".b.*")) == []
    assert {r[0] for r in read_events_tsv(out / "events.tsv")} == {"a.wav", "sub/deep/c.flac"}

    monkeypatch.setattr(writers, "atomic_write_bytes", real)
    fake.calls.clear()
    rc, summary, _ = _run(capsys, catalogue.root, "--out", out)
    assert summary["tagged"] == 1 and summary["skipped"] == 2 and len(fake.calls) == 1
    assert sorted(_failures(out / "failures.tsv")) == catalogue.corrupt
    assert (out / "sub" / "b.scores.tsv").is_file()


def test_interrupted_run_resumes_with_the_remaining_files(tmp_path, monkeypatch):
    root = tmp_path / "in"
    for i in range(6):
        _wav(root / f"f{i}.wav", 0.5, 0.5)
    out = tmp_path / "out"
    fake = FakeBackend()
    from clip2frame.audio.io import load_audio

    class Stop(KeyboardInterrupt):
        pass

    def stop_after_two(r):
        if r.status == "tagged" and sum(1 for _ in out.glob("*.scores.tsv")) == 2:
            raise Stop

    with pytest.raises(Stop):
        batch.tag_files([root], out_dir=out, load_model_fn=fake.load, predict_fn=fake.predict,
                        load_audio_fn=load_audio, on_result=stop_after_two, options=TagOptions(jobs=2))
    assert len(fake.calls) == 2
    fake.calls.clear()
    rep = batch.tag_files([root], out_dir=out, load_model_fn=fake.load, predict_fn=fake.predict,
                          load_audio_fn=load_audio)
    assert len(fake.calls) == 4 and len(rep.skipped) == 2 and len(rep.tagged) == 4 and rep.exit_code == 0


KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from test_tag_cli import FakeBackend
from clip2frame.audio.io import load_audio
from clip2frame.infer.batch import tag_files
from clip2frame.infer.options import TagOptions
fake = FakeBackend(delay_s=0.25)
tag_files([{root!r}], out_dir={out!r}, options=TagOptions(formats=("scores", "events", "npz")), load_model_fn=fake.load,
          predict_fn=fake.predict, load_audio_fn=load_audio)
"""


def test_sigkill_leaves_complete_files_and_a_rerun_finishes(tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    n = 8
    for i in range(n):
        _wav(root / f"f{i}.wav", 0.5, 0.5)
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), root=str(root), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.meta.json"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    done = {p.name.split(".")[0] for p in out.glob("*.meta.json")}  # the sidecar is written last
    assert 3 <= len(done) < n
    for p in out.glob("f*.scores.tsv"):  # whatever exists is complete
        assert read_scores_tsv(p).n_frames == 2
    for p in out.glob("f*.events.tsv"):
        read_events_tsv(p)

    fake = FakeBackend()
    from clip2frame.audio.io import load_audio

    rep = batch.tag_files([root], out_dir=out, options=TagOptions(formats=("scores", "events", "npz")),
                          load_model_fn=fake.load, predict_fn=fake.predict, load_audio_fn=load_audio)
    assert len(rep.skipped) == len(done) and len(fake.calls) == n - len(done) and rep.exit_code == 0
    assert len(list(out.glob("f*.npz"))) == n
    assert [p for p in out.rglob(".*.tmp")] == []
    assert len({r[0] for r in read_events_tsv(out / "events.tsv")}) == n


CRASH_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_tag_cli import FakeBackend
from clip2frame.audio.io import load_audio
from clip2frame.infer.batch import tag_files
from clip2frame.infer.options import TagOptions

def crashing_load(path, **kw):  # a decoder that kills its process on one file (a segfault, the OOM killer)
    if "poison" in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
    return load_audio(path, **kw)

fake = FakeBackend()
rep = tag_files([{root!r}], out_dir={out!r}, options=TagOptions(formats=("scores", "events"), jobs={jobs}),
                load_model_fn=fake.load, predict_fn=fake.predict, load_audio_fn=crashing_load)
print(rep.exit_code, len(rep.tagged), len(rep.skipped), len(rep.failed))
"""


@pytest.mark.parametrize("jobs", [0, 2])
def test_a_file_that_kills_the_process_is_isolated_on_resume(tmp_path, jobs):
    """A file whose decoding kills the process (SIGKILL: a segfault or the OOM killer) kills its run; the
    next run tags every other file and retries it alone (it dies again); the run after that lists it as
    failed with a one-line reason and finishes. Before: every resume died on it."""
    root, out = tmp_path / "in", tmp_path / "out"
    for name in ("a", "b", "c_poison", "d", "e"):
        _wav(root / f"{name}.wav", 0.3, 0.2)
    script = textwrap.dedent(CRASH_SCRIPT.format(tests=str(Path(__file__).parent), root=str(root), out=str(out),
                                                 jobs=jobs))

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)

    first = run()
    assert first.returncode == -signal.SIGKILL
    second = run()   # the others are tagged first; the suspect, alone, kills this run too
    assert second.returncode == -signal.SIGKILL
    assert {p.name.split(".")[0] for p in out.glob("*.meta.json")} == {"a", "b", "d", "e"}
    third = run()
    assert third.returncode == 0, third.stderr[-2000:]
    assert third.stdout.split() == ["1", "0", "4", "1"]   # exit 1: 0 tagged, 4 skipped, 1 failed
    (path, msg), = _failures(out / "failures.tsv").items()
    assert path.endswith("c_poison.wav") and "died while tagging this file in 2 earlier runs" in msg
    assert len(list((out / ".clip2frame-attempts").iterdir())) == 1   # its marker stays: later runs skip it too
    assert run().stdout.split() == ["1", "0", "4", "1"]


def test_discover_rules(tmp_path):
    root = tmp_path / "r"
    _wav(root / "x.wav"), _wav(root / "x.flac"), _wav(root / "s" / "y.wav")
    (root / "s" / "readme.md").write_text("-")
    items, missing = discover([root, root / "s" / "y.wav"])  # y twice: deduplicated
    keys = [str(it.key) for it in items]
    assert missing == [] and len(items) == 3
    assert keys[0] == "s/y" and all(k.startswith("x~") for k in keys[1:]) and keys[1] != keys[2]
    assert {it.name for it in items[1:]} == {keys[1] + ".wav", keys[2] + ".flac"} or \
        {it.name for it in items[1:]} == {keys[1] + ".flac", keys[2] + ".wav"}


def test_real_tiny_model_end_to_end(tmp_path, capsys):
    """Through load_tagger + predict + audio.io with a real (untrained) tiny model file."""
    import torch

    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.infer.predict import predict
    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.models.io import TaggerModel, save_model
    from clip2frame.models.registry import fit_model_to_features, get_preset

    torch.manual_seed(0)
    preset = get_preset("tiny")
    spec = FeatureSpec(**preset.features)
    cfg = fit_model_to_features(preset.model, n_scales=spec.n_scales, n_bands=spec.n_bands)
    labels = ["piano", "drums", "fast"]
    tagger = TaggerModel(Clip2FrameNet(cfg, len(labels)).eval(), spec, Standardizer.identity(spec.n_scales,
                         spec.n_bands), labels, {"piano": "instrument", "drums": "instrument", "fast": "tempo"},
                         np.array([0.5, 0.5, 0.5], dtype=np.float32), name="tiny-test", version="0.0.1")
    model_path = save_model(tmp_path / "tiny.safetensors", tagger)
    root = tmp_path / "in"
    a = _wav(root / "a.wav", 3.0, 1.0)
    _wav(root / "sub" / "b.wav", 1.0, 0.3, freq=880.0)
    (root / "broken.wav").write_text("nope")
    out = tmp_path / "out"
    rc, summary, _ = _run(capsys, root, "--out", out, "--model", model_path, "--device", "cpu",
                          "--format", "scores,events,audacity,npz")
    assert rc == 1 and summary["tagged"] == 2 and summary["failed"] == 1
    got = read_scores_tsv(out / "a.scores.tsv")
    ref = predict(a, model=model_path, device="cpu")
    assert got.labels == labels and got.n_frames == ref.n_frames == int(np.ceil(4.0 / 0.512))
    np.testing.assert_allclose(got.probs, ref.probs, atol=5e-5)
    np.testing.assert_allclose(got.boundaries, ref.boundaries, atol=5e-4)
    with np.load(out / "sub" / "b.npz") as z:
        assert z["labels"].tolist() == labels and z["probs"].shape[1] == 3

    rc, summary, _ = _run(capsys, root, "--out", tmp_path / "out_frame", "--model", model_path,
                          "--device", "cpu", "--resolution", "frame")
    got = read_scores_tsv(tmp_path / "out_frame" / "a.scores.tsv")
    assert got.n_frames == 1 + 4 * SR // 512


def test_event_options_reach_the_events_files(tmp_path, fake, capsys):
    _wav(tmp_path / "in" / "b.wav", 1.6, 0.5)  # loud 0-1.536 s, quiet 1.536-2.1 s (0.564 s)
    out = tmp_path / "out"
    rc, _, _ = _run(capsys, tmp_path / "in", "--out", out, "--min-event", "0.6", "--format", "events,audacity")
    assert rc == 0
    assert read_events_tsv(out / "b.events.tsv") == [("b.wav", 0.0, 1.536, "loud")]
    assert (out / "b.audacity.txt").read_text() == "0.000000\t1.536000\tloud\n"
    assert not (out / "b.scores.tsv").exists()
    with pytest.raises(SystemExit):
        main(["tag", str(tmp_path / "in"), "--out", str(out), "--merge-gap", "-1"])


# ------------------------------------------------------------------------------- optional keywords
class _Opaque:
    """A callable whose signature cannot be read (like some builtins and C extensions)."""

    __signature__ = "unreadable"  # inspect.signature raises TypeError

    def __init__(self, inner):
        self.inner, self.kwargs = inner, []

    def __call__(self, *a, **kw):
        self.kwargs.append(sorted(kw))
        return self.inner(*a, **kw)


def test_optional_keywords_passed_only_when_accepted(tmp_path, monkeypatch):
    # one rule for the batch (batch_size) and the viewer (progress): pass a keyword when the callable
    # names it or takes **kwargs; when its signature cannot be read, leave it out (formerly the batch
    # passed it and the viewer did not)
    from clip2frame.audio.io import load_audio
    from clip2frame.signatures import accepts_keyword

    assert accepts_keyword(lambda x, *, batch_size=1: x, "batch_size")
    assert accepts_keyword(lambda x, **kw: x, "batch_size")
    assert not accepts_keyword(lambda x, *, sr=None: x, "batch_size")
    assert not accepts_keyword(_Opaque(len), "batch_size")

    fb = FakeBackend()
    opaque = _Opaque(fb.predict)  # FakeBackend.predict has no batch_size: passing it would fail each file
    monkeypatch.setattr(batch, "load_backend", lambda model, dev, *a: (fb.model, opaque, load_audio))
    rep = batch.tag_files([_wav(tmp_path / "in" / "a.wav")], out_dir=tmp_path / "out",
                          options=TagOptions(device="cpu"))
    assert rep.exit_code == 0 and len(rep.tagged) == 1
    assert opaque.kwargs == [["device", "model", "resolution", "sr"]]


# --------------------------------------------------------------------------------------------- provenance
def _tiny_model(path: Path, seed: int, *, name: str = "tiny-test") -> Path:
    import torch

    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.models.io import TaggerModel, save_model
    from clip2frame.models.registry import fit_model_to_features, get_preset

    torch.manual_seed(seed)
    preset = get_preset("tiny")
    spec = FeatureSpec(**preset.features)
    cfg = fit_model_to_features(preset.model, n_scales=spec.n_scales, n_bands=spec.n_bands)
    labels = ["piano", "drums"]
    tagger = TaggerModel(Clip2FrameNet(cfg, 2).eval(), spec, Standardizer.identity(spec.n_scales, spec.n_bands),
                         labels, {"piano": "instrument", "drums": "instrument"}, np.array([0.5, 0.5], np.float32),
                         name=name, version=f"0.0.{seed}")
    return save_model(path, tagger)


def _sidecars(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): json.loads(p.read_text())["provenance"] for p in out.rglob("*.meta.json")}


def test_resume_retags_outputs_of_another_model_and_says_so(tmp_path, capsys, caplog):
    """Defect #27.1: re-running with another --model into the same folder kept the old results silently."""
    import hashlib

    from safetensors.torch import load_file

    from clip2frame.models.io import load_model, tensors_sha256

    a, b = _tiny_model(tmp_path / "a.safetensors", 0), _tiny_model(tmp_path / "b.safetensors", 1)
    hash_a = tensors_sha256(load_file(str(a)))
    assert load_model(a).weights_sha256 == hash_a != load_model(b).weights_sha256
    root, out = tmp_path / "in", tmp_path / "out"
    wavs = [_wav(root / "x.wav", 1.0, 0.5), _wav(root / "sub" / "y.wav", 0.5, 1.0, freq=880.0)]
    rc, summary, _ = _run(capsys, root, "--out", out, "--model", a, "--device", "cpu", "--format", "scores,events,npz")
    assert rc == 0 and summary["tagged"] == 2 and summary["retagged"] == 0
    side = _sidecars(out)
    assert set(side) == {"x.meta.json", "sub/y.meta.json"}
    assert side["x.meta.json"]["model"]["weights_sha256"] == hash_a
    assert side["x.meta.json"]["model"]["name"] == "tiny-test" and side["x.meta.json"]["model"]["version"] == "0.0.0"
    assert side["x.meta.json"]["content_sha256"] == hashlib.sha256(wavs[0].read_bytes()).hexdigest()
    assert side["sub/y.meta.json"]["source"] == str(wavs[1])

    rc, summary, _ = _run(capsys, root, "--out", out, "--model", a, "--device", "cpu", "--format", "scores,events,npz")
    assert summary["skipped"] == 2 and summary["tagged"] == 0  # same model: resume keeps them

    caplog.set_level("INFO", logger="clip2frame.infer")
    rc, summary, _ = _run(capsys, root, "--out", out, "--model", b, "--device", "cpu", "--format", "scores,events,npz")
    assert rc == 0 and summary["tagged"] == 2 and summary["retagged"] == 2 and summary["skipped"] == 0
    assert sum("re-tagging with tiny-test 0.0.1" in r.getMessage() for r in caplog.records) == 2
    hash_b = load_model(b).weights_sha256
    assert {s["model"]["weights_sha256"] for s in _sidecars(out).values()} == {hash_b}
    from clip2frame.infer.predict import predict

    np.testing.assert_allclose(read_scores_tsv(out / "x.scores.tsv").probs,
                               predict(wavs[0], model=b, device="cpu").probs, atol=5e-5)
    from clip2frame.results.provenance import from_npz_field

    with np.load(out / "x.npz", allow_pickle=False) as z:
        assert from_npz_field(z["provenance"]).model.weights_sha256 == hash_b


def test_resume_retags_outputs_made_with_other_thresholds_or_settings(tmp_path, capsys, caplog):
    """Outputs made by the same network with other thresholds (a `clip2frame thresholds` copy of the model) or
    another --resolution / --min-event / --merge-gap were kept on resume: events cut at the old thresholds."""
    from clip2frame.models.io import load_model, save_model

    a = _tiny_model(tmp_path / "a.safetensors", 0)
    refit = save_model(tmp_path / "refit.safetensors",
                       load_model(a).with_thresholds([0.2, 0.8], source="test"))
    assert load_model(refit).weights_sha256 == load_model(a).weights_sha256  # same network
    root, out = tmp_path / "in", tmp_path / "out"
    _wav(root / "x.wav", 1.0, 0.5), _wav(root / "y.wav", 0.5, 1.0, freq=880.0)
    base = [root, "--out", out, "--device", "cpu", "--format", "scores,events"]
    rc, summary, _ = _run(capsys, *base, "--model", a)
    assert rc == 0 and summary["tagged"] == 2
    side = json.loads((out / "x.meta.json").read_text())
    assert side["provenance"]["settings"] == {"resolution": "model", "min_duration": 0.0, "merge_gap": 0.0}
    caplog.set_level("INFO", logger="clip2frame.infer")
    steps = [  # (arguments, re-tagged?, what the log line names)
        (["--model", a], False, None),
        (["--model", refit], True, "other thresholds"),
        (["--model", refit], False, None),
        (["--model", refit, "--min-event", "0.5"], True, "min_duration 0.0 -> 0.5"),
        (["--model", refit, "--min-event", "0.5", "--merge-gap", "1"], True, "merge_gap 0.0 -> 1.0"),
        (["--model", refit, "--min-event", "0.5", "--merge-gap", "1", "--resolution", "frame"], True,
         "resolution 'model' -> 'frame'"),
        (["--model", refit, "--min-event", "0.5", "--merge-gap", "1", "--resolution", "frame"], False, None),
    ]
    for args, redone, why in steps:
        caplog.clear()
        rc, summary, _ = _run(capsys, *base, *args)
        assert rc == 0, args
        if redone:
            assert summary["tagged"] == 2 and summary["other_settings"] == 2 and summary["retagged"] == 0, args
            assert sum(why in r.getMessage() for r in caplog.records) == 2, (args, [r.getMessage() for r in caplog.records])
        else:
            assert summary["skipped"] == 2 and summary["tagged"] == 0, args
    side = json.loads((out / "x.meta.json").read_text())
    assert side["thresholds"] == {"piano": 0.2, "drums": 0.8}
    assert side["provenance"]["settings"] == {"resolution": "frame", "min_duration": 0.5, "merge_gap": 1.0}
    # a sidecar from before the settings were recorded: re-tagged once, said so
    for p in out.glob("*.meta.json"):
        doc = json.loads(p.read_text())
        doc["provenance"].pop("settings")
        p.write_text(json.dumps(doc))
    caplog.clear()
    rc, summary, _ = _run(capsys, *base, "--model", refit, "--min-event", "0.5", "--merge-gap", "1",
                          "--resolution", "frame")
    assert summary["other_settings"] == 2
    assert sum("settings not recorded" in r.getMessage() for r in caplog.records) == 2


def test_outputs_without_provenance_are_an_unknown_model_counted_warned_and_retagged(catalogue, fake, tmp_path,
                                                                                    capsys, caplog):
    """Old result folders (no sidecar) never pass for the current model's results silently."""
    out = tmp_path / "out"
    _run(capsys, catalogue.root, "--out", out)
    for p in out.rglob("*.meta.json"):
        p.unlink()
    fake.calls.clear()
    caplog.set_level("WARNING", logger="clip2frame.infer")
    rc, summary, _ = _run(capsys, catalogue.root, "--out", out)
    assert summary["tagged"] == 3 and summary["unknown_model"] == 3 and summary["retagged"] == 0
    assert len(fake.calls) == 3 and len(_sidecars(out)) == 3
    warn = [r.getMessage() for r in caplog.records if "without a readable .meta.json" in r.getMessage()]
    assert len(warn) == 1 and warn[0].startswith("3 file(s)")


def test_fake_model_with_another_weights_hash_is_another_model(catalogue, fake, tmp_path, capsys):
    out = tmp_path / "out"
    fake.model.weights_sha256 = "1" * 64
    _run(capsys, catalogue.root, "--out", out)
    fake.model.weights_sha256 = "2" * 64  # same name and version, other weights
    rc, summary, _ = _run(capsys, catalogue.root, "--out", out)
    assert summary["retagged"] == 3 and summary["tagged"] == 3


NASTY = ["tab\there", "new\nline", "back\\slash", 'quo"te\'s', "ünïcødé 音楽", "-leading-dash",
         " spaces in name ", "a\\tb"]


def test_any_file_name_round_trips_and_reruns_succeed(tmp_path, fake, capsys):
    """Defect #27.2: a tab or newline in an input name broke the whole batch on every re-run (exit 2)."""
    jams = pytest.importorskip("jams")
    root, out = tmp_path / "in", tmp_path / "out"
    for i, stem in enumerate(NASTY):
        _wav(root / ("d" if i % 2 else "") / f"{stem}.wav", 0.6 + 0.1 * i, 0.5)
    fmts = "scores,events,audacity,npz,jams"
    for attempt in range(2):
        rc, summary, err = _run(capsys, root, "--out", out, "--format", fmts)
        assert rc == 0 and "error" not in err, err
        assert summary["skipped" if attempt else "tagged"] == len(NASTY)
    items, _ = discover([root])
    names = {it.name for it in items}
    assert {r[0] for r in read_events_tsv(out / "events.tsv")} == names
    for it in items:
        base = out / it.key.parent / it.key.name
        assert {r[0] for r in read_events_tsv(Path(f"{base}.events.tsv"))} == {it.path.name}
        side = json.loads(Path(f"{base}.meta.json").read_text())
        assert side["source_name"] == it.path.name and side["provenance"]["source"] == str(it.path)
        from clip2frame.results.provenance import from_npz_field

        with np.load(f"{base}.npz", allow_pickle=False) as z:
            assert from_npz_field(z["provenance"]).source == str(it.path)
        assert jams.load(f"{base}.jams", validate=True).file_metadata.title == it.path.name
        assert Path(f"{base}.audacity.txt").read_text()
    from clip2frame.index import IndexStore

    with IndexStore(out / "index.sqlite") as s:
        assert {r["id"] for r in s.list_files(limit=100)[0]} == {str(it.key) for it in items}
        assert {r["name"] for r in s.list_files(limit=100)[0]} == {it.path.name for it in items}


def test_unreadable_events_file_of_a_done_file_does_not_kill_the_batch(tmp_path, fake, capsys):
    root, out = tmp_path / "in", tmp_path / "out"
    _wav(root / "new\nline.wav")
    _wav(root / "ok.wav")
    assert _run(capsys, root, "--out", out)[0] == 0
    # as an older clip2frame wrote it: the newline of the name splits the row
    (out / "new\nline.events.tsv").write_text("filename\tonset\toffset\tevent_label\nnew\nline.wav\t0.000\t1.0\tloud\n")
    rc, summary, err = _run(capsys, root, "--out", out)
    assert rc == 1 and summary["failed"] == 1
    fails = (out / "failures.tsv").read_text().splitlines()
    assert len(fails) == 2 and fails[1].startswith(str(root / "new\\nline.wav") + "\t")  # escaped like events
    assert "line 2 is not filename" in fails[1] and fails[1].endswith("re-tag it with --overwrite)")
    assert [r[0] for r in read_events_tsv(out / "events.tsv")] == ["ok.wav"] * len(read_events_tsv(out / "events.tsv"))
    rc, summary, _ = _run(capsys, root, "--out", out, "--overwrite")
    assert rc == 0 and {r[0] for r in read_events_tsv(out / "events.tsv")} == {"ok.wav", "new\nline.wav"}


# --------------------------------------------------------------------------------------------- options, hook
@pytest.mark.parametrize("kwargs,match", [
    ({"resolution": "fine"}, "--resolution 'fine'"),
    ({"min_duration": -1.0}, "must be >= 0 seconds"),
    ({"batch_size": 0}, "--batch-size 0"),
    ({"jobs": -1}, "--jobs -1"),
    ({"formats": "scores,mp3"}, "unknown output format 'mp3'"),
    ({"shard": "3/2"}, "shard"),
])
def test_tag_options_refuse_bad_values_when_made(kwargs, match):
    from clip2frame.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        TagOptions(**kwargs)


def test_tag_options_are_one_frozen_parsed_object():
    import dataclasses

    opt = TagOptions(formats="scores, events,scores", shard="1/3")
    assert opt.formats == ("scores", "events") and opt.shard == (1, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.jobs = 4  # type: ignore[misc]


def test_result_hook_sees_every_result_and_can_fail_one(tmp_path):
    from clip2frame.audio.io import load_audio

    root, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        _wav(root / f"f{i}.wav", 0.5, 0.5)
    fake = FakeBackend()
    calls: list[str] = []

    class Hook:
        def open(self, out_dir):
            assert out_dir == out and out.is_dir() and not list(out.glob("*.scores.tsv"))
            calls.append("open")

        def __call__(self, r):
            calls.append(f"{r.status}:{r.key}")
            if r.key == "f1":
                return FileResult(r.path, r.key, "failed", r.outputs, error="hook: f1 refused")
            return r

        def close(self):
            calls.append("close")

    rep = batch.tag_files([root], out_dir=out, result_hook=Hook(), load_model_fn=fake.load,
                          predict_fn=fake.predict, load_audio_fn=load_audio)
    assert calls == ["open", "tagged:f0", "tagged:f1", "tagged:f2", "close"]
    assert [r.key for r in rep.failed] == ["f1"] and rep.exit_code == 1
    assert _failures(out / "failures.tsv") == {str(root / "f1.wav"): "hook: f1 refused"}
    assert (out / "f1.scores.tsv").is_file() and not (out / "index.sqlite").exists()


@pytest.mark.skipif(os.name != "posix", reason="file names are bytes on POSIX only")
def test_file_name_not_valid_utf8_is_tagged_and_named_in_failures(tmp_path, fake, capsys):
    """A name that is not valid UTF-8 decodes (it used to fail in audio/io.py) and its results are written;
    the index, which stores UTF-8 text, refuses it with a one-line failure naming the file (escaped as in
    every TSV), and the batch goes on (before: a traceback while writing failures.tsv)."""
    root = tmp_path / "cat"
    _wav(root / "ok.wav")
    bad = root / os.fsdecode(b"caf\xe9 \xff.wav")
    os.link(root / "ok.wav", bad)
    out = tmp_path / "out"
    rc, summary, err = _run(capsys, root, "--out", out)
    assert rc == 1 and summary["tagged"] == 1 and summary["failed"] == 1
    assert (out / os.fsdecode(b"caf\xe9 \xff.scores.tsv")).is_file()
    (path, msg), = _failures(out / "failures.tsv").items()
    assert path == str(root / "caf\\xe9 \\xff.wav") and "not valid UTF-8" in msg and "rename" in msg
    rc, summary, _ = _run(capsys, root, "--out", tmp_path / "out2", "--no-index")
    assert rc == 0 and summary["tagged"] == 2 and summary["failed"] == 0
