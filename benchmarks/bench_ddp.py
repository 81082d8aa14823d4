"""Data-parallel training throughput on CPU (gloo): 1 process vs N processes, same global batch.

Each configuration runs the trainer's own step — ``build_batch`` (cached float16 features, random crops),
``_batch_loss``, and for N > 1 ``Distributed.backward_shard`` (this rank's share of the global batch, one
all-reduce of the flat gradients) — in freshly spawned processes joined by a gloo process group on
127.0.0.1, then Adagrad. Configurations (processes x torch threads each): 1x1, Nx1, and 1xN (one process
using the same cores through intra-op threads, the alternative to DDP on one machine). Rounds repeat the
sequence so load changes on a shared machine hit all configurations alike. Figures: median seconds per step
and clips/s (global batch / step time) of the rounds, ratios to 1x1.

    .venv/bin/python benchmarks/bench_ddp.py [--preset thesis-best] [--batch 10] [--steps 4] [--nproc 2]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import print_machine_info  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, threads: int, port: int, args: argparse.Namespace, out) -> None:
    import torch.distributed as dist

    from clip2frame.audio.features import FeatureSpec, fit_standardizer
    from clip2frame.models import PRESETS, Clip2FrameNet
    from clip2frame.train.config import TrainConfig
    from clip2frame.train.data import SplitData
    from clip2frame.train.distributed import Distributed
    from clip2frame.train.loader import build_batch, epoch_plan
    from clip2frame.train.trainer import _batch_loss

    torch.set_num_threads(threads)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    ctx = Distributed(rank, world, rank, "gloo" if world > 1 else None)
    p = PRESETS[args.preset]
    spec = FeatureSpec(**p.features)
    rng = np.random.default_rng(0)  # same data on every rank
    T = args.crop + 64
    feats = [rng.uniform(0, 8, (spec.n_scales, spec.n_bands, T)).astype(np.float16) for _ in range(args.clips)]
    labels = (rng.random((args.clips, args.labels)) < 0.3).astype(np.float32)
    data = SplitData([f"c{i}" for i in range(args.clips)], feats, labels, None, [])
    std = fit_standardizer(torch.from_numpy(f.astype(np.float32))[None] for f in feats[:4])
    cfg = TrainConfig(model=p.model, features=spec, batch_size=args.batch, crop_frames=args.crop)
    torch.manual_seed(0)
    net = Clip2FrameNet(p.model, args.labels).train()
    opt = torch.optim.Adagrad(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    s = net.total_stride
    times = []
    for i in range(args.steps + 1):  # the first step is a warm-up
        ctx.barrier()
        t = time.perf_counter()
        items = epoch_plan(data.lengths, args.batch, args.crop, s, gen)[0]
        x, n_valid, y, yf = build_batch(data, items, std, s)
        opt.zero_grad(set_to_none=True)
        if ctx.enabled:
            ctx.backward_shard(lambda *b: _batch_loss(net, cfg, None, *b), (x, n_valid, y, yf), list(net.parameters()))
        else:
            _batch_loss(net, cfg, None, x, n_valid, y, yf)[0].backward()
        opt.step()
        ctx.barrier()
        if i:
            times.append(time.perf_counter() - t)
    if rank == 0:
        out.put(times)
    if world > 1:
        dist.destroy_process_group()


def _run(world: int, threads: int, args: argparse.Namespace) -> list[float]:
    ctx = mp.get_context("spawn")
    q = ctx.SimpleQueue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, world, threads, port, args, q)) for r in range(world)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
    if any(pr.exitcode for pr in procs):
        raise SystemExit(f"a worker of the {world}x{threads} configuration failed")
    return q.get()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="thesis-best")
    ap.add_argument("--batch", type=int, default=10, help="global batch (clips per step, all processes)")
    ap.add_argument("--crop", type=int, default=911)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--labels", type=int, default=15)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per configuration and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--nproc", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print_machine_info()
    N = args.nproc
    configs = [(1, 1), (N, 1), (1, N)]
    print(f"# {args.preset}: global batch {args.batch} x {args.crop} frames, {args.steps} steps x "
          f"{args.rounds} rounds per configuration (processes x threads), gloo on 127.0.0.1")
    times: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        for world, threads in configs:
            times[(world, threads)] += _run(world, threads, args)
    base = statistics.median(times[(1, 1)])
    print(f"{'config':<14} {'s/step':>8} {'clips/s':>8} {'vs 1x1':>7}")
    for (world, threads), ts in times.items():
        med = statistics.median(ts)
        print(f"{f'{world} proc x {threads} thr':<14} {med:8.3f} {args.batch / med:8.2f} {base / med:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
