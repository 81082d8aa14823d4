"""Catalogue tagging: many files -> a mirrored tree of per-file outputs, resumable, failures listed.

``tag_files(inputs, out_dir=..., options=TagOptions(...))`` is the one call behind ``clip2frame tag`` and
``clip2frame detect`` (and any other batch driver; a shard is ``TagOptions(shard=...)``; the options and the
:class:`~.options.ResultHook` protocol are :mod:`clip2frame.infer.options`):

* inputs are files, folders (walked recursively for audio/video extensions) and ``@list.txt`` files, see
  :mod:`clip2frame.infer.discover` for the output-tree rule, collisions and ``shard``;
* a file is *done* when all its requested outputs exist and its sidecar names this run's model, its
  thresholds and this run's resolution and event post-processing (:mod:`clip2frame.infer.resume`); done
  files are skipped unless ``overwrite``, outputs of another or an unknown model, or made with other
  thresholds or settings, are re-tagged (``retagged`` / ``unknown_model`` / ``other_settings`` in the
  report). Every output is written atomically, the provenance sidecar last
  (:mod:`clip2frame.results.provenance`), and only after the prediction succeeded, so a killed run (even
  SIGKILL) leaves complete files only and a re-run resumes;
* a file that cannot be decoded, predicted or written is recorded in ``failures.tsv`` (``path<TAB>error``)
  with no partial outputs, and the batch goes on; the report's ``exit_code`` is 1 when anything failed;
* at the end, ``events.tsv`` (DCASE, every done file of the run, skipped ones included) is rebuilt from
  the per-file events files, so it is complete after a resume. With ``shard=(I, N)`` the two summary
  files are ``events.shard-I-of-N.tsv`` and ``failures.shard-I-of-N.tsv``, so shards can share ``out_dir``;
* a ``result_hook`` (:class:`~.options.ResultHook`) sees every result as it is decided: ``clip2frame tag`` passes the
  event index's (:class:`clip2frame.index.ingest.BatchIndexHook`: every tagged file indexed from its
  outputs right after they are written, a skipped one whose rows are missing or stale too); this module
  imports no index;
* decoding runs ahead in ``jobs`` threads (soundfile, PyAV and soxr release the GIL) while the model
  runs on the current file; files longer than ``prefetch_max_s`` are handed to ``predict`` as paths so it
  can stream them in blocks and memory stays flat.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import av
from tqdm import tqdm

from ..timebase import SAMPLE_RATE
from . import predict as _pred
from ..audio.io import load_audio, tried_with_soundfile
from ..errors import Clip2FrameError, OutputError
from ..results.provenance import ModelIdentity, OutputSettings, model_identity, sidecar_path, source_provenance
from ..results.writers import output_paths, write_outputs
from ..signatures import accepts_keyword
from .discover import InputItem, discover, require_inputs
from .options import ResultHook, TagOptions, check_device
from .resume import (CRASH_LIMIT, attempts, clear_attempt, crashed_message, decode_hashed, mark_attempt,
                     model_thresholds, plan_items, remove_attempts_dir)
from .summary import FileResult, one_line, summary_names, write_combined_events, write_failures_tsv

log = logging.getLogger(__name__)


def warn_failure(path, error: str) -> None:
    """Log a failed input once: errors from the decoder already start with the file's path."""
    log.warning("%s", error if str(error).startswith(str(path)) else f"{path}: {error}")


@dataclass
class BatchReport:
    """Outcome of :func:`tag_files`; ``to_dict()`` is what ``clip2frame tag`` prints on stdout."""

    out_dir: Path
    results: list[FileResult]
    events_path: Path | None
    failures_path: Path
    seconds: float

    def _by(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def tagged(self) -> list[FileResult]:
        """The files tagged in this run."""
        return self._by("tagged")

    @property
    def skipped(self) -> list[FileResult]:
        """The files skipped (outputs present from the same model)."""
        return self._by("skipped")

    @property
    def failed(self) -> list[FileResult]:
        """The files that failed (each with its one-line error)."""
        return self._by("failed")

    @property
    def exit_code(self) -> int:
        """1 when any file failed, else 0 (README "Exit codes")."""
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        """The run's summary (counts, audio seconds, throughput, failures) as a JSON-ready dict."""
        audio_s = sum(r.audio_s for r in self.tagged)
        return {
            "out_dir": str(self.out_dir),
            "inputs": len(self.results),
            "tagged": len(self.tagged),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "retagged": sum(r.retagged == "other model" for r in self.results),
            "unknown_model": sum(r.retagged == "unknown model" for r in self.results),
            "other_settings": sum(r.retagged == "other settings" for r in self.results),
            "events": str(self.events_path) if self.events_path else None,
            "failures": str(self.failures_path),
            "audio_seconds": round(audio_s, 3),
            "seconds": round(self.seconds, 3),
            "x_realtime": round(audio_s / self.seconds, 2) if self.seconds > 0 and audio_s > 0 else None,
        }


# ------------------------------------------------------------------------------------------- setup
def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and prove it writable with a throw-away temp file.

    Raises
    ------
    OutputError
        One line naming the folder, before anything is written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: output path exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".clip2frame-write-test.", dir=out)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise OutputError(f"{out}: output directory is not writable ({e.strerror or e})") from None
    return out


