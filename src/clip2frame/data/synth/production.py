"""Renderer ``synth-music-5``: arrangement and production variety, distractors and non-music for *training*.

It extends ``synth-music-4`` (:mod:`.variety`: timbre pools, performance, stem effects) with the issue-#24
training switches. Each is a *feature* of the render, named in ``--production`` (default: all), and each
draws from its own random stream, so a corpus rendered without one feature differs from the full one only
in that feature (paired ablations):

``genres``      genre templates (:data:`GENRES`: rock band, metal band, pop, jazz combo, electronic,
                orchestral, chamber, folk, solo with accompaniment, any) and part density (sparse, normal,
                dense: the share of the clip each part plays); without it, ``synth-music-4``'s styles.
``levels``      a lead part exposed (0..+3 dB), others -12..-2 dB under it, and with p 0.25 each a part
                *buried* 15-25 dB under the lead (:data:`BURIED_DB`); it stays a tag with its frame truth.
``mastering``   a mastering chain on the mix (:func:`draw_mastering_chain`: bus compression, EQ, saturation
                p 0.3, limiter driven 2-10 dB) instead of ``synth-music-4``'s master chain.
``distractors`` with p 0.35, 1-2 parts whose General MIDI program is mapped to no tag (:data:`DISTRACTORS`:
                organ, harp, choir, brass section, mallets), in the clip's tempo and key; no tag, no truth.
``inserts``     with p 0.3, non-music *inside* a music clip: a speech intro, applause at the start or end,
                or a noise bed under the whole clip; the music's frame truth is unchanged.
``negatives``   10 % of the ``train`` and ``validation`` clips are non-music with every tag 0
                (:data:`NEGATIVE_FAMILIES`); train with ``keep_untagged=true`` to use them.

Distorted and noisy instruments (distorted guitar, amp-simulated guitar) stay among the positives.

**Training sources only** (:data:`TRAINING_NONMUSIC`, the one place this split is written down; the
outside-renderer evaluation corpora of ``clip2frame synth real|nonmusic`` use others): speech from espeak-ng
voices and sentences the evaluation does not use; applause from the Csound GM bank's program 126 (the
evaluation uses lmms' recorded applause, synthetic clap bursts and FluidR3's program 126 through the
everyday corpus' ``test`` split); everyday sounds from the everyday corpus' ``train`` split; noise, hum,
tones and sweeps from seed streams of their own. MuseScore General, TimGM6mb and every other held-out
timbre never render a training clip (:func:`clip2frame.data.synth.timbres.pool_for`).
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ...audio.io import load_audio
from ...errors import ConfigError
from ...tags import INSTRUMENT_TAGS
from ...timebase import SAMPLE_RATE
from . import compose, effects, timbres, variety
from .driver import clip_id_for
from .everyday import everyday_clip_spec, render_everyday_clip
from .mix import active_rms, coloured_noise
from .sources import pick_work, stem_renderer
from .splits import V4_SPLITS

log = logging.getLogger(__name__)

RENDERER_V5 = "synth-music-5"
FEATURES = ("genres", "levels", "mastering", "distractors", "inserts", "negatives")
_STREAMS = {f: 50 + i for i, f in enumerate(FEATURES)}

GENRES: dict[str, tuple[float, dict[str, float]]] = {
    **{k: v for k, v in variety.STYLES.items() if k not in ("any",)},
    "metal band": (0.08, {"drums": 0.95, "electric bass": 0.9, "distorted electric guitar": 0.95,
                          "clean electric guitar": 0.15, "synthesizer": 0.1}),
    "pop": (0.12, {"drums": 0.85, "electric bass": 0.75, "piano": 0.45, "synthesizer": 0.5,
                   "acoustic guitar": 0.35, "clean electric guitar": 0.3, "violin": 0.1, "saxophone": 0.05}),
    "any": (0.08, {}),
}
DENSITY: dict[str, tuple[float, float]] = {"sparse": (0.15, 0.5), "normal": (0.3, 0.9), "dense": (0.7, 1.0)}
EXPOSED_DB = (0.0, 3.0)        # the lead part's gain
BED_DB = (-12.0, -2.0)         # other parts, re the lead
BURIED_DB = (-25.0, -15.0)     # a buried part, re the lead
BURIED_P = 0.25
# General MIDI programs (0-based) mapped to no tag, by family; the note material (role, register) of a proxy
# tag: the first proxy the clip does not play, so a distractor does not shadow a tagged part's role.
DISTRACTORS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "organ": ((16, 17, 18, 19, 20), ("piano", "accordion", "synthesizer")),
    "harp": ((46,), ("acoustic guitar", "piano", "clean electric guitar")),
    "choir": ((52, 53, 54), ("cello", "violin", "flute")),
    "brass section": ((61, 62, 63), ("trumpet", "saxophone", "cello")),
    "mallets": ((8, 9, 10, 11, 12, 13, 14, 15), ("piano", "flute", "violin")),
}
DISTRACTOR_P, INSERT_P, NEGATIVE_P = 0.35, 0.3, 0.10
NEGATIVE_SPLITS = ("train", "validation")
NEGATIVE_FAMILIES = ("silence", "near-silence", "noise", "hum", "speech", "applause", "everyday", "tone", "sweep")
# The one list of training-only non-music sources (see the module docstring).
TRAINING_NONMUSIC: dict[str, tuple] = {
    "espeak_voices": ("nl", "pt", "pl", "sv", "cs", "fi+m2", "da+f1", "en-gb-scotland", "en-029+m4"),
    "sentences": (
        "Good evening and welcome back to the programme, we have a lot to talk about tonight.",
        "The weather in the north will stay cold and dry until the end of the week.",
        "Thank you all for coming, and now please give a warm welcome to our next guest.",
        "Het is vandaag een mooie dag om naar het strand te gaan.",
        "Amanhã de manhã vamos comprar pão fresco na padaria da esquina.",
        "Dzisiaj wieczorem idziemy do kina na nowy film.",
        "Vi ses i morgon vid stationen klockan åtta.",
    ),
    "applause_soundfonts": ("csound-gm",),     # GM program 126 of these training soundfonts
    "everyday_split": ("train",),
}


def parse_features(text: str | None) -> tuple[str, ...]:
    """``"all"``/``None`` → every feature; ``"genres,levels"`` → those; ``"none"`` → none (v4 + v5 plumbing)."""
    if text is None or text == "all":
        return FEATURES
    if text == "none":
        return ()
    names = tuple(s.strip() for s in str(text).split(",") if s.strip())
    bad = [n for n in names if n not in FEATURES]
    if bad:
        raise ConfigError(f"production: unknown feature '{bad[0]}' (expected all, none or some of "
                          f"{', '.join(FEATURES)})")
    return tuple(f for f in FEATURES if f in names)


def feature_rng(seed: int, split: str, index: int, feature: str) -> np.random.Generator:
    """The random stream of one production ``feature`` of clip ``index`` of ``split`` (one stream per
    feature).
    """
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, compose.split_code(split), int(index), _STREAMS[feature]])


def draw_genre(rng: np.random.Generator) -> tuple[str, tuple[str, ...], str]:
    """``(genre, instruments in INSTRUMENT_TAGS order, density)`` of one clip."""
    names = list(GENRES)
    w = np.array([GENRES[n][0] for n in names])
    genre = names[int(rng.choice(len(names), p=w / w.sum()))]
    probs = GENRES[genre][1]
    if genre == "any":
        n = int(rng.integers(1, 7))
        tags = [INSTRUMENT_TAGS[i] for i in rng.choice(len(INSTRUMENT_TAGS), size=n, replace=False)]
    elif genre == "solo with accompaniment":
        lead = str(rng.choice(variety._SOLO_LEADS))
        tags = [lead] + ([str(rng.choice([t for t in variety._SOLO_ACCOMP if t != lead]))] if rng.random() < 0.8 else [])
    else:
        tags = [t for t, p in probs.items() if rng.random() < p] or [max(probs, key=lambda t: probs[t])]
    density = str(rng.choice(list(DENSITY), p=[0.25, 0.5, 0.25]))
    return genre, tuple(t for t in INSTRUMENT_TAGS if t in set(tags)), density


def assign_levels(spec: compose.ClipSpec, rng: np.random.Generator) -> dict[str, str]:
    """Set every part's ``gain_db``: a lead exposed, the others under it, some buried; returns tag → role."""
    if not spec.parts:
        return {}
    melodic = [i for i, p in enumerate(spec.parts) if p.role != "bass" and not p.is_drum]
    lead = int(rng.choice(melodic)) if melodic else int(rng.integers(len(spec.parts)))
    lead_db = float(rng.uniform(*EXPOSED_DB))
    roles = {}
    for i, p in enumerate(spec.parts):
        if i == lead:
            p.gain_db, roles[p.tag] = lead_db, "lead"
        elif rng.random() < BURIED_P:
            p.gain_db, roles[p.tag] = lead_db + float(rng.uniform(*BURIED_DB)), "buried"
        else:
            p.gain_db, roles[p.tag] = lead_db + float(rng.uniform(*BED_DB)), "bed"
    return roles


