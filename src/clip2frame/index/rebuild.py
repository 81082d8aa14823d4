"""``clip2frame index DIR --rebuild``: a new index from the catalogue's outputs, replacing the old one whatever
state it is in (a damaged SQLite file, another schema version), so that nobody ever sees half of it.

* **SQLite**: the new index is built in a temporary file beside the old one (same folder, so same file
  system), made self-contained (rollback journal mode: no ``-wal`` to pair with it), and renamed over the
  old file in one ``os.replace``. The old file's ``-wal``/``-shm``/``-journal`` are removed just before:
  SQLite would otherwise replay the old file's log into the new one. A process that still has the old index
  open (a running viewer) keeps reading the old file until it reopens it.
* **PostgreSQL**: one transaction drops the index's tables, creates them anew and fills them (each result in
  a savepoint, so a bad result is skipped, as in a normal sync); readers see the old tables until it commits.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..fileio import atomic_path
from .ingest import SyncReport, sync_folder
from .schema import SQLITE, parse_location
from .store import IndexStore

log = logging.getLogger(__name__)


def rebuild_index(root: str | Path, index: str | Path | None = None) -> tuple[SyncReport, dict[str, int]]:
    """Rebuild the index of catalogue ``root`` (default ``root/index.sqlite``; a SQLite path or
    ``postgresql://...``) from every result under it.

    Returns
    -------
    (report, counts) : the :class:`~.ingest.SyncReport` of the refill (results that could not be read are in
        its ``failed``, the rest are indexed) and the rows per table of the new index
        (``{"files", "events", "tags"}``).
    """
    loc = parse_location(index, root)
    if loc.dialect is SQLITE:
        return _rebuild_sqlite(Path(loc.target), Path(root))
    with IndexStore(index, out_dir=root, schema=False) as store:
        with store.transaction():
            store.recreate_schema()
            rep = sync_folder(store, root, prune=False, force=True, optimize=False)
        store.optimize()
        return rep, store.count()


def _rebuild_sqlite(target: Path, root: Path) -> tuple[SyncReport, dict[str, int]]:
    tmp: Path | None = None
    try:
        with atomic_path(target, suffix=".rebuild") as tmp:
            with IndexStore(tmp) as store:
                rep = sync_folder(store, root, prune=False, force=True)
                counts = store.count()
                store.execute("PRAGMA journal_mode = DELETE")
            for side in ("-wal", "-shm", "-journal"):
                _remove(target.with_name(target.name + side))
    finally:
        if tmp is not None:
            for side in ("-wal", "-shm", "-journal"):
                _remove(tmp.with_name(tmp.name + side))
    log.info("%s: rebuilt (%d files)", target, counts["files"])
    return rep, counts


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
