"""Reading a results folder back: the one reader of every result file that :mod:`clip2frame.results.writers`
writes, the walk over a folder's results and one result's data, as the index and the viewer see it.

A *result* is a stem ``<dir>/<stem>`` inside a results folder with ``<stem>.scores.tsv`` (audio tagging) or,
failing that, ``<stem>.heatmaps.npz`` (video detection); its id is the stem's path relative to the folder
(``song`` or ``uploads/3f2a9c/song``). Next to it, when present: ``<stem>.events.tsv``, ``<stem>.meta.json``
(the provenance sidecar, :mod:`clip2frame.results.provenance`: kinds, thresholds, source name, model) and
``<stem>.npz`` (thresholds of results without a sidecar).

Every path a caller names goes through :func:`resolve_inside`: nothing outside the folder (``..``, absolute
paths, symlinks leading out, hidden files) can be reached.

Thresholds of a result: the sidecar's, else the NPZ's (the heat maps' for a detection), else
:data:`DEFAULT_THRESHOLD` for each tag; events: the events file's, else the frame scores thresholded by
:meth:`FrameActivations.to_events <clip2frame.results.activations.FrameActivations.to_events>`.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..data.manifest import EVENTS_HEADER
from ..errors import OutputError
from ..tags import MUSIC_TAG_KINDS, VIDEO_KIND
from .activations import FrameActivations
from .formats import EVENTS_SUFFIX, HEATMAPS_SUFFIX, NPZ_SUFFIX, SCORES_SUFFIX
from .provenance import SIDECAR_SUFFIX
from .writers import SCORES_HEADER, unescape_field

log = logging.getLogger(__name__)

#: The decision threshold of a tag that the result's files do not give one for (the one fallback).
DEFAULT_THRESHOLD = 0.5
#: Kind of a tag that neither the model file nor :data:`clip2frame.tags.MUSIC_TAG_KINDS` knows.
OTHER_KIND = "other"
#: Characters a result id may not hold: NUL, and where the OS reads them as separators or drives, ``\`` and
#: ``:`` (on POSIX they are ordinary characters of a file name, and such files are tagged like any other).
_WINDOWS_PATHS = os.sep != "/" or os.altsep is not None
_MAX_DEPTH = 8


# --------------------------------------------------------------------------------------------- files
class NotInside(Exception):
    """A requested path is malformed, missing, or not inside the results directory."""


def resolve_inside(root: Path, rel: str) -> Path:
    """The existing regular file ``root/rel``, refusing anything that could leave ``root``.

    ``rel`` must be a relative POSIX path of plain names: no empty, ``.``, ``..`` or hidden (dot)
    components, no NUL, and on Windows no backslashes or drive letters (on POSIX they are plain characters
    of a name). The resolved path (symlinks followed) must lie inside the resolved ``root``. Raises
    :class:`NotInside` otherwise.
    """
    if not rel or len(rel) > 4096 or "\x00" in rel or rel.startswith("/"):
        raise NotInside(rel)
    parts = rel.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise NotInside(rel)
    if _WINDOWS_PATHS and ("\\" in rel or any(":" in p for p in parts)):
        raise NotInside(rel)
    root_resolved = root.resolve()
    try:
        resolved = (root_resolved / rel).resolve(strict=True)
    except (OSError, RuntimeError) as e:  # missing, or a symlink loop
        raise NotInside(rel) from e
    if not resolved.is_relative_to(root_resolved) or not resolved.is_file():
        raise NotInside(rel)
    return resolved


def is_inside(root_resolved: Path, path: Path) -> bool:
    """Whether ``path`` exists and, symlinks followed, lies inside ``root_resolved`` (a resolved folder)."""
    try:
        return path.resolve(strict=True).is_relative_to(root_resolved)
    except (OSError, RuntimeError):
        return False


@dataclass
class ResultFiles:
    """Where the files of one result are (all inside the results directory); ``source`` is the file its
    frame scores come from: ``.scores.tsv`` (audio tagging) or ``.heatmaps.npz`` (video detection)."""

    id: str
    dir: Path
    stem: str
    source: str = SCORES_SUFFIX

    def path(self, suffix: str) -> Path:
        """``<dir>/<stem><suffix>``: the result's file of one format."""
        return self.dir / f"{self.stem}{suffix}"


def find_result(root: Path, result_id: str) -> ResultFiles:
    """The result ``result_id``: its scores.tsv (else the heat maps of a video detection) must exist
    inside ``root``; :class:`NotInside` if not."""
    for suffix in (SCORES_SUFFIX, HEATMAPS_SUFFIX):
        try:
            p = resolve_inside(root, result_id + suffix)
        except NotInside:
            continue
        return ResultFiles(result_id, p.parent, p.name[: -len(suffix)], suffix)
    raise NotInside(result_id)


