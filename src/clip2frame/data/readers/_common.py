"""Helpers shared by the dataset readers: text decoding, issue bookkeeping, clip segments.

Every reader records what it could not use in ``Manifest.extra`` under the same keys, so that
``clip2frame data check`` can report any dataset the same way:

``missing`` / ``n_missing``
    expected files (audio, annotation) that do not exist (paths relative to the root; the list is cut
    at :data:`LIST_LIMIT`, the count is complete);
``malformed`` / ``n_malformed``
    ``"<file>:<line>: <problem>"`` for rows that were skipped;
``unreadable`` / ``n_unreadable``
    files that exist but cannot be used (empty, undecodable);
``dropped``
    ``{reason: count}`` for clips left out on purpose (e.g. no tag in the chosen vocabulary);
``reader`` / ``options``
    the reader name and the options it was called with.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ...errors import DatasetError
from ..manifest import Event

from ...audio.io import MEDIA_EXTENSIONS
from ...audio.io import VIDEO_EXTENSIONS as _VIDEO_EXTENSIONS

log = logging.getLogger(__name__)

#: At most this many entries of each issue list are kept in ``Manifest.extra`` (counts stay complete).
LIST_LIMIT = 200

# Audio is looked for in audio files and in containers that carry an audio track (one list, in audio.io).
AUDIO_EXTENSIONS: tuple[str, ...] = tuple(sorted(MEDIA_EXTENSIONS))
VIDEO_EXTENSIONS: tuple[str, ...] = tuple(sorted(_VIDEO_EXTENSIONS))

# Preference when one stem exists with several extensions: lossless first, then what soundfile reads.
_EXT_RANK = {e: i for i, e in enumerate((".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3"))}


def check_root(root: str | Path, *, dataset: str) -> Path:
    """Return ``root`` as a Path, or raise :class:`DatasetError` when it is not a directory."""
    p = Path(root).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: {dataset} root does not exist")
    if not p.is_dir():
        raise DatasetError(f"{p}: {dataset} root is not a directory")
    return p


def missing_index(path: Path, *, dataset: str, expected: str) -> DatasetError:
    """The error for a root that lacks the dataset's key index file."""
    return DatasetError(f"{path}: not found — a {dataset} root must contain {expected}")


