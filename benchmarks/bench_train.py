"""Training throughput (clips/s) on CPU: cached features vs features computed from audio at every step.

Three ways to feed the same training step (the trainer's own ``build_batch`` / ``_batch_loss``, Adagrad):

* ``cached``   — float16 log-mel of whole clips in memory, random crops of ``--crop`` frames (what
                 ``clip2frame train`` does: ``train/data.py`` caches features once per corpus);
* ``audio``    — waveforms in memory; every step computes the crops' multi-scale log-mel (MultiScaleLogMel)
                 and standardises them;
* ``decode``   — as ``audio``, but every step also decodes the crops from WAV files (soundfile).

Steps of the three modes are interleaved (cached, audio, decode, cached, ...) so load changes on a shared
machine hit all alike. Figures: median seconds per step, clips/s, and the ratio to ``cached``.

``--loader N`` adds the trainer's data path, each in a block of ``--steps`` consecutive steps (after two
warm-up steps; blocks, not interleaved, since worker processes read ahead while other modes run):
``ram`` — features of whole clips in memory, batches built in this process (the path before the DataLoader);
``memmap`` — per-clip ``.npy`` files (the feature cache), ``DataLoader`` with 0 workers; ``memmap-Nw`` — the same
with N worker processes.

``--rss 1,20`` measures peak memory of ``train()`` (one epoch, thesis-best) on corpora of 1 h and 20 h of
30-s training clips, each in a fresh process: the main process' peak RSS and the peak PSS of
its process tree (workers included; sampled every 0.1 s from /proc, Linux). The main process' peak is its
own ``VmHWM`` (``ru_maxrss`` is not used: Linux carries a forking parent's RSS into it). The corpora are *synthetic*:
random float16 features of the right shape written straight into the feature cache (``clip_cache_path``),
random tags; no audio is rendered or read. ``--legacy-src DIR`` also writes the pre-DataLoader cache
(``<split>.npz``) and runs the same training with the package found in ``DIR`` (e.g. an older checkout's
``src``), so the old path's memory is measured on the same data.

    .venv/bin/python benchmarks/bench_train.py [--preset thesis-best] [--batch 10] [--steps 3] [--threads 1]
    .venv/bin/python benchmarks/bench_train.py --loader 2 --steps 20 --threads 1
    .venv/bin/python benchmarks/bench_train.py --rss 1,20 [--workers 0,2] [--legacy-src OLD/src]
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
    ap.add_argument("--clips", type=int, default=20, help="clips in the pool the batches are drawn from")
    ap.add_argument("--clip-seconds", type=float, default=30.0, help="clip length, s (>= the crop)")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--crop", type=int, default=911, help="training crop, input frames (thesis: 911)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per mode (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--labels", type=int, default=15)
    ap.add_argument("--loader", type=int, default=-1, help="also time the trainer's data path with N workers")
    ap.add_argument("--rss", default="", help="hours of training audio to measure train() peak memory at, e.g. 1,20")
    ap.add_argument("--workers", default="0", help="with --rss: num_workers values to run, e.g. 0,2")
    ap.add_argument("--val-clips", type=int, default=24, help="with --rss: validation clips (same at every size)")
    ap.add_argument("--legacy-src", default="", help="with --rss: also run the package in this directory")
    ap.add_argument("--work", default="", help="with --rss: where the synthetic corpora go (default: a temp dir)")
    ap.add_argument("--child", nargs=4, metavar=("DATA", "OUT", "WORKERS", "THREADS"), help=argparse.SUPPRESS)
    ap.add_argument("--make-corpus", nargs=4, metavar=("ROOT", "HOURS", "VAL", "LEGACY"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _rss_child(*args.child, preset=args.preset, batch=args.batch, crop=args.crop)
    if args.make_corpus:
        root, h, val, legacy = args.make_corpus
        _write_corpus(Path(root), float(h), int(val), args.preset, legacy=legacy == "1")
        return 0
    torch.set_num_threads(args.threads)
    print_machine_info()
    if args.rss:
        return rss_main(args)

    import soundfile as sf

    from clip2frame.audio.features import FeatureSpec, MultiScaleLogMel, fit_standardizer
    from clip2frame.models import PRESETS, Clip2FrameNet
    from clip2frame.train.config import TrainConfig
    from clip2frame.train.data import SplitData
    from clip2frame.train.loader import build_batch, epoch_plan
    from clip2frame.train.trainer import _batch_loss

    p = PRESETS[args.preset]
    spec = FeatureSpec(**p.features)
    hop, sr = spec.hop_length, spec.sr
    rng = np.random.default_rng(0)
    n = int(args.clip_seconds * sr)
    t = np.arange(n) / sr
    waves = [(0.2 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(n))
             .astype(np.float32) for _ in range(args.clips)]
    front = MultiScaleLogMel(spec)
    t0 = time.perf_counter()
    with torch.no_grad():
        feats = [front(torch.from_numpy(w)[None])[0].numpy().astype(np.float16) for w in waves]
    cache_s = time.perf_counter() - t0
    labels = (rng.random((args.clips, args.labels)) < 0.3).astype(np.float32)
    data = SplitData([f"c{i}" for i in range(args.clips)], feats, labels, None, [])
    std = fit_standardizer(torch.from_numpy(f.astype(np.float32))[None] for f in feats)
    cfg = TrainConfig(model=p.model, features=spec, batch_size=args.batch, crop_frames=args.crop)
    torch.manual_seed(0)
    net = Clip2FrameNet(p.model, args.labels).train()
    opt = torch.optim.Adagrad(net.parameters(), lr=0.01)
    s = net.total_stride
    crop_samples = (args.crop - 1) * hop  # -> exactly args.crop feature frames
    if crop_samples > n:
        ap.error(f"--crop {args.crop} frames is longer than --clip-seconds {args.clip_seconds:g}")
    print(f"# {args.preset}: batch {args.batch} x {args.crop} frames ({crop_samples / sr:.1f} s crops) from "
          f"{args.clips} clips of {args.clip_seconds:g} s; {args.threads} thread(s); "
          f"caching all features once took {cache_s:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, w in enumerate(waves):
            paths.append(Path(tmp) / f"c{i}.wav")
            sf.write(paths[-1], w, sr, subtype="PCM_16")

        def step(x, n_valid, y):
            opt.zero_grad(set_to_none=True)
            loss, _ = _batch_loss(net, cfg, None, x, n_valid, y, None)
            loss.backward()
            opt.step()

        def wave_batch(gen, idx, decode: bool):
            starts = [int(torch.randint(0, n - crop_samples + 1, (1,), generator=gen)) for _ in idx]
            if decode:
                ws = [sf.read(paths[i], start=a, stop=a + crop_samples, dtype="float32")[0] for i, a in zip(idx, starts)]
            else:
                ws = [waves[i][a:a + crop_samples] for i, a in zip(idx, starts)]
            with torch.no_grad():
                x = std.apply(front(torch.from_numpy(np.stack(ws))))
            n_valid = torch.full((len(idx),), -(-args.crop // s), dtype=torch.long)
            return x, n_valid, torch.from_numpy(labels[idx])

        gens = {m: torch.Generator().manual_seed(1) for m in ("cached", "audio", "decode")}

        def run(mode: str) -> tuple[float, float]:
            gen = gens[mode]
            idx = torch.randperm(args.clips, generator=gen)[: args.batch].tolist()
            t = time.perf_counter()
            if mode == "cached":
                x, n_valid, y, _ = build_batch(data, epoch_plan(data.lengths, args.batch, args.crop, s, gen)[0], std, s)
            else:
                x, n_valid, y = wave_batch(gen, idx, decode=mode == "decode")
            t_in = time.perf_counter() - t
            step(x, n_valid, y)
            return time.perf_counter() - t, t_in

        for mode in gens:  # warm-up
            run(mode)
        times: dict[str, list[tuple[float, float]]] = {m: [] for m in gens}
        for _ in range(args.steps):
            for mode in gens:
                times[mode].append(run(mode))

    base = statistics.median(w for w, _ in times["cached"])
    print(f"{'mode':<8} {'s/step':>8} {'input s':>8} {'clips/s':>8} {'vs cached':>10}")
    for mode, ts in times.items():
        med = statistics.median(w for w, _ in ts)
        med_in = statistics.median(i for _, i in ts)
        print(f"{mode:<8} {med:8.3f} {med_in:8.3f} {args.batch / med:8.2f} {base / med:9.2f}x")
    print("(input s: time to build the batch — crops, features, standardisation — inside s/step)")
    if args.loader >= 0:
        _loader_blocks(args, feats, labels, std, step, s)
    return 0


def _loader_blocks(args, feats, labels, std, step, stride) -> None:
    """clips/s of the trainer's data path: in-memory batches vs the DataLoader over per-clip .npy files."""
    from clip2frame.train.data import ClipFeatures, SplitData
    from clip2frame.train.loader import CropDataset, PlanSampler, build_batch, epoch_plan, make_loader

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, f in enumerate(feats):
            paths.append(Path(tmp) / f"c{i}.npy")
            np.save(paths[-1], f)
        ids = [f"c{i}" for i in range(len(feats))]
        ram = SplitData(ids, feats, labels, None, [])
        disk = SplitData(ids, ClipFeatures(paths, [f.shape[-1] for f in feats]), labels, None, [])
        n = args.steps + 2
        plan = []
        gen = torch.Generator().manual_seed(2)
        while len(plan) < n:
            plan += epoch_plan(ram.lengths, args.batch, args.crop, stride, gen)
        plan = [b for b in plan if len(b) == args.batch][:n]
        rows = []
        modes = [("ram", None), ("memmap", 0)] + ([(f"memmap-{args.loader}w", args.loader)] if args.loader else [])
        for name, workers in modes:
            if workers is None:
                batches = (build_batch(ram, items, std, stride) for items in plan)
            else:
                sampler = PlanSampler()
                sampler.plan = plan
                batches = iter(make_loader(CropDataset(disk, std, stride), sampler, num_workers=workers))
            for _ in range(2):  # warm-up (workers start, first reads)
                x, n_valid, y, _ = next(batches)
                step(x, n_valid, y)
            t = time.perf_counter()
            for _ in range(args.steps):
                x, n_valid, y, _ = next(batches)
                step(x, n_valid, y)
            rows.append((name, (time.perf_counter() - t) / args.steps))
            del batches
    base = rows[0][1]
    print(f"\n# data path: {args.steps} consecutive steps per mode (after 2 warm-up steps), batch {args.batch}")
    print(f"{'mode':<12} {'s/step':>8} {'clips/s':>8} {'vs ram':>8}")
    for name, sec in rows:
        print(f"{name:<12} {sec:8.3f} {args.batch / sec:8.2f} {base / sec:7.2f}x")


