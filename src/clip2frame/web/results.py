"""The results directory as the viewer sees it: safe paths, the walk over its results, one result's data.

A *result* is a stem ``<dir>/<stem>`` inside RESULTS_DIR with at least ``<stem>.scores.tsv``; its id is
the stem's path relative to RESULTS_DIR (``song`` or ``uploads/3f2a9c/song``). Next to it the viewer
reads, when present: ``<stem>.events.tsv``, ``<stem>.meta.json`` (labels' kinds, thresholds, media
file, source name, model), ``<stem>.waveform.json`` (min/max envelope), the media file
``<stem>.<wav|flac|mp3|...>`` and the video outputs ``<stem>.heatmaps.npz`` / ``<stem>.overlay.mp4``.
The meta.json of ``clip2frame tag`` is the provenance sidecar (:mod:`clip2frame.infer.provenance`), read
through that module.

Every path a request names goes through :func:`resolve_inside`: nothing outside RESULTS_DIR (``..``,
absolute paths, symlinks leading out, hidden files) can be reached.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..audio.io import MEDIA_EXTENSIONS
from ..infer.provenance import SIDECAR_SUFFIX, from_meta
from ..tags import MUSIC_TAG_KINDS, VIDEO_KIND
from . import media

log = logging.getLogger(__name__)

SCORES_SUFFIX = ".scores.tsv"
HEATMAPS_SUFFIX = ".heatmaps.npz"
EVENTS_SUFFIX = ".events.tsv"
META_SUFFIX = SIDECAR_SUFFIX
#: Characters a result id may not hold: NUL, and where the OS reads them as separators or drives, ``\`` and
#: ``:`` (on POSIX they are ordinary characters of a file name, and such files are tagged like any other).
_WINDOWS_PATHS = os.sep != "/" or os.altsep is not None
WAVEFORM_SUFFIX = ".waveform.json"
OVERLAY_SUFFIX = ".overlay.mp4"
#: Media file suffixes looked for beside a result (and under MEDIA_ROOT), most common first.
MEDIA_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".webm") + tuple(
    sorted(MEDIA_EXTENSIONS - {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".webm"}))
#: Kind of a tag that neither the model file nor :data:`clip2frame.tags.MUSIC_TAG_KINDS` knows.
OTHER_KIND = "other"
_MAX_DEPTH = 8


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


def _is_inside(root_resolved: Path, path: Path) -> bool:
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
            if _is_inside(root_resolved, p):
                yield (d.relative_to(root_resolved) / stem).as_posix(), p


def _read_json(path: Path, root_resolved: Path) -> dict | None:
    if not path.is_file() or not _is_inside(root_resolved, path):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable JSON (%s), ignored", path, e)
        return None
    return data if isinstance(data, dict) else None


def _find_media(rf: ResultFiles, root_resolved: Path, meta: dict, media_root: Path | None = None
                ) -> tuple[Path, Path] | None:
    """The playable media of a result and the root it lies in: meta.json's ``media`` (a file name in the
    result's folder), else ``<stem>.<media ext>`` beside it, else ``MEDIA_ROOT/<result id>.<media ext>``
    (the input tree that ``clip2frame tag`` mirrored), else the video overlay; only files whose content is
    a known media type."""
    candidates: list[tuple[Path, Path]] = []
    name = meta.get("media")
    if isinstance(name, str) and name and "/" not in name and "\\" not in name and not name.startswith("."):
        candidates.append((rf.dir / name, root_resolved))
    candidates += [(rf.path(ext), root_resolved) for ext in MEDIA_EXTS]
    if media_root is not None:
        candidates += [(media_root / f"{rf.id}{e}", media_root) for ext in MEDIA_EXTS for e in (ext, ext.upper())]
    candidates.append((rf.path(OVERLAY_SUFFIX), root_resolved))
    for c, base in candidates:
        if c.is_file() and _is_inside(base, c) and media.sniff_file(c) is not None:
            return c, base
    return None


def read_heatmaps_npz(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A video detection's ``<stem>.heatmaps.npz`` (``clip2frame detect``) -> (labels, boundaries [T+1],
    probs [T, K], thresholds [K]): the frame scores as detect computed and thresholded them, read, not
    recomputed."""
    from ..errors import OutputError

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


def events_from_probs(labels: list[str], boundaries: np.ndarray, probs: np.ndarray,
                      thresholds: np.ndarray) -> list[dict[str, Any]]:
    """Events by thresholding, for results written without an events.tsv."""
    from ..infer.activations import binary_to_events

    events = []
    for k, label in enumerate(labels):
        for e in binary_to_events(probs[:, k] >= thresholds[k], boundaries, label):
            events.append({"onset": e.onset, "offset": e.offset, "label": e.label})
    return sorted(events, key=lambda e: (e["onset"], e["label"]))


