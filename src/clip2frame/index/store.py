"""Writing and listing the event index: one :class:`IndexStore` over SQLite or PostgreSQL.

A file's rows (its ``files`` row, events, per-tag summary and frame scores) are always replaced together
in one transaction (:meth:`IndexStore.put`), so a reader or a killed writer never sees half of a file.
Several processes (``clip2frame tag --shard I/N``) may write one index at once: SQLite serialises their
transactions (WAL, ``BEGIN IMMEDIATE``, busy timeout), PostgreSQL locks the file's row (``INSERT ... ON
CONFLICT DO UPDATE``).

One entry per content: results whose inputs had the same bytes (equal ``content_hash``, e.g. one song tagged
inside a folder and again as a loose file) are one entry in the listing and in search. The result that
stands for them is the most recently tagged one (largest ``tagged_at``, the outputs' modification time;
ties: the smallest ``path``); the listing gives every path of the group (``paths``, that one first).
Results of unknown content (``content_hash`` NULL: outputs without provenance) are never merged. The rule is
decided at query time (:func:`listed_sql`), so concurrent writers cannot leave it stale.
"""
from __future__ import annotations

import logging
import re
import shlex
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generator, Iterable, Iterator, Sequence

import numpy as np

from ..errors import Clip2FrameError, ConfigError
from .records import FileRecord, decode_scores, event_stats, quantise
from .schema import (DEFAULT_INDEX_NAME, SQLITE, IndexLocation, IndexNeedsRebuild, IndexStoreError,
                     check_schema_version, connect, create_schema, parse_location, table_names)

log = logging.getLogger(__name__)

SORT_KEYS = {"tagged": "tagged_at", "name": "name", "duration": "duration_s", "path": "path"}


def rebuild_command(loc: IndexLocation, out_dir: str | Path | None = None) -> str:
    """The ``clip2frame index ... --rebuild`` command line that rebuilds the index at ``loc`` (``DIR`` stands
    for the catalogue folder where it is not known; a password shows as ``***``)."""
    if out_dir is None:
        return f"clip2frame index DIR --index {shlex.quote(loc.display)} --rebuild"
    if loc.dialect is SQLITE and Path(loc.target) == Path(out_dir) / DEFAULT_INDEX_NAME:
        return f"clip2frame index {shlex.quote(str(out_dir))} --rebuild"
    return f"clip2frame index {shlex.quote(str(out_dir))} --index {shlex.quote(loc.display)} --rebuild"


#: PostgreSQL types of the bulk-inserted columns (binary COPY sends values in these exact types; schema.py).
_PG_COPY_TYPES: dict[str, dict[str, str]] = {
    "events": {"tag_id": "int8", "file_id": "int8", "onset_s": "float8", "offset_s": "float8",
               "duration_s": "float8", "peak_score": "float8", "mean_score": "float8"},
    "summary": {"file_id": "int8", "tag_id": "int8", "active_s": "float8", "max_score": "float8",
                "threshold": "float8"},
    "scores": {"file_id": "int8", "tag_id": "int8", "data": "bytea"},
}


_HASH_PREFIX = re.compile(r"[0-9a-fA-F]{6,64}")


def model_sql(model: str | None, alias: str = "f") -> tuple[str, list[Any]]:
    """``(condition, params)`` selecting the results of ``model`` (``alias``: the files table): its name equals
    ``model``, or ``model`` is 6 to 64 hex digits and a prefix of its weights hash; ``("1 = 1", [])`` for
    ``None``/empty. The SQL text depends only on which of the two forms applies; ``model`` is bound."""
    if not model:
        return "1 = 1", []
    if _HASH_PREFIX.fullmatch(model):
        return (f"({alias}.model_name = ? OR substr({alias}.model_sha256, 1, ?) = ?)",
                [model, len(model), model.lower()])
    return f"{alias}.model_name = ?", [model]


def listed_sql(model: str | None = None) -> tuple[str, list[Any]]:
    """``(condition, params)`` on the files table aliased ``f``: ``f`` is the entry listed for its content
    (see the module doc), among the results of ``model`` when given (:func:`model_sql`)."""
    cond_f, p_f = model_sql(model, "f")
    cond_g, p_g = model_sql(model, "g")
    return (f"{cond_f} AND (f.content_hash IS NULL OR NOT EXISTS (SELECT 1 FROM files g WHERE "
            f"g.content_hash = f.content_hash AND {cond_g} AND (g.tagged_at > f.tagged_at OR "
            f"(g.tagged_at = f.tagged_at AND g.path < f.path))))", p_f + p_g)


