"""Live tagging (``clip2frame listen`` / ``StreamTagger``): memory, latency, throughput, look-ahead cost.

Four measurements, each a sub-command (all single-threaded unless ``--threads``):

* ``memory``     — one stream of generated audio (tones + noise, seeded) fed 1-s blocks as fast as it goes,
                   for ``--minutes`` (60): RSS now and peak at 5, 15, 30, 60 min of audio. Flat = bounded.
* ``latency``    — clips of a rendered corpus streamed at real time (0.1-s blocks on the wall clock) per
                   model: for every event ended by the audio (not by the end of the clip), the audio
                   received when it is emitted minus its offset (bounded by the model's bound + one block)
                   and the wall time from its offset to its emission (that + waiting + processing).
* ``throughput`` — N streams in one process (``feed_many``: their frames batched through the model), fed
                   0.1-s blocks as fast as it goes: audio seconds processed per wall second; N real-time
                   streams are kept up with while that ratio is >= N.
* ``lookahead``  — frame F1 / AUC of the stream's output on a rendered corpus with frame truth for several
                   ``--max-latency`` settings (the accumulation look-ahead truncated), vs the exact pass.

    .venv/bin/python benchmarks/bench_stream.py memory [--minutes 60]
    .venv/bin/python benchmarks/bench_stream.py latency --data /work/corpora/outside-heldin --clips 3
    .venv/bin/python benchmarks/bench_stream.py throughput [--streams 1,8,32] [--seconds 60]
    .venv/bin/python benchmarks/bench_stream.py lookahead --data /work/corpora/outside-heldin
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import pin_threads_from_argv, print_machine_info  # noqa: E402  (stdlib only: safe before numpy)

_THREADS = pin_threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss: KiB on Linux


def _generated_blocks(seconds: float, *, block_s: float = 1.0, sr: int = 16000, seed: int = 0):
    """Tones and noise bursts that change every few seconds, generated block by block (nothing kept)."""
    rng = np.random.default_rng(seed)
    n = int(block_s * sr)
    t = np.arange(n) / sr
    for b in range(int(math.ceil(seconds / block_s))):
        f = 110.0 * 2 ** rng.integers(0, 36) / 12
        x = 0.2 * np.sin(2 * np.pi * f * (t + b * block_s)) * rng.uniform(0, 1)
        x += rng.uniform(0, 0.1) * rng.standard_normal(n)
        yield x.astype(np.float32)


def cmd_memory(args) -> None:
    from clip2frame.infer.stream import StreamTagger

    st = StreamTagger(args.model, max_latency_s=args.max_latency)
    marks = sorted({m for m in (5, 15, 30, 60, args.minutes) if m <= args.minutes})
    t0 = time.perf_counter()
    n_ev = 0
    print(f"{'audio min':>9} {'RSS MB':>8} {'peak MB':>8} {'wall s':>8} {'x real time':>11} {'events':>7}")
    for i, block in enumerate(_generated_blocks(args.minutes * 60.0), start=1):
        n_ev += len(st.feed(block).events)
        if i % 60 == 0 and i // 60 in marks:
            wall = time.perf_counter() - t0
            print(f"{i // 60:9d} {_rss_mb():8.1f} {_peak_mb():8.1f} {wall:8.1f} {i / wall:11.1f} {n_ev:7d}", flush=True)
    st.close()


def _clips(data: Path, n: int) -> list[Path]:
    files = sorted((data / "audio").rglob("*.wav"))
    if not files:
        sys.exit(f"error: {data}/audio: no .wav files")
    return files[:n]


def cmd_latency(args) -> None:
    from clip2frame.audio.io import load_audio
    from clip2frame.infer.stream import StreamTagger

    clips = _clips(Path(args.data), args.clips)
    print(f"# {len(clips)} clips of {args.data}, streamed at real time in {args.block_s:g}-s blocks")
    print(f"{'model':<22} {'bound s':>8} {'events':>7} {'audio max s':>12} {'wall median s':>14} {'wall p90 s':>11} "
          f"{'wall max s':>11} {'busy %':>7}")
    for model in args.models.split(","):
        lat: list[float] = []  # wall seconds from the event's offset in the audio to its emission
        alat: list[float] = []  # audio received when emitted, minus the offset (the bounded quantity)
        busy = wall_total = 0.0
        bound = 0.0
        for clip in clips:
            wave = load_audio(clip)
            st = StreamTagger(model, max_latency_s=args.max_latency)
            bound = st.latency.bound_s
            n = int(args.block_s * st.spec.sr)
            dur = len(wave) / st.spec.sr
            t0 = time.perf_counter()
            for i in range(0, len(wave), n):
                due = t0 + (i + n) / st.spec.sr  # the block's last sample "arrives" now
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                tb = time.perf_counter()
                events = st.feed(wave[i:i + n]).events
                now = time.perf_counter()
                busy += now - tb
                ended = [e for e in events if e.offset < dur - 1e-3]  # not closed by the clip's end
                lat += [now - (t0 + e.offset) for e in ended]
                alat += [st.received_s - e.offset for e in ended]
            st.close()
            wall_total += time.perf_counter() - t0
        name = Path(model).stem if model != "default" else "default"
        if lat:
            print(f"{name:<22} {bound:8.2f} {len(lat):7d} {max(alat):12.2f} {statistics.median(lat):14.2f} "
                  f"{np.percentile(lat, 90):11.2f} {max(lat):11.2f} {100 * busy / wall_total:7.1f}")
        else:
            print(f"{name:<22} {bound:8.2f} {0:7d}  (no event ended inside the clips)")


def cmd_throughput(args) -> None:
    from clip2frame.infer.stream import StreamTagger, feed_many

    sr = 16000
    print(f"# {args.seconds:g} s of generated audio per stream, {args.block_s:g}-s blocks, "
          f"{torch.get_num_threads()} torch thread(s); load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'streams':>7} {'min_new':>7} {'wall s':>8} {'cpu s':>8} {'audio s / wall s':>17} "
          f"{'audio s / cpu s':>16} {'keeps up':>9}")
    for min_new in (int(v) for v in args.min_new.split(",")):
        for N in (int(v) for v in args.streams.split(",")):
            streams = [StreamTagger(args.model, max_latency_s=args.max_latency, min_new_frames=min_new)
                       for _ in range(N)]
            gens = [list(_generated_blocks(args.seconds, block_s=args.block_s, seed=s)) for s in range(N)]
            t0, c0 = time.perf_counter(), time.process_time()
            for blocks in zip(*gens):
                feed_many(streams, samples=list(blocks))
            feed_many(streams, eof=True)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ratio = N * args.seconds / wall
            print(f"{N:7d} {min_new:7d} {wall:8.2f} {cpu:8.2f} {ratio:17.1f} {N * args.seconds / cpu:16.1f} "
                  f"{'yes' if ratio >= N else 'no':>9}", flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.1f}")


def cmd_lookahead(args) -> None:
    from clip2frame.audio.io import load_audio
    from clip2frame.data.manifest import Event
    from clip2frame.data.events import events_to_frames
    from clip2frame.eval.metrics import evaluate_frames
    from clip2frame.infer.stream import StreamTagger
    from clip2frame.results.readers import read_events_tsv

    data = Path(args.data)
    truth: dict[str, list[Event]] = {}
    for tsv in sorted(data.glob("*.strong.tsv")):
        for fn, on, off, lab in read_events_tsv(tsv):
            truth.setdefault(fn, []).append(Event(on, off, lab))
    names = sorted(truth)[: args.clips]
    settings = [("exact", math.inf, True), ("default (4 sigma)", None, True)] + [
        (f"{float(v):g} s{'' if rescale else ', no rescale'}", float(v), rescale)
        for v in args.bounds.split(",") for rescale in (True, False)]
    waves = [load_audio(data / fn) for fn in names]
    dur = sum(len(w) for w in waves) / 16000
    print(f"# {len(names)} clips ({dur / 60:.1f} min) of {data}, model {args.model}; each clip fed in 1-s blocks")
    print(f"{'--max-latency':<24} {'look-ahead':>10} {'bound s':>8} {'micro F1':>9} {'macro F1':>9} "
          f"{'frame AUC':>9} {'max |dp|':>9}")
    exact: list[np.ndarray] = []
    for label, setting, rescale in settings:
        probs, true = [], []
        st0 = None
        for w, fn in zip(waves, names):
            st = StreamTagger(args.model, max_latency_s=setting, rescale=rescale)
            st0 = st
            frames = [st.feed(w[i:i + 16000]).frames for i in range(0, len(w), 16000)] + [st.close().frames]
            p = np.concatenate([f.probs for f in frames])
            bounds = np.concatenate([frames[0].boundaries[:1]] + [f.boundaries[1:] for f in frames])
            probs.append(p)
            true.append(events_to_frames(truth[fn], st.labels, bounds))
        assert st0 is not None
        if setting == math.inf:
            exact = probs
        dp = max(float(np.abs(a - b).max()) for a, b in zip(probs, exact))
        m = evaluate_frames(np.concatenate(true), np.concatenate(probs), st0.thresholds)
        b = st0.latency
        print(f"{label:<24} {b.lookahead_frames:10d} {b.bound_s:8.2f} {m['frame_micro_f1']:9.3f} "
              f"{m['frame_macro_f1']:9.3f} {m['frame_auc']:9.3f} {dp:9.2e}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("memory")
    p.add_argument("--minutes", type=int, default=60)
    p.add_argument("--model", default="default")
    p.add_argument("--max-latency", type=float, default=None)
    p = sub.add_parser("latency")
    p.add_argument("--data", required=True)
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--models", default="default", help="comma-separated model files or 'default'")
    p.add_argument("--block-s", type=float, default=0.1)
    p.add_argument("--max-latency", type=float, default=None)
    p = sub.add_parser("throughput")
    p.add_argument("--model", default="default")
    p.add_argument("--streams", default="1,8,32")
    p.add_argument("--min-new", default="1,4", help="comma-separated min_new_frames values")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--block-s", type=float, default=0.1)
    p.add_argument("--max-latency", type=float, default=None)
    p = sub.add_parser("lookahead")
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="default")
    p.add_argument("--clips", type=int, default=1000)
    p.add_argument("--bounds", default="10,5,3,2,1.5", help="comma-separated --max-latency values, seconds")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print_machine_info()
    {"memory": cmd_memory, "latency": cmd_latency, "throughput": cmd_throughput,
     "lookahead": cmd_lookahead}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
