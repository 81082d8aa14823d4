"""Validation domains beyond the held-in split: checkpoint selection and thresholds on other material.

Config keys (``TrainConfig``):

* ``extra_val``: more validation sets, each ``"MANIFEST_DIR:SPLIT"`` (e.g. the ``val`` split of the
  outside-renderer generator, ``clip2frame synth outside``, rendered with training timbres);
* ``select_on``: the data whose score picks the checkpoint (``select_metric``): ``held-in`` (the
  training manifest's ``val_split``, as before), ``extra`` (the ``extra_val`` sets pooled) or ``all``
  (both pooled);
* ``threshold_on``: the data the per-tag thresholds are fitted on, with the same three choices: ``all``
  fits them on the mixture of domains.

Held-out rule: MuseScore General, TimGM6mb (and every other source marked held-out in
:mod:`clip2frame.data.synth.timbres`) never fit anything, so a set whose ``metadata.json`` says it was
rendered with one (``soundfont_of`` or ``timbres``) is refused, and so is a manifest marked
``"evaluation_only": true`` for training or unlabelled data (:func:`check_fit_allowed`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..data.manifest import Manifest, load_manifest
from ..data.synth import timbres
from ..errors import ConfigError
from .data import SplitData, load_split

DOMAIN_CHOICES = ("held-in", "extra", "all")


def parse_extra_val(entry: str) -> tuple[Path, str]:
    """``"DIR:SPLIT"`` → ``(Path(DIR), SPLIT)``; a bad entry is a :class:`ConfigError` naming the key."""
    path, sep, split = str(entry).rpartition(":")
    if not sep or not path or not split:
        raise ConfigError(f"config key 'extra_val': '{entry}' is not MANIFEST_DIR:SPLIT")
    return Path(path), split


def _heldout_names() -> set[str]:
    names = {c.name for c in timbres._candidates() if c.heldout}
    return names | {Path(c.path).name for c in timbres._candidates() if c.heldout}


def heldout_sources_in(manifest: Manifest, split: str | None = None) -> list[str]:
    """Held-out timbre sources the manifest's metadata says rendered ``split`` (all splits: ``None``)."""
    held = _heldout_names()
    used: set[str] = set()
    for rel, name in (manifest.extra.get("soundfont_of") or {}).items():
        if split is None or f"/{split}/" in f"/{rel}":
            used.add(str(name))
    for rel, parts in (manifest.extra.get("timbres") or {}).items():
        if split is None or f"/{split}/" in f"/{rel}":
            for v in (parts or {}).values():
                if isinstance(v, (list, tuple)) and v:
                    used.add(str(v[0]))
    return sorted(u for u in used if u in held or any(h in u for h in held))


def check_fit_allowed(manifest: Manifest, split: str, *, key: str, training: bool) -> None:
    """Refuse fitting anything on held-out timbres, or training on a manifest marked evaluation-only."""
    bad = heldout_sources_in(manifest, split)
    if bad:
        raise ConfigError(f"config key '{key}': {manifest.root} split '{split}' was rendered with held-out "
                          f"timbre source(s) {', '.join(bad)}, which never fit anything (render it with "
                          "training timbres)")
    if training and manifest.extra.get("evaluation_only"):
        raise ConfigError(f"config key '{key}': {manifest.root} is an evaluation-only corpus "
                          "(metadata.json 'evaluation_only'); it never serves for training")


def load_extra_val(entries: Iterable[str], labels: list[str], features, **common):
    """The ``extra_val`` sets pooled into one :class:`~clip2frame.train.data.SplitData` (None when empty).

    Every set must use the model's labels (its own may be a superset, the rest is ignored).
    """
    parts = []
    for entry in entries:
        path, split = parse_extra_val(entry)
        m = load_manifest(path)
        check_fit_allowed(m, split, key="extra_val", training=False)
        missing = [lab for lab in labels if lab not in m.labels]
        if missing:
            raise ConfigError(f"config key 'extra_val': {path} lacks the model's label(s) {', '.join(missing)}")
        parts.append(load_split(m, split, features, labels, **common))
    return SplitData.concat(parts) if parts else None


def pick(choice: str, held_in, extra):
    """The data a choice of :data:`DOMAIN_CHOICES` names: the held-in split, the extra sets, or both pooled."""
    if choice == "held-in" or extra is None:
        if choice != "held-in":
            raise ConfigError(f"'{choice}' needs config key 'extra_val' (no extra validation set given)")
        return held_in
    return extra if choice == "extra" else SplitData.concat([held_in, extra])