def group_by_kind(labels: list[str], kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Tags grouped by kind, groups in order of their first tag: ``[{kind, tags: [...]}]``."""
    groups: dict[str, list[str]] = {}
    for lab in labels:
        groups.setdefault(kinds.get(lab, OTHER_KIND), []).append(lab)
    return [{"kind": k, "tags": v} for k, v in groups.items()]


def _npz_thresholds(path: Path, root_resolved: Path, labels: list[str]) -> np.ndarray:
    """Per-tag thresholds from the writers' ``<stem>.npz`` (``labels``, ``thresholds``), else 0.5 each."""
    default = np.full(len(labels), 0.5)
    if not path.is_file() or not _is_inside(root_resolved, path):
        return default
    try:
        with np.load(path, allow_pickle=False) as z:
            npz_labels = [str(x) for x in z["labels"]]
            thr = {lab: float(t) for lab, t in zip(npz_labels, z["thresholds"])}
    except Exception as e:  # noqa: BLE001 - thresholds only colour the view; never fail on them
        log.warning("%s: no thresholds read (%s)", path.name, e)
        return default
    return np.asarray([thr.get(lab, 0.5) for lab in labels])


class WaveformCache:
    """In-memory waveform envelopes of results that have no ``waveform.json`` (never written into the
    user's results directory by a GET)."""

    def __init__(self, max_items: int = 32):
        self._lock = threading.Lock()
        self._items: dict[tuple[str, float], dict | None] = {}
        self._max = max_items

    def get(self, media_path: Path) -> dict | None:
        key = (str(media_path), media_path.stat().st_mtime)
        with self._lock:
            if key in self._items:
                return self._items[key]
        try:
            env = media.file_envelope(media_path)
        except Exception as e:  # noqa: BLE001 - a missing waveform must not break the page
            log.warning("%s: no waveform (%s)", media_path.name, e)
            env = None
        with self._lock:
            if len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[key] = env
        return env


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
    thresholds from meta.json, else the NPZ, else 0.5. Raises :class:`~clip2frame.errors.OutputError`
    for malformed files."""
    root_resolved = root.resolve()
    meta = _read_json(rf.path(META_SUFFIX), root_resolved) or {}
    from ..infer.writers import read_events_tsv, read_scores_tsv

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
        thresholds = np.asarray([float(thr_meta.get(lab, 0.5)) for lab in labels])
    elif isinstance(thr_meta, list) and len(thr_meta) == len(labels):
        thresholds = np.asarray(thr_meta, dtype=np.float64)
    elif npz_thr is not None:
        thresholds = npz_thr
    else:
        thresholds = _npz_thresholds(rf.path(".npz"), root_resolved, labels)

    events_path = rf.path(EVENTS_SUFFIX)
    name = str(meta.get("source_name") or "")
    if events_path.is_file() and _is_inside(root_resolved, events_path):
        rows = read_events_tsv(events_path)
        events = [{"onset": on, "offset": off, "label": lab} for _, on, off, lab in rows]
        name = name or (rows[0][0] if rows else "")
    else:
        events = events_from_probs(labels, boundaries, probs, thresholds)
    kind = "video detection" if rf.source == HEATMAPS_SUFFIX else "tagging"
    return ResultData(meta, kind, name or rf.stem, labels, boundaries, probs, kinds, thresholds, events)


def load_result(root: Path, result_id: str, *, file_url, waveforms: WaveformCache | None = None,
                media_root: Path | None = None, media_url=None) -> dict[str, Any]:
    """Everything the page draws for one result, JSON-ready.

    ``file_url(rel_path)`` makes the URL of a file from its path relative to ``root``; ``media_url`` the
    same for files of ``media_root`` (the originals of results written by ``clip2frame tag``).
    Raises :class:`NotInside` for unknown ids and :class:`~clip2frame.errors.OutputError` for malformed
    files.
    """
    rf = find_result(root, result_id)
    root_resolved = root.resolve()
    data = read_result_data(root, rf)
    meta, labels, boundaries, probs = data.meta, data.labels, data.boundaries, data.probs
    kinds, thresholds, events = data.kinds, data.thresholds, data.events
    prov = from_meta(meta)

    media_root = media_root.resolve() if media_root is not None else None
    found = _find_media(rf, root_resolved, meta, media_root)
    media_path = found[0] if found else None
    media_info = None
    if found is not None:
        media_path, media_base = found
        mt = media.sniff_file(media_path)
        is_video = bool(meta.get("has_video")) if "has_video" in meta else bool(mt and mt.video)
        rel = media_path.relative_to(media_base).as_posix()
        url = file_url(rel) if media_base == root_resolved else media_url(rel)
        media_info = {"url": url, "name": media_path.name, "type": mt.mime if mt else None, "video": is_video}
    overlay = rf.path(OVERLAY_SUFFIX)
    overlay_url = (file_url(overlay.relative_to(root_resolved).as_posix())
                   if overlay.is_file() and _is_inside(root_resolved, overlay) else None)

    waveform = _read_json(rf.path(WAVEFORM_SUFFIX), root_resolved)
    if waveform is None and media_path is not None and waveforms is not None:
        waveform = waveforms.get(media_path)

    duration = float(boundaries[-1]) if boundaries.size else 0.0
    for cand in (meta.get("duration_s"), (waveform or {}).get("duration_s")):
        if isinstance(cand, (int, float)) and math.isfinite(cand) and cand > 0:
            duration = max(duration, float(cand))

    files = []
    for p in sorted(rf.dir.iterdir()):
        if p.name.startswith(".") or not p.name.startswith(rf.stem + ".") or not p.is_file():
            continue
        if not _is_inside(root_resolved, p):
            continue
        rel = p.relative_to(root_resolved).as_posix()
        files.append({"name": p.name, "size": p.stat().st_size, "url": file_url(rel),
                      "download_url": file_url(rel) + "?download=1"})

    return {
        "id": rf.id,
        "stem": rf.stem,
        "kind": data.kind,
        "name": data.name,
        "duration_s": duration,
        "labels": labels,
        "kinds": kinds,
        "groups": group_by_kind(labels, kinds),
        "thresholds": np.round(thresholds, 4).tolist(),
        "boundaries": np.round(boundaries, 4).tolist(),
        "probs": np.round(probs, 4).tolist(),
        "events": events,
        "waveform": waveform,
        "media": media_info,
        "overlay_url": overlay_url,
        "files": files,
        "model": prov.model.__dict__ if prov else meta.get("model"),
        "provenance": prov.to_dict() if prov else None,
    }
