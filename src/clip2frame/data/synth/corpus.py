"""Note material from the music21 corpus shipped in the music21 wheel.

A *work* is one corpus file, named by its path relative to the corpus root (``bach/bwv66.6.mxl``). Works
are assigned to splits by a hash of that name alone (:func:`work_split`), so the same work never lands in
two splits, whatever the seed or the number of hours. Parsing is slow, so each parsed work is cached as
JSON (onsets and durations in quarter notes, MIDI pitches) under ``cache_dir``; only the works a render
actually draws are parsed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...extras import require
from ...fileio import atomic_write_text

log = logging.getLogger(__name__)

CACHE_FORMAT = "notes-v2"
# Split of the works, fixed (independent of --splits) so a work never moves between splits.
WORK_SPLIT_FRACTIONS: tuple[tuple[str, float], ...] = (
    ("train", 0.70), ("validation", 0.10), ("test", 0.10), ("shift", 0.10),
)
# (composer directory, file suffix): multi-part art music plus single-line folk tunes.
_SOURCES = (
    ("bach", ".mxl"), ("palestrina", ".krn"), ("monteverdi", ".mxl"), ("mozart", ".mxl"),
    ("haydn", ".mxl"), ("beethoven", ".mxl"), ("ryansMammoth", ".abc"), ("schumann_robert", ".mxl"),
)
MAX_NOTES_PER_LINE = 600


@dataclass(frozen=True)
class Work:
    """A parsed work: monophonic lines of ``(onset_q, duration_q, midi)`` and an estimated key."""

    work_id: str
    lines: tuple[tuple[tuple[float, float, int], ...], ...]
    tonic: int          # pitch class 0..11
    mode: str           # "major" | "minor"


def default_cache_dir() -> Path:
    """Where parsed works are cached: ``$CLIP2FRAME_CACHE`` or ``$XDG_CACHE_HOME/clip2frame`` (default
    ``~/.cache/clip2frame``), then ``synth``.
    """
    root = os.environ.get("CLIP2FRAME_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "clip2frame")
    return Path(root) / "synth"


@lru_cache(maxsize=1)
def _corpus_root_and_works() -> tuple[Path, tuple[str, ...]]:
    try:
        from music21 import corpus
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError("music21: not installed (pip install 'clip2frame[synth]')") from None
    paths = [Path(p) for p in corpus.getPaths()]
    if not paths:
        raise ConfigError("music21 corpus: no works found (is the music21 wheel complete?)")
    root = Path(os.path.commonpath([str(p) for p in paths]))
    works = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        comp = rel.split("/")[0]
        if (comp, p.suffix) in _SOURCES:
            works.append(rel)
    return root, tuple(sorted(works))


def list_works() -> tuple[str, ...]:
    """All usable work ids, sorted."""
    return _corpus_root_and_works()[1]


def work_split(work_id: str) -> str:
    """The split a work belongs to: a hash of its id, bucketed by :data:`WORK_SPLIT_FRACTIONS`."""
    h = int.from_bytes(hashlib.sha1(f"clip2frame-work:{work_id}".encode()).digest()[:8], "big") / 2.0**64
    acc = 0.0
    for name, frac in WORK_SPLIT_FRACTIONS:
        acc += frac
        if h < acc:
            return name
    return WORK_SPLIT_FRACTIONS[-1][0]


@lru_cache(maxsize=16)
def works_for_split(split: str) -> tuple[str, ...]:
    """The works of a split (``shift`` and unknown split names use their own hash buckets)."""
    names = [n for n, _ in WORK_SPLIT_FRACTIONS]
    if split not in names:
        raise ConfigError(f"splits: unknown split '{split}' (expected one of {', '.join(names)})")
    return tuple(w for w in list_works() if work_split(w) == split)


_KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(lines) -> tuple[int, str]:
    """Krumhansl-Schmuckler key estimate from duration-weighted pitch classes."""
    hist = np.zeros(12)
    for line in lines:
        for _, dur, midi in line:
            hist[int(midi) % 12] += dur
    if hist.sum() == 0:
        return 0, "major"
    best = (-2.0, 0, "major")
    for tonic in range(12):
        for mode, prof in (("major", _KS_MAJOR), ("minor", _KS_MINOR)):
            r = float(np.corrcoef(hist, np.roll(prof, tonic))[0, 1])
            if r > best[0]:
                best = (r, tonic, mode)
    return best[1], best[2]


def _parse_work(work_id: str) -> list[list[tuple[float, float, int]]]:
    converter = require("music21.converter", what="corpus rendering")
    stream = require("music21.stream", what="corpus rendering")
    root, _ = _corpus_root_and_works()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = converter.parse(root / work_id)
    if isinstance(s, stream.Opus):
        s = s.scores[0] if s.scores else s
    parts = list(s.parts) if hasattr(s, "parts") and len(s.parts) else [s]
    lines = []
    for part in parts:
        notes: list[tuple[float, float, int]] = []
        # ties merged by hand: music21's stripTies() is superlinear (minutes on a long quartet movement)
        for n in part.flatten().notes:
            dur = float(n.duration.quarterLength)
            if dur <= 0:  # grace notes
                continue
            midi = max(p.midi for p in n.pitches)  # a Note has one pitch, a Chord several
            onset = float(n.offset)
            tie = n.tie.type if n.tie is not None else None
            if notes and tie in ("stop", "continue") and notes[-1][2] == midi \
                    and abs(notes[-1][0] + notes[-1][1] - onset) < 1e-6:
                notes[-1] = (notes[-1][0], round(onset + dur - notes[-1][0], 4), midi)
                continue
            if len(notes) >= MAX_NOTES_PER_LINE:
                break
            if notes and onset < notes[-1][0] + notes[-1][1] - 1e-6:
                # overlapping voices inside one part: keep the line monophonic
                if onset <= notes[-1][0] + 1e-6:
                    continue
                notes[-1] = (notes[-1][0], round(onset - notes[-1][0], 4), notes[-1][2])
            notes.append((round(onset, 4), round(dur, 4), int(midi)))
        if len(notes) >= 8:
            lines.append(notes)
    return lines


def load_work(work_id: str, *, cache_dir: str | Path | None = None) -> Work | None:
    """Parsed lines of ``work_id`` (from the JSON cache when present); ``None`` if it has no usable line."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha1(work_id.encode()).hexdigest()[:16]
    path = cache / CACHE_FORMAT / f"{key}.json"
    data = None
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("work") != work_id:
                data = None
        except (OSError, json.JSONDecodeError):
            data = None
    if data is None:
        try:
            lines = _parse_work(work_id)
        except Exception as e:  # a corpus file music21 cannot read is skipped, not fatal
            log.warning("music21 corpus %s: cannot parse (%s); skipped", work_id, e)
            lines = []
        tonic, mode = estimate_key(lines)
        data = {"work": work_id, "lines": lines, "tonic": tonic, "mode": mode}
        try:
            atomic_write_text(path, json.dumps(data, separators=(",", ":")))
        except OSError as e:
            log.warning("%s: cannot write the note cache (%s)", path, e)
    if not data["lines"]:
        return None
    notes = tuple(tuple((float(a), float(b), int(c)) for a, b, c in line) for line in data["lines"])
    return Work(work_id, notes, int(data["tonic"]), str(data["mode"]))
