"""The outside-renderer *selection* set: checkpoints, recipes and thresholds chosen outside the renderer.

The held-out arrangement and production generator (:mod:`clip2frame.data.outside`, ``clip2frame synth
outside``) draws its ``val`` arrangements from a seed stream disjoint from its ``test`` ones, but renders
both with the held-out soundfonts (MuseScore General, TimGM6mb), which never fit anything. This module
renders the generator's ``val`` arrangements with the *training* soundfonts instead (one per arrangement,
in turn), so its arrangements and mixes are outside the training renderer while its timbres are not
held out: the set ``TrainConfig.extra_val`` may name for ``select_on`` and ``threshold_on``. Its
``metadata.json`` says ``"selection_only": true`` (never trained on) and ``soundfont_of`` which source
rendered each file (:func:`clip2frame.train.domains.check_fit_allowed` checks it).

Layout: a manifest directory with one split ``val`` (``val.weak.tsv``, ``val.strong.tsv``,
``audio/val/val_<i:04d>.wav``); resumable (a clip whose wav exists is not rendered again).
"""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from ..errors import ConfigError
from ..fileio import atomic_write_bytes
from ..tags import MUSIC_TAG_KINDS, MUSIC_TAGS
from ..timebase import SAMPLE_RATE
from .manifest import ClipRecord, Manifest, load_manifest, write_manifest
from .synth import timbres

log = logging.getLogger(__name__)

SPLIT = "val"


def render_selection_val(out_dir: str | Path, *, seed: int, clips: int, clip_seconds: float = 30.0,
                         sr: int = SAMPLE_RATE) -> Manifest:
    """Render ``clips`` ``val`` arrangements of the outside generator (``seed``) with training soundfonts.

    Returns
    -------
    Manifest
        Split ``val`` with clip tags and frame truth from the arrangements.
    """
    try:  # imported by name: the generator is another deliverable of issue #24 (clip2frame.data.outside)
        outside = importlib.import_module("clip2frame.data.outside.render")
    except ImportError:
        raise ConfigError("selection set: needs the outside-renderer generator clip2frame.data.outside "
                          "(issue #24, deliverable 1)") from None
    if clips < 1 or not clip_seconds > 1:
        raise ConfigError(f"selection set: clips must be >= 1 and clip_seconds > 1, got {clips}, {clip_seconds}")
    sfs = [s for s in timbres.pool_for("train", "piano") if s.kind == "soundfont" and not s.heldout]
    if not sfs:
        raise ConfigError("selection set: no training soundfont installed (scripts/setup.sh)")
    out = Path(out_dir)
    records, soundfont_of = [], {}
    for i in range(clips):
        arr, plan = outside.arrangement_for(SPLIT, i, seed=seed, clip_seconds=clip_seconds)
        tags, events = arr.labels()
        src = sfs[i % len(sfs)]
        rel = f"audio/{SPLIT}/{SPLIT}_{i:04d}.wav"
        if not (out / rel).is_file():
            audio, _ = outside.render_arrangement(arr, plan, src.path, sr=sr)
            atomic_write_bytes(out / rel, outside.wav_bytes(audio, sr))
        records.append(ClipRecord(Path(rel).stem, out / rel, tuple(tags), SPLIT, tuple(events), clip_seconds))
        soundfont_of[rel] = src.name
    write_manifest(out, name="outside-selection", labels=MUSIC_TAGS, kinds=MUSIC_TAG_KINDS, clips=records,
                   extra={"renderer": "outside-arrangement (val arrangements, training soundfonts)",
                          "selection_only": True, "seed": seed, "clip_seconds": clip_seconds, "sample_rate": sr,
                          "soundfont_of": soundfont_of})
    return load_manifest(out)