def read_text(path: Path, *, fallback: Sequence[str] = ("latin-1",)) -> tuple[str, str]:
    """Decode a text file: UTF-8 (a BOM is dropped), else each ``fallback`` encoding in turn.

    Returns ``(text, encoding_used)``; a fallback is logged because it usually means mojibake upstream.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as e:
        first_error = e
    for enc in fallback:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        log.warning("%s: not UTF-8 (%s); decoded as %s", path, first_error.reason, enc)
        return text, enc
    raise DatasetError(f"{path}: not UTF-8 text ({first_error})")


def rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when below it, else absolute (POSIX form)."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


class Issues:
    """Collects missing files, malformed rows, unreadable files and dropped clips of one read."""

    def __init__(self, root: Path):
        self.root = root
        self.missing: list[str] = []
        self.malformed: list[str] = []
        self.unreadable: list[str] = []
        self.dropped: Counter[str] = Counter()
        self._listing: dict[Path, dict[str, Path]] = {}

    def near(self, path: Path) -> Path | None:
        """A file beside ``path`` whose name differs only in case or extension (a likely misnaming)."""
        parent = path.parent
        if parent not in self._listing:
            entries: dict[str, Path] = {}
            if parent.is_dir():
                for p in parent.iterdir():
                    entries.setdefault(p.name.lower(), p)
                    entries.setdefault(p.stem.lower(), p)
            self._listing[parent] = entries
        entries = self._listing[parent]
        return entries.get(path.name.lower()) or entries.get(path.stem.lower())

    def missing_file(self, path: Path, *, near: Path | None = None) -> None:
        """Record ``path`` as missing; ``near`` is a file that looks like a misnamed copy of it."""
        msg = rel(path, self.root)
        if near is not None:
            msg += f" (found {near.name} — misnamed?)"
        self.missing.append(msg)

    def bad_row(self, path: Path, line: int, problem: str) -> None:
        msg = f"{rel(path, self.root)}:{line}: {problem}"
        if len(self.malformed) < 5:
            log.warning("skipped malformed row %s", msg)
        self.malformed.append(msg)

    def bad_file(self, path: Path, problem: str) -> None:
        self.unreadable.append(f"{rel(path, self.root)}: {problem}")

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def to_extra(self, *, reader: str, options: dict[str, Any]) -> dict[str, Any]:
        if self.malformed:
            log.warning("%d malformed row(s) skipped (first: %s)", len(self.malformed), self.malformed[0])
        if self.missing:
            log.warning("%d expected file(s) missing (first: %s)", len(self.missing), self.missing[0])
        return {
            "reader": reader,
            "options": _jsonable(options),
            "missing": self.missing[:LIST_LIMIT], "n_missing": len(self.missing),
            "malformed": self.malformed[:LIST_LIMIT], "n_malformed": len(self.malformed),
            "unreadable": self.unreadable[:LIST_LIMIT], "n_unreadable": len(self.unreadable),
            "dropped": dict(self.dropped),
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return repr(v)


def numbered_rows(rows: Iterable[list[str]]) -> list[tuple[int, list[str]]]:
    """``(line_number, row)`` for the non-blank rows of a csv reader (line numbers count from 1)."""
    return [(i, r) for i, r in enumerate(rows, 1) if r and any(c.strip() for c in r)]


def parse_float(text: str) -> float:
    """``float`` that refuses NaN/inf (a timestamp or confidence must be finite)."""
    x = float(text)
    if not np.isfinite(x):
        raise ValueError(f"not finite: {text!r}")
    return x


def index_audio_files(folder: Path, *, extensions: Iterable[str] = AUDIO_EXTENSIONS) -> dict[str, Path]:
    """Map file stem → path for every audio file below ``folder`` (recursive).

    When one stem exists with several extensions the lossless one wins (wav, flac, ...).
    """
    exts = {e.lower() for e in extensions}
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for p in folder.rglob("*"):
        suf = p.suffix.lower()
        if suf not in exts or p.name.startswith("."):
            continue
        old = found.get(p.stem)
        if old is None or _EXT_RANK.get(suf, 99) < _EXT_RANK.get(old.suffix.lower(), 99):
            found[p.stem] = p
    return found


def segment_tags(events: Iterable[Event], labels: Sequence[str], *, duration_s: float, segment_s: float,
                 keep_last: bool = False) -> list[tuple[float, float, tuple[str, ...]]]:
    """Cut a clip with frame truth into consecutive segments with clip-level tags.

    The thesis fits thresholds on MedleyDB validation songs cut into 320-frame clips (10.24 s) labelled by
    the instruments active in them: ``segment_tags(clip.events, labels, duration_s=clip.duration,
    segment_s=10.24)``. A label tags a segment when one of its events overlaps it for a positive time.
    The last, shorter segment is kept only with ``keep_last``.

    Returns
    -------
    ``[(start_s, end_s, tags), ...]`` with tags in ``labels`` order.
    """
    if segment_s <= 0:
        raise ValueError("segment_s must be > 0")
    n_full = int(np.floor(duration_s / segment_s + 1e-9))
    bounds = [(k * segment_s, (k + 1) * segment_s) for k in range(n_full)]
    if keep_last and duration_s - n_full * segment_s > 1e-9:
        bounds.append((n_full * segment_s, duration_s))
    evs = list(events)
    out = []
    for a, b in bounds:
        present = {e.label for e in evs if min(e.offset, b) - max(e.onset, a) > 0}
        out.append((round(a, 6), round(b, 6), tuple(lab for lab in labels if lab in present)))
    return out
