"""Catalogue tagging on Ray: decoding + inference of many files spread over a pool of Ray actors.

``tag_files_ray(inputs, out_dir=..., ...)`` is :func:`clip2frame.infer.batch.tag_files` with the per-file
work (decode, ``predict``, atomic writes) run by ``workers`` Ray actors instead of the calling process:

* same inputs, output tree, formats, ``failures.tsv``, ``events.tsv`` (rebuilt at the end), ``shard`` and
  resume rules — it calls ``batch``'s own functions (``discover``, ``output_paths``, ``prepare_out_dir``,
  ``write_failures_tsv``, ``write_combined_events``, and ``tag_one`` for each file inside the actor);
* each actor loads the model once (from the model file, or a ``TaggerModel`` passed through the object
  store) and tags one file at a time; two files per actor are in flight so an actor never waits for the
  driver. Files longer than ``prefetch_max_s`` are streamed by ``predict`` from their path, as locally;
* every output is written by the actor, atomically, straight into ``out_dir`` — on a multi-node cluster
  ``out_dir`` and the inputs must be on a file system every node sees (the driver only reads them back to
  build ``events.tsv``);
* an actor that dies (a decoder crash, out of memory) fails only the file it was on: the file is listed in
  ``failures.tsv`` and the actor is replaced.

Ray core (tasks/actors) is used, not Ray Data: the unit of work is a whole file with its own outputs and
error handling, which Ray Data's row/batch model would only wrap, and core ``ray`` needs no pandas/pyarrow.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import ConfigError
from . import batch as _batch
from .discover import InputItem, discover, parse_shard, require_inputs
from .provenance import ModelIdentity, model_identity
from .resume import plan_items
from .writers import DEFAULT_FORMATS, output_paths, parse_formats

log = logging.getLogger(__name__)

IN_FLIGHT_PER_WORKER = 2


class _Worker:
    """One Ray actor: a loaded model and the per-file function of the local backend."""

    def __init__(self, model: Any, device: str, threads: int, opts: dict[str, Any]):
        import torch

        if threads:
            torch.set_num_threads(threads)
        if isinstance(model, list):  # [ObjectRef]: a TaggerModel put in the object store by the driver
            import ray

            model = ray.get(model[0])
        self.tagger, self.predict, self.load_audio = _batch.load_backend(model, device, None, None, None)
        self.sr = int(getattr(getattr(self.tagger, "feature_spec", None), "sr", 16000))
        self.device = device
        self.opts = opts

    def tag(self, it: InputItem, out: str, fmts: tuple[str, ...]) -> _batch.FileResult:
        out_p = Path(out)
        prefetch_max_s = self.opts["prefetch_max_s"]

        def decode(item: InputItem) -> Any:
            dur = _batch.probe_duration(item.path)
            if dur is not None and dur > prefetch_max_s:
                return item.path  # predict streams long files from the path
            return self.load_audio(item.path, sr=self.sr, mono=True)

        paths = output_paths(out_p / it.key.parent, it.key.name, fmts)
        return _batch.tag_one(it, None, decode, self.predict, self.tagger, sr=self.sr, out=out_p, fmts=fmts,
                               paths=paths, resolution=self.opts["resolution"], device=self.device,
                               batch_size=self.opts["batch_size"], min_duration=self.opts["min_duration"],
                               merge_gap=self.opts["merge_gap"])

    def ready(self) -> bool:
        return True


def tag_files_ray(
    inputs: Sequence[str | Path],
    *,
    out_dir: str | Path,
    model: Any = "default",
    formats: str | Iterable[str] = DEFAULT_FORMATS,
    resolution: str = "model",
    min_duration: float = 0.0,
    merge_gap: float = 0.0,
    device: str = "cpu",
    batch_size: int = 8,
    overwrite: bool = False,
    shard: str | tuple[int, int] | None = None,
    progress: bool = False,
    prefetch_max_s: float = 600.0,
    workers: int = 0,
    threads_per_worker: int = 1,
    gpus_per_worker: float | None = None,
    address: str | None = None,
    on_result: Callable[[_batch.FileResult], None] | None = None,
    index: str | Path | bool | None = True,
) -> _batch.BatchReport:
    """Tag every input file with a pool of Ray actors; outputs, failures and resume as in ``tag_files``.

    Parameters
    ----------
    inputs, out_dir, model, formats, resolution, min_duration, merge_gap, device, batch_size, overwrite,
    shard, progress, prefetch_max_s, on_result, index
        As :func:`clip2frame.infer.batch.tag_files` (``model`` may be a path, ``"default"`` or a loaded
        ``TaggerModel``; a path must be readable on every node).
    workers : int
        Actors (0: one per CPU Ray reports, at most the number of files to tag).
    threads_per_worker : int
        torch intra-op threads (and Ray CPUs) per actor.
    gpus_per_worker : float, optional
        Ray GPUs per actor with ``device="cuda"`` (default 1.0; 0.5 puts two actors on a GPU).
    address : str, optional
        A running Ray cluster (``"auto"``, ``"ray://host:10001"``); default: the one already initialised
        in this process, else a local Ray started (and shut down) here.

    Returns
    -------
    BatchReport
        As ``tag_files``; ``exit_code`` 1 when any input failed.
    """
    t0 = time.perf_counter()
    fmts = parse_formats(formats)
    if resolution not in _batch.RESOLUTIONS:
        raise ConfigError(f"--resolution {resolution!r}: choose from {', '.join(_batch.RESOLUTIONS)}")
    if min_duration < 0 or merge_gap < 0:
        raise ConfigError(f"--min-event {min_duration} / --merge-gap {merge_gap}: must be >= 0 seconds")
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: must be >= 1")
    if workers < 0 or threads_per_worker < 1:
        raise ConfigError(f"--workers {workers} / threads per worker {threads_per_worker}: must be >= 0 / >= 1")
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray: the 'ray' package is not installed (pip install 'clip2frame[ray]')") \
            from None
    shard_t = parse_shard(shard)
    dev = _batch.check_device(device)
    items, missing = discover(inputs, shard=shard_t)
    require_inputs(inputs, items, missing, shard_t)
    out = Path(out_dir)

    def paths_of(it: InputItem) -> dict[str, Path]:
        return output_paths(out / it.key.parent, it.key.name, fmts)

    ident = ModelIdentity()
    if items:  # a missing or broken model file is a setup error, before any write; its hash decides resume
        from ..models.io import TaggerModel
        from .predict import load_tagger

        ident = model_identity(model if isinstance(model, TaggerModel) else load_tagger(model, device="cpu"))
    todo, retag = plan_items(items, out, fmts, ident, overwrite=overwrite)
    index = _batch.index_option(index, fmts)
    out = prepare_out_dir_abs(out)
    indexer = _batch.open_batch_index(index, out)  # in the driver: actors only write the per-file outputs
    events_name, failures_name = _batch.summary_names(shard_t)
    failures_path = out / failures_name
    events_path = out / events_name if "events" in fmts else None

    results: list[_batch.FileResult] = []
    failures: list[tuple[str, str]] = [(m.path, m.error) for m in missing]
    last_flush = [0.0]

    def record(r: _batch.FileResult) -> None:
        r = _batch.index_result(indexer, r)
        results.append(r)
        if r.status == "failed":
            failures.append((r.path, r.error or "failed"))
            _batch.warn_failure(r.path, r.error or "failed")
            if time.monotonic() - last_flush[0] >= 1.0:
                _batch.write_failures_tsv(failures_path, failures)
                last_flush[0] = time.monotonic()
        if on_result is not None:
            on_result(r)

    for m in missing:
        _batch.warn_failure(m.path, m.error)
        results.append(_batch.FileResult(m.path, "", "failed", error=m.error))
        if on_result is not None:
            on_result(results[-1])
    _batch.write_failures_tsv(failures_path, failures)
    todo_ids = {id(it) for it in todo}
    for it in items:
        if id(it) not in todo_ids:
            record(_batch.FileResult(str(it.path), str(it.key), "skipped",
                                     {f: str(p) for f, p in paths_of(it).items()}))

    if todo:
        started = False
        if not ray.is_initialized():
            local: dict[str, Any] = {} if address else {
                "num_cpus": max(workers * threads_per_worker, 1) if workers else None}
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **local)
            started = True
        def record_retag(r: _batch.FileResult) -> None:
            r.retagged = retag.get(id(by_key[r.key]), "") if r.key in by_key else ""
            record(r)

        by_key = {str(it.key): it for it in todo}
        try:
            _run_pool(ray, todo, out, fmts, model, dev, record_retag, progress=progress, n_items=len(items),
                      workers=workers, threads=threads_per_worker, gpus=gpus_per_worker,
                      opts={"resolution": resolution, "batch_size": batch_size, "min_duration": min_duration,
                            "merge_gap": merge_gap, "prefetch_max_s": prefetch_max_s})
        finally:
            _batch.write_failures_tsv(failures_path, failures)  # also when interrupted
            if started:
                ray.shutdown()

    if events_path is not None:
        _, bad = _batch.write_combined_events(events_path, out, items)
        for p, err in bad:
            _batch.warn_failure(p, err)
        results += [_batch.FileResult(p, "", "failed", error=err) for p, err in bad]
        failures += bad
    _batch.write_failures_tsv(failures_path, failures)
    if indexer is not None:
        indexer.store.optimize()
        indexer.store.close()
    return _batch.BatchReport(out_dir=out, results=results, events_path=events_path, failures_path=failures_path,
                              seconds=time.perf_counter() - t0)


def prepare_out_dir_abs(out: Path) -> Path:
    """``batch.prepare_out_dir``, made absolute: actors may run in another working directory."""
    return _batch.prepare_out_dir(out).resolve()


def _run_pool(ray, todo: list[InputItem], out: Path, fmts: tuple[str, ...], model: Any, device: str,
              record: Callable[[_batch.FileResult], None], *, progress: bool, n_items: int, workers: int,
              threads: int, gpus: float | None, opts: dict[str, Any]) -> None:
    from ray.exceptions import RayActorError, RayError, RayTaskError

    n = workers or max(1, int(ray.available_resources().get("CPU", 1)) // threads)
    n = max(1, min(n, len(todo)))
    res: dict[str, Any] = {"num_cpus": threads}
    if device.startswith("cuda"):
        res["num_gpus"] = 1.0 if gpus is None else gpus
    actor_cls = ray.remote(**res)(_Worker)
    model_arg: Any = [ray.put(model)] if not isinstance(model, (str, Path)) and model is not None else \
        str(model if model is not None else "default")
    # model files are read by the actors: relative paths are made absolute for them
    if isinstance(model_arg, str) and model_arg != "default":
        model_arg = str(Path(model_arg).resolve())

    def spawn():
        return actor_cls.remote(model_arg, device, threads, opts)

    actors = [spawn() for _ in range(n)]
    replaced: dict[Any, Any] = {}  # dead actor -> its replacement
    retried: set[int] = set()
    # A model that cannot be loaded fails every actor the same way: a setup error, not n file failures.
    try:
        ray.get([a.ready.remote() for a in actors])
    except RayActorError as e:
        raise ConfigError(f"--backend ray: workers could not start ({_last_line(e)})") from None
    log.info("ray backend: %d workers x %d threads for %d files", n, threads, len(todo))
    bar = _batch.progress_bar(n_items, n_items - len(todo), progress)
    queue = deque(todo)
    inflight: dict[Any, tuple[Any, InputItem, float]] = {}
    slots = deque(a for a in actors for _ in range(IN_FLIGHT_PER_WORKER))
    n_failed = 0
    try:
        while queue or inflight:
            while queue and slots:
                a = slots.popleft()
                it = queue.popleft()
                inflight[a.tag.remote(it, str(out), fmts)] = (a, it, time.perf_counter())
            done, _ = ray.wait(list(inflight), num_returns=1)
            for ref in done:
                a, it, t = inflight.pop(ref)
                try:
                    r = ray.get(ref)
                except RayActorError as e:  # the process died on this file or on the other one in flight
                    if a not in replaced:
                        ray.kill(a, no_restart=True)
                        replaced[a] = spawn()
                        actors.append(replaced[a])
                    slots.append(replaced[a])
                    if id(it) not in retried:  # innocent bystanders succeed on a second try
                        retried.add(id(it))
                        queue.appendleft(it)
                        continue
                    r = _batch.FileResult(str(it.path), str(it.key), "failed",
                                          error=f"ray worker died while tagging this file ({_first(e)})",
                                          seconds=time.perf_counter() - t)
                    record(r)
                    bar.update(1)
                    n_failed += 1
                    continue
                except (RayTaskError, RayError) as e:
                    r = _batch.FileResult(str(it.path), str(it.key), "failed", error=_first(e),
                                          seconds=time.perf_counter() - t)
                slots.append(a)
                record(r)
                bar.update(1)
                if r.status == "failed":
                    n_failed += 1
                    bar.set_postfix(failed=n_failed, refresh=False)
    finally:
        for ref in list(inflight):
            ray.cancel(ref, force=True)
        for a in actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # already dead
                pass
        bar.close()


def _last_line(e: BaseException) -> str:
    """The innermost error of a Ray error whose text is a whole remote traceback."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return _batch._one_line(lines[-1].rstrip(")") if lines else type(e).__name__)[:300]


def _first(e: BaseException) -> str:
    return _batch._one_line(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)[:300]
