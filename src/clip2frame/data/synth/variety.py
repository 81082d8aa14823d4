"""Renderer ``synth-music-4``: arrangement styles, timbre draws and performance variety for a clip spec.

:func:`draw_instruments` picks a clip's instruments from an arrangement style, so that co-occurrence does
not give tags away; :func:`vary_spec` then gives every part of a spec drawn by
:func:`clip2frame.data.synth.compose.make_spec`:

* a timbre source from its pool (:mod:`.timbres`) and a GM program of its tag (or a drum kit);
* performance: a velocity curve (``v' = 127·s·(v/127)^γ`` plus jitter), humanised timing (note onsets
  and offsets moved by N(0, σ), σ up to 15 ms; the frame truth is computed from the moved notes, so it
  stays exact), vibrato depth (CC1) and onset pitch scoops for strings and winds;
* an effect chain (:mod:`.effects`); and the clip a master chain.

Everything is drawn from its own random stream, so ``make_spec`` itself is unchanged (renderer
``synth-music-3`` corpora render byte for byte as before).
"""
from __future__ import annotations

import numpy as np

from ...tags import INSTRUMENT_TAGS
from . import effects, timbres
from .compose import ClipSpec, split_code
from .instruments import GM_PROGRAMS

# style: (weight, {tag: probability of playing}); the "any" style draws uniformly as renderer 3 did.
STYLES: dict[str, tuple[float, dict[str, float]]] = {
    "rock band": (0.17, {"drums": 0.9, "electric bass": 0.85, "distorted electric guitar": 0.6,
                         "clean electric guitar": 0.45, "synthesizer": 0.2, "piano": 0.2, "acoustic guitar": 0.15}),
    "jazz combo": (0.13, {"drums": 0.8, "electric bass": 0.7, "piano": 0.65, "saxophone": 0.6,
                          "trumpet": 0.45, "clean electric guitar": 0.35, "flute": 0.15}),
    "chamber": (0.12, {"violin": 0.75, "cello": 0.75, "flute": 0.45, "piano": 0.45, "accordion": 0.1}),
    "orchestral": (0.1, {"violin": 0.9, "cello": 0.85, "flute": 0.65, "trumpet": 0.55, "piano": 0.1,
                         "saxophone": 0.1}),
    "electronic": (0.12, {"synthesizer": 0.95, "drums": 0.8, "electric bass": 0.6, "piano": 0.2,
                          "distorted electric guitar": 0.1}),
    "folk": (0.1, {"acoustic guitar": 0.85, "accordion": 0.5, "violin": 0.5, "flute": 0.3, "cello": 0.2,
                   "electric bass": 0.2}),
    "solo with accompaniment": (0.1, {}),
    "any": (0.16, {}),
}
_SOLO_LEADS = ("violin", "cello", "flute", "trumpet", "saxophone", "accordion", "clean electric guitar",
               "synthesizer", "piano")
_SOLO_ACCOMP = ("piano", "acoustic guitar", "clean electric guitar", "accordion")
_BENDERS = ("violin", "cello", "flute", "trumpet", "saxophone")
MAX_INSTRUMENTS = 5


def variety_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of the timbre and style draws of clip ``index`` of ``split``."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, split_code(split), int(index), 4])


def draw_instruments(rng: np.random.Generator) -> tuple[str, tuple[str, ...]]:
    """``(style, instruments)`` for one clip: 1-5 tags in ``INSTRUMENT_TAGS`` order."""
    names = list(STYLES)
    w = np.array([STYLES[n][0] for n in names])
    style = names[int(rng.choice(len(names), p=w / w.sum()))]
    probs = STYLES[style][1]
    if style == "any":
        n = int(rng.integers(2, MAX_INSTRUMENTS + 1))
        tags = [INSTRUMENT_TAGS[i] for i in rng.choice(len(INSTRUMENT_TAGS), size=n, replace=False)]
    elif style == "solo with accompaniment":
        lead = str(rng.choice(_SOLO_LEADS))
        acc = [t for t in _SOLO_ACCOMP if t != lead]
        tags = [lead] + ([str(rng.choice(acc))] if rng.random() < 0.8 else [])
    else:
        tags = []
        for _ in range(20):
            tags = [t for t, p in probs.items() if rng.random() < p]
            if tags:
                break
        tags = tags or [max(probs, key=lambda t: probs[t])]
        if len(tags) > MAX_INSTRUMENTS:
            tags = [str(t) for t in rng.choice(tags, size=MAX_INSTRUMENTS, replace=False)]
    return style, tuple(t for t in INSTRUMENT_TAGS if t in set(tags))