class IndexStore:
    """An open index. Thread-safe (one connection, one lock); use as a context manager or ``close()``.

    Parameters
    ----------
    index : ``postgresql://...``, a SQLite path, or ``None`` for ``out_dir/index.sqlite``
    out_dir : the catalogue folder (for the default SQLite location)
    read_only : an existing index only, never created or written (``clip2frame search``): a missing SQLite
        file or a database without the tables is an error; SQLite is opened ``mode=ro`` (``immutable=1``
        where its folder is not writable), PostgreSQL with read-only transactions
    schema : create the tables when missing (``read_only``: require them) and check the schema version;
        ``False`` leaves the database as it is (:func:`~.rebuild.rebuild_index` replaces it)
    """

    def __init__(self, index: str | Path | None = None, *, out_dir: str | Path | None = None,
                 busy_timeout_s: float = 60.0, read_only: bool = False, schema: bool = True):
        self.location: IndexLocation = parse_location(index, out_dir)
        self.dialect = self.location.dialect
        self.read_only = read_only
        self._rebuild = rebuild_command(self.location, out_dir)
        self._lock = threading.RLock()
        self._tag_ids: dict[str, int] = {}
        try:
            self._conn = connect(self.location, busy_timeout_s=busy_timeout_s, read_only=read_only)
        except IndexNeedsRebuild as e:
            raise IndexNeedsRebuild(f"{e}; rebuild it with `{self._rebuild}`") from None
        if not schema:
            return
        try:
            if read_only:
                check_schema_version(self._conn, self.dialect)
            else:
                create_schema(self._conn, self.dialect)
        except IndexNeedsRebuild as e:
            self.close()
            raise IndexNeedsRebuild(f"{self.location.display}: {e}; rebuild it with `{self._rebuild}`") from None
        except Clip2FrameError as e:
            self.close()
            raise IndexStoreError(f"{self.location.display}: {e}") from None
        except Exception as e:  # noqa: BLE001 - driver errors become one line naming the index
            self.close()
            raise self._error("cannot create the schema", e) from None

    # ----------------------------------------------------------------------------------- plumbing
    def __enter__(self) -> "IndexStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def __repr__(self) -> str:
        return f"IndexStore({self.location.display!r})"

    def _error(self, what: str, e: BaseException) -> IndexStoreError:
        msg = f"{self.location.display}: {what} ({type(e).__name__}: {' '.join(str(e).split())})"
        if getattr(e, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return IndexNeedsRebuild(f"{msg}; rebuild it with `{self._rebuild}`")
        return IndexStoreError(msg)

    def recreate_schema(self) -> None:
        """Drop the index's tables and create them empty, inside the caller's :meth:`transaction` (the
        PostgreSQL rebuild: readers see the old tables until it commits)."""
        for table in reversed(table_names(self.dialect)):
            self.execute(f"DROP TABLE IF EXISTS {table}")  # names of this package's schema, not user input
        create_schema(self._conn, self.dialect, own_transaction=False)
        self._tag_ids.clear()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement written with ``?`` placeholders (see :class:`~.schema.Dialect`)."""
        if self._conn is None:
            raise IndexStoreError(f"{self.location.display}: the index is closed")
        return self._conn.execute(self.dialect.sql(sql), tuple(params))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Every row of a query (``?`` placeholders, translated to the dialect's); a failure is an
        :class:`IndexStoreError` naming the index."""
        with self._lock:
            try:
                return list(self.execute(sql, params).fetchall())
            except Clip2FrameError:
                raise
            except Exception as e:  # noqa: BLE001
                raise self._error("query failed", e) from None

    def iterate(self, sql: str, params: Sequence[Any] = (), *, batch: int = 2000) -> Generator[tuple, None, None]:
        """Rows of a query as they are fetched, ``batch`` at a time (the lock is held until the generator
        is exhausted or closed: close it when stopping early)."""
        with self._lock:
            try:
                cur = self._conn.cursor()
                cur.execute(self.dialect.sql(sql), tuple(params))
            except Exception as e:  # noqa: BLE001
                raise self._error("query failed", e) from None
            try:
                while rows := cur.fetchmany(batch):
                    yield from rows
            finally:
                cur.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` once per row of ``rows`` (inside the caller's transaction)."""
        rows = list(rows)
        if rows:
            self._conn.cursor().executemany(self.dialect.sql(sql), rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Bulk insert inside the caller's transaction: ``executemany`` on SQLite, ``COPY ... FROM STDIN`` on
        PostgreSQL (one round trip and no per-row statement). ``table`` and ``columns`` are constants of this
        package; the values travel as data, never as SQL text."""
        if self.dialect is SQLITE:
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             rows)
            return
        with self._conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_PG_COPY_TYPES[table][c] for c in columns])
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``, so concurrent writers queue up front)."""
        with self._lock:
            if self.dialect is not SQLITE:  # psycopg's own transaction block
                with self._conn.transaction():
                    yield
                return
            self.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                try:
                    self.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - the original error matters more
                    pass
                raise
            self.execute("COMMIT")

    def optimize(self) -> None:
        """Refresh the planner's statistics after a batch of writes (SQLite ``PRAGMA optimize``; PostgreSQL
        ``VACUUM ANALYZE``, which also lets searches run as index-only scans). Never blocks writers."""
        with self._lock:
            try:
                if self.dialect is SQLITE:
                    self.execute("PRAGMA optimize")
                else:
                    for table in ("files", "events", "summary", "scores"):
                        self.execute(f"VACUUM ANALYZE {table}")
            except Exception as e:  # noqa: BLE001 - statistics only make queries faster; never fail on them
                log.warning("%s: statistics not refreshed (%s)", self.location.display, e)

    # ----------------------------------------------------------------------------------- tags
    def _tag_ids_for(self, labels: Sequence[str], kinds: dict[str, str]) -> list[int]:
        """Tag ids, creating missing tags (inside the caller's transaction)."""
        missing = [lab for lab in labels if lab not in self._tag_ids]
        if missing:
            for lab in missing:
                self.execute("INSERT INTO tags (name, kind) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                             (lab, kinds.get(lab, "other")))
            for tid, name in self.execute("SELECT id, name FROM tags").fetchall():
                self._tag_ids[name] = int(tid)
        return [self._tag_ids[lab] for lab in labels]

    def tags(self) -> dict[str, str]:
        """Every tag in the index -> its kind, in order of first appearance."""
        return {name: kind for name, kind in self.fetchall("SELECT name, kind FROM tags ORDER BY id")}

    def tag_ids(self) -> dict[str, int]:
        """Tag name -> its id in the ``tags`` table."""
        return {name: int(i) for i, name in self.fetchall("SELECT id, name FROM tags ORDER BY id")}

    # ----------------------------------------------------------------------------------- writing
    def put(self, rec: FileRecord) -> int:
        """Insert or replace ``rec`` (matched by ``path``) and all its rows, in one transaction.

        Returns the number of events stored.
        """
        probs = np.asarray(rec.probs, dtype=np.float32).reshape(-1, len(rec.labels))
        bounds = np.asarray(rec.boundaries, dtype=np.float64)
        if len(bounds) != len(probs) + 1:
            raise IndexStoreError(f"{rec.path}: {len(probs)} frames but {len(bounds)} boundaries")
        thr = np.broadcast_to(np.asarray(rec.thresholds, dtype=np.float64), (len(rec.labels),))
        col = {lab: k for k, lab in enumerate(rec.labels)}
        uniq: dict[tuple[str, float], float] = {}  # one event per tag and onset (the primary key): the longest
        for lab, on, off in rec.events:
            if lab in col and off > on:
                uniq[(lab, float(on))] = max(float(off), uniq.get((lab, float(on)), -np.inf))
        evs = sorted((lab, on, off) for (lab, on), off in uniq.items())
        tag_col = np.asarray([col[e[0]] for e in evs], dtype=np.int64)
        onsets = np.asarray([e[1] for e in evs], dtype=np.float64)
        offsets = np.asarray([e[2] for e in evs], dtype=np.float64)
        peak, mean = event_stats(probs, bounds, tag_col, onsets, offsets)
        active = np.bincount(tag_col, weights=offsets - onsets, minlength=len(rec.labels))
        maxs = probs.max(axis=0) if len(probs) else np.zeros(len(rec.labels))
        tagged_at = rec.tagged_at or time.time()
        q = np.ascontiguousarray(quantise(probs).T)  # [K, T]: one blob per tag
        try:
            with self.transaction():
                tids = self._tag_ids_for(rec.labels, rec.kinds)
                # Whether the file had rows: SQLite asks first (BEGIN IMMEDIATE: no other writer now);
                # PostgreSQL asks the upsert itself (xmax = 0: this statement inserted the row), which is
                # exact even when another writer committed the same path meanwhile.
                existed = (self.dialect is SQLITE and
                           self.execute("SELECT 1 FROM files WHERE path = ?", (rec.path,)).fetchone() is not None)
                fid, inserted = self.execute(
                    "INSERT INTO files (path, name, source, kind, duration_s, content_hash, model_name, "
                    "model_version, model_sha256, tagged_at, outputs_mtime_ns, n_frames, boundaries) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                    "name = excluded.name, source = excluded.source, kind = excluded.kind, "
                    "duration_s = excluded.duration_s, content_hash = excluded.content_hash, "
                    "model_name = excluded.model_name, model_version = excluded.model_version, "
                    "model_sha256 = excluded.model_sha256, "
                    "tagged_at = excluded.tagged_at, outputs_mtime_ns = excluded.outputs_mtime_ns, "
                    "n_frames = excluded.n_frames, boundaries = excluded.boundaries RETURNING id, "
                    + ("1" if self.dialect is SQLITE else "(xmax = 0)"),
                    (rec.path, rec.name, rec.source, rec.kind, rec.duration_s, rec.content_hash, rec.model_name,
                     rec.model_version, rec.model_sha256, float(tagged_at), rec.outputs_mtime_ns, len(probs),
                     bounds.astype("<f8").tobytes())).fetchone()
                if existed or not inserted:
                    self._delete_rows(fid)
                tid_arr = np.asarray(tids, dtype=np.int64)
                self.insert_rows(
                    "events", ("tag_id", "file_id", "onset_s", "offset_s", "duration_s", "peak_score", "mean_score"),
                    zip(tid_arr[tag_col].tolist(), [fid] * len(evs), onsets.tolist(), offsets.tolist(),
                        (offsets - onsets).tolist(), peak.tolist(), mean.tolist()))
                self.insert_rows("summary", ("file_id", "tag_id", "active_s", "max_score", "threshold"),
                                 zip([fid] * len(tids), tids, active.tolist(), [float(x) for x in maxs], thr.tolist()))
                self.insert_rows("scores", ("file_id", "tag_id", "data"),
                                 [(fid, tids[k], q[k].tobytes()) for k in range(len(tids))])
        except Clip2FrameError:
            raise
        except UnicodeEncodeError:
            self._tag_ids.clear()
            raise IndexStoreError(f"{self.location.display}: cannot index {rec.path}: its name is not "
                                  "valid UTF-8 and the index stores UTF-8 text (its result files are written; "
                                  "rename the file to index it)") from None
        except Exception as e:  # noqa: BLE001 - a driver error names the index and the file
            self._tag_ids.clear()  # a rolled-back transaction may have created none of them
            raise self._error(f"cannot index {rec.path}", e) from None
        return len(evs)

    def _delete_rows(self, file_id: int) -> None:
        """Delete a file's events, summaries and scores (inside the caller's transaction); events by their
        primary key, one seek per tag."""
        tags = [t for (t,) in self.execute("SELECT id FROM tags").fetchall()]
        if tags:
            self.execute(f"DELETE FROM events WHERE file_id = ? AND tag_id IN ({', '.join('?' * len(tags))})",
                         [file_id, *tags])
        self.execute("DELETE FROM summary WHERE file_id = ?", (file_id,))
        self.execute("DELETE FROM scores WHERE file_id = ?", (file_id,))

    def remove(self, paths: Iterable[str]) -> int:
        """Delete these files and their rows (one transaction). Returns how many were there."""
        n = 0
        try:
            with self.transaction():
                for p in paths:
                    row = self.execute("SELECT id FROM files WHERE path = ?", (p,)).fetchone()
                    if row is None:
                        continue
                    self._delete_rows(row[0])
                    self.execute("DELETE FROM files WHERE id = ?", (row[0],))
                    n += 1
        except Clip2FrameError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._error("cannot remove files", e) from None
        return n

    # ----------------------------------------------------------------------------------- reading
    def states(self) -> dict[str, int | None]:
        """``path -> outputs_mtime_ns`` of every indexed file (what resume compares with the disk)."""
        return {p: m for p, m in self.fetchall("SELECT path, outputs_mtime_ns FROM files")}

    def count(self) -> dict[str, int]:
        """Rows per table: ``{"files", "events", "tags"}``."""
        return {t: int(self.fetchall(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in ("files", "events", "tags")}

    def list_files(self, *, sort: str = "tagged", descending: bool = True, offset: int = 0, limit: int = 50,
                   name_contains: str | None = None, model: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of the indexed files, one entry per content (module doc), and the total: ``([{id, name,
        stem, dir, modified, duration_s, kind, model, model_version, model_sha256, content_hash, paths}],
        total)``, sorted by ``sort`` (``tagged``, ``name``, ``duration``, ``path``) then path. ``paths``: every
        result of the entry's content (this one first); ``model`` keeps the results of one model
        (:func:`model_sql`)."""
        if sort not in SORT_KEYS:
            raise ConfigError(f"sort {sort!r}: choose from {', '.join(SORT_KEYS)}")
        if offset < 0 or not 1 <= limit <= 10000:
            raise ConfigError(f"offset {offset} / limit {limit}: need offset >= 0 and 1 <= limit <= 10000")
        where, params = listed_sql(model)
        if name_contains:
            # instr()/strpos() need no LIKE escaping of the user's text; lower() on both sides
            fn = "instr" if self.dialect is SQLITE else "strpos"
            where += f" AND ({fn}(lower(f.name), ?) > 0 OR {fn}(lower(f.path), ?) > 0)"
            params = params + [name_contains.lower()] * 2
        direction = "DESC" if descending else "ASC"
        total = int(self.fetchall(f"SELECT COUNT(*) FROM files f WHERE {where}", params)[0][0])
        rows = self.fetchall(
            f"SELECT f.path, f.name, f.kind, f.duration_s, f.tagged_at, f.model_name, f.model_version, "
            f"f.model_sha256, f.content_hash FROM files f WHERE {where} "
            f"ORDER BY f.{SORT_KEYS[sort]} {direction}, f.path ASC LIMIT ? OFFSET ?", params + [limit, offset])
        same = self._paths_by_content([r[8] for r in rows if r[8]], model)
        out = []
        for path, name, kind, dur, tagged, mname, mversion, msha, chash in rows:
            d, _, stem = path.rpartition("/")
            out.append({"id": path, "name": name, "stem": stem, "dir": d or ".", "modified": tagged,
                        "duration_s": dur, "kind": kind, "model": mname, "model_version": mversion or "",
                        "model_sha256": msha or "", "content_hash": chash,
                        "paths": same.get(chash, [path]) if chash else [path]})
        return out, total

    def _paths_by_content(self, hashes: Sequence[str], model: str | None) -> dict[str, list[str]]:
        """``content_hash -> [path, ...]`` (the listed one first) of the results of ``model`` with those
        contents."""
        cond, params = model_sql(model, "f")
        out: dict[str, list[str]] = {}
        uniq = sorted(set(hashes))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i:i + 500]
            for h, p in self.fetchall(f"SELECT f.content_hash, f.path FROM files f WHERE {cond} AND f.content_hash "
                                      f"IN ({', '.join('?' * len(chunk))}) ORDER BY f.tagged_at DESC, f.path ASC",
                                      params + chunk):
                out.setdefault(h, []).append(p)
        return out

    def file_info(self, file_ids: Sequence[int]) -> dict[int, tuple[str, str, float, str, str]]:
        """``id -> (path, name, duration_s, model_name, model_sha256)`` for a page of results."""
        ids = sorted({int(i) for i in file_ids})
        out: dict[int, tuple[str, str, float, str, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.fetchall(f"SELECT id, path, name, duration_s, model_name, model_sha256 FROM files WHERE id IN "
                                 f"({', '.join('?' * len(chunk))})", chunk)
            out.update({int(r[0]): (r[1], r[2], float(r[3]), r[4] or "", r[5] or "") for r in rows})
        return out

    def frame_scores(self, path: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(labels, probs [T, K], boundaries [T+1])`` of one indexed file, as stored."""
        row = self.fetchall("SELECT id, n_frames, boundaries FROM files WHERE path = ?", (path,))
        if not row:
            raise IndexStoreError(f"{self.location.display}: {path} is not in the index")
        fid, T, b = row[0]
        rows = self.fetchall("SELECT t.name, s.data FROM scores s JOIN tags t ON t.id = s.tag_id "
                             "WHERE s.file_id = ? ORDER BY t.id", (fid,))
        labels = [r[0] for r in rows]
        probs = np.stack([decode_scores(r[1]) for r in rows], axis=1) if rows else np.zeros((T, 0), np.float32)
        return labels, probs, np.frombuffer(bytes(b), dtype="<f8").copy()


def open_index(index: str | Path | None = None, *, out_dir: str | Path | None = None,
               read_only: bool = False) -> IndexStore:
    """Open (creating the schema if needed; ``read_only``: an existing index only, never written) the index at
    ``index``, default ``out_dir/index.sqlite``."""
    return IndexStore(index, out_dir=out_dir, read_only=read_only)
