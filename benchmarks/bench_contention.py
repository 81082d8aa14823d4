"""CPU time and wall time of training and tagging when the cores are shared, per torch thread setting.

Each measurement is a fresh process (OpenMP reads its settings when torch loads) running one workload:

* ``train`` — ``--steps`` Adagrad steps of the thesis-best network (6 scales) on random features,
  batch 4 x 320 frames (the trainer's step, without data loading);
* ``tag``   — ``clip2frame.predict`` of ``--audio-s`` seconds of noise with the default model.

and one thread setting (the child's environment is cleared of OMP_*/MKL_* first):

* ``default`` — torch as it comes: one OpenMP thread per core, idle threads spin (the behaviour before
  ``clip2frame._threads``);
* ``t1``      — one thread (``OMP_NUM_THREADS=1``);
* ``free``    — ``OMP_WAIT_POLICY=PASSIVE`` and threads = usable cores less the 1-minute load average
  (rounded, at least 1), read just before the child starts: sizing the pool to the cores that are free;
* ``auto``    — what clip2frame does now: ``clip2frame._threads.configure_process()`` before torch loads
  (``OMP_WAIT_POLICY=PASSIVE``, one thread per usable core).

Both load states run in every repeat: ``idle`` (no load of ours; other users of the machine are reported as
the load average) and ``loaded`` (``--load`` busy Python loops, each ending by itself after
``--load-max-s``, stopped as soon as the loaded runs are done). Variants are interleaved inside each state,
so drifting background load hits all alike. Figures: CPU seconds (user + sys of the child, all threads) and
wall seconds of the workload (torch import and a warm-up step excluded), then per variant the ratios
loaded/idle, and auto/default under load, medians over the repeats.

    .venv/bin/python benchmarks/bench_contention.py [--repeats 3] [--load 3] [--workloads train,tag]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import print_machine_info  # noqa: E402  (stdlib only)

VARIANTS = ("default", "t1", "free", "auto")
CLEARED = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
           "CLIP2FRAME_THREADS")


def _child(variant: str, workload: str, steps: int, audio_s: float) -> None:
    import resource

    if variant == "auto":
        from clip2frame._threads import configure_process

        configure_process()
    import numpy as np
    import torch

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    if workload == "train":
        from clip2frame.models import PRESETS, Clip2FrameNet

        torch.manual_seed(0)
        net = Clip2FrameNet(PRESETS["thesis-best"].model, 15).train()
        opt = torch.optim.Adagrad(net.parameters(), lr=0.01)
        x, y = torch.randn(4, 6, 128, 320), (torch.rand(4, 15) < 0.3).float()

        def step() -> None:
            opt.zero_grad()
            out = net(x)
            torch.nn.functional.binary_cross_entropy(out.clip, y).backward()
            opt.step()
        work, warm = (lambda: [step() for _ in range(steps)]), step
    else:
        from clip2frame.infer.predict import predict

        wave = (0.1 * np.random.default_rng(0).standard_normal(int(audio_s * 16000))).astype(np.float32)
        work = lambda: predict(wave, sr=16000)  # noqa: E731
        warm = lambda: predict(wave[:16000 * 10], sr=16000)  # noqa: E731
    warm()
    c0, t0 = cpu(), time.perf_counter()
    work()
    print(json.dumps({"cpu_s": cpu() - c0, "wall_s": time.perf_counter() - t0,
                      "threads": torch.get_num_threads(), "wait": os.environ.get("OMP_WAIT_POLICY", "")}))


def run_child(variant: str, workload: str, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    if variant == "t1":
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    elif variant == "free":
        n = max(1, min(len(os.sched_getaffinity(0)), len(os.sched_getaffinity(0)) - round(os.getloadavg()[0])))
        env.update(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n))
    load0 = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--child", variant, workload, str(args.steps), str(args.audio_s)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {variant}/{workload} failed:\n{out.stderr[-2000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec.update(variant=variant, workload=workload, load_before=round(load0, 2),
               load_after=round(os.getloadavg()[0], 2))
    return rec


def start_load(n: int, max_s: float) -> list[subprocess.Popen]:
    code = f"import time\nt = time.time() + {max_s}\nwhile time.time() < t: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--load", type=int, default=3, help="busy processes in the loaded state")
    ap.add_argument("--load-max-s", type=float, default=900.0, help="a busy process ends by itself after this")
    ap.add_argument("--workloads", default="train,tag")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--steps", type=int, default=10, help="train: timed steps")
    ap.add_argument("--audio-s", type=float, default=120.0, help="tag: seconds of audio")
    ap.add_argument("--json", default="", help="also write every measurement to this file")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        v, w, steps, audio_s = args.child
        _child(v, w, int(steps), float(audio_s))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # unwind, so the busy processes are stopped
    print_machine_info()
    variants = args.variants.split(",")
    workloads = args.workloads.split(",")
    print(f"# load: {args.load} busy processes in the loaded state; {args.repeats} repeats; train {args.steps} "
          f"steps, tag {args.audio_s:g} s of audio")
    rows: list[dict] = []
    for rep in range(args.repeats):
        for state in ("idle", "loaded"):
            procs = start_load(args.load, args.load_max_s) if state == "loaded" else []
            try:
                time.sleep(1.0 if procs else 0.0)
                for w in workloads:
                    order = variants if rep % 2 == 0 else variants[::-1]
                    for v in order:
                        r = run_child(v, w, args)
                        r.update(state=state, repeat=rep)
                        rows.append(r)
                        print(f"repeat {rep} {state:6s} {w:5s} {v:8s} cpu {r['cpu_s']:7.2f} s  wall {r['wall_s']:7.2f} s"
                              f"  threads {r['threads']} wait {r['wait'] or '-':7s} load {r['load_before']:.2f}"
                              f"->{r['load_after']:.2f}", flush=True)
            finally:
                stop_load(procs)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    summarise(rows, workloads, variants)
    return 0


def _median(rows: list[dict], key: str, **where) -> float:
    vals = [r[key] for r in rows if all(r[k] == v for k, v in where.items())]
    return statistics.median(vals) if vals else float("nan")


def summarise(rows: list[dict], workloads: list[str], variants: list[str]) -> None:
    print("\n# medians over repeats: CPU s / wall s, idle | loaded, and loaded/idle ratios")
    print("| workload | setting | idle CPU s | idle wall s | loaded CPU s | loaded wall s | CPU loaded/idle | wall loaded/idle |")
    print("|---|---|---|---|---|---|---|---|")
    for w in workloads:
        for v in variants:
            m = {(s, k): _median(rows, k, workload=w, variant=v, state=s) for s in ("idle", "loaded")
                 for k in ("cpu_s", "wall_s")}
            print(f"| {w} | {v} | {m['idle', 'cpu_s']:.2f} | {m['idle', 'wall_s']:.2f} | {m['loaded', 'cpu_s']:.2f} | "
                  f"{m['loaded', 'wall_s']:.2f} | {m['loaded', 'cpu_s'] / m['idle', 'cpu_s']:.2f} | "
                  f"{m['loaded', 'wall_s'] / m['idle', 'wall_s']:.2f} |")
    if "default" in variants:
        print("\n# each setting / default, same state, per repeat then median (after/before within one run)")
        for w in workloads:
            for v in variants:
                if v == "default":
                    continue
                for s in ("idle", "loaded"):
                    rc, rw = [], []
                    for rep in sorted({r["repeat"] for r in rows}):
                        a = [r for r in rows if (r["workload"], r["variant"], r["state"], r["repeat"]) == (w, v, s, rep)]
                        b = [r for r in rows if (r["workload"], r["variant"], r["state"], r["repeat"]) == (w, "default", s, rep)]
                        if a and b:
                            rc.append(a[0]["cpu_s"] / b[0]["cpu_s"])
                            rw.append(a[0]["wall_s"] / b[0]["wall_s"])
                    if rc:
                        print(f"{w:5s} {v:8s}/default {s:6s}: CPU x{statistics.median(rc):.2f} "
                              f"({', '.join(f'{x:.2f}' for x in rc)}), wall x{statistics.median(rw):.2f} "
                              f"({', '.join(f'{x:.2f}' for x in rw)})")
    loads = [r["load_before"] for r in rows]
    print(f"\n# load average (1 min) before each measurement: idle state "
          f"{min(r['load_before'] for r in rows if r['state'] == 'idle'):.2f}-"
          f"{max(r['load_before'] for r in rows if r['state'] == 'idle'):.2f}, loaded state "
          f"{min(r['load_before'] for r in rows if r['state'] == 'loaded'):.2f}-"
          f"{max(r['load_before'] for r in rows if r['state'] == 'loaded'):.2f} (all: {min(loads):.2f}-{max(loads):.2f})")


if __name__ == "__main__":
    sys.exit(main())