def draw_mastering_chain(rng: np.random.Generator) -> effects.Chain:
    """Bus compression, EQ, saturation (p 0.3), a limiter driven 2-10 dB into its threshold."""
    u = effects._u
    chain: effects.Chain = [
        ["Compressor", {"threshold_db": u(rng, -28, -12), "ratio": u(rng, 2, 8), "attack_ms": u(rng, 3, 30),
                        "release_ms": u(rng, 60, 300)}],
        ["LowShelfFilter", {"cutoff_frequency_hz": u(rng, 60, 250), "gain_db": u(rng, -3, 5)}],
        ["HighShelfFilter", {"cutoff_frequency_hz": u(rng, 4000, 9000), "gain_db": u(rng, -3, 5)}],
    ]
    if rng.random() < 0.3:
        chain.append(["Distortion", {"drive_db": u(rng, 2, 8)}])
    chain += [["Gain", {"gain_db": u(rng, 2, 10)}],
              ["Limiter", {"threshold_db": u(rng, -3, -0.3), "release_ms": u(rng, 30, 200)}]]
    return chain


def _training_soundfonts(names: tuple[str, ...] | None = None) -> list[timbres.TimbreSource]:
    srcs = [s for s in timbres.pool_for("train", "piano") if s.kind == "soundfont"]
    return [s for s in srcs if names is None or s.name in names]


