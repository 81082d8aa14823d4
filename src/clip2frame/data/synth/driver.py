"""The corpus driver the music, everyday and video renderers share: plan → tasks → workers → progress →
partial and final manifests, resumable.

A renderer gives :func:`drive` its tasks (one per clip, picklable: the workers are spawned processes) and
its per-clip function, which renders a clip unless its file is there already (resume) and writes it
atomically; the driver runs them in order in ``jobs`` processes, shows a progress bar, hands every
``PARTIAL_EVERY`` records to the renderer's checkpoint (a partial manifest) and returns the records in task
order, so the output does not depend on ``jobs``. :func:`claim_output_dir` keeps two renders with other
settings out of one directory.
"""
from __future__ import annotations

import io
import json
import logging
import multiprocessing as mp
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Mapping, Sequence, TypeVar

import numpy as np
from tqdm import tqdm

from ...errors import ConfigError, OutputError
from ...fileio import atomic_write_text
from ..manifest import ClipRecord, Event

log = logging.getLogger(__name__)

PARTIAL_EVERY = 25       # clips between two partial manifests

T = TypeVar("T")
R = TypeVar("R")


def run_tasks(fn: Callable[[T], R], tasks: Sequence[T], jobs: int) -> Generator[R, None, None]:
    """``fn`` over ``tasks`` in order: in this process (``jobs == 1``) or in ``jobs`` spawned processes.

    A generator: closing it early (an error or Ctrl-C in the caller) terminates the workers; a run that
    finishes lets them exit normally.
    """
    if jobs == 1:
        yield from map(fn, tasks)
        return
    pool = mp.get_context("spawn").Pool(jobs)
    finished = False
    try:
        yield from pool.imap(fn, tasks, chunksize=1)
        finished = True
    finally:
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()


def clip_id_for(split: str, index: int) -> str:
    """The id of clip ``index`` of ``split`` in a music or everyday corpus (``<split>_<index:05d>``)."""
    return f"{split}_{index:05d}"


def split_tasks(plan: Mapping[str, int], cfg: Any) -> list[tuple[str, int, Any]]:
    """The tasks of a plan ``{split: n_clips}``: ``(split, index, cfg)`` for index 0..n-1, splits in plan order."""
    return [(s, i, cfg) for s in plan for i in range(plan[s])]


def drive(tasks: Sequence[T], render_one: Callable[[T], R], *, jobs: int, desc: str, unit: str = "clip",
          progress: bool = True, checkpoint: Callable[[list[R]], None] | None = None,
          on_record: Callable[[R], None] | None = None) -> list[R]:
    """Run ``render_one`` over ``tasks`` and collect its records.

    Parameters
    ----------
    tasks : sequence
        One picklable task per clip.
    render_one : callable
        ``render_one(task) -> record`` (a module-level function: spawned workers import it).
    jobs : int
        Worker processes (1: this process).
    desc, unit : str
        The progress bar's label and unit.
    progress : bool
        Show a progress bar (tqdm).
    checkpoint : callable, optional
        ``checkpoint(records)`` after every :data:`PARTIAL_EVERY` records but the last (a partial manifest).
    on_record : callable, optional
        ``on_record(record)`` on each record as it arrives, before it is kept (e.g. to restore measurements
        of clips rendered by an earlier run).

    Returns
    -------
    list
        The records, in task order.
    """
    records: list[R] = []
    bar = None
    if progress:
        bar = tqdm(total=len(tasks), unit=unit, desc=desc, dynamic_ncols=True)
    results = run_tasks(render_one, tasks, jobs)
    try:
        for k, r in enumerate(results, 1):
            if on_record is not None:
                on_record(r)
            records.append(r)
            if bar is not None:
                bar.update(1)
            if checkpoint is not None and k % PARTIAL_EVERY == 0 and k < len(tasks):
                checkpoint(records)
    finally:
        results.close()  # stops the worker processes, also when interrupted
        if bar is not None:
            bar.close()
    return records


def log_plan(what: str, plan: Mapping[str, int], out: Path, jobs: int) -> None:
    """Log what a render is about to do (``what``: e.g. ``"clips"``)."""
    log.info("rendering %d %s (%s) into %s with %d job(s)", sum(plan.values()), what,
             ", ".join(f"{s} {n}" for s, n in plan.items()), out, jobs)


def records_to_clips(out_dir: Path, records: Iterable[dict], split_order: Sequence[str]) -> list[ClipRecord]:
    """The manifest's clips of ``records`` (dicts with ``split``, ``index``, ``clip_id``, ``filename``,
    ``tags``, ``events`` [(onset_s, offset_s, label)], ``duration``), ordered by split then index."""
    order = {s: i for i, s in enumerate(split_order)}
    recs = sorted(records, key=lambda r: (order.get(r["split"], 99), r["index"]))
    return [ClipRecord(clip_id=r["clip_id"], audio_path=out_dir / r["filename"], tags=tuple(r["tags"]),
                       split=r["split"], events=tuple(Event(a, b, lab) for a, b, lab in r["events"]),
                       duration=r["duration"]) for r in recs]


def wav_bytes(audio: np.ndarray, sr: int) -> bytes:
    """16-bit PCM WAV bytes of ``audio`` ([n] or [n, channels] float, clipped to [-1, 1]) at ``sr`` Hz."""
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    # Imported here, not at module top: soundfile loads its own libsndfile, and when that happens before
    # FluidSynth is loaded the synth binds to it, and some clips render to other bytes (measured: 2 of 6
    # clips of `synth music --hours 0.01 --clip-seconds 6 --splits test --seed 3`).
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def claim_output_dir(out: Path, signature: dict) -> None:
    """Create ``out`` and record the render's settings in it; a directory holding a render with other
    settings is refused (resuming with the same settings is fine), so two corpora never mix."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out}: cannot create the output directory ({e.strerror})") from None
    sig_path = out / ".synth-run.json"
    if sig_path.is_file():
        try:
            old = json.loads(sig_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None and old != signature:
            diff = sorted(k for k in signature if old.get(k) != signature[k])
            raise ConfigError(f"{out}: holds a render with other settings ({', '.join(diff)} differ); "
                              "use another --out or the same settings to resume")
    atomic_write_text(sig_path, json.dumps(signature, indent=1))
