"""Readers for the published datasets, each producing the common :class:`~clip2frame.data.manifest.Manifest`.

``READERS[name](root, **options) -> Manifest``:

==================  =========================================================================
``magnatagatune``   :func:`.magnatagatune.read` — clip tags, thesis split (0–b / c / d–f)
``medleydb``        :func:`.medleydb.read` — frame truth from activation confidences, artist split
``urbansound``      :func:`.urbansound.read_urbansound` — clip tag + annotated occurrences
``urbansound8k``    :func:`.urbansound.read_urbansound8k` — folds as splits
``audioset``        :func:`.audioset.read` — segment CSVs, user-supplied audio, label subsets
``youtube8m``       :func:`.youtube8m.read` — vocabulary + a user TSV of videos and labels
``embedded``        :func:`clip2frame.data.manifest.load_manifest` — a manifest directory
==================  =========================================================================

Annotation readers that do not produce clips: :func:`.imagenet.read_boxes` (VOC boxes per image) and
:func:`.keypoints.read_keypoints` (per-frame instrument-playing key points). What a reader could not use
is listed in ``Manifest.extra`` (see :mod:`._common`); :func:`.check.summarize` reports it.

Frame truth: :func:`clip2frame.data.events.events_to_frames` (events → bool [T, K] at any frame rate);
:func:`segment_tags` (a clip with events → fixed-length segments with clip tags, for threshold fitting).
"""
from __future__ import annotations

from typing import Callable

from ...errors import ConfigError
from ..manifest import Manifest, load_manifest
from . import audioset, imagenet, keypoints, magnatagatune, medleydb, urbansound, youtube8m
from ._common import segment_tags

Reader = Callable[..., Manifest]

READERS: dict[str, Reader] = {
    "magnatagatune": magnatagatune.read,
    "medleydb": medleydb.read,
    "urbansound": urbansound.read_urbansound,
    "urbansound8k": urbansound.read_urbansound8k,
    "audioset": audioset.read,
    "youtube8m": youtube8m.read,
    "embedded": load_manifest,
}


def get_reader(name: str) -> Reader:
    """The reader registered under ``name`` (``ConfigError`` naming the choices otherwise)."""
    try:
        return READERS[name]
    except KeyError:
        raise ConfigError(f"dataset: unknown reader {name!r} (choose from {', '.join(READERS)})") from None


__all__ = ["READERS", "Reader", "get_reader", "segment_tags", "audioset", "imagenet", "keypoints", "magnatagatune", "medleydb",
           "urbansound", "youtube8m"]