def _error_text(e: BaseException) -> str:
    if isinstance(e, Clip2FrameError):
        return one_line(e)
    if isinstance(e, OSError):
        return one_line(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": "))
    return one_line(f"{type(e).__name__}: {e}")


def _remove_stale_temps(paths: Iterable[Path]) -> None:
    """Temp files a killed run left for these outputs (``.<name>.<random>.tmp``, see fileio)."""
    for p in paths:
        if p.parent.is_dir():
            for t in p.parent.glob(f".{p.name}.*.tmp"):
                try:
                    t.unlink()
                except OSError:
                    pass


def probe_duration(path: Path) -> float | None:
    """Duration in seconds from the header (soundfile for the formats the decoder gives it, then PyAV);
    ``None`` when unknown."""
    if tried_with_soundfile(path):
        try:
            import soundfile as sf  # lazy: see tests/test_layers.py LAZY_IMPORTS_KEPT (libsndfile load order)

            info = sf.info(str(path))
            return float(info.frames) / float(info.samplerate)
        except Exception:
            pass
    try:
        with av.open(str(path)) as c:
            if c.duration:
                return float(c.duration) / 1_000_000.0
    except Exception:
        pass
    return None


# ------------------------------------------------------------------------------------------- the batch
def tag_files(inputs: Sequence[str | Path], *, out_dir: str | Path, options: TagOptions = TagOptions(),
              on_result: Callable[[FileResult], None] | None = None, result_hook: ResultHook | None = None,
              load_model_fn: Callable[..., Any] | None = None, predict_fn: Callable[..., Any] | None = None,
              load_audio_fn: Callable[..., Any] | None = None) -> BatchReport:
    """Tag every input file and write its outputs into a tree mirroring the inputs under ``out_dir``.

    Parameters
    ----------
    inputs : sequence of str or Path
        Files, folders (recursive, audio/video extensions only) and ``@list.txt`` (one path a line,
        ``#`` comments, relative paths relative to the list's folder).
    out_dir : str or Path
        Output root; created, and checked writable before anything else happens.
    options : TagOptions
        Model, formats, resolution, event post-processing, device, shard, ... (see there).
    on_result : callable, optional
        Called with each :class:`FileResult` as it is decided (after ``result_hook``).
    result_hook : ResultHook, optional
        Opened before the first output is written, called with each result (it may turn it into a failure:
        ``clip2frame tag``'s event index lists a file it cannot index), closed at the end.
    load_model_fn, predict_fn, load_audio_fn : callable, optional
        Replace ``infer.predict.load_tagger``, ``infer.predict.predict`` and ``audio.io.load_audio``
        (same signatures); for tests and other detectors (``clip2frame detect``: the video detector).

    Returns
    -------
    BatchReport
        Per-file results, summary paths; ``exit_code`` 1 when any input failed.

    Raises
    ------
    ConfigError, OutputError, DatasetError, ModelFileError
        Usage or setup problems (output folder not writable, missing list file, no input files, model
        cannot be loaded, the hook cannot open), raised before any output is written.
    """
    t0 = time.perf_counter()
    opt = options
    fmts = tuple(opt.formats)
    dev = check_device(opt.device)
    items, missing = discover(inputs, shard=opt.shard_range)
    require_inputs(inputs, items, missing, opt.shard_range)
    out = Path(out_dir)
    # Setup that can fail (model, output folder) happens before the first write: a usage error leaves
    # nothing behind. The model is loaded even for a finished catalogue: its weights hash decides whether
    # the outputs there are its own.
    backend = load_backend(opt.model, dev, load_model_fn, predict_fn, load_audio_fn) if items else None
    ident = model_identity(backend[0]) if backend else ModelIdentity()
    settings = opt.output_settings
    todo, retag = plan_items(items, out, fmts, ident, overwrite=opt.overwrite, settings=settings,
                             thresholds=model_thresholds(backend[0]) if backend else None)
    tried = {} if opt.overwrite else {id(it): n for it in todo if (n := attempts(out, it))}
    crashed = [it for it in todo if tried.get(id(it), 0) >= CRASH_LIMIT]
    # suspects (the process died once while they were in flight) go last, each alone
    todo = [it for it in todo if id(it) not in tried] + [it for it in todo if 0 < tried.get(id(it), 0) < CRASH_LIMIT]
    out = prepare_out_dir(out)
    if result_hook is not None:
        result_hook.open(out)
    events_name, failures_name = summary_names(opt.shard_range)
    run = _Run(out / failures_name, result_hook, on_result)
    for m in missing:
        warn_failure(m.path, m.error)
        run.failures.append((m.path, m.error))
        run.results.append(FileResult(m.path, "", "failed", error=m.error))
        if on_result is not None:
            on_result(run.results[-1])
    for it in crashed:
        run.record(FileResult(str(it.path), str(it.key), "failed", error=crashed_message(out, it, tried[id(it)])))
    write_failures_tsv(run.failures_path, run.failures)
    todo_set = {id(it) for it in todo + crashed}
    for it in items:
        if id(it) not in todo_set:
            clear_attempt(out, it)  # done: a marker left by a run killed after its outputs were written
            paths = output_paths(out / it.key.parent, it.key.name, fmts)
            run.record(FileResult(str(it.path), str(it.key), "skipped", {f: str(p) for f, p in paths.items()}))
    log.debug("%d inputs, %d already done, %d to tag", len(items), len(items) - len(todo), len(todo))
    if backend is not None and todo:
        try:
            _tag_todo(run, todo, retag, backend, ident, out, opt, dev, n_items=len(items),
                      alone={id(it) for it in todo if id(it) in tried})
        finally:
            write_failures_tsv(run.failures_path, run.failures)  # also when interrupted
    events_path = out / events_name if "events" in fmts else None
    if events_path is not None:
        n, bad = write_combined_events(events_path, out, items)
        log.debug("%s: %d events", events_path, n)
        for p, err in bad:
            warn_failure(p, err)
        run.results += [FileResult(p, "", "failed", error=err) for p, err in bad]
        run.failures += bad
    write_failures_tsv(run.failures_path, run.failures)
    remove_attempts_dir(out)
    if result_hook is not None:
        result_hook.close()
    return BatchReport(out_dir=out, results=run.results, events_path=events_path, failures_path=run.failures_path,
                       seconds=time.perf_counter() - t0)


