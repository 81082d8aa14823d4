"""Searching the index: segments where a condition over tags holds for a minimum time.

A query asks for the segments where ``tag`` and every ``with_`` tag are active and no ``without`` tag is,
for at least ``min_duration`` seconds. Two ways to decide "active":

* **events** (default): the events stored at tagging time (the model's thresholds). Interval logic: the
  intersection of one event of each positive tag (in SQL, one self-join per ``with`` tag on the same
  file with overlapping times), minus the union of the negative tags' events overlapping it (Python),
  keeping the pieces that last ``min_duration``. A segment's ``score`` is the smallest mean score of the
  positive events it is cut from; ``min_score`` applies to each of them.
* **stored scores** (``threshold=T``): the frame scores kept in the index, thresholded at ``T`` for this
  query only, no re-tagging; a segment is a run of frames where every positive tag is >= T and every
  negative tag < T; its ``score`` is the smallest mean over the run of the positive tags' scores. Files
  whose maximum score of a positive tag is below ``T`` are skipped through the per-file summary.

Which results are searched: one per content (:mod:`clip2frame.index.store`: results of inputs with the
same bytes are one entry; the most recently tagged one stands for them), so the same song tagged twice is
never a hit twice. ``model`` keeps the results of one model: its name equals ``model``, or ``model`` is 6
to 64 hex digits and a prefix of its weights hash (``store.model_sha256``); de-duplication then picks among
that model's results. Each hit names its result's model (``model``: name, ``model_sha256``).

Results are ranked by score (descending), then duration (descending), then file (its row id: the order
files entered the index) and onset (:data:`RANKING`, the one policy): the SQL ``ORDER BY`` of the events path
(:func:`rank_sql`), the Python sort of the path that cuts out excluded tags (:func:`rank_key`) and the array
sort of the stored-scores path (:func:`rank_order`) are all derived from it.
Every value from the user is a bound parameter; the SQL text depends only on how many tags there are and
whether ``model`` is given as a name or a hash prefix.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data.events import mask_runs
from ..errors import Clip2FrameError, ConfigError
from .records import decode_scores
from .store import IndexStore, listed_sql

MAX_LIMIT = 10000
MAX_TAGS = 16


#: How hits are ranked, best first: (key, descending). Keys: ``score``, ``duration`` (offset - onset),
#: ``file`` (the file's row id), ``onset``.
RANKING: tuple[tuple[str, bool], ...] = (("score", True), ("duration", True), ("file", False), ("onset", False))


def _rank_values(file: Any, onset: Any, offset: Any, score: Any) -> dict[str, Any]:
    return {"score": score, "duration": offset - onset, "file": file, "onset": onset}


def rank_sql(file: str, onset: str, offset: str, score: str) -> str:
    """:data:`RANKING` as an SQL ``ORDER BY`` clause over the given column expressions."""
    cols = {"score": score, "duration": f"{offset} - {onset}", "file": file, "onset": onset}
    return " ORDER BY " + ", ".join(f"{cols[k]} DESC" if desc else cols[k] for k, desc in RANKING)


def rank_key(row: tuple[int, float, float, float]) -> tuple[float, ...]:
    """:data:`RANKING` as a sort key of a hit row ``(file id, onset, offset, score)``."""
    v = _rank_values(*row)
    return tuple(-v[k] if desc else v[k] for k, desc in RANKING)


def rank_order(file: np.ndarray, onset: np.ndarray, offset: np.ndarray, score: np.ndarray) -> np.ndarray:
    """:data:`RANKING` over hit arrays [N] (file ids, onsets, offsets, scores): the indices best first."""
    v = _rank_values(file, onset, offset, score)
    return np.lexsort(tuple(-v[k] if desc else v[k] for k, desc in reversed(RANKING)))


class QueryError(Clip2FrameError):
    """A search the index cannot answer as asked (unknown tag, bad number); the message says which."""


@dataclass(frozen=True)
class Segment:
    """One search hit: ``file`` is the result id in the catalogue, times in seconds."""

    file: str
    name: str
    onset: float
    offset: float
    score: float
    model: str = ""
    model_sha256: str = ""

    @property
    def duration(self) -> float:
        """``offset - onset`` in seconds."""
        return self.offset - self.onset

    def to_dict(self) -> dict[str, Any]:
        """The segment as a JSON-ready dict (its duration rounded to 1 ms)."""
        return {**asdict(self), "duration": round(self.duration, 3)}


@dataclass
class SearchResult:
    """One page of hits; ``has_more`` tells whether another page exists."""

    segments: list[Segment]
    has_more: bool
    query: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The query, its segments and paging as a JSON-ready dict."""
        return {"query": self.query, "segments": [s.to_dict() for s in self.segments], "has_more": self.has_more}