def draw_distractors(spec: compose.ClipSpec, rng: np.random.Generator, *, work, index: int,
                     lead_db: float) -> list[dict]:
    """1-2 parts with untagged GM programs, in the clip's tempo and key (same score draw, a proxy tag)."""
    out = []
    sfs = _training_soundfonts()
    for _ in range(int(rng.integers(1, 3))):
        family = str(rng.choice(list(DISTRACTORS)))
        programs, proxies = DISTRACTORS[family]
        playing = {p.tag for p in spec.parts}
        proxy = next((t for t in proxies if t not in playing), None)
        if proxy is None:
            continue
        # make_spec draws tempo, key and progression first from (seed, split, index): the same as the clip's
        sub = compose.make_spec(clip_id=spec.clip_id, split=spec.split, seed=spec.seed, index=index,
                                duration_s=spec.duration_s, sr=spec.sr, soundfont="", work=work,
                                instruments=(proxy,), coverage=(0.3, 0.9))
        if not sub.parts:
            continue
        out.append({"kind": "distractor", "family": family, "proxy": proxy, "program": int(rng.choice(programs)),
                    "source": sfs[int(rng.integers(len(sfs)))].name, "notes": sub.parts[0].notes,
                    "gain_db": lead_db + float(rng.uniform(-15.0, -3.0))})
    return out