# ------------------------------------------------------------------------------------------ peak memory
def _write_corpus(root: Path, hours: float, val_clips: int, preset: str, legacy: bool) -> None:
    """A manifest of 30-s clips whose features are random float16 written straight into the cache."""
    from clip2frame.audio.features import FeatureSpec
    from clip2frame.data.manifest import ClipRecord, Event, load_manifest, write_manifest
    from clip2frame.models import PRESETS
    from clip2frame.tags import MUSIC_TAG_KINDS, MUSIC_TAGS
    from clip2frame.train.data import clip_cache_path

    spec = FeatureSpec(**PRESETS[preset].features)
    rng = np.random.default_rng(0)
    dur = 30.0
    T = 1 + int(dur * spec.sr) // spec.hop_length
    clips = []
    for split, n in (("train", int(round(hours * 3600 / dur))), ("validation", val_clips)):
        for i in range(n):
            tags = tuple(t for t in MUSIC_TAGS if rng.random() < 0.3) or (MUSIC_TAGS[0],)
            ev = tuple(Event(float(a), float(a) + 10.0, t) for t in tags for a in [rng.uniform(0, 20)])
            clips.append(ClipRecord(f"{split}_{i:05d}", root / "audio" / f"{split}_{i:05d}.wav", tags, split, ev, dur))
    write_manifest(root, name="synthetic-features", labels=MUSIC_TAGS, kinds=dict(MUSIC_TAG_KINDS), clips=clips)
    m = load_manifest(root)
    for split in ("train", "validation"):
        parts = []
        for c in m.split(split):
            f = rng.uniform(0, 8, (spec.n_scales, spec.n_bands, T)).astype(np.float16)
            path = clip_cache_path(m, spec, c.clip_id, run_dir=root)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, f)
            if legacy:
                parts.append(f)
        if legacy:  # the pre-DataLoader cache: one npz per split, all clips' frames concatenated
            ids = [c.clip_id for c in m.split(split)]
            np.savez(path.parent.parent / f"{split}.npz", ids=np.array(ids), kept=np.array(ids),
                     offsets=np.cumsum([0] + [T] * len(ids)), feats=np.concatenate(parts, axis=-1),
                     skipped="[]")
            del parts


