"""The summary files of a batch (:mod:`clip2frame.infer.batch`): ``failures.tsv`` (``path<TAB>error``) and the
combined DCASE ``events.tsv`` rebuilt from the per-file events files (per shard when sharded); and
:class:`FileResult`, one input's outcome (torch-free: the index imports it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ..data.manifest import EVENTS_HEADER
from ..errors import OutputError
from ..fileio import atomic_write_text
from ..results.readers import read_events_tsv
from ..results.writers import escape_field, events_line, output_paths

if TYPE_CHECKING:  # annotations only: discover imports audio.io (PyAV); the index imports this module
    from .discover import InputItem


@dataclass
class FileResult:
    """What happened to one input: ``status`` is ``"tagged"``, ``"skipped"`` (already done) or ``"failed"``;
    ``retagged`` says why outputs that existed were replaced: ``"other model"`` (their sidecar names another
    model), ``"unknown model"`` (no readable sidecar), or ``""``."""

    path: str
    key: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    audio_s: float = 0.0
    seconds: float = 0.0
    retagged: str = ""


def summary_names(shard: tuple[int, int] | None) -> tuple[str, str]:
    """File names of the combined events and the failures list (per shard when sharded)."""
    if shard is None:
        return "events.tsv", "failures.tsv"
    i, n = shard
    return f"events.shard-{i}-of-{n}.tsv", f"failures.shard-{i}-of-{n}.tsv"


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) as one space: a failures.tsv cell."""
    return " ".join(str(text).split())


def write_failures_tsv(path: Path, failures: Iterable[tuple[str, str]]) -> None:
    """``path<TAB>error`` with a header, one failure a line: the path escaped as in the events files
    (:func:`~clip2frame.results.writers.escape_field`), the error flattened to one line."""
    lines = ["path\terror"] + [f"{escape_field(str(p))}\t{escape_field(one_line(err))}" for p, err in failures]
    atomic_write_text(path, "\n".join(lines) + "\n")


def write_combined_events(path: Path, out_dir: Path, items: Sequence[InputItem]) -> tuple[int, list[tuple[str, str]]]:
    """Rebuild the combined DCASE events file from the per-file ``<key>.events.tsv`` of ``items`` that have
    one; ``filename`` becomes the item's name in the output tree (``live/a.flac``, escaped like every events
    file). A per-file events file that cannot be read is left out and returned as ``(input, error)``, so one
    bad file never stops the batch. Returns the row count and those failures."""
    lines = ["\t".join(EVENTS_HEADER)]
    bad: list[tuple[str, str]] = []
    for it in items:
        p = output_paths(out_dir / it.key.parent, it.key.name, ["events"])["events"]
        if not p.exists():
            continue
        try:
            rows = read_events_tsv(p)
        except OutputError as e:
            bad.append((str(it.path), f"{one_line(e)} (left out of {path.name}; re-tag it with --overwrite)"))
            continue
        lines += [events_line(it.name, on, off, label) for _, on, off, label in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return len(lines) - 1, bad
