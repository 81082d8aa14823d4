"""Live tagging: a stream's frames and events equal a whole-file pass for any blocks; latency; sources; CLI."""
from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from clip2frame.audio.features import FeatureSpec, MultiScaleLogMel, Standardizer
from clip2frame.audio.live import iter_container, iter_pcm
from clip2frame.cli import main as cli_main
from clip2frame.errors import Clip2FrameError, ConfigError
from clip2frame.infer.predict import predict
from clip2frame.infer.stream import StreamTagger, feed_many
from clip2frame.models import PRESETS, Clip2FrameNet
from clip2frame.models.io import TaggerModel, save_model
from clip2frame.models.latency import latency_budget, receptive_field

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _tagger(preset="tiny", K=4, seed=0, sigmas=(1.0, 6.0)):
    p = PRESETS[preset]
    spec = FeatureSpec(**p.features)
    torch.manual_seed(seed)
    net = Clip2FrameNet(p.model, K).eval()
    if hasattr(net.accumulation, "log_sigma"):
        with torch.no_grad():  # distinct per-tag sigmas: a wrong tap or tag order in the accumulation shows
            net.accumulation.log_sigma.copy_(torch.log(torch.linspace(*sigmas, K)))
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    rng = np.random.default_rng(seed)
    std = Standardizer(rng.uniform(0, 2, (spec.n_scales, spec.n_bands)).astype(np.float32),
                       rng.uniform(1, 3, (spec.n_scales, spec.n_bands)).astype(np.float32))
    labels = [f"tag{k}" for k in range(K)]
    return TaggerModel(net, spec, std, labels, {lab: "kind" for lab in labels}, np.full(K, 0.5, np.float32),
                       name=f"test-{preset}")


def _wave(seconds, sr=16000, seed=0):
    """Noise whose loudness jumps every ~0.4 s, so frame probabilities move and events start and end."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    env = np.repeat(rng.uniform(0.0, 1.0, n // 6400 + 1) ** 2, 6400)[:n]
    return (0.3 * env * rng.standard_normal(n)).astype(np.float32)


def _with_median_thresholds(tagger, wave):
    """Thresholds at each tag's median probability: many events, so boundaries are really compared."""
    probs = predict(wave, model=tagger, sr=tagger.feature_spec.sr).probs
    return tagger.with_thresholds(np.median(probs, axis=0) + 1e-4, source="test")


def _stream(tagger, wave, sizes, **kw):
    st = StreamTagger(tagger, **kw)
    frames, events, i, c = [], [], 0, 0
    while i < len(wave):
        n = sizes[c % len(sizes)]
        u = st.feed(wave[i:i + n])
        frames.append(u.frames)
        events += u.events
        i, c = i + n, c + 1
    u = st.close()
    frames.append(u.frames)
    events += u.events
    probs = np.concatenate([f.probs for f in frames])
    bounds = np.concatenate([frames[0].boundaries[:1]] + [f.boundaries[1:] for f in frames])
    return probs, bounds, events


def _key(events):
    return sorted((e.onset, e.offset, e.label) for e in events)


BURSTY = [1, 7, 0, 5000, 3, 160, 0, 33333, 512, 511, 2]


@pytest.mark.parametrize("preset, seconds, sizes", [
    ("tiny", 23.3, [10**9]), ("tiny", 23.3, [4000]), ("tiny", 23.3, BURSTY), ("tiny", 2.7, [37, 1, 113]),
    ("tiny", 0.2, [100]), ("thesis-sound-ch4", 17.9, BURSTY), ("thesis-best", 13.1, [2900, 16000]),
    ("thesis-urbansound", 9.4, BURSTY),
])
def test_stream_equals_whole_file(preset, seconds, sizes):
    tagger = _tagger(preset)
    sr = tagger.feature_spec.sr
    wave = _wave(seconds, sr=sr)
    tagger = _with_median_thresholds(tagger, wave)
    ref = predict(wave, model=tagger, sr=sr)
    for md, mg in ((0.0, 0.0), (1.0, 1.1)):
        probs, bounds, events = _stream(tagger, wave, sizes, max_latency_s=math.inf, min_duration=md, merge_gap=mg)
        assert probs.shape == ref.probs.shape
        # the same sums in another order: float rounding only
        assert np.abs(probs - ref.probs).max() <= 1e-6
        np.testing.assert_array_equal(bounds, ref.boundaries)
        assert _key(events) == _key(ref.to_events(min_duration=md, merge_gap=mg))
    if seconds > 1:
        assert len(ref.to_events()) >= 4  # boundaries were really compared


