"""Filling the index from a catalogue's output files: one result at a time (``clip2frame tag``), or the
whole folder (``clip2frame index DIR``, the viewer's rescan).

A result is what :func:`clip2frame.results.readers.iter_results` walks: ``<stem>.scores.tsv``
with its events, thresholds and ``meta.json`` beside it, or a video detection's ``<stem>.heatmaps.npz``.
The index row of a result records the modification time of that file, so a re-run (resume) re-indexes
exactly the results whose outputs are newer than their rows, or that have none (a run killed between
writing a file's outputs and committing its rows).

Source, content hash and model (name, version, weights hash) come from the result's provenance
(:mod:`clip2frame.results.provenance`, read from ``<stem>.meta.json``), whoever indexes it: ``clip2frame tag``,
``clip2frame index DIR [--force]`` or the viewer's start-up sync give the same row. A result without
provenance (written by an older clip2frame) is indexed with those fields empty (NULL / "").
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import Clip2FrameError, ConfigError, OutputError
from ..infer.summary import FileResult, one_line
from ..results.provenance import from_meta
from ..results.readers import NotInside, find_result, iter_results, read_result_data
from .records import FileRecord
from .store import IndexStore, open_index

log = logging.getLogger(__name__)


def read_record(root: str | Path, result_id: str) -> FileRecord:
    """The :class:`FileRecord` of result ``result_id`` under ``root``, read from its output files and its
    provenance sidecar. Raises :class:`~clip2frame.errors.OutputError` for a missing or malformed result.
    """
    root = Path(root)
    try:
        rf = find_result(root, result_id)
    except NotInside:
        raise OutputError(f"{root / result_id}: no scores.tsv or heatmaps.npz to index") from None
    data = read_result_data(root, rf)
    st = rf.path(rf.source).stat()
    prov = from_meta(data.meta)
    return FileRecord(
        path=result_id, name=data.name, labels=list(data.labels), probs=data.probs, boundaries=data.boundaries,
        thresholds=data.thresholds, events=[(e["label"], e["onset"], e["offset"]) for e in data.events],
        kinds=data.kinds, kind=data.kind, source=prov.source if prov else None,
        content_hash=prov.content_sha256 if prov else None, model_name=prov.model.name if prov else "",
        model_version=prov.model.version if prov else "", model_sha256=prov.model.weights_sha256 if prov else "",
        tagged_at=st.st_mtime, outputs_mtime_ns=st.st_mtime_ns)


class CatalogueIndexer:
    """Keeps an index in step with a catalogue folder, one result at a time.

    ``update(result_id)`` (re)indexes a result whose outputs are new or newer than its rows; it returns
    ``None`` on success and the one-line error otherwise (the caller lists it, the batch goes on).
    """

    def __init__(self, store: IndexStore, root: str | Path):
        self.store = store
        self.root = Path(root)
        self._states = store.states()

    def is_current(self, result_id: str, mtime_ns: int) -> bool:
        """Whether ``result_id`` is indexed as of its outputs' ``mtime_ns`` (nothing to do)."""
        return self._states.get(result_id, -1) == mtime_ns

    def update(self, result_id: str, *, force: bool = False) -> str | None:
        """Index (or re-index) one result from its output files; the outcome's name, ``None`` when it was current."""
        try:
            if not force:
                rf = find_result(self.root, result_id)
                if self.is_current(result_id, rf.path(rf.source).stat().st_mtime_ns):
                    return None
            rec = read_record(self.root, result_id)
            self.store.put(rec)
        except Clip2FrameError as e:
            return f"index: {e}"
        except Exception as e:  # noqa: BLE001 - one unreadable result must not stop the others
            return f"index: {self.root / result_id}: {type(e).__name__}: {e}"
        self._states[result_id] = rec.outputs_mtime_ns
        return None


@dataclass
class SyncReport:
    """What :func:`sync_folder` did: results indexed, already current, removed from the index, failed."""

    indexed: int = 0
    current: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """The counts and failures as a JSON-ready dict."""
        return {"indexed": self.indexed, "current": self.current, "removed": self.removed,
                "failed": len(self.failed), "seconds": round(self.seconds, 3)}


