"""Resume of a batch: which inputs to tag again, judged by their outputs and provenance; and the content
hash of an input, computed while it is decoded.

An input is *done* when all its requested outputs exist and its sidecar
(:mod:`clip2frame.results.provenance`) names the model of this run (same weights hash), its decision
thresholds and this run's :class:`~clip2frame.results.provenance.OutputSettings` (resolution, event
post-processing). Outputs of another model, or of this one with other thresholds or settings, are re-tagged
(one log line each), and so are outputs without a readable sidecar (an older clip2frame, or a run killed
between the outputs and the sidecar: one warning with their count).

Attempts. A file that kills the process (a segfault in a decoder, the out-of-memory killer) must not
kill every resume of its batch or shard. Before a file's decoding starts, :func:`mark_attempt` writes
``OUT/.clip2frame-attempts/<digest of its output key>`` (the count of attempts); the marker is removed once
the file's result is recorded (:func:`clear_attempt`). A marker found at the start of a run means the
process died while that file was in flight: such a *suspect* is tagged again, at the end and alone (no
decoding ahead, so a second death is its own); at :data:`CRASH_LIMIT` deaths it is not tried again but
listed as failed (:func:`crashed_message`), until ``overwrite`` or the marker's removal. A marker is a
plain write, not an atomic one: a torn marker reads as one attempt.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..fileio import file_sha256
from ..results.provenance import ModelIdentity, OutputSettings, compare, sidecar_path, sidecar_thresholds
from ..results.writers import output_paths
from .discover import InputItem

log = logging.getLogger(__name__)


def plan_items(items: Sequence[InputItem], out: Path, fmts: Sequence[str], model: ModelIdentity, *,
               overwrite: bool = False, thresholds: Mapping[str, float] | None = None,
               settings: OutputSettings | None = None) -> tuple[list[InputItem], dict[int, str]]:
    """Which items to tag: those missing an output, and (resume) those whose outputs another or an unknown
    model made, or this model with other ``thresholds`` / ``settings`` (see the module doc and
    :func:`clip2frame.results.provenance.compare`); everything with ``overwrite``. Returns the items to tag
    and, for those whose outputs all existed, why they are redone (``{id(item): "other model" | "other
    settings" | "unknown model"}``), after one log line per other-model or other-settings file and one
    warning counting the unknown ones."""
    todo: list[InputItem] = []
    retag: dict[int, str] = {}
    unknown: list[InputItem] = []
    for it in items:
        d = out / it.key.parent
        if overwrite or not all(p.exists() for p in output_paths(d, it.key.name, fmts).values()):
            todo.append(it)
            continue
        state, old, why = compare(sidecar_path(d, it.key.name), model, thresholds=thresholds, settings=settings)
        if state == "same":
            continue
        todo.append(it)
        if state == "other" and old is not None:
            retag[id(it)] = "other model"
            log.info("%s: outputs made by %s; re-tagging with %s", d / it.key.name, old.describe(),
                     model.describe())
        elif state == "settings":
            retag[id(it)] = "other settings"
            log.info("%s: outputs made with %s; re-tagging", d / it.key.name, why)
        else:
            retag[id(it)] = "unknown model"
            unknown.append(it)
    if unknown:
        log.warning("%d file(s) under %s have outputs without a readable .meta.json (model unknown: an older "
                    "clip2frame, or a run killed before the sidecar): re-tagging them with %s, e.g. %s",
                    len(unknown), out, model.describe(), unknown[0].path)
    return todo, retag


def model_thresholds(model: Any) -> dict[str, float] | None:
    """A loaded model's decision thresholds ``{tag: t}`` (what its events are cut at), or ``None`` for a model
    without per-tag ``thresholds`` (a video detector: its threshold is part of its identity)."""
    labels, thr = getattr(model, "labels", None), getattr(model, "thresholds", None)
    if labels is None or thr is None:
        return None
    return sidecar_thresholds(labels, np.asarray(thr, dtype=np.float64).reshape(-1))


def decode_hashed(decode: Callable[[InputItem], Any], it: InputItem) -> tuple[Any, str, int]:
    """``(decode(it), sha256 of the file's bytes, its size)``: the content hash of the provenance, computed
    in the decoding thread (hashlib releases the GIL), streamed."""
    digest = file_sha256(it.path)
    size = os.stat(it.path).st_size
    return decode(it), digest, size


#: Folder of the attempt markers inside the output folder (see the module doc).
ATTEMPTS_DIR = ".clip2frame-attempts"
#: Deaths of the process while a file was in flight after which the file is no longer tried.
CRASH_LIMIT = 2


def attempt_path(out: Path, it: InputItem) -> Path:
    """The attempt marker of ``it`` under the output folder ``out``."""
    return out / ATTEMPTS_DIR / hashlib.sha1(str(it.key).encode("utf-8", "surrogateescape")).hexdigest()


def attempts(out: Path, it: InputItem) -> int:
    """How many earlier runs died while ``it`` was in flight (0: none, or no marker)."""
    try:
        return max(1, int(attempt_path(out, it).read_text().strip() or "1"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError):
        return 1


def mark_attempt(out: Path, it: InputItem) -> None:
    """Count one more attempt of ``it`` before its decoding starts."""
    p = attempt_path(out, it)
    p.parent.mkdir(exist_ok=True)
    p.write_text(str(attempts(out, it) + 1))


def clear_attempt(out: Path, it: InputItem) -> None:
    """Remove the marker of ``it`` once its result (tagged or failed) is recorded."""
    attempt_path(out, it).unlink(missing_ok=True)


def crashed_message(out: Path, it: InputItem, n: int) -> str:
    """The failure line of a file skipped after ``n`` deaths of the process while it was in flight."""
    return (f"{it.path}: the process died while tagging this file in {n} earlier runs (a crash in its "
            f"decoder, out of memory, or a kill); not tried again: tag it alone to see why, or remove "
            f"{attempt_path(out, it)} (or pass --overwrite) to retry it")


def remove_attempts_dir(out: Path) -> None:
    """Remove the markers' folder when no marker is left in it (a finished run leaves no trace)."""
    try:
        (out / ATTEMPTS_DIR).rmdir()
    except OSError:
        pass