def _number(name: str, value: Any, *, lo: float, hi: float = math.inf) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise QueryError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        rng = f">= {lo:g}" if hi == math.inf else f"between {lo:g} and {hi:g}"
        raise QueryError(f"{name}: {value!r} must be {rng}")
    return v


def _tag_list(name: str, tags: Sequence[str] | str | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for t in tags:
        for part in str(t).split(","):
            if part.strip() and part.strip() not in out:
                out.append(part.strip())
    return out


def search(store: IndexStore, tag: str, *, with_: Sequence[str] | str | None = None,
           without: Sequence[str] | str | None = None, min_duration: float | str = 0.0,
           min_score: float | str = 0.0, threshold: float | str | None = None, limit: int = 20,
           offset: int = 0, model: str | None = None) -> SearchResult:
    """Segments of the catalogue where ``tag`` (and every ``with_`` tag, and no ``without`` tag) holds
    for at least ``min_duration`` seconds, best first.

    Parameters
    ----------
    store : IndexStore
    tag : str                       the tag the segment is about (``"saxophone"``)
    with_, without : tags           also active / not active over the whole segment (lists or ``"a,b"``)
    min_duration : float            seconds, >= 0 (numbers as text, from a form, are parsed and checked)
    min_score : float               in [0, 1]: each positive tag's mean score over its event (or the run)
    threshold : float, optional     decide activity from the stored frame scores at this threshold
                                    instead of the stored events
    limit, offset : int             paging (1 <= limit <= 10000)
    model : str, optional           only results of this model: its name, or a prefix (>= 6 hex digits) of
                                    its weights SHA-256

    Raises
    ------
    QueryError
        Unknown tags (the message lists the known ones), a tag both wanted and excluded, bad numbers.
    """
    known = store.tag_ids()
    pos = _tag_list("tag", tag)
    if len(pos) != 1:
        raise QueryError(f"tag: give exactly one tag to search for, got {tag!r}")
    pos += [t for t in _tag_list("--with", with_) if t not in pos]
    neg = _tag_list("--without", without)
    for t in pos + neg:
        if t not in known:
            listing = ", ".join(sorted(known)) or "none: the index is empty"
            raise QueryError(f"unknown tag {t!r} (tags in this index: {listing})")
    both = sorted(set(pos) & set(neg))
    if both:
        raise QueryError(f"tag {both[0]!r} is both wanted and excluded")
    if len(pos) + len(neg) > MAX_TAGS:
        raise QueryError(f"too many tags in one query ({len(pos) + len(neg)}; at most {MAX_TAGS})")
    min_dur = _number("min_duration", min_duration, lo=0.0)
    min_sc = _number("min_score", min_score, lo=0.0, hi=1.0)
    thr = None if threshold is None else _number("threshold", threshold, lo=0.0, hi=1.0)
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit: {limit!r} must be an integer between 1 and {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise QueryError(f"offset: {offset!r} must be an integer >= 0")
    model = str(model).strip() if model is not None else ""
    if len(model) > 256 or "\x00" in model:
        raise QueryError(f"model: {model[:40]!r}... is not a model name or weights hash prefix")
    q = {"tag": pos[0], "with": pos[1:], "without": neg, "min_duration": min_dur, "min_score": min_sc,
         "threshold": thr, "limit": int(limit), "offset": int(offset), "model": model or None}
    pos_ids = [known[t] for t in pos]
    neg_ids = [known[t] for t in neg]
    files = listed_sql(model or None)
    if thr is None:
        rows, has_more = _search_events(store, pos_ids, neg_ids, min_dur, min_sc, int(limit), int(offset), files)
    else:
        rows, has_more = _search_scores(store, pos_ids, neg_ids, thr, min_dur, min_sc, int(limit), int(offset),
                                        files)
    info = store.file_info([r[0] for r in rows])
    segs = [Segment(info[f][0], info[f][1], round(on, 3), round(off, 3), round(sc, 4), info[f][3], info[f][4])
            for f, on, off, sc in rows]
    return SearchResult(segs, has_more, q)


# ------------------------------------------------------------------------------------------- events
def _positive_sql(n_with: int, files_cond: str) -> str:
    """Intersections of one event of the main tag (e0) with one event of each ``with`` tag (e1..en), in the
    files that ``files_cond`` (on ``files f``) keeps: columns file_id, on_s, off_s, score. Parameters: per
    with-tag (tag_id, min_score), then main tag_id, min_score, then min_duration (twice for the strict > 0
    / >= d checks), then those of ``files_cond``."""
    on = ["e0.onset_s"] + [f"e{i}.onset_s" for i in range(1, n_with + 1)]
    off = ["e0.offset_s"] + [f"e{i}.offset_s" for i in range(1, n_with + 1)]
    sc = ["e0.mean_score"] + [f"e{i}.mean_score" for i in range(1, n_with + 1)]

    def fold(fn: str, cols: list[str]) -> str:
        return cols[0] if len(cols) == 1 else f"{{{fn}}}({', '.join(cols)})"

    on_x, off_x, sc_x = fold("greatest", on), fold("least", off), fold("least", sc)
    joins = "".join(
        f" JOIN events e{i} ON e{i}.file_id = e0.file_id AND e{i}.tag_id = ? AND e{i}.mean_score >= ?"
        f" AND e{i}.onset_s < e0.offset_s AND e{i}.offset_s > e0.onset_s" for i in range(1, n_with + 1))
    return (f"SELECT e0.file_id AS file_id, {on_x} AS on_s, {off_x} AS off_s, {sc_x} AS score FROM events e0{joins}"
            f" WHERE e0.tag_id = ? AND e0.mean_score >= ? AND e0.duration_s >= ?"
            f" AND {off_x} - {on_x} >= ? AND {off_x} > {on_x}"
            f" AND e0.file_id IN (SELECT f.id FROM files f WHERE {files_cond})")


def _search_events(store: IndexStore, pos: list[int], neg: list[int], min_dur: float, min_sc: float,
                   limit: int, offset: int, files: tuple[str, list[Any]]
                   ) -> tuple[list[tuple[int, float, float, float]], bool]:
    params: list[Any] = []
    for t in pos[1:]:
        params += [t, min_sc]
    params += [pos[0], min_sc, min_dur, min_dur, *files[1]]
    base = _positive_sql(len(pos) - 1, files[0])
    order = rank_sql("file_id", "on_s", "off_s", "score")
    if not neg:
        rows = store.fetchall(f"SELECT file_id, on_s, off_s, score FROM ({base}) c{order} LIMIT ? OFFSET ?",
                              params + [limit + 1, offset])
        rows = [(int(f), float(a), float(b), float(s)) for f, a, b, s in rows]
        return rows[:limit], len(rows) > limit
    marks = ", ".join("?" * len(neg))
    # Candidates by score (the ranking's first key; the rest of it is applied to the pieces below), each
    # candidate's rows together, each with the negative events overlapping it (LEFT JOIN: one row per overlap,
    # or one row of NULLs). Pieces keep their candidate's score, so once `need` pieces are collected and
    # the next candidate scores lower than the need-th piece, nothing later can enter the page.
    overlaps = store.iterate(
        f"SELECT c.file_id, c.on_s, c.off_s, c.score, n.onset_s, n.offset_s FROM ({base}) c"
        f" LEFT JOIN events n ON n.file_id = c.file_id AND n.tag_id IN ({marks})"
        f" AND n.onset_s < c.off_s AND n.offset_s > c.on_s ORDER BY c.score DESC, c.file_id, c.on_s, c.off_s",
        params + neg)
    need = offset + limit + 1
    out: list[tuple[int, float, float, float]] = []
    key: tuple[int, float, float, float] | None = None
    holes: list[tuple[float, float]] = []

    def flush() -> None:
        if key is None:
            return
        f, a, b, sc = key
        out.extend((f, x, y, sc) for x, y in subtract(a, b, holes) if y - x >= min_dur)

    try:
        for f, a, b, sc, na, nb in overlaps:
            k = (int(f), float(a), float(b), float(sc))
            if k != key:
                if key is not None:
                    flush()
                    if len(out) >= need and k[3] < out[need - 1][3]:
                        key = None
                        break
                key, holes = k, []
            if na is not None:
                holes.append((float(na), float(nb)))
        if key is not None:
            flush()
    finally:
        overlaps.close()
    out.sort(key=rank_key)
    return out[offset:offset + limit], len(out) > offset + limit


def subtract(onset: float, offset: float, holes: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """``[onset, offset)`` minus the union of ``holes`` -> the remaining pieces, in order (non-empty)."""
    pieces, cur = [], onset
    for a, b in sorted(holes):
        if a > cur:
            pieces.append((cur, min(a, offset)))
        cur = max(cur, b)
        if cur >= offset:
            break
    if cur < offset:
        pieces.append((cur, offset))
    return [(a, b) for a, b in pieces if b > a]


# ------------------------------------------------------------------------------------------- scores
def _search_scores(store: IndexStore, pos: list[int], neg: list[int], thr: float, min_dur: float, min_sc: float,
                   limit: int, offset: int, files: tuple[str, list[Any]]
                   ) -> tuple[list[tuple[int, float, float, float]], bool]:
    tags = pos + neg
    marks = ", ".join("?" * len(tags))
    # files where every positive tag reaches the threshold somewhere: one summary join per positive tag
    joins = "".join(f" JOIN summary m{i} ON m{i}.file_id = f.id AND m{i}.tag_id = ? AND m{i}.max_score >= ?"
                    for i in range(len(pos)))
    jparams: list[Any] = []
    for t in pos:
        jparams += [t, thr]
    # All qualifying files at once: per tag, the files' scores end to end; `valid` marks real frames (a
    # False frame after each file keeps runs from crossing files).
    fids: list[int] = []
    bounds: list[np.ndarray] = []
    blobs: dict[int, list[bytes]] = {t: [] for t in tags}
    cur_id, cur_b = None, None
    cur: dict[int, bytes] = {}

    def take() -> None:
        if cur_id is not None and all(t in cur for t in tags):
            b = np.frombuffer(bytes(cur_b), dtype="<f8")
            if all(len(cur[t]) == 2 * (len(b) - 1) for t in tags):
                fids.append(int(cur_id))
                bounds.append(b)
                for t in tags:
                    blobs[t].append(bytes(cur[t]) + b"\x00\x00")

    for fid, b, tid, data in store.iterate(
            f"SELECT f.id, f.boundaries, s.tag_id, s.data FROM files f{joins}"
            f" JOIN scores s ON s.file_id = f.id AND s.tag_id IN ({marks}) WHERE {files[0]} ORDER BY f.id",
            jparams + tags + files[1]):
        if fid != cur_id:
            take()
            cur_id, cur_b, cur = fid, b, {}
        cur[int(tid)] = data
    take()
    if not fids:
        return [], False
    lengths = np.asarray([len(b) for b in bounds])          # T + 1 per file (T frames + the separator)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # first frame of each file, end to end
    valid = np.ones(int(lengths.sum()), dtype=bool)
    valid[starts + lengths - 1] = False
    scores = {t: decode_scores(b"".join(blobs[t])) for t in tags}
    active = valid.copy()
    for t in pos:
        active &= scores[t] >= thr
    for t in neg:
        active &= scores[t] < thr
    a, b = mask_runs(active)
    f = np.searchsorted(starts, a, side="right") - 1
    allb = np.concatenate(bounds)                            # boundaries [T+1] of each file, end to end
    on, off = allb[a], allb[b]                               # frame i of a file -> its boundary i
    keep = off - on >= min_dur
    a, b, f, on, off = a[keep], b[keep], f[keep], on[keep], off[keep]
    sc = np.full(len(a), np.inf)
    for t in pos:
        cs = np.concatenate([[0.0], np.cumsum(scores[t], dtype=np.float64)])
        sc = np.minimum(sc, (cs[b] - cs[a]) / (b - a))
    keep = sc >= min_sc - 1e-12
    a, b, f, on, off, sc = a[keep], b[keep], f[keep], on[keep], off[keep], sc[keep]
    fid_arr = np.asarray(fids)[f]
    order = rank_order(fid_arr, on, off, sc)
    sel = order[offset:offset + limit]
    return ([(int(fid_arr[i]), float(on[i]), float(off[i]), float(sc[i])) for i in sel],
            len(order) > offset + limit)


def search_catalogue(catalogue: str | Path | None, tag: str, *, index: str | Path | None = None,
                     **kwargs: Any) -> SearchResult:
    """One call: open the index of ``catalogue`` (``catalogue/index.sqlite``, or ``index``) read-only (an
    existing index only: nothing is ever created) and :func:`search` it. ``kwargs`` as for :func:`search`."""
    if index is None:
        if catalogue is None:
            raise ConfigError("search: give a catalogue folder or --index URL")
        p = Path(catalogue)
        if not (p / "index.sqlite").is_file():
            raise ConfigError(f"{p}: no index.sqlite here (tag with `clip2frame tag ... --out {p}` or build one "
                              f"with `clip2frame index {p}`)")
    with IndexStore(index, out_dir=catalogue, read_only=True) as store:
        return search(store, tag, **kwargs)