def sync_folder(store: IndexStore, root: str | Path, *, prune: bool = True, force: bool = False,
                on_progress: Callable[[int], None] | None = None, optimize: bool = True) -> SyncReport:
    """Bring the index in step with every result under ``root``: index new and changed results (``force``:
    all), and with ``prune`` drop rows of results whose files are gone. One transaction per result; a
    bad result is listed in the report's ``failed`` and the rest go on. ``optimize``: refresh the planner's
    statistics after writing (off inside an enclosing transaction, where PostgreSQL cannot VACUUM)."""
    t0 = time.perf_counter()
    root = Path(root)
    rep = SyncReport()
    indexer = CatalogueIndexer(store, root)
    seen: set[str] = set()
    for rid, src in iter_results(root):
        seen.add(rid)
        try:
            current = not force and indexer.is_current(rid, src.stat().st_mtime_ns)
        except OSError:
            continue  # vanished while walking
        if on_progress is not None:  # may raise to stop the walk (the viewer shutting down)
            on_progress(rep.indexed + rep.current + len(rep.failed))
        if current:
            rep.current += 1
            continue
        err = indexer.update(rid, force=True)
        if err is None:
            rep.indexed += 1
        else:
            log.warning("%s", err)
            rep.failed.append((rid, err))
    if prune:
        # re-checked one by one: a result written while the folder was walked (an upload) is not gone
        gone = [p for p in store.states() if p not in seen and not _exists(root, p)]
        rep.removed = store.remove(gone) if gone else 0
    if optimize and (rep.indexed or rep.removed):
        store.optimize()
    rep.seconds = time.perf_counter() - t0
    return rep


def _exists(root: Path, result_id: str) -> bool:
    try:
        find_result(root, result_id)
    except NotInside:
        return False
    return True


# ------------------------------------------------------------------------------------------- the batch's hook
class BatchIndexHook:
    """The event index of a ``clip2frame tag`` batch, attached through the batch's result hook
    (:class:`clip2frame.infer.options.ResultHook`): opened once the output folder exists (before any output
    is written: a bad URL is a setup error), every tagged file indexed from its outputs right after they
    are written, one transaction per file, a skipped (already done) one when its rows are missing or older
    than its outputs (so a run killed between the two is completed by the next); a file that cannot be
    indexed becomes a failure (its outputs stay, a re-run indexes it). Shards write one index concurrently.

    Parameters
    ----------
    index : True, a SQLite path or ``postgresql://...``
        True: ``<out_dir>/index.sqlite``.
    """

    def __init__(self, index: str | Path | bool):
        self.index = index
        self.indexer: CatalogueIndexer | None = None

    def open(self, out_dir: Path) -> None:
        """Open the index of ``out_dir`` (or the one named) before the batch writes its first output."""
        store = open_index(None if isinstance(self.index, bool) else self.index, out_dir=out_dir)
        self.indexer = CatalogueIndexer(store, out_dir)

    def __call__(self, result: FileResult) -> FileResult:
        r = result
        if self.indexer is None or r.status not in ("tagged", "skipped") or not r.key:
            return r
        err = self.indexer.update(Path(r.key).as_posix(), force=r.status == "tagged")
        if err is None:
            return r
        return FileResult(r.path, r.key, "failed", r.outputs, error=one_line(err), audio_s=r.audio_s,
                          seconds=r.seconds, retagged=r.retagged)

    def close(self) -> None:
        """Close the index after the batch's last file."""
        if self.indexer is not None:
            self.indexer.store.optimize()
            self.indexer.store.close()


def batch_index_hook(index: str | Path | bool | None, formats: Sequence[str]) -> BatchIndexHook | None:
    """The index hook of a batch writing ``formats`` (``None`` when ``index`` is off). The index keeps the
    frame scores: without ``scores`` among the formats the default index (``True``) is dropped with a
    warning, and an explicit one is a usage error (``ConfigError``)."""
    if not index:
        return None
    if "scores" not in formats:
        if index is True:
            log.warning("no event index written: it keeps the frame scores, add 'scores' to --format")
            return None
        raise ConfigError("--index: the index keeps the frame scores; add 'scores' to --format or use --no-index")
    return BatchIndexHook(index)