def _rss_child(data: str, out: str, workers: str, threads: str, *, preset: str, batch: int, crop: int) -> int:
    import json

    from clip2frame.train.config import resolve_config
    from clip2frame.train.trainer import train

    over = [f"preset={preset}", f"data={data}", f"out={out}", "epochs=1", f"batch_size={batch}",
            f"crop_frames={crop}", f"num_threads={threads}"] + ([f"num_workers={workers}"] if int(workers) else [])
    t = time.perf_counter()
    res = train(resolve_config(overrides=over), progress=False)
    with open("/proc/self/status") as fh:  # this process' own high-water mark (ru_maxrss would include the
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))  # parent's RSS at fork)
    print(json.dumps({"seconds": time.perf_counter() - t, "epoch_seconds": res.history[-1]["seconds"],
                      "hwm_kb": hwm}))
    return 0


def _tree_mem(pid: int) -> tuple[int, int]:
    """(sum RSS, sum PSS) in kB of ``pid`` and its descendants, from /proc."""
    import os

    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                continue
    todo, rss, pss = [pid], 0, 0
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def rss_main(args) -> int:
    import json
    import os
    import shutil
    import subprocess

    hours = [float(h) for h in args.rss.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-rss-"))
    src = str(Path(__file__).resolve().parents[1] / "src")
    runs = [("DataLoader+memmap", src, w) for w in workers]
    if args.legacy_src:
        runs.append(("legacy (split in RAM)", str(Path(args.legacy_src).resolve()), 0))
    print(f"# peak memory of train(): {args.preset}, 1 epoch, batch {args.batch} x {args.crop} frames, "
          f"{args.val_clips} validation clips, {args.threads} thread(s); synthetic features (random float16)")
    print(f"{'path':<22} {'workers':>7} {'hours':>6} {'clips':>6} {'cache GB':>8} {'main HWM MB':>11} "
          f"{'tree PSS MB':>11} {'epoch s':>8} {'total s':>8}")
    try:
        for h in hours:
            root = work / f"corpus-{h:g}h"
            if not (root / "metadata.json").is_file():  # in its own process, which then ends with its memory
                subprocess.run([sys.executable, __file__, "--preset", args.preset, "--make-corpus", str(root), str(h),
                                str(args.val_clips), "1" if args.legacy_src else "0"], check=True)
            n = int(round(h * 3600 / 30))
            gb = sum(p.stat().st_size for p in (root / ".clip2frame-cache").rglob("*.npy")) / 1e9
            for name, path, w in runs:
                out = work / f"run-{h:g}h-{w}w-{len(name)}"
                shutil.rmtree(out, ignore_errors=True)
                env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": str(args.threads)}
                proc = subprocess.Popen([sys.executable, __file__, "--preset", args.preset, "--batch", str(args.batch),
                                         "--crop", str(args.crop), "--child", str(root), str(out), str(w),
                                         str(args.threads)], env=env, stdout=subprocess.PIPE, text=True)
                peak_rss = peak_pss = 0
                while proc.poll() is None:
                    r, p = _tree_mem(proc.pid)
                    peak_rss, peak_pss = max(peak_rss, r), max(peak_pss, p)
                    time.sleep(0.1)
                if proc.returncode:
                    print(f"{name}: failed ({proc.returncode})")
                    continue
                res = json.loads(proc.stdout.read().strip().splitlines()[-1])
                print(f"{name:<22} {w:>7} {h:>6g} {n:>6} {gb:>8.2f} {res['hwm_kb'] / 1024:>11.0f} "
                      f"{peak_pss / 1024:>11.0f} {res['epoch_seconds']:>8.1f} {res['seconds']:>8.1f}", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
