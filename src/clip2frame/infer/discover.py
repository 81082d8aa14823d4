"""Input discovery for batch tagging: files, directories and ``@list.txt`` -> sorted work items, each with
the place of its outputs in the mirrored output tree.

Output keys (the output path below ``--out``, without suffix):

* a file found under a directory input ``D``: its path relative to ``D`` without extension
  (``D/live/a.flac`` -> ``live/a``);
* a file named on the command line or in a list: its name without extension (``x/y/a.wav`` -> ``a``).

Collisions: when several inputs get the same key (``a.wav`` and ``a.mp3`` side by side, ``d1/a.wav`` and
``d2/a.wav`` as loose files, equal relative paths under two directory inputs), *every* one of them gets
``~<8 hex digits of sha1(absolute path)>`` appended to its last component (``a~3f2a9c1d``), so no output
overwrites another and each name depends only on its own file.

Items are sorted by key (then absolute path): the order of a run, and what ``--shard I/N`` slices
(``items[I::N]``), does not depend on where the catalogue is mounted or the order of the arguments.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from ..audio.io import MEDIA_EXTENSIONS
from ..errors import DatasetError
from .shards import parse_shard

log = logging.getLogger(__name__)


def media_extensions() -> frozenset[str]:
    """Lower-case extensions (with dot) a directory walk picks up: audio and video (owned by audio.io)."""
    return frozenset(e.lower() for e in MEDIA_EXTENSIONS)


@dataclass(frozen=True)
class InputItem:
    """One file to tag.

    Attributes
    ----------
    path : Path          the file, as found (relative paths of a list resolved against the list's folder).
    key : PurePosixPath  output location below ``--out`` without suffix (see the module doc).
    name : str           key with the input's extension: the ``filename`` column of the combined events.tsv.
    """

    path: Path
    key: PurePosixPath
    name: str


@dataclass(frozen=True)
class InputFailure:
    """An input that could not be listed or read before tagging: its path and one-line error."""
    path: str
    error: str



def read_list_file(list_path: Path) -> list[Path]:
    """Paths in a list file: one per line, blank lines and ``#`` comments ignored, relative paths
    relative to the list's folder."""
    try:
        text = list_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{list_path}: input list not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{list_path}: cannot read input list ({e})") from None
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        p = Path(os.path.expanduser(s))
        out.append(p if p.is_absolute() else list_path.parent / p)
    return out


def _walk(root: Path, exts: frozenset[str]) -> Iterable[Path]:
    """Media files below ``root``, hidden files and folders skipped, symlinked folders not followed."""
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: log.warning("%s: %s", e.filename, e)):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in exts:
                yield Path(dirpath) / f


def _hash_suffix(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]


def require_inputs(inputs: Sequence[str | Path], items: Sequence[InputItem], missing: Sequence[InputFailure],
                   shard: tuple[int, int] | None) -> None:
    """A batch with nothing to read is an input error (exit 2, nothing written), not a batch with failures:
    every input missing, or (unsharded) no audio/video file among them. Some inputs missing beside readable
    ones are failures of the batch (listed in failures.tsv, exit 1).

    Raises
    ------
    DatasetError
        Naming the first missing input (and how many more), or the inputs when none holds a media file.
    """
    if items:
        return
    if missing:
        more = f" (and {len(missing) - 1} more missing inputs)" if len(missing) > 1 else ""
        raise DatasetError(f"{missing[0].path}: {missing[0].error}{more}")
    if shard is None:
        raise DatasetError(f"{' '.join(map(str, inputs))}: no audio or video files found")


def discover(inputs: Sequence[str | Path], *, shard: str | tuple[int, int] | None = None
             ) -> tuple[list[InputItem], list[InputFailure]]:
    """Expand ``inputs`` (files, directories, ``@list.txt``) into sorted work items.

    Returns
    -------
    items : list[InputItem]
        Sorted by key, de-duplicated by resolved path, sliced ``items[I::N]`` for ``shard=(I, N)``.
    failures : list[InputFailure]
        Inputs that do not exist (the batch records them and goes on). In sharded runs only shard 0
        reports them, so they are listed once.

    Raises
    ------
    DatasetError
        A ``@list`` file is missing or unreadable.
    """
    shard_t = parse_shard(shard)
    exts = media_extensions()
    raw: list[tuple[Path, PurePosixPath]] = []
    failures: list[InputFailure] = []

    def add(arg: Path) -> None:
        if arg.is_dir():
            found = 0
            for f in _walk(arg, exts):
                rel = f.relative_to(arg)
                raw.append((f, PurePosixPath(*rel.parent.parts, rel.stem)))
                found += 1
            if not found:
                log.warning("%s: no audio or video files in this folder", arg)
        elif arg.exists():
            raw.append((arg, PurePosixPath(arg.stem)))
        else:
            failures.append(InputFailure(str(arg), "no such file or directory"))

    for a in inputs:
        s = str(a)
        if s.startswith("@") and not Path(s).exists():
            for p in read_list_file(Path(os.path.expanduser(s[1:]))):
                add(p)
        else:
            add(Path(os.path.expanduser(s)))

    seen: set[str] = set()
    unique: list[tuple[Path, PurePosixPath]] = []
    for path, key in raw:
        rp = str(path.resolve())
        if rp not in seen:
            seen.add(rp)
            unique.append((path, key))

    counts: dict[str, int] = {}
    for _, key in unique:
        counts[str(key)] = counts.get(str(key), 0) + 1
    items = []
    for path, key in unique:
        if counts[str(key)] > 1:
            key = key.with_name(f"{key.name}~{_hash_suffix(path)}")
        items.append(InputItem(path=path, key=key, name=str(key.with_name(key.name + path.suffix))))
    items.sort(key=lambda it: (str(it.key), str(it.path.resolve())))
    if shard_t is not None:
        i, n = shard_t
        items = items[i::n]
        if i != 0:
            failures = []
    return items, failures
