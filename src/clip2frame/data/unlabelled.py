"""Unlabelled real music for the mean teacher (``TrainConfig.mean_teacher``): recorded tracks cut into clips.

Sources are Debian packages that ship recorded game and demo soundtracks (:data:`UNLABELLED_MUSIC`, the one
list; section ``games`` of Debian *main*, so DFSG-free; each one's ``/usr/share/doc/<package>/copyright``
checked as noted there). Reserved, never used: ``fretsonfire-songs-*`` and ``wesnoth-*-music`` (kept for
independent evaluation), and every evaluation-only recording directory of
:mod:`clip2frame.data.synth.timbres` (:func:`check_source` refuses them).

Layout written by :func:`build_unlabelled_manifest` (a manifest directory, :mod:`clip2frame.data.manifest`)::

    DIR/metadata.json                   labels = MUSIC_TAGS, split "unlabelled", sources {file: track},
                                        packages, clip_seconds, "unlabelled": true
    DIR/unlabelled.weak.tsv             filename<TAB>(empty: no tags)
    DIR/audio/unlabelled/<id>.wav       16 kHz mono PCM16 clips of ``clip_seconds`` (the last, shorter one
                                        kept when >= half of it)

Rerunning skips clips already written (atomic writes); an unreadable track is skipped with a warning.
"""
from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Iterable

import numpy as np

from ..audio.io import AUDIO_EXTENSIONS, load_audio
from ..errors import AudioError, ConfigError
from ..fileio import atomic_write_bytes
from ..tags import MUSIC_TAG_KINDS, MUSIC_TAGS
from ..timebase import SAMPLE_RATE
from .manifest import ClipRecord, Manifest, load_manifest, write_manifest
from .synth import timbres

log = logging.getLogger(__name__)

SPLIT = "unlabelled"
# package -> (directory it installs its tracks to, licence as read from its copyright file)
UNLABELLED_MUSIC: dict[str, tuple[str, str]] = {
    "drascula-music": ("/usr/share/scummvm/drascula/audio",
                       "Drascula game licence (freeware, BSD-like; Debian main), Alcachofa Soft 1996-2008"),
    "singularity-music": ("/usr/share/games/singularity/music", "CC-BY-SA-3.0, Max McCracken 2007-2012"),
    "hyperrogue-music": ("/usr/share/hyperrogue/music",
                         "CC-BY-SA-3.0 (Shawn Parrotte; the two hr-domina tracks by Lincoln Domina, see the "
                         "package's copyright file)"),
}
RESERVED = ("fretsonfire", "wesnoth")


def check_source(path: str | Path) -> None:
    """Refuse a reserved package's files and the evaluation-only recordings (one-line ConfigError)."""
    p = Path(path)
    low = p.as_posix().lower()
    if any(r in low for r in RESERVED):
        raise ConfigError(f"{p}: reserved for independent evaluation (fretsonfire-songs-*, wesnoth-*-music); "
                          "never used")
    is_eval_only = getattr(timbres, "is_eval_only", None)   # the outside-renderer's evaluation recordings
    if is_eval_only is not None and is_eval_only(p):
        raise ConfigError(f"{p}: an evaluation-only recording directory; never used for training")


def _tracks(sources: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for s in sources:
        p = Path(s)
        check_source(p)
        if not p.exists():
            raise ConfigError(f"{p}: no such file or directory (install its package, e.g. apt-get install "
                              f"{' '.join(UNLABELLED_MUSIC)})")
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)
        for f in files:
            check_source(f)
        out += files
    return out


def build_unlabelled_manifest(sources: Iterable[str | Path], out_dir: str | Path, *, clip_seconds: float = 30.0,
                              sr: int = SAMPLE_RATE, max_clips: int = 0) -> Manifest:
    """Cut every audio track under ``sources`` (files or directories) into clips of a manifest directory.

    Parameters
    ----------
    sources : paths
        Files or directories of recorded music (see :data:`UNLABELLED_MUSIC`).
    out_dir : path
        The manifest directory (resumed when it exists).
    clip_seconds : float
        Clip length in seconds (> 1).
    max_clips : int
        Stop after this many clips (0: all).

    Returns
    -------
    Manifest
        One split, ``unlabelled``, whose clips have no tags and no frame truth.
    """
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    if not clip_seconds > 1:
        raise ConfigError(f"clip_seconds: must be > 1 s, got {clip_seconds}")
    out, sources = Path(out_dir), list(sources)
    n = int(round(clip_seconds * sr))
    clips: list[ClipRecord] = []
    sources_of: dict[str, str] = {}
    for track in _tracks(sources):
        key = hashlib.sha1(track.as_posix().encode()).hexdigest()[:10]
        try:
            wave = load_audio(track, sr=sr)
        except AudioError as e:
            log.warning("skipped %s", e)
            continue
        for k in range(0, max(1, -(-len(wave) // n))):
            seg = wave[k * n:(k + 1) * n]
            if len(seg) < n // 2:
                break
            rel = f"audio/{SPLIT}/{key}_{k:03d}.wav"
            if not (out / rel).is_file():
                buf = io.BytesIO()
                sf.write(buf, np.clip(seg, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
                atomic_write_bytes(out / rel, buf.getvalue())
            clips.append(ClipRecord(Path(rel).stem, out / rel, (), SPLIT, None, round(len(seg) / sr, 4)))
            sources_of[rel] = f"{track.as_posix()}@{k * clip_seconds:g}s"
            if max_clips and len(clips) >= max_clips:
                break
        if max_clips and len(clips) >= max_clips:
            break
    if not clips:
        raise ConfigError(f"{out}: no usable audio in {', '.join(str(s) for s in sources)}")
    write_manifest(out, name="clip2frame-unlabelled-music", labels=MUSIC_TAGS, kinds=MUSIC_TAG_KINDS, clips=clips,
                   extra={"unlabelled": True, "clip_seconds": clip_seconds, "sample_rate": sr,
                          "sources": sources_of, "packages": {k: v[1] for k, v in UNLABELLED_MUSIC.items()}})
    return load_manifest(out)
