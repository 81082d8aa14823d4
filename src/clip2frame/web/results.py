"""The results directory as the viewer shows it: one result's page data, its media and waveform.

Results, their files and their data are read through :mod:`clip2frame.results.readers` (the walk, safe paths,
frame scores, events, thresholds); this module adds what only the page needs: the playable media file
(``<stem>.<wav|flac|mp3|...>``, meta.json's ``media``, the originals under MEDIA_ROOT, else the video
overlay ``<stem>.overlay.mp4``), the ``<stem>.waveform.json`` envelope (written by :mod:`clip2frame.web.jobs`)
and the tags grouped by kind.
"""
from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.io import MEDIA_EXTENSIONS
from ..results.formats import OVERLAY_SUFFIX
from ..results.provenance import from_meta
from ..results.readers import OTHER_KIND, ResultFiles, is_inside, read_json, find_result, read_result_data
from . import media

log = logging.getLogger(__name__)

WAVEFORM_SUFFIX = ".waveform.json"
#: Media file suffixes looked for beside a result (and under MEDIA_ROOT), most common first.
MEDIA_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".webm") + tuple(
    sorted(MEDIA_EXTENSIONS - {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".webm"}))


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
        if c.is_file() and is_inside(base, c) and media.sniff_file(c) is not None:
            return c, base
    return None


def group_by_kind(labels: list[str], kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Tags grouped by kind, groups in order of their first tag: ``[{kind, tags: [...]}]``."""
    groups: dict[str, list[str]] = {}
    for lab in labels:
        groups.setdefault(kinds.get(lab, OTHER_KIND), []).append(lab)
    return [{"kind": k, "tags": v} for k, v in groups.items()]


class WaveformCache:
    """In-memory waveform envelopes of results that have no ``waveform.json`` (never written into the
    user's results directory by a GET)."""

    def __init__(self, max_items: int = 32):
        self._lock = threading.Lock()
        self._items: dict[tuple[str, float], dict | None] = {}
        self._max = max_items

    def get(self, media_path: Path) -> dict | None:
        """The waveform envelope of ``media_path`` (cached by path and mtime), ``None`` when it cannot be read."""
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


def load_result(root: Path, result_id: str, *, file_url, waveforms: WaveformCache | None = None,
                media_root: Path | None = None, media_url=None) -> dict[str, Any]:
    """Everything the page draws for one result, JSON-ready.

    ``file_url(rel_path)`` makes the URL of a file from its path relative to ``root``; ``media_url`` the
    same for files of ``media_root`` (the originals of results written by ``clip2frame tag``).
    Raises :class:`~clip2frame.results.readers.NotInside` for unknown ids and :class:`~clip2frame.errors.OutputError` for malformed
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
                   if overlay.is_file() and is_inside(root_resolved, overlay) else None)

    waveform = read_json(rf.path(WAVEFORM_SUFFIX), root_resolved)
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
        if not is_inside(root_resolved, p):
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