def test_peak_is_the_highest_frame_of_the_event():
    tagger = _tagger("tiny")
    wave = _wave(15.0)
    tagger = _with_median_thresholds(tagger, wave)
    ref = predict(wave, model=tagger, sr=16000)
    _, _, events = _stream(tagger, wave, [3000], max_latency_s=math.inf)
    assert events
    for e in events:
        k = tagger.labels.index(e.label)
        t = (ref.boundaries[:-1] >= e.onset - 1e-6) & (ref.boundaries[1:] <= e.offset + 1e-3)
        assert e.peak == pytest.approx(float(ref.probs[t, k].max()), abs=1e-6)
        line = json.loads(e.to_json())
        assert set(line) == {"onset", "offset", "tag", "peak"} and line["tag"] == e.label


def test_default_lookahead_is_within_the_gaussian_tail_of_whole_file():
    """Default: 4 sigma of the widest Gaussian; the dropped taps weigh < 3.2e-5 of the kernel."""
    tagger = _tagger("tiny", sigmas=(1.0, 3.0))
    wave = _wave(40.0)
    ref = predict(wave, model=tagger, sr=16000)
    budget = latency_budget(tagger)
    assert budget.lookahead_frames == 12 < budget.full_lookahead_frames and not budget.exact
    probs, _, _ = _stream(tagger, wave, [7000])
    assert 0 < np.abs(probs - ref.probs).max() <= 3.2e-5


