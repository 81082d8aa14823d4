"""Event index: insert rate and query latency on SQLite and PostgreSQL, in one run.

    .venv/bin/python benchmarks/bench_search.py [--files 10000] [--events-per-file 100] [--repeats 30]
                                               [--backends sqlite,postgresql]

Generates a catalogue of ``--files`` files (3 min each at the model's 0.512-s frames, the 15 tags of the
embedded corpus; per file 3-6 instruments drawn by popularity plus a tempo tag are active, with blocky random
scores thresholded at 0.5 into ~``--events-per-file`` events, see :func:`make_record`), indexes it
file by file through :meth:`clip2frame.index.IndexStore.put` (one transaction per file: files row, events,
per-tag summary, frame scores), then times five typical queries through :func:`clip2frame.index.search`
and the viewer's list page, interleaved, ``--repeats`` times each. The same generated files go to each
backend. Insert rate counts only the time inside ``put`` (data generation excluded); it covers everything
a file stores, not only its events. After the inserts, ``IndexStore.optimize()`` (what ``clip2frame tag`` and
``clip2frame index`` run after a batch: SQLite ``PRAGMA optimize``, PostgreSQL ``VACUUM ANALYZE``), timed apart.

PostgreSQL runs as a throwaway cluster (tests/pg_cluster.py) on the same disk, with fsync on and
``synchronous_commit=off``: the durability SQLite has in WAL mode with ``synchronous=NORMAL`` (a crash of
the process never loses or half-writes a committed file; a power cut may lose the last commits).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

from _machine import print_machine_info  # noqa: E402

from clip2frame.index import FileRecord, IndexStore, search  # noqa: E402
from clip2frame.data.events import mask_runs  # noqa: E402
from clip2frame.tags import MUSIC_TAG_KINDS, MUSIC_TAGS  # noqa: E402

FRAME_S = 0.512
N_FRAMES = 352  # 180 s

QUERIES = {  # the five typical queries (all on the stored events)
    "Q1 saxophone, >= 8 s": dict(tag="saxophone", min_duration=8),
    "Q2 violin with piano, >= 4 s": dict(tag="violin", with_=["piano"], min_duration=4),
    "Q3 distorted electric guitar without drums, >= 10 s":
        dict(tag="distorted electric guitar", without=["drums"], min_duration=10),
    "Q4 saxophone with piano without drums, >= 8 s, score >= 0.6":
        dict(tag="saxophone", with_=["piano"], without=["drums"], min_duration=8, min_score=0.6),
    "Q5 cello with flute without drums, electric bass, >= 5 s":
        dict(tag="cello", with_=["flute"], without=["drums", "electric bass"], min_duration=5),
}
EXTRA = {
    "list page (viewer): newest first, rows 5000-5049": "list",
    "stored scores at a new threshold: violin >= 0.3, >= 5 s": dict(tag="violin", threshold=0.3, min_duration=5),
}


#: How often each instrument plays in a file (a pop/rock-leaning catalogue): drums and bass in most files,
#: accordion in few. Each file draws 3-6 instruments with these weights, plus one tempo tag.
POPULARITY = {"drums": 8, "electric bass": 7, "piano": 5, "clean electric guitar": 4, "distorted electric guitar": 4,
              "acoustic guitar": 4, "synthesizer": 4, "violin": 2, "cello": 1.5, "flute": 1.5, "saxophone": 2,
              "trumpet": 1.5, "accordion": 0.5}


def make_record(rng: np.random.Generator, i: int, events_per_file: int) -> FileRecord:
    """A file where 3-6 instruments (drawn by :data:`POPULARITY`) and one tempo tag are active: their
    scores alternate on/off runs (geometric lengths) so that the file has about ``events_per_file``
    events; 'on' frames score 0.55-0.95, 'off' 0.02-0.45; the other tags stay at 0.02-0.3."""
    K = len(MUSIC_TAGS)
    instruments = [t for t in MUSIC_TAGS if t in POPULARITY]
    w = np.asarray([POPULARITY[t] for t in instruments], dtype=float)
    chosen = list(rng.choice(instruments, size=int(rng.integers(3, 7)), replace=False, p=w / w.sum()))
    chosen.append("fast" if rng.random() < 0.5 else "slow")
    mean_run = N_FRAMES / (events_per_file / len(chosen)) / 2  # one event = one on-run + one off-run
    P = rng.uniform(0.02, 0.3, size=(N_FRAMES, K)).astype(np.float32)
    for tag in chosen:
        k = MUSIC_TAGS.index(tag)
        lengths = rng.geometric(1.0 / mean_run, size=N_FRAMES)
        edges = np.minimum(np.cumsum(lengths), N_FRAMES)
        on = bool(rng.integers(2))
        start = 0
        for e in edges:
            if start >= N_FRAMES:
                break
            P[start:e, k] = rng.uniform(0.55, 0.95) if on else rng.uniform(0.02, 0.45)
            start, on = e, not on
    P += rng.normal(0, 0.02, P.shape).astype(np.float32)
    np.clip(P, 0, 1, out=P)
    bounds = np.arange(N_FRAMES + 1) * FRAME_S
    events = []
    for k, tag in enumerate(MUSIC_TAGS):
        for a, b in zip(*mask_runs(P[:, k] >= 0.5)):
            events.append((tag, round(float(bounds[a]), 3), round(float(bounds[b]), 3)))
    return FileRecord(path=f"album{i // 100:03d}/track{i:05d}", name=f"track{i:05d}.flac", labels=list(MUSIC_TAGS),
                      probs=P, boundaries=bounds, thresholds=np.full(K, 0.5), events=events,
                      kinds=dict(MUSIC_TAG_KINDS), model_name="bench", model_version="1",
                      tagged_at=1_700_000_000.0 + i, outputs_mtime_ns=i)


def fill(store: IndexStore, n_files: int, events_per_file: int, seed: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    n_events, t_put = 0, 0.0
    for i in range(n_files):
        rec = make_record(rng, i, events_per_file)
        t0 = time.perf_counter()
        n_events += store.put(rec)
        t_put += time.perf_counter() - t0
        if (i + 1) % 1000 == 0:
            print(f"#   {store.dialect.name}: {i + 1} files, {n_events} events, {n_events / t_put:,.0f} events/s",
                  flush=True)
    return n_events, t_put


def time_queries(store: IndexStore, repeats: int) -> dict[str, list[float]]:
    names = list(QUERIES) + list(EXTRA)
    times: dict[str, list[float]] = {n: [] for n in names}
    hits: dict[str, int] = {}
    for r in range(repeats + 1):  # round 0 warms the caches and is not counted
        for n in names:
            q = QUERIES.get(n, EXTRA.get(n))
            t0 = time.perf_counter()
            if q == "list":
                res = store.list_files(offset=5000, limit=50)[0]
                count = len(res)
            else:
                res = search(store, limit=20, **q)
                count = len(res.segments)
            dt = time.perf_counter() - t0
            if r:
                times[n].append(dt)
            hits[n] = count
    for n in names:
        print(f"#   {store.dialect.name}: {n}: {hits[n]} hits on the first page")
    return times


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--events-per-file", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print_machine_info()
    print(f"# {args.files} files x ~{args.events_per_file} events, {N_FRAMES} frames x {len(MUSIC_TAGS)} tags each; "
          f"{args.repeats} timed repeats per query", flush=True)
    rows = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        for backend in args.backends.split(","):
            cluster = None
            if backend == "sqlite":
                url = str(tmp / "index.sqlite")
            else:
                from pg_cluster import PgCluster

                cluster = PgCluster({"fsync": "on", "full_page_writes": "on", "synchronous_commit": "off",
                                     "shared_buffers": "256MB"}).start()
                url = cluster.new_database()
            try:
                with IndexStore(url) as store:
                    n_events, t_put = fill(store, args.files, args.events_per_file, args.seed)
                    t0 = time.perf_counter()
                    store.optimize()  # what `clip2frame tag` and `clip2frame index` do after a batch
                    print(f"#   {backend}: optimize() {time.perf_counter() - t0:.1f} s", flush=True)
                    times = time_queries(store, args.repeats)
                rows[backend] = (n_events, t_put, times)
            finally:
                if cluster is not None:
                    cluster.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    backends = list(rows)
    print()
    print("| | " + " | ".join(backends) + " |")
    print("|---|" + "---:|" * len(backends))
    print("| events indexed | " + " | ".join(f"{rows[b][0]:,}" for b in backends) + " |")
    print("| insert, events/s | " + " | ".join(f"{rows[b][0] / rows[b][1]:,.0f}" for b in backends) + " |")
    for n in list(QUERIES) + list(EXTRA):
        cells = [f"{1000 * statistics.median(rows[b][2][n]):.1f} / {1000 * pct(rows[b][2][n], 95):.1f}"
                 for b in backends]
        print(f"| {n}: p50 / p95 ms | " + " | ".join(cells) + " |")
    if len(backends) == 2:
        a, b = backends
        print(f"\n# insert rate {b}/{a} = {rows[b][0] / rows[b][1] / (rows[a][0] / rows[a][1]):.2f}")
        for n in QUERIES:
            print(f"# {n}: p95 {b}/{a} = {pct(rows[b][2][n], 95) / pct(rows[a][2][n], 95):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
