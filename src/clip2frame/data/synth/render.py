"""Render clips and whole corpora: specs → FluidSynth stems → mix → wav + manifest."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Iterable

import numpy as np

from ...errors import ConfigError
from ...extras import require
from ...fileio import atomic_write_bytes
from ...tags import INSTRUMENT_TAGS, MUSIC_TAG_KINDS, MUSIC_TAGS
from ...timebase import SAMPLE_RATE
from ..manifest import Event, Manifest, load_manifest, write_manifest
from . import compose, corpus, effects, production as prod, timbres as tb, variety
from .driver import claim_output_dir, clip_id_for, drive, log_plan, records_to_clips, split_tasks, wav_bytes
from .effects import apply_chain
from .engine import DEFAULT_SOUNDFONT, SHIFT_SOUNDFONT, SynthEngine, check_soundfont, get_engine
from .instruments import GM_PROGRAMS, INSTRUMENTS
from .mix import active_rms, coloured_noise, compress, gate, shelf_eq
from .production import render_extras, v5_clip_spec
from .sources import pick_work, stem_renderer
from .splits import SPLIT_ORDER, V4_PROPORTIONS, V4_SPLITS, plan_clips

log = logging.getLogger(__name__)

RENDERER_VERSION = "synth-music-3"          # one soundfont per split (``timbres="fixed"``)
RENDERER_V4 = "synth-music-4"               # timbre-randomised (``timbres="random"``), see variety.py


@dataclass
class RenderedClip:
    """A rendered clip.

    Attributes
    ----------
    audio : np.ndarray, shape (N,), float32
        The mix, in [-1, 1].
    stems : {tag: np.ndarray of shape (N,)}
        Each instrument as it is in the mix (gated, EQ'd, scaled; before noise).
    tags, events
        Clip tags (``MUSIC_TAGS`` order) and frame truth.
    """

    audio: np.ndarray
    stems: dict[str, np.ndarray]
    tags: tuple[str, ...]
    events: tuple[Event, ...]
    spec: compose.ClipSpec


def render_clip(spec: compose.ClipSpec, *, engine: SynthEngine | None = None) -> RenderedClip:
    """Render one :class:`~clip2frame.data.synth.compose.ClipSpec` (deterministic: same spec → same samples)."""
    sr = spec.sr
    eng = engine if engine is not None else (get_engine(spec.soundfont, sr=sr) if spec.soundfont else None)
    n = int(round(spec.duration_s * sr))
    tags, events = compose.clip_labels(spec)
    stems: dict[str, np.ndarray] = {}
    for part in spec.parts:
        if part.tag not in tags:
            continue
        stem_engine = eng if part.source is None else stem_renderer(part.source, sr=sr)
        if stem_engine is None:
            raise ConfigError(f"{spec.clip_id}: part '{part.tag}' has no sample source and the clip no soundfont")
        x = stem_engine.render(part.notes, program=part.program, n_samples=n, is_drum=part.is_drum,
                               controls=part.controls)
        if part.effects:  # before the gate: reverb and delay tails end with the part's events
            x = apply_chain(x, part.effects, sr=sr)
        x = gate(x, compose.part_events(part, spec.duration_s), sr=sr, fade_s=compose.GATE_FADE_S)
        x = shelf_eq(x, sr=sr, low_db=part.eq_low_db, high_db=part.eq_high_db)
        r = active_rms(x)
        if r > 0:
            x = (x * (10 ** (part.gain_db / 20) / r)).astype(np.float32)
        stems[part.tag] = stems[part.tag] + x if part.tag in stems else x
    mix: np.ndarray = np.zeros(n, dtype=np.float32)
    for x in stems.values():
        mix += x
    m = spec.mix
    if m.get("extras"):  # synth-music-5: untagged distractors and non-music, on the parts' gain scale
        mix += render_extras(spec, n)
    gain = 1.0
    if stems:
        comp = compress(mix, sr=sr, ratio=float(m.get("compress_ratio", 1.0)))
        r = active_rms(comp)
        gain = 10 ** (float(m.get("loudness_dbfs", -20.0)) / 20) / r if r > 0 else 1.0
        # stems follow the mix gain (compression gain ignored: stems are for agreement, not reconstruction)
        mix = (comp * gain).astype(np.float32)
    noise_rms = (active_rms(mix) if stems else 0.01) * 10 ** (-float(m.get("snr_db", 60.0)) / 20)
    noise = coloured_noise(n, str(m.get("noise_colour", "white")), np.random.default_rng(int(m.get("noise_seed", 0))))
    mix = mix + noise_rms * noise
    if m.get("master_effects"):
        mix = apply_chain(mix, m["master_effects"], sr=sr)
    peak = float(np.max(np.abs(mix))) if n else 0.0
    if peak > 0.99:
        mix *= 0.99 / peak
        gain *= 0.99 / peak
    stems = {t: (x * gain).astype(np.float32) for t, x in stems.items()}
    return RenderedClip(mix.astype(np.float32), stems, tags, events, spec)


def render_notes(events: Iterable, program: int, *, is_drum: bool = False, duration_s: float,
                 sr: int = SAMPLE_RATE, soundfont: str | Path | None = None, bank: int | None = None) -> np.ndarray:
    """Render note events ``(onset_s, offset_s, midi_pitch, velocity)`` with one General MIDI program.

    Returns
    -------
    np.ndarray, shape (round(duration_s·sr),), float32
        The dry mono signal at FluidSynth's output level (no normalisation, no reverb).
    """
    if not duration_s > 0:
        raise ConfigError(f"duration_s: must be > 0, got {duration_s}")
    if not 0 <= int(program) <= 127:
        raise ConfigError(f"program: General MIDI programs are 0..127, got {program}")
    eng = get_engine(soundfont, sr=sr)
    return eng.render(list(events), program=int(program), n_samples=int(round(duration_s * sr)),
                      is_drum=is_drum, bank=bank)


def instrument_spec(instrument: str, *, duration_s: float, seed: int, sr: int = SAMPLE_RATE,
                    soundfont: str | Path | None = None) -> compose.ClipSpec:
    """A spec with ``instrument`` alone, playing over the whole clip (generated material, no corpus)."""
    if instrument not in INSTRUMENTS:
        raise ConfigError(f"instrument: unknown instrument '{instrument}' (expected one of "
                          f"{', '.join(INSTRUMENT_TAGS)})")
    if not duration_s > 0:
        raise ConfigError(f"duration_s: must be > 0, got {duration_s}")
    sf = check_soundfont(DEFAULT_SOUNDFONT if soundfont is None else soundfont)
    spec = compose.make_spec(clip_id=f"{instrument.replace(' ', '_')}-{seed}", split="train", seed=seed, index=0,
                             duration_s=duration_s, sr=sr, soundfont=sf, work=None, instruments=(instrument,))
    spec.mix.update(snr_db=90.0, compress_ratio=1.0, loudness_dbfs=-20.0)
    for p in spec.parts:
        p.gain_db = p.eq_low_db = p.eq_high_db = 0.0
    return spec


def render_instrument_clip(instrument: str, *, duration_s: float, seed: int, sr: int = SAMPLE_RATE,
                           soundfont: str | Path | None = None) -> np.ndarray:
    """A short clip of one instrument tag (from ``INSTRUMENT_TAGS``) playing throughout, mono float32.

    Loudness-normalised to -20 dBFS while playing; deterministic from ``seed``.
    """
    return render_clip(instrument_spec(instrument, duration_s=duration_s, seed=seed, sr=sr,
                                       soundfont=soundfont)).audio


# -------------------------------------------------------------------------------------- corpus level
def corpus_clip_spec(split: str, index: int, *, seed: int, clip_seconds: float = 29.1, sr: int = SAMPLE_RATE,
                     soundfont: str | Path | None = None, cache_dir=None) -> compose.ClipSpec:
    """The spec of clip ``index`` of ``split`` in a corpus rendered with ``seed``."""
    sf = soundfont if soundfont is not None else (SHIFT_SOUNDFONT if split == "shift" else DEFAULT_SOUNDFONT)
    work = pick_work(split, seed=seed, index=index, cache_dir=cache_dir)
    return compose.make_spec(clip_id=clip_id_for(split, index), split=split, seed=seed, index=index,
                             duration_s=clip_seconds, sr=sr, soundfont=sf, work=work,
                             profile="shift" if split == "shift" else "default")


def varied_clip_spec(split: str, index: int, *, seed: int, clip_seconds: float = 29.1, sr: int = SAMPLE_RATE,
                     cache_dir=None) -> compose.ClipSpec:
    """The spec of clip ``index`` of ``split`` in a timbre-randomised (``synth-music-4``) corpus."""
    if split not in V4_SPLITS:
        raise ConfigError(f"splits: unknown split '{split}' (expected one of {', '.join(V4_SPLITS)})")
    score_split, pool, profile = V4_SPLITS[split]
    vrng = variety.variety_rng(seed, score_split, index)
    style, tags = variety.draw_instruments(vrng)
    if pool == "heldout-recorded" and not {"drums", "piano"} & set(tags):
        extra = str(vrng.choice(["drums", "piano"]))
        keep = list(tags)[: variety.MAX_INSTRUMENTS - 1]
        tags = tuple(t for t in INSTRUMENT_TAGS if t in set(keep) | {extra})
    works_split = score_split if score_split in ("train", "validation", "test") else "shift"
    work = pick_work(works_split, seed=seed, index=index + (0 if score_split != "heldout-recorded" else 100_000),
                     cache_dir=cache_dir)
    spec = compose.make_spec(clip_id=clip_id_for(split, index), split=score_split, seed=seed, index=index,
                             duration_s=clip_seconds, sr=sr, soundfont="", work=work, instruments=tags)
    return variety.vary_spec(spec, pool=pool, rng=vrng, effects_profile=profile, style=style)


def _render_task(task) -> dict:
    """Worker: build the spec, render + write the wav unless it exists, return the record as a dict."""
    split, index, cfg = task
    if cfg.get("renderer") == "synth-music-5":
        spec = v5_clip_spec(split, index, seed=cfg["seed"], clip_seconds=cfg["clip_seconds"], sr=cfg["sr"],
                            cache_dir=cfg["cache_dir"], features=tuple(cfg["production"]))
    elif cfg.get("renderer") == RENDERER_V4:
        spec = varied_clip_spec(split, index, seed=cfg["seed"], clip_seconds=cfg["clip_seconds"], sr=cfg["sr"],
                                cache_dir=cfg["cache_dir"])
    else:
        spec = corpus_clip_spec(split, index, seed=cfg["seed"], clip_seconds=cfg["clip_seconds"], sr=cfg["sr"],
                                soundfont=cfg["soundfonts"][split], cache_dir=cfg["cache_dir"])
    rel = f"audio/{split}/{spec.clip_id}.wav"
    path = Path(cfg["out_dir"]) / rel
    rendered = False
    t0 = time.perf_counter()
    if path.is_file():
        tags, events = compose.clip_labels(spec)
    else:
        clip = render_clip(spec)
        tags, events = clip.tags, clip.events
        atomic_write_bytes(path, wav_bytes(clip.audio, spec.sr))
        rendered = True
    return {"split": split, "index": index, "clip_id": spec.clip_id, "filename": rel, "tags": list(tags),
            "events": [(e.onset, e.offset, e.label) for e in events], "duration": round(spec.duration_s, 4),
            "work": spec.work_id, "rendered": rendered, "seconds": time.perf_counter() - t0,
            "timbres": {p.tag: [p.source, p.program] for p in spec.parts if p.source is not None},
            "style": spec.mix.get("style"), **({"production": {**{k: spec.mix[k] for k in _V5_KEYS if k in spec.mix},
                                                "extras": [e.get("family", e["kind"]) for e in spec.mix.get("extras", ())]}}
                                               if cfg.get("renderer") == "synth-music-5" else {})}


_V5_KEYS = ("density", "levels", "nonmusic")


def _versions() -> dict:
    out = {"renderer": RENDERER_VERSION}
    try:
        out["music21"] = require("music21", what="corpus rendering").__version__
    except Exception:  # pragma: no cover
        pass
    try:
        out["pyfluidsynth"] = version("pyfluidsynth")
    except Exception:  # pragma: no cover
        pass
    return out


def _write(out_dir: Path, records: list[dict], extra: dict, complete: bool) -> None:
    clips = records_to_clips(out_dir, records, SPLIT_ORDER)
    recs = sorted(records, key=lambda r: r["filename"])
    sources = {r["filename"]: r["work"] for r in recs}
    more = {}
    if any(r.get("timbres") for r in recs):
        more["timbres"] = {r["filename"]: {"style": r.get("style"), **r["timbres"]} for r in recs}
    if any("production" in r for r in recs):
        more["production_of"] = {r["filename"]: r["production"] for r in recs if r.get("production")}
    write_manifest(out_dir, name="clip2frame-synth-music", labels=MUSIC_TAGS, kinds=MUSIC_TAG_KINDS,
                   clips=clips, extra={**extra, "complete": complete, "sources": sources, **more})


def _plan_v4(*, hours, seed, clip_seconds, splits, sr, production=None):
    plan = plan_clips(hours=hours, clip_seconds=clip_seconds, splits=splits, defaults=V4_PROPORTIONS)
    skipped: dict[str, str] = {}
    if splits is None:   # the default plan leaves out a held-out split whose optional sources are missing
        problems = {pool: tb.pool_problem(pool) for pool in {V4_SPLITS[s][1] for s in plan} if pool != "train"}
        skipped = {s: why for s in plan if (why := problems.get(V4_SPLITS[s][1])) is not None}
        for s, why in skipped.items():
            log.warning("split '%s' skipped: %s; the other splits render as planned", s, why)
        plan = {s: n for s, n in plan.items() if s not in skipped}
    pools = {pool: tb.pool_sources(pool) for pool in sorted({V4_SPLITS[s][1] for s in plan})}
    signature = {"renderer": RENDERER_V4, "seed": int(seed), "clip_seconds": float(clip_seconds), "sr": int(sr),
                 "pools": pools}
    cfg = {"renderer": RENDERER_V4, "seed": int(seed), "clip_seconds": float(clip_seconds), "sr": int(sr)}
    extra = {
        "seed": int(seed), "hours": float(hours), "clip_seconds": float(clip_seconds), "sample_rate": int(sr),
        "clips_per_split": plan, "skipped_splits": skipped, "renderer_version": RENDERER_V4,
        "versions": _versions(), "rules": {**compose.RULES, "reverb": "per-stem reverb/delay (pedalboard) gated to the part's events; "
                  "the degraded split adds an ungated room reverb on the mix"},
        "splits": {s: dict(zip(("scores", "timbre_pool", "effects_profile"), V4_SPLITS[s])) for s in plan},
        "timbre_pools": pools, "heldout_sources": sorted(n for n, src in tb.available_sources().items() if src.heldout),
        "programs": {t: list(p) for t, p in GM_PROGRAMS.items()},
        "styles": {k: v[0] for k, v in variety.STYLES.items()},
        "effects": effects.__doc__.strip().splitlines()[0],
        "work_splits": "sha1 of the music21 corpus path: train/validation/test works for those splits, the "
                       "'shift' partition (never trained on) for every held-out split",
    }
    if production is not None:  # renderer synth-music-5 (production.py)
        feats = list(prod.parse_features(production))
        signature.update(renderer=prod.RENDERER_V5, production=feats)
        cfg.update(renderer=prod.RENDERER_V5, production=feats)
        extra.update(renderer_version=prod.RENDERER_V5, production={
            "features": feats, "genres": {k: v[0] for k, v in prod.GENRES.items()}, "density": prod.DENSITY,
            "buried_db": prod.BURIED_DB, "distractors": {k: list(v[0]) for k, v in prod.DISTRACTORS.items()},
            "negative_share": prod.NEGATIVE_P, "negative_splits": list(prod.NEGATIVE_SPLITS),
            "training_nonmusic": {k: list(v) for k, v in prod.TRAINING_NONMUSIC.items()}})
    return plan, signature, cfg, extra


def _plan_v3(*, hours, seed, clip_seconds, splits, sr, soundfont, shift_soundfont):
    plan = plan_clips(hours=hours, clip_seconds=clip_seconds, splits=splits)
    main_sf = check_soundfont(DEFAULT_SOUNDFONT if soundfont is None else soundfont).resolve()
    shift_sf = check_soundfont(SHIFT_SOUNDFONT if shift_soundfont is None else shift_soundfont).resolve()
    soundfonts = {s: str(shift_sf if s == "shift" else main_sf) for s in plan}
    signature = {"renderer": RENDERER_VERSION, "seed": int(seed), "clip_seconds": float(clip_seconds),
                 "sr": int(sr), "soundfonts": {"main": str(main_sf), "shift": str(shift_sf)}}
    cfg = {"seed": int(seed), "clip_seconds": float(clip_seconds), "sr": int(sr), "soundfonts": soundfonts}
    extra = {
        "seed": int(seed), "hours": float(hours), "clip_seconds": float(clip_seconds), "sample_rate": int(sr),
        "clips_per_split": plan, "soundfonts": {s: Path(p).name for s, p in soundfonts.items()},
        "soundfont_paths": soundfonts,
        "mix_profiles": {s: ("shift" if s == "shift" else "default") for s in plan},
        "renderer_version": RENDERER_VERSION, "versions": _versions(), "rules": compose.RULES,
        "programs": {t: list(i.programs) for t, i in INSTRUMENTS.items()},
        "work_splits": "sha1 of the music21 corpus path, 70/10/10/10 % train/validation/test/shift",
    }
    return plan, signature, cfg, extra


def render_music_corpus(out_dir: str | Path, *, hours: float, seed: int, jobs: int = 1,
                        clip_seconds: float = 29.1, splits=None, sr: int = SAMPLE_RATE,
                        soundfont: str | Path | None = None, shift_soundfont: str | Path | None = None,
                        cache_dir: str | Path | None = None, progress: bool = True,
                        timbres: str = "fixed", production: str | None = None) -> Manifest:
    """Render the embedded music corpus into a manifest directory (see the package docstring).

    Parameters
    ----------
    out_dir : path
        Output manifest directory; an existing partial render with the same settings is resumed.
    hours : float
        Total audio over all splits (split by ``splits``; default 70/10/10/10 % train/validation/test/shift).
    seed : int
        Everything (notes, mix, noise) follows from it: same seed → same audio bytes.
    jobs : int
        Worker processes (each with its own synth).
    splits : None, "train,test", ["train=0.8", ...] or {name: fraction}
        Names alone keep the default proportions renormalised to 1; ``name=fraction`` gives fractions of
        ``hours`` as they are.
    timbres : "fixed" or "random"
        ``fixed`` (renderer ``synth-music-3``): FluidR3_GM for train/validation/test, TimGM6mb for
        ``shift``. ``random`` (renderer ``synth-music-4``, :mod:`.variety`): every stem drawn from a pool
        of timbre sources with performance variety and effects; splits train/validation/test (training
        pool) and the held-out evaluation splits heldout-musescore / heldout-timgm / heldout-recorded /
        degraded (default 80/8/4/2/2/2/2 %). ``soundfont`` and ``shift_soundfont`` apply to ``fixed`` only.
        With ``splits=None``, a held-out split whose optional timbre sources are not installed (e.g. the
        Salamander piano of ``scripts/fetch_timbres.sh`` for ``heldout-recorded``) is skipped with one
        warning and listed under ``skipped_splits`` in ``metadata.json``; a split named in ``splits``
        whose sources are missing raises :class:`~clip2frame.errors.ConfigError`.
    production : None, "all", "none" or a comma list of :data:`clip2frame.data.synth.production.FEATURES`
        With ``timbres="random"``: renderer ``synth-music-5`` with those production features (genre
        templates, levels, mastering, distractors, non-music inserts, negative clips); None: ``synth-music-4``.

    Returns
    -------
    Manifest
        As read back by :func:`clip2frame.data.load_manifest`.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs: must be an integer >= 1, got {jobs}")
    if int(sr) < 8000:
        raise ConfigError(f"sr: must be >= 8000 Hz, got {sr}")
    if timbres not in ("fixed", "random"):
        raise ConfigError(f"timbres: expected 'fixed' or 'random', got '{timbres}'")
    out = Path(out_dir)
    cache = Path(cache_dir) if cache_dir is not None else corpus.default_cache_dir()
    if production is not None and timbres != "random":
        raise ConfigError("production: needs timbres 'random' (renderer synth-music-5 extends synth-music-4)")
    if timbres == "random":
        plan, signature, cfg, extra = _plan_v4(hours=hours, seed=seed, clip_seconds=clip_seconds,
                                               splits=splits, sr=sr, production=production)
    else:
        plan, signature, cfg, extra = _plan_v3(hours=hours, seed=seed, clip_seconds=clip_seconds, splits=splits,
                                               sr=sr, soundfont=soundfont, shift_soundfont=shift_soundfont)
    claim_output_dir(out, signature)
    cfg.update(cache_dir=str(cache), out_dir=str(out))
    log_plan("clips", plan, out, jobs)
    t0 = time.perf_counter()
    records = drive(split_tasks(plan, cfg), _render_task, jobs=jobs, desc="synth music", progress=progress,
                    checkpoint=lambda recs: _write(out, recs, extra, complete=False))
    done = [r for r in records if r["rendered"]]
    n_rendered, render_s = len(done), sum(r["seconds"] for r in done)
    wall = time.perf_counter() - t0
    if n_rendered:
        log.info("rendered %d clips in %.1f s wall; %.0fx real time per process", n_rendered, wall,
                 n_rendered * clip_seconds / max(render_s, 1e-9))
    _write(out, records, extra, complete=True)
    return load_manifest(out)