def test_truncated_lookahead_equals_the_truncated_kernel_and_meets_its_bound():
    tagger = _tagger("tiny")
    wave = _wave(30.0)
    budget = latency_budget(tagger, max_latency_s=2.5)
    assert budget.bound_s <= 2.5 and budget.bound_s + budget.frame_s > 2.5
    D = budget.lookahead_frames
    # reference: the whole-file pre-accumulation frames, each tag's Gaussian cut after D frames ahead
    with torch.no_grad():
        feats = tagger.standardizer.apply(MultiScaleLogMel(tagger.feature_spec)(torch.from_numpy(wave)[None]))
        raw = tagger.net.forward_pre_accumulation(feats)[0].numpy()  # [K, T']
        L = tagger.net.accumulation.kernel_frames
        from clip2frame.models.layers import gaussian_kernel

        g = gaussian_kernel(tagger.net.accumulation.sigma, L).numpy()  # [K, L], offsets -L//2 .. L-1-L//2
    K, T = raw.shape
    ref = np.zeros((T, K))
    for t in range(T):
        for d in range(-(L // 2), D + 1):
            if 0 <= t + d < T:
                ref[t] += raw[:, t + d] * g[:, d + L // 2]
    st = StreamTagger(tagger, max_latency_s=2.5, rescale=False)
    got, reported_at = [], []
    for i in range(0, len(wave), 800):  # 50 ms blocks
        u = st.feed(wave[i:i + 800])
        got.append(u.frames.probs)
        reported_at += [st.received_s] * u.frames.n_frames
    u = st.close()
    got.append(u.frames.probs)
    assert np.abs(np.concatenate(got) - ref).max() <= 1e-6
    # every frame is final within the bound (+ one 50-ms block) of its end... of its start, in fact:
    # the bound is counted from the start of an event's first inactive frame
    starts = np.arange(len(reported_at)) * budget.frame_s
    assert np.all(np.asarray(reported_at) <= starts + budget.bound_s + 800 / 16000 + 1e-9)
    # rescale (the default): each tag's remaining taps carry the whole kernel's mass
    mass = g.sum(1) / g[:, :L // 2 + D + 1].sum(1)
    probs, _, _ = _stream(tagger, wave, [800], max_latency_s=2.5)
    assert np.abs(probs - ref * mass[None, :]).max() <= 1e-6 and mass.max() > 1.05


def test_receptive_field_matches_the_network():
    """Changing one input frame changes exactly the outputs whose field [s*q - left, s*q + right] holds it."""
    for preset in ("tiny", "thesis-sound-ch4"):
        tagger = _tagger(preset)
        net, s = tagger.net, tagger.total_stride
        left, right = receptive_field(net.cfg)
        x = torch.randn(1, net.cfg.n_scales, net.cfg.in_bands, 400)
        with torch.no_grad():
            base = net.forward_pre_accumulation(x)[0]
            for f in (150, 163, 170):
                y = x.clone()
                y[..., f] += 50.0
                changed = set(np.flatnonzero((net.forward_pre_accumulation(y)[0] != base).any(0).numpy()))
                expected = {q for q in range(base.shape[1]) if s * q - left <= f <= s * q + right}
                assert changed <= expected and len(changed) >= len(expected) - 1
    assert receptive_field(PRESETS["thesis-best"].model) == (20, 30)


def test_latency_budget_of_the_thesis_models():
    b = latency_budget(_tagger("thesis-best"), max_latency_s=math.inf)
    # 16384 / 2 samples of window + 30 input frames of early convolutions, + 127 frames of 256-frame kernel
    assert b.features_s == pytest.approx(0.512) and b.network_s == pytest.approx(0.96)
    assert b.full_lookahead_frames == 127 and b.exact
    assert b.bound_s == pytest.approx(0.512 + 0.96 + 127 * 0.512)
    ch4 = latency_budget(_tagger("thesis-sound-ch4"))  # no accumulation: nothing to look ahead
    assert ch4.lookahead_frames == ch4.full_lookahead_frames == 0
    assert ch4.bound_s == pytest.approx(8192 / 2 / 16000 + 25 * 512 / 16000)  # kernel 5: right = 25
    with pytest.raises(ConfigError, match="at least 1.472 s"):
        latency_budget(_tagger("thesis-best"), max_latency_s=1.0)


def test_feed_many_batches_streams_and_equals_single_streams():
    tagger = _tagger("tiny")
    waves = [_wave(9.0, seed=s) for s in range(3)]
    single = [_stream(tagger, w, [4000], max_latency_s=math.inf)[0] for w in waves]
    streams = [StreamTagger(tagger, max_latency_s=math.inf) for _ in waves]
    got: list[list[np.ndarray]] = [[] for _ in waves]
    for i in range(0, len(waves[0]), 4000):
        for g, u in zip(got, feed_many(streams, samples=[w[i:i + 4000] for w in waves])):
            g.append(u.frames.probs)
    for g, u in zip(got, feed_many(streams, eof=True)):
        g.append(u.frames.probs)
    for g, ref in zip(got, single):
        assert np.abs(np.concatenate(g) - ref).max() <= 1e-6
    with pytest.raises(Clip2FrameError, match="already closed"):
        feed_many(streams, eof=True)


def test_bad_samples_and_feeding_after_close():
    st = StreamTagger(_tagger("tiny"))
    with pytest.raises(Clip2FrameError, match="NaN"):
        st.feed(np.array([0.0, np.nan], np.float32))
    st.close()
    with pytest.raises(Clip2FrameError, match="after close"):
        st.feed(np.zeros(10, np.float32))


# --------------------------------------------------------------------------------------------- sources
def test_pcm_formats_and_a_partial_last_sample(caplog):
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.9, 0.9, (1000, 2)).astype(np.float32)
    s16 = (x * 32768).astype("<i2")
    got = np.concatenate(list(iter_pcm(io.BytesIO(s16.tobytes() + b"\x01"), rate=16000, channels=2,
                                       sample_format="s16le", read_bytes=333)))
    np.testing.assert_allclose(got, (s16.astype(np.float32) / 32768).mean(1), atol=1e-7)
    assert "ended inside a sample" in caplog.text
    f32 = np.concatenate(list(iter_pcm(io.BytesIO(x.tobytes()), rate=16000, channels=2, sample_format="f32le")))
    np.testing.assert_allclose(f32, x.mean(1), atol=1e-7)
    u8 = np.concatenate(list(iter_pcm(io.BytesIO(bytes([0, 128, 255])), rate=16000, sample_format="u8")))
    np.testing.assert_allclose(u8, [-1.0, 0.0, 127 / 128])


def test_container_from_a_pipe_equals_load_audio(tmp_path):
    from clip2frame.audio.io import load_audio

    rng = np.random.default_rng(4)
    path = tmp_path / "a.flac"
    sf.write(path, rng.uniform(-0.5, 0.5, (22050 * 2, 2)).astype(np.float32), 22050)
    got = np.concatenate(list(iter_container(io.BytesIO(path.read_bytes()))))
    ref = load_audio(path)
    assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-6


# --------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def model_file(tmp_path):
    tagger = _tagger("tiny")
    wave = _wave(20.0)
    tagger = _with_median_thresholds(tagger, wave)
    return save_model(tmp_path / "tiny.safetensors", tagger), tagger, wave


def _lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _ref_lines(tagger, wave, sr=16000):
    return sorted((e.onset, e.offset, e.label) for e in predict(wave, model=tagger, sr=sr).to_events())


def test_cli_raw_pcm_from_stdin_cut_mid_sample(model_file, tmp_path, monkeypatch, capsys):
    path, tagger, wave = model_file
    data = (np.clip(wave, -1, 1) * 32767).astype("<i2")
    ref = _ref_lines(tagger, data.astype(np.float32) / 32768)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.tobytes() + b"\x07")))
    scores, events = tmp_path / "live.scores.tsv", tmp_path / "live.events.tsv"
    rc = cli_main(["listen", "-", "--rate", "16000", "--model", str(path), "--max-latency", "exact",
                   "--scores-file", str(scores), "--events-file", str(events), "--name", "live\nset.wav"])
    out = capsys.readouterr()
    assert rc == 0 and "Traceback" not in out.err
    got = _lines(out.out)
    assert sorted((d["onset"], d["offset"], d["tag"]) for d in got) == ref and len(ref) >= 4
    from clip2frame.results.readers import read_events_tsv, read_scores_tsv

    assert sorted((on, off, lab) for _, on, off, lab in read_events_tsv(events)) == ref
    assert {name for name, *_ in read_events_tsv(events)} == {"live\nset.wav"}  # escaped like tag's events files
    rolled = read_scores_tsv(scores)
    assert rolled.n_frames == math.ceil((1 + len(data) // 512) / 16) and rolled.labels == tagger.labels


def test_cli_container_from_stdin_and_from_a_path(model_file, tmp_path, monkeypatch, capsys):
    path, tagger, wave = model_file
    audio = tmp_path / "clip.wav"
    sf.write(audio, wave, 16000, subtype="FLOAT")
    ref = _ref_lines(tagger, wave)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(audio.read_bytes())))
    assert cli_main(["listen", "--model", str(path), "--max-latency", "exact", "-q"]) == 0
    assert sorted((d["onset"], d["offset"], d["tag"]) for d in _lines(capsys.readouterr().out)) == ref
    assert cli_main(["listen", str(audio), "--model", str(path), "--max-latency", "exact"]) == 0
    out = capsys.readouterr()
    assert sorted((d["onset"], d["offset"], d["tag"]) for d in _lines(out.out)) == ref
    assert "latency bound" in out.err and "final to" in out.err