def iter_results(root: Path) -> Iterator[tuple[str, Path]]:
    """Every result under ``root`` as ``(id, source file)``: depth <= 8, hidden folders and files skipped,
    symlinks leading out ignored. A result is a stem with ``<stem>.scores.tsv`` (audio tagging) or,
    failing that, ``<stem>.heatmaps.npz`` (video detection). This walk is what ``clip2frame index``
    and the viewer's rescan run; listing and search read the index (:mod:`clip2frame.index`)."""
    root_resolved = root.resolve()
    if not root_resolved.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root_resolved, followlinks=False):
        d = Path(dirpath)
        depth = len(d.relative_to(root_resolved).parts)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".")) if depth < _MAX_DEPTH else []
        names = set(filenames)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if name.endswith(SCORES_SUFFIX):
                stem = name[: -len(SCORES_SUFFIX)]
            elif name.endswith(HEATMAPS_SUFFIX) and name[: -len(HEATMAPS_SUFFIX)] + SCORES_SUFFIX not in names:
                stem = name[: -len(HEATMAPS_SUFFIX)]
            else:
                continue
            p = d / name
            if is_inside(root_resolved, p):
                yield (d.relative_to(root_resolved) / stem).as_posix(), p


def read_json(path: Path, root_resolved: Path) -> dict | None:
    """The JSON object in ``path`` when it is a file inside ``root_resolved``; ``None`` when it is missing,
    outside, unreadable (logged) or not an object."""
    if not path.is_file() or not is_inside(root_resolved, path):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable JSON (%s), ignored", path, e)
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------------------------- one result
@dataclass
class ResultData:
    """One result's frame scores and events as read from its files (see :func:`read_result_data`)."""

    meta: dict
    kind: str
    name: str
    labels: list[str]
    boundaries: np.ndarray
    probs: np.ndarray
    kinds: dict[str, str]
    thresholds: np.ndarray
    events: list[dict[str, Any]]


def read_result_data(root: Path, rf: ResultFiles) -> ResultData:
    """Labels, boundaries [T+1], probs [T, K] (clipped to [0, 1], NaN -> 0), kinds, thresholds and events
    of a result: events from ``<stem>.events.tsv`` when present, else thresholded from the scores;
    thresholds from meta.json, else the NPZ, else :data:`DEFAULT_THRESHOLD`. Raises :class:`~clip2frame.errors.OutputError`
    for malformed files."""
    root_resolved = root.resolve()
    meta = read_json(rf.path(SIDECAR_SUFFIX), root_resolved) or {}

    if rf.source == HEATMAPS_SUFFIX:
        labels, boundaries, probs, npz_thr = read_heatmaps_npz(rf.path(HEATMAPS_SUFFIX))
        default_kinds = {lab: VIDEO_KIND for lab in labels}
    else:
        acts = read_scores_tsv(rf.path(SCORES_SUFFIX))
        labels, boundaries, probs, npz_thr = list(acts.labels), acts.boundaries, acts.probs, None
        default_kinds = {lab: MUSIC_TAG_KINDS.get(lab, OTHER_KIND) for lab in labels}
    probs = np.nan_to_num(np.clip(probs, 0.0, 1.0))  # JSON has no NaN

    kinds_meta = meta.get("kinds")
    if not isinstance(kinds_meta, dict):
        kinds_meta = {}
    kinds = {lab: str(kinds_meta.get(lab) or default_kinds[lab]) for lab in labels}
    thr_meta = meta.get("thresholds")
    if isinstance(thr_meta, dict):
        thresholds = np.asarray([float(thr_meta.get(lab, DEFAULT_THRESHOLD)) for lab in labels])
    elif isinstance(thr_meta, list) and len(thr_meta) == len(labels):
        thresholds = np.asarray(thr_meta, dtype=np.float64)
    elif npz_thr is not None:
        thresholds = npz_thr
    else:
        thresholds = _npz_thresholds(rf.path(NPZ_SUFFIX), root_resolved, labels)

    events_path = rf.path(EVENTS_SUFFIX)
    name = str(meta.get("source_name") or "")
    if events_path.is_file() and is_inside(root_resolved, events_path):
        rows = read_events_tsv(events_path)
        events = [{"onset": on, "offset": off, "label": lab} for _, on, off, lab in rows]
        name = name or (rows[0][0] if rows else "")
    else:
        acts = FrameActivations(labels=labels, probs=probs, boundaries=boundaries, thresholds=thresholds)
        events = [{"onset": e.onset, "offset": e.offset, "label": e.label}
                  for e in acts.to_events(thresholds=thresholds)]
    kind = "video detection" if rf.source == HEATMAPS_SUFFIX else "tagging"
    return ResultData(meta, kind, name or rf.stem, labels, boundaries, probs, kinds, thresholds, events)