class _Run:
    """The results and failures of one batch as they are decided; ``failures.tsv`` kept (nearly) current."""

    def __init__(self, failures_path: Path, hook: ResultHook | None, on_result: Callable[[FileResult], None] | None):
        self.failures_path = failures_path
        self.hook, self.on_result = hook, on_result
        self.results: list[FileResult] = []
        self.failures: list[tuple[str, str]] = []
        self._last_flush = 0.0

    def record(self, r: FileResult) -> None:
        if self.hook is not None:
            r = self.hook(r)
        self.results.append(r)
        if r.status == "failed":
            self.failures.append((r.path, r.error or "failed"))
            warn_failure(r.path, r.error or "failed")
            # kept (nearly) current so a killed run still lists them; at most one rewrite a second
            if time.monotonic() - self._last_flush >= 1.0:
                write_failures_tsv(self.failures_path, self.failures)
                self._last_flush = time.monotonic()
        if self.on_result is not None:
            self.on_result(r)


def _tag_todo(run: _Run, todo: list[InputItem], retag: dict[int, str], backend: tuple[Any, Callable, Callable],
              ident: ModelIdentity, out: Path, opt: TagOptions, dev: str, *, n_items: int,
              alone: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    """Decode (``opt.jobs`` threads ahead), predict and write each item of ``todo``, recording each result;
    each item's attempt marker (:mod:`.resume`) is set before its decoding starts and cleared once its
    result is recorded. Items in ``alone`` (by ``id``; the suspects, last in ``todo``) are decoded inline,
    one at a time, nothing else in flight."""
    tagger, predict, load_audio = backend
    sr = int(getattr(getattr(tagger, "feature_spec", None), "sr", SAMPLE_RATE))
    fmts = tuple(opt.formats)
    bar = progress_bar(n_items, n_items - len(todo), opt.progress, desc=opt.progress_desc)

    def decode(it: InputItem) -> Any:
        dur = probe_duration(it.path)
        if dur is not None and dur > opt.prefetch_max_s:
            return it.path  # predict streams long files from the path
        return load_audio(it.path, sr=sr, mono=True)

    jobs = opt.jobs
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="clip2frame-decode") if jobs else None
    pending: deque[tuple[InputItem, Future | None]] = deque()
    queue = deque(todo)

    def fill() -> None:
        while queue and len(pending) < max(jobs, 1) and not (pending and id(queue[0]) in alone):
            it = queue.popleft()
            if pool and id(it) not in alone:
                mark_attempt(out, it)
                pending.append((it, pool.submit(decode_hashed, decode, it)))
            else:
                pending.append((it, None))  # decoded inline by tag_one: marked just before
            if id(it) in alone:
                break

    it: InputItem | None = None
    try:
        fill()
        while pending:
            it, fut = pending.popleft()
            if id(it) not in alone:
                fill()
            if fut is None:
                mark_attempt(out, it)
            r = tag_one(it, fut, decode, predict, tagger, sr=sr, out=out, fmts=fmts,
                        paths=output_paths(out / it.key.parent, it.key.name, fmts), resolution=opt.resolution,
                        device=dev, batch_size=opt.batch_size, min_duration=opt.min_duration,
                        merge_gap=opt.merge_gap, model=ident, settings=opt.output_settings)
            r.retagged = retag.get(id(it), "")
            clear_attempt(out, it)  # its fate is decided (outputs written, or a failure): no longer in flight
            it = None
            run.record(r)
            fill()
            bar.update(1)
            if run.failures:
                bar.set_postfix(failed=len(run.failures), refresh=False)
    except (KeyboardInterrupt, SystemExit):  # an interruption is not a death of the process: no marker left
        for x in [it, *(p for p, _ in pending)]:
            if x is not None:
                clear_attempt(out, x)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        remove_attempts_dir(out)