@pytest.mark.parametrize("argv, stdin, message", [
    (["listen", "MISSING"], b"", "file not found"),
    (["listen", "-"], b"this is not audio at all" * 50, "stdin: not a readable audio stream"),
    (["listen", "mic:"], b"", "sound card input needs the 'sounddevice' package"),
    (["listen", "-", "--max-latency", "0.2"], b"", "needs at least"),
])
def test_cli_user_errors_are_one_line(argv, stdin, message, model_file, tmp_path, monkeypatch, capsys):
    if argv[1] == "mic:":
        try:
            import sounddevice  # type: ignore[import-not-found]  # noqa: F401
            pytest.skip("sounddevice is installed here")
        except (ImportError, OSError):
            pass
    path, _, _ = model_file
    argv = [a.replace("MISSING", str(tmp_path / "none.wav")) for a in argv]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    assert cli_main(argv + ["--model", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1] and "Traceback" not in "\n".join(err)


def test_cli_corrupt_data_mid_stream_flushes_then_fails(model_file, tmp_path, monkeypatch, capsys):
    """A stream that breaks off with an error: the events before it are printed, one error line, exit 1."""
    path, tagger, wave = model_file
    bad = wave.copy()
    bad[12 * 16000] = np.inf  # f32 PCM can carry inf: the source refuses it at 12 s
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bad.tobytes())))
    assert cli_main(["listen", "-", "--rate", "16000", "--sample-format", "f32le", "--model", str(path),
                     "-q"]) == 1
    out = capsys.readouterr()
    assert "NaN or infinite samples after" in out.err and "Traceback" not in out.err
    assert len(_lines(out.out)) >= 1