def _speech_extra(rng, start_s: float, end_s: float, gain_db: float) -> dict:
    return {"kind": "speech", "voice": str(rng.choice(TRAINING_NONMUSIC["espeak_voices"])),
            "text": str(rng.choice(TRAINING_NONMUSIC["sentences"])), "rate": int(rng.integers(130, 190)),
            "start_s": round(start_s, 3), "end_s": round(end_s, 3), "gain_db": gain_db}


def draw_insert(rng: np.random.Generator, duration_s: float, lead_db: float) -> dict:
    """One non-music segment inside a music clip (levels on the parts' gain scale)."""
    kind = str(rng.choice(["speech", "applause", "noise bed"]))
    seg = float(rng.uniform(2.0, min(6.0, duration_s / 2)))
    if kind == "speech":
        return _speech_extra(rng, 0.0, seg, lead_db + float(rng.uniform(-6.0, 3.0)))
    if kind == "applause":
        at_end = bool(rng.random() < 0.5)
        a, b = (duration_s - seg, duration_s) if at_end else (0.0, seg)
        return {"kind": "applause", "start_s": round(a, 3), "end_s": round(b, 3), "seed": int(rng.integers(2**31)),
                "gain_db": lead_db + float(rng.uniform(-9.0, 0.0))}
    return {"kind": "noise", "colour": str(rng.choice(["white", "pink", "brown", "hum"])), "start_s": 0.0,
            "end_s": duration_s, "seed": int(rng.integers(2**31)), "gain_db": lead_db + float(rng.uniform(-35.0, -15.0))}


def negative_extra(rng: np.random.Generator, duration_s: float) -> dict:
    """The one non-music extra of a negative clip (absolute level: its RMS in dBFS)."""
    family = str(rng.choice(NEGATIVE_FAMILIES))
    whole = {"start_s": 0.0, "end_s": duration_s, "seed": int(rng.integers(2**31))}
    if family == "silence":
        return {"kind": "silence", **whole, "gain_db": -200.0}
    if family == "near-silence":
        return {"kind": "noise", "colour": str(rng.choice(["white", "pink"])), **whole,
                "gain_db": float(rng.uniform(-80, -60))}
    if family == "noise":
        return {"kind": "noise", "colour": str(rng.choice(["white", "pink", "brown"])), **whole,
                "gain_db": float(rng.uniform(-35, -12))}
    if family == "hum":
        return {"kind": "noise", "colour": "hum", **whole, "gain_db": float(rng.uniform(-40, -15))}
    if family == "speech":
        return _speech_extra(rng, 0.0, duration_s, float(rng.uniform(-28, -16)))
    if family == "applause":
        return {"kind": "applause", **whole, "gain_db": float(rng.uniform(-30, -14))}
    if family == "everyday":
        return {"kind": "everyday", **whole, "index": int(rng.integers(100_000)), "gain_db": float(rng.uniform(-30, -16))}
    return {"kind": family, **whole, "f0": float(np.exp(rng.uniform(np.log(80), np.log(4000)))),
            "up": bool(rng.random() < 0.5), "gain_db": float(rng.uniform(-30, -12))}


# ------------------------------------------------------------------------------------------- specs
def is_negative(seed: int, split: str, index: int) -> bool:
    """Whether clip ``index`` of ``split`` is a non-music negative when the ``negatives`` feature is on."""
    score_split = V4_SPLITS[split][0] if split in V4_SPLITS else split
    return split in NEGATIVE_SPLITS and feature_rng(seed, score_split, index, "negatives").random() < NEGATIVE_P


