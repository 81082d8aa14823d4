"""Resume of a batch: which inputs to tag again, judged by their outputs and provenance; and the content
hash of an input, computed while it is decoded.

An input is *done* when all its requested outputs exist and its sidecar
(:mod:`clip2frame.results.provenance`) names the model of this run (same weights hash). Outputs of another
model are re-tagged (one log line each), and so are outputs without a readable sidecar (an older
clip2frame, or a run killed between the outputs and the sidecar: one warning with their count).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..fileio import file_sha256
from ..results.provenance import ModelIdentity, compare, sidecar_path
from ..results.writers import output_paths
from .discover import InputItem

log = logging.getLogger(__name__)


def plan_items(items: Sequence[InputItem], out: Path, fmts: Sequence[str], model: ModelIdentity, *,
               overwrite: bool = False) -> tuple[list[InputItem], dict[int, str]]:
    """Which items to tag: those missing an output, and (resume) those whose outputs another or an unknown
    model made (see the module doc); everything with ``overwrite``. Returns the items to tag and, for those
    whose outputs all existed, why they are redone (``{id(item): "other model" | "unknown model"}``), after
    one log line per other-model file and one warning counting the unknown ones."""
    todo: list[InputItem] = []
    retag: dict[int, str] = {}
    unknown: list[InputItem] = []
    for it in items:
        d = out / it.key.parent
        if overwrite or not all(p.exists() for p in output_paths(d, it.key.name, fmts).values()):
            todo.append(it)
            continue
        state, old = compare(sidecar_path(d, it.key.name), model)
        if state == "same":
            continue
        todo.append(it)
        if state == "other" and old is not None:
            retag[id(it)] = "other model"
            log.info("%s: outputs made by %s; re-tagging with %s", d / it.key.name, old.describe(),
                     model.describe())
        else:
            retag[id(it)] = "unknown model"
            unknown.append(it)
    if unknown:
        log.warning("%d file(s) under %s have outputs without a readable .meta.json (model unknown: an older "
                    "clip2frame, or a run killed before the sidecar): re-tagging them with %s, e.g. %s",
                    len(unknown), out, model.describe(), unknown[0].path)
    return todo, retag


def decode_hashed(decode: Callable[[InputItem], Any], it: InputItem) -> tuple[Any, str, int]:
    """``(decode(it), sha256 of the file's bytes, its size)``: the content hash of the provenance, computed
    in the decoding thread (hashlib releases the GIL), streamed."""
    digest = file_sha256(it.path)
    size = os.stat(it.path).st_size
    return decode(it), digest, size