def test_cli_slow_producer_gets_events_before_the_end(model_file, tmp_path):
    """A producer writing 1/10 s at a time into a pipe: events arrive while it still writes, and the
    whole stream's events equal the whole file's."""
    path, tagger, wave = model_file
    data = wave.astype("<f4").tobytes()
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "clip2frame", "listen", "-", "--rate", "16000",
                             "--sample-format", "f32le", "--model", str(path), "--max-latency", "3", "-q"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=lambda: [lines.append((time.monotonic(), ln.decode())) for ln in proc.stdout])
    reader.start()
    step = 1600 * 4  # 0.1 s of f32 samples
    for i in range(0, len(data), step):
        proc.stdin.write(data[i:i + step])
        proc.stdin.flush()
        time.sleep(0.005)
    t_end = time.monotonic()
    proc.stdin.close()
    reader.join(120)
    assert proc.wait(120) == 0, proc.stderr.read().decode()
    assert lines and lines[0][0] < t_end  # the first event came while audio was still arriving
    st = StreamTagger(tagger, max_latency_s=3)
    ref = _key(st.feed(wave).events + st.close().events)
    assert sorted((d["onset"], d["offset"], d["tag"]) for d in (json.loads(s) for _, s in lines)) == ref


def test_inspect_prints_the_latency_bound(model_file, capsys):
    path, tagger, _ = model_file
    assert cli_main(["inspect", str(path)]) == 0
    b = latency_budget(tagger)
    assert f"listen     latency bound {b.bound_s:.2f} s (look-ahead {b.lookahead_frames} frames" in capsys.readouterr().out
    assert cli_main(["inspect", str(path), "--json"]) == 0
    lat = json.loads(capsys.readouterr().out)["stream_latency"]
    assert lat["exact_lookahead_frames"] == 127 and lat["minimum_s"] == pytest.approx(b.fixed_s)


def test_cli_truncated_container_on_stdin_flushes_its_events(model_file, tmp_path, monkeypatch, capsys):
    path, tagger, wave = model_file
    audio = tmp_path / "clip.wav"
    sf.write(audio, wave, 16000, subtype="PCM_16")
    data = audio.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data[: int(len(data) * 0.6) + 1])))
    assert cli_main(["listen", "--model", str(path), "--max-latency", "exact", "-q"]) == 0
    out = capsys.readouterr()
    got = _lines(out.out)
    assert "Traceback" not in out.err and got
    n = (int(len(data) * 0.6) + 1 - 44) // 2  # samples before the cut (44-byte header, 16-bit)
    prefix = (np.clip(wave, -1, 1)[:n] * 32767).astype("<i2").astype(np.float32) / 32768
    assert sorted((d["onset"], d["offset"], d["tag"]) for d in got) == _ref_lines(tagger, prefix)


def test_cli_reader_going_away_is_not_an_error(model_file):
    """`clip2frame listen ... | head -1`: the closed stdout ends the run quietly (exit 0, no traceback)."""
    path, tagger, wave = model_file
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "clip2frame", "listen", "-", "--rate", "16000",
                             "--sample-format", "f32le", "--model", str(path), "--max-latency", "exact", "-q"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the first event
    _, err = proc.communicate(np.tile(wave, 3).astype("<f4").tobytes(), timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()
