"""The event index of a tagged catalogue: SQLite (``DIR/index.sqlite``) or PostgreSQL, one schema and one
query layer for both.

* :mod:`.schema`  the tables and the dialect shim (placeholders, GREATEST/LEAST, DDL types);
* :mod:`.records` :class:`FileRecord` (what the index keeps of one file), the stored score encoding;
* :mod:`.store`   :class:`IndexStore`: put/replace a file's rows in one transaction, list, read scores;
* :mod:`.ingest`  index results from their output files (``clip2frame tag``, ``clip2frame index``);
* :mod:`.query`   :func:`search`: segments where tags hold (or do not) for a minimum time;
* :mod:`.rebuild` :func:`rebuild_index`: a new index replacing a damaged or other-version one (``--rebuild``).

>>> from clip2frame.index import open_index, search
>>> with open_index(out_dir="catalogue") as idx:                                # doctest: +SKIP
...     hits = search(idx, "saxophone", without=["drums"], min_duration=8, limit=20)
"""
from .ingest import CatalogueIndexer, SyncReport, read_record, sync_folder
from .query import QueryError, SearchResult, Segment, search, search_catalogue
from .rebuild import rebuild_index
from .schema import IndexNeedsRebuild, IndexStoreError
from .records import FileRecord
from .store import IndexStore, open_index

__all__ = ["CatalogueIndexer", "FileRecord", "IndexNeedsRebuild", "IndexStore", "IndexStoreError", "QueryError",
           "SearchResult", "Segment", "SyncReport", "open_index", "read_record", "rebuild_index", "search",
           "search_catalogue", "sync_folder"]