def v5_clip_spec(split: str, index: int, *, seed: int, clip_seconds: float = 29.1, sr: int = SAMPLE_RATE,
                 cache_dir=None, features: tuple[str, ...] = FEATURES) -> compose.ClipSpec:
    """The spec of clip ``index`` of ``split`` in a ``synth-music-5`` corpus with ``features`` on."""
    if split not in V4_SPLITS:
        raise ConfigError(f"splits: unknown split '{split}' (expected one of {', '.join(V4_SPLITS)})")
    score_split, pool, profile = V4_SPLITS[split]
    cid = clip_id_for(split, index)
    if "negatives" in features and is_negative(seed, split, index):
        nrng = feature_rng(seed, score_split, index, "negatives")
        nrng.random()
        extra = negative_extra(nrng, clip_seconds)
        return compose.ClipSpec(clip_id=cid, split=score_split, seed=int(seed), duration_s=float(clip_seconds),
                                sr=int(sr), soundfont="", parts=[], tempo_sections=[],
                                mix={"snr_db": 200.0, "extras": [extra], "style": "non-music",
                                     "nonmusic": extra["kind"], "timbre_pool": pool})
    vrng = variety.variety_rng(seed, score_split, index)
    style, tags = variety.draw_instruments(vrng)          # drawn in any case: vrng's later draws stay paired
    coverage = (0.2, 0.9)
    if "genres" in features:
        style, tags, density = draw_genre(feature_rng(seed, score_split, index, "genres"))
        coverage = DENSITY[density]
    if pool == "heldout-recorded" and not {"drums", "piano"} & set(tags):
        tags = tuple(t for t in INSTRUMENT_TAGS if t in set(list(tags)[:5]) | {str(vrng.choice(["drums", "piano"]))})
    works_split = score_split if score_split in ("train", "validation", "test") else "shift"
    work = pick_work(works_split, seed=seed, index=index + (0 if score_split != "heldout-recorded" else 100_000),
                     cache_dir=cache_dir)
    spec = compose.make_spec(clip_id=cid, split=score_split, seed=seed, index=index, duration_s=clip_seconds,
                             sr=sr, soundfont="", work=work, instruments=tags, coverage=coverage)
    spec = variety.vary_spec(spec, pool=pool, rng=vrng, effects_profile=profile, style=style)
    if "genres" in features:
        spec.mix["density"] = density
    if "levels" in features:
        spec.mix["levels"] = assign_levels(spec, feature_rng(seed, score_split, index, "levels"))
    lead_db = max((p.gain_db for p in spec.parts), default=0.0)
    if "mastering" in features and profile == "default":
        spec.mix["master_effects"] = draw_mastering_chain(feature_rng(seed, score_split, index, "mastering"))
    extras: list[dict] = []
    drng = feature_rng(seed, score_split, index, "distractors")
    if "distractors" in features and drng.random() < DISTRACTOR_P:
        extras += draw_distractors(spec, drng, work=work, index=index, lead_db=lead_db)
    irng = feature_rng(seed, score_split, index, "inserts")
    if "inserts" in features and irng.random() < INSERT_P:
        extras.append(draw_insert(irng, clip_seconds, lead_db))
    if extras:
        spec.mix["extras"] = extras
    return spec