def tag_one(it: InputItem, fut: Future | None, decode: Callable, predict: Callable, tagger: Any, *, sr: int,
            out: Path, fmts: tuple[str, ...], paths: dict[str, Path], resolution: str, device: str,
            batch_size: int, min_duration: float, merge_gap: float, model: ModelIdentity | None = None,
            settings: OutputSettings | None = None) -> FileResult:
    """Decode (or take the prefetched ``fut`` of :func:`decode_hashed`), predict and write one input with its
    provenance (``model``: the tagger's identity, computed once per batch; ``settings``: the batch's
    :attr:`~clip2frame.infer.options.TagOptions.output_settings`); any failure becomes a
    ``"failed"`` :class:`FileResult` with a one-line error and no partial outputs."""
    t = time.perf_counter()
    try:
        audio, digest, size = fut.result() if fut is not None else decode_hashed(decode, it)
        if isinstance(audio, tuple):  # load_audio may return (wave, sr)
            audio = audio[0]
        kw: dict[str, Any] = {"model": tagger, "resolution": resolution, "device": device}
        if accepts_keyword(predict, "batch_size"):
            kw["batch_size"] = batch_size
        if not isinstance(audio, Path):
            kw["sr"] = sr
        acts = predict(audio, **kw)
        del audio
        acts.source = str(it.path)
        ident = model if model is not None else model_identity(tagger)
        acts.meta = {"model_name": ident.name, "model_version": ident.version, **(acts.meta or {})}
        prov = source_provenance(ident, it.path, content_sha256=digest, source_bytes=size, settings=settings)
        _remove_stale_temps([*paths.values(), sidecar_path(out / it.key.parent, it.key.name)])
        written = write_outputs(acts, out / it.key.parent, formats=fmts, stem=it.key.name,
                                min_duration=min_duration, merge_gap=merge_gap, provenance=prov)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # one bad file must not stop a catalogue run; it is listed in failures.tsv
        if not isinstance(e, (Clip2FrameError, OSError)):
            log.debug("%s: unexpected error", it.path, exc_info=True)
        return FileResult(str(it.path), str(it.key), "failed", error=_error_text(e),
                          seconds=time.perf_counter() - t)
    return FileResult(str(it.path), str(it.key), "tagged", {f: str(p) for f, p in written.items()},
                      audio_s=float(acts.duration), seconds=time.perf_counter() - t)


def load_backend(model: Any, device: str, load_model_fn: Callable | None, predict_fn: Callable | None,
                 load_audio_fn: Callable | None) -> tuple[Any, Callable, Callable]:
    """The loaded model and the predict / decode functions (:mod:`.predict`'s and ``load_audio`` unless given)."""
    if load_model_fn is None or predict_fn is None:
        load_model_fn = load_model_fn or _pred.load_tagger
        predict_fn = predict_fn or _pred.predict
    if load_audio_fn is None:
        load_audio_fn = load_audio
    return load_model_fn(model, device=device), predict_fn, load_audio_fn


def progress_bar(total: int, initial: int, enabled: bool, *, desc: str = "tagging") -> Any:
    """The files bar of a batch (tqdm on stderr; a no-op bar when not ``enabled``)."""
    return tqdm(total=total, initial=initial, unit="file", desc=desc, file=sys.stderr, dynamic_ncols=True,
                disable=not enabled)


def report_json(report: BatchReport) -> str:
    """The one-line JSON summary ``clip2frame tag`` prints on stdout."""
    return json.dumps(report.to_dict(), sort_keys=False)