def _npz_thresholds(path: Path, root_resolved: Path, labels: list[str]) -> np.ndarray:
    """Per-tag thresholds from the writers' ``<stem>.npz`` (``labels``, ``thresholds``), else
    :data:`DEFAULT_THRESHOLD` each."""
    default = np.full(len(labels), DEFAULT_THRESHOLD)
    if not path.is_file() or not is_inside(root_resolved, path):
        return default
    try:
        with np.load(path, allow_pickle=False) as z:
            npz_labels = [str(x) for x in z["labels"]]
            thr = {lab: float(t) for lab, t in zip(npz_labels, z["thresholds"])}
    except Exception as e:  # noqa: BLE001 - thresholds only colour the view; never fail on them
        log.warning("%s: no thresholds read (%s)", path.name, e)
        return default
    return np.asarray([thr.get(lab, DEFAULT_THRESHOLD) for lab in labels])


def read_heatmaps_npz(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A video detection's ``<stem>.heatmaps.npz`` (``clip2frame detect``) -> (labels, boundaries [T+1],
    probs [T, K], thresholds [K]): the frame scores as detect computed and thresholded them, read, not
    recomputed."""
    try:
        with np.load(path, allow_pickle=False) as z:
            labels = [str(x) for x in z["labels"]]
            if "probs" not in z.files:
                raise OutputError(f"{path}: heat maps of an older clip2frame detect (no frame scores); "
                                  "run clip2frame detect again")
            boundaries = np.asarray(z["boundaries"], dtype=np.float64)
            probs = np.asarray(z["probs"], dtype=np.float32)
            thresholds = np.asarray(z["thresholds"], dtype=np.float64)
    except OutputError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, npy and key errors alike: the file is not readable
        raise OutputError(f"{path}: not a heat-map file of clip2frame detect ({type(e).__name__}: {e})") from None
    if probs.ndim != 2 or probs.shape != (len(boundaries) - 1, len(labels)):
        raise OutputError(f"{path}: frame scores {probs.shape} do not match {len(boundaries) - 1} frames x "
                          f"{len(labels)} labels")
    if thresholds.shape != (len(labels),):
        raise OutputError(f"{path}: {thresholds.shape} thresholds for {len(labels)} labels")
    return labels, boundaries, probs, thresholds


def _tsv_rows(p: Path, what: str) -> list[list[str]]:
    """The non-empty rows of a UTF-8 TSV result file (no quoting), or a one-line OutputError naming it."""
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise OutputError(f"{p}: cannot read {what} ({e})") from None
    return [r for r in csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE) if r]


def read_scores_tsv(path: str | Path, *, thresholds: Sequence[float] | float = DEFAULT_THRESHOLD
                    ) -> FrameActivations:
    """Read a ``scores.tsv`` back into :class:`FrameActivations` (labels, probs [T, K], boundaries [T+1]).

    The file holds no thresholds: they are ``thresholds`` (one per tag, or one for all; default
    :data:`DEFAULT_THRESHOLD`).

    Raises
    ------
    OutputError
        The file is missing or not in the scores format.
    """
    p = Path(path)
    rows = _tsv_rows(p, "scores")
    if not rows or tuple(rows[0][:2]) != SCORES_HEADER or len(rows[0]) < 3:
        raise OutputError(f"{p}: not a scores.tsv (header must be onset, offset, <tags...>)")
    labels = rows[0][2:]
    K = len(labels)
    try:
        data = np.asarray([[float(x) for x in r] for r in rows[1:]], dtype=np.float64).reshape(-1, K + 2)
    except ValueError:
        raise OutputError(f"{p}: malformed row (expected {K + 2} numbers per row)") from None
    if len(data) and not np.allclose(data[1:, 0], data[:-1, 1]):
        raise OutputError(f"{p}: frame onsets do not match the previous frames' offsets")
    boundaries = np.concatenate([data[:, 0], data[-1:, 1]]) if len(data) else np.zeros(1)
    thr = np.broadcast_to(np.asarray(thresholds, dtype=np.float32), (K,)).copy()
    return FrameActivations(labels=labels, probs=data[:, 2:].astype(np.float32), boundaries=boundaries,
                            thresholds=thr, source=None, meta={"read_from": str(p)})


def read_events_tsv(path: str | Path) -> list[tuple[str, float, float, str]]:
    """Rows ``(filename, onset, offset, event_label)`` of a DCASE events TSV (header required)."""
    p = Path(path)
    rows = _tsv_rows(p, "events")
    if not rows or tuple(rows[0]) != EVENTS_HEADER:
        raise OutputError(f"{p}: not a DCASE events.tsv (header must be {' '.join(EVENTS_HEADER)})")
    out = []
    for i, r in enumerate(rows[1:], start=2):
        # an older clip2frame wrote a tab of a file name as is: the extra columns belong to the name
        name = "\t".join(r[:-3]) if len(r) > 4 else r[0]
        try:
            out.append((unescape_field(name), float(r[-3]), float(r[-2]), unescape_field(r[-1])))
        except (IndexError, ValueError):
            raise OutputError(f"{p}: line {i} is not filename, onset, offset, event_label") from None
    return out