# ------------------------------------------------------------------------------------------- audio
def _place(x: np.ndarray, n: int, start_s: float, end_s: float, sr: int, *, tile: bool) -> np.ndarray:
    """``x`` placed in ``[start_s, end_s)`` of an ``n``-sample signal (tiled or cut), 20-ms fades."""
    a, b = max(0, int(round(start_s * sr))), min(n, int(round(end_s * sr)))
    out = np.zeros(n, dtype=np.float32)
    if b <= a or len(x) == 0:
        return out
    seg = np.tile(x, -(-(b - a) // len(x)))[: b - a] if tile else x[: b - a]
    f = min(int(0.02 * sr), len(seg) // 2)
    seg = seg.astype(np.float32).copy()
    if f > 0:
        ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
        seg[:f] *= ramp
        seg[-f:] *= ramp[::-1]
    out[a:a + len(seg)] = seg
    return out


def _speech(e: dict, sr: int) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        raise ConfigError("production: 'espeak-ng' is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", e["voice"], "-s", str(e["rate"]), "-w", str(wav), e["text"]],
                       check=True, capture_output=True, timeout=60)
        x = load_audio(wav, sr=sr)
    return np.concatenate([x, np.zeros(int(0.6 * sr), dtype=np.float32)])  # a pause before a repeat


def _applause(e: dict, n: int, sr: int) -> np.ndarray:
    srcs = _training_soundfonts(TRAINING_NONMUSIC["applause_soundfonts"])
    if srcs:
        return stem_renderer(srcs[0].name, sr=sr).render([(0.0, n / sr, 60, 110)], program=126, n_samples=n)
    rng = np.random.default_rng(e["seed"])   # no Csound bank: clap bursts from this clip's own seed
    out = np.zeros(n, dtype=np.float32)
    for t in rng.uniform(0, n, size=int(rng.uniform(20, 120) * n / sr)).astype(int):
        k = min(n - t, int(0.01 * sr))
        out[t:t + k] += rng.standard_normal(k).astype(np.float32) * np.exp(-np.arange(k) / (0.002 * sr))
    return out


def _noise(e: dict, n: int, sr: int) -> np.ndarray:
    rng = np.random.default_rng(e["seed"])
    if e["colour"] != "hum":
        return coloured_noise(n, e["colour"], rng)
    t = np.arange(n) / sr
    f0 = 50.0 if rng.random() < 0.5 else 60.0
    x = sum(rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) for k in range(1, 10))
    return (np.asarray(x) + 0.01 * rng.standard_normal(n)).astype(np.float32)


def _extra_audio(e: dict, spec: compose.ClipSpec, n: int) -> np.ndarray:
    sr, kind = spec.sr, e["kind"]
    dur = n / sr
    if kind == "silence":
        return np.zeros(n, dtype=np.float32)
    if kind == "distractor":
        return stem_renderer(e["source"], sr=sr).render(e["notes"], program=e["program"], n_samples=n)
    if kind == "speech":
        return _place(_speech(e, sr), n, e["start_s"], e["end_s"], sr, tile=True)
    if kind == "applause":
        return _place(_applause(e, n, sr), n, e["start_s"], e["end_s"], sr, tile=False)
    if kind == "noise":
        return _place(_noise(e, n, sr), n, e["start_s"], e["end_s"], sr, tile=False)
    if kind == "everyday":
        ev = everyday_clip_spec(TRAINING_NONMUSIC["everyday_split"][0], e["index"], seed=spec.seed, sr=sr,
                                duration_s=dur)
        return _place(render_everyday_clip(ev).audio, n, 0.0, dur, sr, tile=False)
    t = np.arange(n) / sr
    if kind == "tone":
        return np.sin(2 * np.pi * e["f0"] * t).astype(np.float32)
    if kind == "sweep":
        f0, f1 = (40.0, 7500.0) if e["up"] else (7500.0, 40.0)
        k = np.log(f1 / f0) / max(dur, 1e-3)
        return np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k).astype(np.float32)
    raise ConfigError(f"{spec.clip_id}: unknown extra '{kind}' in the clip spec")


def render_extras(spec: compose.ClipSpec, n: int) -> np.ndarray:
    """The sum of a spec's ``mix["extras"]``, shape (n,) float32: each scaled so that its active RMS is
    ``10^(gain_db/20)`` (the parts' gain scale; absolute dBFS in a negative clip)."""
    out = np.zeros(n, dtype=np.float32)
    for e in spec.mix.get("extras", ()):
        x = _extra_audio(e, spec, n)
        r = active_rms(x)
        if r > 0:
            out += (x * (10 ** (float(e["gain_db"]) / 20) / r)).astype(np.float32)
    return out
