"""Catalogue tagging: one ``clip2frame tag`` process vs ``--shard I/N`` processes, same files, same run.

Writes ``--files`` synthetic WAVs (``--seconds`` each, sines + noise, seeded), then times, interleaved over
``--repeats`` rounds, each as the CLI a user would run (process start included):

* ``local``   one ``clip2frame tag`` process;
* ``shards``  ``N`` concurrent ``clip2frame tag --shard I/N`` processes into one output folder (what a
  scheduler's array job runs).

Every process uses 1 torch thread. Checks that both give the same scores. Until commit 1efec13 it also timed
the Ray backend (``--backend ray --workers N``) as ``bench_shard_vs_ray.py``; the backend was removed after
that measurement (BENCHMARKS.md, "Ray backend removed").

    python benchmarks/bench_shard.py --files 24 --seconds 30 --procs 2 --repeats 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from _machine import print_machine_info  # noqa: E402

TAG = [sys.executable, "-m", "clip2frame", "tag", "--no-index", "-q", "--device", "cpu", "--model", "default"]


def _catalogue(root: Path, n: int, seconds: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        f = rng.uniform(100, 2000, 3)
        x = sum(0.2 * np.sin(2 * np.pi * fi * t) for fi in f) + 0.05 * rng.standard_normal(t.size)
        sf.write(root / f"f{i:03d}.wav", x.astype(np.float32), sr, subtype="PCM_16")
    return root


def _run(cmds: list[list[str]]) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in cmds]
    for p, c in zip(procs, cmds):
        err = p.communicate()[1]
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(c)}: exit {p.returncode}\n{err.decode()[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print_machine_info()
    work = Path(tempfile.mkdtemp(prefix="bench-shard-"))
    try:
        (work / "in").mkdir()
        inp = _catalogue(work / "in", a.files, a.seconds, a.seed)
        n = a.procs
        variants = {
            "local": lambda out: [TAG + [str(inp), "--out", str(out)]],
            "shards": lambda out: [TAG + [str(inp), "--out", str(out), "--shard", f"{i}/{n}"] for i in range(n)],
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        for r in range(a.repeats):
            for name, cmds in variants.items():
                out = work / f"out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                times[name].append(_run(cmds(out)))
                print(f"# round {r} {name}: {times[name][-1]:.1f} s", flush=True)
        ref = {p.name: p.read_text() for p in (work / "out-local").glob("*.scores.tsv")}
        for name in ("shards",):
            got = {p.name: p.read_text() for p in (work / f"out-{name}").glob("*.scores.tsv")}
            same = got.keys() == ref.keys() and all(
                np.allclose(np.loadtxt(work / f"out-{name}" / k, skiprows=1),
                            np.loadtxt(work / "out-local" / k, skiprows=1), atol=2e-4) for k in ref)
            print(f"# {name}: {len(got)} score files, same scores as local: {same}")
        audio_min = a.files * a.seconds / 60
        print(f"\n{a.files} files x {a.seconds:g} s = {audio_min:.1f} min of audio, {n} processes/workers, "
              f"1 thread each, {a.repeats} interleaved rounds\n")
        print("| backend | median wall s | min wall s | x real time (median) |")
        print("|---|---:|---:|---:|")
        for name, ts in times.items():
            med = float(np.median(ts))
            print(f"| {name} | {med:.1f} | {min(ts):.1f} | {audio_min * 60 / med:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
