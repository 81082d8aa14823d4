"""End-to-end catalogue tagging of long files: seconds, x real time (decoding included) and peak RSS.

Each length is tagged by ``clip2frame.infer.batch.tag_files`` in a fresh subprocess (so the peak RSS of
one length does not hide another's); the child reports its wall time and VmHWM (peak resident set).
Linear time and flat memory show as a constant "s per audio hour" and a peak RSS that does not grow
with the length.

    .venv/bin/python benchmarks/bench_tagging.py            # 1 min, 10 min, 1 h, 3 h
    .venv/bin/python benchmarks/bench_tagging.py --quick    # without 3 h
    .venv/bin/python benchmarks/bench_tagging.py --model path/to/model.safetensors --lengths 60,600

The synthetic WAVs (16-bit; default 16 kHz mono, ``--sr 44100 --channels 2`` adds resampling and
down-mixing to the decode cost) are written block by block into a temp folder and deleted afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_LENGTHS = (60, 600, 3600, 10800)


def _peak_rss_mb() -> float:
    """VmHWM of this process in MiB (ru_maxrss as a fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_synthetic_wav(path: Path, *, seconds: float, sr: int, channels: int, seed: int = 0) -> None:
    """Music-like test signal (notes of changing pitch and loudness over noise), written in 10 s blocks."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    block = 10 * sr
    n_total = int(seconds * sr)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=channels, subtype="PCM_16") as f:
        done = 0
        while done < n_total:
            n = min(block, n_total - done)
            t = (done + np.arange(n)) / sr
            f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
            env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 2.0) * t)
            x = 0.3 * env * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)
            x = x + 0.02 * rng.standard_normal(n)
            x = np.repeat(x[:, None], channels, axis=1) if channels > 1 else x
            f.write(x.astype(np.float32))
            done += n


def child(args: argparse.Namespace) -> None:
    """Tag one file, print one JSON line."""
    t_import = time.perf_counter()
    import torch

    from clip2frame.infer.batch import tag_files
    from clip2frame.infer.options import TagOptions
    from clip2frame.infer.predict import load_tagger

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    tagger = load_tagger(args.model, device="cpu")
    t_model = time.perf_counter() - t0
    rss_model = _peak_rss_mb()
    with tempfile.TemporaryDirectory() as out:
        t1 = time.perf_counter()
        rep = tag_files([args.child], out_dir=out, options=TagOptions(model=tagger, device="cpu", jobs=args.jobs,
                                                                      formats=("scores", "events")))
        wall = time.perf_counter() - t1
    if rep.failed:
        raise SystemExit(f"tagging failed: {rep.failed[0].error}")
    print(json.dumps({"seconds": wall, "audio_s": rep.tagged[0].audio_s, "peak_rss_mb": _peak_rss_mb(),
                      "rss_after_model_mb": rss_model, "model_load_s": t_model,
                      "startup_s": t0 - t_import, "model": f"{tagger.name} {tagger.version}",
                      "threads": torch.get_num_threads()}))


def print_machine() -> None:
    """``benchmarks/_machine.py``'s header (platform facts printed here if it is missing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from _machine import print_machine_info  # type: ignore[import-not-found]
    except ImportError:
        import torch

        print(f"# machine: {platform.platform()} | python {platform.python_version()} | torch "
              f"{torch.__version__} ({torch.get_num_threads()} threads) | {os.cpu_count()} CPUs")
        return
    print_machine_info()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="default or a .safetensors path")
    p.add_argument("--lengths", default=",".join(map(str, DEFAULT_LENGTHS)), help="seconds, comma-separated")
    p.add_argument("--quick", action="store_true", help="skip lengths over 1 h")
    p.add_argument("--sr", type=int, default=16000)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--tmp", default=None, help="folder for the synthetic WAVs")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0

    lengths = [int(float(x)) for x in args.lengths.split(",") if x]
    if args.quick:
        lengths = [s for s in lengths if s <= 3600]
    print_machine()
    print(f"# model: {args.model}; input: {args.sr} Hz, {args.channels} ch, 16-bit WAV; jobs={args.jobs}")
    header = f"{'length':>8} {'audio s':>9} {'wall s':>8} {'x real time':>11} {'s/audio h':>10} " \
             f"{'peak RSS MiB':>12} {'RSS model MiB':>13}"
    print(header)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for sec in lengths:
            wav = Path(tmp) / f"synthetic_{sec}s.wav"
            write_synthetic_wav(wav, seconds=sec, sr=args.sr, channels=args.channels)
            cmd = [sys.executable, __file__, "--child", str(wav), "--model", args.model, "--jobs", str(args.jobs),
                   "--threads", str(args.threads)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            wav.unlink()
            if res.returncode != 0:
                print(f"{sec:>8} failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append((sec, r))
            label = f"{sec // 3600}h" if sec >= 3600 else f"{sec // 60}min" if sec >= 60 else f"{sec}s"
            print(f"{label:>8} {r['audio_s']:>9.0f} {r['seconds']:>8.1f} {r['audio_s'] / r['seconds']:>11.1f} "
                  f"{r['seconds'] / r['audio_s'] * 3600:>10.1f} {r['peak_rss_mb']:>12.0f} "
                  f"{r['rss_after_model_mb']:>13.0f}", flush=True)
    if rows:
        print(f"# model {rows[0][1]['model']}, torch threads {rows[0][1]['threads']}, "
              f"model load {rows[0][1]['model_load_s']:.2f} s (not in wall s)")
    if len(rows) >= 2:
        (s0, a), (s1, b) = rows[0], rows[-1]
        print(f"# time ratio {b['seconds'] / a['seconds']:.1f} for a length ratio {s1 / s0:.0f} "
              f"(s per audio hour {a['seconds'] / a['audio_s'] * 3600:.1f} -> {b['seconds'] / b['audio_s'] * 3600:.1f}); "
              f"peak RSS {a['peak_rss_mb']:.0f} -> {b['peak_rss_mb']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
