"""Render the held-out arrangement corpus (``clip2frame synth outside``): splits ``val`` and ``test``.

Each arrangement (:func:`~clip2frame.data.outside.parts.make_arrangement`) is produced
(:mod:`~clip2frame.data.outside.produce`) and rendered with *each* held-out soundfont (MuseScore General,
TimGM6mb; :data:`clip2frame.data.synth.timbres.HELDOUT_POOLS`), so a split holds every arrangement once per
soundfont (``metadata.json`` ``soundfont_of`` says which). ``val`` and ``test`` draw from disjoint seed
streams (``SPLIT_STREAM``). Notes go through FluidSynth (:class:`~clip2frame.data.synth.engine.SynthEngine`,
low-level rendering only). Evaluation only.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...fileio import atomic_write_bytes
from ...tags import MUSIC_TAG_KINDS, MUSIC_TAGS
from ...timebase import SAMPLE_RATE
from ..manifest import ClipRecord, Manifest, load_manifest, write_manifest
from ..synth import timbres
from ..synth.compose import RULES
from ..synth.driver import wav_bytes
from ..synth.engine import get_engine
from .arrange import Arrangement
from .parts import make_arrangement
from .produce import draw_mix, mix_down

log = logging.getLogger(__name__)

RENDERER = "outside-arrangement-1"
SPLIT_STREAM = {"val": 0x0A11, "test": 0x7E57}       # disjoint seed streams of the two splits
HELDOUT_SOUNDFONT_POOLS = {"musescore": "heldout-musescore", "timgm": "heldout-timgm"}


def heldout_soundfonts() -> dict[str, tuple[str, Path]]:
    """``{short name: (source name, path)}``: the first installed soundfont of each held-out pool.

    Raises :class:`ConfigError` when a pool has none, or (a guard) when a source is not marked held-out.
    """
    out: dict[str, tuple[str, Path]] = {}
    for short, pool in HELDOUT_SOUNDFONT_POOLS.items():
        srcs = [s for s in timbres.pool_for(pool, "piano") if s.kind == "soundfont"]
        if not srcs:
            raise ConfigError(f"held-out pool '{pool}': no soundfont installed (scripts/setup.sh)")
        if not all(s.heldout for s in srcs):
            raise ConfigError(f"held-out pool '{pool}': source not marked held-out")
        out[short] = (srcs[0].name, srcs[0].path)
    return out


def arrangement_for(split: str, index: int, *, seed: int, clip_seconds: float = 30.0) -> tuple[Arrangement, dict]:
    """The arrangement and mix plan of arrangement ``index`` of ``split`` (``val``/``test``)."""
    if split not in SPLIT_STREAM:
        raise ConfigError(f"split: expected one of {', '.join(SPLIT_STREAM)}, got '{split}'")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, SPLIT_STREAM[split], int(index)])
    arr = make_arrangement(rng, duration_s=clip_seconds)
    return arr, draw_mix(rng, arr.parts)


def render_arrangement(arr: Arrangement, plan: dict, soundfont: str | Path, *, sr: int = SAMPLE_RATE
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render an arrangement with one soundfont.

    Returns
    -------
    audio : np.ndarray, shape (round(duration_s·sr),), float32
    placed : {part name: np.ndarray of shape (N,)}
        Each part as it sits in the master (for truth-vs-audio checks).
    """
    eng = get_engine(soundfont, sr=sr)
    n = int(round(arr.duration_s * sr))
    stems: list[np.ndarray] = []
    spans: list[list[tuple[float, float]]] = []
    for p in arr.parts:
        prog = abs(p.program)
        try:
            x = eng.render(p.notes, program=prog, n_samples=n, is_drum=p.is_drum)
        except ConfigError:          # a preset this soundfont lacks: its standard kit / first program
            x = eng.render(p.notes, program=0 if p.is_drum else prog - prog % 8, n_samples=n, is_drum=p.is_drum)
        stems.append(x)
        spans.append(p.spans(arr.duration_s))
    audio, placed = mix_down(stems, spans, plan, sr)
    return audio, {p.name: y for p, y in zip(arr.parts, placed)}


def _describe(arr: Arrangement, plan: dict) -> dict:
    return {"genre": arr.genre, "bpm": round(arr.bpm, 2), "key": arr.key, "mode": arr.mode,
            "buried": plan["buried"],
            "parts": [{"name": p.name, "tag": p.tag, "role": p.role, "program": p.program,
                       "level_db": pp["level_db"], "notes": len(p.notes)}
                      for p, pp in zip(arr.parts, plan["parts"])]}


def render_outside_corpus(out_dir: str | Path, *, seed: int = 0, test_clips: int = 48, val_clips: int = 16,
                          clip_seconds: float = 30.0, sr: int = SAMPLE_RATE, progress: bool = True) -> Manifest:
    """Render ``test_clips`` / ``val_clips`` arrangements, each with every held-out soundfont.

    Resumable: a clip whose wav exists is not rendered again (its truth comes from the arrangement).
    """
    if test_clips < 0 or val_clips < 0 or not clip_seconds > 1.0:
        raise ConfigError("synth outside: clip counts must be >= 0 and --clip-seconds > 1")
    out = Path(out_dir)
    sfs = heldout_soundfonts()
    clips: list[ClipRecord] = []
    soundfont_of: dict[str, str] = {}
    arrangements: dict[str, dict] = {}
    for split, n_arr in (("val", val_clips), ("test", test_clips)):
        for i in range(n_arr):
            arr, plan = arrangement_for(split, i, seed=seed, clip_seconds=clip_seconds)
            tags, events = arr.labels()
            for short, (name, path) in sfs.items():
                cid = f"{split}_{i:04d}_{short}"
                rel = f"audio/{split}/{cid}.wav"
                if not (out / rel).is_file():
                    audio, _ = render_arrangement(arr, plan, path, sr=sr)
                    atomic_write_bytes(out / rel, wav_bytes(audio, sr))
                clips.append(ClipRecord(cid, out / rel, tags, split, events, duration=clip_seconds))
                soundfont_of[rel] = name
            arrangements[f"{split}_{i:04d}"] = _describe(arr, plan)
            if progress:
                log.info("%s %d/%d %s", split, i + 1, n_arr, arr.genre)
    extra = {"renderer": RENDERER, "evaluation_only": True, "seed": seed, "clip_seconds": clip_seconds,
             "sample_rate": sr, "soundfont_of": soundfont_of, "soundfonts": {k: v[0] for k, v in sfs.items()},
             "arrangements": arrangements, "rules": {**RULES, "mix": "clip2frame.data.outside.produce"},
             "note": "held-out arrangement/production renderer: evaluation only, never for training or fitting"}
    write_manifest(out, name="outside-arrangement", labels=MUSIC_TAGS, kinds=MUSIC_TAG_KINDS, clips=clips,
                   extra=json.loads(json.dumps(extra, default=str)))
    return load_manifest(out)


__all__ = ["RENDERER", "SPLIT_STREAM", "arrangement_for", "heldout_soundfonts", "render_arrangement",
           "render_outside_corpus"]