def _humanise(notes, rng, duration_s: float):
    sigma = float(rng.uniform(0.0, 0.015))
    gamma, scale, jit = float(rng.uniform(0.6, 1.6)), float(rng.uniform(0.7, 1.1)), float(rng.uniform(0, 8))
    out = []
    for on, off, p, v in notes:
        d_on, d_off = rng.normal(0.0, sigma, size=2) if sigma > 0 else (0.0, 0.0)
        on2 = min(max(0.0, on + float(d_on)), duration_s)
        off2 = min(max(on2 + 0.03, off + float(d_off)), duration_s)
        v2 = int(np.clip(round(127 * scale * (v / 127) ** gamma + rng.normal(0.0, jit)), 1, 127))
        if off2 > on2 and on2 < duration_s:
            out.append((round(on2, 4), round(off2, 4), int(p), v2))
    return sorted(out)


def _controls(rng, tag: str, role: str, notes) -> list:
    """FluidSynth control messages ``[time_s, "cc"|"bend", a, b]``: vibrato depth and onset scoops."""
    if tag not in _BENDERS or role != "line":
        return []
    ctl: list = [[0.0, "cc", 1, int(rng.integers(0, 90))]]
    p_scoop = float(rng.uniform(0.0, 0.3))
    depth = int(rng.integers(300, 1500))      # of 8192 = 2 semitones
    for on, _off, _p, _v in notes:
        if rng.random() < p_scoop:
            ctl += [[on, "bend", -depth, 0], [on + 0.03, "bend", -depth // 2, 0], [on + 0.06, "bend", 0, 0]]
    return ctl


def vary_spec(spec: ClipSpec, *, pool: str, rng: np.random.Generator, effects_profile: str = "default",
              style: str | None = None) -> ClipSpec:
    """Give ``spec`` (in place, and returned) timbres from ``pool``, performance variety and effects."""
    for part in spec.parts:
        srcs = timbres.pool_for(pool, part.tag)
        src = srcs[min(len(srcs) - 1, int(rng.random() * len(srcs)))]  # one draw whatever the pool size
        part.source = src.name
        amp_sim = False
        if src.kind == "soundfont":
            if part.tag == "synthesizer":
                part.program = int(rng.choice(timbres.SYNTH_PAD_PROGRAMS if part.role == "pad"
                                              else timbres.SYNTH_LEAD_PROGRAMS))
            elif part.tag == "distorted electric guitar" and rng.random() < 0.4:
                part.program, amp_sim = int(rng.choice(timbres.AMP_SIM_PROGRAMS)), True
            else:
                part.program = int(rng.choice(GM_PROGRAMS[part.tag]))
        else:
            part.program = 0
        part.notes = _humanise(part.notes, rng, spec.duration_s)
        part.controls = _controls(rng, part.tag, part.role, part.notes) if src.kind == "soundfont" else []
        part.effects = effects.draw_stem_chain(rng, part.tag, amp_sim=amp_sim)
        part.eq_low_db = part.eq_high_db = 0.0   # EQ is in the effect chain
    spec.mix["master_effects"] = effects.draw_master_chain(rng, profile=effects_profile)
    spec.mix["timbre_pool"] = pool
    if style is not None:
        spec.mix["style"] = style
    return spec
