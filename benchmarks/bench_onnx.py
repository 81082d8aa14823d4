"""ONNX Runtime vs torch (CPU) for the network from log-mel onward, on one long input; and from audio.

Both run the same exported graph's computation — standardisation, early/late layers, accumulation, clip
pooling — on the same [B, S, M, T] log-mel input (default: thesis-best, 6 scales x 128 bands, 10 min of
features = 18750 frames), interleaved (torch, ort, torch, ort, ...) so load changes on a shared machine hit
both alike. Figures: median wall seconds, x real time (audio seconds / wall seconds), the ratio
torch / ort (> 1: onnxruntime faster) and the max abs difference of the outputs.

    .venv/bin/python benchmarks/bench_onnx.py [--preset thesis-best] [--minutes 10] [--repeats 5] [--threads 1]

``--audio-minutes M`` (> 0) adds the whole path from samples, on M minutes of rendered-like audio (tones,
noise, clicks): torch (``MultiScaleLogMel`` + the network, what ``tag`` runs), onnxruntime on the graph with
the front-end inside (``export --onnx``), and the torch front-end + onnxruntime on the log-mel graph (what
a ``tag --backend onnxruntime`` would run), interleaved, with their max abs differences in probability.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import pin_threads_from_argv, print_machine_info  # noqa: E402  (stdlib only: safe before numpy)

_THREADS = pin_threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="thesis-best")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the features, minutes of audio")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads (default 1)")
    ap.add_argument("--labels", type=int, default=15)
    ap.add_argument("--audio-minutes", type=float, default=0.0,
                    help="also time the whole path from M minutes of samples (the audio graph holds every "
                         "frame of every scale at once: ~250 MB a minute)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print_machine_info()

    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.export.onnx import export_onnx, load_onnx
    from clip2frame.models import PRESETS, Clip2FrameNet
    from clip2frame.models.io import TaggerModel

    p = PRESETS[args.preset]
    spec = FeatureSpec(**p.features)
    torch.manual_seed(0)
    net = Clip2FrameNet(p.model, args.labels).eval()
    rng = np.random.default_rng(0)
    std = Standardizer(rng.uniform(0, 2, (spec.n_scales, spec.n_bands)).astype(np.float32),
                       rng.uniform(1, 3, (spec.n_scales, spec.n_bands)).astype(np.float32))
    labels = [f"t{k}" for k in range(args.labels)]
    tagger = TaggerModel(net, spec, std, labels, {}, np.full(args.labels, 0.5, np.float32))
    audio_s = args.minutes * 60.0
    T = spec.n_frames(int(audio_s * spec.sr))
    x = rng.uniform(0, 8, (args.batch, spec.n_scales, spec.n_bands, T)).astype(np.float32)
    print(f"# input: {args.preset}, logmel [{args.batch}, {spec.n_scales}, {spec.n_bands}, {T}] "
          f"({args.minutes:g} min of audio per item), {args.labels} labels, {args.threads} thread(s)")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = export_onnx(tagger, Path(tmp) / "m.onnx", audio_in=False)
        print(f"# export: {time.perf_counter() - t0:.2f} s, {path.stat().st_size / 1e6:.1f} MB")
        sess = load_onnx(path, threads=args.threads)
        mean, std_t = std.mean[None, :, :, None], std.std[None, :, :, None]

        def run_torch():
            with torch.no_grad():
                out = net((torch.from_numpy(x) - mean) / std_t)
            return out.frame.numpy(), out.clip.numpy()

        def run_ort():
            return sess.run(x)

        ref, got = run_torch(), run_ort()  # warm-up, and the parity figure
        diff = max(float(np.abs(ref[0] - got[0]).max()), float(np.abs(ref[1] - got[1]).max()))
        times: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
        for _ in range(args.repeats):
            for name, fn in (("torch", run_torch), ("onnxruntime", run_ort)):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)

    total_audio = audio_s * args.batch
    print(f"{'runtime':<12} {'median s':>9} {'min s':>8} {'x realtime':>11}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<12} {med:9.3f} {min(ts):8.3f} {total_audio / med:11.0f}")
    ratio = statistics.median(times["torch"]) / statistics.median(times["onnxruntime"])
    print(f"ratio torch/onnxruntime (median): {ratio:.2f}  (> 1: onnxruntime faster)")
    print(f"max abs diff onnxruntime vs torch: {diff:.2e}")
    if args.audio_minutes > 0:
        _from_audio(tagger, args)
    return 0


def _from_audio(tagger, args) -> None:
    """Samples -> frame probabilities: torch vs the onnxruntime audio graph vs torch front-end + ort."""
    from clip2frame.audio.features import MultiScaleLogMel
    from clip2frame.data.toy import render_toy_clip
    from clip2frame.export.onnx import export_onnx, load_onnx

    spec = tagger.feature_spec
    rng = np.random.default_rng(1)
    wave = np.concatenate([render_toy_clip(rng, duration_s=30.0, sr=spec.sr)[0]
                           for _ in range(max(1, round(args.audio_minutes * 2)))])[None]
    audio_s = wave.shape[1] / spec.sr
    front = MultiScaleLogMel(spec)
    std = tagger.standardizer
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        audio_sess = load_onnx(export_onnx(tagger, Path(tmp) / "a.onnx"), threads=args.threads)
        t_export = time.perf_counter() - t0
        feat_sess = load_onnx(export_onnx(tagger, Path(tmp) / "f.onnx", audio_in=False), threads=args.threads)
        size = (Path(tmp) / "a.onnx").stat().st_size / 1e6

        def torch_path():
            with torch.no_grad():
                return tagger.net(std.apply(front(torch.from_numpy(wave)))).frame.numpy()

        def ort_audio():
            return audio_sess.run(wave)[0]

        def torch_front_ort_net():
            with torch.no_grad():
                feats = front(torch.from_numpy(wave)).numpy()
            return feat_sess.run(feats)[0]

        runs = {"torch": torch_path, "onnxruntime (audio graph)": ort_audio,
                "torch front-end + ort": torch_front_ort_net}
        ref = torch_path()
        diffs = {name: float(np.abs(fn() - ref).max()) for name, fn in runs.items()}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    print(f"\n# from audio: {audio_s:.0f} s of rendered test audio, {args.preset}; audio graph {size:.1f} MB, "
          f"exported in {t_export:.1f} s")
    print(f"{'path':<28} {'median s':>9} {'min s':>8} {'x realtime':>11} {'max |dp| vs torch':>18}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<28} {med:9.3f} {min(ts):8.3f} {audio_s / med:11.0f} {diffs[name]:18.2e}")


if __name__ == "__main__":
    sys.exit(main())
