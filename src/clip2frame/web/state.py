"""What the viewer's routers share: the event index (:class:`Catalogue`), the job queue, the folders and the
upload limit, as one :class:`ViewerState` that :func:`~clip2frame.web.app.create_app` builds and the routers
receive through the FastAPI dependency :func:`viewer_state` (no module-level state, no closures over it).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from ..index import open_index, read_record, sync_folder
from ..index.store import IndexStore
from .jobs import JobManager
from .results import WaveformCache

log = logging.getLogger(__name__)


class _Closing(Exception):
    pass


class Catalogue:
    """The viewer's event index: one :class:`~clip2frame.index.IndexStore`, synced with RESULTS_DIR at
    start-up (background thread) and on request; uploads are added as their jobs finish."""

    def __init__(self, results_dir: Path, index: str | None):
        self.results_dir = results_dir
        self.store: IndexStore = open_index(index, out_dir=results_dir)
        self._sync_lock = threading.Lock()
        self.syncing = False
        self._closing = False

    def add(self, result_id: str) -> None:
        """Index (or re-index) the result ``result_id`` (its path below RESULTS_DIR, no suffix)."""
        self.store.put(read_record(self.results_dir, result_id))

    def sync(self) -> dict[str, Any]:
        """Bring the index in step with RESULTS_DIR; the report of :func:`~clip2frame.index.sync_folder`
        as a dict, with the first 20 errors under ``"errors"``."""
        with self._sync_lock:
            self.syncing = True
            try:
                rep = sync_folder(self.store, self.results_dir, on_progress=self._check_open)
            finally:
                self.syncing = False
        if rep.failed:
            log.warning("%d results could not be indexed (first: %s)", len(rep.failed), rep.failed[0][1])
        return {**rep.to_dict(), "errors": [e for _, e in rep.failed[:20]]}

    def _check_open(self, _n: int) -> None:
        if self._closing:
            raise _Closing

    def start_sync(self) -> None:
        """:meth:`sync` in a background thread (its failure is logged: the viewer works on what is indexed)."""
        def run() -> None:
            try:
                self.sync()
            except _Closing:
                pass
            except Exception:  # noqa: BLE001 - the viewer still works on what is indexed
                log.exception("indexing %s failed", self.results_dir)

        self.syncing = True
        threading.Thread(target=run, name="clip2frame-index-sync", daemon=True).start()

    def close(self) -> None:
        """Stop a running sync at its next result and close the store."""
        self._closing = True  # a start-up sync stops at its next result
        with self._sync_lock:
            self.store.close()


@dataclass(frozen=True)
class ViewerState:
    """The state one viewer app's routes share.

    Attributes
    ----------
    results_dir : Path          results are listed from and uploads analysed into it.
    media_root : Path | None    originals of ``clip2frame tag`` results (``/media/...``); ``None``: none.
    catalogue : Catalogue       the event index.
    jobs : JobManager           the upload analysis queue.
    waveforms : WaveformCache   waveform envelopes of the results' media.
    max_upload_bytes : int      larger uploads get 413.
    """

    results_dir: Path
    media_root: Path | None
    catalogue: Catalogue
    jobs: JobManager
    waveforms: WaveformCache
    max_upload_bytes: int


async def viewer_state(request: Request) -> ViewerState:
    """FastAPI dependency: the :class:`ViewerState` of the app serving ``request``."""
    state: ViewerState = request.app.state.viewer
    return state
